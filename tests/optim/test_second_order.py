"""Second order: Hessian-vector products by double backprop, Newton-CG and nonlinear CG."""
import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.optim.second_order import (NewtonCG, NonlinearCG, conjugate_gradient,
                                          hessian_vector_product)


def rosen(x):
    return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2


def rosen_hessian(x, y):
    return np.array([[1200 * x ** 2 - 400 * y + 2, -400 * x], [-400 * x, 200.0]])


def _start():
    return cr.tensor([-1.2, 1.0], dtype=cr.float64, requires_grad=True)


def test_hvp_by_double_backprop_matches_the_hessian():
    x = cr.tensor([0.3, -0.7], dtype=cr.float64, requires_grad=True)
    H = rosen_hessian(0.3, -0.7)
    for v in (np.array([1.0, 0.0]), np.array([0.0, 1.0]), np.array([0.5, -2.0])):
        np.testing.assert_allclose(hessian_vector_product(lambda: rosen(x), [x], v), H @ v,
                                   rtol=1e-12)
    _, hv = cr.autograd.functional.hvp(rosen, x, cr.tensor([0.5, -2.0], dtype=cr.float64))
    np.testing.assert_allclose(hv._data, H @ [0.5, -2.0], rtol=1e-12)


def test_hvp_over_several_parameters():
    w = cr.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=cr.float64, requires_grad=True)
    b = cr.tensor([0.5], dtype=cr.float64, requires_grad=True)
    f = lambda: (w ** 2).sum() * b.sum() + b.sum() ** 3     # noqa: E731
    v = np.array([1.0, 0.0, 0.0, 0.0, 1.0])
    # ∂²f/∂w∂w = 2b I, ∂²f/∂w∂b = 2w, ∂²f/∂b² = 6b
    expect = np.concatenate([2 * 0.5 * np.array([1.0, 0, 0, 0]) + 2 * w._data.ravel(),
                             [2 * 1.0 + 6 * 0.5]])
    np.testing.assert_allclose(hessian_vector_product(f, [w, b], v), expect)


def test_conjugate_gradient_solves_spd_systems_and_reports_negative_curvature():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((6, 6))
    A = A @ A.T + 6 * np.eye(6)
    b = rng.standard_normal(6)
    d, iters, neg = conjugate_gradient(lambda v: A @ v, b, 50, 1e-12)
    np.testing.assert_allclose(A @ d, b, atol=1e-9)
    assert not neg and iters <= 7
    d, _, neg = conjugate_gradient(lambda v: -v, b, 10, 1e-12)
    assert neg and np.array_equal(d, b)


def test_newton_cg_reaches_rosenbrock_minimum():
    x = _start()
    opt = NewtonCG([x])
    for _ in range(40):
        opt.step(lambda: rosen(x))
    np.testing.assert_allclose(x._data, [1.0, 1.0], atol=1e-8)
    assert opt.state[x]["n_iter"] == 40
    np.testing.assert_allclose(x.grad._data, [0.0, 0.0], atol=1e-6)


@pytest.mark.parametrize("beta, steps", [("PR", 40), ("HS", 40), ("FR", 100)])
def test_nonlinear_cg_reaches_rosenbrock_minimum(beta, steps):
    x = _start()
    opt = NonlinearCG([x], beta=beta)
    for _ in range(steps):
        opt.step(lambda: rosen(x))
    np.testing.assert_allclose(x._data, [1.0, 1.0], atol=1e-5)


def test_nonlinear_cg_armijo_on_a_quadratic_and_lbfgs_style_closure():
    A = np.diag([1.0, 10.0, 100.0])
    x = cr.tensor([1.0, 1.0, 1.0], dtype=cr.float64, requires_grad=True)
    At = cr.tensor(A)
    opt = NonlinearCG([x], line_search="armijo", restart=3)

    def closure():                                       # LBFGS style: calls backward itself
        opt.zero_grad()
        loss = 0.5 * (x * (At @ x)).sum()
        loss.backward()
        return loss
    for _ in range(200):
        opt.step(closure)
    np.testing.assert_allclose(x._data, 0.0, atol=1e-3)


