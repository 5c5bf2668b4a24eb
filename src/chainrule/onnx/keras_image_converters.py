"""ONNX converters for Keras-style image layers: Conv1D, Conv2D, Conv2DTranspose, MaxPooling1D/2D,
AveragePooling2D, GlobalAveragePooling2D and GlobalMaxPooling2D, in either data format.

ONNX's Conv and pooling operators are channels-first, so channels-last input (Keras's default) is
transposed to (N, C, *spatial) around them and back; kernels (k₁, ..., in/groups, filters) are
stored once in ONNX's (filters, in/groups, k₁, ...) layout. "same" padding is TensorFlow's, as
the layers compute it: out = ⌈in / stride⌉, the odd cell after, never counted in a mean.
"""
import numpy as np

from chainrule.keras import layers
from chainrule.keras.layers.spatial import same_padding
from chainrule.onnx.builder import Value
from chainrule.onnx.image_converters import onnx_pads
from chainrule.onnx.keras_converters import activation
from chainrule.onnx.registry import register_converter


def _oihw(kernel):
    """A Keras kernel (k₁, ..., a, b) as ONNX's (b, a, k₁, ...): Conv's (filters, in/groups, k...)
    from (k..., in/groups, filters), ConvTranspose's (in, filters, k...) from (k..., filters, in)."""
    r = kernel.ndim - 2
    return np.ascontiguousarray(np.transpose(kernel, (r + 1, r, *range(r))))


def _channels_first(ctx, layer, x):
    """(name, spatial size) of *x* in (N, C, *spatial) layout."""
    r = x.ndim - 2
    if layer.data_format == "channels_first":
        return x.name, x.shape[2:]
    return ctx.op("Transpose", [x.name], perm=[0, r + 1, *range(1, r + 1)]), x.shape[1:-1]


def _channels_back(ctx, layer, name, ndim):
    if layer.data_format == "channels_first":
        return name
    r = ndim - 2
    return ctx.op("Transpose", [name], perm=[0, *range(2, r + 2), 1])


@register_converter(layers.Conv1D, layers.Conv2D)
def conv(ctx, layer, out, x):
    name, size = _channels_first(ctx, layer, x)
    if layer.padding == "same":
        pairs = same_padding(size, layer.kernel_size, layer.strides, layer.dilation_rate)
    elif layer.padding == "causal":
        pairs = [(d * (k - 1), 0) for k, d in zip(layer.kernel_size, layer.dilation_rate)]
    else:
        pairs = [(0, 0)] * len(size)
    inputs = [name, ctx.param(layer.kernel, "kernel_oihw", transform=_oihw)]
    if layer.use_bias:
        inputs.append(ctx.param(layer.bias, "bias"))
    y = ctx.op("Conv", inputs, kernel_shape=list(layer.kernel_size), strides=list(layer.strides),
               dilations=list(layer.dilation_rate), pads=onnx_pads(pairs), group=layer.groups)
    y = _channels_back(ctx, layer, y, x.ndim)
    return activation(ctx, layer, layer.activation, Value(y, out))   # softmax: the channel axis


@register_converter(layers.Conv2DTranspose)
def conv_transpose(ctx, layer, out, x):
    """ONNX's ConvTranspose, cropped (pads) or extended (output_padding) to the layer's size."""
    name, size = _channels_first(ctx, layer, x)
    pairs, extra = [], []
    for n, k, s, d, op in zip(size, layer.kernel_size, layer.strides, layer.dilation_rate,
                              layer.output_padding or (None,) * len(size)):
        o = layer._out_size(n, k, s, d, op)
        full = (n - 1) * s + d * (k - 1) + 1
        lo = max(full - o, 0) // 2 if layer.padding == "same" else 0
        hi = full - lo - o
        pairs.append((lo, max(hi, 0)))
        extra.append(max(-hi, 0))
    inputs = [name, ctx.param(layer.kernel, "kernel_iohw", transform=_oihw)]
    if layer.use_bias:
        inputs.append(ctx.param(layer.bias, "bias"))
    y = ctx.op("ConvTranspose", inputs, kernel_shape=list(layer.kernel_size),
               strides=list(layer.strides), dilations=list(layer.dilation_rate),
               pads=onnx_pads(pairs), output_padding=extra)
    y = _channels_back(ctx, layer, y, x.ndim)
    return activation(ctx, layer, layer.activation, Value(y, out))


@register_converter(layers.MaxPooling1D, layers.MaxPooling2D, layers.AveragePooling2D)
def pool(ctx, layer, out, x):
    name, size = _channels_first(ctx, layer, x)
    ones = (1,) * len(size)
    pairs = same_padding(size, layer.pool_size, layer.strides, ones) if layer.padding == "same" \
        else [(0, 0)] * len(size)
    attrs = {"kernel_shape": list(layer.pool_size), "strides": list(layer.strides),
             "pads": onnx_pads(pairs)}
    if layer._kind == "avg":
        y = ctx.op("AveragePool", [name], count_include_pad=0, **attrs)
    else:
        y = ctx.op("MaxPool", [name], **attrs)
    return _channels_back(ctx, layer, y, x.ndim)


def _reduce(ctx, op_type, name, axes, keepdims):
    if ctx.opset < 18:                      # axes an attribute before opset 18
        return ctx.op(op_type, [name], axes=list(axes), keepdims=int(keepdims))
    return ctx.op(op_type, [name, ctx.ints(axes, "axes")], keepdims=int(keepdims))


@register_converter(layers.GlobalAveragePooling2D)
def global_average_pooling(ctx, layer, out, x):
    return _reduce(ctx, "ReduceMean", x.name, layer._axes(), layer.keepdims)


@register_converter(layers.GlobalMaxPooling2D)
def global_max_pooling(ctx, layer, out, x):
    return _reduce(ctx, "ReduceMax", x.name, layer._axes(), layer.keepdims)
