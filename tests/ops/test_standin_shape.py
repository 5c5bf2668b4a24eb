"""Arithmetic, shape and in-place ops on the "cuda" device played by the CPU stand-in for CuPy.

Each case runs forward and first-order backward once on host (NumPy) tensors and once on stand-in
tensors (``cr.Tensor(ns.asarray(a))``): the values and gradients must be equal, stay on the device,
and never pass through NumPy (the stand-in refuses that, as CuPy does).  A create_graph case checks
that the same backward rules, recorded on tensors, give equal second derivatives.
"""
import numpy as np
import pytest

import chainrule as cr
from chainrule.backend import cuda as cuda_backend, standin

RNG = np.random.default_rng(20261206)


def real(*shape):
    return RNG.standard_normal(shape)


def positive(*shape):
    return RNG.uniform(0.5, 2.0, shape)


def nonzero(*shape):
    return RNG.uniform(0.3, 2.0, shape) * RNG.choice([-1.0, 1.0], shape)


def _copy_then(fn):
    """Run an in-place op on a non-leaf copy of the first input (a leaf cannot be changed)."""
    def run(x, *rest):
        y = x * 1.0
        out = fn(y, *rest)
        return y if out is None else out
    return run


def _setitem(idx):
    def run(y, v):
        y[idx] = v
    return _copy_then(run)


