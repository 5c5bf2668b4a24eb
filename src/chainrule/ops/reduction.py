"""Reductions: sums, means, extremes and norms over some dimensions (all of them by default).

A reduction's Jacobian spreads each output's gradient back over the elements it came from:
``expand`` of ȳ (with the reduced dimensions kept as size 1) times each element's weight.
Every reduction takes *dim* (or its NumPy alias *axis*) and *keepdim*.
"""
import builtins
from collections import namedtuple

from chainrule import dtypes
from chainrule.autograd.function import Function
from chainrule.backend import xp
from chainrule.errors import ConfigError, DTypeError, IndexOutOfRangeError, ShapeError
from chainrule.ops._util import normalize_dims, normalize_dim, pick_dim
from chainrule.ops.cast import to
from chainrule.ops.elementwise import where
from chainrule.ops.shape import cat, expand, permute, reshape
from chainrule.tensor import Tensor

values_indices = namedtuple("values_indices", ["values", "indices"])


def _keep(gy, in_shape, axes, keepdim):
    """ȳ reshaped so it broadcasts against the input (reduced axes back as size 1)."""
    if keepdim or axes is None and gy.data.ndim == len(in_shape):
        return gy
    if axes is None:
        return reshape(gy, (1,) * len(in_shape))
    shape = list(gy.data.shape)
    for a in axes:
        shape.insert(a, 1)
    return reshape(gy, tuple(shape))


class Sum(Function):
    """y = Σ x over *axes*.  Every element's weight is 1: x̄ = expand(ȳ)."""

    @staticmethod
    def forward(ctx, x, axes, keepdim):
        ctx.meta = (x.data.shape, axes, keepdim)
        return x.data.sum(axis=axes, keepdims=keepdim)

    @staticmethod
    def backward(ctx, gy):
        shape, axes, keepdim = ctx.meta
        return expand(_keep(gy, shape, axes, keepdim), shape), None, None


class Mean(Function):
    """y = (1/n) Σ x over *axes*.  x̄ = expand(ȳ) / n."""

    @staticmethod
    def forward(ctx, x, axes, keepdim):
        ctx.meta = (x.data.shape, axes, keepdim)
        return x.data.mean(axis=axes, keepdims=keepdim)

    @staticmethod
    def backward(ctx, gy):
        shape, axes, keepdim = ctx.meta
        return expand(_keep(gy, shape, axes, keepdim) / _count(shape, axes), shape), None, None


def _reduce_args(x, dim, axis, op):
    return normalize_dims(pick_dim(dim, axis), x.data.ndim, op)


def _sum_dtype(x, dtype):
    """*x* converted (differentiably) to *dtype*; without one, ints and bools sum as int64."""
    if dtype is not None:
        return to(x, dtype)
    if x.data.dtype.kind in "biu":
        return to(x, dtypes.int64)
    return x


def sum(input, dim=None, keepdim=False, dtype=None, *, axis=None):  # noqa: A001
    """Σ over *dim* (all dimensions by default); integer and bool inputs sum as int64."""
    x = _sum_dtype(input, dtype)
    return Sum.apply(x, _reduce_args(x, dim, axis, "sum"), bool(keepdim))


def mean(input, dim=None, keepdim=False, dtype=None, *, axis=None):
    """The arithmetic mean over *dim* (all dimensions by default); needs a float tensor."""
    if input.data.dtype.kind != "f" and dtype is None:
        raise DTypeError(f"mean: could not infer output dtype; input dtype is {input.dtype}: "
                         f"convert to a float dtype first (x.float()) or pass dtype=")
    x = _sum_dtype(input, dtype) if dtype is not None else input
    return Mean.apply(x, _reduce_args(x, dim, axis, "mean"), bool(keepdim))


def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None, axis=None):
    """Variance over *dim*; ``correction=1`` (the default, Bessel's) divides by n - 1."""
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    axes = _reduce_args(input, dim, axis, "var")
    n = _count(input.data.shape, axes)
    centered = input - Mean.apply(input, axes, True)
    ss = Sum.apply(centered * centered, axes, bool(keepdim))
    return ss / builtins.max(n - correction, 0)


