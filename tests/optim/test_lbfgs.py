"""LBFGS: PyTorch's iterates on the Rosenbrock function, with and without the strong-Wolfe search."""
import numpy as np
import pytest

import chainrule as cr
import chainrule.optim as co
from chainrule.tensor import Tensor

X0 = np.linspace(-1.5, 1.2, 6)


def rosenbrock(x):
    return ((1 - x[:-1]) ** 2).sum() + 100 * ((x[1:] - x[:-1] ** 2) ** 2).sum()


def rosenbrock_np(x):
    """Value and gradient in NumPy, so both libraries see the very same numbers."""
    f = ((1 - x[:-1]) ** 2).sum() + 100 * ((x[1:] - x[:-1] ** 2) ** 2).sum()
    g = np.zeros_like(x)
    g[:-1] += -2 * (1 - x[:-1]) - 400 * x[:-1] * (x[1:] - x[:-1] ** 2)
    g[1:] += 200 * (x[1:] - x[:-1] ** 2)
    return f, g


def _pair(dtype, **kw):
    torch = pytest.importorskip("torch")
    x = Tensor(X0.astype(dtype), requires_grad=True)
    tx = torch.tensor(X0.astype(dtype), requires_grad=True)
    return x, tx, co.LBFGS([x], **kw), torch.optim.LBFGS([tx], **kw)


def _np_closures(x, tx):
    import torch

    def ours():
        f, g = rosenbrock_np(x._data.copy())
        x.grad = Tensor(g)
        return Tensor(np.asarray(f))

    def theirs():
        f, g = rosenbrock_np(tx.detach().numpy().copy())
        tx.grad = torch.tensor(g)
        return torch.tensor(f)

    return ours, theirs


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
@pytest.mark.parametrize("history_size", [100, 3])
def test_iterates_match_torch_in_float64(line_search_fn, history_size):
    x, tx, opt, topt = _pair(np.float64, line_search_fn=line_search_fn,
                             history_size=history_size, max_iter=8)
    ours, theirs = _np_closures(x, tx)
    for step in range(4):
        loss, tloss = opt.step(ours), topt.step(theirs)
        assert float(loss) == pytest.approx(float(tloss), rel=1e-9)
        np.testing.assert_allclose(x._data, tx.detach().numpy(), rtol=1e-8, atol=1e-10,
                                   err_msg=f"step {step}")
        assert opt.state[x]["func_evals"] == topt.state[tx]["func_evals"]
        assert opt.state[x]["n_iter"] == topt.state[tx]["n_iter"]


