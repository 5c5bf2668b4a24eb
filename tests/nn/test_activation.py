"""Activation layers and functions: values, gradients, kinks and second derivatives (against torch)."""
import math

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn
from chainrule.autograd import gradcheck, gradgradcheck
from chainrule.nn.functional.activation import erf_array, erf_chebyshev

# (our layer, the torch layer's name and arguments)
LAYERS = [
    (lambda: nn.ReLU(), "ReLU", {}),
    (lambda: nn.LeakyReLU(), "LeakyReLU", {}),
    (lambda: nn.LeakyReLU(0.2), "LeakyReLU", {"negative_slope": 0.2}),
    (lambda: nn.Sigmoid(), "Sigmoid", {}),
    (lambda: nn.Tanh(), "Tanh", {}),
    (lambda: nn.GELU(), "GELU", {}),
    (lambda: nn.GELU(approximate="tanh"), "GELU", {"approximate": "tanh"}),
    (lambda: nn.Softmax(dim=1), "Softmax", {"dim": 1}),
    (lambda: nn.Softmax(dim=0), "Softmax", {"dim": 0}),
    (lambda: nn.LogSoftmax(dim=-1), "LogSoftmax", {"dim": -1}),
    (lambda: nn.ELU(), "ELU", {}),
    (lambda: nn.ELU(alpha=0.5), "ELU", {"alpha": 0.5}),
    (lambda: nn.SiLU(), "SiLU", {}),
    (lambda: nn.Softplus(), "Softplus", {}),
    (lambda: nn.Softplus(beta=2.0, threshold=3.0), "Softplus", {"beta": 2.0, "threshold": 3.0}),
]
IDS = [f"{name}{kw}" for _, name, kw in LAYERS]


def _input(dtype=np.float32, shape=(6, 5)):
    x = np.random.default_rng(0).standard_normal(shape) * 3
    x[0, :3] = 0.0           # the kinks, where PyTorch picks a subgradient
    x[1, 0] = 30.0           # large values: softplus's linear regime, saturation
    x[1, 1] = -30.0
    return x.astype(dtype)


@pytest.mark.parametrize("make, name, kw", LAYERS, ids=IDS)
def test_layer_matches_torch(make, name, kw):
    torch = pytest.importorskip("torch")
    xn = _input()
    x, tx = cr.tensor(xn, requires_grad=True), torch.tensor(xn, requires_grad=True)
    y, ty = make()(x), getattr(torch.nn, name)(**kw)(tx)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-5, atol=1e-6)
    gy = np.random.default_rng(1).standard_normal(xn.shape).astype(np.float32)
    y.backward(cr.tensor(gy))
    ty.backward(torch.tensor(gy))
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("make, name, kw", LAYERS, ids=IDS)
def test_layer_second_derivative_matches_torch(make, name, kw):
    torch = pytest.importorskip("torch")
    xn = _input(np.float64)
    x, tx = cr.tensor(xn, requires_grad=True), torch.tensor(xn, requires_grad=True)
    y, ty = make()(x), getattr(torch.nn, name)(**kw)(tx)
    w = np.random.default_rng(2).standard_normal(xn.shape)
    g, = cr.autograd.grad((y * cr.tensor(w)).sum(), [x], create_graph=True)
    tg, = torch.autograd.grad((ty * torch.tensor(w)).sum(), [tx], create_graph=True)
    tgg, = torch.autograd.grad(tg.sum(), [tx])
    if not g.requires_grad:  # a piecewise-linear function: its gradient is a constant
        assert not tgg.numpy().any()
        return
    gg, = cr.autograd.grad(g.sum(), [x])
    np.testing.assert_allclose(gg.numpy(), tgg.numpy(), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("make, name, kw", LAYERS, ids=IDS)
def test_layer_gradcheck_and_gradgradcheck(make, name, kw):
    x = cr.tensor(np.random.default_rng(3).standard_normal((3, 4)) * 2 + 0.05,
                  dtype=cr.float64, requires_grad=True)
    layer = make()
    assert gradcheck(layer, (x,))
    assert gradgradcheck(layer, (x,))


def test_kinks_at_zero_follow_torch():
    x = cr.zeros(3, requires_grad=True)
    F.relu(x).sum().backward()
    assert x.grad.tolist() == [0, 0, 0]
    x.grad = None
    F.leaky_relu(x, 0.1).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 0.1)
    x.grad = None
    F.elu(x, alpha=0.7).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 0.7)


def test_softplus_is_exactly_linear_above_threshold():
    x = cr.tensor([25.0, 100.0, -100.0, 0.0], requires_grad=True)
    y = F.softplus(x)
    assert y.tolist()[:2] == [25.0, 100.0]
    assert y.tolist()[2] >= 0 and abs(y.tolist()[3] - math.log(2)) < 1e-6
    y.sum().backward()
    assert x.grad.tolist()[:2] == [1.0, 1.0]


