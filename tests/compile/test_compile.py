"""cr.compile: replayed steps are bit-identical to eager ones; guards re-record; the fallback warns."""
import tracemalloc
import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.compile import CompileWarning
from chainrule.keras import Model, layers

STEPS = 30


def _data(n_batches, batch, n_in, n_out, seed=0, classes=False):
    rng = np.random.default_rng(seed)
    xs = [cr.tensor(rng.standard_normal((batch, n_in)).astype(np.float32)) for _ in range(n_batches)]
    if classes:
        ys = [cr.tensor(rng.integers(0, n_out, batch)) for _ in range(n_batches)]
    else:
        ys = [cr.tensor((rng.random((batch, n_out)) > 0.5).astype(np.float32))
              for _ in range(n_batches)]
    return xs, ys


def _mlp(dropout=False, batchnorm=False):
    cr.manual_seed(0)
    mods = [nn.Linear(13, 16)]
    if batchnorm:
        mods.append(nn.BatchNorm1d(16))
    mods.append(nn.ReLU())
    if dropout:
        mods.append(nn.Dropout(0.3))
    mods.append(nn.Linear(16, 1))
    return nn.Sequential(*mods)


def _step(model, opt, loss_fn):
    def step(x, y):
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss.detach()
    return step


def _run(make_model, make_opt, loss_fn, compiled, xs, ys, steps=STEPS):
    model = make_model()
    opt = make_opt(model.parameters())
    step = _step(model, opt, loss_fn)
    if compiled:
        step = cr.compile(step)
    cr.manual_seed(123)          # the same random stream for dropout in both runs
    losses = [step(xs[i % len(xs)], ys[i % len(ys)])._data.copy() for i in range(steps)]
    return model, losses, step


def _assert_identical(make_model, make_opt, loss_fn, xs, ys):
    m1, l1, _ = _run(make_model, make_opt, loss_fn, False, xs, ys)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CompileWarning)
        m2, l2, step = _run(make_model, make_opt, loss_fn, True, xs, ys)
    for a, b in zip(l1, l2):
        assert a.tobytes() == b.tobytes()
    for (name, p), q in zip(m1.state_dict().items(), m2.state_dict().values()):
        assert np.asarray(p._data).tobytes() == np.asarray(q._data).tobytes(), name
    assert len(step.plans()) == 1 and step.recordings == 2      # 28 of the 30 steps replayed
    assert step.plans()[0].kind in ("array", "flat"), getattr(step.plans()[0], "why_not_array", None)
    return step


OPTIMISERS = {
    "sgd-momentum": lambda ps: cr.optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True),
    "adam": lambda ps: cr.optim.Adam(ps, lr=1e-2),
    "adamw": lambda ps: cr.optim.AdamW(ps, lr=1e-2, weight_decay=0.1),
}


@pytest.mark.parametrize("opt", sorted(OPTIMISERS))
def test_bit_identical_to_eager(opt):
    xs, ys = _data(5, 32, 13, 1)
    _assert_identical(_mlp, OPTIMISERS[opt], nn.BCEWithLogitsLoss(), xs, ys)


def test_dropout_draws_the_same_masks():
    xs, ys = _data(5, 32, 13, 1)
    step = _assert_identical(lambda: _mlp(dropout=True), OPTIMISERS["adam"],
                             nn.BCEWithLogitsLoss(), xs, ys)
    assert "Dropout.forward" in step.plans()[0].describe()


def test_batchnorm_in_train_mode_updates_running_stats_identically():
    xs, ys = _data(5, 32, 13, 1)
    _assert_identical(lambda: _mlp(batchnorm=True), OPTIMISERS["sgd-momentum"],
                      nn.BCEWithLogitsLoss(), xs, ys)


def _fork_merge():
    cr.manual_seed(0)
    inp = layers.Input(shape=(13,))
    h = layers.Dense(16, activation="relu")(inp)
    left = layers.Dense(8, activation="relu")(h)
    right = layers.Dense(8, activation="tanh")(h)
    merged = layers.Concatenate()([layers.Add()([left, right]), left])
    return Model(inp, layers.Dense(4)(merged))


def test_keras_fork_and_merge_model():
    xs, ys = _data(5, 32, 13, 4, classes=True)
    _assert_identical(_fork_merge, OPTIMISERS["adam"], nn.CrossEntropyLoss(), xs, ys)


def test_new_batch_size_records_again():
    xs, ys = _data(3, 32, 13, 1)
    xs2, ys2 = _data(3, 7, 13, 1, seed=1)
    xs_all, ys_all = xs + xs2, ys + ys2
    order = [0, 1, 2, 3, 4, 5, 0, 3, 1, 4, 2, 5, 0, 3]
    xs_seq, ys_seq = [xs_all[i] for i in order], [ys_all[i] for i in order]
    _, l1, _ = _run(_mlp, OPTIMISERS["adam"], nn.BCEWithLogitsLoss(), False, xs_seq, ys_seq, 14)
    _, l2, step = _run(_mlp, OPTIMISERS["adam"], nn.BCEWithLogitsLoss(), True, xs_seq, ys_seq, 14)
    assert [a.tobytes() for a in l1] == [b.tobytes() for b in l2]
    assert len(step.plans()) == 2 and step.recordings == 4
    assert all(p.kind in ("array", "flat") for p in step.plans()) and len(step.plans()) == 2


