"""Pooling: ``max_pool1d/2d``, ``avg_pool1d/2d`` and ``adaptive_avg_pool1d/2d``, as PyTorch's.

Each pool is a loop over the kernel taps (never over pixels): tap t of every window is one strided
slice of the padded batch (``_windows``).  Max pooling keeps, per window, the first tap holding
the maximum (a NaN wins, as in PyTorch) and routes ȳ there; average pooling divides the window sum
by PyTorch's divisor (the window clipped to the padded input, or to the input itself with
``count_include_pad=False``).  The backward passes are ops too — scatter and gather by tap for max,
the window sum and its adjoint for average — each the other's VJP, so pooling is differentiable to
any order.
"""
import math

from chainrule.backend import namespace_of
from chainrule.errors import ArgumentTypeError, ConfigError, DTypeError, ShapeError
from chainrule.function import Op
from chainrule.nn.functional import _windows as _w
from chainrule.ops.arithmetic import matmul
from chainrule.tensor import Tensor

_C = (slice(None),)


def _array(v):
    return v._data if isinstance(v, Tensor) else v


def _from_cf(xp, buf, win):
    """A (C, *padded, N) buffer cropped to the input and seen as (N, C, *in)."""
    if win.has_pad:
        buf = buf[_C + win.inner()]
    return _w.from_cf(xp, buf)


# ---- max ---------------------------------------------------------------------------------------
class MaxPool(Op):
    """y = max over each window; the first maximal tap (or a NaN) wins.  x̄ = ȳ routed to it.
    With *with_indices*, a second output: each maximum's flat position in its input plane.
    ẏ = ẋ at the same tap (gather by tap)."""

    @staticmethod
    def forward(ctx, x, win, with_indices=False):
        xp, a = ctx.xp, x._data
        src = _w.pad_spatial(xp, a, win, -math.inf)
        best = tap_of = None
        for t, _, sl in win.taps():
            s = src[_C + sl]
            if best is None:
                best = s.copy()
                tap_of = xp.zeros(best.shape, dtype=xp.int16 if math.prod(win.kernel) < 2 ** 15
                                  else xp.int32)
                wins, nan = xp.empty(best.shape, dtype=bool), xp.empty(best.shape, dtype=bool)
                continue
            xp.greater(s, best, out=wins)          # tap t takes over: larger, or a NaN
            xp.isnan(s, out=nan)
            wins |= nan
            xp.maximum(best, s, out=best)          # (NaN propagates, as the running max)
            step = t - tap_of                      # tap_of ← t where it wins: plain arithmetic,
            step *= wins                           # several times faster than a masked copy
            tap_of += step
        ctx.meta = (win, tap_of, a.shape)
        y = _w.from_cf(xp, best)
        return (y, _flat_indices(xp, tap_of, win)) if with_indices else y

    @staticmethod
    def backward(ctx, gy, *unused):
        win, tap_of, shape = ctx.meta
        return ctx.call(TapScatter, gy, tap_of, win, shape), None, None

    @staticmethod
    def jvp(ctx, tx, *_):
        """ẏ = ẋ at each window's winning tap (TapGather)."""
        win, tap_of, _ = ctx.meta
        t = ctx.call(TapGather, tx, tap_of, win)
        return (t, None) if len(ctx.outputs) == 2 else t


class TapScatter(Op):
    """x̄ = zeros(shape) with g[window] added at the window's tap ``tap_of[window]``
    (the adjoint of TapGather).  ḡ = gather(x̄̄); linear: ẋ = scatter(ġ).

    Written as g · [tap_of = t] per tap (a product with a mask is several times faster than a
    masked copy), so a non-finite g[window] spreads NaN over its window's other cells.
    """

    @staticmethod
    def forward(ctx, g, tap_of, win, shape):
        xp, tap_of = ctx.xp, _array(tap_of)
        ctx.meta = (tap_of, win)
        gt = _w.to_cf(xp, g._data)
        buf = xp.zeros((shape[1],) + win.padded + (shape[0],), dtype=gt.dtype)
        disjoint = _disjoint(win)
        for t, _, sl in win.taps():
            if disjoint:             # no cell is in two windows: write, do not accumulate
                xp.multiply(gt, tap_of == t, out=buf[_C + sl])
            else:
                buf[_C + sl] += gt * (tap_of == t)
        return _from_cf(xp, buf, win)

    @staticmethod
    def backward(ctx, gz):
        tap_of, win = ctx.meta
        return ctx.call(TapGather, gz, tap_of, win), None, None, None

    @staticmethod
    def jvp(ctx, tg, *_):
        """ẋ = scatter(ġ) by the same taps."""
        return ctx.call(TapScatter, tg, *ctx.primals[1:])