def test_strong_wolfe_converges_with_torch_in_float64():
    x, tx, opt, topt = _pair(np.float64, line_search_fn="strong_wolfe")
    ours, theirs = _np_closures(x, tx)
    for _ in range(5):
        opt.step(ours)
        topt.step(theirs)
    np.testing.assert_allclose(x._data, tx.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(x._data, 1.0, atol=1e-5)
    assert opt.state[x]["func_evals"] == topt.state[tx]["func_evals"]


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_first_iterations_match_torch_in_float32(line_search_fn):
    # float32 L-BFGS on Rosenbrock amplifies rounding: compare the first few iterations tightly
    x, tx, opt, topt = _pair(np.float32, line_search_fn=line_search_fn, max_iter=3)
    ours, theirs = _np_closures(x, tx)
    opt.step(ours)
    topt.step(theirs)
    assert x._data.dtype == np.float32
    np.testing.assert_allclose(x._data, tx.detach().numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_with_autograd_closure_like_torch(line_search_fn):
    x, tx, opt, topt = _pair(np.float64, line_search_fn=line_search_fn, max_iter=10)

    def ours():
        opt.zero_grad()
        loss = rosenbrock(x)
        loss.backward()
        return loss

    def theirs():
        topt.zero_grad()
        loss = rosenbrock(tx)
        loss.backward()
        return loss

    for step in range(2):
        loss, tloss = opt.step(ours), topt.step(theirs)
        assert isinstance(loss, cr.Tensor)
        assert float(loss) == pytest.approx(float(tloss.detach()), rel=1e-9)
        np.testing.assert_allclose(x._data, tx.detach().numpy(), rtol=1e-7, atol=1e-9)
    for _ in range(30):
        opt.step(ours)
    np.testing.assert_allclose(x._data, 1.0, atol=1e-4)


def test_lbfgs_over_several_parameters_solves_least_squares():
    rng = np.random.default_rng(0)
    A, y = rng.standard_normal((20, 4)), rng.standard_normal((20, 1))
    W = Tensor(np.zeros((4, 1)), requires_grad=True)
    b = Tensor(np.zeros(1), requires_grad=True)
    opt = co.LBFGS([W, b], line_search_fn="strong_wolfe")
    cA, cy = cr.tensor(A), cr.tensor(y)

    def closure():
        opt.zero_grad()
        loss = ((cA @ W + b - cy) ** 2).sum()
        loss.backward()
        return loss

    for _ in range(3):
        opt.step(closure)
    X = np.hstack([A, np.ones((20, 1))])
    best = np.linalg.lstsq(X, y, rcond=None)[0]
    np.testing.assert_allclose(np.concatenate([W._data.ravel(), b._data]), best.ravel(), atol=1e-6)


def test_stops_at_once_when_the_gradient_is_tiny():
    x = Tensor(np.ones(2), requires_grad=True)
    opt = co.LBFGS([x])
    calls = []

    def closure():
        calls.append(1)
        x.grad = Tensor(np.zeros(2))
        return Tensor(np.asarray(0.0))

    opt.step(closure)
    assert len(calls) == 1 and opt.state[x]["n_iter"] == 0


def test_state_dict_round_trip_continues_identically():
    x = Tensor(X0.copy(), requires_grad=True)
    opt = co.LBFGS([x], history_size=4, max_iter=5)

    def make_closure(param):
        def closure():
            f, g = rosenbrock_np(param._data.copy())
            param.grad = Tensor(g)
            return Tensor(np.asarray(f))
        return closure

    opt.step(make_closure(x))
    saved, x_saved = opt.state_dict(), x._data.copy()
    opt.step(make_closure(x))
    opt.step(make_closure(x))

    y = Tensor(x_saved, requires_grad=True)
    opt2 = co.LBFGS([y], history_size=4, max_iter=5)
    opt2.load_state_dict(saved)
    assert isinstance(saved["state"][0]["d"], Tensor)
    assert all(isinstance(r, Tensor) for r in saved["state"][0]["ro"])
    opt2.step(make_closure(y))
    opt2.step(make_closure(y))
    np.testing.assert_array_equal(y._data, x._data)


def test_state_keys_match_torch():
    x, tx, opt, topt = _pair(np.float64, max_iter=3)
    ours, theirs = _np_closures(x, tx)
    for _ in range(2):
        opt.step(ours)
        topt.step(theirs)
    assert sorted(opt.state_dict()["state"][0]) == sorted(topt.state_dict()["state"][0])
    assert sorted(opt.param_groups[0]) == sorted(topt.param_groups[0])


def test_lbfgs_errors():
    x = Tensor(np.ones(2), requires_grad=True)
    with pytest.raises(ValueError, match="Invalid learning rate: -1"):
        co.LBFGS([x], lr=-1)
    with pytest.raises(ValueError, match="line_search_fn"):
        co.LBFGS([x], line_search_fn="armijo")
    with pytest.raises(ValueError, match="doesn't support per-parameter options"):
        co.LBFGS([{"params": [x]}, {"params": [Tensor(np.ones(1), requires_grad=True)]}])
    with pytest.raises(RuntimeError, match="requires a closure"):
        co.LBFGS([x]).step(None)
