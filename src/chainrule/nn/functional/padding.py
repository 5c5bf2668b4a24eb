"""``pad``: constant (negative amounts crop), reflect, replicate and circular padding, as PyTorch's.

Constant padding is one op whose VJP is itself with the amounts negated (crop what was padded,
zero-pad what was cropped).  The other modes pick input positions along each padded dim with an
integer index (``x[..., idx]``): the indexing op's VJP adds the gradient of every copy back.
"""
import numbers

from chainrule.backend import namespace_of
from chainrule.errors import ArgumentTypeError, ConfigError, ShapeError
from chainrule.function import Op
from chainrule.tensor import Tensor

_MODES = ("constant", "reflect", "replicate", "circular")


class ConstantPad(Op):
    """y = x with (lo, hi) cells of *value* added on each dim (negative amounts crop).
    x̄ = ȳ padded by the negated amounts (the padding cropped away); ẏ = ẋ padded with 0."""

    @staticmethod
    def forward(ctx, x, pads, value):
        xp, a = ctx.xp, x._data
        ctx.meta = pads
        shape = tuple(n + lo + hi for n, (lo, hi) in zip(a.shape, pads))
        src = tuple(slice(max(-lo, 0), n - max(-hi, 0)) for n, (lo, hi) in zip(a.shape, pads))
        dst = tuple(slice(max(lo, 0), max(lo, 0) + max(s.stop - s.start, 0))
                    for s, (lo, hi) in zip(src, pads))
        out = xp.zeros(shape, dtype=a.dtype) if value == 0 else \
            xp.full(shape, value, dtype=a.dtype)
        out[dst] = a[src]
        return out

    @staticmethod
    def backward(ctx, gy):
        pads = tuple((-lo, -hi) for lo, hi in ctx.meta)
        return ctx.call(ConstantPad, gy, pads, 0.0), None, None

    @staticmethod
    def jvp(ctx, tx, *_):
        """ẏ = ẋ padded with 0 (cropped alike)."""
        return ctx.call(ConstantPad, tx, ctx.primals[1], 0.0)


def _index(xp, n, lo, hi, mode):
    """The input position each padded cell copies, along a dim of size n."""
    i = xp.arange(-lo, n + hi, dtype=xp.int64)
    if mode == "reflect":
        i = xp.abs(i)
        return xp.where(i >= n, 2 * (n - 1) - i, i)
    if mode == "replicate":
        return xp.clip(i, 0, n - 1)
    return i % n                                    # circular


def pad(input, pad, mode="constant", value=None):
    """Pad *input*'s last dims: *pad* = (left, right) for the last dim, then (top, bottom) for the
    one before, and so on (``torch.nn.functional.pad``).  Modes: "constant" (fill with *value*,
    default 0; negative amounts crop), "reflect" (mirror without repeating the edge),
    "replicate" (repeat the edge), "circular" (wrap around).

    >>> F.pad(cr.tensor([[1., 2., 3.]]), (2, 1), mode="reflect")
    tensor([[3., 2., 1., 2., 3., 2.]])
    """
    if not isinstance(input, Tensor):
        raise ArgumentTypeError(f"pad: expected a cr.Tensor, got {type(input).__name__}")
    if isinstance(pad, numbers.Integral) or not all(
            isinstance(p, numbers.Integral) and not isinstance(p, bool) for p in pad):
        raise ConfigError(f"pad: pad must be a sequence of ints, got {pad!r}")
    pad = tuple(int(p) for p in pad)
    nd = input._data.ndim
    if len(pad) % 2 or len(pad) // 2 > nd:
        raise ShapeError(f"pad: padding length must be even and at most twice the input's "
                         f"dimensions ({nd}, shape {input.shape}), got {len(pad)}: {pad}")
    if mode not in _MODES:
        raise ConfigError(f"pad: mode must be one of {', '.join(map(repr, _MODES))}, got {mode!r}")
    k = len(pad) // 2
    pairs = [(0, 0)] * (nd - k) + [(pad[2 * i], pad[2 * i + 1]) for i in reversed(range(k))]
    if mode == "constant":
        for n, (lo, hi) in zip(input.shape, pairs):
            if n + lo + hi < 0:
                raise ShapeError(f"pad: the padding {pad} makes a negative size for input of "
                                 f"shape {input.shape}")
        if all(lo == 0 and hi == 0 for lo, hi in pairs):
            return input * 1
        return ConstantPad.apply(input, tuple(pairs), 0.0 if value is None else value)
    if value not in (None, 0, 0.0):
        raise ConfigError(f"pad: padding mode {mode!r} doesn't take in value argument")
    if nd not in (k + 1, k + 2) or k > 3:
        raise ShapeError(f"pad: {mode} padding of the last {k} dims needs a {k + 1}D or {k + 2}D "
                         f"input, got shape {input.shape}")
    xp = namespace_of(input._data)
    out = input
    for axis in range(nd - k, nd):
        lo, hi = pairs[axis]
        n = input.shape[axis]
        if lo < 0 or hi < 0:
            raise ConfigError(f"pad: {mode} padding needs non-negative amounts, got {pad}")
        if mode == "reflect" and (lo >= n or hi >= n) or \
                mode == "circular" and (lo > n or hi > n):
            rel = "smaller than" if mode == "reflect" else "at most"
            raise ShapeError(f"pad: {mode} padding amounts must be {rel} the dimension's size: "
                             f"padding ({lo}, {hi}) for dim {axis} of size {n} (input of shape "
                             f"{input.shape})")
        if n == 0:
            raise ShapeError(f"pad: {mode} padding of an empty dim {axis} (input of shape "
                             f"{input.shape})")
        if lo or hi:
            out = out[(slice(None),) * axis + (_index(xp, n, lo, hi, mode),)]
    return out