def _logistic_data(seed=0, n=120, d=4):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = (X @ rng.standard_normal(d) + 0.8 * rng.standard_normal(n) > 0).astype(np.float64)
    return X, y


def _irls(X, y, lam, iters=30):
    """The reference optimum: Newton's method on the L2-regularised logistic loss in NumPy."""
    n, d = X.shape
    Xb = np.hstack([X, np.ones((n, 1))])
    w = np.zeros(d + 1)
    reg = lam * np.diag([1.0] * d + [0.0])
    for _ in range(iters):
        p = 1 / (1 + np.exp(-Xb @ w))
        g = Xb.T @ (p - y) / n + reg @ w
        H = Xb.T @ (Xb * (p * (1 - p))[:, None]) / n + reg
        w -= np.linalg.solve(H, g)
    return w


def _logistic_loss(X, y, lam):
    layer = nn.Linear(X.shape[1], 1).to(cr.float64)
    Xt, yt = cr.tensor(X), cr.tensor(y.reshape(-1, 1))
    bce = nn.BCEWithLogitsLoss()

    def loss():
        return bce(layer(Xt), yt) + lam / 2 * (layer.weight ** 2).sum()
    return layer, loss


@pytest.mark.parametrize("cls, steps", [(NewtonCG, 15), (NonlinearCG, 80)])
def test_reaches_convex_logistic_regression_optimum(cls, steps):
    X, y = _logistic_data()
    lam = 0.05
    layer, loss = _logistic_loss(X, y, lam)
    opt = cls(layer.parameters())
    for _ in range(steps):
        opt.step(loss)
    w = _irls(X, y, lam)
    np.testing.assert_allclose(layer.weight._data.ravel(), w[:-1], atol=1e-6)
    np.testing.assert_allclose(layer.bias._data, w[-1:], atol=1e-6)


def test_newton_cg_damping_and_no_line_search():
    x = cr.tensor([3.0, -2.0], dtype=cr.float64, requires_grad=True)
    opt = NewtonCG([x], damping=1.0, line_search=None)
    for _ in range(60):
        opt.step(lambda: (x ** 2).sum() + x[0] * x[1])
    np.testing.assert_allclose(x._data, 0.0, atol=1e-8)


def test_newton_cg_rejects_a_closure_that_calls_backward():
    x = _start()
    opt = NewtonCG([x])

    def closure():
        loss = rosen(x)
        loss.backward()
        return loss
    with pytest.raises(RuntimeError, match="without calling backward"):
        opt.step(closure)


def test_step_needs_a_closure():
    for cls in (NewtonCG, NonlinearCG):
        with pytest.raises(RuntimeError, match="requires a closure"):
            cls([_start()]).step(None)


@pytest.mark.parametrize("cls, kwargs, match", [
    (NewtonCG, {"lr": 0.0}, "learning rate"), (NewtonCG, {"cg_iters": 0}, "cg_iters"),
    (NewtonCG, {"damping": -1.0}, "damping"), (NewtonCG, {"line_search": "wolfe"}, "line_search"),
    (NewtonCG, {"cg_tol": 2.0}, "cg_tol"),
    (NonlinearCG, {"beta": "DY"}, "beta"), (NonlinearCG, {"line_search": None}, "line_search"),
    (NonlinearCG, {"restart": 0}, "restart")])
def test_hyperparameters_validated(cls, kwargs, match):
    with pytest.raises(ValueError, match=match):
        cls([_start()], **kwargs)


def test_state_dict_round_trip_continues_the_iteration():
    x = _start()
    opt = NonlinearCG([x])
    for _ in range(5):
        opt.step(lambda: rosen(x))
    sd = opt.state_dict()
    y = cr.tensor(x._data.copy(), requires_grad=True)
    opt2 = NonlinearCG([y])
    opt2.load_state_dict(sd)
    for _ in range(60):
        opt2.step(lambda: rosen(y))
    np.testing.assert_allclose(y._data, [1.0, 1.0], atol=1e-5)
