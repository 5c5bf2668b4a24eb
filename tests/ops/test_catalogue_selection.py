"""Sorting, selection, scatters and lookups of the everyday catalogue against PyTorch: ties, NaN,
indices, duplicate indices and the errors (issue 15).  Differentiable rows live in op_table.py."""
import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(15)


def ties(shape=(3, 9)):
    """Small integers as floats: many ties in every row."""
    return RNG.integers(0, 4, shape).astype(np.float64)


def both(a, grad=False):
    return cr.tensor(a, requires_grad=grad), torch.tensor(a, requires_grad=grad)


def same(c, t, exact=True):
    c = c.detach().numpy() if isinstance(c, cr.Tensor) else np.asarray(c)
    t = t.detach().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)
    assert c.shape == t.shape, (c.shape, t.shape)
    if exact:
        np.testing.assert_array_equal(c, t)
    else:
        np.testing.assert_allclose(c, t, rtol=1e-10, atol=1e-12)


# ---- sort, argsort --------------------------------------------------------------------------
@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_sort_is_stable_as_torch_stable_sort(descending, dim):
    a = ties((6, 9))
    a[1, 3] = a[4, 0] = np.nan
    c, t = both(a)
    v, i = cr.sort(c, dim=dim, descending=descending)
    tv, ti = torch.sort(t, dim=dim, descending=descending, stable=True)
    same(i, ti)
    np.testing.assert_array_equal(v.numpy(), tv.numpy())     # NaN sorts above +inf
    assert i.dtype == cr.int64
    same(c.argsort(dim, descending), torch.argsort(t, dim=dim, descending=descending, stable=True))


def test_sort_gradient_follows_the_indices_at_ties():
    a = ties((3, 7))
    c, t = both(a, grad=True)
    g = RNG.standard_normal((3, 7))
    (c.sort(1, descending=True).values * cr.tensor(g)).sum().backward()
    (torch.sort(t, dim=1, descending=True, stable=True).values * torch.tensor(g)).sum().backward()
    same(c.grad, t.grad)


def test_sort_of_a_0d_tensor_and_msort():
    v, i = cr.sort(cr.tensor(2.5))
    assert v.shape == () and v.item() == 2.5 and i.item() == 0
    a = ties((4, 3))
    same(cr.msort(cr.tensor(a)), torch.msort(torch.tensor(a)))


# ---- topk, kthvalue, median ----------------------------------------------------------------
@pytest.mark.parametrize("largest", [True, False])
def test_topk_values_match_torch_and_ties_are_taken_in_order(largest):
    a = ties((4, 8))
    c, t = both(a)
    v, i = cr.topk(c, 3, dim=1, largest=largest)
    tv, _ = torch.topk(t, 3, dim=1, largest=largest)
    same(v, tv)
    # PyTorch's tie order is unspecified; chainrule's is the stable sort's
    same(i, torch.sort(t, dim=1, descending=largest, stable=True).indices[:, :3])
    np.testing.assert_array_equal(np.take_along_axis(a, i.numpy(), 1), v.numpy())


def test_topk_indices_match_torch_without_ties_and_k_checks():
    a = RNG.standard_normal((3, 6))
    c, t = both(a)
    for kw in ({}, {"largest": False}, {"dim": 0}):
        same(cr.topk(c, 2, **kw).indices, torch.topk(t, 2, **kw).indices)
    with pytest.raises(IndexError, match="k"):
        cr.topk(c, 7)
    assert cr.topk(c, 0).values.shape == (3, 0)


def test_kthvalue_values_match_torch_with_ties():
    a = ties((5, 7))
    c, t = both(a)
    for k in (1, 3, 7):
        for keepdim in (False, True):
            v, i = cr.kthvalue(c, k, 1, keepdim)
            tv, _ = torch.kthvalue(t, k, 1, keepdim)
            same(v, tv)
            assert i.shape == tuple(tv.shape)
    with pytest.raises(IndexError):
        cr.kthvalue(c, 0)


def test_median_along_a_dim_matches_torch_values_and_indices():
    a = ties((5, 8))
    a[2, 5] = np.nan
    for dim in (0, 1):
        v, i = cr.median(cr.tensor(a), dim)
        tv, ti = torch.median(torch.tensor(a), dim)
        np.testing.assert_array_equal(v.numpy(), tv.numpy())
        same(i, ti)


