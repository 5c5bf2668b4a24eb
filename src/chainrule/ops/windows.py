"""Sliding windows: ``Tensor.unfold(dimension, size, step)`` and its adjoint, which folds the
windows back and sums where they overlap.

y[..., w, ..., k] = x[..., w·step + k, ...]: each output element reads one input element, so the
Jacobian is a 0/1 selection and its transpose adds every window's gradient back at the positions
it read: x̄ⱼ = Σ over (w, k) with w·step + k = j of ȳ[w, k].  ``Unfold`` and ``FoldWindows`` are
each other's VJP (and each its own JVP), so every order of derivative is exact.
"""
from chainrule.errors import ConfigError, ShapeError
from chainrule.function import Op
from chainrule.ops._util import normalize_dim
from chainrule.ops.shape import reshape
from chainrule.tensor import Tensor


def _array(t):
    return t._data if isinstance(t, Tensor) else t


class Unfold(Op):
    """y = the windows of x along *d* (a new last dimension of *size*).  x̄ = fold(ȳ): overlaps sum."""

    @staticmethod
    def forward(ctx, x, d, size, step):
        a = _array(x)
        xp = ctx.xp
        n = a.shape[d]
        ctx.args = (d, size, step, n)
        count = (n - size) // step + 1
        starts = xp.arange(count) * step
        idx = starts[:, None] + xp.arange(size)[None, :]          # (count, size)
        y = xp.take(a, idx.reshape(-1), axis=d)
        y = y.reshape(a.shape[:d] + (count, size) + a.shape[d + 1:])
        return xp.moveaxis(y, d + 1, -1)

    @staticmethod
    def backward(ctx, gy):
        return ctx.call(FoldWindows, gy, *ctx.args), None, None, None

    @staticmethod
    def jvp(ctx, tx, *_):
        return ctx.call(Unfold, tx, *ctx.args[:3])


class FoldWindows(Op):
    """The adjoint of Unfold: y = zeros(n along *d*) with each window g[..., w, ..., :] added at
    positions w·step … w·step + size − 1.  ḡ = unfold(ȳ)."""

    @staticmethod
    def forward(ctx, g, d, size, step, n):
        a = _array(g)
        xp = ctx.xp
        ctx.args = (d, size, step)
        gm = xp.moveaxis(a, -1, d + 1)                      # (..., count, size, ...)
        count = gm.shape[d]
        out = xp.zeros(gm.shape[:d] + (n,) + gm.shape[d + 2:], dtype=a.dtype)
        lead = (slice(None),) * d
        for k in range(size):                               # one strided add per window offset
            out[lead + (slice(k, k + step * (count - 1) + 1, step),)] += gm[lead + (slice(None), k)]
        return out

    @staticmethod
    def backward(ctx, gy):
        return ctx.call(Unfold, gy, *ctx.args), None, None, None, None

    @staticmethod
    def jvp(ctx, tg, *_):
        return ctx.call(FoldWindows, tg, *ctx.args, ctx.primals[4])


def unfold(input, dimension, size, step):
    """The windows of *size* every *step* along *dimension*, as a new last dimension.

    A (6,) tensor unfolded (0, 2, 2) is (3, 2): [[x0, x1], [x2, x3], [x4, x5]].  The result is a
    copy (PyTorch's is a view); its gradient sums the windows' overlaps.

    >>> tuple(cr.arange(5.).unfold(0, 3, 1).shape)
    (3, 3)
    """
    nd = input._data.ndim
    d = normalize_dim(dimension, nd, "unfold")
    n = input._data.shape[d] if nd else 1
    if step <= 0:
        raise ConfigError(f"unfold: step is {step} but must be > 0")
    if size < 0:
        raise ConfigError(f"unfold: size is {size} but must be >= 0")
    if size > n:
        raise ShapeError(f"unfold: maximum size for tensor at dimension {d} is {n} but size is "
                         f"{size}")
    if nd == 0:
        return reshape(Unfold.apply(reshape(input, (1,)), 0, size, step), (size,))
    return Unfold.apply(input, d, int(size), int(step))
