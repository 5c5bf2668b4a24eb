"""Sorting and selection: ``sort, argsort, topk, kthvalue, median, quantile, unique,
searchsorted``.

Orders are stable: equal values keep their order of appearance (NaN sorts above +inf, as in
PyTorch), so ``sort(stable=True)`` matches PyTorch exactly and ties are broken by position
everywhere.  Selected values are gathered from the input, so their gradient goes to the element
each one came from; the median of the whole tensor shares its gradient evenly between the
elements equal to it, as PyTorch's.
"""
from collections import namedtuple

from chainrule import dtypes
from chainrule.backend import namespace_of
from chainrule.errors import (ArgumentTypeError, ConfigError, DTypeError, IndexOutOfRangeError,
                              ShapeError)
from chainrule.function import Op
from chainrule.ops._util import normalize_dim
from chainrule.ops.elementwise_more import lerp
from chainrule.ops.reduction import GatherDim, MaxDim
from chainrule.ops.shape import reshape
from chainrule.tensor import Tensor

sort_result = namedtuple("sort", ["values", "indices"])
topk_result = namedtuple("topk", ["values", "indices"])
kthvalue_result = namedtuple("kthvalue", ["values", "indices"])
median_result = namedtuple("median", ["values", "indices"])


def _int64(a):
    return a.astype(dtypes.int64, copy=False)


def stable_argsort(a, dim, descending=False):
    """Indices that sort array *a* along *dim*, ties in order of appearance (NaN largest)."""
    xp = namespace_of(a)
    if not descending:
        return xp.argsort(a, axis=dim, kind="stable")
    # sort the reversed row ascending (ties then come last-first), and reverse back
    flip = (slice(None),) * dim + (slice(None, None, -1),)
    rev = xp.argsort(a[flip], axis=dim, kind="stable")[flip]
    return (a.shape[dim] - 1) - rev


def _prepare(input, dim, op):
    if not isinstance(input, Tensor):
        raise ArgumentTypeError(f"{op}: expected a tensor, got {type(input).__name__}")
    return normalize_dim(dim, input._data.ndim, op)


def sort(input, dim=-1, descending=False, *, stable=False):
    """Sorted values and the indices they came from, along *dim*: ``values, indices =
    cr.sort(x, descending=True)``.  Ties keep their order (the sort is always stable)."""
    d = _prepare(input, dim, "sort")
    a = input._data
    if a.ndim == 0:
        return sort_result(input.clone(), Tensor(namespace_of(a).zeros((), dtype=dtypes.int64)))
    idx = stable_argsort(a, d, bool(descending))
    return sort_result(GatherDim.apply(input, d, idx), Tensor(_int64(idx)))


def argsort(input, dim=-1, descending=False, *, stable=False):
    """The indices that sort *input* along *dim* (stable)."""
    return sort(input, dim, descending, stable=stable).indices


def msort(input):
    """Sort along the first dimension (values only)."""
    return sort(input, 0).values


def topk(input, k, dim=-1, largest=True, sorted=True):
    """The *k* largest (or smallest) values along *dim* with their indices, largest first; equal
    values come in order of position."""
    d = _prepare(input, dim, "topk")
    a = input._data
    n = a.shape[d] if a.ndim else 1
    if not isinstance(k, int) or not 0 <= k <= n:
        raise IndexOutOfRangeError(f"topk: k ({k}) out of range for dimension {d} of size {n}")
    if a.ndim == 0:
        vals, idx = topk(reshape(input, (1,)), k, 0, largest, sorted)
        return topk_result(reshape(vals, ()), reshape(idx, ())) if k else topk_result(vals, idx)
    idx = stable_argsort(a, d, bool(largest))[(slice(None),) * d + (slice(0, k),)]
    return topk_result(GatherDim.apply(input, d, idx), Tensor(_int64(idx)))


def _select(input, d, idx, keepdim, result):
    """(values, indices) of the positions *idx* (kept as size 1 along *d*)."""
    if input._data.ndim == 0:
        return result(input.clone(), Tensor(namespace_of(input._data).zeros((), dtype=dtypes.int64)))
    vals = MaxDim.apply(input, d, bool(keepdim), idx)
    if not keepdim:
        idx = idx.reshape(tuple(n for i, n in enumerate(idx.shape) if i != d))
    return result(vals, Tensor(_int64(idx)))


