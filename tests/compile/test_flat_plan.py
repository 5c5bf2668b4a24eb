"""cr.compile's flat plan: the NumPy calls inside the ops, traced once and replayed on buffers,
bit-identical to eager; a trace that cannot be replayed falls back to the array plan."""
import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.backend import cuda
from chainrule.compile import CompileWarning
from chainrule.function import Op

STEPS = 12


def _batches(n=3, batch=32, n_in=29, classes=0, seed=0):
    rng = np.random.default_rng(seed)
    xs = [cr.tensor(rng.standard_normal((batch, n_in)).astype(np.float32)) for _ in range(n)]
    if classes:
        ys = [cr.tensor(rng.integers(0, classes, batch)) for _ in range(n)]
    else:
        ys = [cr.tensor((rng.random((batch, 1)) > 0.5).astype(np.float32)) for _ in range(n)]
    return list(zip(xs, ys))


def _heart(*extra, n_out=1):
    """The heart network (29→16→1), with *extra* modules after the hidden layer."""
    cr.manual_seed(0)
    return nn.Sequential(nn.Linear(29, 16), *extra, nn.ReLU(), nn.Linear(16, n_out))


OPTIMISERS = {
    "adam": lambda ps: cr.optim.Adam(ps, lr=1e-2),
    "adamw": lambda ps: cr.optim.AdamW(ps, lr=1e-2, weight_decay=0.1),
    "sgd-momentum": lambda ps: cr.optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True),
}


def _make(model_fn, opt_fn, loss_fn, set_to_none=True):
    model = model_fn()
    opt = opt_fn(model.parameters())

    def step(x, y):
        opt.zero_grad(set_to_none=set_to_none)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss.detach()
    return model, step


def _compare(model_fn, opt_fn, loss_fn, batches, steps=STEPS, **kw):
    """Eager and compiled runs from the same seed: the losses (kept, not copied: a returned value
    must not share a buffer the next replay writes), the parameters, buffers, gradients and the
    random stream must be bit-identical.  Returns the compiled step."""
    runs = []
    for compiled in (False, True):
        model, step = _make(model_fn, opt_fn, loss_fn, **kw)
        if compiled:
            step = cr.compile(step)
        cr.manual_seed(123)
        with warnings.catch_warnings():
            warnings.simplefilter("error", CompileWarning)
            losses = [step(*batches[i % len(batches)]) for i in range(steps)]
        runs.append((model, losses, step, cr.random.default_generator.get_state()))
    (m1, l1, _, g1), (m2, l2, step, g2) = runs
    assert [a._data.tobytes() for a in l1] == [b._data.tobytes() for b in l2]
    for (name, p), q in zip(m1.state_dict().items(), m2.state_dict().values()):
        assert np.asarray(p._data).tobytes() == np.asarray(q._data).tobytes(), name
    for p, q in zip(m1.parameters(), m2.parameters()):
        assert (p.grad is None) == (q.grad is None)
        if p.grad is not None:
            assert p.grad._data.tobytes() == q.grad._data.tobytes()
    assert g1 == g2                       # dropout drew the same numbers, no more, no fewer
    return step


def _flat(step):
    plan = step.plans()[0]
    assert plan.kind == "flat", getattr(plan, "why_not_flat", None)
    return plan


@pytest.mark.parametrize("opt", sorted(OPTIMISERS))
def test_heart_mlp_replays_flat_and_bit_identical(opt):
    step = _compare(_heart, OPTIMISERS[opt], nn.BCEWithLogitsLoss(), _batches())
    plan = _flat(step)
    assert "matmul" in plan.source and "out=buf_" in plan.source
    assert "Linear.forward" not in plan.source     # the ops' code is gone, their calls remain
    assert "handed" not in plan.source             # one gradient a leaf: no bookkeeping
    assert "ones" not in plan.source               # backward's seed 1/n: made once, at trace
    assert step.recordings == 2