class TapGather(Op):
    """y[window] = x at the window's tap ``tap_of[window]``.  x̄ = scatter(ȳ); ẏ = gather(ẋ)."""

    @staticmethod
    def forward(ctx, x, tap_of, win):
        xp, a, tap_of = ctx.xp, x._data, _array(tap_of)
        ctx.meta = (tap_of, win, a.shape)
        src = _w.pad_spatial(xp, a, win, 0.0)
        out = xp.zeros(tap_of.shape, dtype=a.dtype)
        for t, _, sl in win.taps():
            out += src[_C + sl] * (tap_of == t)
        return _w.from_cf(xp, out)

    @staticmethod
    def backward(ctx, gy):
        tap_of, win, shape = ctx.meta
        return ctx.call(TapScatter, gy, tap_of, win, shape), None, None

    @staticmethod
    def jvp(ctx, tx, *_):
        """ẏ = gather(ẋ) by the same taps."""
        return ctx.call(TapGather, tx, *ctx.primals[1:])


def _disjoint(win):
    """True when no padded cell is read by two (window, tap) pairs."""
    return all(s >= (k - 1) * d + 1 for k, s, d in zip(win.kernel, win.stride, win.dilation))


def _flat_indices(xp, tap_of, win):
    """PyTorch's ``return_indices``: each maximum's flat position in its input plane."""
    flat = None
    step = 1
    d = len(win.kernel)
    for dim in reversed(range(d)):
        k_after = math.prod(win.kernel[dim + 1:])
        tap_i = (tap_of.astype(xp.int64) // k_after) % win.kernel[dim]
        o = xp.arange(win.out_size[dim], dtype=xp.int64).reshape(
            (-1,) + (1,) * (d - dim))                       # over (C, *out, N)
        coord = o * win.stride[dim] + tap_i * win.dilation[dim] - win.pad_lo[dim]
        flat = coord * step if flat is None else flat + coord * step
        step *= win.in_size[dim]
    return _w.from_cf(xp, flat)


# ---- average -----------------------------------------------------------------------------------
class TapSum(Op):
    """y = (Σ over each window of x) / divisor.  x̄ = the adjoint: ȳ / divisor added back to
    every tap of its window.  Linear: ẏ = (Σ over each window of ẋ) / divisor."""

    @staticmethod
    def forward(ctx, x, win, divisor):
        xp, a, divisor = ctx.xp, x._data, _array(divisor)
        ctx.meta = (win, divisor, a.shape)
        src = _w.pad_spatial(xp, a, win, 0.0)
        acc = None
        for _, _, sl in win.taps():
            if acc is None:
                acc = src[_C + sl].copy()
            else:
                acc += src[_C + sl]
        acc /= divisor
        return _w.from_cf(xp, acc)

    @staticmethod
    def backward(ctx, gy):
        win, divisor, shape = ctx.meta
        return ctx.call(TapSumT, gy, win, divisor, shape), None, None

    @staticmethod
    def jvp(ctx, tx, *_):
        """ẏ = (Σ over each window of ẋ) / divisor."""
        return ctx.call(TapSum, tx, *ctx.primals[1:])


class TapSumT(Op):
    """x̄ = the adjoint of TapSum: g / divisor added to every tap of its window.
    ḡ = TapSum(x̄̄); linear: ẋ = TapSumT(ġ)."""

    @staticmethod
    def forward(ctx, g, win, divisor, shape):
        xp, divisor = ctx.xp, _array(divisor)
        ctx.meta = (win, divisor)
        gt = _w.to_cf(xp, g._data) / divisor
        buf = xp.zeros((shape[1],) + win.padded + (shape[0],), dtype=gt.dtype)
        for _, _, sl in win.taps():
            buf[_C + sl] += gt
        return _from_cf(xp, buf, win)

    @staticmethod
    def backward(ctx, gz):
        win, divisor = ctx.meta
        return ctx.call(TapSum, gz, win, divisor), None, None, None

    @staticmethod
    def jvp(ctx, tg, *_):
        """ẋ = TapSumT(ġ)."""
        return ctx.call(TapSumT, tg, *ctx.primals[1:])


def _divisor(xp, win, count_include_pad, divisor_override, dtype):
    """PyTorch's divisor per window: a number when every window has the same one, else an array
    over the output's spatial dims (made on the input's device)."""
    if divisor_override is not None:
        return float(divisor_override)
    per_dim = []         # the window lengths per dim: o numbers of geometry, not data
    for k, s, lo, n, o in zip(win.kernel, win.stride, win.pad_lo, win.in_size, win.out_size):
        lens = []
        for i in range(o):
            start = i * s - lo
            end = min(start + k, n + lo)
            lens.append(end - start if count_include_pad else min(end, n) - max(start, 0))
        per_dim.append(lens)
    if all(len(set(lens)) == 1 for lens in per_dim):
        return float(math.prod(lens[0] for lens in per_dim))
    d = len(win.kernel)
    div = None
    for dim in range(d):
        o = win.out_size[dim]
        start = xp.arange(o, dtype=xp.int64) * win.stride[dim] - win.pad_lo[dim]
        end = xp.minimum(start + win.kernel[dim], win.in_size[dim] + win.pad_lo[dim])
        if not count_include_pad:
            end = xp.minimum(end, win.in_size[dim])
            start = xp.maximum(start, 0)
        length = (end - start).reshape((-1,) + (1,) * (d - dim))   # over (*out, N)
        div = length if div is None else div * length
    return div.astype(dtype)


# ---- checking the arguments --------------------------------------------------------------------
def _prepare(input, d, where):
    if not isinstance(input, Tensor):
        raise ArgumentTypeError(f"{where}: expected a cr.Tensor, got {type(input).__name__}")
    nd = input._data.ndim
    if nd not in (d + 1, d + 2):
        raise ShapeError(f"{where}: expected {d + 1}D (unbatched) or {d + 2}D (batched) input, "
                         f"got {nd}D input of shape {input.shape}")
    if input._data.dtype.kind != "f":
        raise DTypeError(f"{where}: expected a floating-point input, got dtype {input.dtype}")
    unbatched = nd == d + 1
    return (input.unsqueeze(0) if unbatched else input), unbatched


def _pool_windows(x, input, kernel_size, stride, padding, dilation, ceil_mode, d, where,
                  max_pool):
    kernel = _w.as_tuple(kernel_size, d, "kernel_size", where)
    stride = kernel if stride is None or stride == () or stride == [] else \
        _w.as_tuple(stride, d, "stride", where)
    dilation = _w.as_tuple(dilation, d, "dilation", where)
    pad = _w.as_tuple(padding, d, "padding", where, minimum=0)
    for p, k, dl in zip(pad, kernel, dilation):
        limit = ((k - 1) * dl + 1) // 2 if max_pool else k // 2
        if p > limit:
            raise ConfigError(f"{where}: pad should be at most half of effective kernel size, but "
                              f"got padding={padding}, kernel_size={kernel_size} and "
                              f"dilation={dilation}")
    return _w.make(kernel, stride, dilation, pad, pad, tuple(x._data.shape[2:]), where,
                   ceil_mode=bool(ceil_mode), input_shape=input.shape)


def _max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, d, where):
    x, unbatched = _prepare(input, d, where)
    win = _pool_windows(x, input, kernel_size, stride, padding, dilation, ceil_mode, d, where,
                        True)
    if not return_indices:
        y = MaxPool.apply(x, win)
        return y.squeeze(0) if unbatched else y
    y, idx = MaxPool.apply(x, win, True)
    return (y.squeeze(0), idx.squeeze(0)) if unbatched else (y, idx)


