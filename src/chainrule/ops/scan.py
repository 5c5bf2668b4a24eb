"""Scans along one dimension: ``cumsum``, ``cumprod``, and the finite difference ``diff``.

A prefix sum's adjoint is the suffix sum of the gradient (a cumsum of the reversed gradient), so
``CumSum`` and ``RevCumSum`` are each other's VJP.  ``CumProd``'s VJP divides by x where no x is
zero and is exact, as PyTorch's, where zeros are.
"""
from chainrule import dtypes
from chainrule.backend import namespace_of
from chainrule.errors import ConfigError
from chainrule.function import Op
from chainrule.ops._util import normalize_dim
from chainrule.ops.cast import to
from chainrule.ops.shape import cat, reshape
from chainrule.tensor import Tensor


def _array(t):
    return t._data if isinstance(t, Tensor) else t


def _reversed(g, dim):
    """*g* (an array or a tensor) reversed along *dim*: a view, by slicing."""
    return g[(slice(None),) * dim + (slice(None, None, -1),)]


class CumSum(Op):
    """yᵢ = Σ_{j≤i} xⱼ along *dim*.  x̄ᵢ = Σ_{j≥i} ȳⱼ: the reversed cumsum of ȳ; ẏ = cumsum(ẋ)."""

    @staticmethod
    def forward(ctx, x, dim):
        ctx.dim = dim
        return ctx.xp.cumsum(_array(x), axis=dim)

    @staticmethod
    def backward(ctx, gy):
        return ctx.call(RevCumSum, gy, ctx.dim), None

    @staticmethod
    def jvp(ctx, tx, _):
        """ẏ = cumsum(ẋ)."""
        return ctx.call(CumSum, tx, ctx.dim)


class RevCumSum(Op):
    """yᵢ = Σ_{j≥i} xⱼ along *dim*.  x̄ᵢ = Σ_{j≤i} ȳⱼ: the cumsum of ȳ; ẏ = revcumsum(ẋ)."""

    @staticmethod
    def forward(ctx, x, dim):
        ctx.dim = dim
        return _reversed(ctx.xp.cumsum(_reversed(_array(x), dim), axis=dim), dim)

    @staticmethod
    def backward(ctx, gy):
        return ctx.call(CumSum, gy, ctx.dim), None

    @staticmethod
    def jvp(ctx, tx, _):
        """ẏ = revcumsum(ẋ)."""
        return ctx.call(RevCumSum, tx, ctx.dim)


class CumProd(Op):
    """yᵢ = Π_{j≤i} xⱼ along *dim*.  x̄ₖ = Σ_{i≥k} ȳᵢ · Π_{j≤i, j≠k} xⱼ.

    Without zeros that is revcumsum(ȳ · y) / x.  With zeros, as PyTorch: before the first zero z
    of a row the same formula holds (y vanishes from z on); at z,
    x̄_z = Π_{j<z} xⱼ · Σ_{i≥z} ȳᵢ Π_{z<j≤i} xⱼ; after z, x̄ = 0.

    ẏᵢ = Σ_{j≤i} ẋⱼ Π_{k≤i, k≠j} xₖ: yᵢ · cumsum(ẋ / x)ᵢ before z, and ẋ_z · Π_{j≤i, j≠z} xⱼ
    from z on (every other term holds x_z = 0).
    """

    @staticmethod
    def forward(ctx, x, dim):
        y = ctx.xp.cumprod(_array(x), axis=dim)
        ctx.dim = dim
        ctx.save_for_backward(x, y)
        return y

    @staticmethod
    def backward(ctx, gy):
        xp, dim = ctx.xp, ctx.dim
        x, y = ctx.saved_tensors
        xa = _array(x)
        zero = xa == 0
        if not zero.any():
            return ctx.call(RevCumSum, gy * y, dim) / x, None
        if isinstance(x, Tensor):     # create_graph: a form whose own derivative is exact too
            return _omitted_products(ctx, x, gy, dim), None
        seen = namespace_of(xa).cumsum(zero, axis=dim)
        before = seen == 0                         # j < z
        first = zero & (seen == 1)                 # j = z
        safe_x = xp.where(before, x, 1.0)
        g_before = ctx.call(RevCumSum, gy * y, dim) / safe_x
        # Π_{j<z} xⱼ: the product of the row with everything from z on set to 1
        lead = ctx.call(CumProd, safe_x, dim)
        lead = lead[(slice(None),) * dim + (slice(-1, None),)]
        # Σ_{i≥z} ȳᵢ Π_{z<j≤i} xⱼ: the cumprod of the row with everything up to z set to 1
        after = ctx.call(CumProd, xp.where(before | first, 1.0, x), dim)
        s = xp.sum(xp.where(before, 0.0, gy * after), axis=dim, keepdims=True)
        return xp.where(before, g_before, xp.where(first, lead * s, 0.0)), None

    @staticmethod
    def jvp(ctx, tx, _):
        """ẏᵢ = Σ_{j≤i} ẋⱼ Π_{k≤i, k≠j} xₖ (see above)."""
        return _cumprod_jvp(ctx, tx)


