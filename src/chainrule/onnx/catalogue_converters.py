"""ONNX converters for the rest of the everyday catalogue: the ``cr.nn`` activations (ReLU6,
Hardtanh, PReLU, SELU, CELU, Mish, Hardswish, Hardsigmoid, Softsign, Softmin, LogSigmoid,
Tanhshrink, Threshold, Softshrink, Hardshrink, GLU), padding (ZeroPad2d, ConstantPad2d,
ReflectionPad2d, ReplicationPad2d), GroupNorm, InstanceNorm1d/2d and RMSNorm; and the Keras-style
layers ReLU, LeakyReLU, ELU, PReLU, Softmax, ZeroPadding2D, UpSampling2D, Permute, RepeatVector,
Rescaling, UnitNormalization, GroupNormalization and Embedding.

Each writes the formula the layer computes (its docstring's), with ONNX's own operator where
opset 17 has one (Clip, PRelu, Selu, Celu, HardSwish, HardSigmoid, Softsign, Shrink, Pad, Resize).
Example::

    >>> proto = cr.onnx.export(cr.nn.Sequential(cr.nn.ZeroPad2d(1), cr.nn.Hardswish()),
    ...                        cr.randn(1, 2, 3, 3), "pad.onnx")
    >>> [node.op_type for node in proto.graph.node]
    ['Pad', 'HardSwish', 'Identity']
"""
import numpy as np

from chainrule import nn
from chainrule.keras import layers
from chainrule.onnx import nn_converters, ops
from chainrule.onnx.builder import Value
from chainrule.onnx.image_converters import _refuse
from chainrule.onnx.keras_converters import _SELU
from chainrule.onnx.keras_image_converters import _channels_back, _channels_first
from chainrule.onnx.registry import register_converter


# ---- cr.nn activations -------------------------------------------------------------------------
@register_converter(nn.ReLU6)
def relu6(ctx, m, out, x):
    return ops.clip(ctx, x, 0.0, 6.0)


@register_converter(nn.Hardtanh)
def hardtanh(ctx, m, out, x):
    return ops.clip(ctx, x, float(m.min_val), float(m.max_val))


@register_converter(nn.PReLU)
def prelu(ctx, m, out, x):
    """a·x below 0 with one slope, or one per channel (dim 1; dim 0 of 1-D input)."""
    trailing = max(x.ndim - 2, 0) if m.num_parameters > 1 else 0

    def prelu_slope(a):
        return a.reshape((a.shape[0],) + (1,) * trailing)
    return ctx.op("PRelu", [x.name, ctx.param(m.weight, "weight", transform=prelu_slope)])


@register_converter(nn.SELU)
def selu(ctx, m, out, x):
    return ops.unary(ctx, "Selu", x, **_SELU)


@register_converter(nn.CELU)
def celu(ctx, m, out, x):
    return ops.unary(ctx, "Celu", x, alpha=float(m.alpha))


@register_converter(nn.Mish)
def mish(ctx, m, out, x):
    return ops.mish(ctx, x)


@register_converter(nn.Hardswish)
def hardswish(ctx, m, out, x):
    return ops.unary(ctx, "HardSwish", x)


@register_converter(nn.Hardsigmoid)
def hardsigmoid(ctx, m, out, x):
    return ops.unary(ctx, "HardSigmoid", x, alpha=1 / 6, beta=0.5)


@register_converter(nn.Softsign)
def softsign(ctx, m, out, x):
    return ops.unary(ctx, "Softsign", x)


@register_converter(nn.Softmin)
def softmin(ctx, m, out, x):
    return ctx.op("Softmax", [ctx.op("Neg", [x.name])], axis=ops.softmax_axis(x.ndim, m.dim))


@register_converter(nn.LogSigmoid)
def log_sigmoid(ctx, m, out, x):
    """log σ(x) = −softplus(−x)."""
    return ctx.op("Neg", [ctx.op("Softplus", [ctx.op("Neg", [x.name])])])


@register_converter(nn.Tanhshrink)
def tanhshrink(ctx, m, out, x):
    return ctx.op("Sub", [x.name, ctx.op("Tanh", [x.name])])


@register_converter(nn.Threshold)
def threshold(ctx, m, out, x):
    over = ctx.op("Greater", [x.name, ctx.const(m.threshold, "threshold", like=x)])
    return ctx.op("Where", [over, x.name, ctx.const(m.value, "value", like=x)])


@register_converter(nn.Softshrink)
def softshrink(ctx, m, out, x):
    return ctx.op("Shrink", [x.name], bias=float(m.lambd), lambd=float(m.lambd))


@register_converter(nn.Hardshrink)
def hardshrink(ctx, m, out, x):
    return ctx.op("Shrink", [x.name], bias=0.0, lambd=float(m.lambd))


@register_converter(nn.GLU)
def glu(ctx, m, out, x):
    """a · σ(b), a and b the two halves of *x* along ``dim``."""
    d = m.dim % x.ndim
    half = x.shape[d] // 2
    a, b = ctx.op("Split", [x.name, ctx.ints([half, half], "split")], n_outputs=2, axis=d)
    return ctx.op("Mul", [a, ctx.op("Sigmoid", [b])])