def _ns(x):
    return namespace_of(x._data)


def _avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad,
              divisor_override, d, where):
    x, unbatched = _prepare(input, d, where)
    if divisor_override is not None and (isinstance(divisor_override, bool) or not isinstance(
            divisor_override, (int, float)) or divisor_override == 0):
        raise ConfigError(f"{where}: divisor_override must be a non-zero number, got "
                          f"{divisor_override!r}")
    win = _pool_windows(x, input, kernel_size, stride, padding, 1, ceil_mode, d, where, False)
    div = _divisor(_ns(x), win, count_include_pad, divisor_override, x._data.dtype)
    y = TapSum.apply(x, win, div)
    return y.squeeze(0) if unbatched else y


def pool_to(input, kind, kernel, stride, pad_lo, pad_hi, where, count_include_pad=False):
    """Max (*kind* "max") or average pooling of batched (N, C, *spatial) input with explicit
    padding before and after each dim (the Keras layers' "same"): padding never wins a max and,
    unless *count_include_pad*, is not counted in an average."""
    x, _ = _prepare(input, len(kernel), where)
    win = _w.make(tuple(kernel), tuple(stride), (1,) * len(kernel), tuple(pad_lo), tuple(pad_hi),
                  tuple(x._data.shape[2:]), where, input_shape=input.shape)
    if kind == "max":
        return MaxPool.apply(x, win)
    return TapSum.apply(x, win, _divisor(_ns(x), win, count_include_pad, None, x._data.dtype))


