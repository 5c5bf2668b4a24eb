"""The catalogue's activations (F. forms and modules): values and gradients against PyTorch in
float64 and float32, the kinks PyTorch's way, gradcheck and gradgradcheck in float64, errors."""
import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn
from chainrule.autograd import gradcheck, gradgradcheck


# every break of every piecewise activation, plus a spread of values
KINKS = np.array([-6.0, -3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0, 6.0, 2.0, -2.0, 1.5])
X = np.concatenate([KINKS, np.random.default_rng(0).normal(scale=3.0, size=24)]).reshape(4, 9)

# (name, our call, torch's call)


def f64(a, grad=True):
    return cr.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


CASES = [
    ("relu6", lambda x: F.relu6(x), "relu6", {}),
    ("hardtanh", lambda x: F.hardtanh(x), "hardtanh", {}),
    ("hardtanh.bounds", lambda x: F.hardtanh(x, -0.5, 2.0), "hardtanh",
     dict(min_val=-0.5, max_val=2.0)),
    ("threshold", lambda x: F.threshold(x, 1.0, -2.0), "threshold",
     dict(threshold=1.0, value=-2.0)),
    ("softshrink", lambda x: F.softshrink(x), "softshrink", {}),
    ("softshrink.1", lambda x: F.softshrink(x, 1.0), "softshrink", dict(lambd=1.0)),
    ("hardshrink", lambda x: F.hardshrink(x), "hardshrink", {}),
    ("hardsigmoid", lambda x: F.hardsigmoid(x), "hardsigmoid", {}),
    ("hardswish", lambda x: F.hardswish(x), "hardswish", {}),
    ("selu", lambda x: F.selu(x), "selu", {}),
    ("celu", lambda x: F.celu(x), "celu", {}),
    ("celu.2", lambda x: F.celu(x, 2.0), "celu", dict(alpha=2.0)),
    ("mish", lambda x: F.mish(x), "mish", {}),
    ("softsign", lambda x: F.softsign(x), "softsign", {}),
    ("logsigmoid", lambda x: F.logsigmoid(x), "logsigmoid", {}),
    ("tanhshrink", lambda x: F.tanhshrink(x), "tanhshrink", {}),
    ("softmin", lambda x: F.softmin(x, dim=1), "softmin", dict(dim=1)),
    ("glu", lambda x: F.glu(x[:, :8]), "glu", {}),
    ("glu.dim0", lambda x: F.glu(x, 0), "glu", dict(dim=0)),
]


def _torch_fn(name, kwargs):
    torch = pytest.importorskip("torch")
    fn = getattr(torch.nn.functional, name)
    if name == "glu" and not kwargs:
        return lambda x: fn(x[:, :8])
    return lambda x: fn(x, **kwargs)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", CASES, ids=lambda c: c[0])
def test_activation_matches_torch(torch_parity, case, dtype):
    _, ours, name, kwargs = case
    torch_parity(ours, _torch_fn(name, kwargs), [X], dtype=dtype)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c[0])
def test_activation_gradcheck_and_second_order(case):
    _, ours, _, _ = case
    x = f64(X + 0.01)          # off the kinks, where finite differences are meaningful
    assert gradcheck(ours, (x,))
    assert gradgradcheck(ours, (x,))


def test_second_derivatives_at_the_kinks_match_torch():
    torch = pytest.importorskip("torch")
    for ours, theirs in [(F.hardswish, torch.nn.functional.hardswish),
                         (F.selu, torch.nn.functional.selu), (F.celu, torch.nn.functional.celu),
                         (F.hardtanh, torch.nn.functional.hardtanh)]:
        x, t = f64(KINKS), torch.tensor(KINKS, requires_grad=True)
        g, = cr.autograd.grad(ours(x).sum(), x, create_graph=True)
        gg = cr.autograd.grad(g.sum(), x)[0] if g.requires_grad else cr.zeros(len(KINKS))
        tg, = torch.autograd.grad(theirs(t).sum(), t, create_graph=True)
        tgg, = torch.autograd.grad(tg.sum(), t, allow_unused=True)
        np.testing.assert_allclose(g.detach().numpy(), tg.detach().numpy(), rtol=1e-12)
        ref = np.zeros_like(KINKS) if tgg is None else tgg.numpy()
        np.testing.assert_allclose(gg.numpy(), ref, rtol=1e-12, atol=1e-15)


def test_logsigmoid_and_mish_are_finite_at_extremes(torch_parity):
    torch = pytest.importorskip("torch")
    x = np.array([-1000.0, -50.0, -25.0, 25.0, 50.0, 1000.0])
    torch_parity(F.logsigmoid, torch.nn.functional.logsigmoid, [x])
    torch_parity(F.mish, torch.nn.functional.mish, [x])


