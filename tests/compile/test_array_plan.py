"""cr.compile's array plan: what it replays on arrays, and when it hands a step to the op-level plan."""
import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.backend import cuda
from chainrule.compile import CompileWarning
from chainrule.function import Op
from chainrule.nn.functional.recurrent import Unbind


def _batches(n=3, batch=16, n_in=5, seed=0):
    rng = np.random.default_rng(seed)
    return [(cr.tensor(rng.standard_normal((batch, n_in)).astype(np.float32)),
             cr.tensor(rng.standard_normal((batch, 1)).astype(np.float32))) for _ in range(n)]


def _run_both(make, batches, steps=12, check=None):
    """Run the step made by *make* eagerly and compiled; assert bit-identical results and
    parameters; return the compiled step and the two parameter lists."""
    p1, eager = make()
    p2, step = make()
    step = cr.compile(step)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CompileWarning)
        for i in range(steps):
            x, y = batches[i % len(batches)]
            a, b = eager(x, y), step(x, y)
            assert a._data.tobytes() == b._data.tobytes(), i
            if check is not None:
                check(step)
    for p, q in zip(p1, p2):
        assert p._data.tobytes() == q._data.tobytes()
    return step, p1, p2


def _array_source(plan):
    """The generated function of the array plan (itself, or the one a flat plan was traced from)."""
    return plan.array.source if plan.kind == "flat" else plan.source


def _broadcast_model():
    """y = tanh(x ⊙ w + b) · v with w, b, v broadcast over the batch: the gradients of w, b and v
    are summed back from the broadcast by the engine (``sum_to``), and x is used twice."""
    cr.manual_seed(0)
    w = cr.randn(1, 5, requires_grad=True)
    b = cr.randn(5, requires_grad=True)
    v = cr.randn(5, 1, requires_grad=True)
    opt = cr.optim.Adam([w, b, v], lr=1e-2)

    def step(x, y):
        opt.zero_grad()
        h = cr.tanh(x * w + b) + x * b
        loss = ((h @ v - y) ** 2).mean()
        loss.backward()
        opt.step()
        return loss.detach()
    return [w, b, v], step


def test_broadcast_gradients_and_a_reused_input_replay_on_arrays():
    step, _, _ = _run_both(_broadcast_model, _batches())
    plan = step.plans()[0]
    assert plan.kind in ("array", "flat"), plan
    assert "backward:" in plan.describe() and "param[5].grad" in plan.describe()


def test_an_input_that_requires_grad_gets_its_gradient():
    batches = [(x.detach().requires_grad_(True), y) for x, y in _batches()]

    def make():
        cr.manual_seed(0)
        lin = nn.Linear(5, 1)

        def step(x, y):
            x.grad = None
            loss = nn.functional.mse_loss(lin(x), y)
            loss.backward()
            return loss.detach()
        return list(lin.parameters()), step
    _, eager = make()
    grads_eager = []
    for x, y in batches * 2:
        eager(x, y)
        grads_eager.append(x.grad._data.copy())
    _, step = make()
    step = cr.compile(step)
    for (x, y), g in zip(batches * 2, grads_eager):
        step(x, y)
        assert x.grad._data.tobytes() == g.tobytes()
    assert step.plans()[0].kind in ("array", "flat") and "in0.grad" in step.plans()[0].describe()


def test_a_step_returning_the_undetached_loss_replays():
    def make():
        cr.manual_seed(0)
        model = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 1))
        opt = cr.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)

        def step(x, y):
            loss = nn.functional.mse_loss(model(x), y)
            loss.backward()
            opt.step()
            opt.zero_grad()
            return loss
        return list(model.parameters()), step
    step, _, _ = _run_both(make, _batches())
    assert step.plans()[0].kind in ("array", "flat")