# ---- padding and normalisation -----------------------------------------------------------------
@register_converter(nn.ConstantPad2d, nn.ZeroPad2d, nn.ReflectionPad2d, nn.ReplicationPad2d)
def pad_2d(ctx, m, out, x):
    """(left, right, top, bottom) on the last two dims; negative amounts crop, as ONNX's Pad."""
    left, right, top, bottom = m.padding
    lead = [0] * (x.ndim - 2)
    pads = ctx.ints(lead + [top, left] + lead + [bottom, right], "pads")
    if m._mode == "constant":
        return ctx.op("Pad", [x.name, pads, ctx.const(m.value, "value", like=x)], mode="constant")
    return ctx.op("Pad", [x.name, pads], mode={"reflect": "reflect", "replicate": "edge"}[m._mode])


def group_norm(ctx, x, groups, eps, gamma=None, beta=None):
    """γ (x − μ) / √(σ² + ε) + β over each sample's group of channels (axis 1) and every
    position; γ, β (names or None) one per channel."""
    grouped = Value(ops.reshape_dims(ctx, x, 1, x.ndim, [groups, -1]), x.example)
    y = ops.normalize(ctx, grouped, [2], eps)
    y = ctx.op("Reshape", [y, ctx.op("Shape", [x.name])])
    shape = ctx.ints([x.shape[1]] + [1] * (x.ndim - 2), "param_shape")
    if gamma is not None:
        y = ctx.op("Mul", [y, ctx.op("Reshape", [gamma, shape])])
    if beta is not None:
        y = ctx.op("Add", [y, ctx.op("Reshape", [beta, shape])])
    return y


@register_converter(nn.GroupNorm)
def group_norm_layer(ctx, m, out, x):
    affine = [ctx.param(m.weight, "weight"), ctx.param(m.bias, "bias")] if m.affine else []
    return group_norm(ctx, x, m.num_groups, m.eps, *affine)


@register_converter(nn.InstanceNorm1d, nn.InstanceNorm2d)
def instance_norm(ctx, m, out, x):
    """Each sample's channel over its positions, or (track_running_stats) the running
    statistics, as the layer uses them in evaluation mode."""
    if x.ndim != out.ndim or x.ndim not in (3, 4) or x.shape[1] != m.num_features:
        _refuse(ctx, m, f"is called on input of shape {x.shape}; only batched (N, C, ...) input "
                        f"exports")
    gamma = ctx.param(m.weight, "weight") if m.affine else None
    beta = ctx.param(m.bias, "bias") if m.affine else None
    if m.track_running_stats:
        return ops.batch_norm(ctx, x, 1, ctx.param(m.running_mean, "running_mean"),
                              ctx.param(m.running_var, "running_var"), m.eps, gamma, beta)
    return ops.normalize(ctx, x, list(range(2, x.ndim)), m.eps, gamma, beta,
                         [x.shape[1]] + [1] * (x.ndim - 2) if m.affine else None)


@register_converter(nn.RMSNorm)
def rms_norm(ctx, m, out, x):
    """x · (mean(x²) + ε)^(−½) over the trailing normalized_shape dims, times γ."""
    axes = list(range(x.ndim - len(m.normalized_shape), x.ndim))
    eps = float(np.finfo(x.dtype).eps) if m.eps is None else float(m.eps)
    mean = ops.reduce_mean(ctx, ctx.op("Mul", [x.name, x.name]), axes)
    rms = ctx.op("Sqrt", [ctx.op("Add", [mean, ctx.const(eps, "eps", like=x)])])
    y = ctx.op("Div", [x.name, rms])
    return y if m.weight is None else ctx.op("Mul", [y, ctx.param(m.weight, "weight")])


# ---- Keras-style layers ------------------------------------------------------------------------
@register_converter(layers.Embedding)
def keras_embedding(ctx, layer, out, x):
    """The rows of ``embeddings`` at the ids (float ids, as Keras's default Input gives, are
    cast to int64 first)."""
    ids = ctx.cast(x, np.int64) if x.dtype.kind == "f" else x.name
    return ctx.op("Gather", [ctx.param(layer.embeddings, "embeddings"), ids], axis=0)


@register_converter(layers.ReLU)
def keras_relu(ctx, layer, out, x):
    """Keras's relu: x clipped to max_value above threshold, negative_slope·(x − threshold)
    below it (the formula of ``cr.keras.activations.relu``)."""
    slope, top, th = layer.negative_slope, layer.max_value, layer.threshold
    if top is None and th == 0.0:
        return ops.unary(ctx, "LeakyRelu", x, alpha=float(slope)) if slope else \
            ops.unary(ctx, "Relu", x)
    if th != 0.0:
        over = ctx.op("Greater", [x.name, ctx.const(th, "threshold", like=x)])
        y = ctx.op("Where", [over, x.name, ctx.const(0.0, "zero", like=x)])
    else:
        y = ctx.op("Relu", [x.name])
    if top is not None:
        y = ops.clip(ctx, Value(y, x.example), 0.0, float(top))
    if slope:
        shifted = ctx.op("Sub", [x.name, ctx.const(th, "threshold", like=x)]) if th else x.name
        below = ctx.op("Relu", [ctx.op("Neg", [shifted])])
        y = ctx.op("Sub", [y, ctx.op("Mul", [below, ctx.const(slope, "slope", like=x)])])
    return y


