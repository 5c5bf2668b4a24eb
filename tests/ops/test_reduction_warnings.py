"""NumPy's RuntimeWarnings: silent where the result is right, kept where it is not (issue 12, 9).

softmax, log_softmax and logsumexp subtract the max first; for x = -big next to a max of +big
that subtraction overflows to -inf, whose exponential, 0, is the right value (PyTorch gives the
same, silently).  An infinite input makes inf - inf = NaN: that result is not right, and warns.
"""
import warnings

import numpy as np
import pytest

import chainrule as cr

BIG = {cr.float16: 6e4, cr.float32: 3e38, cr.float64: 1.7e308}
DTYPES = list(BIG)


@pytest.fixture
def strict():
    """Every warning an error, inside the test only."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def _extremes(dtype):
    b = BIG[dtype]
    return cr.tensor([b, 0.0, -b], dtype=dtype, requires_grad=True)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_softmax_of_extremes_is_one_hot_without_warning(strict, dtype):
    x = _extremes(dtype)
    y = cr.softmax(x, 0)
    assert np.array_equal(y.detach().numpy(), [1.0, 0.0, 0.0])
    w = cr.tensor([1.0, 0.5, 0.25], dtype=dtype)
    (g,) = cr.autograd.grad((y * w).sum(), x, create_graph=True)
    assert np.array_equal(g.detach().numpy(), [0.0, 0.0, 0.0])   # y · (w - Σ w·y) = 0
    g.sum().backward()                                            # second order too
    assert np.all(np.isfinite(x.grad.numpy()))


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_log_softmax_of_extremes_without_warning(strict, dtype):
    x, b = _extremes(dtype), BIG[dtype]
    y = cr.log_softmax(x, 0)
    np.testing.assert_allclose(y.detach().numpy().astype(np.float64), [0.0, -b, -np.inf],
                               rtol=1e-3)
    w = cr.tensor([1.0, 0.5, 0.25], dtype=dtype)
    (g,) = cr.autograd.grad((y * w).sum(), x, create_graph=True)
    np.testing.assert_allclose(g.detach().numpy(), [1.0 - 1.75, 0.5, 0.25])  # w - e^y Σ w
    (g * w).sum().backward()
    assert np.all(np.isfinite(x.grad.numpy()))


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_logsumexp_of_extremes_without_warning(strict, dtype):
    x, b = _extremes(dtype), BIG[dtype]
    y = cr.logsumexp(x, 0)
    np.testing.assert_allclose(float(y), b, rtol=1e-3)
    (g,) = cr.autograd.grad(y, x, create_graph=True)
    assert np.array_equal(g.detach().numpy(), [1.0, 0.0, 0.0])    # softmax(x)
    (g * cr.tensor([1.0, 2.0, 3.0], dtype=dtype)).sum().backward()
    assert np.all(np.isfinite(x.grad.numpy()))


def test_logsumexp_of_only_minus_inf_is_minus_inf_without_warning(strict):
    # log 0 = -inf is the right value (as torch.logsumexp)
    assert float(cr.logsumexp(cr.tensor([-np.inf, -np.inf]), 0)) == -np.inf
    assert np.array_equal(cr.softmax(cr.tensor([-np.inf, 0.0]), 0).numpy(), [0.0, 1.0])


def test_a_wrong_result_still_warns():
    # inf - inf: the NaN is not the answer (PyTorch gives NaN too); NumPy's warning stays
    with pytest.warns(RuntimeWarning, match="invalid value"):
        y = cr.softmax(cr.tensor([np.inf, 0.0]), 0)
    assert np.isnan(y.numpy()[0])
