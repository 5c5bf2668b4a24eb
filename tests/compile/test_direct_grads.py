"""cr.compile's flat plan writes each gradient where the optimiser reads it (the flat gradient
buffer of a packed group, a buffer of the plan for a group stepped parameter by parameter),
traces the parameter-by-parameter update too, and checks its guards in one quick pass: all
bit-identical to eager, whatever happens between steps."""
import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.compile import CompileWarning, optim_trace

STEPS = 16


def _batches(n=3, batch=16, n_in=7, seed=0):
    rng = np.random.default_rng(seed)
    return [(cr.tensor(rng.standard_normal((batch, n_in)).astype(np.float32)),
             cr.tensor((rng.random((batch, 1)) > 0.5).astype(np.float32))) for _ in range(n)]


def _model(n_in=7, hidden=5):
    cr.manual_seed(0)
    return nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(), nn.Linear(hidden, 1))


OPTIMISERS = {
    "adam": lambda ps, **kw: cr.optim.Adam(ps, lr=1e-2, **kw),
    "adam-l2-amsgrad-maximize": lambda ps, **kw: cr.optim.Adam(
        ps, lr=1e-2, weight_decay=0.01, amsgrad=True, maximize=True, **kw),
    "adamw": lambda ps, **kw: cr.optim.AdamW(ps, lr=1e-2, weight_decay=0.1, **kw),
    "adam-beta1-high": lambda ps, **kw: cr.optim.Adam(ps, lr=1e-2, betas=(0.3, 0.99), **kw),
    "sgd-momentum": lambda ps, **kw: cr.optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True,
                                                  **kw),
}


def _run(opt_fn, compiled, between=None, zero_first=False, chunk=None, model_fn=_model,
         batches=None, steps=STEPS):
    model = model_fn()
    opt = opt_fn(model.parameters())
    if chunk is not None:
        opt._chunk = chunk
    loss_fn = nn.BCEWithLogitsLoss()

    def step(x, y):
        if zero_first:
            opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        if not zero_first:
            opt.zero_grad()
        return loss.detach()

    if compiled:
        step = cr.compile(step)
    batches = batches or _batches()
    losses = []
    with warnings.catch_warnings():
        warnings.simplefilter("error", CompileWarning)
        warnings.simplefilter("error", DeprecationWarning)   # what a replay calls, too
        for i in range(steps):
            losses.append(step(*batches[i % len(batches)])._data.tobytes())
            if between is not None:
                between(i, model, opt)
    weights = [p._data.tobytes() for p in model.parameters()]
    grads = [None if p.grad is None else p.grad._data.tobytes() for p in model.parameters()]
    state = [v._data.tobytes() for s in opt.state.values() for v in s.values()]
    return (losses, weights, grads, state), step


def _same_as_eager(opt_fn, **kw):
    eager, _ = _run(opt_fn, False, **kw)
    compiled, step = _run(opt_fn, True, **kw)
    assert eager == compiled
    return step.plans()[0]


@pytest.mark.parametrize("name", sorted(OPTIMISERS))
def test_gradients_go_straight_into_the_flat_buffer(name):
    plan = _same_as_eager(OPTIMISERS[name])
    assert plan.kind == "flat" and len(plan.optims) == 1, plan.why_not_flat
    assert len(plan.direct) == 4                      # every parameter
    assert "concatenate" not in plan.source           # no gather
    assert "_grad" not in plan.source                 # no .grad made, none set to None


@pytest.mark.parametrize("name", sorted(OPTIMISERS))
@pytest.mark.parametrize("chunk", [None, 8])
def test_a_group_stepped_parameter_by_parameter_is_traced(name, chunk):
    """foreach=False: the per-parameter update (in pieces of *chunk* elements where the
    optimiser takes them so) is traced, each gradient written into a buffer of the plan."""
    plan = _same_as_eager(lambda ps: OPTIMISERS[name](ps, foreach=False), chunk=chunk)
    assert plan.kind == "flat" and len(plan.optims) == 1, plan.why_not_flat
    assert "step_0(" not in plan.source and "_grad" not in plan.source
    assert len(plan.direct) == 4
    if chunk:
        assert "slice(8, 16, None)" in plan.source    # the 35 weights in pieces of 8


def test_large_parameters_not_packed_are_traced_in_pieces():
    """Parameters too large to pack (mean size over FLAT_MEAN_SIZE): stepped one by one in
    cache-sized pieces, as the optimiser does."""
    batches = _batches(n_in=300, batch=4)
    plan = _same_as_eager(OPTIMISERS["adam"], model_fn=lambda: _model(300, 512),
                          batches=batches, steps=6)
    assert plan.kind == "flat" and len(plan.optims) == 1 and len(plan.direct) == 4
    assert "slice(131072, 153600, None)" in plan.source


