"""BatchNorm2d (F.batch_norm over the batch and both spatial axes) and Dropout1d/Dropout2d
(whole channels): against torch, and their statistics."""
import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd import gradcheck
from chainrule.errors import ConfigError, ShapeError
from chainrule.nn.functional.channel_dropout import dropout1d, dropout2d
from chainrule.nn.modules.batchnorm import BatchNorm2d
from chainrule.nn.modules.channel_dropout import Dropout1d, Dropout2d
from chainrule.nn.modules.conv import Conv2d


def _rand(shape, seed=0, scale=1.0, shift=0.0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale + shift).astype(np.float32)


@pytest.mark.parametrize("kw", [{}, {"affine": False}, {"momentum": None},
                                {"track_running_stats": False}, {"eps": 1e-3}], ids=str)
def test_batchnorm2d_matches_torch_over_steps(kw):
    torch = pytest.importorskip("torch")
    ours, theirs = BatchNorm2d(3, **kw), torch.nn.BatchNorm2d(3, **kw)
    g = np.random.default_rng(5)
    with cr.no_grad():
        for p in ours.parameters():
            p.data[...] = g.standard_normal(p.shape)
    theirs.load_state_dict({k: torch.from_numpy(v.numpy().copy())
                            for k, v in ours.state_dict().items()})
    for step in range(3):
        for mode in ("train", "eval") if step == 2 else ("train",):
            getattr(ours, mode)()
            getattr(theirs, mode)()
            xn = _rand((4, 3, 5, 6), step, 2.0, 1.5)
            x, tx = cr.tensor(xn, requires_grad=True), torch.tensor(xn, requires_grad=True)
            y, ty = ours(x), theirs(tx)
            np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-4,
                                       atol=1e-5)
            gy = _rand(xn.shape, 9)
            y.backward(cr.tensor(gy))
            ty.backward(torch.tensor(gy))
            np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-4, atol=1e-5)
            for p, tp in zip(ours.parameters(), theirs.parameters()):
                np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-4, atol=1e-4)
                p.grad, tp.grad = None, None
    for (k, v), tv in zip(ours.state_dict().items(), theirs.state_dict().values()):
        np.testing.assert_allclose(v.numpy(), tv.numpy(), rtol=1e-5, atol=1e-6, err_msg=k)
    assert list(ours.state_dict()) == list(theirs.state_dict())


def test_batchnorm2d_after_a_conv_and_gradcheck():
    """The conv's (C, H, W, N) layout goes straight in; values are per channel over N, H, W."""
    conv, bn = Conv2d(2, 3, 3, padding=1), BatchNorm2d(3)
    y = bn(conv(cr.tensor(_rand((5, 2, 4, 4), 3))))
    a = y.detach().numpy()
    np.testing.assert_allclose(a.mean(axis=(0, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(a.var(axis=(0, 2, 3)), 1, atol=1e-3)
    bn64 = BatchNorm2d(2, dtype=cr.float64)
    x = cr.tensor(np.random.default_rng(1).standard_normal((3, 2, 3, 2)), requires_grad=True)
    assert gradcheck(lambda t: bn64(t) ** 3, (x,))


def test_batchnorm2d_bad_input():
    bn = BatchNorm2d(3)
    with pytest.raises(ShapeError, match=r"BatchNorm2d\(3\).*4D.*\(2, 3, 4\)"):
        bn(cr.ones(2, 3, 4))
    with pytest.raises(ShapeError, match=r"BatchNorm2d\(3\).*3 channels.*\(2, 4, 5, 5\)"):
        bn(cr.ones(2, 4, 5, 5))
    assert bn.num_batches_tracked.item() == 0
    with pytest.raises(ConfigError):
        BatchNorm2d(0)


def test_dropout2d_zeros_whole_channels():
    cr.manual_seed(0)
    x = cr.ones(64, 32, 3, 3)
    y = Dropout2d(0.25)(x).numpy()
    per_map = y.reshape(64, 32, 9)
    assert ((per_map == 0).all(-1) | (per_map == np.float32(1 / 0.75)).all(-1)).all()
    kept = (per_map != 0).all(-1).mean()
    assert abs(kept - 0.75) < 0.05
    d = Dropout2d(0.5).eval()
    assert d(x) is x
    y1 = Dropout1d(0.5)(cr.ones(16, 8, 5)).numpy()
    assert ((y1 == 0).all(-1) | (y1 == 2.0).all(-1)).all()


def test_dropout2d_gradient_uses_the_mask_and_matches_torch_statistics():
    cr.manual_seed(1)
    x = cr.ones(8, 4, 2, 2, requires_grad=True)
    y = dropout2d(x, 0.5)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), y.detach().numpy())
    assert dropout1d(cr.ones(2, 3), 0.0).shape == (2, 3)
    np.testing.assert_array_equal(dropout2d(x, 1.0).detach().numpy(), 0)
    torch = pytest.importorskip("torch")
    assert repr(Dropout2d(0.3)) == repr(torch.nn.Dropout2d(0.3))


def test_dropout2d_bad_input():
    with pytest.raises(ConfigError, match="between 0 and 1"):
        Dropout2d(1.5)
    with pytest.raises(ShapeError, match=r"dropout2d.*\(4, 4\)"):
        dropout2d(cr.ones(4, 4))


def test_dropout2d_on_3d_input_is_channelwise_1d_as_torch():
    cr.manual_seed(2)
    with pytest.warns(UserWarning, match="dropout1d"):
        y = dropout2d(cr.ones(6, 5, 7), 0.5).numpy()
    assert ((y == 0).all(-1) | (y == 2.0).all(-1)).all()
    assert 0 < (y == 0).all(-1).sum() < 30            # per (sample, channel), not per sample
