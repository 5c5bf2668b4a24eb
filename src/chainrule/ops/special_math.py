"""Special elementwise math and nan-aware reductions: ``logaddexp, hypot, sinc, copysign, fmax,
fmin`` (ops with their VJPs below), and the compositions ``xlogy, frac, sgn, signbit, heaviside,
float_power, logit, nansum, nanmean, logcumsumexp``.

Every Jacobian here is diagonal (or, for logcumsumexp, lower triangular), so each VJP is ȳ times
the partial derivative, written once in NumPy's names with ``ctx.xp``.  Kinks follow PyTorch:
copysign's x̄ is 0 at x = 0, fmax/fmin give the whole gradient to *input* at a tie, xlogy's
gradients are 0 where x = 0.
"""
import math

from chainrule import dtypes
from chainrule.backend import namespace_of
from chainrule.errors import DTypeError, ShapeError
from chainrule.function import Op
from chainrule.ops._util import normalize_dim, promote, tangent_sum
from chainrule.ops.arithmetic import div, mul, pow, rsub, sub
from chainrule.ops.cast import to
from chainrule.ops.elementwise import _on_device_of, clamp, log, sign, where
from chainrule.ops.elementwise_more import trunc
from chainrule.ops.rearrange import movedim
from chainrule.ops.reduction import logsumexp
from chainrule.ops.reduction import sum as _sum
from chainrule.ops.shape import cat, reshape, unsqueeze
from chainrule.tensor import Tensor


def _array(t):
    return t._data if isinstance(t, Tensor) else t


def _pair(input, other, op, floats=True):
    """(input, other) as tensors on input's device; integer tensors are refused (*floats*)."""
    if not isinstance(input, Tensor):
        input = _on_device_of(other, input)
    if not isinstance(other, Tensor):
        other = _on_device_of(input, other)
    if floats and input._data.dtype.kind != "f" and other._data.dtype.kind != "f":
        raise DTypeError(f"{op}: not implemented for integer tensors (got {input.dtype} and "
                         f"{other.dtype}); convert to a float dtype first")
    return input, other


def _binary(ctx, fn, a, b, op):
    try:
        return promote(fn(a._data, b._data), a, b)
    except ValueError:
        raise ShapeError(f"{op}: shapes {a.shape} and {b.shape} do not broadcast") from None


def _float(x):
    if x._data.dtype.kind != "f":
        return to(x, dtypes.get_default_dtype())
    return x


class LogAddExp(Op):
    """y = log(eᵃ + eᵇ).  ā = ȳ · eᵃ⁻ʸ, b̄ = ȳ · eᵇ⁻ʸ (the softmax of the pair)."""

    @staticmethod
    def forward(ctx, a, b):
        y = _binary(ctx, ctx.xp.logaddexp, a, b, "logaddexp")
        ctx.save_for_backward(a, b, y)
        return y

    @staticmethod
    def backward(ctx, gy):
        a, b, y = ctx.saved_tensors
        xp = ctx.xp
        return gy * xp.exp(a - y), gy * xp.exp(b - y)

    @staticmethod
    def jvp(ctx, ta, tb):
        a, b = ctx.primals
        y = ctx.outputs[0]
        xp = ctx.xp
        return tangent_sum(None if ta is None else ta * xp.exp(a - y),
                           None if tb is None else tb * xp.exp(b - y))


class Hypot(Op):
    """y = √(a² + b²).  ā = ȳ · a / y, b̄ = ȳ · b / y."""

    @staticmethod
    def forward(ctx, a, b):
        y = _binary(ctx, ctx.xp.hypot, a, b, "hypot")
        ctx.save_for_backward(a, b, y)
        return y

    @staticmethod
    def backward(ctx, gy):
        a, b, y = ctx.saved_tensors
        return gy * a / y, gy * b / y

    @staticmethod
    def jvp(ctx, ta, tb):
        a, b = ctx.primals
        y = ctx.outputs[0]
        return tangent_sum(None if ta is None else ta * a / y, None if tb is None else tb * b / y)


