"""Reductions: sums, means, extremes and norms over some dimensions (all of them by default).

A reduction's Jacobian spreads each output's gradient back over the elements it came from:
``expand`` of ȳ (with the reduced dimensions kept as size 1) times each element's weight.
Every reduction takes *dim* (or its NumPy alias *axis*) and *keepdim*.
"""
import builtins
from collections import namedtuple

from chainrule import dtypes
from chainrule.backend import device_of, namespace_of
from chainrule.errors import (ArgumentTypeError, ConfigError, DeviceError, DTypeError,
                              IndexOutOfRangeError, ShapeError)
from chainrule.function import Op
from chainrule.ops._util import normalize_dims, normalize_dim, pick_dim
from chainrule.ops.cast import to
from chainrule.ops.shape import reshape
from chainrule.tensor import Tensor

values_indices = namedtuple("values_indices", ["values", "indices"])


def _array(t):
    """The array behind a saved value (masks and weights are constants, never differentiated)."""
    return t._data if isinstance(t, Tensor) else t


def _keep(g, in_shape, axes, keepdim):
    """*g* (ȳ, or a saved output) reshaped so it broadcasts against the input: the reduced axes
    back as size 1.  Works on arrays and on tensors alike."""
    if keepdim or axes is None and g.ndim == len(in_shape):
        return g
    if axes is None:
        return g.reshape((1,) * len(in_shape))
    shape = list(g.shape)
    for a in axes:
        shape.insert(a, 1)
    return g.reshape(tuple(shape))


class Sum(Op):
    """y = Σ x over *axes*.  Every element's weight is 1: x̄ = expand(ȳ)."""

    @staticmethod
    def forward(ctx, x, axes, keepdim):
        ctx.meta = (x._data.shape, axes, keepdim)
        return x._data.sum(axis=axes, keepdims=keepdim)

    @staticmethod
    def backward(ctx, gy):
        shape, axes, keepdim = ctx.meta
        return ctx.xp.broadcast_to(_keep(gy, shape, axes, keepdim), shape), None, None

    @staticmethod
    def jvp(ctx, tx, *rest):
        """ẏ = Σ ẋ over the same axes."""
        _, axes, keepdim = ctx.meta
        return ctx.xp.sum(tx, axis=axes, keepdims=keepdim)


class Mean(Op):
    """y = (1/n) Σ x over *axes*.  x̄ = expand(ȳ) / n."""

    @staticmethod
    def forward(ctx, x, axes, keepdim):
        ctx.meta = (x._data.shape, axes, keepdim)
        return x._data.mean(axis=axes, keepdims=keepdim)

    @staticmethod
    def backward(ctx, gy):
        shape, axes, keepdim = ctx.meta
        return ctx.xp.broadcast_to(_keep(gy, shape, axes, keepdim) / _count(shape, axes), shape), \
            None, None

    @staticmethod
    def jvp(ctx, tx, *rest):
        """ẏ = mean of ẋ over the same axes."""
        _, axes, keepdim = ctx.meta
        return ctx.xp.mean(tx, axis=axes, keepdims=keepdim)


def _reduce_args(x, dim, axis, op):
    return normalize_dims(pick_dim(dim, axis), x._data.ndim, op)


def _sum_dtype(x, dtype):
    """*x* converted (differentiably) to *dtype*; without one, ints and bools sum as int64."""
    if dtype is not None:
        return to(x, dtype)
    if x._data.dtype.kind in "biu":
        return to(x, dtypes.int64)
    return x


def sum(input, dim=None, keepdim=False, dtype=None, *, axis=None):  # noqa: A001
    """Σ over *dim* (all dimensions by default); integer and bool inputs sum as int64."""
    x = _sum_dtype(input, dtype)
    return Sum.apply(x, _reduce_args(x, dim, axis, "sum"), bool(keepdim))


def mean(input, dim=None, keepdim=False, dtype=None, *, axis=None):
    """The arithmetic mean over *dim* (all dimensions by default); needs a float tensor."""
    if input._data.dtype.kind != "f" and dtype is None:
        raise DTypeError(f"mean: could not infer output dtype; input dtype is {input.dtype}: "
                         f"convert to a float dtype first (x.float()) or pass dtype=")
    x = _sum_dtype(input, dtype) if dtype is not None else input
    return Mean.apply(x, _reduce_args(x, dim, axis, "mean"), bool(keepdim))