def test_training_mode_and_requires_grad_are_guards():
    xs, ys = _data(2, 16, 13, 1)
    model = _mlp(dropout=True)
    opt = cr.optim.SGD(model.parameters(), lr=0.1)
    step = cr.compile(_step(model, opt, nn.BCEWithLogitsLoss()))
    for i in range(4):
        step(xs[i % 2], ys[i % 2])
    assert step.recordings == 2
    model.eval()                                 # dropout off: another plan
    for i in range(4):
        step(xs[i % 2], ys[i % 2])
    assert step.recordings == 4 and "Dropout" not in step.plans()[-1].describe()
    model.train()
    model[0].weight.requires_grad_(False)        # a frozen layer: the recorded plan is stale
    before = model[0].weight._data.copy()
    for i in range(4):
        step(xs[i % 2], ys[i % 2])
    assert step.recordings == 6
    assert np.array_equal(model[0].weight._data, before)


class _Square(cr.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return 2 * x * g


def _unrecordable_steps():
    model = _mlp()
    opt = cr.optim.SGD(model.parameters(), lr=0.1)
    loss_fn = nn.BCEWithLogitsLoss()

    def item(x, y):
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss.item()

    def control_flow(x, y):
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        if loss > 0.5:
            loss = loss * 2
        loss.backward()
        opt.step()
        return loss.detach()

    def custom_function(x, y):
        opt.zero_grad()
        loss = loss_fn(_Square.apply(model(x)), y)
        loss.backward()
        opt.step()
        return loss.detach()

    def fresh_random(x, y):
        opt.zero_grad()
        loss = loss_fn(model(x + cr.randn(*x.shape)), y)
        loss.backward()
        opt.step()
        return loss.detach()
    return {"Tensor.item()": item, "Tensor.__bool__()": control_flow, "_Square": custom_function,
            "outside the recorded ops": fresh_random}


@pytest.mark.parametrize("cause", ["Tensor.item()", "Tensor.__bool__()", "_Square",
                                   "outside the recorded ops"])
def test_unrecordable_step_runs_eagerly_with_one_warning(cause):
    xs, ys = _data(2, 16, 13, 1)
    fn = _unrecordable_steps()[cause]
    step = cr.compile(fn)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        results = [step(xs[i % 2], ys[i % 2]) for i in range(6)]
    ours = [w for w in caught if issubclass(w.category, CompileWarning)]
    assert len(ours) == 1 and cause in str(ours[0].message)
    assert step.plans() == [] and len(results) == 6


def test_unrecordable_results_match_eager():
    xs, ys = _data(2, 16, 13, 1)
    eager_step = _unrecordable_steps()["Tensor.item()"]
    eager = [eager_step(xs[i % 2], ys[i % 2]) for i in range(5)]
    step = cr.compile(_unrecordable_steps()["Tensor.item()"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CompileWarning)
        compiled = [step(xs[i % 2], ys[i % 2]) for i in range(5)]
    assert eager == compiled


def test_recordable_custom_function_is_replayed():
    xs, ys = _data(2, 16, 13, 1)

    class Square(_Square):
        recordable = True
    model = _mlp()
    opt = cr.optim.SGD(model.parameters(), lr=0.1)

    def step_fn(x, y):
        opt.zero_grad()
        loss = nn.functional.mse_loss(Square.apply(model(x)), y)
        loss.backward()
        opt.step()
        return loss.detach()
    step = cr.compile(step_fn)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CompileWarning)
        for i in range(4):
            step(xs[i % 2], ys[i % 2])
    assert "Square.apply" in step.plans()[0].describe()
    assert step.plans()[0].kind == "ops" and "Square" in step.plans()[0].why_not_array


def test_no_memory_growth_over_2000_replays():
    xs, ys = _data(4, 8, 13, 1)
    model = _mlp(dropout=True)
    step = cr.compile(_step(model, cr.optim.Adam(model.parameters()), nn.BCEWithLogitsLoss()))
    for i in range(50):
        step(xs[i % 4], ys[i % 4])
    tracemalloc.start()
    try:
        for i in range(1000):
            step(xs[i % 4], ys[i % 4])
        first, _ = tracemalloc.get_traced_memory()
        for i in range(1000):
            step(xs[i % 4], ys[i % 4])
        second, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert second - first < 16_000, (first, second)
    assert step.plans()[0].kind in ("array", "flat")


def test_bad_arguments_are_refused():
    with pytest.raises(cr.errors.ConfigError, match="callable"):
        cr.compile(3)
    with pytest.raises(cr.errors.ConfigError, match="cache_size"):
        cr.compile(lambda: None, cache_size=0)


def test_no_grad_parts_and_schedulers_replay_as_recorded():
    xs, ys = _data(3, 16, 13, 1)

    def make():
        model = _mlp()
        opt = cr.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        sched = cr.optim.lr_scheduler.StepLR(opt, step_size=4, gamma=0.5)
        loss_fn = nn.BCEWithLogitsLoss()

        def step(x, y):
            opt.zero_grad()
            out = model(x)
            loss = loss_fn(out, y)
            loss.backward()
            opt.step()
            sched.step()
            with cr.no_grad():
                acc = ((out > 0).float() == y).float().mean()
            return loss.detach(), acc
        return model, opt, step

    _, o1, eager = make()
    r1 = [eager(xs[i % 3], ys[i % 3]) for i in range(12)]
    _, o2, step = make()
    step = cr.compile(step)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CompileWarning)
        r2 = [step(xs[i % 3], ys[i % 3]) for i in range(12)]
    for (l1, a1), (l2, a2) in zip(r1, r2):
        assert l1._data.tobytes() == l2._data.tobytes() and a1._data.tobytes() == a2._data.tobytes()
        assert not a2.requires_grad
    assert o1.param_groups[0]["lr"] == o2.param_groups[0]["lr"] == 0.1 * 0.5 ** 3
    assert step.recordings == 2 and step.plans()[0].kind in ("array", "flat")