def test_dropout_consumes_the_random_stream_identically():
    step = _compare(lambda: _heart(nn.Dropout(0.3)), OPTIMISERS["adam"],
                    nn.BCEWithLogitsLoss(), _batches())
    assert "rng_random" in _flat(step).source


def test_reseeding_between_replays_gives_eager_masks():
    batches = _batches()
    out = []
    for compiled in (False, True):
        _, step = _make(lambda: _heart(nn.Dropout(0.5)), OPTIMISERS["sgd-momentum"],
                        nn.BCEWithLogitsLoss())
        step = cr.compile(step) if compiled else step
        losses = []
        for i in range(6):
            cr.manual_seed(i)           # a new stream each step: the replay draws from it
            losses.append(step(*batches[i % 3])._data.tobytes())
        out.append(losses)
    assert out[0] == out[1]
    assert step.plans()[0].kind == "flat"


def test_batchnorm_in_train_mode_updates_running_stats_identically():
    step = _compare(lambda: _heart(nn.BatchNorm1d(16)), OPTIMISERS["sgd-momentum"],
                    nn.BCEWithLogitsLoss(), _batches())
    _flat(step)


def test_cross_entropy_and_a_deeper_network():
    def deep():
        cr.manual_seed(0)
        return nn.Sequential(nn.Linear(29, 32), nn.Tanh(), nn.Linear(32, 32), nn.ReLU(),
                             nn.Linear(32, 10))
    step = _compare(deep, OPTIMISERS["adam"], nn.CrossEntropyLoss(), _batches(classes=10))
    _flat(step)


def test_gradients_kept_between_steps_are_added_in_place():
    """zero_grad(set_to_none=False): every delivery adds into the .grad the eager step made."""
    step = _compare(_heart, OPTIMISERS["adam"], nn.BCEWithLogitsLoss(), _batches(),
                    set_to_none=False)
    _flat(step)


def test_returned_values_and_grads_do_not_share_buffers():
    """Values that leave the step (the result, .grad) are fresh arrays on every replay."""
    model, step = _make(_heart, OPTIMISERS["adam"], nn.BCEWithLogitsLoss())
    step = cr.compile(step)
    batches = _batches()
    results, grads = [], []
    for i in range(8):
        results.append(step(*batches[i % 3]))
        grads.append(model[0].weight.grad)
    _flat(step)
    assert len({id(r._data) for r in results[3:]}) == 5
    assert len({id(g._data) for g in grads[3:]}) == 5
    plan = step.plans()[0]
    for buf in plan.buffers.values():
        assert not any(np.shares_memory(buf, r._data) for r in results)
        assert not any(np.shares_memory(buf, g._data) for g in grads)


class _Branchy(Op):
    """y = x if max(x) > 0 else 2x: the forward reads a value in Python."""

    @staticmethod
    def forward(ctx, x):
        return x._data if float(x._data.max()) > 0 else x._data * 2

    @staticmethod
    def backward(ctx, gy):
        return gy


class _HostArray(Op):
    """y = x + ones, the ones made with NumPy itself rather than ctx.xp."""

    @staticmethod
    def forward(ctx, x):
        return x._data + np.ones(x._data.shape, x._data.dtype)

    @staticmethod
    def backward(ctx, gy):
        return gy


@pytest.mark.parametrize("op, why", [(_Branchy, "float()"), (_HostArray, "made outside")])
def test_an_untraceable_op_falls_back_to_the_array_plan(op, why):
    def model_fn():
        lin = _heart()
        return nn.Sequential(lin, _Apply(op))
    step = _compare(model_fn, OPTIMISERS["adam"], nn.BCEWithLogitsLoss(), _batches())
    plan = step.plans()[0]
    assert plan.kind == "array" and why in plan.why_not_flat


class _Apply(nn.Module):
    def __init__(self, op):
        super().__init__()
        self.op = op

    def forward(self, x):
        return self.op.apply(x)