def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None, axis=None):
    """Variance over *dim*; ``correction=1`` (the default, Bessel's) divides by n - 1."""
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    axes = _reduce_args(input, dim, axis, "var")
    n = _count(input._data.shape, axes)
    centered = input - Mean.apply(input, axes, True)
    ss = Sum.apply(centered * centered, axes, bool(keepdim))
    return ss / builtins.max(n - correction, 0)


class Std(Op):
    """y = √var(x) over *axes*, var dividing by n - c.

    x̄ = ȳ / (2y) · 2 (x - mean) / (n - c), and 0 where y = 0 (PyTorch's choice at the kink).
    """

    @staticmethod
    def forward(ctx, x, axes, correction, keepdim):
        xp, a = ctx.xp, x._data
        dof = builtins.max(_count(a.shape, axes) - correction, 0)
        with xp.errstate(divide="ignore", invalid="ignore"):
            d = a - a.mean(axis=axes, keepdims=True)
            y = xp.sqrt((d * d).sum(axis=axes, keepdims=keepdim) / dof)
        ctx.meta = (a.shape, axes, keepdim, dof)
        ctx.save_for_backward(x, y)
        return y

    @staticmethod
    def backward(ctx, gy):
        xp = ctx.xp
        x, y = ctx.saved_tensors
        shape, axes, keepdim, dof = ctx.meta
        g, yk = _keep(gy, shape, axes, keepdim), _keep(y, shape, axes, keepdim)
        zero = _array(yk) == 0                      # a constant mask
        g_var = xp.where(zero, 0.0, g / (xp.where(zero, 1.0, yk) * 2))
        centered = x - xp.mean(x, axis=axes, keepdims=True)
        return g_var * centered * (2.0 / dof if dof else float("inf")), None, None, None

    @staticmethod
    def jvp(ctx, tx, *rest):
        """ẏ = Σ ẋ (x - mean) / ((n - c) y), and 0 where y = 0."""
        xp = ctx.xp
        x, y = ctx.primals[0], ctx.outputs[0]
        shape, axes, keepdim, dof = ctx.meta
        zero = _array(y) == 0
        centered = x - xp.mean(x, axis=axes, keepdims=True)
        s = xp.sum(tx * centered, axis=axes, keepdims=keepdim)
        with xp.errstate(divide="ignore", invalid="ignore"):
            return xp.where(zero, 0.0, s / (xp.where(zero, 1.0, y) * dof))


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


class Prod(Op):
    """y = Π x over *axes*.  x̄ᵢ = ȳ · Π_{j≠i} xⱼ  (= ȳ · y / xᵢ when no xᵢ is 0)."""

    @staticmethod
    def forward(ctx, x, axes, keepdim):
        ctx.meta = (x._data.shape, axes, keepdim)
        y = x._data.prod(axis=axes, keepdims=keepdim)
        ctx.save_for_backward(x, y)
        return y

    @staticmethod
    def backward(ctx, gy):
        xp = ctx.xp
        x, y = ctx.saved_tensors
        shape, axes, keepdim = ctx.meta
        g = xp.broadcast_to(_keep(gy, shape, axes, keepdim), shape)
        if not (_array(x) == 0).any():
            return g * _keep(y, shape, axes, keepdim) / x, None, None
        return g * _prod_of_others(xp, x, axes), None, None

    @staticmethod
    def jvp(ctx, tx, *rest):
        """ẏ = Σᵢ ẋᵢ · Π_{j≠i} xⱼ."""
        _, axes, keepdim = ctx.meta
        xp = ctx.xp
        return xp.sum(tx * _prod_of_others(xp, ctx.primals[0], axes), axis=axes,
                      keepdims=keepdim)


def _prod_of_others(xp, x, axes):
    """Π_{j≠i} xⱼ over *axes* for every element i, exact with zeros and differentiable again:
    an exclusive product scan from the left times one from the right (arrays or tensors)."""
    nd = x.ndim
    axes = tuple(range(nd)) if axes is None else axes
    perm = tuple(d for d in range(nd) if d not in axes) + tuple(axes)
    moved = xp.transpose(x, perm)
    m = moved.reshape(tuple(moved.shape[:nd - len(axes)]) + (-1,))
    left = _exclusive_cumprod(xp, m)
    right = _exclusive_cumprod(xp, m[..., ::-1])[..., ::-1]
    out = (left * right).reshape(tuple(moved.shape))
    inverse = [0] * nd
    for i, d in enumerate(perm):
        inverse[d] = i
    return xp.transpose(out, tuple(inverse))


