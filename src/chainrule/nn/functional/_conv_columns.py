"""The convolution's column arrays, channels last: the layout its three GEMMs run fastest in.

With G groups of Cg = C/G channels, K kernel taps and M = N·Π out, the column array of an input
is (M, G, K·Cg): entry [m, g, t·Cg + j] is channel g·Cg + j of the padded input at window m's
tap t (zeros in the padding).  The weight (O, Cg, *k) is seen as (G, O/G, K·Cg), so per group

    y (M, O/G) = cols · Wᵀ,    cols̄ = ȳᵀ · W,    W̄ = ȳ · cols    (ȳ as (O/G, M)),

OpenBLAS's fastest orientations for these shapes (15–25 % faster than over the channels-first
(C·K, M) column matrix).  The input is copied once into a padded (*padded, N, C) array, then
columns are made block by block over the first output dim (about ``_windows.BLOCK_BYTES`` each,
so the copy and the GEMM that reads it stay in cache), one strided copy per kernel tap: runs of
Cg contiguous numbers.  Only slicing, ``reshape`` of contiguous arrays, ``transpose``,
``zeros``/``empty`` and ``matmul`` are used, so they run on any array namespace.
"""
import math

from chainrule.nn.functional import _windows as _w


def to_cl(a):
    """(N, C, *spatial) seen as (*spatial, N, C) (a view)."""
    return a.transpose(_TO_CL[a.ndim])


_TO_CL = {n: tuple(range(2, n)) + (0, 1) for n in range(2, 8)}


def contiguous_cl(xp, a):
    """(N, C, *spatial) as a C-contiguous (*spatial, N, C) array: a view when it is one already,
    else one copy."""
    v = to_cl(a)
    if v.flags.c_contiguous:
        return v
    out = xp.empty(v.shape, dtype=a.dtype)
    copy_to_cl(xp, out, a)
    return out


def copy_to_cl(xp, dst, a):
    """dst (*spatial, N, C) = a (N, C, *spatial), a transposing copy.  On the host, when the
    channels are not a's innermost axis, it runs along a's outermost axis (of N and the spatial
    ones) and 8 channels at a time, so each piece stays in cache: 2–6× faster than one strided
    copy (NumPy does not block its copies)."""
    v = to_cl(a)
    st = [abs(s) for s in v.strides]
    d = v.ndim - 2
    if (getattr(xp, "fuses", False) or v.shape[-1] <= _CHUNK or v.size < 2 ** 16
            or st[-1] == min(st)):
        dst[(slice(None),) * v.ndim] = v
        return
    outer = max(range(d + 1), key=lambda i: st[i])                    # a spatial axis or N
    for i in range(v.shape[outer]):
        for c0 in range(0, v.shape[-1], _CHUNK):
            ix = (slice(None),) * outer + (i,) + (slice(None),) * (d - outer) + (
                slice(c0, c0 + _CHUNK),)
            dst[ix] = v[ix]


_CHUNK = 8