# Keras's LeakyReLU and ELU carry the same attributes as nn's (negative_slope, alpha)
register_converter(layers.LeakyReLU)(nn_converters.leaky_relu)
register_converter(layers.ELU)(nn_converters.elu)


@register_converter(layers.PReLU)
def keras_prelu(ctx, layer, out, x):
    return ctx.op("PRelu", [x.name, ctx.param(layer.alpha, "alpha")])  # alpha: input.shape[1:]


@register_converter(layers.Softmax)
def keras_softmax(ctx, layer, out, x):
    axes = sorted({a % x.ndim for a in (layer.axis if isinstance(layer.axis, list)
                                        else [layer.axis])})
    if len(axes) == 1:
        return ctx.op("Softmax", [x.name], axis=axes[0])
    lse = ctx.op("ReduceLogSumExp", [x.name], axes=axes, keepdims=1) if ctx.opset < 18 else \
        ctx.op("ReduceLogSumExp", [x.name, ctx.ints(axes, "axes")], keepdims=1)
    return ctx.op("Exp", [ctx.op("Sub", [x.name, lse])])


@register_converter(layers.ZeroPadding2D)
def keras_zero_padding(ctx, layer, out, x):
    (t, b), (left, r) = layer.padding
    if layer.data_format == "channels_first":
        pads = [0, 0, t, left, 0, 0, b, r]
    else:
        pads = [0, t, left, 0, 0, b, r, 0]
    return ctx.op("Pad", [x.name, ctx.ints(pads, "pads")], mode="constant")


@register_converter(layers.UpSampling2D)
def keras_upsampling(ctx, layer, out, x):
    """Nearest: each row and column repeated; bilinear: half-pixel centres (Keras's resize)."""
    name, _ = _channels_first(ctx, layer, x)
    if layer.interpolation == "bilinear":
        attrs = {"mode": "linear", "coordinate_transformation_mode": "half_pixel"}
    else:
        attrs = {"mode": "nearest", "coordinate_transformation_mode": "asymmetric",
                 "nearest_mode": "floor"}
    scales = ctx.const(np.array([1.0, 1.0, *layer.size]), "scales", dtype=np.float32)
    y = ctx.op("Resize", [name, "", scales], **attrs)
    return _channels_back(ctx, layer, y, x.ndim)


@register_converter(layers.Permute)
def keras_permute(ctx, layer, out, x):
    return ctx.op("Transpose", [x.name], perm=[0, *layer.dims])


@register_converter(layers.RepeatVector)
def keras_repeat_vector(ctx, layer, out, x):
    rows = ops.reshape_dims(ctx, x, 1, 1, [1])                       # (batch, 1, features)
    return ctx.op("Tile", [rows, ctx.ints([1, layer.n, 1], "repeats")])


@register_converter(layers.Rescaling)
def keras_rescaling(ctx, layer, out, x):
    dtype = out._data.dtype
    name = ctx.cast(x, dtype)
    y = ctx.op("Mul", [name, ctx.const(np.asarray(layer.scale), "scale", dtype=dtype)])
    return ctx.op("Add", [y, ctx.const(np.asarray(layer.offset), "offset", dtype=dtype)])


@register_converter(layers.UnitNormalization)
def keras_unit_normalization(ctx, layer, out, x):
    """x / max(‖x‖₂, 1e-6) over *axis*."""
    axes = [0] if x.ndim == 1 else sorted({a % x.ndim for a in (
        layer.axis if isinstance(layer.axis, list) else [layer.axis])})
    norm = ctx.op("ReduceL2", [x.name], axes=axes, keepdims=1) if ctx.opset < 18 else \
        ctx.op("ReduceL2", [x.name, ctx.ints(axes, "axes")], keepdims=1)
    return ctx.op("Div", [x.name, ctx.op("Max", [norm, ctx.const(1e-6, "eps", like=x)])])


@register_converter(layers.GroupNormalization)
def keras_group_normalization(ctx, layer, out, x):
    axis = layer._channel_axis
    perm = [0, axis] + [a for a in range(1, x.ndim) if a != axis]
    name = x.name if axis == 1 else ctx.op("Transpose", [x.name], perm=perm)
    moved = Value(name, x.example.permute(*perm))
    gamma = ctx.param(layer.gamma, "gamma") if layer.scale else None
    beta = ctx.param(layer.beta, "beta") if layer.center else None
    y = group_norm(ctx, moved, layer._groups, layer.epsilon, gamma, beta)
    return y if axis == 1 else ctx.op("Transpose", [y], perm=list(np.argsort(perm)))


__all__ = ["group_norm", "pad_2d"]