# name, fn(*tensors) -> tensor or tuple of tensors, inputs (float arrays require grad)
CASES = [
    # arithmetic
    ("add", lambda a, b: a + b, [real(3, 4), real(3, 4)]),
    ("add.broadcast", lambda a, b: a + b, [real(2, 3, 4), real(3, 1)]),
    ("add.alpha", lambda a, b: cr.add(a, b, alpha=2.0), [real(3, 4), real(4)]),
    ("add.scalar", lambda a: a + 2.5, [real(3, 4)]),
    ("sub", lambda a, b: a - b, [real(3, 1), real(4)]),
    ("rsub", lambda a: 2.5 - a, [real(3, 4)]),
    ("mul", lambda a, b: a * b, [real(3, 4), real(3, 4)]),
    ("mul.broadcast", lambda a, b: a * b, [real(1, 4), real(3, 1)]),
    ("mul.scalar", lambda a: a * 3, [real(5)]),
    ("mul.0d", lambda a, b: a * b, [real(), real()]),
    ("div", lambda a, b: a / b, [real(3, 4), nonzero(4)]),
    ("div.0d", lambda a, b: a / b, [real(), nonzero()]),
    ("rdiv", lambda a: 2.5 / a, [nonzero(3, 4)]),
    ("neg", lambda a: -a, [real(3, 4)]),
    ("neg.0d", lambda a: -a * 2.0, [real()]),
    ("pow", lambda a, b: a ** b, [positive(3, 4), real(3, 4)]),
    ("pow.broadcast", lambda a, b: a ** b, [positive(3, 1), real(4)]),
    ("pow.scalar", lambda a: a ** 3, [real(3, 4)]),
    ("pow.square", lambda a: a ** 2, [real(3, 4)]),
    ("pow.zero", lambda a: a ** 0, [real(3, 4)]),
    ("pow.zero-base", lambda a, b: a ** b,
     [np.array([0.0, 0.0, 0.0, 2.0]), np.array([-1.5, 0.0, 2.0, -1.0])]),
    ("rpow", lambda a: 2.0 ** a, [real(3, 4)]),
    ("rpow.zero-base", lambda a: 0.0 ** a, [np.array([-1.5, -1.0, 0.0, 1.0])]),
    ("matmul", lambda a, b: a @ b, [real(3, 4), real(4, 5)]),
    ("matmul.batched", lambda a, b: a @ b, [real(2, 3, 4), real(4, 5)]),
    ("matmul.batch-broadcast", lambda a, b: a @ b, [real(2, 1, 3, 4), real(3, 4, 2)]),
    ("matmul.vec-vec", lambda a, b: a @ b, [real(4), real(4)]),
    ("matmul.vec-mat", lambda a, b: a @ b, [real(4), real(2, 4, 3)]),
    ("matmul.mat-vec", lambda a, b: a @ b, [real(2, 3, 4), real(4)]),
    # shape
    ("sum_to", lambda a: cr.ops.shape.sum_to(a, (3, 1)), [real(2, 3, 4)]),
    ("expand", lambda a: a.expand(2, 3, 4), [real(3, 1)]),
    ("expand.-1", lambda a: a.expand(5, -1), [real(4)]),
    ("broadcast_to", lambda a: cr.broadcast_to(a, (3, 4)), [real(1, 4)]),
    ("reshape", lambda a: a.reshape(4, -1), [real(2, 3, 4)]),
    ("view", lambda a: a.view(6, 4), [real(2, 3, 4)]),
    ("reshape.of-transpose", lambda a: a.t().reshape(-1), [real(3, 4)]),
    ("flatten", lambda a: a.flatten(1), [real(2, 3, 4)]),
    ("unsqueeze", lambda a: a.unsqueeze(-2), [real(3, 4)]),
    ("squeeze", lambda a: a.squeeze(), [real(3, 1, 4, 1)]),
    ("squeeze.dim", lambda a: a.squeeze(1), [real(3, 1, 4, 1)]),
    ("permute", lambda a: a.permute(2, 0, 1), [real(2, 3, 4)]),
    ("transpose", lambda a: a.transpose(0, -1), [real(2, 3, 4)]),
    ("t", lambda a: a.t(), [real(3, 4)]),
    ("T", lambda a: a.T, [real(2, 3, 4)]),
    ("mT", lambda a: a.mT, [real(2, 3, 4)]),
    ("cat", lambda a, b, c: cr.cat([a, b, c], dim=1), [real(3, 2), real(3, 4), real(3, 1)]),
    ("cat.one", lambda a: cr.cat([a]), [real(3, 2)]),
    ("stack", lambda a, b: cr.stack([a, b], dim=-1), [real(3, 4), real(3, 4)]),
    ("split", lambda a: a.split([1, 3], dim=1), [real(3, 4)]),
    ("chunk", lambda a: a.chunk(3, dim=0), [real(5, 2)]),
    ("unbind", lambda a: a.unbind(1), [real(3, 4)]),
    # in place (on a non-leaf copy, so the gradient flows back to the leaf)
    ("add_", _copy_then(lambda y, b: y.add_(b, alpha=0.5)), [real(3, 4), real(4)]),
    ("iadd", _copy_then(lambda y, b: y.__iadd__(b)), [real(3, 4), real(3, 4)]),
    ("sub_", _copy_then(lambda y, b: y.sub_(b)), [real(3, 4), real(3, 1)]),
    ("mul_", _copy_then(lambda y, b: y.mul_(b)), [real(3, 4), real(3, 4)]),
    ("mul_.scalar", _copy_then(lambda y: y.mul_(-2.0)), [real(3, 4)]),
    ("div_", _copy_then(lambda y, b: y.div_(b)), [real(3, 4), nonzero(4)]),
    ("clamp_", _copy_then(lambda y: y.clamp_(-0.5, 0.5)), [real(3, 4)]),
    ("copy_", _copy_then(lambda y, b: y.copy_(b)), [real(3, 4), real(4)]),
    ("setitem.row", _setitem(1), [real(3, 4), real(4)]),
    ("setitem.slice", _setitem((slice(None), slice(1, 3))), [real(3, 4), real(3, 2)]),
    ("setitem.number", _copy_then(lambda y: y.__setitem__((0, 1), 5.0)), [real(3, 4)]),
    ("inplace.view-of-nonleaf", _copy_then(lambda y, b: (y.t().mul_(b), y)[1]),
     [real(3, 4), real(4, 3)]),
]


@pytest.fixture(scope="module")
def ns():
    with cuda_backend.use_standin() as namespace:
        yield namespace


def _leaves(arrays, make):
    return [cr.Tensor(make(a), requires_grad=a.dtype.kind == "f") for a in arrays]


def _as_tuple(out):
    return tuple(out) if isinstance(out, (tuple, list)) else (out,)


def _host(arr):
    return arr.get() if isinstance(arr, standin.StandInArray) else np.asarray(arr)