def test_a_leaf_hook_added_after_recording_runs_through_the_op_level_replay():
    def make():
        cr.manual_seed(0)
        model = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 1))
        opt = cr.optim.SGD(model.parameters(), lr=0.1)

        def step(x, y):
            opt.zero_grad()
            loss = nn.functional.mse_loss(model(x), y)
            loss.backward()
            opt.step()
            return loss.detach()
        return model, step
    batches = _batches()
    m1, eager = make()
    m2, step = make()
    step = cr.compile(step)
    for i in range(4):
        eager(*batches[i % 3])
        step(*batches[i % 3])
    assert step.plans()[0].kind in ("array", "flat")
    seen = []
    for m in (m1, m2):
        m[0].weight.register_hook(lambda g: seen.append(1) or g * 0.5)
    for i in range(4):
        a, b = eager(*batches[i % 3]), step(*batches[i % 3])
        assert a._data.tobytes() == b._data.tobytes()
    assert len(seen) == 8
    for p, q in zip(m1.parameters(), m2.parameters()):
        assert p._data.tobytes() == q._data.tobytes()


def test_autograd_grad_in_the_step_is_replayed_op_by_op():
    def make():
        cr.manual_seed(0)
        w = cr.randn(5, 1, requires_grad=True)

        def step(x, y):
            loss = ((x @ w - y) ** 2).mean()
            g, = cr.autograd.grad(loss, w)
            with cr.no_grad():
                w.sub_(0.1 * g)
            return loss.detach()
        return [w], step
    step, _, _ = _run_both(make, _batches())
    plan = step.plans()[0]
    assert plan.kind == "ops" and "grad" in plan.why_not_array


@pytest.mark.parametrize("batch", [4, 9])
def test_replays_are_independent_of_earlier_steps_buffers(batch):
    """The plan holds no array between steps: replaying after the inputs change in place is
    the same as eager on the new values."""
    def make():
        cr.manual_seed(0)
        model = nn.Sequential(nn.Linear(5, 3), nn.ReLU(), nn.Linear(3, 1))
        opt = cr.optim.AdamW(model.parameters(), lr=1e-2)

        def step(x, y):
            opt.zero_grad()
            loss = nn.functional.binary_cross_entropy_with_logits(model(x), (y > 0).float())
            loss.backward()
            opt.step()
            return loss.detach()
        return list(model.parameters()), step
    x, y = _batches(1, batch)[0]
    p1, eager = make()
    p2, step = make()
    step = cr.compile(step)
    rng = np.random.default_rng(1)
    for _ in range(8):
        x._data[...] = rng.standard_normal(x._data.shape)
        assert eager(x, y)._data.tobytes() == step(x, y)._data.tobytes()
    assert step.plans()[0].kind in ("array", "flat")
    for p, q in zip(p1, p2):
        assert p._data.tobytes() == q._data.tobytes()


def test_anomaly_mode_and_input_hooks_replay_op_by_op_with_eager_numbers():
    def make():
        cr.manual_seed(0)
        model = nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 1))
        opt = cr.optim.SGD(model.parameters(), lr=0.1)

        def step(x, y):
            opt.zero_grad()
            loss = nn.functional.mse_loss(model(x), y)
            loss.backward()
            opt.step()
            return loss.detach()
        return list(model.parameters()), step
    batches = [(x.detach().requires_grad_(True), y) for x, y in _batches()]
    p1, eager = make()
    p2, step = make()
    step = cr.compile(step)
    for i in range(4):
        eager(*batches[i % 3])
        step(*batches[i % 3])
    assert step.plans()[0].kind in ("array", "flat")
    seen = []
    x0 = batches[0][0]
    x0.register_hook(lambda g: seen.append(1))
    with cr.autograd.detect_anomaly():
        for i in range(3):
            assert eager(*batches[i % 3])._data.tobytes() == step(*batches[i % 3])._data.tobytes()
    for i in range(3):
        assert eager(*batches[i % 3])._data.tobytes() == step(*batches[i % 3])._data.tobytes()
    assert len(seen) == 4               # the hook ran in both runs, on batch 0, twice each
    for p, q in zip(p1, p2):
        assert p._data.tobytes() == q._data.tobytes()