class Sinc(Op):
    """y = sin(πx)/(πx), 1 at 0.  x̄ = ȳ · (cos(πx) − y)/x, and ȳ · (−π²/3)·x at x = 0 (its
    limit, 0, written so that the second derivative there, −π²/3, is right too)."""

    @staticmethod
    def forward(ctx, x):
        y = ctx.xp.sinc(x._data)
        ctx.save_for_backward(x, y)
        return y

    @staticmethod
    def backward(ctx, gy):
        x, y = ctx.saved_tensors
        return gy * Sinc.slope(ctx.xp, x, y)

    @staticmethod
    def slope(xp, x, y):
        zero = _array(x) == 0
        safe = xp.where(zero, 1.0, x)
        return xp.where(zero, x * (-math.pi ** 2 / 3), (xp.cos(x * math.pi) - y) / safe)

    @staticmethod
    def jvp(ctx, tx):
        return tx * Sinc.slope(ctx.xp, ctx.primals[0], ctx.outputs[0])


class CopySign(Op):
    """y = |a| · sign(b) (the sign bit of b, so −0.0 counts as negative).

    ā = ȳ · y/a (±1), 0 at a = 0 as PyTorch; b̄ = 0."""

    @staticmethod
    def forward(ctx, a, b):
        xp = ctx.xp
        y = _binary(ctx, xp.copysign, a, b, "copysign")
        with xp.errstate(divide="ignore", invalid="ignore"):
            ctx.ratio = xp.where(a._data == 0, 0.0, y / a._data).astype(y.dtype)
        return y

    @staticmethod
    def backward(ctx, gy):
        return gy * ctx.ratio, gy * 0.0

    @staticmethod
    def jvp(ctx, ta, tb):
        return None if ta is None else ta * ctx.ratio


class FMax(Op):
    """y = fmax(a, b) (fmin with ``smaller``): the larger (smaller) of the pair, and the number
    where the other is nan.  a gets ȳ where a ≥ b (a ≤ b) or b is nan, b the rest: a tie goes
    wholly to a, as PyTorch."""

    @staticmethod
    def forward(ctx, a, b, smaller):
        xp = ctx.xp
        y = _binary(ctx, xp.fmin if smaller else xp.fmax, a, b, "fmin" if smaller else "fmax")
        wins = (a._data <= b._data) if smaller else (a._data >= b._data)
        ctx.a_wins = wins | xp.isnan(b._data)
        return y

    @staticmethod
    def backward(ctx, gy):
        xp = ctx.xp
        return xp.where(ctx.a_wins, gy, 0.0), xp.where(ctx.a_wins, 0.0, gy), None

    @staticmethod
    def jvp(ctx, ta, tb, _):
        xp = ctx.xp
        return tangent_sum(None if ta is None else xp.where(ctx.a_wins, ta, 0.0),
                           None if tb is None else xp.where(ctx.a_wins, 0.0, tb))


def logaddexp(input, other):
    """log(eˣ + eʸ) elementwise, without overflow.

    >>> cr.logaddexp(cr.tensor([0.]), cr.tensor([0.]))
    tensor([0.6931])
    """
    return LogAddExp.apply(*_pair(input, other, "logaddexp"))


def hypot(input, other):
    """√(x² + y²) elementwise, without overflow.

    >>> cr.hypot(cr.tensor([3.]), cr.tensor([4.]))
    tensor([5.])
    """
    return Hypot.apply(*_pair(input, other, "hypot"))


def sinc(input):
    """The normalised sinc sin(πx)/(πx), 1 at 0 (integers give the default float).

    >>> cr.sinc(cr.tensor([0., 0.5]))
    tensor([1.0000, 0.6366])
    """
    return Sinc.apply(_float(input))


def copysign(input, other):
    """|input| with the sign of *other* elementwise (a float result).

    >>> cr.copysign(cr.tensor([1., -2.]), -1.)
    tensor([-1., -2.])
    """
    a, b = _pair(input, other, "copysign", floats=False)
    if a._data.dtype.kind != "f" and b._data.dtype.kind != "f":
        a = _float(a)
    return CopySign.apply(a, b)