def _exclusive_cumprod(xp, m):
    """[1, m₀, m₀m₁, ...] along the last axis by a log-depth (Hillis–Steele) scan of products."""
    a = xp.concatenate([xp.ones_like(m[..., :1]), m[..., :-1]], -1)
    k = 1
    while k < m.shape[-1]:
        a = a * xp.concatenate([xp.ones_like(m[..., :k]), a[..., :-k]], -1)
        k *= 2
    return a


def prod(input, dim=None, keepdim=False, dtype=None, *, axis=None):
    """Π over *dim* (all dimensions by default)."""
    x = _sum_dtype(input, dtype) if dtype is not None else input
    return Prod.apply(x, _reduce_args(x, dim, axis, "prod"), bool(keepdim))


class AMax(Op):
    """y = max x over *axes*.  ȳ is shared evenly by the elements equal to the maximum."""

    @staticmethod
    def forward(ctx, x, axes, keepdim, largest):
        xp, a = ctx.xp, x._data
        ctx.meta = (a.shape, axes, keepdim)
        y = a.max(axis=axes, keepdims=True) if largest else a.min(axis=axes, keepdims=True)
        if ctx.needs_input_grad[0]:      # the shares are constants of the backward
            mask = (a == y) | (xp.isnan(a) & xp.isnan(y))     # a NaN maximum is the NaNs
            ctx.weight = (mask / mask.sum(axis=axes, keepdims=True)).astype(a.dtype)
        return y if keepdim else y.reshape(_reduced_shape(a.shape, axes))

    @staticmethod
    def backward(ctx, gy):
        shape, axes, keepdim = ctx.meta
        return _keep(gy, shape, axes, keepdim) * ctx.weight, None, None, None

    @staticmethod
    def jvp(ctx, tx, *rest):
        """ẏ = the mean of ẋ over the elements equal to the extreme."""
        shape, axes, keepdim = ctx.meta
        a = _array(ctx.primals[0])
        y = _keep(_array(ctx.outputs[0]), shape, axes, keepdim)
        mask = (a == y) | (namespace_of(a).isnan(a) & namespace_of(a).isnan(y))
        weight = (mask / mask.sum(axis=axes, keepdims=True)).astype(a.dtype)
        return ctx.xp.sum(tx * weight, axis=axes, keepdims=keepdim)


def _reduced_shape(shape, axes):
    if axes is None:
        return ()
    return tuple(n for i, n in enumerate(shape) if i not in axes)


def _check_nonempty(x, axes, op):
    if x._data.size == 0:
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


class MaxDim(Op):
    """values = x at *idx* (the arg-max or arg-min, kept as size 1) along one dimension.

    The gradient goes to the index only: x̄ = zeros with ȳ placed at idx.
    """

    @staticmethod
    def forward(ctx, x, dim, keepdim, idx):
        vals = ctx.xp.take_along_axis(x._data, idx, axis=dim)
        ctx.meta = (x._data.shape, dim, keepdim, idx)
        return vals if keepdim else vals.reshape(_reduced_shape(vals.shape, (dim,)))

    @staticmethod
    def backward(ctx, gy):
        shape, dim, keepdim, idx = ctx.meta
        g = gy if keepdim else ctx.xp.expand_dims(gy, dim)
        return ctx.call(ScatterDim, g, dim, idx, shape), None, None, None

    @staticmethod
    def jvp(ctx, tx, *rest):
        """ẏ = ẋ at the index."""
        shape, dim, keepdim, idx = ctx.meta
        t = ctx.call(GatherDim, tx, dim, idx)
        return t if keepdim else t.reshape(_reduced_shape(t.shape, (dim,)))


class ScatterDim(Op):
    """y = zeros(shape) with g placed at *idx* along *dim*.  VJP: ḡ = ȳ gathered at idx."""

    @staticmethod
    def forward(ctx, g, dim, idx, shape):
        # from ctx.call: g an array (or a NumPy scalar), idx an array handed over as a tensor
        g, idx = _array(g), _array(idx)
        ctx.meta = (dim, idx)
        out = ctx.xp.zeros(shape, dtype=g.dtype)
        ctx.xp.put_along_axis(out, idx, g, axis=dim)
        return out

    @staticmethod
    def backward(ctx, gy):
        dim, idx = ctx.meta
        return ctx.call(GatherDim, gy, dim, idx), None, None, None

    @staticmethod
    def jvp(ctx, tg, *rest):
        dim, idx = ctx.meta
        return ctx.call(ScatterDim, tg, dim, idx, ctx.outputs[0].shape)