@pytest.mark.parametrize("name, fn, arrays", CASES, ids=[c[0] for c in CASES])
def test_forward_and_backward_on_the_standin_equal_the_cpu(ns, name, fn, arrays):
    cpu = _leaves(arrays, lambda a: a.copy())
    dev = _leaves(arrays, ns.asarray)
    out_c, out_d = _as_tuple(fn(*cpu)), _as_tuple(fn(*dev))
    assert len(out_c) == len(out_d)
    ups = [RNG.standard_normal(o.shape) for o in out_c]
    for k, (c, d) in enumerate(zip(out_c, out_d)):
        assert type(d._data) is standin.StandInArray, f"{name}: output {k} left the device"
        assert d.dtype == c.dtype and d.shape == c.shape
        np.testing.assert_allclose(_host(d._data), c._data, rtol=1e-12, atol=1e-14,
                                   err_msg=f"{name} output {k}")
    cr.autograd.backward(list(out_c),
                         [cr.Tensor(u.astype(o._data.dtype)) for u, o in zip(ups, out_c)])
    standin.reset_transfers()
    cr.autograd.backward(list(out_d), [cr.Tensor(ns.asarray(u.astype(o._data.dtype)))
                                       for u, o in zip(ups, out_d)])
    assert standin.transfers["to_host"] == 0, f"{name}: backward copied to the host"
    for i, (c, d) in enumerate(zip(cpu, dev)):
        if not c.requires_grad:
            continue
        assert (c.grad is None) == (d.grad is None), f"{name}: gradient of input {i}"
        if c.grad is None:      # copy_ overwrites every value: no gradient reaches x
            continue
        assert type(d.grad._data) is standin.StandInArray, f"{name}: gradient {i} left the device"
        np.testing.assert_allclose(_host(d.grad._data), c.grad._data, rtol=1e-12, atol=1e-14,
                                   err_msg=f"{name} gradient of input {i}")


def _second_order_graph(x, y, w, m):
    """Every op of these files in one function, differentiated twice."""
    h = (x * y + x ** 3 / y - 0.5 * x) @ w               # mul, pow, div, sub, matmul (batched)
    h = h.permute(0, 2, 1).reshape(2, -1)                 # permute, reshape
    h = cr.cat([h, (2.0 ** h[:, :3]) - h[:, :3] ** 2], 1)  # cat, rpow, pow
    h = h + m.expand(2, 1) * cr.stack([h[0], -h[1]])      # expand, stack, broadcasting add
    return (h.t() @ h.flatten(0).unsqueeze(1)[:h.shape[0]]).squeeze(1)


def test_create_graph_second_derivatives_on_the_standin_equal_the_cpu(ns):
    arrays = [real(2, 3, 4), positive(3, 4), real(4, 3), real(1, 1)]
    results = []
    for make in (lambda a: a.copy(), ns.asarray):
        x, y, w, m = ts = _leaves(arrays, make)
        out = _second_order_graph(x, y, w, m)
        up = cr.Tensor(make(np.linspace(-1.0, 1.0, out.shape[0])))
        gx, gy, gw = cr.autograd.grad(out, [x, y, w], grad_outputs=up, create_graph=True)
        assert gx.requires_grad and gy.requires_grad and gw.requires_grad
        s = (gx * gx).sum() + (gy ** 2 * y).sum() + (gw @ gw.t()).sum()
        s.backward(cr.Tensor(make(np.ones(()))))
        results.append([out._data, gx._data, gy._data, gw._data] + [t.grad._data for t in ts])
    for k, (c, d) in enumerate(zip(*results)):
        assert type(d) is standin.StandInArray
        np.testing.assert_allclose(_host(d), c, rtol=1e-10, atol=1e-12, err_msg=f"result {k}")


def test_a_saved_tensor_changed_in_place_on_the_standin_is_caught(ns):
    x = cr.Tensor(ns.asarray(real(3, 4)), requires_grad=True)
    y = x * 2.0
    z = y * y                   # MulBackward saves y
    y.add_(1.0)
    with pytest.raises(RuntimeError, match="MulBackward"):
        z.backward(cr.Tensor(ns.asarray(np.ones((3, 4)))))


def test_a_hot_path_step_on_the_standin_makes_no_transfer(ns):
    x = cr.Tensor(ns.asarray(real(8, 4)))
    w = cr.Tensor(ns.asarray(real(4, 3)), requires_grad=True)
    b = cr.Tensor(ns.asarray(real(3)), requires_grad=True)
    g = cr.Tensor(ns.asarray(np.ones((8, 3))))
    standin.reset_transfers()
    ((x @ w + b) * 0.5 - b).reshape(24).reshape(8, 3).backward(g)
    assert standin.transfers == {"to_device": 0, "to_host": 0}
    assert type(w.grad._data) is standin.StandInArray and type(b.grad._data) is standin.StandInArray
