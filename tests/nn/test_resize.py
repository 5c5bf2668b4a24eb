"""pad (constant, reflect, replicate, circular) and interpolate (nearest, nearest-exact, linear,
bilinear with and without align_corners) against torch; gradchecks; Upsample and the padding
layers; bad input."""
import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd import gradcheck, gradgradcheck
from chainrule.errors import ConfigError, ShapeError
from chainrule.nn.functional.padding import pad
from chainrule.nn.functional.resize import interpolate
from chainrule.nn.modules.padding import ConstantPad2d, ReflectionPad2d, ReplicationPad2d, ZeroPad2d
from chainrule.nn.modules.upsampling import Upsample

RNG = np.random.default_rng(3)


def _rand(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def _both(fn, tfn, xn, torch, *args, **kw):
    x, tx = cr.tensor(xn, requires_grad=True), torch.tensor(xn, requires_grad=True)
    y, ty = fn(x, *args, **kw), tfn(tx, *args, **kw)
    assert y.shape == tuple(ty.shape), (y.shape, tuple(ty.shape), args, kw)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-5, atol=1e-5,
                               err_msg=str((args, kw)))
    gy = _rand(*y.shape)
    y.backward(cr.tensor(gy))
    ty.backward(torch.tensor(gy))
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-5, atol=1e-5,
                               err_msg=str((args, kw)))


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("amounts", [(1, 2, 0, 3), (2, 2, 2, 2), (0, 4, 3, 0)], ids=str)
def test_pad_2d_matches_torch(mode, amounts):
    torch = pytest.importorskip("torch")
    _both(pad, torch.nn.functional.pad, _rand(2, 3, 5, 6), torch, amounts, mode=mode)


def test_pad_other_cases_match_torch():
    torch = pytest.importorskip("torch")
    tp = torch.nn.functional.pad
    _both(pad, tp, _rand(2, 3, 5, 6), torch, (-1, 2, 1, -2))             # negative crops
    _both(pad, tp, _rand(2, 3, 5, 6), torch, (1, 1), value=2.5)
    _both(pad, tp, _rand(2, 3, 5, 6), torch, (0, 0, 1, 0, 1, 1, 2, 0))   # every dim
    for mode in ("reflect", "replicate", "circular"):
        _both(pad, tp, _rand(2, 3, 7), torch, (3, 2), mode=mode)          # 1-D
        _both(pad, tp, _rand(3, 5, 6), torch, (1, 2, 2, 1), mode=mode)    # unbatched 2-D
        _both(pad, tp, _rand(1, 2, 3, 4, 5), torch, (1, 1, 2, 0, 1, 2), mode=mode)   # 3-D


NEAREST = [dict(size=(10, 12)), dict(size=(3, 4)), dict(size=(7, 13)), dict(scale_factor=2),
           dict(scale_factor=(1.5, 0.7)), dict(scale_factor=3, recompute_scale_factor=True),
           dict(scale_factor=(2, 3)), dict(size=(5, 6))]


@pytest.mark.parametrize("kw", NEAREST, ids=str)
@pytest.mark.parametrize("mode", ["nearest", "nearest-exact", "bilinear-ac", "bilinear"])
def test_interpolate_2d_matches_torch(kw, mode):
    torch = pytest.importorskip("torch")
    kw = dict(kw)
    if mode.startswith("bilinear"):
        kw["align_corners"] = mode.endswith("ac")
        mode = "bilinear"
    _both(interpolate, torch.nn.functional.interpolate, _rand(2, 3, 5, 6), torch, mode=mode, **kw)


@pytest.mark.parametrize("kw", [dict(size=11), dict(scale_factor=0.5), dict(scale_factor=2.5)],
                         ids=str)
def test_interpolate_1d_matches_torch(kw):
    torch = pytest.importorskip("torch")
    for mode, extra in (("nearest", {}), ("linear", {"align_corners": False}),
                        ("linear", {"align_corners": True})):
        _both(interpolate, torch.nn.functional.interpolate, _rand(2, 3, 6), torch, mode=mode,
              **kw, **extra)