def test_median_is_the_lower_median_and_shares_its_gradient_like_torch():
    for values in ([2.0, 1.0, 2.0, 3.0, 2.0], [4.0, 1.0, 3.0, 2.0], [1.0, np.nan, 0.0, np.nan]):
        c, t = both(np.array(values), grad=True)
        m, tm = c.median(), t.median()
        np.testing.assert_array_equal(m.detach().numpy(), tm.detach().numpy())
        m.backward()
        tm.backward()
        same(c.grad, t.grad, exact=False)
    c, t = both(ties((4, 6)), grad=True)
    c.median(1).values.sum().backward()
    t.median(1).values.sum().backward()
    same(c.grad, t.grad)


# ---- quantile ---------------------------------------------------------------------------------
@pytest.mark.parametrize("interpolation", ["linear", "lower", "higher", "midpoint", "nearest"])
def test_quantile_matches_torch(interpolation):
    a = RNG.standard_normal((4, 5))
    a[1, 2] = np.nan
    q = np.array([0.0, 0.125, 0.5, 0.625, 1.0])
    for dim, keepdim in [(None, False), (None, True), (1, False), (0, True), (-1, True)]:
        for qq in (0.3, q):
            cq = qq if isinstance(qq, float) else cr.tensor(qq)
            tq = qq if isinstance(qq, float) else torch.tensor(qq)
            got = cr.quantile(cr.tensor(a), cq, dim, keepdim, interpolation=interpolation)
            want = torch.quantile(torch.tensor(a), tq, dim, keepdim, interpolation=interpolation)
            np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12, atol=1e-12)
            assert got.shape == tuple(want.shape)


def test_quantile_gradient_with_ties_matches_torch():
    c, t = both(np.array([2.0, 1.0, 2.0, 3.0, 2.0, 0.0]), grad=True)
    cr.quantile(c, cr.tensor([0.3, 0.5, 0.9], dtype=cr.float64)).sum().backward()
    torch.quantile(t, torch.tensor([0.3, 0.5, 0.9], dtype=torch.float64)).sum().backward()
    same(c.grad, t.grad, exact=False)


def test_quantile_errors():
    x = cr.tensor([1.0, 2.0])
    with pytest.raises(ValueError, match="range"):
        cr.quantile(x, 1.5)
    with pytest.raises(TypeError, match="float"):
        cr.quantile(cr.tensor([1, 2]), 0.5)
    with pytest.raises(ValueError, match="interpolation"):
        cr.quantile(x, 0.5, interpolation="cubic")


# ---- unique, searchsorted --------------------------------------------------------------------
def test_unique_matches_torch():
    a = RNG.integers(0, 4, (3, 4))
    c, t = both(a)
    for kw in ({}, {"return_inverse": True}, {"return_counts": True},
               {"return_inverse": True, "return_counts": True}):
        got, want = cr.unique(c, **kw), torch.unique(t, **kw)
        for g, w in zip(got if isinstance(got, tuple) else (got,),
                        want if isinstance(want, tuple) else (want,)):
            same(g, w)
    rows = np.array([[1, 2], [0, 5], [1, 2], [0, 5], [0, 1]])
    for dim in (0, 1):
        got = cr.unique(cr.tensor(rows), dim=dim, return_inverse=True, return_counts=True)
        want = torch.unique(torch.tensor(rows), dim=dim, return_inverse=True, return_counts=True)
        for g, w in zip(got, want):
            same(g, w)


def test_searchsorted_matches_torch():
    seq = np.array([[1.0, 3, 3, 5, 9], [2, 4, 6, 8, 10]])
    vals = np.array([[3.0, 0, 9.5], [6, 6, 11]])
    for kw in ({}, {"right": True}, {"side": "right"}, {"side": "left"}, {"out_int32": True}):
        same(cr.searchsorted(cr.tensor(seq), cr.tensor(vals), **kw),
             torch.searchsorted(torch.tensor(seq), torch.tensor(vals), **kw))
        same(cr.searchsorted(cr.tensor(seq[0]), cr.tensor(vals), **kw),
             torch.searchsorted(torch.tensor(seq[0]), torch.tensor(vals), **kw))
    same(cr.searchsorted(cr.tensor(seq[0]), 3.0), torch.searchsorted(torch.tensor(seq[0]), 3.0))
    unsorted = np.array([5.0, 1.0, 3.0])
    sorter = np.argsort(unsorted)
    same(cr.searchsorted(cr.tensor(unsorted), cr.tensor([2.0, 4.0]), sorter=cr.tensor(sorter)),
         torch.searchsorted(torch.tensor(unsorted), torch.tensor([2.0, 4.0]),
                            sorter=torch.tensor(sorter)))
    with pytest.raises(ValueError, match="side"):
        cr.searchsorted(cr.tensor(seq[0]), 1.0, right=True, side="left")