class Std(Function):
    """y = √var(x) over *axes*, var dividing by n - c.

    x̄ = ȳ / (2y) · 2 (x - mean) / (n - c), and 0 where y = 0 (PyTorch's choice at the kink).
    """

    @staticmethod
    def forward(ctx, x, axes, correction, keepdim):
        n = _count(x.data.shape, axes)
        with xp.errstate(divide="ignore", invalid="ignore"):
            v = ((x.data - x.data.mean(axis=axes, keepdims=True)) ** 2).sum(
                axis=axes, keepdims=keepdim) / builtins.max(n - correction, 0)
        y = Tensor(xp.sqrt(v))
        ctx.meta = (x.data.shape, axes, keepdim, builtins.max(n - correction, 0))
        ctx.save_for_backward(x, y)
        return y

    @staticmethod
    def backward(ctx, gy):
        x, y = ctx.saved_tensors
        shape, axes, keepdim, dof = ctx.meta
        g, yk = _keep(gy, shape, axes, keepdim), _keep(y, shape, axes, keepdim)
        zero = Tensor(yk.data == 0)
        g_var = where(zero, 0.0, g / (where(zero, 1.0, yk) * 2))
        centered = x - Mean.apply(x, axes, True)
        return g_var * centered * (2.0 / dof if dof else float("inf")), None, None, None


def _count(shape, axes):
    n = 1
    for a in (range(len(shape)) if axes is None else axes):
        n *= shape[a]
    return n


def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None, axis=None):
    """Standard deviation over *dim*: the square root of :func:`var` (gradient 0 where it is 0)."""
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    axes = _reduce_args(input, dim, axis, "std")
    return Std.apply(input, axes, correction, bool(keepdim))


class Prod(Function):
    """y = Π x over *axes*.  x̄ᵢ = ȳ · Π_{j≠i} xⱼ  (= ȳ · y / xᵢ when no xᵢ is 0)."""

    @staticmethod
    def forward(ctx, x, axes, keepdim):
        ctx.meta = (x.data.shape, axes, keepdim)
        y = Tensor(x.data.prod(axis=axes, keepdims=keepdim))
        ctx.save_for_backward(x, y)
        return y

    @staticmethod
    def backward(ctx, gy):
        x, y = ctx.saved_tensors
        shape, axes, keepdim = ctx.meta
        g = expand(_keep(gy, shape, axes, keepdim), shape)
        if not (x.data == 0).any():
            return g * _keep(y, shape, axes, keepdim) / x, None, None
        return g * _prod_of_others(x, axes), None, None


def _prod_of_others(x, axes):
    """Π_{j≠i} xⱼ over *axes* for every element i, exact with zeros and differentiable again:
    an exclusive product scan from the left times one from the right, in tensor ops."""
    nd = x.data.ndim
    axes = tuple(range(nd)) if axes is None else axes
    perm = tuple(d for d in range(nd) if d not in axes) + tuple(axes)
    moved = permute(x, perm)
    m = reshape(moved, moved.shape[:nd - len(axes)] + (-1,))
    left = _exclusive_cumprod(m)
    right = _exclusive_cumprod(m[..., ::-1])[..., ::-1]
    out = reshape(left * right, moved.shape)
    inverse = [0] * nd
    for i, d in enumerate(perm):
        inverse[d] = i
    return permute(out, tuple(inverse))


def _exclusive_cumprod(m):
    """[1, m₀, m₀m₁, ...] along the last axis by a log-depth (Hillis–Steele) scan of products."""
    def ones(k):
        return Tensor(xp.ones(m.shape[:-1] + (k,), dtype=m.dtype))
    a = cat([ones(1), m[..., :-1]], -1)
    k = 1
    while k < m.shape[-1]:
        a = a * cat([ones(k), a[..., :-k]], -1)
        k *= 2
    return a


