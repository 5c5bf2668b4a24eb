"""The catalogue's functions that the op table does not cover (indices, counts, logic, in-place
forms, integer division, create_graph through the new ops) on the "cuda" device played by the
CPU stand-in for CuPy: the results equal the CPU's and stay on the device."""
import numpy as np
import pytest

import chainrule as cr
from chainrule.backend import cuda as cuda_backend

RNG = np.random.default_rng(5)
TIES = RNG.integers(0, 4, (3, 6)).astype(np.float64)
TIES[1, 2] = np.nan
INTS = np.array([[7, -7, 5], [0, 9, -3]])
SEQ = np.array([[1.0, 3, 3, 5], [2, 4, 6, 8]])

CASES = [
    ("sort", lambda x: tuple(cr.sort(x, 1, descending=True)), [TIES]),
    ("argsort", lambda x: x.argsort(0), [TIES]),
    ("topk", lambda x: tuple(x.topk(2)), [TIES]),
    ("kthvalue", lambda x: tuple(cr.kthvalue(x, 3, 1, True)), [TIES]),
    ("median.dim", lambda x: tuple(x.median(1)), [TIES]),
    ("median", lambda x: x.median(), [TIES[[0, 2]]]),
    ("quantile.nan", lambda x: cr.quantile(x, 0.4, 1), [TIES]),
    ("unique", lambda x: cr.unique(x, return_inverse=True, return_counts=True), [INTS]),
    ("unique.dim", lambda x: cr.unique(x, dim=1, return_inverse=True), [INTS]),
    ("searchsorted", lambda s, v: cr.searchsorted(s, v, right=True), [SEQ, SEQ[:, :2] + 0.5]),
    ("searchsorted.1d", lambda s, v: cr.searchsorted(s, v), [SEQ[0], SEQ]),
    ("nonzero", lambda x: cr.nonzero(x), [INTS]),
    ("nonzero.tuple", lambda x: x.nonzero(as_tuple=True), [INTS]),
    ("count_nonzero", lambda x: cr.count_nonzero(x, (0, 1)), [INTS]),
    ("logical_xor", lambda a, b: cr.logical_xor(a, b), [INTS, INTS[::-1]]),
    ("any.dims", lambda x: x.any(dim=(0, 1), keepdim=True), [INTS]),
    ("all.dim", lambda x: cr.all(x, -1), [INTS]),
    ("floor_divide.int", lambda a: a // 2, [INTS]),
    ("remainder.int", lambda a: a % -3, [INTS]),
    ("trunc_div.int", lambda a: cr.div(a, 4, rounding_mode="trunc"), [INTS]),
    ("cumsum.int", lambda a: a.cumsum(1), [INTS]),
    ("trace.int", lambda a: cr.trace(a), [INTS]),
    ("repeat_interleave.counts", lambda r: cr.repeat_interleave(r), [np.array([2, 0, 3])]),
    ("repeat_interleave.tensor", lambda x, r: x.repeat_interleave(r, dim=0),
     [TIES[:3], np.array([1, 0, 2])]),
    ("new_full", lambda x: x.new_full((2, 2), 3.5), [INTS]),
    ("nan_to_num", lambda x: x.nan_to_num(nan=-1.0), [TIES]),
    ("erf.int", lambda x: cr.erf(x), [INTS]),
]


@pytest.fixture(scope="module")
def standin():
    with cuda_backend.use_standin() as ns:
        yield ns


def _outs(r):
    return r if isinstance(r, tuple) else (r,)


@pytest.mark.parametrize("name, fn, arrays", CASES, ids=[c[0] for c in CASES])
def test_catalogue_function_on_the_device_equals_the_cpu(standin, name, fn, arrays):
    got = _outs(fn(*[cr.tensor(a, device="cuda") for a in arrays]))
    want = _outs(fn(*[cr.tensor(a) for a in arrays]))
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.device == cr.device("cuda"), name
        assert g.dtype == w.dtype, name
        np.testing.assert_array_equal(g.cpu().numpy(), w.numpy(), err_msg=name)


@pytest.mark.parametrize("name", ["erf_", "clamp_min_", "remainder_", "lerp_", "tril_",
                                  "scatter_", "index_add_", "cumprod_", "logical_not_"])
def test_inplace_on_the_device_equals_the_cpu(standin, name):
    args = {"clamp_min_": (0.2,), "remainder_": (0.7,), "tril_": (-1,), "logical_not_": (),
            "scatter_": (1, np.array([[0], [2], [1]]), 9.0), "cumprod_": (1,), "erf_": (),
            "index_add_": (0, np.array([2, 2]), RNG.standard_normal((2, 3))),
            "lerp_": (RNG.standard_normal((3, 3)), 0.7)}[name]
    x = RNG.standard_normal((3, 3))
    results = []
    for device in ("cpu", "cuda"):
        t = cr.tensor(x, device=device)
        a = [cr.tensor(v, device=device) if isinstance(v, np.ndarray) else v for v in args]
        getattr(t, name)(*a)
        results.append(t.cpu().numpy())
    np.testing.assert_array_equal(results[1], results[0])


@pytest.mark.parametrize("fn", [
    lambda x: cr.cumprod(x, 1), lambda x: cr.sort(x, 1).values * x,
    lambda x: cr.einsum("ij,jk->ik", x, x.mT), lambda x: cr.erf(x) * cr.sinh(x),
    lambda x: cr.atan2(x, x.flip(0)), lambda x: cr.quantile(x, 0.3, 0),
    lambda x: cr.scatter_add(x, 0, cr.tensor([[0, 0, 1]], device=x.device), x[1:]),
    lambda x: cr.roll(x, 1, 0) * cr.tril(x), lambda x: x % 0.7,
], ids=["cumprod", "sort", "einsum", "erf_sinh", "atan2", "quantile", "scatter_add", "roll_tril",
        "remainder"])
def test_second_derivatives_on_the_device_equal_the_cpu(standin, fn):
    x = RNG.standard_normal((3, 3))
    x[1, 1] = 0.0                   # a zero for cumprod's exact rule
    results = []
    for device in ("cpu", "cuda"):
        t = cr.tensor(x, device=device, requires_grad=True)
        g, = cr.autograd.grad(fn(t).sum(), t, create_graph=True)
        h, = cr.autograd.grad((g * g * t).sum(), t)
        results.append((g.detach().cpu().numpy(), h.cpu().numpy()))
    for c, d in zip(results[0], results[1]):
        np.testing.assert_allclose(d, c, rtol=1e-10, atol=1e-12)