# ---- the public functions ----------------------------------------------------------------------
def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """y[n, c, l] = max_i x_pad[n, c, l·s + i·d] (padding counts as -inf); stride defaults to
    kernel_size.  With ``return_indices`` also the argmax's position in each row.

    >>> F.max_pool1d(cr.tensor([[[1., 3., 2., 5.]]]), 2)
    tensor([[[3., 5.]]])
    """
    return _max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, 1,
                     "max_pool1d")


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """y[n, c, h, w] = max over the (dilated) window at (h·s₀, w·s₁) of the padded input; the
    gradient goes to the first maximal element of each window, as PyTorch's.

    >>> F.max_pool2d(cr.arange(16.).reshape(1, 1, 4, 4), 2)
    tensor([[[[ 5.,  7.],
              [13., 15.]]]])
    """
    return _max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, 2,
                     "max_pool2d")


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True):
    """y[n, c, l] = Σ_i x_pad[n, c, l·s + i] / divisor (PyTorch's divisor, see the module doc).

    >>> F.avg_pool1d(cr.tensor([[[1., 3., 2., 6.]]]), 2)
    tensor([[[2., 4.]]])
    """
    return _avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad, None, 1,
                     "avg_pool1d")


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """y[n, c, h, w] = the mean of the window at (h·s₀, w·s₁) of the zero-padded input (divided
    by the window's size within the padded input, or within the input when
    ``count_include_pad=False``, or by ``divisor_override``).

    >>> F.avg_pool2d(cr.ones(1, 1, 4, 4), 2).shape
    (1, 1, 2, 2)
    """
    return _avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override, 2, "avg_pool2d")


def _adaptive_size(output_size, in_size, d, where):
    items = (output_size,) * d if isinstance(output_size, int) else tuple(output_size)
    if len(items) != d:
        raise ConfigError(f"{where}: output_size must be an int or a tuple of {d} ints (or None),"
                          f" got {output_size!r}")
    out = tuple(n if o is None else o for o, n in zip(items, in_size))
    if any(isinstance(o, bool) or not isinstance(o, int) or o <= 0 for o in out):
        raise ConfigError(f"{where}: output_size must hold positive ints, got {output_size!r}")
    return out


def _averaging_matrix(xp, n, o, dtype):
    """A (o, n) with row i averaging input cells [⌊i·n/o⌋, ⌈(i+1)·n/o⌉), as PyTorch's windows."""
    i = xp.arange(o, dtype=xp.int64).reshape((-1, 1))
    start = (i * n) // o
    end = ((i + 1) * n + o - 1) // o
    j = xp.arange(n, dtype=xp.int64).reshape((1, -1))
    inside = (j >= start) & (j < end)
    return inside.astype(dtype) / (end - start).astype(dtype)


def _adaptive_avg_pool(input, output_size, d, where):
    x, unbatched = _prepare(input, d, where)
    in_size = tuple(x._data.shape[2:])
    out = _adaptive_size(output_size, in_size, d, where)
    if all(o == 1 for o in out):
        y = x.mean(dim=tuple(range(2, 2 + d)), keepdim=True)
    elif all(n % o == 0 for n, o in zip(in_size, out)):       # regular windows: one pooling op
        k = tuple(n // o for n, o in zip(in_size, out))
        win = _w.make(k, k, (1,) * d, (0,) * d, (0,) * d, in_size, where)
        y = TapSum.apply(x, win, float(math.prod(k)))
    else:                         # overlapping windows of two sizes: y = A_h x A_wᵀ
        xp, dtype = _ns(x), x._data.dtype
        y = x
        for dim in range(d):
            a = Tensor(_averaging_matrix(xp, in_size[dim], out[dim], dtype))
            axis = 2 + dim
            y = matmul(y.transpose(axis, -1), a.T).transpose(axis, -1)
    return y.squeeze(0) if unbatched else y


def adaptive_avg_pool1d(input, output_size):
    """Average over *output_size* near-equal windows of the length, as PyTorch's (window i covers
    [⌊i·L/o⌋, ⌈(i+1)·L/o⌉)).

    >>> F.adaptive_avg_pool1d(cr.tensor([[[1., 2., 3., 4.]]]), 2)
    tensor([[[1.5000, 3.5000]]])
    """
    return _adaptive_avg_pool(input, output_size, 1, "adaptive_avg_pool1d")


def adaptive_avg_pool2d(input, output_size):
    """Average over an *output_size* grid of near-equal windows (None keeps that dim's size);
    output_size=1 is global average pooling.

    >>> F.adaptive_avg_pool2d(cr.ones(2, 3, 7, 5), (1, 1)).shape
    (2, 3, 1, 1)
    """
    return _adaptive_avg_pool(input, output_size, 2, "adaptive_avg_pool2d")