@pytest.mark.parametrize("shape, n", [((4, 3), 3), ((4, 3), 1), ((2, 3, 5), 3), ((5,), 1)])
def test_prelu_module_matches_torch(shape, n):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(1).normal(size=shape)
    x.flat[0] = 0.0
    m, tm = nn.PReLU(n, init=0.2, dtype=cr.float64), torch.nn.PReLU(n, init=0.2, dtype=torch.float64)
    xo, xt = f64(x), torch.tensor(x, requires_grad=True)
    y, ref = m(xo), tm(xt)
    np.testing.assert_allclose(y.detach().numpy(), ref.detach().numpy(), rtol=1e-12)
    y.sum().backward()
    ref.sum().backward()
    np.testing.assert_allclose(m.weight.grad.numpy(), tm.weight.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(xo.grad.numpy(), xt.grad.numpy(), rtol=1e-12)
    assert [k for k, _ in m.named_parameters()] == ["weight"]
    assert repr(m) == repr(tm) == f"PReLU(num_parameters={n})"


MODULES = [("ReLU6", {}), ("SELU", {}), ("CELU", dict(alpha=0.7)), ("Mish", {}),
           ("GLU", dict(dim=0)), ("Hardtanh", dict(min_val=-2.0, max_val=0.5)),
           ("Hardswish", {}), ("Hardsigmoid", {}), ("Softsign", {}), ("Softmin", dict(dim=1)),
           ("LogSigmoid", {}), ("Threshold", dict(threshold=0.1, value=20.0)),
           ("Tanhshrink", {}), ("Softshrink", dict(lambd=0.3)), ("Hardshrink", dict(lambd=0.3))]


@pytest.mark.parametrize("name, kwargs", MODULES, ids=lambda v: v if isinstance(v, str) else "")
def test_activation_modules_match_torch(torch_parity, name, kwargs):
    torch = pytest.importorskip("torch")
    m, tm = getattr(nn, name)(**kwargs), getattr(torch.nn, name)(**kwargs)
    assert isinstance(m, nn.Module)
    # PyTorch's CELU backward divides by alpha rounded to float32 (alpha.toFloat()): with
    # alpha = 0.7 its gradient is ~1e-7 off the exact one, which is ours
    tol = dict(rtol=1e-6, atol=1e-12) if name == "CELU" else None
    torch_parity(m, tm, [X], tol=tol)
    assert repr(m) == repr(tm)


def test_inplace_flag_is_accepted_and_shown():
    torch = pytest.importorskip("torch")
    for name in ("ReLU6", "SELU", "Hardswish", "Hardsigmoid", "Mish"):
        assert repr(getattr(nn, name)(inplace=True)) == repr(getattr(torch.nn, name)(inplace=True))
    x = cr.tensor([-1.0, 7.0])
    assert F.relu6(x, inplace=True).tolist() == [0.0, 6.0] and x.tolist() == [-1.0, 7.0]


def test_errors_name_the_argument():
    x = f64(X)
    with pytest.raises(ValueError, match="Halving dimension must be even, but dimension 1 is "
                                         "size 9"):
        F.glu(x)
    with pytest.raises(ValueError, match="min_val cannot be greater than max_val"):
        F.hardtanh(x, 2.0, 1.0)
    with pytest.raises(ValueError, match="min_val cannot be greater than max_val"):
        nn.Hardtanh(2.0, 1.0)
    with pytest.raises(ValueError, match="lambda must be greater or equal to 0"):
        F.softshrink(x, -1.0)
    with pytest.raises(TypeError, match="floating-point"):
        F.relu6(cr.tensor([1, 2]))
    with pytest.raises(ValueError, match="num_parameters must be a positive int"):
        nn.PReLU(0)
    with pytest.raises(ValueError, match="alpha cannot be 0"):
        F.celu(x, 0.0)


# selu, celu, mish and logsigmoid are made of activation.py's Elu and Softplus, which have no JVP yet
FORWARD = [c for c in CASES if c[0].split(".")[0] not in ("selu", "celu", "mish", "logsigmoid")]


@pytest.mark.parametrize("case", FORWARD, ids=lambda c: c[0])
def test_forward_mode_matches_reverse_mode(case):
    """cr.func.jvp (each op's JVP) gives J·v, the same numbers reverse mode's vᵀJ implies."""
    _, ours, _, _ = case
    x = f64(X + 0.01, grad=False)
    v = np.random.default_rng(3).standard_normal(X.shape)
    out, tangent = cr.func.jvp(ours, (x,), (cr.tensor(v),))
    w = np.random.default_rng(4).standard_normal(tuple(out.shape))
    xr = f64(X + 0.01)
    g, = cr.autograd.grad((ours(xr) * cr.tensor(w)).sum(), xr)
    np.testing.assert_allclose(float((tangent * cr.tensor(w)).sum()), float((g * cr.tensor(v)).sum()),
                               rtol=1e-10)
