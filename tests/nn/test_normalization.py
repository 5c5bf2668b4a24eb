"""BatchNorm1d and LayerNorm: values, gradients and running statistics against torch; gradchecks."""
import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn
from chainrule.autograd import gradcheck, gradgradcheck


def _rand(shape, seed=0, scale=1.0, shift=0.0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale + shift).astype(np.float32)


def _load(theirs, ours, torch):
    theirs.load_state_dict({k: torch.from_numpy(v.numpy().copy())
                            for k, v in ours.state_dict().items()})


def _randomise_affine(m, seed=5):
    g = np.random.default_rng(seed)
    with cr.no_grad():
        for p in m.parameters():
            p.data[...] = g.standard_normal(p.shape)


def _compare_step(ours, theirs, xn, torch, gy_seed=9):
    x, tx = cr.tensor(xn, requires_grad=True), torch.tensor(xn, requires_grad=True)
    y, ty = ours(x), theirs(tx)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-4, atol=1e-5)
    gy = _rand(xn.shape, gy_seed)
    y.backward(cr.tensor(gy))
    ty.backward(torch.tensor(gy))
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-4, atol=1e-5)
    for (name, p), tp in zip(ours.named_parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-4, atol=1e-4,
                                   err_msg=name)
        p.grad, tp.grad = None, None


# ---- BatchNorm1d -----------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(16, 4), (8, 4, 5), (1, 4, 3)])
@pytest.mark.parametrize("kw", [{}, {"affine": False}, {"momentum": None}, {"momentum": 0.3},
                                {"track_running_stats": False}, {"bias": False}])
def test_batchnorm_matches_torch_over_steps(shape, kw):
    torch = pytest.importorskip("torch")
    ours, theirs = nn.BatchNorm1d(4, **kw), torch.nn.BatchNorm1d(4, **kw)
    _randomise_affine(ours)
    _load(theirs, ours, torch)
    for step in range(3):
        _compare_step(ours, theirs, _rand(shape, step, scale=2.0, shift=1.5), torch)
    for (k, v), tv in zip(ours.state_dict().items(), theirs.state_dict().values()):
        np.testing.assert_allclose(v.numpy(), tv.numpy(), rtol=1e-5, atol=1e-6, err_msg=k)
    ours.eval()
    theirs.eval()
    _compare_step(ours, theirs, _rand(shape, 7, scale=2.0), torch)


def test_batchnorm_state_dict_keys_match_torch():
    torch = pytest.importorskip("torch")
    assert list(nn.BatchNorm1d(3).state_dict()) == list(torch.nn.BatchNorm1d(3).state_dict())
    assert list(nn.BatchNorm1d(3).state_dict()) == ["weight", "bias", "running_mean", "running_var",
                                                    "num_batches_tracked"]
    assert list(nn.BatchNorm1d(3, track_running_stats=False).state_dict()) == ["weight", "bias"]


def test_batchnorm_running_stats_use_unbiased_variance():
    bn = nn.BatchNorm1d(2, momentum=1.0)
    xn = _rand((5, 2), 1)
    bn(cr.tensor(xn))
    np.testing.assert_allclose(bn.running_mean.numpy(), xn.mean(0), rtol=1e-5)
    np.testing.assert_allclose(bn.running_var.numpy(), xn.var(0, ddof=1), rtol=1e-5)
    assert bn.num_batches_tracked.item() == 1 and bn.num_batches_tracked.dtype == cr.int64