def test_standin_arrays_keep_the_array_plan():
    with cuda.use_standin() as ns:
        cr.manual_seed(0)
        model = _heart().to("cuda")
        opt = cr.optim.Adam(model.parameters(), lr=1e-2)
        loss_fn = nn.BCEWithLogitsLoss()

        @cr.compile
        def step(x, y):
            opt.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()
            return loss.detach()
        for x, y in _batches() * 2:
            step(cr.Tensor(ns.asarray(x._data)), cr.Tensor(ns.asarray(y._data)))
        plan = step.plans()[0]
        assert plan.kind == "array" and "not NumPy" in plan.why_not_flat


def test_no_memory_growth_over_2000_flat_replays():
    import tracemalloc
    _, step = _make(lambda: _heart(nn.Dropout(0.2)), OPTIMISERS["adam"],
                    nn.BCEWithLogitsLoss())
    step = cr.compile(step)
    batches = _batches(n=4, batch=8)
    for i in range(50):
        step(*batches[i % 4])
    _flat(step)
    tracemalloc.start()
    try:
        for i in range(1000):
            step(*batches[i % 4])
        first, _ = tracemalloc.get_traced_memory()
        for i in range(1000):
            step(*batches[i % 4])
        second, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert second - first < 16_000, (first, second)


class _CLevel(Op):
    """y = 2x through ``np.ndarray.__mul__`` called unbound: C code that wants a real array
    (the traced run fails on a proxy and runs the op on the arrays themselves)."""

    @staticmethod
    def forward(ctx, x):
        return np.ndarray.__mul__(x._data, 2)

    @staticmethod
    def backward(ctx, gy):
        return gy * 2


def test_an_op_that_fails_on_proxies_runs_on_arrays_and_falls_back():
    step = _compare(lambda: nn.Sequential(_heart(), _Apply(_CLevel)), OPTIMISERS["adam"],
                    nn.BCEWithLogitsLoss(), _batches())
    plan = step.plans()[0]
    assert plan.kind == "array" and "_CLevel.forward cannot be traced" in plan.why_not_flat


def _square_model():
    cr.manual_seed(0)
    return nn.Linear(5, 5)


def test_a_new_memory_layout_or_shared_inputs_replay_as_eager():
    """Guards of the flat plan beyond shapes: strides and distinct input arrays."""
    rng = np.random.default_rng(1)
    xs = [cr.tensor(rng.standard_normal((16, 5)).astype(np.float32)) for _ in range(3)]
    transposed = cr.tensor(np.ascontiguousarray(xs[0]._data.T)).T     # same shape, F-order
    calls = [(xs[0], xs[1]), (xs[1], xs[2]), (xs[2], xs[0]), (xs[0], xs[1]),
             (transposed, xs[1]), (xs[2], xs[2]), (xs[1], xs[0])]
    out = []
    for compiled in (False, True):
        model, step = _make(_square_model, OPTIMISERS["adam"], nn.MSELoss())
        step = cr.compile(step) if compiled else step
        out.append([step(x, y)._data.tobytes() for x, y in calls])
        out.append([p._data.tobytes() for p in model.parameters()])
    assert out[0] == out[2] and out[1] == out[3]
    assert step.plans()[0].kind == "flat"
    assert not step.plans()[0].layout_holds([transposed, xs[1]])
    assert not step.plans()[0].layout_holds([xs[2], xs[2]])


