"""Linear, Identity, Flatten, Unflatten: initialisation, values and gradients against torch."""
import math

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.autograd import gradcheck, gradgradcheck


def _np(t):
    return t.detach().numpy()


def _copy_into_torch(ours, theirs, torch):
    theirs.load_state_dict({k: torch.from_numpy(v.numpy().copy())
                            for k, v in ours.state_dict().items()})


def test_linear_shapes_dtype_and_parameters():
    fc = nn.Linear(29, 16)
    assert fc.weight.shape == (16, 29) and fc.bias.shape == (16,)
    assert fc.weight.dtype == cr.float32 and isinstance(fc.weight, nn.Parameter)
    assert fc.weight.requires_grad and fc.weight.is_leaf
    assert [n for n, _ in fc.named_parameters()] == ["weight", "bias"]
    assert nn.Linear(2, 3, bias=False).bias is None
    assert nn.Linear(2, 3, dtype=cr.float64).weight.dtype == cr.float64


def test_linear_init_bounds_and_spread():
    cr.manual_seed(0)
    fc = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    w, b = fc.weight.data, fc.bias.data
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    # U(-bound, bound): variance bound² / 3, and the draws reach close to both ends
    assert abs(w.var() - bound ** 2 / 3) < 0.02 * bound ** 2
    assert w.max() > 0.99 * bound and w.min() < -0.99 * bound
    assert abs(w.mean()) < 0.01 * bound


def test_linear_init_matches_torch_bounds():
    torch = pytest.importorskip("torch")
    for fan_in in (1, 7, 64):
        t = torch.nn.Linear(fan_in, 50)
        ours = nn.Linear(fan_in, 50)
        tb = t.weight.detach().abs().max().item()
        assert np.abs(ours.weight.data).max() <= 1 / math.sqrt(fan_in) + 1e-7
        assert tb <= 1 / math.sqrt(fan_in) + 1e-7


def test_linear_generator_reproducible():
    g1, g2 = cr.Generator().manual_seed(3), cr.Generator().manual_seed(3)
    a, b = nn.Linear(4, 3), nn.Linear(4, 3)
    a.reset_parameters(generator=g1)
    b.reset_parameters(generator=g2)
    np.testing.assert_array_equal(a.weight.data, b.weight.data)


@pytest.mark.parametrize("shape", [(5, 7), (2, 3, 7), (7,), (2, 2, 2, 7)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_matches_torch(shape, bias):
    torch = pytest.importorskip("torch")
    ours, theirs = nn.Linear(7, 4, bias=bias), torch.nn.Linear(7, 4, bias=bias)
    _copy_into_torch(ours, theirs, torch)
    xn = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    x = cr.tensor(xn, requires_grad=True)
    tx = torch.tensor(xn, requires_grad=True)
    y, ty = ours(x), theirs(tx)
    np.testing.assert_allclose(_np(y), ty.detach().numpy(), rtol=1e-5, atol=1e-6)
    gy = np.random.default_rng(1).standard_normal(y.shape).astype(np.float32)
    y.backward(cr.tensor(gy))
    ty.backward(torch.tensor(gy))
    np.testing.assert_allclose(_np(x.grad), tx.grad.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(_np(ours.weight.grad), theirs.weight.grad.numpy(), rtol=1e-5,
                               atol=1e-5)
    if bias:
        np.testing.assert_allclose(_np(ours.bias.grad), theirs.bias.grad.numpy(), rtol=1e-5,
                                   atol=1e-5)


def test_linear_gradcheck_and_gradgradcheck():
    fc = nn.Linear(3, 2).double()
    x = cr.randn(4, 3, dtype=cr.float64, requires_grad=True)
    assert gradcheck(lambda x, w, b: fc(x), (x, fc.weight, fc.bias))
    assert gradgradcheck(lambda x, w, b: fc(x), (x, fc.weight, fc.bias))
    x3 = cr.randn(2, 2, 3, dtype=cr.float64, requires_grad=True)
    assert gradcheck(lambda x, w, b: fc(x), (x3, fc.weight, fc.bias))
    assert gradgradcheck(lambda x, w, b: fc(x).tanh(), (x3, fc.weight, fc.bias))


def test_linear_only_needed_grads_are_computed():
    fc = nn.Linear(3, 2)
    fc.weight.requires_grad_(False)
    x = cr.randn(4, 3)
    fc(x).sum().backward()
    assert fc.weight.grad is None and fc.bias.grad is not None
    np.testing.assert_allclose(_np(fc.bias.grad), [4.0, 4.0])


def test_linear_errors():
    with pytest.raises(ValueError, match="in_features must be a positive int, got 0"):
        nn.Linear(0, 3)
    with pytest.raises(ValueError, match="out_features must be a positive int, got -1"):
        nn.Linear(3, -1)
    with pytest.raises(ValueError, match="in_features must be a positive int, got 2.5"):
        nn.Linear(2.5, 3)
    fc = nn.Linear(29, 16)
    with pytest.raises(ValueError, match=r"Linear\(29, 16\): expected input with last dimension "
                                         r"29, got shape \(4, 28\)"):
        fc(cr.zeros(4, 28))
    with pytest.raises(TypeError, match="input dtype float64 does not match weight dtype float32"):
        fc(cr.zeros(4, 29, dtype=cr.float64))
    with pytest.raises(TypeError, match="expected input to be a cr.Tensor"):
        fc(np.zeros((4, 29), dtype=np.float32))
    with pytest.raises(TypeError, match="floating-point"):
        nn.Linear(2, 2, dtype=cr.int64)


def test_identity_flatten_unflatten_match_torch():
    torch = pytest.importorskip("torch")
    xn = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)
    x, tx = cr.tensor(xn), torch.tensor(xn)
    x_same = nn.Identity(54, unused="ignored")(x)
    assert x_same is x
    for args in [(), (0,), (1, 2), (2, -1), (0, -1)]:
        y, ty = nn.Flatten(*args)(x), torch.nn.Flatten(*args)(tx)
        assert y.shape == tuple(ty.shape)
        np.testing.assert_array_equal(y.numpy(), ty.numpy())
    y, ty = nn.Unflatten(-1, (5, 1))(x), torch.nn.Unflatten(-1, (5, 1))(tx)
    assert y.shape == tuple(ty.shape)
    y = nn.Unflatten(1, (3, 4, 5))(nn.Flatten()(x))
    np.testing.assert_array_equal(y.numpy(), xn)
    with pytest.raises(TypeError, match="tuple of ints"):
        nn.Unflatten(1, "ab")


def test_flatten_gradient():
    x = cr.randn(2, 3, 4, dtype=cr.float64, requires_grad=True)
    assert gradcheck(lambda x: nn.Flatten()(x) * 2, (x,))


def test_linear_inside_training_step_reduces_loss():
    cr.manual_seed(0)
    x = cr.randn(64, 5)
    true_w = cr.randn(5, 1)
    y = x @ true_w
    fc = nn.Linear(5, 1)
    losses = []
    for _ in range(50):
        fc.zero_grad()
        loss = ((fc(x) - y) ** 2).mean()
        loss.backward()
        losses.append(loss.item())
        with cr.no_grad():
            for p in fc.parameters():
                p -= 0.1 * p.grad
    assert losses[-1] < 0.05 * losses[0]
