"""Products, diagonals, scans and shape ops of the everyday catalogue against PyTorch: argument
forms, edge cases (0-d, empty pieces, offsets, dtypes), views versus copies and the errors."""
import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(150)


def same(c, t):
    c = c.detach().numpy() if isinstance(c, cr.Tensor) else np.asarray(c)
    t = t.detach().numpy()
    assert c.shape == t.shape, (c.shape, t.shape)
    assert c.dtype == t.dtype, (c.dtype, t.dtype)
    np.testing.assert_allclose(c, t, rtol=1e-12, atol=1e-12)


def run(fn, *arrays):
    """fn on chainrule and on torch tensors of the same arrays; compare every output."""
    got = fn(cr, *[cr.tensor(a) for a in arrays])
    want = fn(torch, *[torch.tensor(a) for a in arrays])
    got = got if isinstance(got, (tuple, list)) else (got,)
    want = want if isinstance(want, (tuple, list)) else (want,)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        same(g, w)


# ---- products ------------------------------------------------------------------------------
def test_products_check_shapes_and_dtypes_as_torch():
    a, b = cr.ones(2, 3), cr.ones(3, 4)
    assert cr.mm(a, b).shape == (2, 4)
    with pytest.raises(ValueError, match="2-D"):
        cr.mm(a, cr.ones(3))
    with pytest.raises(TypeError, match="dtype"):
        cr.mm(a, b.double())
    with pytest.raises(ValueError, match="batch"):
        cr.bmm(cr.ones(2, 2, 3), cr.ones(3, 3, 2))
    with pytest.raises(ValueError, match="1-D"):
        cr.dot(cr.ones(2, 2), cr.ones(2))
    with pytest.raises(ValueError, match="size"):
        cr.dot(cr.ones(3), cr.ones(2))
    run(lambda m, x, y: m.dot(x, y), np.array([1, 2, 3]), np.array([4, 5, 6]))
    run(lambda m, x, v: x.mv(v), RNG.standard_normal((3, 2)), RNG.standard_normal(2))
    run(lambda m, x, y: m.outer(x, y), np.array([1, 2]), np.array([3, 4, 5]))


@pytest.mark.parametrize("eq, shapes", [
    ("ij", [(3, 4)]), ("ji", [(3, 4)]), ("ii", [(3, 3)]), ("ii->i", [(3, 3)]),
    ("i,i", [(4,), (4,)]), ("i,j", [(2,), (3,)]), ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("...ij,...jk", [(2, 1, 3, 4), (5, 4, 2)]), ("b...,b...->b", [(2, 3, 4), (2, 3, 4)]),
    ("ab,ab->ab", [(1, 3), (2, 3)]), ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]),
    ("iij->ji", [(3, 3, 2)]), ("Ab,bA->", [(2, 3), (3, 2)]), (" i j , j k -> i k ", [(2, 3), (3, 2)]),
])
def test_einsum_matches_torch(eq, shapes):
    arrays = [RNG.standard_normal(s) for s in shapes]
    run(lambda m, *xs: m.einsum(eq, *xs), *arrays)
    run(lambda m, *xs: m.einsum(eq, list(xs)), *arrays)


def test_einsum_sublist_form_and_errors():
    a, b = RNG.standard_normal((2, 3)), RNG.standard_normal((3, 4))
    run(lambda m, x, y: m.einsum(x, [0, 1], y, [1, 2], [0, 2]), a, b)
    run(lambda m, x: m.einsum(x, [Ellipsis, 0], [0, Ellipsis]), a)
    with pytest.raises(ValueError, match="operands"):
        cr.einsum("ij,jk", cr.tensor(a))
    with pytest.raises(ValueError, match="subscripts"):
        cr.einsum("ijk", cr.tensor(a))
    with pytest.raises(ValueError, match="sizes"):
        cr.einsum("ij,ij->", cr.tensor(a), cr.tensor(b))
    with pytest.raises(ValueError, match="output"):
        cr.einsum("ij->k", cr.tensor(a))