def test_gelu_values():
    x = cr.tensor([-3.0, -1.0, 0.0, 1.0, 3.0], dtype=cr.float64)
    exact = [v * 0.5 * (1 + math.erf(v / math.sqrt(2))) for v in x.tolist()]
    np.testing.assert_allclose(F.gelu(x).numpy(), exact, rtol=1e-14, atol=1e-15)
    with pytest.raises(ValueError, match="approximate must be 'none' or 'tanh'"):
        F.gelu(x, approximate="fast")
    with pytest.raises(ValueError, match="approximate"):
        nn.GELU("sigmoid")


def test_erf_fallback_is_accurate_without_scipy():
    x = np.concatenate([np.linspace(-7, 7, 20001), [0.0, -0.0, 1e-300, 2.0, -2.0, 6.0, np.inf,
                                                    -np.inf]])
    ref = np.array([math.erf(v) for v in x])
    np.testing.assert_allclose(erf_chebyshev(x), ref, rtol=0, atol=2e-14)
    assert np.isnan(erf_chebyshev(np.array([np.nan]))[0])
    assert erf_chebyshev(np.zeros(2, np.float32)).dtype == np.float32
    np.testing.assert_allclose(erf_array(x), ref, rtol=0, atol=2e-14)


def test_gelu_without_scipy_matches_torch(monkeypatch):
    torch = pytest.importorskip("torch")
    import chainrule.nn.functional.activation as act
    monkeypatch.setattr(act, "_scipy_erf", None)
    xn = np.linspace(-8, 8, 1001).astype(np.float32)
    x = cr.tensor(xn, requires_grad=True)
    tx = torch.tensor(xn, requires_grad=True)
    y, ty = F.gelu(x), torch.nn.functional.gelu(tx)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-6, atol=1e-6)
    y.sum().backward()
    ty.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-6, atol=1e-6)


def test_silu_sigmoid_tanh_functional():
    x = cr.tensor([-2.0, 0.0, 2.0])
    np.testing.assert_allclose(F.silu(x).numpy(), x.numpy() / (1 + np.exp(-x.numpy())), rtol=1e-6)
    np.testing.assert_allclose(F.sigmoid(x).numpy(), 1 / (1 + np.exp(-x.numpy())), rtol=1e-6)
    np.testing.assert_allclose(F.tanh(x).numpy(), np.tanh(x.numpy()), rtol=1e-6)


def test_softmax_default_dim_and_dtype():
    x = cr.randn(2, 3)
    np.testing.assert_allclose(F.softmax(x).numpy(), F.softmax(x, dim=1).numpy())
    assert F.log_softmax(x, dim=1, dtype=cr.float64).dtype == cr.float64
    np.testing.assert_allclose(nn.Softmax(dim=-1)(x).sum(-1).numpy(), 1, rtol=1e-6)


def test_activations_keep_dtype():
    for dtype in (cr.float32, cr.float64):
        x = cr.randn(4, dtype=dtype)
        for f in (F.relu, F.leaky_relu, F.gelu, F.elu, F.silu, F.softplus, F.sigmoid, F.tanh,
                  lambda t: F.gelu(t, approximate="tanh")):
            assert f(x).dtype == dtype


def test_activation_errors_name_the_op():
    with pytest.raises(TypeError, match="leaky_relu: expected a floating-point tensor"):
        F.leaky_relu(cr.tensor([1, 2]))
    with pytest.raises(TypeError, match="elu: expected a cr.Tensor"):
        F.elu([1.0])
    with pytest.raises(ValueError, match="beta must be non-zero"):
        F.softplus(cr.ones(1), beta=0)


def test_inplace_flag_is_accepted():
    x = cr.tensor([-1.0, 1.0])
    y = nn.ReLU(inplace=True)(x)
    assert y.tolist() == [0.0, 1.0]


# ---- one_hot ---------------------------------------------------------------------------------
def test_one_hot_matches_torch():
    torch = pytest.importorskip("torch")
    idx = np.array([[0, 3], [2, 1]])
    ours = F.one_hot(cr.tensor(idx))
    theirs = torch.nn.functional.one_hot(torch.tensor(idx))
    assert ours.dtype == cr.int64 and ours.shape == tuple(theirs.shape)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    np.testing.assert_array_equal(F.one_hot(cr.tensor(idx), 6).numpy(),
                                  torch.nn.functional.one_hot(torch.tensor(idx), 6).numpy())
    assert F.one_hot(cr.tensor(2), 3).tolist() == [0, 0, 1]


def test_one_hot_errors():
    with pytest.raises(ValueError, match="non-negative"):
        F.one_hot(cr.tensor([-1, 0]))
    with pytest.raises(ValueError, match="smaller than num_classes=2"):
        F.one_hot(cr.tensor([0, 2]), 2)
    with pytest.raises(TypeError, match="integer tensor"):
        F.one_hot(cr.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match="empty"):
        F.one_hot(cr.tensor(np.zeros(0, dtype=np.int64)))
    assert F.one_hot(cr.tensor(np.zeros(0, dtype=np.int64)), 3).shape == (0, 3)