def test_a_layer_used_twice_gets_two_gradients_a_step():
    """Shared weights: each parameter receives two deliveries in one backward (the second is
    added to the first, which the step made, as the engine does)."""
    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            cr.manual_seed(0)
            self.inner = nn.Linear(29, 29)
            self.out = nn.Linear(29, 1)

        def forward(self, x):
            return self.out(cr.tanh(self.inner(cr.tanh(self.inner(x)))))
    for kw in ({}, {"set_to_none": False}):
        step = _compare(Twice, OPTIMISERS["adam"], nn.BCEWithLogitsLoss(), _batches(), **kw)
        assert "handed" in _flat(step).source


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_numbers_made_arrays_give_the_same_bits(dtype):
    """The flat plan hands ``np.maximum(a, 0)`` an array of zeros (NumPy's faster loop): for
    every ufunc it does this for, the bits equal the number's, signed zeros, inf and nan included."""
    from chainrule.compile.flat_codegen import _SPLAT
    edge = np.array([-0.0, 0.0, np.nan, -np.inf, np.inf, -1.0, 1.0, 1e-30, -3.5, 7.0], dtype)
    a = np.tile(edge, (3, 1))
    with np.errstate(all="ignore"):
        for ufunc in _SPLAT:
            for number in (0, 1, -1, 0.5, 1e-5, -2.75, 3):
                full = np.full(a.shape, number, dtype=dtype)
                assert ufunc(a, number).tobytes() == ufunc(a, full).tobytes(), (ufunc, number)
                assert ufunc(number, a).tobytes() == ufunc(full, a).tobytes(), (ufunc, number)


def test_shared_numpy_scalars_get_their_own_slots():
    """np.any returns the np.True_ singleton: each result is its own value in the plan."""
    from chainrule.compile.trace import Tracer
    tr = Tracer()
    a = tr.new(np.array([1.0, -1.0]))
    first, second = np.any(a > 0), np.any(a > 5)
    third = np.any(a < 5)
    assert len({first._s, second._s, third._s}) == 3 and first._a is third._a
    assert tr.reason is None and [c[1] for c in tr.calls].count(np.any) == 3
    bool(first)
    assert "bool()" in tr.reason


class _Mix(nn.Module):
    """cat, gelu, sigmoid, functional dropout, slicing, log-softmax: many ops' array code."""

    def __init__(self):
        super().__init__()
        cr.manual_seed(0)
        self.a, self.b, self.o = nn.Linear(29, 16), nn.Linear(29, 16), nn.Linear(32, 3)

    def forward(self, x):
        h = cr.cat([nn.functional.gelu(self.a(x)), cr.sigmoid(self.b(x)) * 2], dim=1)
        h = nn.functional.dropout(h, 0.1) + h[:, :1]
        return nn.functional.log_softmax(self.o(h), dim=1)


class _Attention(nn.Module):
    def __init__(self):
        super().__init__()
        cr.manual_seed(0)
        self.att, self.o = nn.MultiheadAttention(8, 2, batch_first=True), nn.Linear(8, 1)

    def forward(self, x):
        return self.o(self.att(x, x, x)[0].mean(dim=1))


def test_more_ops_trace_bit_identically():
    rng = np.random.default_rng(2)
    mixed = [(x, cr.tensor(rng.integers(0, 3, 32))) for x, _ in _batches()]
    _flat(_compare(_Mix, OPTIMISERS["adamw"], nn.NLLLoss(), mixed))
    seqs = [(cr.tensor(rng.standard_normal((4, 5, 8)).astype(np.float32)),
             cr.tensor((rng.random((4, 1)) > .5).astype(np.float32))) for _ in range(3)]
    _flat(_compare(_Attention, OPTIMISERS["adam"], nn.BCEWithLogitsLoss(), seqs))


def test_one_tensor_passed_twice_when_traced_does_not_alias_later_inputs():
    """Traced with step(x, x), the plan must not read the second input through the first."""
    rng = np.random.default_rng(2)
    xs = [cr.tensor(rng.standard_normal((16, 5)).astype(np.float32)) for _ in range(3)]
    calls = [(xs[0], xs[1]), (xs[1], xs[2]), (xs[2], xs[2]), (xs[0], xs[1]), (xs[1], xs[0])]
    out = []
    for compiled in (False, True):
        model, step = _make(_square_model, OPTIMISERS["adam"], nn.MSELoss())
        step = cr.compile(step) if compiled else step
        out.append([step(x, y)._data.tobytes() for x, y in calls])
        out.append([p._data.tobytes() for p in model.parameters()])
    assert out[0] == out[2] and out[1] == out[3]
    assert "share one array" in step.plans()[0].why_not_flat
