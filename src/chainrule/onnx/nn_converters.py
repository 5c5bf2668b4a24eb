"""ONNX converters for ``cr.nn`` modules: Linear, the activations, Dropout and BatchNorm1d in
evaluation mode, LayerNorm, Softmax, Flatten/Unflatten, Identity, Embedding and Sequential."""
import numpy as np

from chainrule import nn
from chainrule.onnx import ops
from chainrule.onnx.registry import UnsupportedLayerError, register_converter


@register_converter(nn.Sequential)
def sequential(ctx, seq, out, x):
    for key, module in seq._modules.items():
        x = ctx.convert(module, x, name=key)
    return x.name


@register_converter(nn.Identity, nn.Dropout)
def identity(ctx, module, out, x, *rest):
    return x.name  # Dropout is the identity in evaluation mode, where export runs


@register_converter(nn.Linear)
def linear(ctx, m, out, x):
    bias = ctx.param(m.bias, "bias") if m.bias is not None else None
    if x.ndim == 2:
        w = ctx.param(m.weight, "weight")
        return ctx.op("Gemm", [x.name, w] + ([bias] if bias else []), transB=1)
    return ops.dense(ctx, x, ctx.param(m.weight, "weight_t", transform=np.transpose), bias)


@register_converter(nn.ReLU)
def relu(ctx, m, out, x):
    return ops.unary(ctx, "Relu", x)


@register_converter(nn.Sigmoid)
def sigmoid(ctx, m, out, x):
    return ops.unary(ctx, "Sigmoid", x)


@register_converter(nn.Tanh)
def tanh(ctx, m, out, x):
    return ops.unary(ctx, "Tanh", x)


@register_converter(nn.LeakyReLU)
def leaky_relu(ctx, m, out, x):
    return ops.unary(ctx, "LeakyRelu", x, alpha=float(m.negative_slope))


@register_converter(nn.ELU)
def elu(ctx, m, out, x):
    return ops.unary(ctx, "Elu", x, alpha=float(m.alpha))


@register_converter(nn.GELU)
def gelu(ctx, m, out, x):
    return ops.gelu(ctx, x, m.approximate)


@register_converter(nn.SiLU)
def silu(ctx, m, out, x):
    return ops.silu(ctx, x)


@register_converter(nn.Softplus)
def softplus(ctx, m, out, x):
    return ops.softplus(ctx, x, float(m.beta), float(m.threshold))


@register_converter(nn.Softmax)
def softmax(ctx, m, out, x):
    return ops.unary(ctx, "Softmax", x, axis=ops.softmax_axis(x.ndim, m.dim))


@register_converter(nn.LogSoftmax)
def log_softmax(ctx, m, out, x):
    return ops.unary(ctx, "LogSoftmax", x, axis=ops.softmax_axis(x.ndim, m.dim))


@register_converter(nn.Flatten)
def flatten(ctx, m, out, x):
    start, end = m.start_dim % x.ndim, m.end_dim % x.ndim
    if start == 1 and end == x.ndim - 1:
        return ctx.op("Flatten", [x.name], axis=1)
    return ops.reshape_dims(ctx, x, start, end + 1, [-1])


@register_converter(nn.Unflatten)
def unflatten(ctx, m, out, x):
    d = m.dim % x.ndim
    return ops.reshape_dims(ctx, x, d, d + 1, list(m.unflattened_size))


@register_converter(nn.BatchNorm1d)
def batch_norm_1d(ctx, m, out, x):
    if m.running_mean is None:
        raise UnsupportedLayerError(
            f"onnx.export: {type(m).__name__}({m.num_features}) at '{ctx.where}' has no running "
            f"statistics (track_running_stats=False), so even in evaluation mode it normalises "
            f"with each batch's own statistics; only batch norm with running statistics exports")
    gamma = ctx.param(m.weight, "weight") if m.weight is not None else None
    beta = ctx.param(m.bias, "bias") if m.bias is not None else None
    return ops.batch_norm(ctx, x, 1, ctx.param(m.running_mean, "running_mean"),
                          ctx.param(m.running_var, "running_var"), m.eps, gamma, beta)


@register_converter(nn.LayerNorm)
def layer_norm(ctx, m, out, x):
    k = len(m.normalized_shape)
    scale = ctx.param(m.weight, "weight") if m.weight is not None else \
        ctx.const(np.ones(m.normalized_shape), "ones", like=x)
    inputs = [x.name, scale] + ([ctx.param(m.bias, "bias")] if m.bias is not None else [])
    return ctx.op("LayerNormalization", inputs, axis=-k, epsilon=float(m.eps))


@register_converter(nn.Embedding)
def embedding(ctx, m, out, x):
    if m.max_norm is not None:
        raise UnsupportedLayerError(
            f"onnx.export: Embedding at '{ctx.where}' has max_norm={m.max_norm}, which "
            f"rescales the weight rows each time they are looked up; export it without max_norm")
    return ctx.op("Gather", [ctx.param(m.weight, "weight"), x.name], axis=0)
