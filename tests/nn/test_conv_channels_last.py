"""The channels-last convolution path (``_conv_gemm``: taken from 32 channels per group).

Every test of test_conv.py and test_standin_images.py runs again here with the threshold at 1,
so every convolution of their grids (stride, padding, dilation, groups, odd sizes, blocked,
gradcheck/gradgradcheck, the stand-in device) takes the channels-last path; then real-size
cases at ≥ 32 channels per group against torch, inputs and gradients in mixed layouts, and the
first-order weight gradient made from the forward pass's kept input copy against the recorded
(create_graph) one."""
import importlib.util
import pathlib

import numpy as np
import pytest

import chainrule as cr
from chainrule.nn.functional import _conv_gemm, _windows
from chainrule.nn.functional.conv import conv2d, conv_transpose2d

RNG = np.random.default_rng(7)


def _sibling(name):
    """A test module beside this one, loaded under another name (tests/ is not a package)."""
    path = pathlib.Path(__file__).with_name(f"{name}.py")
    spec = importlib.util.spec_from_file_location(f"_channels_last_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def every_conv_channels_last(monkeypatch):
    monkeypatch.setattr(_conv_gemm, "CHANNELS_LAST_FROM", 1)


for _module in (_sibling("test_conv"), _sibling("test_standin_images")):
    for _name, _obj in vars(_module).items():
        if _name.startswith("test_") and callable(_obj):
            globals()[_name] = pytest.mark.usefixtures("every_conv_channels_last")(_obj)
        elif _name == "ns":
            ns = _obj


def test_threshold_reaches_the_grid(every_conv_channels_last):
    assert _conv_gemm.channels_last((6, 1, 3, 3))


# ---- real sizes: ≥ 32 channels per group, no threshold change ---------------------------------
def _rand(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def _against_torch(fn, tfn, arrays, gy_layout=None, tol=2e-4, **kw):
    torch = pytest.importorskip("torch")
    ours = [cr.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    y, ty = fn(*ours, **kw), tfn(*theirs, **kw)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=tol, atol=tol)
    gy = _rand(*y.shape)
    g = gy if gy_layout is None else np.ascontiguousarray(gy.transpose(gy_layout)).transpose(
        np.argsort(gy_layout))
    y.backward(cr.tensor(g))
    ty.backward(torch.tensor(gy))
    for a, ta in zip(ours, theirs):
        np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy(), rtol=tol, atol=tol)


@pytest.mark.parametrize("kw", [dict(padding=1), dict(stride=2, padding=(2, 1), dilation=(1, 2)),
                                dict(stride=(2, 1), padding=(0, 2), dilation=(2, 1)),
                                dict(groups=2, padding=1), dict()], ids=str)
@pytest.mark.parametrize("gy_layout", [None, (2, 3, 0, 1), (1, 2, 3, 0)], ids=str)
def test_wide_conv2d_matches_torch(kw, gy_layout):
    torch = pytest.importorskip("torch")
    g = kw.get("groups", 1)
    assert _conv_gemm.channels_last((8, 64 // g, 3, 3))
    _against_torch(conv2d, torch.nn.functional.conv2d,
                   [_rand(3, 64, 9, 7), _rand(8, 64 // g, 3, 3), _rand(8)], gy_layout, **kw)


def test_wide_conv_transpose2d_and_pointwise_match_torch(monkeypatch):
    torch = pytest.importorskip("torch")
    _against_torch(conv_transpose2d, torch.nn.functional.conv_transpose2d,
                   [_rand(2, 8, 5, 4), _rand(8, 32, 3, 3), _rand(32)], stride=2, padding=1,
                   output_padding=1)
    _against_torch(conv2d, torch.nn.functional.conv2d,
                   [_rand(2, 40, 5, 6), _rand(7, 40, 1, 1), _rand(7)])
    monkeypatch.setattr(_windows, "BLOCK_BYTES", 1)           # one output row per block
    _against_torch(conv2d, torch.nn.functional.conv2d,
                   [_rand(2, 32, 6, 5), _rand(5, 32, 3, 3), _rand(5)], stride=(1, 2), padding=1)


def test_layers_chain_across_layouts():
    """An NCHW input, a channels-last activation, a channels-first one, a strided view: each
    convolution reads whatever layout it gets."""
    torch = pytest.importorskip("torch")
    x = RNG.standard_normal((2, 3, 10, 9))                    # float64: layouts exactly
    ws = [RNG.standard_normal(s) / np.sqrt(np.prod(s[1:])) for s in
          [(32, 3, 3, 3), (40, 32, 3, 3), (8, 40, 1, 1), (33, 8, 3, 3), (4, 33, 2, 2)]]
    ours = [cr.tensor(a, requires_grad=True) for a in [x] + ws]
    theirs = [torch.tensor(a, requires_grad=True) for a in [x] + ws]

    def net(F, x, w0, w1, w2, w3, w4):
        h = F.conv2d(x, w0, padding=1).tanh()                 # channels first (3 per group)
        h = F.conv2d(h, w1, padding=1).tanh()                 # channels last (32)
        h = F.conv2d(h[:, :, ::2], w2)                        # strided view, 1×1 (40)
        h = F.conv2d(h, w3, padding=1, stride=2).tanh()       # channels first (8)
        return F.conv2d(h, w4)                                # channels last (33)
    y = net(cr.nn.functional, *ours)
    ty = net(torch.nn.functional, *theirs)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-10, atol=1e-12)
    (y * y).sum().backward()
    (ty * ty).sum().backward()
    for a, ta in zip(ours, theirs):
        np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_first_order_weight_gradient_equals_the_recorded_one():
    """The first-order backward makes w̄ from the padded input the forward kept; with
    create_graph it is the ConvWeight op, from x: both the same numbers."""
    x = cr.tensor(RNG.standard_normal((2, 32, 6, 5)), requires_grad=True)
    w = cr.tensor(RNG.standard_normal((6, 32, 3, 3)), requires_grad=True)
    grads = []
    for create_graph in (False, True):
        y = conv2d(x, w, padding=1, stride=(2, 1))
        gx, gw = cr.autograd.grad((y * y).sum(), (x, w), create_graph=create_graph)
        grads.append((gx.detach().numpy(), gw.detach().numpy()))
    for a, b in zip(*grads):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("c", [4, 64], ids=["channels-first", "channels-last"])
def test_outputs_and_input_gradients_are_laid_out_batch_innermost(c):
    """Both paths hand (N, C, H, W) views of (C, H, W, N) arrays to the next layer, so batch
    norm and pooling read them without a copy."""
    x = cr.tensor(_rand(3, c, 6, 5), requires_grad=True)
    w = cr.tensor(_rand(8, c, 3, 3), requires_grad=True)
    y = conv2d(x, w, padding=1)
    y.backward(cr.tensor(_rand(*y.shape)))
    for a in (y._data, x.grad._data):               # the input gradient may be a cropped view
        st = a.transpose(1, 2, 3, 0).strides
        assert st[-1] == a.itemsize and st[0] > st[1] > st[2] > st[3], a.strides