class GatherDim(Op):
    """y = x[..., idx, ...] along *dim* (take_along_axis).  VJP: scatter ȳ back to idx."""

    @staticmethod
    def forward(ctx, x, dim, idx):
        a, idx = _array(x), _array(idx)
        ctx.meta = (a.shape, dim, idx)
        # as torch.gather, the index may be smaller than x in the other dimensions
        part = tuple(slice(None) if d == dim else slice(0, n) for d, n in enumerate(idx.shape))
        return ctx.xp.take_along_axis(a[part], idx, axis=dim)

    @staticmethod
    def backward(ctx, gy):
        shape, dim, idx = ctx.meta
        return ctx.call(ScatterAddDim, gy, dim, idx, shape), None, None

    @staticmethod
    def jvp(ctx, tx, *rest):
        _, dim, idx = ctx.meta
        return ctx.call(GatherDim, tx, dim, idx)


class ScatterAddDim(Op):
    """y = zeros(shape) with g added at *idx* along *dim* (repeated indices accumulate).
    VJP: ḡ = ȳ gathered at idx."""

    @staticmethod
    def forward(ctx, g, dim, idx, shape):
        xp, g, idx = ctx.xp, _array(g), _array(idx)
        ctx.meta = (dim, idx)
        out = xp.zeros(shape, dtype=g.dtype)
        full = []                 # idx along dim, the position itself along the others
        for d, n in enumerate(idx.shape):
            if d == dim:
                full.append(idx)
            else:
                full.append(xp.arange(n).reshape(tuple(n if k == d else 1
                                                        for k in range(idx.ndim))))
        xp.add.at(out, tuple(full), g)
        return out

    @staticmethod
    def backward(ctx, gy):
        dim, idx = ctx.meta
        return ctx.call(GatherDim, gy, dim, idx), None, None, None

    @staticmethod
    def jvp(ctx, tg, *rest):
        dim, idx = ctx.meta
        return ctx.call(ScatterAddDim, tg, dim, idx, ctx.outputs[0].shape)


def gather(input, dim, index):
    """Pick values along *dim* at *index* (``torch.gather``)."""
    d = normalize_dim(dim, input._data.ndim, "gather")
    if isinstance(index, Tensor):
        if device_of(index._data) != device_of(input._data):
            raise DeviceError(f"gather: index is on {device_of(index._data)} but input is on "
                              f"{device_of(input._data)}; move one with .to()")
        idx = index._data
    else:
        idx = namespace_of(input._data).asarray(index)
    if idx.dtype.kind not in "iu":
        raise DTypeError(f"gather: index must be an integer tensor, got dtype {idx.dtype}")
    if idx.ndim != input._data.ndim or builtins.any(
            i != d and n > input._data.shape[i] for i, n in enumerate(idx.shape)):
        raise ShapeError(f"gather: index of shape {idx.shape} does not fit input of shape "
                         f"{input.shape} along dim {d}: it needs as many dimensions, and sizes no "
                         f"larger than the input's in the other dimensions")
    if idx.size and not ((idx >= 0) & (idx < input._data.shape[d])).all():   # one device read
        raise IndexOutOfRangeError(f"gather: index out of range for dimension {d} of size "
                                   f"{input._data.shape[d]} (values from {idx.min()} to "
                                   f"{idx.max()})")
    return GatherDim.apply(input, d, idx)


def _max_min(input, dim, keepdim, axis, largest, op):
    dim = pick_dim(dim, axis)
    if dim is None:
        _check_nonempty(input, None, op)
        return AMax.apply(input, None, False, largest)
    if isinstance(dim, Tensor):
        raise ArgumentTypeError(f"{op}: use cr.maximum/cr.minimum for the elementwise {op} of two "
                                "tensors")
    d = normalize_dim(dim, input._data.ndim, op)
    _check_nonempty(input, d, op)
    a = input._data
    if a.ndim == 0:   # the 0-d tensor is its own maximum, at index 0
        return values_indices(reshape(input, (1,)).sum(0),
                              Tensor(namespace_of(a).zeros((), dtype=dtypes.int64)))
    idx = (a.argmax if largest else a.argmin)(axis=d, keepdims=True)
    vals = MaxDim.apply(input, d, bool(keepdim), idx)
    if not keepdim:
        idx = idx.reshape(_reduced_shape(idx.shape, (d,)))
    return values_indices(vals, Tensor(idx.astype(dtypes.int64, copy=False)))


