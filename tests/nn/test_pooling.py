"""Pooling: max/avg 1-D and 2-D (ceil_mode, count_include_pad, padding, dilation, indices) and
adaptive average pooling against torch over a grid with odd sizes and ties; gradcheck and
gradgradcheck in float64; the layers; bad input."""
import itertools

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd import gradcheck, gradgradcheck
from chainrule.errors import ConfigError, DTypeError, ShapeError
from chainrule.nn.functional.pooling import (adaptive_avg_pool1d, adaptive_avg_pool2d, avg_pool1d,
                                             avg_pool2d, max_pool1d, max_pool2d)
from chainrule.nn.modules.pooling import (AdaptiveAvgPool1d, AdaptiveAvgPool2d, AvgPool1d,
                                          AvgPool2d, MaxPool1d, MaxPool2d)

RNG = np.random.default_rng(7)


def _input(*shape):
    x = RNG.standard_normal(shape).astype(np.float32)
    x[0, 0, ..., :4] = 0.0          # ties, as after a ReLU: the gradient goes to the first
    x[-1, -1, ..., 1:3] = 1.5
    return x


def _both(fn, tfn, xn, torch, **kw):
    x, tx = cr.tensor(xn, requires_grad=True), torch.tensor(xn, requires_grad=True)
    y, ty = fn(x, **kw), tfn(tx, **kw)
    if isinstance(y, tuple):
        np.testing.assert_array_equal(y[1].numpy(), ty[1].numpy(), err_msg=f"indices {kw}")
        assert y[1].dtype == cr.int64
        y, ty = y[0], ty[0]
    assert y.shape == tuple(ty.shape), (y.shape, tuple(ty.shape), kw)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-5, atol=1e-6,
                               err_msg=str(kw))
    gy = RNG.standard_normal(y.shape).astype(np.float32)
    y.backward(cr.tensor(gy))
    ty.backward(torch.tensor(gy))
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-5, atol=1e-6,
                               err_msg=str(kw))


def _valid_in_torch(tfn, xn, torch, **kw):
    try:
        tfn(torch.tensor(xn), **kw)
    except RuntimeError:
        return False
    return True


MAX_GRID = [dict(kernel_size=k, stride=s, padding=p, dilation=d, ceil_mode=c)
            for k, s, p, d, c in itertools.product([2, 3, (3, 2)], [None, 1, 2, (2, 3)], [0, 1],
                                                   [1, 2], [False, True])]


def test_max_pool2d_matches_torch_over_a_grid():
    torch = pytest.importorskip("torch")
    xn = _input(2, 3, 9, 8)
    n = 0
    for kw in MAX_GRID:
        if _valid_in_torch(torch.nn.functional.max_pool2d, xn, torch, **kw):
            _both(max_pool2d, torch.nn.functional.max_pool2d, xn, torch, return_indices=True,
                  **kw)
            n += 1
    assert n > 80


def test_avg_pool2d_matches_torch_over_a_grid():
    torch = pytest.importorskip("torch")
    xn = _input(2, 3, 9, 8)
    n = 0
    for k, s, p, c, inc in itertools.product([2, 3, (3, 2)], [None, 1, 2, (2, 3)], [0, 1],
                                             [False, True], [False, True]):
        kw = dict(kernel_size=k, stride=s, padding=p, ceil_mode=c, count_include_pad=inc)
        if _valid_in_torch(torch.nn.functional.avg_pool2d, xn, torch, **kw):
            _both(avg_pool2d, torch.nn.functional.avg_pool2d, xn, torch, **kw)
            n += 1
    assert n > 80
    _both(avg_pool2d, torch.nn.functional.avg_pool2d, xn, torch, kernel_size=3, padding=1,
          divisor_override=5)


@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
                                dict(kernel_size=3, stride=2, ceil_mode=True),
                                dict(kernel_size=2, stride=1, dilation=3)], ids=str)
def test_pool1d_match_torch(kw):
    torch = pytest.importorskip("torch")
    xn = _input(2, 3, 11)
    _both(max_pool1d, torch.nn.functional.max_pool1d, xn, torch, return_indices=True, **kw)
    avg_kw = {k: v for k, v in kw.items() if k != "dilation"}
    if "dilation" not in kw:
        for inc in (True, False):
            _both(avg_pool1d, torch.nn.functional.avg_pool1d, xn, torch, count_include_pad=inc,
                  **avg_kw)