# ---- scatters and lookups --------------------------------------------------------------------
@pytest.mark.filterwarnings("ignore:The reduce argument of torch.scatter")
def test_scatter_add_and_index_add_accumulate_repeated_indices_like_torch():
    a, s = RNG.standard_normal((3, 4)), RNG.standard_normal((5, 4))
    idx = np.array([[0, 1, 2, 0], [0, 0, 2, 1], [2, 2, 2, 2], [1, 0, 0, 0], [0, 1, 1, 1]])
    (c, t), (cs, ts) = both(a, True), both(s, True)
    g = RNG.standard_normal((3, 4))
    (cr.scatter_add(c, 0, cr.tensor(idx), cs) * cr.tensor(g)).sum().backward()
    (torch.scatter_add(t, 0, torch.tensor(idx), ts) * torch.tensor(g)).sum().backward()
    same(c.grad, t.grad, exact=False)
    same(cs.grad, ts.grad, exact=False)
    ii = np.array([2, 0, 2, 2, 1])
    same(cr.index_add(cr.tensor(a), 0, cr.tensor(ii), cr.tensor(s), alpha=-0.5),
         torch.index_add(torch.tensor(a), 0, torch.tensor(ii), torch.tensor(s), alpha=-0.5),
         exact=False)
    same(cr.tensor(a).scatter(0, cr.tensor(idx[:2]), cr.tensor(s[:2]), reduce="add"),
         torch.tensor(a).scatter(0, torch.tensor(idx[:2]), torch.tensor(s[:2]), reduce="add"),
         exact=False)
    same(cr.tensor(a).scatter(1, cr.tensor([[0, 0]]), 2.0, reduce="multiply"),
         torch.tensor(a).scatter(1, torch.tensor([[0, 0]]), 2.0, reduce="multiply"), exact=False)


def test_scatter_checks_its_index():
    x = cr.zeros(3, 4)
    with pytest.raises(IndexError, match="out of range"):
        x.scatter(1, cr.tensor([[4]]), 1.0)
    with pytest.raises(IndexError, match="out of range"):
        x.scatter(1, cr.tensor([[-1]]), 1.0)
    with pytest.raises(TypeError, match="int64"):
        x.scatter(1, cr.tensor([[0.0]]), 1.0)
    with pytest.raises(ValueError, match="dimensions"):
        x.scatter(1, cr.tensor([0]), 1.0)
    with pytest.raises(TypeError, match="dtype"):
        x.scatter(1, cr.tensor([[0]]), cr.ones(1, 1, dtype=cr.float64))
    with pytest.raises(IndexError):
        cr.index_add(x, 0, cr.tensor([3]), cr.ones(1, 4))
    with pytest.raises(ValueError, match="source"):
        cr.index_add(x, 0, cr.tensor([0, 1]), cr.ones(1, 4))


def test_nonzero_argwhere_and_masked_select_match_torch():
    a = np.array([[0.0, 1.5, 0.0], [2.0, 0.0, -1.0]])
    c, t = both(a)
    same(cr.nonzero(c), torch.nonzero(t))
    same(c.argwhere(), t.argwhere())
    for g, w in zip(cr.nonzero(c, as_tuple=True), torch.nonzero(t, as_tuple=True)):
        same(g, w)
    for v in (0.0, 3.0):
        same(cr.nonzero(cr.tensor(v)), torch.nonzero(torch.tensor(v)))
        same(cr.nonzero(cr.tensor(v), as_tuple=True)[0],
             torch.nonzero(torch.tensor(v), as_tuple=True)[0])
    mask = np.array([[True], [False]])
    same(cr.masked_select(c, cr.tensor(mask)), torch.masked_select(t, torch.tensor(mask)))
    with pytest.raises(TypeError, match="bool"):
        cr.masked_select(c, cr.tensor([1, 0, 1]))
    with pytest.raises(ValueError, match="broadcast"):
        cr.masked_select(c, cr.tensor([True, False]))


def test_take_along_dim_matches_torch():
    a = RNG.standard_normal((3, 4))
    c, t = both(a)
    for idx, dim in [([[0], [3], [-2]], 1), ([[2, 0, 1, 1]], 0), ([[1, -1]], 1)]:
        same(cr.take_along_dim(c, cr.tensor(idx), dim), torch.take_along_dim(t, torch.tensor(idx),
                                                                           dim))
    same(cr.take_along_dim(c, cr.tensor([[11, 0]])), torch.take_along_dim(t, torch.tensor([[11, 0]])))
    with pytest.raises(IndexError):
        cr.take_along_dim(c, cr.tensor([-1]))
    with pytest.raises(ValueError, match="dimensions"):
        cr.take_along_dim(c, cr.tensor([0]), 1)