def max(input, dim=None, keepdim=False, *, axis=None):  # noqa: A001
    """The largest element, or ``(values, indices)`` along *dim* (as ``torch.max``)."""
    return _max_min(input, dim, keepdim, axis, True, "max")


def min(input, dim=None, keepdim=False, *, axis=None):  # noqa: A001
    """The smallest element, or ``(values, indices)`` along *dim* (as ``torch.min``)."""
    return _max_min(input, dim, keepdim, axis, False, "min")


def _arg(input, dim, keepdim, axis, largest, op):
    dim = pick_dim(dim, axis)
    _check_nonempty(input, dim, op)
    a = input._data
    find = a.argmax if largest else a.argmin
    if dim is None:
        return Tensor(namespace_of(a).asarray(find(), dtype=dtypes.int64))
    d = normalize_dim(dim, a.ndim, op)
    return Tensor(find(axis=d, keepdims=bool(keepdim)).astype(dtypes.int64, copy=False))


def argmax(input, dim=None, keepdim=False, *, axis=None):
    """Index of the largest element (of the flattened tensor if *dim* is None); no gradient."""
    return _arg(input, dim, keepdim, axis, True, "argmax")


def argmin(input, dim=None, keepdim=False, *, axis=None):
    """Index of the smallest element (of the flattened tensor if *dim* is None); no gradient."""
    return _arg(input, dim, keepdim, axis, False, "argmin")


class LogSumExp(Op):
    """y = log Σ eˣ over *axes*, computed as m + log Σ e^(x-m) with m = max x (no overflow).

    x̄ = ȳ · e^(x - y) = ȳ · softmax(x).
    """

    @staticmethod
    def forward(ctx, x, axes, keepdim):
        xp, a = ctx.xp, x._data
        m = a.max(axis=axes, keepdims=True)
        m = xp.where(xp.isfinite(m), m, 0)
        # x - m may overflow to -inf (e^-inf = 0 is right), and log 0 = -inf is the right value
        # when every x is -inf: neither warning is a wrong result
        with xp.errstate(over="ignore", divide="ignore"):
            y = xp.log(xp.exp(a - m).sum(axis=axes, keepdims=True)) + m
        y = y if keepdim else y.reshape(_reduced_shape(a.shape, axes))
        ctx.meta = (a.shape, axes, keepdim)
        ctx.save_for_backward(x, y)
        return y

    @staticmethod
    def backward(ctx, gy):
        xp = ctx.xp
        x, y = ctx.saved_tensors
        shape, axes, keepdim = ctx.meta
        with xp.errstate(over="ignore"):     # x - y overflowing to -inf gives the right 0
            return _keep(gy, shape, axes, keepdim) * xp.exp(x - _keep(y, shape, axes, keepdim)), \
                None, None

    @staticmethod
    def jvp(ctx, tx, *rest):
        """ẏ = Σ ẋ · softmax(x)."""
        xp = ctx.xp
        shape, axes, keepdim = ctx.meta
        with xp.errstate(over="ignore"):
            w = xp.exp(ctx.primals[0] - _keep(ctx.outputs[0], shape, axes, keepdim))
        return xp.sum(tx * w, axis=axes, keepdims=keepdim)


def logsumexp(input, dim=None, keepdim=False, *, axis=None):
    """log Σ exp(x) over *dim*, stable for large inputs."""
    dim = pick_dim(dim, axis)
    if dim is None:
        dim = tuple(range(input._data.ndim))
    return LogSumExp.apply(input, normalize_dims(dim, input._data.ndim, "logsumexp"), bool(keepdim))