def test_tensordot_forms_match_torch():
    a, b = RNG.standard_normal((3, 4, 5)), RNG.standard_normal((4, 5, 2))
    for dims in (2, 0, ([1, 2], [0, 1]), ([2, 1], [1, 0]), ([1], [0])):
        run(lambda m, x, y, dims=dims: m.tensordot(x, y, dims=dims), a, b)
    with pytest.raises(ValueError, match="match"):
        cr.tensordot(cr.tensor(a), cr.tensor(b), dims=([0], [0]))


# ---- diagonals and triangles -----------------------------------------------------------------
@pytest.mark.parametrize("offset", [-4, -1, 0, 2, 5])
def test_diagonals_and_triangles_match_torch(offset):
    m2, b3 = RNG.standard_normal((4, 5)), RNG.standard_normal((2, 3, 4))
    run(lambda m, x: m.diag(x, offset), m2)
    run(lambda m, x: m.diag(x, offset), m2[0])
    run(lambda m, x: m.diagonal(x, offset), m2)
    run(lambda m, x: x.diagonal(offset, 2, 0), b3)
    run(lambda m, x: m.tril(x, offset), b3)
    run(lambda m, x: x.triu(offset), m2)
    run(lambda m, x: m.tril(x, offset), np.arange(12).reshape(3, 4))


def test_trace_and_diag_errors():
    run(lambda m, x: m.trace(x), np.arange(6).reshape(2, 3))        # int64, as torch
    run(lambda m, x: x.trace(), RNG.standard_normal((3, 3)))
    with pytest.raises(ValueError):
        cr.diag(cr.ones(2, 2, 2))
    with pytest.raises(ValueError, match="identical"):
        cr.diagonal(cr.ones(2, 2), 0, 1, 1)
    with pytest.raises(ValueError, match="2 dimensions"):
        cr.tril(cr.ones(3))


# ---- scans -------------------------------------------------------------------------------------
def test_scans_follow_torch_dtypes_and_forms():
    ints = np.array([[1, 2, 3], [4, 5, 6]], dtype=np.int32)
    run(lambda m, x: m.cumsum(x, 1), ints)                            # int32 sums as int64
    run(lambda m, x: m.cumsum(x, 0), np.array([True, False, True]))
    run(lambda m, x: x.cumprod(0), ints)
    run(lambda m, x: m.cumsum(x, 0, dtype=m.float64), ints)
    run(lambda m, x: m.cumsum(x, 0), np.array(2.5))                    # 0-d
    run(lambda m, x: m.cumprod(x, -1), np.array([[2.0, 0.0, 3.0, 0.0]]))
    run(lambda m, x: m.diff(x, 2, 0), ints)
    run(lambda m, x: m.diff(x, append=x[:, :1]), ints)
    run(lambda m, x: m.diff(x), np.array([True, False, False, True]))
    run(lambda m, x: m.diff(x, n=0), ints)
    with pytest.raises(IndexError):
        cr.cumsum(cr.ones(2, 3), 2)


def test_cumprod_gradient_with_zeros_matches_torch_to_second_order():
    a = np.array([[2.0, 0.0, 3.0, 0.0, 1.5], [0.0, 1.0, 2.0, -1.0, 0.5]])
    c = cr.tensor(a, requires_grad=True)
    t = torch.tensor(a, requires_grad=True)
    g = RNG.standard_normal(a.shape)
    gc, = cr.autograd.grad((cr.cumprod(c, 1) * cr.tensor(g)).sum(), c, create_graph=True)
    gt, = torch.autograd.grad((torch.cumprod(t, 1) * torch.tensor(g)).sum(), t, create_graph=True)
    same(gc, gt)
    hc, = cr.autograd.grad((gc * gc).sum(), c)
    ht, = torch.autograd.grad((gt * gt).sum(), t)
    same(hc, ht)