def test_multi_output_ops_with_an_unused_output_replay_on_arrays():
    def make():
        cr.manual_seed(0)
        lin = nn.Linear(5, 6)
        opt = cr.optim.Adam(lin.parameters(), lr=1e-2)

        def step(x, y):
            opt.zero_grad()
            cols = Unbind.apply(lin(x).T)     # one node, six outputs; four get no gradient
            loss = ((cols[0] * cols[3] - y.reshape(-1)) ** 2).mean()
            loss.backward()
            opt.step()
            return loss.detach()
        return list(lin.parameters()), step
    step, _, _ = _run_both(make, _batches())
    plan = step.plans()[0]
    assert plan.kind in ("array", "flat"), plan.why_not_array
    assert "_multi(" in _array_source(plan)    # a node with several outputs


def test_the_array_plan_runs_on_the_device_stand_in():
    with cuda.use_standin() as ns:
        def make():
            cr.manual_seed(0)
            model = nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 1)).to("cuda")
            opt = cr.optim.Adam(model.parameters(), lr=0.01)

            def step(x, y):
                opt.zero_grad()
                loss = nn.functional.binary_cross_entropy_with_logits(model(x), y)
                loss.backward()
                opt.step()
                return loss.detach()
            return model, step
        rng = np.random.default_rng(0)
        xs = [cr.Tensor(ns.asarray(rng.standard_normal((8, 5)).astype(np.float32)))
              for _ in range(3)]
        ys = [cr.Tensor(ns.asarray((rng.random((8, 1)) > .5).astype(np.float32)))
              for _ in range(3)]
        m1, eager = make()
        m2, step = make()
        step = cr.compile(step)
        with warnings.catch_warnings():
            warnings.simplefilter("error", CompileWarning)
            for i in range(8):
                a, b = eager(xs[i % 3], ys[i % 3]), step(xs[i % 3], ys[i % 3])
                assert a._data.get().tobytes() == b._data.get().tobytes()
        assert step.plans()[0].kind in ("array", "flat")
        for p, q in zip(m1.parameters(), m2.parameters()):
            assert p._data.get().tobytes() == q._data.get().tobytes()


def test_tied_weights_and_two_backward_passes_accumulate_as_eager():
    def make():
        cr.manual_seed(0)
        w = cr.randn(5, 5, requires_grad=True)
        v = cr.randn(5, 1, requires_grad=True)
        opt = cr.optim.SGD([w, v], lr=0.01, momentum=0.5)

        def step(x, y):
            opt.zero_grad()
            h = cr.tanh(x @ w) @ w.T             # w used twice: two gradients for one leaf
            loss = ((h @ v - y) ** 2).mean()
            loss.backward()
            (h.detach() @ v).abs().mean().backward()   # a second pass adds into v.grad
            opt.step()
            return loss.detach()
        return [w, v], step
    step, _, _ = _run_both(make, _batches())
    assert step.plans()[0].kind in ("array", "flat"), step.plans()[0].why_not_array
    assert step.plans()[0].describe().count("backward:") == 2


def test_an_op_defined_in_a_function_replays_on_arrays():
    class Cube(Op):
        """y = x³.  x̄ = 3x²·ȳ."""

        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x._data ** 3

        @staticmethod
        def backward(ctx, gy):
            x, = ctx.saved_tensors
            return 3 * x * x * gy

    def make():
        cr.manual_seed(0)
        lin = nn.Linear(5, 1)
        opt = cr.optim.SGD(lin.parameters(), lr=0.01)

        def step(x, y):
            opt.zero_grad()
            loss = ((Cube.apply(lin(x)) - y) ** 2).mean()
            loss.backward()
            opt.step()
            return loss.detach()
        return list(lin.parameters()), step
    step, _, _ = _run_both(make, _batches())
    plan = step.plans()[0]
    assert plan.kind in ("array", "flat") and "Cube.forward" in plan.describe()
    assert "_locals_" in _array_source(plan)    # the qualified name, made a valid identifier
