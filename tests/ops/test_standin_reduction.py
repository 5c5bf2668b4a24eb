"""Reductions, softmax, indexing, comparisons and casts on the "cuda" device played by the CPU
stand-in for CuPy: forward values, first-order gradients and a few second-order gradients equal
the CPU's, and the hot ones make no host↔device copy."""
import numpy as np
import pytest

import chainrule as cr
from chainrule.backend import cuda as cuda_backend, namespace_of, standin
from chainrule.errors import DeviceError


@pytest.fixture(scope="module")
def ns():
    with cuda_backend.use_standin() as namespace:
        yield namespace


def _rng():
    return np.random.default_rng(7)


def _x(*shape):
    return _rng().standard_normal(shape)


def _ties():
    return np.array([[1.0, 3.0, 3.0, -1.0], [2.0, 2.0, 2.0, 2.0], [0.5, -4.0, 0.5, -4.0]])


def _zeros():
    a = _rng().uniform(0.5, 1.5, (3, 4))
    a[0, 1] = a[1, 0] = a[1, 3] = 0.0
    return a


def _constant_rows():
    a = _x(3, 4)
    a[1] = 2.5
    return a


IDX = np.array([[0, 0, 3], [1, 2, 1], [3, 3, 3]])
MASK = np.array([[True, False, True, True], [False, False, True, False],
                 [True, True, False, False]])

# name, function of the tensors, the input arrays (float arrays are differentiated)
CASES = [
    ("sum", lambda x: x.sum(), [_x(3, 4)]),
    ("sum.dim_keepdim", lambda x: cr.sum(x, (0, -1), keepdim=True), [_x(2, 3, 4)]),
    ("sum.dtype", lambda x: x.sum(1, dtype=cr.float32), [_x(3, 4)]),
    ("sum.int", lambda i: i.sum(0), [IDX]),
    ("mean", lambda x: x.mean(), [_x(3, 4)]),
    ("mean.dim", lambda x: x.mean(-1, keepdim=True), [_x(2, 3, 4)]),
    ("var", lambda x: x.var(1), [_x(3, 4)]),
    ("var.correction0", lambda x: cr.var(x, correction=0), [_x(5)]),
    ("std", lambda x: x.std(), [_x(3, 4)]),
    ("std.constant_rows", lambda x: x.std(1, keepdim=True), [_constant_rows()]),
    ("prod", lambda x: x.prod(1), [_x(3, 4)]),
    ("prod.zeros", lambda x: x.prod(1), [_zeros()]),
    ("prod.zeros_all", lambda x: x.prod(), [_zeros()]),
    ("amax.ties", lambda x: x.amax(1), [_ties()]),
    ("amin.dims", lambda x: cr.amin(x, (0, 1), keepdim=True), [_ties()]),
    ("max", lambda x: x.max(), [_ties()]),
    ("min", lambda x: cr.min(x), [_x(3, 4)]),
    ("max.dim", lambda x: tuple(x.max(1)), [_ties()]),
    ("min.dim_keepdim", lambda x: tuple(cr.min(x, 0, keepdim=True)), [_ties()]),
    ("max.0d", lambda x: tuple(x.max(0)), [np.array(1.5)]),
    ("argmax", lambda x: x.argmax(), [_x(3, 4)]),
    ("argmax.dim", lambda x: cr.argmax(x, 1, keepdim=True), [_ties()]),
    ("argmin.dim", lambda x: x.argmin(0), [_x(3, 4)]),
    ("logsumexp", lambda x: x.logsumexp(-1), [_x(3, 4)]),
    ("logsumexp.minus_inf_row", lambda x: cr.logsumexp(x, 1),
     [np.array([[-np.inf, 0.5, -np.inf], [0.0, 1.0, 2.0]])]),
    ("norm", lambda x: x.norm(), [_x(3, 4)]),
    ("norm.at_zero", lambda x: x.norm(dim=1), [np.vstack([np.zeros(4), _x(4)])]),
    ("norm.p1", lambda x: x.norm(p=1, dim=0), [_x(3, 4)]),
    ("norm.p3", lambda x: x.norm(p=3), [_x(3, 4)]),
    ("norm.inf", lambda x: x.norm(p=float("inf"), dim=1), [_ties()]),
    ("softmax", lambda x: x.softmax(-1), [_x(3, 4)]),
    ("softmax.default_dim", lambda x: cr.softmax(x), [_x(2, 3, 4)]),
    ("log_softmax", lambda x: cr.log_softmax(x, 1), [_x(3, 4)]),
    ("softmax.extremes", lambda x: cr.softmax(x, 0), [np.array([1.7e308, 0.0, -1.7e308])]),
    ("gather", lambda x, i: x.gather(1, i), [_x(3, 4), IDX]),
    ("gather.smaller", lambda x, i: cr.gather(x, 0, i), [_x(3, 4), np.array([[2, 0], [0, 0]])]),
    ("index.int", lambda x: x[1], [_x(3, 4)]),
    ("index.slices", lambda x: x[::2, 1:], [_x(5, 3)]),
    ("index.reversed", lambda x: x[..., ::-1], [_x(3, 4)]),
    ("index.none_ellipsis", lambda x: x[None, ..., 0:2, -1], [_x(2, 3, 4)]),
    ("index.element", lambda x: x[1, 2], [_x(3, 4)]),
    ("index.int_array_repeats", lambda x, i: x[i], [_x(4, 3), np.array([0, 2, 0, 0, 3])]),
    ("index.pair", lambda x, i: x[i, i], [_x(4, 4), np.array([0, 1, 1, 3])]),
    ("index.bool_mask", lambda x, m: x[m], [_x(3, 4), MASK]),
    ("index.list", lambda x: x[[2, 0, 2]], [_x(3, 4)]),
    ("index_select", lambda x, i: x.index_select(1, i), [_x(3, 4), np.array([3, 0, 3])]),
    ("masked_fill", lambda x, m: x.masked_fill(m, -1.0), [_x(3, 4), MASK]),
    ("clone", lambda x: x.clone(), [_x(3, 4)]),
    ("to.float32", lambda x: x.to(cr.float32), [_x(3, 4)]),
    ("to.float32_and_back", lambda x: x.float().double() * 2, [_x(3, 4)]),
    ("to.long", lambda x: x.long(), [_x(3, 4) * 3]),
    ("eq", lambda a, b: a == b, [_ties(), _ties()[::-1].copy()]),
    ("ne.scalar", lambda a: a != 2.0, [_ties()]),
    ("lt", lambda a, b: a < b, [_x(3, 4), _x(4)]),
    ("le", lambda a, b: cr.le(a, b), [_ties(), _ties()[:, ::-1].copy()]),
    ("gt", lambda a: cr.gt(a, 0.5), [_ties()]),
    ("ge", lambda a, b: a >= b, [_ties(), _ties()[0]]),
    ("logic", lambda a, b: ((a > 0) & (b > 0)) | ~(a < b), [_x(3, 4), _x(3, 4)]),
    ("any_all", lambda a: (cr.any(a > 2, dim=1), (a > -5).all(), cr.all(a > 0, 0, True)),
     [_ties()]),
    ("isclose", lambda a, b: cr.isclose(a, b, atol=0.6), [_ties(), _ties()[::-1].copy()]),
]