def fmax(input, other):
    """The elementwise maximum ignoring nan (nan only where both are nan).

    >>> cr.fmax(cr.tensor([1., float('nan')]), cr.tensor([2., 0.]))
    tensor([2., 0.])
    """
    return FMax.apply(*_pair(input, other, "fmax", floats=False), False)


def fmin(input, other):
    """The elementwise minimum ignoring nan (nan only where both are nan).

    >>> cr.fmin(cr.tensor([1., float('nan')]), cr.tensor([2., 0.]))
    tensor([1., 0.])
    """
    return FMax.apply(*_pair(input, other, "fmin", floats=False), True)


def xlogy(input, other):
    """x · log(y), 0 where x = 0 (unless y is nan).  x̄ = ȳ · log y, ȳ-side = ȳ · x / y; as
    PyTorch, both are 0 where x = 0 and log y is not finite (y ≤ 0 or y = inf).

    >>> cr.xlogy(cr.tensor([0., 2.]), cr.tensor([0., 1.]))
    tensor([0., 0.])
    """
    x, y = _pair(input, other, "xlogy", floats=False)
    x, y = _float(x), _float(y)
    xp = namespace_of(x._data)
    zero = (x._data == 0) & ((y._data <= 0) | (y._data == xp.inf))
    safe_y = where(Tensor(zero), 1.0, y)
    return where(Tensor(zero), 0.0, mul(x, log(safe_y)))


def frac(input):
    """The fractional part x − trunc(x) (sign kept); its gradient is 1.

    >>> cr.frac(cr.tensor([1.5, -2.25]))
    tensor([ 0.5000, -0.2500])
    """
    if input._data.dtype.kind != "f":
        raise DTypeError(f"frac: not implemented for integer tensors (got {input.dtype})")
    return sub(input, trunc(input))


def sgn(input):
    """The sign of each element (sign for real tensors); its gradient is 0."""
    return sign(input)


def signbit(input):
    """Bool tensor: whether each element's sign bit is set (true for −0.0).

    >>> cr.signbit(cr.tensor([-0., 1.]))
    tensor([ True, False])
    """
    return Tensor(namespace_of(input._data).signbit(input._data))


def heaviside(input, values):
    """The step function: 0 where x < 0, *values* where x = 0, 1 where x > 0 (not
    differentiable; both tensors must have one dtype, as PyTorch).

    >>> cr.heaviside(cr.tensor([-1., 0., 2.]), cr.tensor([0.5]))
    tensor([0.0000, 0.5000, 1.0000])
    """
    x, v = _pair(input, values, "heaviside", floats=False)
    if x._data.dtype != v._data.dtype:
        raise DTypeError(f"heaviside is not yet implemented for tensors with different dtypes "
                         f"(got {x.dtype} and {v.dtype})")
    try:
        return Tensor(namespace_of(x._data).heaviside(x._data, v._data).astype(x._data.dtype))
    except ValueError:
        raise ShapeError(f"heaviside: shapes {x.shape} and {v.shape} do not broadcast") from None


def float_power(input, exponent):
    """input ** exponent computed in float64 (both converted), as ``torch.float_power``.

    >>> cr.float_power(cr.tensor([2.]), 3)
    tensor([8.], dtype=cr.float64)
    """
    if isinstance(input, Tensor):
        base = to(input, dtypes.float64)
    else:
        base = Tensor(namespace_of(exponent._data).asarray(input, dtype=dtypes.float64))
    e = to(exponent, dtypes.float64) if isinstance(exponent, Tensor) else float(exponent)
    return pow(base, e)


def logit(input, eps=None):
    """log(z / (1 − z)) with z = x clamped to [eps, 1 − eps] (no clamp for eps=None); the
    gradient is 0 outside the clamp, ȳ / (x(1 − x)) inside.

    >>> cr.logit(cr.tensor([0.5]))
    tensor([0.])
    """
    z = _float(input)
    if eps is not None:
        z = clamp(z, eps, 1 - eps)
    xp = namespace_of(z._data)
    with xp.errstate(divide="ignore", invalid="ignore"):
        return log(div(z, rsub(z, 1)))