def kthvalue(input, k, dim=-1, keepdim=False):
    """The *k*-th smallest value along *dim* (k from 1) and its index."""
    d = _prepare(input, dim, "kthvalue")
    a = input._data
    n = a.shape[d] if a.ndim else 1
    if not isinstance(k, int) or not 1 <= k <= n:
        raise IndexOutOfRangeError(f"kthvalue: k ({k}) out of range for dimension {d} of size "
                                   f"{n} (k counts from 1)")
    if a.ndim == 0:
        return _select(input, 0, None, keepdim, kthvalue_result)
    idx = stable_argsort(a, d)[(slice(None),) * d + (slice(k - 1, k),)]
    return _select(input, d, idx, keepdim, kthvalue_result)


class EvenShare(Op):
    """y = the chosen value v of x (a median).  x̄ = ȳ shared evenly by the elements equal to v
    (the NaNs when v is NaN), as PyTorch's median; ẏ = the mean of ẋ over those elements."""

    @staticmethod
    def forward(ctx, x, value):
        xp, a = ctx.xp, x._data
        mask = (a == value) | (xp.isnan(a) & xp.isnan(value))
        ctx.weight = (mask / mask.sum()).astype(a.dtype)
        return value

    @staticmethod
    def backward(ctx, gy):
        return gy * ctx.weight, None

    @staticmethod
    def jvp(ctx, tx, _):
        """ẏ = Σ ẋ · (the even shares)."""
        return ctx.xp.sum(tx * ctx.weight)


def _median_index(a, d):
    """Along *d*: the position of the lower median, or of the first NaN where a row has one."""
    xp = namespace_of(a)
    n = a.shape[d]
    m = (n - 1) // 2
    idx = stable_argsort(a, d)[(slice(None),) * d + (slice(m, m + 1),)]
    if a.dtype.kind == "f":                # no device read: the NaN rows are picked by where
        nan = xp.isnan(a)
        first_nan = xp.argmax(nan, axis=d, keepdims=True)
        idx = xp.where(xp.any(nan, axis=d, keepdims=True), first_nan, idx)
    return idx


def median(input, dim=None, keepdim=False):
    """The lower median (the smaller of the two middle values): of all elements, or (values,
    indices) along *dim*; NaN if a NaN is among them."""
    a = input._data
    if a.size == 0:
        raise ShapeError(f"median: expected a non-empty tensor, got shape {input.shape}")
    if dim is None:
        flat = a.reshape(-1)
        value = flat[_median_index(flat, 0)].reshape(())
        return EvenShare.apply(input, value)
    d = _prepare(input, dim, "median")
    if a.ndim == 0:
        return _select(input, 0, None, keepdim, median_result)
    return _select(input, d, _median_index(a, d), keepdim, median_result)


_INTERPOLATIONS = ("linear", "lower", "higher", "midpoint", "nearest")


