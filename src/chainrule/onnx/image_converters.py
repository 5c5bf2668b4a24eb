"""ONNX converters for ``cr.nn``'s image and sequence-of-vectors layers: Conv1d/Conv2d,
ConvTranspose1d/2d, MaxPool1d/2d, AvgPool1d/2d, AdaptiveAvgPool1d/2d, BatchNorm2d (evaluation
mode), Dropout1d/Dropout2d (the identity in evaluation mode), Upsample, and the digits job's
``DigitsNet`` (its ``features``, then its ``classifier``).

ONNX's Conv, ConvTranspose, MaxPool and AveragePool take PyTorch's layout (N, C, *spatial) and
weights as they are; pads are written ``[lo₁, lo₂, ..., hi₁, hi₂, ...]``.
"""
import numpy as np

from chainrule import nn
from chainrule.nn.functional import _windows as _w
from chainrule.onnx.nn_converters import batch_norm_1d, identity
from chainrule.onnx.registry import UnsupportedLayerError, register_converter
from chainrule.training.digits import DigitsNet

_PAD_MODES = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def _tuple(value, d, name, where):
    return _w.as_tuple(value, d, name, where, minimum=0)


def _refuse(ctx, layer, why):
    where = ctx.where or "(the model)"
    raise UnsupportedLayerError(f"onnx.export: {type(layer).__name__} at '{where}' {why}")


