"""Sliding windows over the spatial dims of (N, C, *spatial) arrays: the geometry shared by
convolution, unfold/fold and pooling, and the two array kernels they are built on.

A :class:`Windows` holds, per spatial dim, the kernel size k, stride s, dilation d, padding before
and after, the input size and the output size.  Window o, kernel tap i of a dim reads padded
position ``o·s + i·d``.  Every kernel below loops over the kernel taps (k₁·k₂ of them, 9 for a 3×3
kernel), never over pixels: each tap is one strided slice of the whole batch, so

- :func:`im2col` copies tap i's slice into its row block of the column matrix, and
- :func:`col2im`, its adjoint, adds the row block back into the slice, so overlapping windows
  (stride < kernel) accumulate, for every stride and dilation.

The kernels lay arrays out as (C, *spatial, N), the batch innermost: every tap's slice then copies
runs of N contiguous numbers, however small the image (an 8×8 digit, a 2×2 pooled map), and the
GEMM's output (O, *out, N) is already in that layout for the next layer.  Tensors stay
(N, C, *spatial) to the user: a moved-axes view.  Only basic slicing, ``moveaxis`` and
``zeros``/``empty`` are used, so they run on any array namespace (NumPy, CuPy, the test
stand-in).
"""
import itertools
import math
import numbers

from chainrule.errors import ConfigError, ShapeError


class Windows:
    """The window geometry of one op call (see the module docstring)."""

    __slots__ = ("kernel", "stride", "dilation", "pad_lo", "pad_hi", "in_size", "out_size",
                 "_taps")

    def __init__(self, kernel, stride, dilation, pad_lo, pad_hi, in_size, out_size):
        self.kernel, self.stride, self.dilation = kernel, stride, dilation
        self.pad_lo, self.pad_hi, self.in_size, self.out_size = pad_lo, pad_hi, in_size, out_size
        self._taps = None

    @property
    def padded(self):
        """The padded input's spatial size (large enough for every window)."""
        return tuple(lo + n + hi for lo, n, hi in zip(self.pad_lo, self.in_size, self.pad_hi))

    @property
    def has_pad(self):
        return any(self.pad_lo) or any(self.pad_hi)

    def taps(self):
        """(flat tap number, tap index tuple, slices of the padded input) for every kernel tap."""
        if self._taps is None:
            self._taps = [
                (t, tap, tuple(slice(i * d, i * d + s * (o - 1) + 1, s) for i, d, s, o in
                               zip(tap, self.dilation, self.stride, self.out_size)))
                for t, tap in enumerate(itertools.product(*[range(k) for k in self.kernel]))]
        return self._taps

    def inner(self):
        """The slices of the padded input that hold the input itself."""
        return tuple(slice(lo, lo + n) for lo, n in zip(self.pad_lo, self.in_size))

    def _key(self):
        return (self.kernel, self.stride, self.dilation, self.pad_lo, self.pad_hi, self.in_size,
                self.out_size)

    def __eq__(self, other):   # two calls with one geometry (cr.compile compares recordings)
        return type(other) is Windows and self._key() == other._key()

    def __hash__(self):
        return hash(self._key())

    def __repr__(self):
        return (f"Windows(kernel={self.kernel}, stride={self.stride}, dilation={self.dilation}, "
                f"pad={self.pad_lo}/{self.pad_hi}, in={self.in_size}, out={self.out_size})")


def as_tuple(value, d, name, where, minimum=1):
    """*value* (an int or a sequence of *d* ints) as a *d*-tuple of ints ≥ *minimum*."""
    items = (value,) * d if isinstance(value, numbers.Integral) else value
    try:
        items = tuple(items)
    except TypeError:
        items = None
    if items is None or len(items) != d or not all(
            isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in items):
        raise ConfigError(f"{where}: {name} must be an int or a tuple of {d} ints, got {value!r}")
    if any(v < minimum for v in items):
        what = "positive" if minimum == 1 else "non-negative"
        raise ConfigError(f"{where}: {name} must be {what}, got {name}={value!r}")
    return tuple(int(v) for v in items)


