"""Running extremes, the most frequent value, and counting: ``cummax, cummin, mode, bincount,
histc``.

cummax/cummin and mode return (values, indices) as PyTorch; the values are picked from the input at
the indices (``gather``, ``MaxDim``), so the gradient goes to the arg positions: x̄ⱼ = Σ of ȳᵢ over
the outputs i whose index is j.  Ties follow PyTorch: a running extreme takes the latest of equal
values (and a nan, once seen, stays); mode takes the smallest of the most frequent values and the
last position where it occurs.  bincount and histc count, so they have no gradient.
"""
from collections import namedtuple

from chainrule import dtypes
from chainrule.backend import namespace_of
from chainrule.errors import ConfigError, DTypeError, ShapeError
from chainrule.ops._util import normalize_dim
from chainrule.ops.reduction import MaxDim, gather
from chainrule.ops.sorting import stable_argsort
from chainrule.tensor import Tensor

cummax_result = namedtuple("cummax", ["values", "indices"])
cummin_result = namedtuple("cummin", ["values", "indices"])
mode_result = namedtuple("mode", ["values", "indices"])


def _running_extreme(xp, a, smaller):
    """The indices of the running max (min) along the last axis of array *a*.

    A Hillis–Steele scan in log₂ n vectorised steps (CuPy's ufuncs have no maximum.accumulate):
    each step combines every position with the one *s* earlier, the later winning when it is
    at least as large (small) or nan, i.e. the max over the total order "nan on top, then value,
    then position", which is associative.
    """
    n = a.shape[-1]
    vals = a
    idx = xp.broadcast_to(xp.arange(n, dtype=dtypes.int64), a.shape)
    s = 1
    while s < n:
        left, right = vals[..., :-s], vals[..., s:]
        later = (right <= left) if smaller else (right >= left)
        if a.dtype.kind == "f":
            later = later | xp.isnan(right)
        vals = xp.concatenate([vals[..., :s], xp.where(later, right, left)], axis=-1)
        idx = xp.concatenate([idx[..., :s], xp.where(later, idx[..., s:], idx[..., :-s])],
                             axis=-1)
        s *= 2
    return idx


def _scan_extreme(input, dim, smaller, result):
    a = input._data
    xp = namespace_of(a)
    if a.ndim == 0:
        return result(input.clone(), Tensor(xp.zeros((), dtype=dtypes.int64)))
    d = normalize_dim(dim, a.ndim, result.__name__)
    idx = xp.moveaxis(_running_extreme(xp, xp.moveaxis(a, d, -1), smaller), -1, d)
    idx = xp.ascontiguousarray(idx)
    return result(gather(input, d, Tensor(idx)), Tensor(idx))


def cummax(input, dim):
    """The running maximum along *dim* and where it was reached (the latest of equal values).

    >>> cr.cummax(cr.tensor([1., 3., 2., 3.]), 0)
    cummax(values=tensor([1., 3., 3., 3.]), indices=tensor([0, 1, 1, 3]))
    """
    return _scan_extreme(input, dim, False, cummax_result)


def cummin(input, dim):
    """The running minimum along *dim* and where it was reached (the latest of equal values).

    >>> cr.cummin(cr.tensor([2., 1., 3., 1.]), 0)
    cummin(values=tensor([2., 1., 1., 1.]), indices=tensor([0, 1, 1, 3]))
    """
    return _scan_extreme(input, dim, True, cummin_result)


