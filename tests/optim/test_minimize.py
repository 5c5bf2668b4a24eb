"""``minimize``: the SciPy bridge reaches known optima and writes the solution back."""
import sys

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.optim.second_order import minimize

optimize = pytest.importorskip("scipy.optimize")


def rosen(x):
    return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2


@pytest.mark.parametrize("method", ["L-BFGS-B", "BFGS", "CG", "Newton-CG", "trust-ncg"])
def test_reaches_rosenbrock_minimum(method):
    x = cr.tensor([-1.2, 1.0], dtype=cr.float64, requires_grad=True)
    result = minimize(lambda: rosen(x), [x], method=method, tol=1e-10)
    assert isinstance(result, optimize.OptimizeResult)
    assert result.success, result.message
    np.testing.assert_allclose(result.x, [1.0, 1.0], atol=1e-4)
    np.testing.assert_array_equal(x._data, result.x)          # written back
    if method in ("Newton-CG", "trust-ncg"):
        assert result.nhev > 0                              # H·v came from double backprop


def test_same_answer_as_scipy_on_a_convex_logistic_regression():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((150, 5))
    y = (X @ rng.standard_normal(5) + 0.5 * rng.standard_normal(150) > 0).astype(np.float64)
    lam = 0.01

    def np_loss(theta):            # the same objective, by hand, for scipy on its own
        w, b = theta[:5], theta[5]
        z = X @ w + b
        loss = np.mean(np.logaddexp(0, z) - y * z) + lam / 2 * w @ w
        p = 1 / (1 + np.exp(-z))
        return loss, np.append(X.T @ (p - y) / len(y) + lam * w, np.mean(p - y))

    ref = optimize.minimize(np_loss, np.zeros(6), jac=True, method="BFGS", tol=1e-12)
    layer = nn.Linear(5, 1).to(cr.float64)
    Xt, yt = cr.tensor(X), cr.tensor(y.reshape(-1, 1))
    bce = nn.BCEWithLogitsLoss()
    for method in ("Newton-CG", "trust-ncg", "L-BFGS-B"):
        result = minimize(lambda: bce(layer(Xt), yt) + lam / 2 * (layer.weight ** 2).sum(),
                          layer.parameters(), method=method,
                          options={"gtol": 1e-10} if method == "L-BFGS-B" else None, tol=1e-12)
        np.testing.assert_allclose(result.fun, ref.fun, rtol=1e-7)
        np.testing.assert_allclose(layer.weight._data.ravel(), ref.x[:5], atol=1e-5)
        np.testing.assert_allclose(layer.bias._data, ref.x[5:], atol=1e-5)


def test_full_batch_network_training_with_lbfgs():
    cr.manual_seed(0)
    rng = np.random.default_rng(0)
    X = cr.tensor(rng.uniform(-2, 2, (64, 1)), dtype=cr.float32)
    y = X.sin()
    model = nn.Sequential(nn.Linear(1, 16), nn.Tanh(), nn.Linear(16, 1))
    mse = nn.MSELoss()
    start = mse(model(X), y).item()
    result = minimize(lambda: mse(model(X), y), model.parameters(), method="L-BFGS-B",
                      options={"maxiter": 200})
    assert model[0].weight.dtype == cr.float32
    end = mse(model(X), y).item()
    assert end == pytest.approx(result.fun, rel=1e-5)
    assert end < 1e-3 * start


def test_bounds_pair_applies_to_every_element_and_derivative_free_methods():
    x = cr.tensor([0.5, 0.5], dtype=cr.float64, requires_grad=True)
    minimize(lambda: ((x - 3) ** 2).sum(), [x], bounds=(0.0, 1.0))
    np.testing.assert_allclose(x._data, [1.0, 1.0])
    x._data[:] = [-1.2, 1.0]
    r = minimize(lambda: rosen(x), [x], method="Nelder-Mead",
                 options={"xatol": 1e-8, "fatol": 1e-12, "maxiter": 2000})
    np.testing.assert_allclose(x._data, [1.0, 1.0], atol=1e-4)
    assert r.success


def test_hessp_false_lets_scipy_difference_gradients():
    x = cr.tensor([-1.2, 1.0], dtype=cr.float64, requires_grad=True)
    r = minimize(lambda: rosen(x), [x], method="Newton-CG", hessp=False)
    np.testing.assert_allclose(x._data, [1.0, 1.0], atol=1e-3)
    assert r.get("nhev", 0) == 0


def test_bad_arguments():
    x = cr.tensor([1.0], requires_grad=True)
    with pytest.raises(ValueError, match="unknown method 'dogleg'"):
        minimize(lambda: x.sum(), [x], method="dogleg")
    with pytest.raises(TypeError, match="callable"):
        minimize(3, [x])
    with pytest.raises(TypeError, match="scalar tensor"):
        minimize(lambda: x * cr.tensor([1.0, 2.0]), [x])
    with pytest.raises(ValueError, match="empty"):
        minimize(lambda: x.sum(), [])


def test_without_scipy_the_error_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "scipy", None)
    x = cr.tensor([1.0], requires_grad=True)
    with pytest.raises(ImportError, match="pip install"):
        minimize(lambda: (x ** 2).sum(), [x])
