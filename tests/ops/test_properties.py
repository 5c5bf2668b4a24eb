"""Property tests over random shapes and broadcast patterns (hypothesis)."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import chainrule as cr
from chainrule.autograd.engine import unbroadcast

SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])
pairs = hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, max_side=4)
shapes = hnp.array_shapes(min_dims=0, max_dims=4, min_side=1, max_side=4)
dtypes = st.sampled_from([np.float32, np.float64])


def values(shape, dtype, seed=0, low=-2.0, high=2.0):
    return np.random.default_rng(seed).uniform(low, high, shape).astype(dtype)


def leaf(shape, dtype, seed=0, **kw):
    return cr.tensor(values(shape, dtype, seed, **kw), requires_grad=True)


def sum_to_shape(g, shape):
    """Reference for undoing broadcasting: sum leading axes, then stretched axes."""
    lead = g.ndim - len(shape)
    g = g.sum(axis=tuple(range(lead)))
    return g.sum(axis=tuple(i for i, n in enumerate(shape) if n == 1), keepdims=True) \
        if shape else g


@SETTINGS
@given(pairs, dtypes)
def test_grad_of_sum_of_product_is_the_other_factor_summed_back(bs, dtype):
    (sa, sb), out = bs.input_shapes, bs.result_shape
    a, b = leaf(sa, dtype, 1), leaf(sb, dtype, 2)
    (a * b).sum().backward()
    bb = np.broadcast_to(b.detach().numpy(), out)
    aa = np.broadcast_to(a.detach().numpy(), out)
    np.testing.assert_allclose(a.grad.numpy(), sum_to_shape(bb, sa), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(b.grad.numpy(), sum_to_shape(aa, sb), rtol=1e-5, atol=1e-5)


@SETTINGS
@given(pairs, dtypes, st.sampled_from(["add", "sub", "mul", "div", "pow", "maximum", "minimum",
                                       "where", "atan2-like"]))
def test_gradients_have_the_inputs_shape_and_dtype(bs, dtype, op):
    sa, sb = bs.input_shapes
    a, b = leaf(sa, dtype, 1, low=0.5), leaf(sb, dtype, 2, low=0.5)
    fn = {"add": lambda: a + b, "sub": lambda: a - b, "mul": lambda: a * b,
          "div": lambda: a / b, "pow": lambda: a ** b, "maximum": lambda: cr.maximum(a, b),
          "minimum": lambda: cr.minimum(a, b), "where": lambda: cr.where(a > b, a, b),
          "atan2-like": lambda: (a * b).sin() / (b.exp() + a.abs())}[op]
    y = fn()
    assert y.shape == bs.result_shape and y.dtype == dtype
    y.backward(cr.ones_like(y))
    for x in (a, b):
        assert x.grad.shape == x.shape and x.grad.dtype == x.dtype
        assert np.isfinite(x.grad.numpy()).all()


@SETTINGS
@given(pairs)
def test_unbroadcast_sums_back_to_each_shape(bs):
    g = cr.tensor(values(bs.result_shape, np.float64, 3))
    for s in bs.input_shapes:
        r = unbroadcast(g, s)
        assert r.shape == tuple(s)
        np.testing.assert_allclose(r.numpy(), sum_to_shape(g.numpy(), s), rtol=1e-12)


@SETTINGS
@given(pairs)
def test_expand_and_sum_to_are_adjoint(bs):
    """<expand(x), y> == <x, sum_to(y)> for every broadcast (the VJP of one is the other)."""
    (sa, _), out = bs.input_shapes, bs.result_shape
    x = cr.tensor(values(sa, np.float64, 4))
    y = cr.tensor(values(out, np.float64, 5))
    lhs = (x.expand(out) * y).sum().item()
    rhs = (x * unbroadcast(y, sa)).sum().item()
    assert np.isclose(lhs, rhs, rtol=1e-10, atol=1e-10)


@SETTINGS
@given(shapes, st.randoms(use_true_random=False))
def test_permute_round_trip_and_its_gradient(shape, rnd):
    perm = list(range(len(shape)))
    rnd.shuffle(perm)
    inv = list(np.argsort(perm))
    x = leaf(shape, np.float64)
    y = x.permute(*perm)
    assert y.shape == tuple(shape[p] for p in perm)
    back = y.permute(*inv)
    np.testing.assert_array_equal(back.detach().numpy(), x.detach().numpy())
    w = values(y.shape, np.float64, 7)
    (y * cr.tensor(w)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.transpose(w, inv))


@SETTINGS
@given(shapes, st.randoms(use_true_random=False))
def test_reshape_round_trip_and_its_gradient(shape, rnd):
    n = int(np.prod(shape))
    divisors = [d for d in range(1, n + 1) if n % d == 0]
    new = (rnd.choice(divisors), -1)
    x = leaf(shape, np.float32)
    y = x.reshape(new)
    assert y.numel() == n and y.reshape(shape).shape == tuple(shape)
    np.testing.assert_array_equal(y.reshape(shape).detach().numpy(), x.detach().numpy())
    w = values(y.shape, np.float32, 8)
    (y * cr.tensor(w)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), w.reshape(shape))


@SETTINGS
@given(shapes, st.data())
def test_reductions_over_any_dims(shape, data):
    ndim = len(shape)
    dims = data.draw(st.lists(st.integers(-max(ndim, 1), max(ndim, 1) - 1), min_size=1,
                              max_size=max(ndim, 1), unique_by=lambda d: d % max(ndim, 1)))
    keepdim = data.draw(st.booleans())
    xv = values(shape, np.float64, 9)
    x = cr.tensor(xv, requires_grad=True)
    axes = tuple(d % ndim for d in dims) if ndim else None
    for name, ref in [("sum", np.sum), ("mean", np.mean), ("amax", np.max), ("amin", np.min),
                      ("logsumexp", None), ("prod", np.prod)]:
        if name == "prod":   # prod takes one dim
            got = x.prod(dims[0], keepdim=keepdim)
            want = np.prod(xv, axes and axes[:1], keepdims=keepdim)
        elif ref is None:
            m = xv.max(axis=axes, keepdims=True)
            want = np.log(np.exp(xv - m).sum(axis=axes, keepdims=True)) + m
            want = want if keepdim else want.reshape(np.sum(xv, axis=axes).shape)
            got = x.logsumexp(tuple(dims), keepdim=keepdim)
        else:
            got, want = getattr(x, name)(tuple(dims), keepdim=keepdim), ref(xv, axis=axes,
                                                                               keepdims=keepdim)
        np.testing.assert_allclose(got.detach().numpy(), want, rtol=1e-12, err_msg=name)
        got.backward(cr.ones_like(got))
        assert x.grad.shape == x.shape and np.isfinite(x.grad.numpy()).all()
        x.grad = None


@SETTINGS
@given(hnp.mutually_broadcastable_shapes(signature="(m,k),(k,n)->(m,n)", max_dims=2, max_side=3))
def test_matmul_gradients_for_batched_shapes(bs):
    sa, sb = bs.input_shapes
    a, b = leaf(sa, np.float64, 1), leaf(sb, np.float64, 2)
    y = a @ b
    assert y.shape == bs.result_shape
    g = values(y.shape, np.float64, 3)
    y.backward(cr.tensor(g))
    an, bn = a.detach().numpy(), b.detach().numpy()
    ga = g @ np.swapaxes(bn, -1, -2)
    gb = np.swapaxes(an, -1, -2) @ g
    np.testing.assert_allclose(a.grad.numpy(), sum_to_shape(ga, sa), rtol=1e-10)
    np.testing.assert_allclose(b.grad.numpy(), sum_to_shape(gb, sb), rtol=1e-10)


@SETTINGS
@given(hnp.array_shapes(min_dims=1, max_dims=3, max_side=5), st.data())
def test_softmax_rows_sum_to_one_and_log_softmax_agrees(shape, data):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    x = cr.tensor(values(shape, np.float64, 2, low=-50, high=50))
    p = cr.softmax(x, dim)
    np.testing.assert_allclose(p.sum(dim).numpy(), 1.0, rtol=1e-12)
    np.testing.assert_allclose(cr.log_softmax(x, dim).exp().numpy(), p.numpy(), rtol=1e-10)


@SETTINGS
@given(shapes, st.floats(-3, 3))
def test_gradient_is_linear_in_the_upstream_gradient(shape, c):
    x = leaf(shape, np.float64)
    y = (x.sin() * x).exp()
    g = values(shape, np.float64, 4)
    (g1,) = cr.autograd.grad(y, x, cr.tensor(g), retain_graph=True)
    (g2,) = cr.autograd.grad(y, x, cr.tensor(c * g))
    np.testing.assert_allclose(g2.numpy(), c * g1.numpy(), rtol=1e-9, atol=1e-12)


@SETTINGS
@given(hnp.array_shapes(min_dims=1, max_dims=3, max_side=4), st.data())
def test_indexing_gradient_counts_each_pick(shape, data):
    """The gradient of x[idx].sum() counts how often each element was picked."""
    n = shape[0]
    idx = data.draw(st.lists(st.integers(-n, n - 1), min_size=1, max_size=6))
    x = leaf(shape, np.float64)
    x[cr.tensor(idx)].sum().backward()
    counts = np.bincount(np.asarray(idx) % n, minlength=n).astype(float)
    want = np.broadcast_to(counts.reshape((n,) + (1,) * (len(shape) - 1)), shape)
    np.testing.assert_array_equal(x.grad.numpy(), want)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float32_stays_float32_through_a_network(dtype):
    x, w = leaf((4, 3), dtype), leaf((3, 2), dtype, 1)
    loss = cr.log_softmax((x @ w).tanh() * 2.0 + 1, dim=1).mean() ** 2 / 3
    assert loss.dtype == dtype
    loss.backward()
    assert x.grad.dtype == dtype and w.grad.dtype == dtype