def _tensors(arrays, device_ns):
    out = []
    for a in arrays:
        d = a if device_ns is None else device_ns.asarray(a)
        out.append(cr.Tensor(d, requires_grad=a.dtype.kind == "f"))
    return out


def _ones(t):
    """ȳ = 1 on t's own device (the seed of a backward)."""
    return cr.Tensor(namespace_of(t._data).ones(t.shape, dtype=t.dtype))


def _host(t):
    d = t.detach()._data
    return d if type(d) is np.ndarray else d.get()


def _outputs(out):
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _check_same(cpu, dev, what):
    assert type(dev._data) is standin.StandInArray, f"{what} left the device"
    assert dev.dtype == cpu.dtype and dev.shape == cpu.shape, what
    np.testing.assert_allclose(_host(dev), _host(cpu), rtol=1e-12, atol=1e-15, err_msg=what)


@pytest.mark.parametrize("name, fn, arrays", CASES, ids=[c[0] for c in CASES])
def test_forward_and_backward_on_the_standin_equal_the_cpu(ns, name, fn, arrays):
    xs_c, xs_d = _tensors(arrays, None), _tensors(arrays, ns)
    outs_c, outs_d = _outputs(fn(*xs_c)), _outputs(fn(*xs_d))
    assert len(outs_c) == len(outs_d)
    for k, (c, d) in enumerate(zip(outs_c, outs_d)):
        _check_same(c, d, f"{name} output {k}")
    diff = [k for k, c in enumerate(outs_c) if c.requires_grad]
    if not diff:
        return
    ups = [_rng().standard_normal(outs_c[k].shape).astype(outs_c[k].dtype) for k in diff]
    cr.autograd.backward([outs_c[k] for k in diff], [cr.Tensor(u) for u in ups])
    cr.autograd.backward([outs_d[k] for k in diff], [cr.Tensor(ns.asarray(u)) for u in ups])
    for i, (c, d) in enumerate(zip(xs_c, xs_d)):
        if c.requires_grad:
            assert (c.grad is None) == (d.grad is None), f"{name}: gradient of input {i}"
            if c.grad is not None:
                _check_same(c.grad, d.grad, f"{name} gradient of input {i}")