def test_gradients_accumulate_without_zero_grad_as_eager():
    xs, ys = _data(2, 16, 13, 1)

    def make():
        model = _mlp()
        loss_fn = nn.BCEWithLogitsLoss()

        def step(x, y):
            loss = loss_fn(model(x), y)
            loss.backward()
            return loss.detach()
        return model, step
    m1, eager = make()
    m2, step = make()
    step = cr.compile(step)
    for i in range(6):
        eager(xs[i % 2], ys[i % 2])
        step(xs[i % 2], ys[i % 2])
    for p, q in zip(m1.parameters(), m2.parameters()):
        assert p.grad._data.tobytes() == q.grad._data.tobytes()
    assert step.plans()[0].kind in ("array", "flat")


def test_an_error_while_recording_leaves_nothing_patched():
    xs, ys = _data(1, 16, 13, 1)
    model = _mlp()

    def bad(x, y):
        model(x).sum().backward()
        raise ValueError("boom")
    step = cr.compile(bad)
    before = (dict(vars(cr.Tensor)), dict(vars(cr.optim.Optimizer)),
              dict(vars(cr.optim.optimizer.Optimizer.__subclasses__()[0])))
    with pytest.raises(ValueError, match="boom"):
        step(xs[0], ys[0])
    from chainrule import function
    assert function.recorder is None
    after = (dict(vars(cr.Tensor)), dict(vars(cr.optim.Optimizer)),
             dict(vars(cr.optim.optimizer.Optimizer.__subclasses__()[0])))
    assert before == after


def test_module_hooks_make_the_step_eager():
    xs, ys = _data(2, 16, 13, 1)
    model = _mlp()
    seen = []
    model[0].register_forward_hook(lambda m, i, o: seen.append(1))
    step = cr.compile(_step(model, cr.optim.SGD(model.parameters(), lr=0.1),
                            nn.BCEWithLogitsLoss()))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for i in range(5):
            step(xs[i % 2], ys[i % 2])
    assert len([w for w in caught if "hooks" in str(w.message)]) == 1
    assert len(seen) == 5


def test_a_hook_added_after_recording_records_again():
    xs, ys = _data(2, 16, 13, 1)
    model = _mlp()
    step = cr.compile(_step(model, cr.optim.SGD(model.parameters(), lr=0.1),
                            nn.BCEWithLogitsLoss()))
    for i in range(4):
        step(xs[i % 2], ys[i % 2])
    seen = []
    model[0].register_forward_hook(lambda m, i, o: seen.append(1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CompileWarning)
        for i in range(3):
            step(xs[i % 2], ys[i % 2])
    assert len(seen) == 3


@pytest.mark.skipif(not hasattr(cr.Tensor, "register_hook"), reason="no tensor hooks yet")
def test_tensor_hooks_registered_in_the_step_are_replayed():
    xs, ys = _data(2, 16, 13, 1)

    def make():
        model = _mlp()
        opt = cr.optim.SGD(model.parameters(), lr=0.1)
        loss_fn = nn.BCEWithLogitsLoss()

        def step(x, y):
            opt.zero_grad()
            h = model[0](x)
            h.register_hook(lambda g: g * 2)
            loss = loss_fn(model[2](model[1](h)), y)
            loss.backward()
            opt.step()
            return loss.detach()
        return model, step
    m1, eager = make()
    m2, step = make()
    step = cr.compile(step)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CompileWarning)
        for i in range(6):
            eager(xs[i % 2], ys[i % 2])
            step(xs[i % 2], ys[i % 2])
    assert step.recordings == 2 and step.plans()[0].kind == "ops"
    for p, q in zip(m1.parameters(), m2.parameters()):
        assert p._data.tobytes() == q._data.tobytes()