def prod(input, dim=None, keepdim=False, dtype=None, *, axis=None):
    """Π over *dim* (all dimensions by default)."""
    x = _sum_dtype(input, dtype) if dtype is not None else input
    return Prod.apply(x, _reduce_args(x, dim, axis, "prod"), bool(keepdim))


class AMax(Function):
    """y = max x over *axes*.  ȳ is shared evenly by the elements equal to the maximum."""

    @staticmethod
    def forward(ctx, x, axes, keepdim, largest):
        ctx.meta = (x.data.shape, axes, keepdim)
        y = x.data.max(axis=axes, keepdims=True) if largest else x.data.min(axis=axes, keepdims=True)
        mask = (x.data == y) | (xp.isnan(x.data) & xp.isnan(y))   # a NaN maximum is the NaNs
        ctx.weight = mask / mask.sum(axis=axes, keepdims=True)
        return y if keepdim else y.reshape(_reduced_shape(x.data.shape, axes))

    @staticmethod
    def backward(ctx, gy):
        shape, axes, keepdim = ctx.meta
        return _keep(gy, shape, axes, keepdim) * Tensor(ctx.weight.astype(gy.data.dtype)), \
            None, None, None


def _reduced_shape(shape, axes):
    if axes is None:
        return ()
    return tuple(n for i, n in enumerate(shape) if i not in axes)


def _check_nonempty(x, axes, op):
    if x.data.size == 0:
        raise ShapeError(f"{op}: expected a non-empty tensor, got shape {x.shape}")


def amax(input, dim=None, keepdim=False, *, axis=None):
    """The maximum over *dim* (ties share the gradient evenly)."""
    axes = _reduce_args(input, dim, axis, "amax")
    _check_nonempty(input, axes, "amax")
    return AMax.apply(input, axes, bool(keepdim), True)


def amin(input, dim=None, keepdim=False, *, axis=None):
    """The minimum over *dim* (ties share the gradient evenly)."""
    axes = _reduce_args(input, dim, axis, "amin")
    _check_nonempty(input, axes, "amin")
    return AMax.apply(input, axes, bool(keepdim), False)


class MaxDim(Function):
    """(values, indices) = max of x along one dimension.  The gradient goes to the index only."""

    @staticmethod
    def forward(ctx, x, dim, keepdim, largest):
        idx = (x.data.argmax if largest else x.data.argmin)(axis=dim, keepdims=True)
        vals = xp.take_along_axis(x.data, idx, axis=dim)
        ctx.meta = (x.data.shape, dim, keepdim, idx)
        if not keepdim:
            vals, idx = vals.squeeze(dim), idx.squeeze(dim)
        return vals

    @staticmethod
    def backward(ctx, gy):
        shape, dim, keepdim, idx = ctx.meta
        g = gy if keepdim else gy.unsqueeze(dim)
        return ScatterDim.apply(g, dim, idx, shape), None, None, None


class ScatterDim(Function):
    """y = zeros(shape) with g placed at *idx* along *dim*.  VJP: ḡ = ȳ gathered at idx."""

    @staticmethod
    def forward(ctx, g, dim, idx, shape):
        ctx.meta = (dim, idx)
        out = xp.zeros(shape, dtype=g.data.dtype)
        xp.put_along_axis(out, idx, g.data, axis=dim)
        return out

    @staticmethod
    def backward(ctx, gy):
        dim, idx = ctx.meta
        return GatherDim.apply(gy, dim, idx), None, None, None


class GatherDim(Function):
    """y = x[..., idx, ...] along *dim* (take_along_axis).  VJP: scatter ȳ back to idx."""

    @staticmethod
    def forward(ctx, x, dim, idx):
        ctx.meta = (x.data.shape, dim, idx)
        # as torch.gather, the index may be smaller than x in the other dimensions
        part = tuple(slice(None) if d == dim else slice(0, n) for d, n in enumerate(idx.shape))
        return xp.take_along_axis(x.data[part], idx, axis=dim)

    @staticmethod
    def backward(ctx, gy):
        shape, dim, idx = ctx.meta
        return ScatterAddDim.apply(gy, dim, idx, shape), None, None