def conv_pads(m):
    """(lo, hi) padding per spatial dim of convolution layer *m* ("same" as PyTorch: the extra
    cell of an odd total goes after)."""
    if m.padding == "valid":
        return [(0, 0)] * m._d
    if m.padding == "same":
        total = [dl * (k - 1) for k, dl in zip(m.kernel_size, m.dilation)]
        return [(t // 2, t - t // 2) for t in total]
    return [(p, p) for p in m.padding]


def onnx_pads(pairs):
    """``[lo₁, ..., hi₁, ...]`` from (lo, hi) pairs."""
    return [int(lo) for lo, _ in pairs] + [int(hi) for _, hi in pairs]


def pad_input(ctx, x, pairs, mode="constant"):
    """*x* padded on its spatial dims by the (lo, hi) *pairs* (ONNX Pad; batch and channels 0)."""
    pads = [0, 0] + [lo for lo, _ in pairs] + [0, 0] + [hi for _, hi in pairs]
    return ctx.op("Pad", [x.name, ctx.ints(pads, "pads")], mode=mode)


@register_converter(nn.Conv1d, nn.Conv2d)
def conv(ctx, m, out, x):
    pairs = conv_pads(m)
    name = x.name
    if m.padding_mode != "zeros":
        mode = _PAD_MODES[m.padding_mode]
        if mode == "wrap" and ctx.opset < 19:
            _refuse(ctx, m, "uses padding_mode='circular', which ONNX's Pad has from opset 19 "
                            "(mode='wrap'); export with opset_version=19 or later")
        if any(lo or hi for lo, hi in pairs):
            name = pad_input(ctx, x, pairs, mode)
        pairs = [(0, 0)] * m._d
    inputs = [name, ctx.param(m.weight, "weight")]
    if m.bias is not None:
        inputs.append(ctx.param(m.bias, "bias"))
    return ctx.op("Conv", inputs, kernel_shape=list(m.kernel_size), strides=list(m.stride),
                  dilations=list(m.dilation), pads=onnx_pads(pairs), group=m.groups)


@register_converter(nn.ConvTranspose1d, nn.ConvTranspose2d)
def conv_transpose(ctx, m, out, x):
    inputs = [x.name, ctx.param(m.weight, "weight")]
    if m.bias is not None:
        inputs.append(ctx.param(m.bias, "bias"))
    return ctx.op("ConvTranspose", inputs, kernel_shape=list(m.kernel_size),
                  strides=list(m.stride), dilations=list(m.dilation),
                  pads=onnx_pads([(p, p) for p in m.padding]),
                  output_padding=list(m.output_padding), group=m.groups)


def _pool_geometry(ctx, m, d):
    where = type(m).__name__
    kernel = _tuple(m.kernel_size, d, "kernel_size", where)
    stride = _tuple(m.stride, d, "stride", where)
    padding = _tuple(m.padding, d, "padding", where)
    return list(kernel), list(stride), [(p, p) for p in padding]


def ceil_pads(x, out, kernel, stride, dilation, pairs):
    """Pads that give, without ceil_mode, the windows PyTorch's ceil_mode gives: ONNX's ceil_mode
    (before opset 19) keeps a last window that starts in the right padding, PyTorch drops it, so
    the output's own size (from *out*) fixes the right pad instead: hi = (o-1)·s + k_eff - n - lo."""
    fixed = []
    for n, o, k, s, d, (lo, hi) in zip(x.shape[2:], out.shape[2:], kernel, stride, dilation,
                                       pairs):
        k_eff = d * (k - 1) + 1
        if (n + lo + hi - k_eff) // s + 1 != o:      # ceil_mode added a window: pad to reach it
            hi = (o - 1) * s + k_eff - n - lo
        fixed.append((lo, hi))
    return fixed


@register_converter(nn.MaxPool1d, nn.MaxPool2d)
def max_pool(ctx, m, out, x):
    if m.return_indices:
        _refuse(ctx, m, "has return_indices=True: the indices are flat positions in chainrule's "
                        "(and PyTorch's) layout, not ONNX's; export the layer without them")
    d = x.ndim - 2
    kernel, stride, pairs = _pool_geometry(ctx, m, d)
    dilation = _tuple(m.dilation, d, "dilation", type(m).__name__)
    if m.ceil_mode:          # padded cells hold -inf in ONNX's MaxPool: never the maximum
        pairs = ceil_pads(x, out, kernel, stride, dilation, pairs)
    return ctx.op("MaxPool", [x.name], kernel_shape=kernel, strides=stride, pads=onnx_pads(pairs),
                  dilations=list(dilation))


@register_converter(nn.AvgPool1d, nn.AvgPool2d)
def avg_pool(ctx, m, out, x):
    if getattr(m, "divisor_override", None) is not None:
        _refuse(ctx, m, f"has divisor_override={m.divisor_override}, which ONNX's AveragePool "
                        f"has no attribute for")
    d = x.ndim - 2
    kernel, stride, pairs = _pool_geometry(ctx, m, d)
    name = x.name
    if m.count_include_pad and any(lo for lo, _ in pairs):
        # PyTorch divides by the window's cells inside the padded input: pad with zeros first,
        # then average over what is there (a ceil_mode window's overhang is not counted)
        name = pad_input(ctx, x, pairs)
        x = _Shape((x.shape[0], x.shape[1], *(n + lo + hi for n, (lo, hi) in
                                              zip(x.shape[2:], pairs))))
        pairs = [(0, 0)] * d
    if m.ceil_mode:          # the overhang as padding that count_include_pad=0 leaves out
        pairs = ceil_pads(x, out, kernel, stride, [1] * d, pairs)
    return ctx.op("AveragePool", [name], kernel_shape=kernel, strides=stride,
                  pads=onnx_pads(pairs), count_include_pad=0)


class _Shape:
    """Stands for a value of known *shape* (a padded input) in :func:`ceil_pads`."""

    def __init__(self, shape):
        self.shape = shape


@register_converter(nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d)
def adaptive_avg_pool(ctx, m, out, x):
    d = x.ndim - 2
    size = m.output_size
    size = (size,) * d if size is None or isinstance(size, int) else tuple(size)
    in_size = x.shape[2:]
    size = tuple(n if s is None else int(s) for s, n in zip(size, in_size))
    if all(s == 1 for s in size):
        return ctx.op("GlobalAveragePool", [x.name])
    if any(n % s for n, s in zip(in_size, size)):
        _refuse(ctx, m, f"pools input of spatial size {tuple(in_size)} to {size}, which does not "
                        f"divide it: its windows then differ in size, which ONNX's AveragePool "
                        f"cannot express. Export with an input size divisible by the output "
                        f"size, or output size 1 (GlobalAveragePool)")
    kernel = [n // s for n, s in zip(in_size, size)]
    return ctx.op("AveragePool", [x.name], kernel_shape=kernel, strides=kernel)


@register_converter(nn.BatchNorm2d)
def batch_norm_2d(ctx, m, out, x):
    return batch_norm_1d(ctx, m, out, x)


register_converter(nn.Dropout1d, nn.Dropout2d)(identity)


@register_converter(nn.Upsample)
def upsample(ctx, m, out, x):
    if m.mode in ("linear", "bilinear"):
        # PyTorch's source position (dst + ½)·scale − ½ even for an output of length 1
        # (ONNX's "pytorch_half_pixel" would read position 0 there)
        transform = "align_corners" if m.align_corners else "half_pixel"
        attrs = {"mode": "linear", "coordinate_transformation_mode": transform}
    elif m.mode == "nearest":
        attrs = {"mode": "nearest", "coordinate_transformation_mode": "asymmetric",
                 "nearest_mode": "floor"}
    elif m.mode == "nearest-exact":
        attrs = {"mode": "nearest", "coordinate_transformation_mode": "half_pixel",
                 "nearest_mode": "round_prefer_ceil"}
    else:
        _refuse(ctx, m, f"has mode={m.mode!r}; exportable modes: 'nearest', 'nearest-exact', "
                        f"'linear', 'bilinear'")
    d = x.ndim - 2
    if m.scale_factor is not None and not m.recompute_scale_factor:
        sf = m.scale_factor if isinstance(m.scale_factor, tuple) else (m.scale_factor,) * d
        scales = ctx.const(np.array([1.0, 1.0, *sf]), "scales", dtype=np.float32)
        return ctx.op("Resize", [x.name, "", scales], **attrs)
    sizes = ctx.op("Concat", [ctx.op("Shape", [x.name], start=0, end=2),
                              ctx.ints(list(out.shape[2:]), "sizes")], axis=0)
    return ctx.op("Resize", [x.name, "", "", sizes], **attrs)


@register_converter(DigitsNet)
def digits_net(ctx, m, out, x):
    h = ctx.convert(m.features, x, name="features")
    return ctx.convert(m.classifier, h, name="classifier").name