def mode(input, dim=-1, keepdim=False):
    """The most frequent value along *dim* (the smallest among equally frequent ones) and the last
    index where it occurs.

    >>> cr.mode(cr.tensor([1., 3., 3., 1., 2.]))
    mode(values=tensor(1.), indices=tensor(3))
    """
    a = input._data
    xp = namespace_of(a)
    if a.ndim == 0:
        return mode_result(input.clone(), Tensor(xp.zeros((), dtype=dtypes.int64)))
    d = normalize_dim(dim, a.ndim, "mode")
    n = a.shape[d]
    if n == 0:
        raise ShapeError(f"mode(): Expected reduction dim {d} to have non-zero size "
                         f"(input shape {input.shape})")
    outer = a.shape[:d] + a.shape[d + 1:]
    rows = xp.moveaxis(a, d, -1).reshape(-1, n)
    order = stable_argsort(rows, 1)
    s = xp.take_along_axis(rows, order, axis=1)
    start = xp.ones(s.shape, dtype=bool)
    start[:, 1:] = s[:, 1:] != s[:, :-1]              # where each run of equal values begins
    run = xp.cumsum(start.reshape(-1)) - 1            # a global run id per element
    count = xp.bincount(run)[run].reshape(s.shape)    # the length of each element's run
    first = xp.argmax(count == count.max(axis=1, keepdims=True), axis=1)   # smallest value
    last = first + xp.take_along_axis(count, first[:, None], axis=1)[:, 0] - 1
    idx = xp.take_along_axis(order, last[:, None], axis=1).reshape(outer)
    idx = xp.expand_dims(idx.astype(dtypes.int64), d)
    vals = MaxDim.apply(input, d, bool(keepdim), idx)
    return mode_result(vals, Tensor(idx if keepdim else idx.reshape(outer)))


def bincount(input, weights=None, minlength=0):
    """How often each non-negative integer occurs in the 1-D *input* (summing *weights* instead
    of counting ones when given); length max(input) + 1, at least *minlength*.

    >>> cr.bincount(cr.tensor([0, 2, 2]))
    tensor([1, 0, 2])
    """
    a = input._data
    xp = namespace_of(a)
    if a.ndim != 1 or a.dtype.kind not in "iu":
        raise ShapeError(f"bincount only supports 1-d non-negative integral inputs (got shape "
                         f"{input.shape}, dtype {input.dtype})")
    if minlength < 0:
        raise ConfigError(f"bincount: minlength should be >= 0, got {minlength}")
    if a.size and bool((a < 0).any()):
        raise ConfigError("bincount only supports 1-d non-negative integral inputs (got a "
                          "negative value)")
    if weights is None:
        return Tensor(xp.bincount(a, minlength=minlength).astype(dtypes.int64))
    w = weights._data if isinstance(weights, Tensor) else xp.asarray(weights)
    if w.shape != a.shape:
        raise ShapeError(f"bincount: weights should be 1-d and have the same length as input "
                         f"(got weights {tuple(w.shape)} and input {input.shape})")
    out_dtype = dtypes.float32 if w.dtype == dtypes.float32 else dtypes.float64   # as PyTorch
    return Tensor(xp.bincount(a, weights=w, minlength=minlength).astype(out_dtype))


def histc(input, bins=100, min=0, max=0):
    """A histogram of *bins* equal-width bins over [min, max] (the data's range when min = max);
    values outside are ignored, the top edge belongs to the last bin.

    >>> cr.histc(cr.tensor([1., 2., 1.]), bins=4, min=0, max=3)
    tensor([0., 2., 1., 0.])
    """
    a = input._data
    xp = namespace_of(a)
    if a.dtype.kind != "f":
        raise DTypeError(f"histc: not implemented for {input.dtype}; convert to a float dtype")
    if bins <= 0:
        raise ConfigError(f"histc: bins must be > 0, got {bins}")
    lo, hi = float(min), float(max)
    if lo == hi and a.size:
        lo, hi = float(a.min()), float(a.max())
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    if not (xp.isfinite(xp.asarray(lo)) and xp.isfinite(xp.asarray(hi))):
        raise ConfigError(f"histc: range of [{lo}, {hi}] is not finite")
    if lo > hi:
        raise ConfigError(f"histc: max must be larger than min (got min={lo}, max={hi})")
    flat = a.reshape(-1)
    inside = (flat >= lo) & (flat <= hi)
    v = flat[inside]
    pos = xp.floor((v - lo) * (bins / (hi - lo))).astype(dtypes.int64)
    pos = xp.clip(pos, 0, bins - 1)
    return Tensor(xp.bincount(pos, minlength=bins)[:bins].astype(a.dtype))