def nansum(input, dim=None, keepdim=False, *, dtype=None):
    """The sum treating nan as 0; nan positions get no gradient.

    >>> cr.nansum(cr.tensor([1., float('nan'), 2.]))
    tensor(3.)
    """
    if input._data.dtype.kind == "f":
        input = where(Tensor(namespace_of(input._data).isnan(input._data)), 0.0, input)
    return _sum(input, dim, keepdim, dtype)


def nanmean(input, dim=None, keepdim=False, *, dtype=None):
    """The mean over the values that are not nan (nan where all are).

    >>> cr.nanmean(cr.tensor([1., float('nan'), 3.]))
    tensor(2.)
    """
    if input._data.dtype.kind != "f":
        raise DTypeError(f"nanmean(): expected input to have floating point dtype but got "
                         f"{input.dtype}")
    if dtype is not None:
        input = to(input, dtype)
    xp = namespace_of(input._data)
    valid = Tensor((~xp.isnan(input._data)).astype(input._data.dtype))
    with xp.errstate(divide="ignore", invalid="ignore"):
        return div(nansum(input, dim, keepdim), _sum(valid, dim, keepdim))


_BLOCK = 8
"""logcumsumexp's block length: work and memory O(n · _BLOCK) instead of O(n²)."""


def _logcumsumexp_block(x):
    """logcumsumexp along the last dimension as one logsumexp over a lower-triangular mask."""
    n = x._data.shape[-1]
    xp = namespace_of(x._data)
    mask = xp.where(xp.tril(xp.ones((n, n), dtype=bool)), 0.0, -xp.inf).astype(x._data.dtype)
    return logsumexp(unsqueeze(x, -2) + Tensor(mask), -1)      # (..., n, n) -> (..., n)


def _neg_inf(x, shape):
    xp = namespace_of(x._data)
    return Tensor(xp.full(shape, -xp.inf, dtype=x._data.dtype))


def _logcumsumexp_last(x):
    """logcumsumexp along the last dimension: within blocks of ``_BLOCK``, then each block
    shifted by the logcumsumexp of the blocks before it (computed the same way, recursively)."""
    n = x._data.shape[-1]
    if n <= _BLOCK:
        return _logcumsumexp_block(x)
    lead = x._data.shape[:-1]
    nb = -(-n // _BLOCK)
    pad = nb * _BLOCK - n
    if pad:                                   # −inf after the end changes no earlier output
        x = cat([x, _neg_inf(x, lead + (pad,))], -1)
    local = _logcumsumexp_block(reshape(x, lead + (nb, _BLOCK)))        # (..., nb, B)
    before = _logcumsumexp_last(local[..., -1])                         # (..., nb), inclusive
    before = cat([_neg_inf(x, lead + (1,)), before[..., :-1]], -1)      # exclusive
    y = reshape(LogAddExp.apply(local, unsqueeze(before, -1)), lead + (nb * _BLOCK,))
    return y[..., :n] if pad else y


def logcumsumexp(input, dim):
    """yᵢ = log Σ_{j≤i} e^{xⱼ} along *dim*, without overflow.

    Blocks of ``_BLOCK`` positions are each a logsumexp over a lower-triangular mask (−inf above
    the diagonal); each block is then combined, by logaddexp, with the logcumsumexp of the
    blocks before it.  So the gradient, x̄ⱼ = Σ_{i≥j} ȳᵢ e^{xⱼ−yᵢ}, and higher ones come from
    logsumexp and logaddexp, and work and memory are O(n · _BLOCK).

    >>> cr.logcumsumexp(cr.tensor([0., 0.]), 0)
    tensor([0.0000, 0.6931])
    """
    x = _float(input)
    nd = x._data.ndim
    d = normalize_dim(dim, nd, "logcumsumexp")
    if nd == 0 or x._data.shape[d] == 0:
        return x.clone()
    return movedim(_logcumsumexp_last(movedim(x, d, -1)), -1, d)
