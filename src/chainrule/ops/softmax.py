"""softmax and log-softmax along one dimension, computed stably (the max is subtracted first).

Subtracting the max can overflow to -inf (x = -3e38 next to a max of 3e38): e^-inf = 0 is then
the right value, so that warning is silenced; a NaN from inf - inf (an infinite input) still warns.
"""
from chainrule.backend import namespace_of
from chainrule.function import Op
from chainrule.ops._util import normalize_dim, pick_dim


def log_softmax_array(a, dim):
    """log softmax of array *a* along *dim*: a - max - log Σ e^(a - max)."""
    xp = namespace_of(a)
    with xp.errstate(over="ignore"):
        shifted = a - a.max(axis=dim, keepdims=True)
    return shifted - xp.log(xp.exp(shifted).sum(axis=dim, keepdims=True))


class Softmax(Op):
    """yᵢ = e^{xᵢ} / Σⱼ e^{xⱼ}.  Jacobian diag(y) - y yᵀ, so x̄ = y · (ȳ - Σ ȳ·y)."""

    @staticmethod
    def forward(ctx, x, dim):
        xp, a = ctx.xp, x._data
        with xp.errstate(over="ignore"):
            e = xp.exp(a - a.max(axis=dim, keepdims=True))
        e /= e.sum(axis=dim, keepdims=True)
        ctx.dim = dim
        ctx.save_for_backward(e)
        return e

    @staticmethod
    def backward(ctx, gy):
        y, = ctx.saved_tensors
        return y * (gy - ctx.xp.sum(gy * y, axis=ctx.dim, keepdims=True)), None

    @staticmethod
    def jvp(ctx, tx, _):
        """ẏ = y · (ẋ - Σ ẋ·y): the Jacobian is symmetric, so the JVP is the VJP's formula."""
        y = ctx.outputs[0]
        return y * (tx - ctx.xp.sum(tx * y, axis=ctx.dim, keepdims=True))


class LogSoftmax(Op):
    """yᵢ = xᵢ - log Σⱼ e^{xⱼ}.  Jacobian I - 1 softmax(x)ᵀ, so x̄ = ȳ - e^y · Σ ȳ."""

    @staticmethod
    def forward(ctx, x, dim):
        y = log_softmax_array(x._data, dim)
        ctx.dim = dim
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, gy):
        xp = ctx.xp
        y, = ctx.saved_tensors
        return gy - xp.exp(y) * xp.sum(gy, axis=ctx.dim, keepdims=True), None

    @staticmethod
    def jvp(ctx, tx, _):
        """ẏ = ẋ - Σ ẋ · softmax(x)."""
        xp = ctx.xp
        return tx - xp.sum(tx * xp.exp(ctx.outputs[0]), axis=ctx.dim, keepdims=True)


def _dim(x, dim, axis, op):
    dim = pick_dim(dim, axis)
    if dim is None:
        if x._data.ndim in (0, 1, 3):
            dim = 0
        else:
            dim = 1
    return normalize_dim(dim, x._data.ndim, op)


def softmax(input, dim=None, dtype=None, *, axis=None):
    """Softmax along *dim*: non-negative values that sum to 1."""
    if dtype is not None:
        input = input.to(dtype)
    return Softmax.apply(input, _dim(input, dim, axis, "softmax"))


def log_softmax(input, dim=None, dtype=None, *, axis=None):
    """Log of softmax along *dim*, computed without overflow or log(0)."""
    if dtype is not None:
        input = input.to(dtype)
    return LogSoftmax.apply(input, _dim(input, dim, axis, "log_softmax"))
