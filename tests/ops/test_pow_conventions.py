"""``a ** b`` at the edges of its domain (a ≤ 0) has PyTorch's gradients exactly (issue 12, 1).

PyTorch's rules: ā = ȳ · b · a^(b-1), and 0 wherever b = 0; b̄ = ȳ · where(a = 0 and b ≥ 0, 0,
y · ln a).  So at a = 0 and b < 0 the exponent's gradient is -inf (y = inf, ln 0 = -inf), a
negative base gives nan, and ``0. ** x`` at x < 0 has gradient -inf too.
"""
import itertools

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")

VALUES = [-1.5, -1.0, 0.0, 1.0]


def _same(got, want, what):
    np.testing.assert_array_equal(np.asarray(got), np.asarray(want), err_msg=what)


def _np(t):
    """A chainrule tensor's values as a NumPy array."""
    return np.asarray(t.data)


def _cr_scalar(v):
    return cr.tensor(v, dtype=cr.float64, requires_grad=True)


def _torch_scalar(v):
    return torch.tensor(v, dtype=torch.float64, requires_grad=True)


@pytest.mark.parametrize("a, b", list(itertools.product(VALUES, VALUES)))
def test_tensor_pow_tensor_gradients_match_torch(a, b):
    ca, cb = _cr_scalar(a), _cr_scalar(b)
    ta, tb = _torch_scalar(a), _torch_scalar(b)
    cga, cgb = cr.autograd.grad(ca ** cb, [ca, cb])
    tga, tgb = torch.autograd.grad(ta ** tb, [ta, tb])
    _same(_np(ca ** cb), (ta ** tb).detach().numpy(), f"{a} ** {b}")
    _same(_np(cga), tga.numpy(), f"d/da of {a} ** {b}")
    _same(_np(cgb), tgb.numpy(), f"d/db of {a} ** {b}")


@pytest.mark.parametrize("b", [-1.5, -1.0])
def test_exponent_gradient_at_zero_base_and_negative_exponent_is_minus_inf(b):
    x, y = _cr_scalar(0.0), _cr_scalar(b)
    gy, = cr.autograd.grad(x ** y, [y])
    assert gy.item() == -np.inf


@pytest.mark.parametrize("how", ["rpow", "cr.pow", "0-d base"])
@pytest.mark.parametrize("c, x", list(itertools.product(VALUES, VALUES)))
def test_scalar_base_pow_gradient_matches_torch(how, c, x):
    cx, tx = _cr_scalar(x), _torch_scalar(x)
    if how == "rpow":
        cy, ty = c ** cx, c ** tx
    elif how == "cr.pow":
        cy, ty = cr.pow(c, cx), torch.pow(c, tx)
    else:
        cy, ty = cr.tensor(c, dtype=cr.float64) ** cx, torch.tensor(c, dtype=torch.float64) ** tx
    cg, = cr.autograd.grad(cy, [cx])
    tg, = torch.autograd.grad(ty, [tx])
    _same(_np(cy), ty.detach().numpy(), f"{c} ** {x}")
    _same(_np(cg), tg.numpy(), f"d/dx of {c} ** {x} ({how})")


@pytest.mark.parametrize("p", [0, 0.5, 1, 2, 3, -1, -1.5])
def test_scalar_exponent_gradient_matches_torch_at_and_below_zero(p):
    xs = np.array([-1.5, -1.0, 0.0, 1.0])
    cx = cr.tensor(xs, requires_grad=True)
    tx = torch.tensor(xs, requires_grad=True)
    cg, = cr.autograd.grad((cx ** p).sum(), [cx])
    tg, = torch.autograd.grad((tx ** p).sum(), [tx])
    _same(_np(cg), tg.numpy(), f"d/dx of x ** {p}")


def test_broadcast_zero_base_row_against_exponent_column():
    a = np.array([0.0, 0.0, 2.0])
    b = np.array([[-1.0], [0.0], [2.0]])
    ca, cb = cr.tensor(a, requires_grad=True), cr.tensor(b, requires_grad=True)
    ta, tb = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    up = np.arange(9.0).reshape(3, 3) - 4
    cga, cgb = cr.autograd.grad(ca ** cb, [ca, cb], grad_outputs=cr.tensor(up))
    tga, tgb = torch.autograd.grad(ta ** tb, [ta, tb], grad_outputs=torch.tensor(up))
    _same(_np(cga), tga.numpy(), "d/da")
    _same(_np(cgb), tgb.numpy(), "d/db")


def test_second_derivative_away_from_zero_base_matches_torch():
    a, b = np.array([0.5, 2.0, 1.5]), np.array([-1.5, 0.0, 2.0])
    ca, cb = cr.tensor(a, requires_grad=True), cr.tensor(b, requires_grad=True)
    ta, tb = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    cga, cgb = cr.autograd.grad((ca ** cb).sum(), [ca, cb], create_graph=True)
    tga, tgb = torch.autograd.grad((ta ** tb).sum(), [ta, tb], create_graph=True)
    ch = cr.autograd.grad((cga * cgb).sum(), [ca, cb])
    th = torch.autograd.grad((tga * tgb).sum(), [ta, tb])
    for c, t in zip(ch, th):
        np.testing.assert_allclose(_np(c), t.numpy(), rtol=1e-12)