def _t64(*shape):
    return cr.tensor(RNG.standard_normal(shape), dtype=cr.float64, requires_grad=True)


@pytest.mark.parametrize("fn", [
    lambda x: pad(x, (1, 2, -1, 1)),
    lambda x: pad(x, (2, 1, 1, 2), mode="reflect"),
    lambda x: pad(x, (2, 1, 1, 2), mode="replicate"),
    lambda x: pad(x, (2, 1, 1, 2), mode="circular"),
    lambda x: interpolate(x, size=(7, 5), mode="bilinear"),
    lambda x: interpolate(x, scale_factor=2),
    lambda x: interpolate(x, size=(5, 7)),
], ids=["constant", "reflect", "replicate", "circular", "bilinear", "nearest-x2", "nearest"])
def test_gradcheck_and_gradgradcheck(fn):
    x = _t64(2, 2, 4, 3)
    assert gradcheck(fn, (x,))
    assert gradgradcheck(fn, (x,))


def test_layers_match_torch():
    torch = pytest.importorskip("torch")
    pairs = [(ZeroPad2d(1), torch.nn.ZeroPad2d(1)),
             (ZeroPad2d((1, 0, 2, 3)), torch.nn.ZeroPad2d((1, 0, 2, 3))),
             (ConstantPad2d((1, 1, 0, 2), 3.5), torch.nn.ConstantPad2d((1, 1, 0, 2), 3.5)),
             (ReflectionPad2d(2), torch.nn.ReflectionPad2d(2)),
             (ReplicationPad2d((1, 2, 3, 0)), torch.nn.ReplicationPad2d((1, 2, 3, 0))),
             (Upsample(scale_factor=2), torch.nn.Upsample(scale_factor=2)),
             (Upsample(size=(7, 9), mode="bilinear", align_corners=True),
              torch.nn.Upsample(size=(7, 9), mode="bilinear", align_corners=True))]
    xn = _rand(2, 3, 5, 6)
    for ours, theirs in pairs:
        assert repr(ours) == repr(theirs)
        np.testing.assert_allclose(ours(cr.tensor(xn)).numpy(), theirs(torch.tensor(xn)).numpy(),
                                   rtol=1e-5, atol=1e-6, err_msg=repr(ours))


def test_nearest_upsampling_by_an_integer_is_a_repeat():
    x = cr.tensor([[[[1.0, 2.0], [3.0, 4.0]]]], requires_grad=True)
    y = interpolate(x, scale_factor=2)
    np.testing.assert_array_equal(y.detach().numpy()[0, 0],
                                  np.kron([[1, 2], [3, 4]], np.ones((2, 2))))
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full((1, 1, 2, 2), 4.0))


def test_bad_input():
    x = cr.ones(1, 2, 4, 4)
    with pytest.raises(ShapeError, match=r"reflect.*smaller than.*size 4"):
        pad(x, (4, 0, 0, 0), mode="reflect")
    with pytest.raises(ShapeError, match="needs a 2D or 3D"):
        pad(x, (1, 1), mode="replicate")
    with pytest.raises(ConfigError, match="mode"):
        pad(x, (1, 1), mode="wrap")
    with pytest.raises(ShapeError, match="even"):
        pad(x, (1, 1, 1))
    with pytest.raises(ShapeError, match="negative size"):
        pad(x, (-3, -2))
    with pytest.raises(ConfigError, match="either size or scale_factor"):
        interpolate(x)
    with pytest.raises(ConfigError, match="either size or scale_factor"):
        interpolate(x, size=3, scale_factor=2)
    with pytest.raises(ShapeError, match="bilinear mode needs 4D"):
        interpolate(cr.ones(1, 2, 4), size=3, mode="bilinear")
    with pytest.raises(ConfigError, match="align_corners"):
        interpolate(x, size=3, align_corners=True)
    with pytest.raises(ConfigError, match="size"):
        interpolate(x, size=(3, 0))
    with pytest.raises(ConfigError, match="padding"):
        ZeroPad2d((1, 2, 3))
