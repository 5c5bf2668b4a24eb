"""Convolutions and unfold/fold: values and gradients against torch over a grid of stride, padding,
dilation and groups with odd sizes; gradcheck and gradgradcheck in float64; the layers' init,
state dicts and reprs; the errors for bad input."""
import itertools
import math

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd import gradcheck, gradgradcheck
from chainrule.errors import ConfigError, DTypeError, ShapeError
from chainrule.nn.functional import _windows
from chainrule.nn.functional.conv import (conv1d, conv2d, conv_transpose1d, conv_transpose2d, fold,
                                          unfold)
from chainrule.nn.modules.conv import Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d

RNG = np.random.default_rng(20261206)


def _rand(*shape, dtype=np.float32):
    return RNG.standard_normal(shape).astype(dtype)


def _both(fn, tfn, arrays, torch, tol=1e-4, **kw):
    """Run fn on chainrule tensors and tfn on torch tensors; compare outputs and gradients."""
    ours = [cr.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    y, ty = fn(*ours, **kw), tfn(*theirs, **kw)
    assert y.shape == tuple(ty.shape), (y.shape, tuple(ty.shape), kw)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=tol, atol=tol,
                               err_msg=str(kw))
    gy = _rand(*y.shape)
    y.backward(cr.tensor(gy))
    ty.backward(torch.tensor(gy))
    for i, (a, ta) in enumerate(zip(ours, theirs)):
        np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy(), rtol=tol, atol=tol,
                                   err_msg=f"input {i}, {kw}")


# ---- values and gradients against torch ----------------------------------------------------
CONV2D_GRID = [dict(stride=s, padding=p, dilation=d, groups=g)
               for s, p, d, g in itertools.product([1, 2, (2, 3)], [0, 1, (2, 1)], [1, (2, 1)],
                                                   [1, 2])]


