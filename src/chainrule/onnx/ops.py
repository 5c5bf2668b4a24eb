"""ONNX subgraphs for the functions layers share: activations, normalisation, reshaping.

Each takes the builder *ctx* and the input :class:`~chainrule.onnx.builder.Value` *x* and returns
the output's name. Where ONNX has no single operator in opset 17 (exact GELU, SiLU, PyTorch's
thresholded softplus) the function writes the same formula chainrule computes.
"""
import math

import numpy as np

from chainrule.onnx.builder import Value


def unary(ctx, op_type, x, **attrs):
    """One elementwise ONNX operator: ``unary(ctx, "Relu", x)``."""
    return ctx.op(op_type, [x.name], **attrs)


def softmax_axis(ndim, dim):
    """PyTorch's implicit softmax dim for ``dim=None`` (0 for 0-, 1- and 3-D input, else 1), or
    *dim* made non-negative."""
    if dim is None:
        dim = 0 if ndim in (0, 1, 3) else 1
    return dim % max(ndim, 1)


def gelu(ctx, x, approximate="none"):
    """x Φ(x) (``approximate="tanh"``: 0.5 x (1 + tanh(√(2/π)(x + 0.044715 x³))))."""
    if ctx.opset >= 20:
        return ctx.op("Gelu", [x.name], approximate=approximate)
    half = ctx.const(0.5, "half", like=x)
    one = ctx.const(1.0, "one", like=x)
    if approximate == "tanh":
        cube = ctx.op("Mul", [ctx.op("Mul", [x.name, x.name]), x.name])
        inner = ctx.op("Add", [x.name, ctx.op("Mul", [cube, ctx.const(0.044715, "c", like=x)])])
        t = ctx.op("Tanh", [ctx.op("Mul", [inner, ctx.const(math.sqrt(2 / math.pi), "k", like=x)])])
    else:
        t = ctx.op("Erf", [ctx.op("Div", [x.name, ctx.const(math.sqrt(2.0), "sqrt2", like=x)])])
    return ctx.op("Mul", [ctx.op("Mul", [x.name, half]), ctx.op("Add", [one, t])])


def silu(ctx, x):
    """x σ(x)."""
    return ctx.op("Mul", [x.name, ctx.op("Sigmoid", [x.name])])


def softplus(ctx, x, beta=1.0, threshold=20.0):
    """log(1 + e^{βx}) / β, and x where βx > threshold (PyTorch's and chainrule's definition)."""
    bx = x.name if beta == 1 else ctx.op("Mul", [x.name, ctx.const(beta, "beta", like=x)])
    soft = ctx.op("Softplus", [bx])
    if beta != 1:
        soft = ctx.op("Div", [soft, ctx.const(beta, "beta", like=x)])
    over = ctx.op("Greater", [bx, ctx.const(threshold, "threshold", like=x)])
    return ctx.op("Where", [over, x.name, soft])


def mish(ctx, x):
    """x tanh(softplus(x))."""
    if ctx.opset >= 18:
        return ctx.op("Mish", [x.name])
    sp = Value(softplus(ctx, x), x.example)
    return ctx.op("Mul", [x.name, ctx.op("Tanh", [sp.name])])


def clip(ctx, x, low, high):
    """min(max(x, low), high)."""
    return ctx.op("Clip", [x.name, ctx.const(low, "min", like=x), ctx.const(high, "max", like=x)])


def reduce_mean(ctx, name, axes):
    """The mean of *name* over *axes*, dimensions kept (axes an attribute before opset 18)."""
    if ctx.opset >= 18:
        return ctx.op("ReduceMean", [name, ctx.ints(axes, "axes")], keepdims=1)
    return ctx.op("ReduceMean", [name], axes=list(axes), keepdims=1)


def normalize(ctx, x, axes, eps, gamma=None, beta=None, param_shape=None):
    """γ (x - μ) / √(σ² + ε) + β with μ, σ² (biased) over *axes*; γ, β (names or None) are
    reshaped to *param_shape* for broadcasting."""
    xc = ctx.op("Sub", [x.name, reduce_mean(ctx, x.name, axes)])
    var = reduce_mean(ctx, ctx.op("Mul", [xc, xc]), axes)
    y = ctx.op("Div", [xc, ctx.op("Sqrt", [ctx.op("Add", [var, ctx.const(eps, "eps", like=x)])])])
    shape = ctx.ints(param_shape, "param_shape") if param_shape is not None else None
    if gamma is not None:
        y = ctx.op("Mul", [y, ctx.op("Reshape", [gamma, shape]) if shape else gamma])
    if beta is not None:
        y = ctx.op("Add", [y, ctx.op("Reshape", [beta, shape]) if shape else beta])
    return y


def dense(ctx, x, kernel, bias):
    """x @ kernel + bias for a kernel of shape (in, out) (names); Gemm for 2-D input."""
    if x.ndim == 2:
        return ctx.op("Gemm", [x.name, kernel] + ([bias] if bias else []))
    y = ctx.op("MatMul", [x.name, kernel])
    return ctx.op("Add", [y, bias]) if bias else y


def reshape_dims(ctx, x, start, end, middle):
    """*x* reshaped so that its dims ``start..end-1`` become *middle* (a list of ints, one may be
    -1), the other dims read from the input's own shape at run time (so any batch size works)."""
    parts = []
    if start > 0:
        parts.append(ctx.op("Shape", [x.name], start=0, end=start))
    parts.append(ctx.ints(middle, "dims"))
    if end < x.ndim:
        parts.append(ctx.op("Shape", [x.name], start=end))
    shape = parts[0] if len(parts) == 1 else ctx.op("Concat", parts, axis=0)
    return ctx.op("Reshape", [x.name, shape])


def transpose_axes(ndim, a, b):
    """The permutation of ``range(ndim)`` that swaps axes *a* and *b*."""
    perm = list(range(ndim))
    perm[a], perm[b] = perm[b], perm[a]
    return perm


def batch_norm(ctx, x, axis, mean, var, eps, gamma=None, beta=None):
    """Inference batch normalisation of *x* over feature *axis* with running *mean* and *var*
    (names); γ, β default to 1 and 0."""
    n = x.shape[axis]
    gamma = gamma or ctx.const(np.ones(n), "ones", like=x)
    beta = beta or ctx.const(np.zeros(n), "zeros", like=x)
    if axis == 1:
        return ctx.op("BatchNormalization", [x.name, gamma, beta, mean, var], epsilon=float(eps))
    perm = transpose_axes(x.ndim, 1, axis)
    t = ctx.op("Transpose", [x.name], perm=perm)
    y = ctx.op("BatchNormalization", [t, gamma, beta, mean, var], epsilon=float(eps))
    return ctx.op("Transpose", [y], perm=perm)