def _cumprod_jvp(ctx, tx):
    """ẏ of CumProd (see its docstring), on arrays or tensors."""
    xp, dim = ctx.xp, ctx.dim
    x, y = ctx.primals[0], ctx.outputs[0]
    xa = _array(x)
    zero = xa == 0
    if not zero.any():
        return ctx.call(CumSum, tx / x, dim) * y
    seen = namespace_of(xa).cumsum(zero, axis=dim)
    before = seen == 0                         # j < z
    first = zero & (seen == 1)                 # j = z
    t_before = ctx.call(CumSum, xp.where(before, tx, 0.0) / xp.where(before, x, 1.0), dim) * y
    t_z = xp.sum(xp.where(first, tx, 0.0), axis=dim, keepdims=True)
    return xp.where(before, t_before, t_z * ctx.call(CumProd, xp.where(first, 1.0, x), dim))


def _omitted_products(ctx, x, gy, dim):
    """x̄ₖ = Σ_{i≥k} ȳᵢ Π_{j≤i, j≠k} xⱼ as differentiable ops (PyTorch's O(n²) double-backward
    form): row k of an n × n matrix holds x with xₖ set to 1; its cumprod gives every product."""
    xp, n, nd = ctx.xp, x.shape[dim], x.ndim
    ns = namespace_of(_array(x))
    tail = (1,) * (nd - dim - 1)
    eye = ns.eye(n, dtype=bool).reshape((n, n) + tail)
    upper = ns.triu(ns.ones((n, n), dtype=bool)).reshape((n, n) + tail)     # i ≥ k
    p = ctx.call(CumProd, xp.where(eye, 1.0, xp.expand_dims(x, dim)), dim + 1)
    return xp.sum(xp.where(upper, p * xp.expand_dims(gy, dim), 0.0), axis=dim + 1)


def _scan_input(input, dtype, op):
    if not isinstance(input, Tensor):
        input = Tensor(input)
    if dtype is not None:
        return to(input, dtype)
    if input._data.dtype.kind in "biu":
        return to(input, dtypes.int64)
    return input


def _scan(op, input, dim, dtype, name):
    x = _scan_input(input, dtype, name)
    if x._data.ndim == 0:
        normalize_dim(dim, 0, name)
        return reshape(op.apply(reshape(x, (1,)), 0), ())
    return op.apply(x, normalize_dim(dim, x._data.ndim, name))


def cumsum(input, dim, *, dtype=None):
    """Running sums along *dim*: ``cr.cumsum(cr.tensor([1., 2., 3.]), 0)`` is [1, 3, 6].
    Integer and bool inputs sum as int64."""
    return _scan(CumSum, input, dim, dtype, "cumsum")


def cumprod(input, dim, *, dtype=None):
    """Running products along *dim*: ``cr.cumprod(cr.tensor([1., 2., 3.]), 0)`` is [1, 2, 6]."""
    return _scan(CumProd, input, dim, dtype, "cumprod")


def diff(input, n=1, dim=-1, prepend=None, append=None):
    """The n-th forward difference along *dim*, out[i] = x[i+1] − x[i], after joining *prepend*
    and *append* (as ``torch.diff``); bool tensors give x[i+1] xor x[i]."""
    if not isinstance(n, int) or n < 0:
        raise ConfigError(f"diff: order n must be a non-negative int, got {n!r}")
    if input._data.ndim == 0:
        raise ConfigError("diff: expected a tensor of at least one dimension, got a 0-d tensor")
    d = normalize_dim(dim, input._data.ndim, "diff")
    parts = [p for p in (prepend, input, append) if p is not None]
    x = cat([_along(p, input, d) for p in parts], d) if len(parts) > 1 else input
    for _ in range(n):
        m = x._data.shape[d]
        hi = x[(slice(None),) * d + (slice(1, m),)]
        lo = x[(slice(None),) * d + (slice(0, max(m - 1, 0)),)]
        if x._data.dtype == dtypes.bool:
            x = hi != lo
        else:
            x = hi - lo
    return x


def _along(p, input, d):
    """*p* as a tensor that joins *input* along *d* (a number becomes a size-1 slice)."""
    if isinstance(p, Tensor):
        return p
    xp = namespace_of(input._data)
    shape = tuple(1 if i == d else n for i, n in enumerate(input._data.shape))
    return Tensor(xp.full(shape, p, dtype=input._data.dtype))