@pytest.mark.parametrize("kw", CONV2D_GRID, ids=str)
def test_conv2d_matches_torch(kw):
    torch = pytest.importorskip("torch")
    g = kw["groups"]
    arrays = [_rand(3, 4, 9, 7), _rand(6, 4 // g, 3, 2), _rand(6)]
    _both(conv2d, torch.nn.functional.conv2d, arrays, torch, **kw)


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("kw", [dict(padding="same"), dict(padding="same", dilation=(2, 3)),
                                dict(padding="valid", stride=2), dict(groups=4),
                                dict(groups=4, padding=1, stride=2)], ids=str)
@pytest.mark.parametrize("kernel", [(3, 3), (2, 4), (1, 1)], ids=str)
def test_conv2d_same_valid_depthwise_match_torch(kw, kernel):
    torch = pytest.importorskip("torch")
    g = kw.get("groups", 1)
    arrays = [_rand(2, 4, 8, 9), _rand(8, 4 // g, *kernel), _rand(8)]
    _both(conv2d, torch.nn.functional.conv2d, arrays, torch, **kw)


def test_conv2d_without_bias_and_unbatched_match_torch():
    torch = pytest.importorskip("torch")
    _both(conv2d, torch.nn.functional.conv2d, [_rand(2, 3, 6, 6), _rand(4, 3, 3, 3)], torch,
          padding=1)
    _both(conv2d, torch.nn.functional.conv2d, [_rand(3, 6, 5), _rand(4, 3, 3, 3), _rand(4)],
          torch, stride=2)


@pytest.mark.parametrize("kw", [dict(), dict(stride=2, padding=1), dict(dilation=2, groups=2),
                                dict(padding="same", dilation=3), dict(stride=3, padding=2)],
                         ids=str)
def test_conv1d_matches_torch(kw):
    torch = pytest.importorskip("torch")
    g = kw.get("groups", 1)
    arrays = [_rand(3, 4, 11), _rand(6, 4 // g, 3), _rand(6)]
    _both(conv1d, torch.nn.functional.conv1d, arrays, torch, **kw)


@pytest.mark.parametrize("kw", [dict(), dict(stride=2), dict(stride=2, padding=1, output_padding=1),
                                dict(stride=(3, 2), padding=(1, 0), dilation=(1, 2)),
                                dict(groups=2, stride=2, output_padding=(1, 0)),
                                dict(dilation=2, output_padding=1, stride=1)], ids=str)
def test_conv_transpose2d_matches_torch(kw):
    torch = pytest.importorskip("torch")
    g = kw.get("groups", 1)
    arrays = [_rand(2, 4, 5, 6), _rand(4, 6 // g, 3, 2), _rand(6)]
    _both(conv_transpose2d, torch.nn.functional.conv_transpose2d, arrays, torch, **kw)


def test_conv_transpose1d_matches_torch():
    torch = pytest.importorskip("torch")
    for kw in (dict(stride=2, padding=1, output_padding=1), dict(groups=2, dilation=2)):
        _both(conv_transpose1d, torch.nn.functional.conv_transpose1d,
              [_rand(2, 4, 7), _rand(4, 3, 3), _rand(6 if "groups" in kw else 3)], torch, **kw)


@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=(3, 2), stride=2, padding=1),
                                dict(kernel_size=3, dilation=2, padding=2, stride=(1, 2))], ids=str)
def test_unfold_and_fold_match_torch(kw):
    torch = pytest.importorskip("torch")
    _both(unfold, torch.nn.functional.unfold, [_rand(2, 3, 7, 8)], torch, **kw)
    cols = unfold(cr.tensor(_rand(2, 3, 7, 8)), **kw)
    _both(lambda c, **k: fold(c, (7, 8), **k),
          lambda c, **k: torch.nn.functional.fold(c, (7, 8), **k),
          [_rand(*cols.shape)], torch, **kw)


def test_fold_adds_overlapping_windows():
    ones = cr.ones(1, 1, 3, 3)
    counts = fold(unfold(ones, 2), (3, 3), 2)[0, 0].numpy()
    np.testing.assert_array_equal(counts, [[1, 2, 1], [2, 4, 2], [1, 2, 1]])
    # stride and dilation: every input cell is counted once per window that reads it
    x = cr.ones(1, 1, 7, 7)
    for kw in (dict(stride=2), dict(dilation=2), dict(stride=3, dilation=2, padding=1)):
        c = fold(unfold(x, 3, **kw), (7, 7), 3, **kw)[0, 0].numpy()
        expected = np.zeros((7, 7))
        s, d, p = kw.get("stride", 1), kw.get("dilation", 1), kw.get("padding", 0)
        n_out = (7 + 2 * p - d * 2 - 1) // s + 1
        for oh, ow, i, j in itertools.product(range(n_out), range(n_out), range(3), range(3)):
            r, q = oh * s + i * d - p, ow * s + j * d - p
            if 0 <= r < 7 and 0 <= q < 7:
                expected[r, q] += 1
        np.testing.assert_array_equal(c, expected, err_msg=str(kw))


def test_blocked_columns_match_one_block(monkeypatch):
    """Large convolutions run block by block over output rows; the result must not depend on it."""
    torch = pytest.importorskip("torch")
    monkeypatch.setattr(_windows, "BLOCK_BYTES", 1)         # one output row per block
    for kw in (dict(padding=1), dict(stride=2, dilation=2, padding=2, groups=2)):
        g = kw.get("groups", 1)
        _both(conv2d, torch.nn.functional.conv2d,
              [_rand(2, 4, 9, 8), _rand(6, 4 // g, 3, 3), _rand(6)], torch, **kw)
        _both(conv_transpose2d, torch.nn.functional.conv_transpose2d,
              [_rand(2, 4, 5, 4), _rand(4, 6 // g, 3, 3), _rand(6)], torch, **kw)
    _both(unfold, torch.nn.functional.unfold, [_rand(2, 3, 7, 8)], torch, kernel_size=3,
          padding=1)


def test_conv_output_feeds_numpy_and_next_layer():
    """Outputs are (N, C, H, W) views of a (C, H, W, N) layout: values are as laid out in NCHW."""
    x = cr.tensor(_rand(2, 3, 5, 5))
    w = cr.tensor(_rand(4, 3, 3, 3))
    y = conv2d(x, w, padding=1)
    ref = np.zeros((2, 4, 5, 5), np.float32)
    xp = np.pad(x.numpy(), ((0, 0), (0, 0), (1, 1), (1, 1)))
    for i, j in itertools.product(range(3), range(3)):
        ref += np.einsum("nchw,oc->nohw", xp[:, :, i:i + 5, j:j + 5], w.numpy()[:, :, i, j])
    np.testing.assert_allclose(y.numpy(), ref, rtol=1e-5, atol=1e-5)
    assert np.ascontiguousarray(y.numpy()).shape == (2, 4, 5, 5)
    np.testing.assert_allclose(y.reshape(2, -1).numpy(), ref.reshape(2, -1), rtol=1e-5, atol=1e-5)


# ---- gradcheck and gradgradcheck in float64 ---------------------------------------------------
def _t64(*shape):
    return cr.tensor(RNG.standard_normal(shape), dtype=cr.float64, requires_grad=True)


@pytest.mark.parametrize("kw", [dict(padding=1), dict(stride=2, dilation=(1, 2), groups=2),
                                dict(padding="same", dilation=2)], ids=str)
def test_conv2d_gradcheck_and_gradgradcheck(kw):
    x, w, b = _t64(2, 4, 5, 4), _t64(4, 4 // kw.get("groups", 1), 3, 2), _t64(4)
    f = lambda x, w, b: conv2d(x, w, b, **kw)              # noqa: E731
    assert gradcheck(f, (x, w, b))
    assert gradgradcheck(f, (x, w, b))


def test_conv_transpose_conv1d_and_fold_gradchecks():
    x, w, b = _t64(2, 4, 4, 3), _t64(4, 3, 3, 2), _t64(6)
    f = lambda x, w, b: conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1,  # noqa
                                         groups=2)
    assert gradcheck(f, (x, w, b)) and gradgradcheck(f, (x, w, b))
    x1, w1 = _t64(2, 3, 7), _t64(4, 3, 3)
    g1 = lambda x, w: conv1d(x, w, stride=2, padding=1)     # noqa: E731
    assert gradcheck(g1, (x1, w1)) and gradgradcheck(g1, (x1, w1))
    h = lambda x: fold(unfold(x, 2, stride=1) * 1.5, (4, 3), 2)   # noqa: E731
    assert gradcheck(h, (x,)) and gradgradcheck(h, (x,))


def test_second_derivative_of_a_nonlinear_conv_net():
    """Hessian-vector products through conv → tanh → conv, against finite differences."""
    x, w1, w2 = _t64(1, 2, 5, 5), _t64(3, 2, 3, 3), _t64(2, 3, 2, 2)
    f = lambda x, w1, w2: conv2d(conv2d(x, w1, padding=1).tanh(), w2, stride=2)   # noqa: E731
    assert gradgradcheck(f, (x, w1, w2))


# ---- the layers ---------------------------------------------------------------------------------
def _load(theirs, ours, torch):
    theirs.load_state_dict({k: torch.from_numpy(v.numpy().copy())
                            for k, v in ours.state_dict().items()})


@pytest.mark.parametrize("make", [
    lambda m: m.Conv2d(4, 6, 3, stride=2, padding=1, groups=2),
    lambda m: m.Conv2d(4, 8, (3, 2), padding="same", dilation=2, padding_mode="reflect"),
    lambda m: m.Conv2d(4, 4, 3, padding=2, padding_mode="circular", bias=False),
    lambda m: m.Conv2d(4, 6, 3, padding=1, padding_mode="replicate"),
    lambda m: m.Conv1d(4, 6, 5, stride=2, padding=2),
    lambda m: m.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2),
    lambda m: m.ConvTranspose1d(4, 3, 4, stride=3, dilation=2),
], ids=["conv2d-groups", "conv2d-same-reflect", "conv2d-circular", "conv2d-replicate", "conv1d",
        "convT2d", "convT1d"])
def test_layers_match_torch(make):
    torch = pytest.importorskip("torch")
    ours = make(_Mods)
    theirs = make(torch.nn)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert repr(ours) == repr(theirs)
    _load(theirs, ours, torch)
    shape = (2, 4, 9, 8) if "2d" in type(ours).__name__ else (2, 4, 11)
    xn = _rand(*shape)
    x, tx = cr.tensor(xn, requires_grad=True), torch.tensor(xn, requires_grad=True)
    y, ty = ours(x), theirs(tx)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-4, atol=1e-4)
    gy = _rand(*y.shape)
    y.backward(cr.tensor(gy))
    ty.backward(torch.tensor(gy))
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-4, atol=1e-4)
    for (name, p), tp in zip(ours.named_parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-4, atol=1e-4,
                                   err_msg=name)


class _Mods:
    Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d = Conv1d, Conv2d, ConvTranspose1d, \
        ConvTranspose2d


def test_conv_transpose_output_size_matches_torch():
    torch = pytest.importorskip("torch")
    ours = ConvTranspose2d(3, 2, 3, stride=2, padding=1)
    theirs = torch.nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1)
    _load(theirs, ours, torch)
    xn = _rand(1, 3, 4, 5)
    for size in ((7, 9), (8, 10), (8, 9)):
        y = ours(cr.tensor(xn), output_size=size)
        ty = theirs(torch.tensor(xn), output_size=size)
        np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-5,
                                   atol=1e-5)
    with pytest.raises(ShapeError, match="output_size"):
        ours(cr.tensor(xn), output_size=(10, 10))


def test_default_init_as_torch():
    cr.manual_seed(0)
    conv = Conv2d(16, 32, 3)
    bound = 1 / math.sqrt(16 * 9)
    w, b = conv.weight.detach().numpy(), conv.bias.detach().numpy()
    assert w.shape == (32, 16, 3, 3) and b.shape == (32,)
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    assert abs(w.var() - bound ** 2 / 3) < 0.05 * bound ** 2
    convt = ConvTranspose2d(8, 6, 3, groups=2)
    assert convt.weight.shape == (8, 3, 3, 3)                   # (in, out/groups, kh, kw)
    assert np.abs(convt.weight.detach().numpy()).max() <= 1 / math.sqrt(3 * 9)
    assert Conv2d(2, 4, 3, bias=False).bias is None
    assert Conv2d(2, 4, 3, dtype=cr.float64).weight.dtype == cr.float64
    g1, g2 = cr.Generator().manual_seed(3), cr.Generator().manual_seed(3)
    a, c = Conv1d(3, 4, 5), Conv1d(3, 4, 5)
    a.reset_parameters(generator=g1)
    c.reset_parameters(generator=g2)
    np.testing.assert_array_equal(a.weight.detach().numpy(), c.weight.detach().numpy())


# ---- bad input ---------------------------------------------------------------------------
def test_channel_mismatch_names_layer_argument_and_shapes():
    conv = Conv2d(3, 8, 3)
    with pytest.raises(ShapeError) as e:
        conv(cr.ones(2, 4, 8, 8))
    msg = str(e.value)
    assert "Conv2d(3, 8" in msg and "(2, 4, 8, 8)" in msg and "(8, 3, 3, 3)" in msg
    assert "channels" in msg
    with pytest.raises(ShapeError, match=r"conv2d.*groups=2.*\(4, 2, 3, 3\).*\(1, 6, 5, 5\)"):
        conv2d(cr.ones(1, 6, 5, 5), cr.ones(4, 2, 3, 3), groups=2)
    with pytest.raises(ShapeError, match=r"conv_transpose2d.*\(1, 3, 5, 5\).*\(4, 2, 3, 3\)"):
        conv_transpose2d(cr.ones(1, 3, 5, 5), cr.ones(4, 2, 3, 3))


def test_kernel_larger_than_padded_input():
    with pytest.raises(ShapeError) as e:
        Conv2d(1, 2, 5)(cr.ones(1, 1, 3, 3))
    msg = str(e.value)
    assert "Conv2d(1, 2" in msg and "larger than the padded input" in msg
    assert "(1, 1, 3, 3)" in msg and "(5, 5)" in msg
    assert Conv2d(1, 2, 5, padding=1)(cr.ones(1, 1, 3, 3)).shape == (1, 2, 1, 1)
    with pytest.raises(ShapeError, match="dilation"):
        conv1d(cr.ones(1, 1, 5), cr.ones(1, 1, 3), dilation=3)


@pytest.mark.parametrize("bad", [dict(stride=0), dict(stride=-1), dict(dilation=0),
                                 dict(padding=-1), dict(stride=(1, 0)), dict(stride=1.5)], ids=str)
def test_non_positive_hyperparameters_are_config_errors(bad):
    name = next(iter(bad))
    with pytest.raises(ConfigError, match=f"Conv2d.*{name}"):
        Conv2d(2, 2, 3, **bad)
    with pytest.raises(ConfigError, match=f"conv2d.*{name}"):
        conv2d(cr.ones(1, 2, 5, 5), cr.ones(2, 2, 3, 3), **bad)


def test_groups_must_divide_channels():
    with pytest.raises(ConfigError, match=r"Conv2d\(4, 6.*in_channels.*groups=3"):
        Conv2d(4, 6, 3, groups=3)
    with pytest.raises(ConfigError, match=r"out_channels.*groups=4"):
        Conv2d(4, 6, 3, groups=4)
    with pytest.raises(ConfigError, match=r"groups=3.*\(6, 2, 3, 3\).*\(1, 6, 5, 5\)|"
                                          r"groups=3.*\(4, 2, 3, 3\)"):
        conv2d(cr.ones(1, 6, 5, 5), cr.ones(4, 2, 3, 3), groups=3)
    with pytest.raises(ConfigError, match="groups"):
        conv2d(cr.ones(1, 4, 5, 5), cr.ones(4, 4, 3, 3), groups=0)


def test_other_bad_input():
    with pytest.raises(ConfigError, match="same.*strided"):
        Conv2d(2, 2, 3, stride=2, padding="same")
    with pytest.raises(ConfigError, match="padding_mode"):
        Conv2d(2, 2, 3, padding_mode="mirror")
    with pytest.raises(ConfigError, match="output_padding"):
        ConvTranspose2d(2, 2, 3, stride=2, output_padding=2)
    with pytest.raises(ShapeError, match=r"4D \(batched\).*\(2, 3\)"):
        Conv2d(2, 2, 3)(cr.ones(2, 3))
    with pytest.raises(DTypeError, match="dtype"):
        conv2d(cr.ones(1, 2, 5, 5, dtype=cr.float64), cr.ones(2, 2, 3, 3))
    with pytest.raises(ShapeError, match="bias"):
        conv2d(cr.ones(1, 2, 5, 5), cr.ones(2, 2, 3, 3), cr.ones(3))
    with pytest.raises(ShapeError, match="divisible"):
        fold(cr.ones(1, 5, 4), (3, 3), 2)
    with pytest.raises(ShapeError, match="blocks"):
        fold(cr.ones(1, 4, 5), (3, 3), 2)


def test_errors_leave_the_layer_unchanged():
    conv = Conv2d(3, 4, 3)
    before = {k: v.numpy().copy() for k, v in conv.state_dict().items()}
    with pytest.raises(ShapeError):
        conv(cr.ones(1, 5, 6, 6))
    for k, v in conv.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), before[k])