class Norm(Op):
    """y = (Σ |x|ᵖ)^(1/p) over *axes*.

    x̄ = ȳ · sign(x) · |x|^(p-1) / y^(p-1); for p = 2 that is ȳ · x / y, and 0 where y = 0
    (the subgradient PyTorch picks).
    """

    @staticmethod
    def forward(ctx, x, p, axes, keepdim):
        xp, a = ctx.xp, x._data
        if p == 2:
            y = xp.sqrt((a * a).sum(axis=axes, keepdims=True))
        elif p == 1:
            y = xp.abs(a).sum(axis=axes, keepdims=True)
        else:
            y = (xp.abs(a) ** p).sum(axis=axes, keepdims=True) ** (1.0 / p)
        y = y if keepdim else y.reshape(_reduced_shape(a.shape, axes))
        ctx.meta = (a.shape, p, axes, keepdim)
        ctx.save_for_backward(x, y)
        return y

    @staticmethod
    def backward(ctx, gy):
        xp = ctx.xp
        x, y = ctx.saved_tensors
        shape, p, axes, keepdim = ctx.meta
        g, yk = _keep(gy, shape, axes, keepdim), _keep(y, shape, axes, keepdim)
        xa = _array(x)
        sign = namespace_of(xa).sign(xa)               # a constant (its derivative is 0)
        if p == 1:
            return g * sign, None, None, None
        ya = _array(yk)
        safe = yk + (ya == 0).astype(ya.dtype)          # y, with 1 where y = 0
        if p == 2:
            return g * x / safe, None, None, None
        return g * sign * xp.abs(x) ** (p - 1) / safe ** (p - 1), None, None, None

    @staticmethod
    def jvp(ctx, tx, *rest):
        """ẏ = Σ ẋ · sign(x) |x|^(p-1) / y^(p-1)  (0 where y = 0)."""
        xp = ctx.xp
        x, y = ctx.primals[0], ctx.outputs[0]
        shape, p, axes, keepdim = ctx.meta
        xa = _array(x)
        sign = namespace_of(xa).sign(xa)
        if p == 1:
            d = sign
        else:
            yk = _keep(y, shape, axes, keepdim)
            ya = _array(yk)
            safe = yk + (ya == 0).astype(ya.dtype)
            d = x / safe if p == 2 else sign * xp.abs(x) ** (p - 1) / safe ** (p - 1)
        return xp.sum(tx * d, axis=axes, keepdims=keepdim)


class SmallPNorm(Op):
    """y = (Σ |x|ᵖ)^(1/p) for p < 1 (p ≠ 0).  x̄ = ȳ · sign(x) |x|^(p−1) · y^(1−p), and 0 where
    x = 0 (PyTorch's choice: the sum is then inf for p < 0, so y = 0).
    ẏ = Σ ẋ · sign(x) |x|^(p−1) · y^(1−p), the same 0 where x = 0."""

    @staticmethod
    def forward(ctx, x, p, axes, keepdim):
        with ctx.xp.errstate(divide="ignore", over="ignore"):     # |0|ᵖ = inf for p < 0
            return Norm.forward(ctx, x, p, axes, keepdim)

    @staticmethod
    def backward(ctx, gy):
        xp = ctx.xp
        x, y = ctx.saved_tensors
        shape, p, axes, keepdim = ctx.meta
        kept = tuple(1 if axes is None or i in axes else n for i, n in enumerate(shape))
        g, yk = (gy, y) if keepdim else (gy.reshape(kept), y.reshape(kept))
        xa = x._data if isinstance(x, Tensor) else x
        zero = xa == 0
        ns = namespace_of(xa)
        with xp.errstate(divide="ignore", invalid="ignore", over="ignore"):
            scaled = xp.where(zero, 0.0, ns.sign(xa) * xp.abs(xp.where(zero, 1.0, x)) ** (p - 1))
            return g * scaled * yk ** (1 - p), None, None, None

    @staticmethod
    def jvp(ctx, tx, *_):
        """ẏ = Σ ẋ · sign(x) |x|^(p−1) · y^(1−p) (0 where x = 0)."""
        xp = ctx.xp
        x, y = ctx.primals[0], ctx.outputs[0]
        _, p, axes, keepdim = ctx.meta
        xa = _array(x)
        zero = xa == 0
        with xp.errstate(divide="ignore", invalid="ignore", over="ignore"):
            scaled = xp.where(zero, 0.0, namespace_of(xa).sign(xa)
                              * xp.abs(xp.where(zero, 1.0, x)) ** (p - 1))
            return xp.sum(tx * scaled, axis=axes, keepdims=keepdim) * y ** (1 - p)


def norm(input, p="fro", dim=None, keepdim=False, *, axis=None):
    """The p-norm over *dim* (all elements by default): p = 'fro' or 2, 1, inf, -inf, or any p > 0
    (for p < 1 the gradient is 0 where x = 0, as PyTorch's)."""
    axes = _reduce_args(input, dim, axis, "norm")
    if p in ("fro", None):
        p = 2
    if p == float("inf"):
        return amax(input.abs(), dim=axes, keepdim=keepdim)
    if p == float("-inf"):
        return amin(input.abs(), dim=axes, keepdim=keepdim)
    if not isinstance(p, (int, float)) or p <= 0:
        raise ConfigError(f"norm: p must be 'fro', a positive number or ±inf, got {p!r}")
    if p < 1:
        return SmallPNorm.apply(input, float(p), axes, bool(keepdim))
    return Norm.apply(input, p, axes, bool(keepdim))