def out_len(n, k, s, d, lo, hi, ceil_mode=False):
    """The number of windows along a dim of size n (PyTorch's formula, ceil_mode as pooling)."""
    span = n + lo + hi - d * (k - 1) - 1
    if span < 0:
        return 0
    o = (span + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (o - 1) * s >= n + lo:   # the last window must start inside input or left pad
        o -= 1
    return o


def make(kernel, stride, dilation, pad_lo, pad_hi, in_size, where, ceil_mode=False,
         input_shape=None):
    """The :class:`Windows` for these settings; ShapeError when a (dilated) kernel is larger
    than the padded input, naming *where*, the input's shape and the kernel."""
    out = []
    hi_needed = []
    for n, k, s, d, lo, hi in zip(in_size, kernel, stride, dilation, pad_lo, pad_hi):
        o = out_len(n, k, s, d, lo, hi, ceil_mode)
        if o <= 0:
            raise ShapeError(
                f"{where}: the kernel is larger than the padded input: input of shape "
                f"{input_shape or in_size} padded to spatial size "
                f"{tuple(a + b + c for a, b, c in zip(in_size, pad_lo, pad_hi))}, kernel size "
                f"{kernel} with dilation {dilation} (effective "
                f"{tuple(dd * (kk - 1) + 1 for kk, dd in zip(kernel, dilation))}) "
                f"leaves no output")
        out.append(o)
        # ceil_mode windows may reach past the padding: pad (virtually) far enough for them
        hi_needed.append(max(hi, (o - 1) * s + d * (k - 1) + 1 - lo - n))
    return Windows(tuple(kernel), tuple(stride), tuple(dilation), tuple(pad_lo),
                   tuple(hi_needed), tuple(in_size), tuple(out))


def to_cf(xp, a):
    """(N, C, *spatial) seen in the kernels' layout (C, *spatial, N) (a view)."""
    return a.transpose(_TO_CF[a.ndim])


def from_cf(xp, a):
    """The kernels' (C, *spatial, N) seen as (N, C, *spatial) (a view)."""
    return a.transpose(_FROM_CF[a.ndim])


_TO_CF = {n: tuple(range(1, n)) + (0,) for n in range(1, 8)}
_FROM_CF = {n: (n - 1,) + tuple(range(n - 1)) for n in range(1, 8)}


def pad_spatial(xp, a, win, value=0.0):
    """*a* (N, C, *in) in the kernels' layout (C, *padded, N), padded with *value* (a copy only
    when there is padding)."""
    a = to_cf(xp, a)
    if not win.has_pad:
        return a
    buf = xp.full(a.shape[:1] + win.padded + a.shape[-1:], value, dtype=a.dtype)
    buf[(slice(None),) + win.inner()] = a
    return buf


BLOCK_BYTES = 2 ** 21
"""About how large one block of columns is: small enough to stay in cache between the copy that
fills it and the GEMM that reads it (which is then much faster than on one huge column array),
and small enough that a convolution's peak memory stays near its input's and output's."""


def pointwise(win):
    """True for a 1×1 window with stride 1 and no padding: the input is its own column array."""
    return not win.has_pad and all(k == 1 for k in win.kernel) and all(
        s == 1 for s in win.stride)


def row_blocks(win, c, n, itemsize):
    """Split the first output dim into blocks [h0, h1) whose columns take about BLOCK_BYTES."""
    per_row = c * math.prod(win.kernel) * math.prod(win.out_size[1:]) * n * itemsize
    rows = max(1, BLOCK_BYTES // max(per_row, 1))
    o0 = win.out_size[0]
    return [(h, min(h + rows, o0)) for h in range(0, o0, rows)]


def block_taps(win, h0, h1):
    """Like ``taps``, for output rows h0..h1 only: (tap, slices of the padded input)."""
    s0 = win.stride[0]
    out = []
    for _, tap, sl in win.taps():
        start = sl[0].start + h0 * s0
        out.append((tap, (slice(start, start + s0 * (h1 - h0 - 1) + 1, s0),) + sl[1:]))
    return out


class Columns:
    """The column array of an input, block by block: ``blocks()`` yields (h0, h1, cols) with
    cols of shape (C, *k, h1 - h0, *out[1:], N), entry [c, i, o, n] the padded input at channel
    c, sample n, position o·s + i·d (zeros in the padding).  One buffer serves every block."""

    def __init__(self, xp, a, win):
        self.xp, self.win = xp, win
        self.n, self.c = a.shape[0], a.shape[1]
        self.src = pad_spatial(xp, a, win, 0.0)                   # (C, *padded, N)
        self.dtype = a.dtype

    def shape(self, h0, h1):
        w = self.win
        return (self.c,) + w.kernel + (h1 - h0,) + w.out_size[1:] + (self.n,)

    def blocks(self):
        xp, win = self.xp, self.win
        if pointwise(win):
            yield 0, win.out_size[0], self.src
            return
        spans = row_blocks(win, self.c, self.n, self.dtype.itemsize)
        flat = xp.empty(math.prod(self.shape(*spans[0])), dtype=self.dtype)
        c = (slice(None),)
        for h0, h1 in spans:
            shape = self.shape(h0, h1)
            cols = flat[:math.prod(shape)].reshape(shape)
            for tap, sl in block_taps(win, h0, h1):
                cols[c + tap] = self.src[c + sl]
            yield h0, h1, cols


def im2col(xp, a, win):
    """The whole column array of *a* (N, C, *in): (C, *k, *out, N) (see :class:`Columns`)."""
    if pointwise(win):
        return to_cf(xp, a).reshape((a.shape[1],) + win.kernel + win.out_size + (a.shape[0],))
    cols = Columns(xp, a, win)
    return next(cols.blocks())[2] if len(row_blocks(win, cols.c, cols.n, 1)) == 1 \
        else _whole(xp, cols)


def _whole(xp, cols):
    out = xp.empty(cols.shape(0, cols.win.out_size[0]), dtype=cols.dtype)
    k = len(cols.win.kernel)
    for h0, h1, block in cols.blocks():
        out[(slice(None),) * (1 + k) + (slice(h0, h1),)] = block
    return out


def col2im(xp, cols, win, n, c):
    """The adjoint of :func:`im2col`: cols (C, *k, *out, N) summed back into an (N, C, *in)
    array, every window's entries added where they were read (overlaps accumulate)."""
    buf = Accumulator(xp, win, n, c, cols.dtype)
    buf.add(cols, 0, win.out_size[0])
    return buf.result()


class Accumulator:
    """The adjoint of :class:`Columns`: column blocks added back onto a zero (C, *padded, N)
    buffer where they were read, so overlapping windows accumulate."""

    def __init__(self, xp, win, n, c, dtype):
        self.xp, self.win = xp, win
        self.buf = xp.zeros((c,) + win.padded + (n,), dtype=dtype)

    def add(self, cols, h0, h1):
        c = (slice(None),)
        buf = self.buf
        for tap, sl in block_taps(self.win, h0, h1):
            buf[c + sl] += cols[c + tap]

    def result(self):
        """The sum, cropped to the input and seen as (N, C, *in)."""
        buf = self.buf
        if self.win.has_pad:
            buf = buf[(slice(None),) + self.win.inner()]
        return from_cf(self.xp, buf)
