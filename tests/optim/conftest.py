"""Shared helpers for the optimiser tests: run one of ours beside PyTorch's, step for step.

``parity(name, kwargs, ...)`` builds the same parameters in both libraries, feeds both optimisers
the same seeded gradient sequence (set by hand, so only the optimisers' arithmetic is compared),
and checks the parameters after every step.  PyTorch runs its single-tensor implementation
(``foreach=False``).  Float32 results agree to rounding, not always bit for bit (PyTorch fuses
some multiply-adds and takes MKL's square root), hence the small tolerances.
"""
import numpy as np
import pytest

from chainrule.tensor import Tensor
import chainrule.optim as co

SHAPES = [(16, 29), (16,), (1, 16), (1,)]
TOL = {np.float32: {"rtol": 2e-6, "atol": 1e-6}, np.float64: {"rtol": 1e-12, "atol": 1e-13}}


def make_params(shapes, dtype, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(dtype) for s in shapes]


def grad_sequence(shapes, dtype, steps, seed=1, skip=None):
    """``steps`` lists of gradients; ``skip(t, i)`` True leaves param i without one at step t."""
    rng = np.random.default_rng(seed)
    seq = []
    for t in range(steps):
        grads = [rng.standard_normal(s).astype(dtype) for s in shapes]
        if skip is not None:
            grads = [None if skip(t, i) else g for i, g in enumerate(grads)]
        seq.append(grads)
    return seq


def ours_params(arrays):
    return [Tensor(a.copy(), requires_grad=True) for a in arrays]


def set_grads(params, grads):
    for p, g in zip(params, grads):
        p.grad = None if g is None else Tensor(g.copy())


def run_ours(name, kwargs, arrays, seq, foreach=None, groups=None):
    """Our optimiser over the gradient sequence; returns the params after each step."""
    params = ours_params(arrays)
    spec = params if groups is None else [dict(g, params=[params[i] for i in g["params"]])
                                          for g in groups]
    opt = getattr(co, name)(spec, foreach=foreach, **kwargs)
    out = []
    for grads in seq:
        set_grads(params, grads)
        opt.step()
        out.append([p._data.copy() for p in params])
    return out, opt, params


def run_torch(name, kwargs, arrays, seq, groups=None):
    torch = pytest.importorskip("torch")
    params = [torch.tensor(a.copy(), requires_grad=True) for a in arrays]
    spec = params if groups is None else [dict(g, params=[params[i] for i in g["params"]])
                                          for g in groups]
    opt = getattr(torch.optim, name)(spec, foreach=False, **kwargs)
    out = []
    for grads in seq:
        for p, g in zip(params, grads):
            p.grad = None if g is None else torch.tensor(g.copy())
        opt.step()
        out.append([p.detach().numpy().copy() for p in params])
    return out, opt, params


def assert_close_runs(ours, theirs, dtype, **tol):
    tol = tol or TOL[dtype]
    for t, (a, b) in enumerate(zip(ours, theirs)):
        for i, (x, y) in enumerate(zip(a, b)):
            assert x.dtype == dtype
            np.testing.assert_allclose(x, y, err_msg=f"step {t + 1}, param {i}", **tol)


@pytest.fixture
def parity():
    """``parity(name, kwargs, dtype=..., steps=20, foreach=None, skip=None, groups=None)``."""

    def check(name, kwargs, dtype=np.float32, steps=20, foreach=None, skip=None, groups=None,
              shapes=SHAPES, **tol):
        pytest.importorskip("torch")
        arrays = make_params(shapes, dtype)
        seq = grad_sequence(shapes, dtype, steps, skip=skip)
        ours, opt, _ = run_ours(name, kwargs, arrays, seq, foreach=foreach, groups=groups)
        theirs, _, _ = run_torch(name, kwargs, arrays, seq, groups=groups)
        assert_close_runs(ours, theirs, dtype, **tol)
        return opt

    return check


@pytest.fixture
def quadratic_parity():
    """Train a small linear least-squares model with real autograd in both libraries."""

    def check(name, kwargs, dtype=np.float32, steps=20, **tol):
        torch = pytest.importorskip("torch")
        import chainrule as cr
        rng = np.random.default_rng(3)
        X = rng.standard_normal((32, 5)).astype(dtype)
        y = rng.standard_normal((32, 1)).astype(dtype)
        W0 = rng.standard_normal((5, 1)).astype(dtype)
        b0 = np.zeros((1,), dtype)

        W, b = cr.tensor(W0.copy(), requires_grad=True), cr.tensor(b0.copy(), requires_grad=True)
        tW, tb = torch.tensor(W0.copy(), requires_grad=True), torch.tensor(b0.copy(),
                                                                           requires_grad=True)
        opt = getattr(co, name)([W, b], **kwargs)
        topt = getattr(torch.optim, name)([tW, tb], foreach=False, **kwargs)
        cX, cy, tX, ty = cr.tensor(X), cr.tensor(y), torch.tensor(X), torch.tensor(y)
        if not tol:
            tol = {"rtol": 2e-5, "atol": 2e-6} if dtype == np.float32 else \
                {"rtol": 1e-10, "atol": 1e-12}
        for t in range(steps):
            opt.zero_grad()
            loss = ((cX @ W + b - cy) ** 2).mean()
            loss.backward()
            opt.step()
            topt.zero_grad()
            tloss = ((tX @ tW + tb - ty) ** 2).mean()
            tloss.backward()
            topt.step()
            np.testing.assert_allclose(float(loss), float(tloss.detach()), **tol)
            np.testing.assert_allclose(W._data, tW.detach().numpy(), err_msg=f"step {t}", **tol)
            np.testing.assert_allclose(b._data, tb.detach().numpy(), err_msg=f"step {t}", **tol)
        return float(loss)

    return check