@pytest.mark.parametrize("size", [1, 2, 3, (4, 5), (None, 3), (9, 8), (5, 7), (2, 1)], ids=str)
def test_adaptive_avg_pool2d_matches_torch(size):
    torch = pytest.importorskip("torch")
    _both(adaptive_avg_pool2d, torch.nn.functional.adaptive_avg_pool2d, _input(2, 3, 9, 8),
          torch, output_size=size)


def test_adaptive_avg_pool1d_and_unbatched_match_torch():
    torch = pytest.importorskip("torch")
    for size in (1, 4, 11, 3):
        _both(adaptive_avg_pool1d, torch.nn.functional.adaptive_avg_pool1d, _input(2, 3, 11),
              torch, output_size=size)
    _both(max_pool2d, torch.nn.functional.max_pool2d, _input(3, 7, 6), torch, kernel_size=2)
    _both(avg_pool2d, torch.nn.functional.avg_pool2d, _input(3, 7, 6), torch, kernel_size=3,
          padding=1)


def test_max_pool_nan_propagates_and_ties_go_to_the_first():
    torch = pytest.importorskip("torch")
    xn = np.zeros((1, 1, 4, 4), np.float32)
    xn[0, 0, 1, 1] = np.nan
    xn[0, 0, 2, 3] = 2.0
    _both(max_pool2d, torch.nn.functional.max_pool2d, xn, torch, kernel_size=2,
          return_indices=True)
    x = cr.zeros(1, 1, 2, 2, requires_grad=True)
    max_pool2d(x, 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy()[0, 0], [[1, 0], [0, 0]])


def test_max_pool_on_a_relu_conv_output_layout():
    """Pooling reads the (C, H, W, N) layout convolutions produce, and plain NCHW arrays alike."""
    torch = pytest.importorskip("torch")
    an = RNG.standard_normal((4, 6, 6, 3)).astype(np.float32)     # (C, H, W, N) memory
    x = cr.Tensor(an.transpose(3, 0, 1, 2))
    y = max_pool2d(x, 2)
    ty = torch.nn.functional.max_pool2d(torch.tensor(an.transpose(3, 0, 1, 2).copy()), 2)
    np.testing.assert_array_equal(y.numpy(), ty.numpy())


def _t64(*shape):
    return cr.tensor(RNG.standard_normal(shape), dtype=cr.float64, requires_grad=True)


@pytest.mark.parametrize("fn", [
    lambda x: max_pool2d(x, 3, 2, 1, ceil_mode=True),
    lambda x: max_pool2d(x, 2, 1, dilation=2),
    lambda x: max_pool1d(x.flatten(2), 3, 2),
    lambda x: avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False),
    lambda x: avg_pool2d(x, 2, 1),
    lambda x: avg_pool1d(x.flatten(2), 4, 3, padding=2),
    lambda x: adaptive_avg_pool2d(x, (3, 2)),
    lambda x: adaptive_avg_pool2d(x, 1),
], ids=["max-ceil", "max-dilated", "max1d", "avg-ceil", "avg-overlap", "avg1d", "adaptive",
        "global"])
def test_pool_gradcheck_and_gradgradcheck(fn):
    x = _t64(2, 3, 5, 4)
    assert gradcheck(fn, (x,))
    assert gradgradcheck(fn, (x,))


def test_double_backward_of_max_pool_routes_like_the_first():
    """d/dx of (∂/∂x Σ maxpool(x)²) — second derivatives through the scatter/gather pair."""
    x = _t64(1, 2, 4, 4)
    y = (max_pool2d(x, 2) ** 2).sum()
    g, = cr.autograd.grad(y, x, create_graph=True)
    g.sum().backward()
    # y = Σ m², ∂y/∂x = 2m at each window's argmax, so ∂(Σ ∂y/∂x)/∂x = 2 at the argmaxes
    expected = (g.detach().numpy() != 0) * 2.0
    np.testing.assert_allclose(x.grad.numpy(), expected)