def test_batchnorm_eval_uses_running_stats_and_does_not_update():
    bn = nn.BatchNorm1d(3)
    bn(cr.tensor(_rand((10, 3), 0, 3.0, 2.0)))
    bn.eval()
    rm, rv = bn.running_mean.numpy().copy(), bn.running_var.numpy().copy()
    n = bn.num_batches_tracked.item()
    xn = _rand((4, 3), 2)
    y = bn(cr.tensor(xn)).detach().numpy()
    np.testing.assert_allclose(y, (xn - rm) / np.sqrt(rv + 1e-5), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(bn.running_mean.numpy(), rm)
    assert bn.num_batches_tracked.item() == n
    assert bn(cr.tensor(xn[:1])).shape == (1, 3)    # a single sample is fine in eval


def test_batchnorm_training_normalises_batch():
    y = nn.BatchNorm1d(3)(cr.tensor(_rand((50, 3), 3, 4.0, -2.0))).detach().numpy()
    np.testing.assert_allclose(y.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(y.var(0), 1, atol=1e-3)


def test_batchnorm_errors():
    bn = nn.BatchNorm1d(16)
    with pytest.raises(ValueError, match=r"BatchNorm1d\(16\): expected input with 16 channels in "
                                         r"dimension 1, got shape \(4, 28\)"):
        bn(cr.zeros(4, 28))
    with pytest.raises(ValueError, match="expected 2D or 3D input"):
        bn(cr.zeros(16))
    with pytest.raises(ValueError, match="more than 1 value per channel when training"):
        bn(cr.zeros(1, 16))
    with pytest.raises(ValueError, match="num_features must be a positive int"):
        nn.BatchNorm1d(0)


@pytest.mark.parametrize("shape", [(4, 3), (3, 2, 4)])
def test_batch_norm_gradcheck(shape):
    x = cr.randn(*shape, dtype=cr.float64, requires_grad=True)
    w = cr.randn(shape[1], dtype=cr.float64, requires_grad=True)
    b = cr.randn(shape[1], dtype=cr.float64, requires_grad=True)

    def f(x, w, b):
        return F.batch_norm(x, None, None, w, b, training=True)

    assert gradcheck(f, (x, w, b))
    assert gradgradcheck(f, (x, w, b))
    assert gradcheck(lambda x: F.batch_norm(x, None, None, training=True), (x,))


def test_batch_norm_eval_gradcheck():
    x = cr.randn(4, 3, dtype=cr.float64, requires_grad=True)
    w = cr.randn(3, dtype=cr.float64, requires_grad=True)
    b = cr.randn(3, dtype=cr.float64, requires_grad=True)
    rm, rv = cr.randn(3, dtype=cr.float64), cr.rand(3, dtype=cr.float64) + 0.5
    assert gradcheck(lambda x, w, b: F.batch_norm(x, rm, rv, w, b), (x, w, b))


def test_batchnorm_module_gradcheck_in_float64():
    bn = nn.BatchNorm1d(3).double()
    _randomise_affine(bn)
    x = cr.randn(5, 3, 2, dtype=cr.float64, requires_grad=True)
    assert gradcheck(lambda x, w, b: bn(x), (x, bn.weight, bn.bias))


# ---- LayerNorm -------------------------------------------------------------------------------
@pytest.mark.parametrize("shape, norm", [((4, 6), 6), ((2, 3, 6), (6,)), ((2, 3, 4), (3, 4)),
                                         ((5, 1), 1)])
@pytest.mark.parametrize("kw", [{}, {"elementwise_affine": False}, {"bias": False},
                                {"eps": 1e-3}])
def test_layernorm_matches_torch(shape, norm, kw):
    torch = pytest.importorskip("torch")
    ours, theirs = nn.LayerNorm(norm, **kw), torch.nn.LayerNorm(norm, **kw)
    _randomise_affine(ours)
    _load(theirs, ours, torch)
    _compare_step(ours, theirs, _rand(shape, 1, scale=3.0, shift=1.0), torch)


def test_layernorm_state_dict_and_shape():
    torch = pytest.importorskip("torch")
    assert list(nn.LayerNorm(5).state_dict()) == list(torch.nn.LayerNorm(5).state_dict())
    ln = nn.LayerNorm([2, 3])
    assert ln.normalized_shape == (2, 3) and ln.weight.shape == (2, 3)


@pytest.mark.parametrize("shape, norm", [((3, 4), (4,)), ((2, 2, 3), (2, 3))])
def test_layer_norm_gradcheck(shape, norm):
    x = cr.randn(*shape, dtype=cr.float64, requires_grad=True)
    w = cr.randn(*norm, dtype=cr.float64, requires_grad=True)
    b = cr.randn(*norm, dtype=cr.float64, requires_grad=True)

    def f(x, w, b):
        return F.layer_norm(x, norm, w, b)

    assert gradcheck(f, (x, w, b))
    assert gradgradcheck(f, (x, w, b))
    assert gradgradcheck(lambda x: F.layer_norm(x, norm), (x,))


def test_layernorm_errors():
    ln = nn.LayerNorm(16)
    with pytest.raises(ValueError, match=r"LayerNorm\(\(16,\)\): expected input with trailing "
                                         r"shape \(16,\), got shape \(4, 28\)"):
        ln(cr.zeros(4, 28))
    with pytest.raises(ValueError, match="normalized_shape"):
        nn.LayerNorm(0)
    with pytest.raises(ValueError, match="layer_norm: expected input with shape"):
        F.layer_norm(cr.zeros(3, 4), (5,))


def test_second_order_through_a_small_network():
    torch = pytest.importorskip("torch")
    ours = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Tanh(), nn.LayerNorm(4),
                         nn.Linear(4, 1)).double()
    theirs = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.Tanh(),
                                 torch.nn.LayerNorm(4), torch.nn.Linear(4, 1)).double()
    _load(theirs, ours, torch)
    xn = np.random.default_rng(0).standard_normal((6, 3))
    x, tx = cr.tensor(xn, requires_grad=True), torch.tensor(xn, requires_grad=True)
    g, = cr.autograd.grad(ours(x).sum(), [x], create_graph=True)
    tg, = torch.autograd.grad(theirs(tx).sum(), [tx], create_graph=True)
    np.testing.assert_allclose(g.detach().numpy(), tg.detach().numpy(), rtol=1e-7, atol=1e-10)
    gg, = cr.autograd.grad((g * g).sum(), [x])
    tgg, = torch.autograd.grad((tg * tg).sum(), [tx])
    np.testing.assert_allclose(gg.numpy(), tgg.numpy(), rtol=1e-6, atol=1e-9)