class ScatterAddDim(Function):
    """y = zeros(shape) with g added at *idx* along *dim* (repeated indices accumulate)."""

    @staticmethod
    def forward(ctx, g, dim, idx, shape):
        ctx.meta = (dim, idx)
        out = xp.zeros(shape, dtype=g.data.dtype)
        full = list(xp.indices(idx.shape, sparse=True))
        full[dim] = idx
        xp.add.at(out, tuple(full), g.data)
        return out

    @staticmethod
    def backward(ctx, gy):
        dim, idx = ctx.meta
        return GatherDim.apply(gy, dim, idx), None, None, None


def gather(input, dim, index):
    """Pick values along *dim* at *index* (``torch.gather``)."""
    d = normalize_dim(dim, input.data.ndim, "gather")
    idx = index.data if isinstance(index, Tensor) else xp.asarray(index)
    if idx.dtype.kind not in "iu":
        raise DTypeError(f"gather: index must be an integer tensor, got dtype {idx.dtype}")
    if idx.ndim != input.data.ndim or builtins.any(
            i != d and n > input.data.shape[i] for i, n in enumerate(idx.shape)):
        raise ShapeError(f"gather: index of shape {idx.shape} does not fit input of shape "
                         f"{input.shape} along dim {d}: it needs as many dimensions, and sizes no "
                         f"larger than the input's in the other dimensions")
    if idx.size and (idx.min() < 0 or idx.max() >= input.data.shape[d]):
        raise IndexOutOfRangeError(f"gather: index out of range for dimension {d} of size "
                                   f"{input.data.shape[d]} (values from {idx.min()} to "
                                   f"{idx.max()})")
    return GatherDim.apply(input, d, idx)


def _max_min(input, dim, keepdim, axis, largest, op):
    dim = pick_dim(dim, axis)
    if dim is None:
        _check_nonempty(input, None, op)
        return AMax.apply(input, None, False, largest)
    if isinstance(dim, Tensor):
        raise DTypeError(f"{op}: use cr.maximum/cr.minimum for the elementwise {op} of two tensors")
    d = normalize_dim(dim, input.data.ndim, op)
    _check_nonempty(input, d, op)
    if input.data.ndim == 0:   # the 0-d tensor is its own maximum, at index 0
        return values_indices(reshape(input, (1,)).sum(0), Tensor(xp.asarray(0)))
    vals = MaxDim.apply(input, d, bool(keepdim), largest)
    idx = (input.data.argmax if largest else input.data.argmin)(axis=d, keepdims=bool(keepdim))
    return values_indices(vals, Tensor(idx.astype(dtypes.int64)))


def max(input, dim=None, keepdim=False, *, axis=None):  # noqa: A001
    """The largest element, or ``(values, indices)`` along *dim* (as ``torch.max``)."""
    return _max_min(input, dim, keepdim, axis, True, "max")


def min(input, dim=None, keepdim=False, *, axis=None):  # noqa: A001
    """The smallest element, or ``(values, indices)`` along *dim* (as ``torch.min``)."""
    return _max_min(input, dim, keepdim, axis, False, "min")


def argmax(input, dim=None, keepdim=False, *, axis=None):
    """Index of the largest element (of the flattened tensor if *dim* is None); no gradient."""
    dim = pick_dim(dim, axis)
    _check_nonempty(input, dim, "argmax")
    if dim is None:
        return Tensor(xp.asarray(input.data.argmax(), dtype=dtypes.int64))
    d = normalize_dim(dim, input.data.ndim, "argmax")
    return Tensor(input.data.argmax(axis=d, keepdims=bool(keepdim)).astype(dtypes.int64))