def _set_grad(i, model, opt):
    if i in (5, 6):                  # a gradient to add to, as eagerly
        for p in model.parameters():
            p.grad = cr.ones_like(p) * 0.25


def _reload(i, model, opt):
    if i == 7:
        opt.load_state_dict(opt.state_dict())


def _new_weight(i, model, opt):
    if i == 8:
        model[0].weight.data = model[0].weight.data * 0.5


def _eval_train(i, model, opt):
    if i == 6:
        model.eval()
    if i == 9:
        model.train()


@pytest.mark.parametrize("foreach", [None, False])
@pytest.mark.parametrize("between", [_set_grad, _reload, _new_weight, _eval_train])
def test_what_happens_between_steps_is_seen(foreach, between):
    plan = _same_as_eager(lambda ps: OPTIMISERS["adam"](ps, foreach=foreach), between=between,
                          chunk=8)
    assert plan.kind == "flat"


_SEEN = []


def _post_hook(i, model, opt):
    if i == 6:
        model[0].weight.register_post_accumulate_grad_hook(
            lambda p: _SEEN.append(p.grad._data.tobytes()))


@pytest.mark.parametrize("foreach", [None, False])
def test_a_post_accumulate_grad_hook_runs_as_eagerly(foreach):
    if not hasattr(cr.Tensor, "register_post_accumulate_grad_hook"):
        pytest.skip("no post-accumulate-grad hooks")
    runs = []
    for compiled in (False, True):
        _SEEN.clear()
        out, _ = _run(lambda ps: OPTIMISERS["adam"](ps, foreach=foreach), compiled,
                      between=_post_hook)
        runs.append((out, list(_SEEN)))
    assert len(runs[0][1]) == STEPS - 7
    assert runs[0] == runs[1]


def test_gradients_kept_after_the_step_are_made_as_eagerly():
    """zero_grad() first: the .grad tensors outlive the step, so they are the step's own
    arrays (no buffer of the plan or the optimiser behind them)."""
    plan = _same_as_eager(OPTIMISERS["adam"], zero_first=True)
    assert plan.kind == "flat" and plan.direct == ()
    _, step = _run(OPTIMISERS["adam"], True, zero_first=True)
    fg = next(iter(step.plans()[0].optims[0].opt._flat.values()))
    grads = [p.grad._data for g in step.plans()[0].optims[0].opt.param_groups
             for p in g["params"]]
    assert not any(np.shares_memory(g, fg.grad) for g in grads)


@pytest.mark.parametrize("typ", [np.float32, np.float64])
@pytest.mark.parametrize("betas", [(0.9, 0.999), (0.3, 0.5), (0.0, 0.0)])
def test_the_adam_scalar_function_is_coefficients_bit_for_bit(typ, betas):
    group = {"lr": 1e-3, "betas": betas, "eps": 1e-8, "weight_decay": 0.01}
    fast = optim_trace.make_adam_scalars(group, typ)
    for step in (1, 2, 3, 10, 1000, 123457):
        for lr in (1e-3, 0.37, 3):
            group["lr"] = lr
            steps = np.array([step], np.float32)
            a, b = fast(group, steps, typ), _reference_scalars(group, steps, typ)
            assert [type(v) for v in a] == [type(v) for v in b]
            assert [np.asarray(v).tobytes() for v in a] == [np.asarray(v).tobytes() for v in b]
            arrays = [np.asarray(v) for v in fast.arrays(group, steps, typ)]   # in 0-d arrays
            assert [v.tobytes() for v in arrays] == [np.asarray(r, v.dtype).tobytes()
                                                     for v, r in zip(arrays, b)]


def _reference_scalars(group, steps, typ):
    """Adam's per-step scalars as eager Adam computes them (``_coefficients``), and 1 − γλ."""
    from chainrule.optim.adam import _coefficients
    k = _coefficients(group, float(steps[0]), typ)
    return (*k, 1 - float(group["lr"]) * float(group["weight_decay"]))


def _plain_step(model, opt):
    def step(x, y):
        loss = nn.functional.binary_cross_entropy_with_logits(model(x), y)
        loss.backward()
        opt.step()
        opt.zero_grad()
        return loss.detach()
    return step