def weight_matrix(w, groups):
    """w (O, Cg, *k) as (G, O/G, K·Cg), tap-major (a small copy)."""
    o, d = w.shape[0], w.ndim - 2
    wt = w.transpose((0,) + tuple(range(2, 2 + d)) + (1,))              # (O, *k, Cg)
    return wt.reshape((groups, o // groups, -1))


def weight_from_matrix(xp, m, w_shape):
    """The inverse of :func:`weight_matrix`: (G, O/G, K·Cg) → (O, Cg, *k)."""
    o, cg, k = w_shape[0], w_shape[1], tuple(w_shape[2:])
    a = m.reshape((o,) + k + (cg,))
    return xp.ascontiguousarray(a.transpose((0, a.ndim - 1) + tuple(range(1, a.ndim - 1))))


def block_rows(win, c, n, itemsize):
    """The row blocks [h0, h1) of the first output dim (see ``_windows.row_blocks``)."""
    return _w.row_blocks(win, c, n, itemsize)


class Columns:
    """The column array of a (N, C, *in) input, block by block: ``blocks()`` yields
    (h0, h1, cols) with cols (M_block, G, K·Cg) for output rows h0..h1.  One buffer serves every
    block; the input is copied once into a padded (*padded, N, C) array (not at all when it is
    already a contiguous channels-last array with no padding)."""

    def __init__(self, xp, a, win, groups, src=None):
        self.xp, self.win, self.groups = xp, win, groups
        self.n, self.c = a.shape[0], a.shape[1]
        self.dtype = a.dtype
        if src is not None:
            self.src = src
            return
        if win.has_pad:
            src = xp.zeros(win.padded + (self.n, self.c), dtype=a.dtype)
            copy_to_cl(xp, src[win.inner() + (slice(None), slice(None))], a)
        else:
            src = contiguous_cl(xp, a)
        self.src = src.reshape(src.shape[:-1] + (groups, self.c // groups))  # (*pad, N, G, Cg)

    def blocks(self):
        xp, win, g = self.xp, self.win, self.groups
        cg, k = self.c // g, math.prod(win.kernel)
        if _w.pointwise(win):
            yield 0, win.out_size[0], self.src.reshape((-1, g, cg))
            return
        spans = block_rows(win, self.c, self.n, self.dtype.itemsize)
        lead = win.out_size[1:] + (self.n, g)
        rows = spans[0][1] - spans[0][0]
        flat = xp.empty(rows * math.prod(lead) * k * cg, dtype=self.dtype)
        pre = (slice(None),) * (len(lead) + 1)
        rest = (slice(None),) * 3
        for h0, h1 in spans:
            shape = (h1 - h0,) + lead + win.kernel + (cg,)
            cols = flat[:math.prod(shape)].reshape(shape)
            for tap, sl in _w.block_taps(win, h0, h1):
                cols[pre + tap] = self.src[sl + rest]
            yield h0, h1, cols.reshape((-1, g, k * cg))


class Accumulator:
    """The adjoint of :class:`Columns`: column blocks (M_block, G, K·Cg) added back onto a zero
    (*padded, N, C) buffer where they were read, so overlapping windows accumulate."""

    def __init__(self, xp, win, n, c, groups, dtype):
        self.xp, self.win, self.n, self.c, self.g = xp, win, n, c, groups
        self.buf = xp.zeros(win.padded + (n, groups, c // groups), dtype=dtype)

    def add(self, cols, h0, h1):
        win = self.win
        shape = (h1 - h0,) + win.out_size[1:] + (self.n, self.g) + win.kernel + (self.c // self.g,)
        cols = cols.reshape(shape)
        pre = (slice(None),) * (len(win.out_size) + 2)
        rest = (slice(None),) * 3
        buf = self.buf
        for tap, sl in _w.block_taps(win, h0, h1):
            buf[sl + rest] += cols[pre + tap]

    def result(self):
        """The sum, cropped to the input, laid out (C, *in, N) and seen as (N, C, *in): one
        transposing copy, on the host a few input rows (about 256 KB) at a time so each piece
        is in cache."""
        xp, win = self.xp, self.win
        buf = self.buf.reshape(self.buf.shape[:-2] + (self.c,))
        if win.has_pad:
            buf = buf[win.inner() + (slice(None), slice(None))]
        out = xp.empty((self.c,) + win.in_size + (self.n,), dtype=buf.dtype)
        d = len(win.in_size)
        rows = max(1, 2 ** 16 // max(1, math.prod(buf.shape[1:])))
        if getattr(xp, "fuses", False):                                 # a GPU: one kernel
            rows = win.in_size[0]
        perm = (d + 1,) + tuple(range(d + 1))                           # (rows, …, N, C) → (C, …)
        for i in range(0, win.in_size[0], rows):
            out[:, i:i + rows] = buf[i:i + rows].transpose(perm)
        return _w.from_cf(xp, out)