def argmin(input, dim=None, keepdim=False, *, axis=None):
    """Index of the smallest element (of the flattened tensor if *dim* is None); no gradient."""
    dim = pick_dim(dim, axis)
    _check_nonempty(input, dim, "argmin")
    if dim is None:
        return Tensor(xp.asarray(input.data.argmin(), dtype=dtypes.int64))
    d = normalize_dim(dim, input.data.ndim, "argmin")
    return Tensor(input.data.argmin(axis=d, keepdims=bool(keepdim)).astype(dtypes.int64))


class LogSumExp(Function):
    """y = log Σ eˣ over *axes*, computed as m + log Σ e^(x-m) with m = max x (no overflow).

    x̄ = ȳ · e^(x - y) = ȳ · softmax(x).
    """

    @staticmethod
    def forward(ctx, x, axes, keepdim):
        m = x.data.max(axis=axes, keepdims=True)
        m = xp.where(xp.isfinite(m), m, 0)
        y = xp.log(xp.exp(x.data - m).sum(axis=axes, keepdims=True)) + m
        out = Tensor(y if keepdim else y.reshape(_reduced_shape(x.data.shape, axes)))
        ctx.meta = (x.data.shape, axes, keepdim)
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx, gy):
        x, y = ctx.saved_tensors
        shape, axes, keepdim = ctx.meta
        return _keep(gy, shape, axes, keepdim) * (x - _keep(y, shape, axes, keepdim)).exp(), \
            None, None


def logsumexp(input, dim=None, keepdim=False, *, axis=None):
    """log Σ exp(x) over *dim*, stable for large inputs."""
    dim = pick_dim(dim, axis)
    if dim is None:
        dim = tuple(range(input.data.ndim))
    return LogSumExp.apply(input, normalize_dims(dim, input.data.ndim, "logsumexp"), bool(keepdim))


class Norm(Function):
    """y = (Σ |x|ᵖ)^(1/p) over *axes*.

    x̄ = ȳ · sign(x) · |x|^(p-1) / y^(p-1); for p = 2 that is ȳ · x / y, and 0 where y = 0
    (the subgradient PyTorch picks).
    """

    @staticmethod
    def forward(ctx, x, p, axes, keepdim):
        a = xp.abs(x.data)
        if p == 2:
            y = xp.sqrt((x.data * x.data).sum(axis=axes, keepdims=True))
        elif p == 1:
            y = a.sum(axis=axes, keepdims=True)
        else:
            y = (a ** p).sum(axis=axes, keepdims=True) ** (1.0 / p)
        out = Tensor(y if keepdim else y.reshape(_reduced_shape(x.data.shape, axes)))
        ctx.meta = (x.data.shape, p, axes, keepdim)
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx, gy):
        x, y = ctx.saved_tensors
        shape, p, axes, keepdim = ctx.meta
        g, yk = _keep(gy, shape, axes, keepdim), _keep(y, shape, axes, keepdim)
        if p == 1:
            return g * Tensor(xp.sign(x.data)), None, None, None
        safe = Tensor(xp.where(yk.data == 0, 1, 0).astype(yk.data.dtype)) + yk
        if p == 2:
            return g * x / safe, None, None, None
        return g * Tensor(xp.sign(x.data)) * x.abs() ** (p - 1) / safe ** (p - 1), None, None, None


def norm(input, p="fro", dim=None, keepdim=False, *, axis=None):
    """The p-norm over *dim* (all elements by default): p = 'fro' or 2, 1, inf, -inf, or any p > 0."""
    axes = _reduce_args(input, dim, axis, "norm")
    if p in ("fro", None):
        p = 2
    if p == float("inf"):
        return amax(input.abs(), dim=axes, keepdim=keepdim)
    if p == float("-inf"):
        return amin(input.abs(), dim=axes, keepdim=keepdim)
    if not isinstance(p, (int, float)) or p <= 0:
        raise ConfigError(f"norm: p must be 'fro', a positive number or ±inf, got {p!r}")
    return Norm.apply(input, p, axes, bool(keepdim))