def test_the_quick_guards_see_new_shapes_flags_and_layouts():
    """The fast path of a compiled call (same argument specs as the last call) hands over to
    the full guards on any change: a new batch size, requires_grad, dtype, strides."""
    rng = np.random.default_rng(3)
    xs = [cr.tensor(rng.standard_normal((16, 7)).astype(np.float32)) for _ in range(3)]
    ys = [cr.tensor((rng.random((16, 1)) > 0.5).astype(np.float32)) for _ in range(3)]
    small = (cr.tensor(rng.standard_normal((4, 7)).astype(np.float32)), ys[0][:4])
    grad_x = cr.tensor(xs[1]._data.copy(), requires_grad=True)
    f_order = cr.tensor(np.ascontiguousarray(xs[2]._data.T)).T
    calls = [(xs[i % 3], ys[i % 3]) for i in range(6)] + [small, small, small, small] + \
        [(xs[0], ys[0])] * 3 + [(grad_x, ys[1]), (f_order, ys[2]), (xs[1], ys[1]),
                                (xs[2], ys[2])]
    out = []
    for compiled in (False, True):
        model = _model()
        step = _plain_step(model, cr.optim.Adam(model.parameters(), lr=1e-2))
        step = cr.compile(step) if compiled else step
        out.append([step(x, y)._data.tobytes() for x, y in calls])
        out.append([p._data.tobytes() for p in model.parameters()])
        out.append(None if grad_x.grad is None else grad_x.grad._data.tobytes())
        grad_x.grad = None
    assert out[:3] == out[3:]


def test_no_memory_growth_over_2000_replays_stepped_parameter_by_parameter():
    import tracemalloc
    _, step = _run(lambda ps: OPTIMISERS["adam"](ps, foreach=False), True, chunk=8, steps=60)
    batches = _batches()
    assert step.plans()[0].kind == "flat" and len(step.plans()[0].direct) == 4
    tracemalloc.start()
    try:
        for i in range(1000):
            step(*batches[i % 3])
        first, _ = tracemalloc.get_traced_memory()
        for i in range(1000):
            step(*batches[i % 3])
        second, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert second - first < 16_000, (first, second)


def _dropout_bn():
    cr.manual_seed(0)
    return nn.Sequential(nn.Linear(7, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Dropout(0.3),
                         nn.Linear(6, 1))


class _Twice(nn.Module):
    """One layer used twice: its parameters get two gradients a step (the second added)."""

    def __init__(self):
        super().__init__()
        cr.manual_seed(0)
        self.inner = nn.Linear(7, 7)
        self.out = nn.Linear(7, 1)

    def forward(self, x):
        return self.out(cr.tanh(self.inner(cr.tanh(self.inner(x)))))


@pytest.mark.parametrize("foreach", [None, False])
def test_dropout_and_batch_norm_with_direct_gradients(foreach):
    cr.manual_seed(5)
    plan = _same_as_eager(lambda ps: OPTIMISERS["adam"](ps, foreach=foreach),
                          model_fn=_dropout_bn, chunk=8)
    assert plan.kind == "flat" and "concatenate" not in plan.source
    # the linear layers' gradients go direct; batch norm's are views of a sum: in a packed
    # group they are copied into the flat buffer, parameter by parameter read as .grad
    assert len(plan.direct) == 4
    assert ("copyto" in plan.source) == (foreach is None)


@pytest.mark.parametrize("foreach", [None, False])
def test_a_parameter_with_two_gradients_a_step_keeps_its_grad_tensor(foreach):
    plan = _same_as_eager(lambda ps: OPTIMISERS["adam"](ps, foreach=foreach), model_fn=_Twice)
    assert plan.kind == "flat"
    assert len(plan.direct) == 2            # the output layer's; the shared layer's are summed


def test_two_groups_one_packed_one_stepped_one_by_one():
    def opt_fn(ps):
        ps = list(ps)
        return cr.optim.Adam([{"params": ps[:2]}, {"params": ps[2:], "foreach": False,
                                                   "lr": 0.05}], lr=1e-2)
    plan = _same_as_eager(opt_fn, chunk=8)
    assert plan.kind == "flat" and len(plan.optims) == 1 and len(plan.direct) == 4
    assert "concatenate" not in plan.source and "step_0(" not in plan.source


def test_plain_sgd_stepped_one_by_one_stays_one_call():
    """SGD without momentum keeps no state: its per-parameter step stays one opaque call."""
    plan = _same_as_eager(lambda ps: cr.optim.SGD(ps, lr=0.1, foreach=False))
    assert plan.kind == "flat" and plan.optims == () and "step_0(" in plan.source


def test_exact_fma_keeps_the_optimiser_one_call(monkeypatch):
    """With ``_kernels.EXACT_FMA`` the update computes float64 scalars from the live ones,
    which a trace would freeze: the step stays one call, and a moving rate is followed."""
    from chainrule.optim import _kernels
    monkeypatch.setattr(_kernels, "EXACT_FMA", True)

    def halve(i, model, opt):
        for g in opt.param_groups:
            g["lr"] *= 0.5
    plan = _same_as_eager(OPTIMISERS["sgd-momentum"], between=halve)
    assert plan.kind == "flat" and plan.optims == ()