def quantile(input, q, dim=None, keepdim=False, *, interpolation="linear"):
    """The *q*-quantiles (q in [0, 1], a number or a 1-D tensor) of *input* over *dim* (all
    elements by default), interpolating between order statistics as PyTorch: "linear", "lower",
    "higher", "midpoint" or "nearest" (rounding half to even); NaN where a NaN is among them."""
    if interpolation not in _INTERPOLATIONS:
        raise ConfigError(f"quantile: interpolation must be one of {_INTERPOLATIONS}, got "
                          f"{interpolation!r}")
    if input._data.dtype.kind != "f":
        raise DTypeError(f"quantile: input tensor must be a float tensor, got {input.dtype}")
    xp = namespace_of(input._data)
    scalar_q = not isinstance(q, Tensor)
    if not scalar_q and q._data.ndim > 1:
        raise ShapeError(f"quantile: q must be a scalar or 1-D tensor, got shape {q.shape}")
    qa = xp.asarray([float(q)], dtype=input._data.dtype) if scalar_q else \
        q._data.astype(input._data.dtype).reshape(-1)
    if qa.size and not bool(((qa >= 0) & (qa <= 1)).all()):
        raise ConfigError("quantile: q values must be in the range [0, 1]")
    if input._data.size == 0:
        raise ShapeError(f"quantile: input tensor must be non-empty, got shape {input.shape}")
    shape = input._data.shape
    if dim is None:
        x, d = reshape(input, (-1,)), 0
    else:
        d = normalize_dim(dim, input._data.ndim, "quantile")
        x = input if input._data.ndim else reshape(input, (1,))
    srt = sort(x, d).values                       # NaN last
    a = srt._data
    n = a.shape[d]
    qshape = tuple(1 if i == d else s for i, s in enumerate(a.shape))
    ranks = xp.broadcast_to(qa.reshape((-1,) + (1,) * len(qshape)) * (n - 1),
                            (qa.size,) + qshape)      # (nq, ... 1 at d ...)
    ranks = xp.where(xp.isnan(a).any(axis=d, keepdims=True), float(n - 1), ranks)  # NaN: last
    if interpolation == "lower":
        ranks = xp.floor(ranks)
    elif interpolation == "higher":
        ranks = xp.ceil(ranks)
    elif interpolation == "nearest":
        ranks = xp.round(ranks)
    below = _int64(ranks)
    lo = _take(srt, d, below)
    if interpolation in ("linear", "midpoint"):
        above = _int64(xp.ceil(ranks))
        hi = _take(srt, d, above)
        w = 0.5 if interpolation == "midpoint" else Tensor(ranks - xp.floor(ranks))
        lo = lerp(lo, hi, w)
    # lo: (nq, ... 1 at d ...)
    if keepdim:
        out_shape = (qa.size,) + ((1,) * len(shape) if dim is None else
                                  tuple(1 if i == d else s for i, s in enumerate(shape)))
    else:
        out_shape = (qa.size,) + (() if dim is None else
                                  tuple(s for i, s in enumerate(shape) if i != d))
    out = reshape(lo, out_shape)
    return reshape(out, out_shape[1:]) if scalar_q else out


def _take(srt, d, idx):
    """srt gathered at positions *idx* (shape (nq, ... 1 at d ...)) along d, for each q."""
    return GatherDim.apply(srt.expand((idx.shape[0],) + srt._data.shape), d + 1, idx)


def unique(input, sorted=True, return_inverse=False, return_counts=False,
           dim=None):
    """The distinct values (sorted), and optionally the inverse indices that rebuild the input
    and the count of each: ``values, inverse = cr.unique(x, return_inverse=True)``."""
    a = input._data
    xp = namespace_of(a)
    if dim is None:
        vals, inv, counts = xp.unique(a.reshape(-1), return_inverse=True, return_counts=True)
        inv = inv.reshape(a.shape)
    else:
        d = normalize_dim(dim, a.ndim, "unique")
        vals, inv, counts = xp.unique(a, return_inverse=True, return_counts=True, axis=d)
        inv = inv.reshape(-1)
    out = [Tensor(vals)]
    if return_inverse:
        out.append(Tensor(_int64(inv)))
    if return_counts:
        out.append(Tensor(_int64(counts)))
    return out[0] if len(out) == 1 else tuple(out)


def searchsorted(sorted_sequence, input, *, out_int32=False, right=False, side=None,
                 sorter=None):
    """Indices where the values of *input* would be inserted into *sorted_sequence* (sorted
    along its last dimension) to keep it sorted: the first such place, or the last with
    ``right=True`` / ``side="right"``."""
    if side is not None:
        if side not in ("left", "right"):
            raise ConfigError(f"searchsorted: side must be 'left' or 'right', got {side!r}")
        if right and side == "left":
            raise ConfigError("searchsorted: side='left' and right=True contradict each other")
        right = side == "right"
    seq = sorted_sequence._data
    xp = namespace_of(seq)
    scalar = not isinstance(input, Tensor)
    v = xp.asarray(input, dtype=seq.dtype) if scalar else input._data
    if sorter is not None:
        s = sorter._data if isinstance(sorter, Tensor) else xp.asarray(sorter)
        seq = xp.take_along_axis(seq, s, axis=-1)
    how = "right" if right else "left"
    if seq.ndim == 1:
        out = xp.searchsorted(seq, v, side=how)
    else:
        if v.ndim != seq.ndim or v.shape[:-1] != seq.shape[:-1]:
            raise ShapeError(f"searchsorted: boundaries of shape {seq.shape} and input of shape "
                             f"{v.shape} must have the same leading dimensions")
        s, w = seq[..., None, :], v[..., :, None]
        out = ((s <= w) if right else (s < w)).sum(axis=-1)
    out = xp.asarray(out).astype(dtypes.int32 if out_int32 else dtypes.int64, copy=False)
    return Tensor(out.reshape(()) if scalar else out)