# ---- shape ops --------------------------------------------------------------------------------
def test_repeat_tile_and_repeat_interleave_match_torch():
    x = RNG.standard_normal((2, 3))
    run(lambda m, v: v.repeat(2, 1, 2), x)
    run(lambda m, v: v.repeat((1, 3)), x)
    run(lambda m, v: v.repeat(0, 2), x)
    run(lambda m, v: m.tile(v, (2,)), x)
    run(lambda m, v: v.tile((3, 1, 2)), x)
    run(lambda m, v: m.repeat_interleave(v, 2), x)
    run(lambda m, v: v.repeat_interleave(m.tensor([1, 0, 3]), dim=1), x)
    run(lambda m, v: m.repeat_interleave(v, m.tensor([2]), dim=0), x)
    run(lambda m, r: m.repeat_interleave(r), np.array([2, 0, 1]))
    with pytest.raises(ValueError):
        cr.tensor(x).repeat(2)
    with pytest.raises(ValueError):
        cr.repeat_interleave(cr.tensor(x), cr.tensor([1, 2]), dim=1)


def test_flip_roll_movedim_swapaxes_match_torch():
    x = RNG.standard_normal((2, 3, 4))
    run(lambda m, v: m.flip(v, (0, -1)), x)
    run(lambda m, v: v.flip(1), x)
    run(lambda m, v: m.fliplr(v), x)
    run(lambda m, v: m.flipud(v), x)
    run(lambda m, v: m.roll(v, 5), x)
    run(lambda m, v: m.roll(v, (1, -1), (2, 0)), x)
    run(lambda m, v: v.roll(-2, 1), x)
    run(lambda m, v: m.movedim(v, -1, 0), x)
    run(lambda m, v: m.movedim(v, (2, 0), (0, 1)), x)
    run(lambda m, v: m.moveaxis(v, 1, 2), x)
    run(lambda m, v: m.swapaxes(v, 0, -1), x)
    run(lambda m, v: v.swapdims(1, 2), x)
    with pytest.raises(ValueError, match="align"):
        cr.roll(cr.tensor(x), (1, 2), 0)


def test_flip_copies_and_narrow_is_a_view():
    x = cr.arange(6.0).reshape(2, 3)
    f = x.flip(1)
    f += 10
    assert x.tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
    n = x.narrow(1, 1, 2)
    n += 10
    assert x.tolist() == [[0.0, 11.0, 12.0], [3.0, 14.0, 15.0]]


def test_narrow_unflatten_tensor_split_stacks_match_torch():
    x = RNG.standard_normal((3, 7))
    run(lambda m, v: m.narrow(v, 1, 2, 3), x)
    run(lambda m, v: v.narrow(0, -2, 2), x)
    run(lambda m, v: m.unflatten(v, 1, (7, 1)), x)
    run(lambda m, v: v.unflatten(-1, (1, -1)), x)
    for sections in (3, 7, 9, [1, 5], [0, 2, 2, 10], [-3]):
        run(lambda m, v, s=sections: m.tensor_split(v, s, dim=1), x)
    run(lambda m, v: m.tensor_split(v, m.tensor([1, 2]), 0), x)
    run(lambda m, v: m.tensor_split(v, m.tensor(2)), x)
    run(lambda m, a, b: m.hstack([a, b]), x, x[:, :2])
    run(lambda m, a, b: m.vstack((a, b)), x[0], x[1])
    run(lambda m, a, b: m.hstack((a, b)), np.array(1.0), np.array([2.0, 3.0]))
    run(lambda m, a, b: m.vstack([a, b]), np.array(1.0), np.array(2.0))
    with pytest.raises(ValueError):
        cr.narrow(cr.tensor(x), 1, 5, 3)
    with pytest.raises(ValueError):
        cr.unflatten(cr.tensor(x), 1, (2, 4))