SECOND_ORDER = [
    ("softmax", lambda x: cr.softmax(x, 1) * cr.softmax(x, 1).detach(), _x(3, 4)),
    ("log_softmax", lambda x: cr.log_softmax(x, 0) ** 2, _x(3, 4)),
    ("logsumexp", lambda x: x.logsumexp(1) ** 2, _x(3, 4)),
    ("std", lambda x: x.std(0), _x(3, 4)),
    ("prod.zeros", lambda x: x.prod(1), _zeros()),
    ("norm", lambda x: x.norm(dim=1), _x(3, 4)),
    ("max.dim", lambda x: x.max(1).values ** 3, _ties()),
    ("gather", lambda x: (x.gather(1, cr.tensor(IDX)) ** 2), _x(3, 4)),
    ("index", lambda x: x[[0, 2, 0]] ** 3, _x(3, 4)),
    ("to", lambda x: x.float().double() ** 3, _x(3, 4)),
]


@pytest.mark.parametrize("name, fn, a", SECOND_ORDER, ids=[c[0] for c in SECOND_ORDER])
def test_create_graph_double_backward_on_the_standin_equals_the_cpu(ns, name, fn, a):
    def second(x, idx_to_device):
        if idx_to_device:                 # the gather index lives on x's device
            f = (lambda t: (t.gather(1, cr.Tensor(ns.asarray(IDX))) ** 2)) if name == "gather" \
                else fn
        else:
            f = fn
        y = f(x)
        (g,) = cr.autograd.grad(y, x, _ones(y), create_graph=True)
        (g * g).backward(_ones(g))
        return g, x.grad
    x_c, = _tensors([a], None)
    x_d, = _tensors([a], ns)
    g_c, gg_c = second(x_c, False)
    g_d, gg_d = second(x_d, True)
    _check_same(g_c, g_d, f"{name} gradient")
    _check_same(gg_c, gg_d, f"{name} second-order gradient")


HOT = [
    ("softmax", lambda x: cr.softmax(x, 1)),
    ("log_softmax", lambda x: cr.log_softmax(x, -1)),
    ("logsumexp", lambda x: cr.logsumexp(x, 1)),
    ("sum", lambda x: x.sum(0)),
    ("mean", lambda x: x.mean()),
    ("max.dim", lambda x: x.max(1).values),
    ("amax", lambda x: x.amax()),
    ("std", lambda x: x.std(1)),
    ("norm", lambda x: x.norm(dim=1)),
    ("index", lambda x: x[1:, ::2]),
    ("to", lambda x: x.float()),
]


@pytest.mark.parametrize("name, fn", HOT, ids=[h[0] for h in HOT])
def test_forward_and_backward_make_no_host_copy(ns, name, fn):
    x = cr.Tensor(ns.asarray(_x(8, 6)), requires_grad=True)
    standin.reset_transfers()
    y = fn(x)
    y.backward(_ones(y), retain_graph=True)
    (y * y).backward(_ones(y))
    assert standin.transfers == {"to_device": 0, "to_host": 0}, name
    assert type(x.grad._data) is standin.StandInArray


def test_indices_move_to_the_tensors_device_and_gather_refuses_two_devices(ns):
    a = _x(3, 4)
    x_d = cr.Tensor(ns.asarray(a), requires_grad=True)
    cpu_rows = cr.tensor([2, 0])                  # as torch: a CPU index for a CUDA tensor
    y = x_d[cpu_rows]
    assert type(y._data) is standin.StandInArray
    np.testing.assert_array_equal(_host(y), a[[2, 0]])
    y.backward(_ones(y))
    np.testing.assert_array_equal(_host(x_d.grad), np.isin(np.arange(3), [0, 2])[:, None]
                                  * np.ones((3, 4)))
    with pytest.raises(DeviceError, match="gather"):
        x_d.gather(1, cr.tensor(IDX))
    with pytest.raises(DeviceError, match="eq"):
        x_d == cr.tensor(a)


def test_comparisons_to_python_bools_on_the_standin(ns):
    a = _ties()
    x_d, x_c = cr.Tensor(ns.asarray(a)), cr.tensor(a)
    assert cr.equal(x_d, cr.Tensor(ns.asarray(a))) and not cr.equal(x_d, x_d + 1)
    assert cr.allclose(x_d, x_d + 1e-9) and not cr.allclose(x_d, x_d + 1)
    assert cr.equal(x_c, x_c) == cr.equal(x_d, x_d)