def test_layers_match_torch_and_repr():
    torch = pytest.importorskip("torch")
    pairs = [(MaxPool2d(3, 2, 1, ceil_mode=True), torch.nn.MaxPool2d(3, 2, 1, ceil_mode=True)),
             (MaxPool2d(2), torch.nn.MaxPool2d(2)),
             (AvgPool2d(3, 2, 1, count_include_pad=False),
              torch.nn.AvgPool2d(3, 2, 1, count_include_pad=False)),
             (AdaptiveAvgPool2d((2, 3)), torch.nn.AdaptiveAvgPool2d((2, 3))),
             (MaxPool1d(3, 2), torch.nn.MaxPool1d(3, 2)), (AvgPool1d(2), torch.nn.AvgPool1d(2)),
             (AdaptiveAvgPool1d(3), torch.nn.AdaptiveAvgPool1d(3))]
    for ours, theirs in pairs:
        assert repr(ours) == repr(theirs)
        xn = _input(2, 3, 9, 8) if "2d" in repr(ours) else _input(2, 3, 11)
        np.testing.assert_allclose(ours(cr.tensor(xn)).numpy(), theirs(torch.tensor(xn)).numpy(),
                                   rtol=1e-5, atol=1e-6, err_msg=repr(ours))
        assert list(ours.parameters()) == []
    y, idx = MaxPool2d(2, return_indices=True)(cr.tensor(_input(1, 2, 4, 4)))
    assert y.shape == idx.shape == (1, 2, 2, 2)


def test_bad_input():
    with pytest.raises(ConfigError, match=r"MaxPool2d.*stride"):
        MaxPool2d(2, stride=0)
    with pytest.raises(ConfigError, match="kernel_size"):
        AvgPool2d(0)
    with pytest.raises(ConfigError, match="pad should be at most half"):
        max_pool2d(cr.ones(1, 1, 6, 6), 2, padding=2)
    with pytest.raises(ConfigError, match="dilation"):
        max_pool2d(cr.ones(1, 1, 6, 6), 2, dilation=0)
    with pytest.raises(ShapeError, match=r"max_pool2d.*larger than the padded.*\(1, 1, 2, 2\)"):
        max_pool2d(cr.ones(1, 1, 2, 2), 3)
    with pytest.raises(ShapeError, match=r"3D \(unbatched\) or 4D"):
        avg_pool2d(cr.ones(4, 4), 2)
    with pytest.raises(DTypeError, match="floating"):
        max_pool2d(cr.ones(1, 1, 4, 4, dtype=cr.int64), 2)
    with pytest.raises(ConfigError, match="output_size"):
        adaptive_avg_pool2d(cr.ones(1, 1, 4, 4), (0, 2))
    with pytest.raises(ConfigError, match="divisor_override"):
        AvgPool2d(2, divisor_override=0)


@pytest.mark.parametrize("layer, x, match", [
    (lambda: MaxPool2d(3), (1, 1, 2, 2), r"MaxPool2d\(kernel_size=3\): the kernel is larger.*"
                                        r"\(1, 1, 2, 2\).*kernel size \(3, 3\)"),
    (lambda: cr.nn.MaxPool1d(2), (4, 4, 4, 4), r"MaxPool1d\(kernel_size=2\): expected 2D.*"
                                              r"\(4, 4, 4, 4\)"),
    (lambda: cr.nn.AvgPool1d(4), (1, 2, 3), r"AvgPool1d\(kernel_size=\(4,\)\): the kernel is "
                                           r"larger.*\(1, 2, 3\)"),
    (lambda: AvgPool2d(2, padding=2), (1, 1, 6, 6), r"AvgPool2d\(kernel_size=2\): pad should"),
    (lambda: cr.nn.AdaptiveAvgPool2d((0, 1)), (1, 1, 4, 4),
     r"AdaptiveAvgPool2d\(output_size=\(0, 1\)\): output_size"),
])
def test_layers_name_themselves_in_input_errors(layer, x, match):
    """A pooling layer's forward refuses a bad input naming the layer and its kernel, as the
    convolution layers do (the functional forms name themselves: max_pool2d ...)."""
    with pytest.raises((ShapeError, ConfigError), match=match):
        layer()(cr.ones(*x))
