"""Division with rounding, and the two remainders: ``//``, ``%``, ``div(rounding_mode=)``,
``floor_divide``, ``remainder`` and ``fmod``, exactly as PyTorch.

- ``div(a, b, rounding_mode="floor")`` (and ``a // b``) rounds the quotient down, ``"trunc"``
  toward zero; integers stay integers; the gradient of a rounded quotient is zero.
- ``remainder(a, b)`` (and ``a % b``) is a − b·floor(a/b): it has the sign of the divisor
  (Python's ``%``); ``fmod(a, b)`` is a − b·trunc(a/b): the sign of the dividend (C's ``fmod``).
- An integer division by zero raises (``ZeroDivisionError``, also a RuntimeError as in PyTorch);
  a float one gives inf or nan.
"""
from chainrule.backend import namespace_of
from chainrule.errors import ChainruleError, ConfigError
from chainrule.function import Op
from chainrule.ops.arithmetic import _binary, _operand
from chainrule.ops.arithmetic import div as true_divide
from chainrule.tensor import Tensor


class IntegerDivisionByZeroError(ChainruleError, ZeroDivisionError, RuntimeError):
    """An integer tensor divided by zero (PyTorch raises RuntimeError "ZeroDivisionError")."""


def _arr(v):
    return v._data if isinstance(v, Tensor) else v


def _check_int_zero(op, a, b):
    """Raise for an integer division by zero (one device read, integer operands only)."""
    bd = _arr(b)
    ad = _arr(a)
    a_int = getattr(ad, "dtype", None) is not None and ad.dtype.kind in "biu" or \
        isinstance(ad, (int, bool))
    if isinstance(bd, float) or not a_int:
        return
    if isinstance(bd, (int, bool)):
        zero = bd == 0
    else:
        if bd.dtype.kind not in "biu":
            return
        zero = bool((bd == 0).any())
    if zero:
        raise IntegerDivisionByZeroError(f"{op}: integer division by zero")


def _trunc_int(xp, a, b):
    """a / b rounded toward zero, for integers (C's integer division)."""
    q = xp.floor_divide(a, b)
    fix = (xp.remainder(a, b) != 0) & ((a < 0) != (b < 0))
    return q + fix


class RoundedDiv(Op):
    """y = a / b rounded down (``"floor"``) or toward zero (``"trunc"``).  Piecewise constant:
    ā = 0 and b̄ = 0, as PyTorch."""

    @staticmethod
    def forward(ctx, a, b, mode):
        xp = ctx.xp
        ints = all(getattr(_arr(v), "dtype", None) is None or _arr(v).dtype.kind in "biu"
                   for v in (a, b)) and not any(isinstance(v, float) for v in (a, b))
        if mode == "floor":
            fn = xp.floor_divide
        elif ints:
            fn = lambda x, y: _trunc_int(xp, xp.asarray(x), xp.asarray(y))
        else:
            fn = lambda x, y: xp.trunc(xp.true_divide(x, y))
        return _binary(xp, f"div(rounding_mode={mode!r})", fn, a, b, quiet=True)

    @staticmethod
    def backward(ctx, gy):
        zero = ctx.xp.zeros_like(gy)
        na, nb = ctx.needs_input_grad[:2]
        return (zero if na else None), (zero if nb else None), None

    @staticmethod
    def jvp(ctx, ta, tb, _):
        return ctx.xp.zeros_like(ctx.outputs[0])


class Remainder(Op):
    """y = a − b · floor(a/b), the sign of b.  ā = ȳ, b̄ = −ȳ · floor(a/b)."""

    @staticmethod
    def forward(ctx, a, b):
        xp = ctx.xp
        y = _binary(xp, "remainder", xp.remainder, a, b, quiet=True)
        if ctx.needs_input_grad[1]:
            with xp.errstate(divide="ignore", invalid="ignore"):
                ctx.q = xp.floor_divide(_arr(a), _arr(b)).astype(y.dtype, copy=False)
        return y

    @staticmethod
    def backward(ctx, gy):
        na, nb = ctx.needs_input_grad
        return (gy if na else None), (-(gy * ctx.q) if nb else None)

    @staticmethod
    def jvp(ctx, ta, tb):
        """ẏ = ȧ − ḃ · floor(a/b)."""
        return _quotient_jvp(ctx, ta, tb, "floor")


class Fmod(Op):
    """y = a − b · trunc(a/b), the sign of a.  ā = ȳ, b̄ = −ȳ · trunc(a/b)."""

    @staticmethod
    def forward(ctx, a, b):
        xp = ctx.xp
        y = _binary(xp, "fmod", xp.fmod, a, b, quiet=True)
        if ctx.needs_input_grad[1]:
            with xp.errstate(divide="ignore", invalid="ignore"):
                ctx.q = xp.trunc(xp.true_divide(_arr(a), _arr(b))).astype(y.dtype, copy=False)
        return y

    @staticmethod
    def backward(ctx, gy):
        na, nb = ctx.needs_input_grad
        return (gy if na else None), (-(gy * ctx.q) if nb else None)

    @staticmethod
    def jvp(ctx, ta, tb):
        """ẏ = ȧ − ḃ · trunc(a/b)."""
        return _quotient_jvp(ctx, ta, tb, "trunc")


def _quotient_jvp(ctx, ta, tb, rounding):
    """ȧ − ḃ · q with q = a/b rounded (a constant), for remainder and fmod."""
    if tb is None:
        return ta
    a, b = (_arr(v) for v in ctx.primals)
    xp = namespace_of(_arr(ctx.outputs[0]))
    with xp.errstate(divide="ignore", invalid="ignore"):
        q = xp.floor_divide(a, b) if rounding == "floor" else xp.trunc(xp.true_divide(a, b))
    q = q.astype(_arr(ctx.outputs[0]).dtype, copy=False)
    return tb * -q if ta is None else ta - tb * q


def _pair(input, other):
    if isinstance(input, Tensor):
        return input, _operand(input, other)
    if isinstance(other, Tensor):          # a Python number divided by a tensor
        return input, other
    return Tensor(input), _operand(Tensor(input), other)


def div(input, other, *, rounding_mode=None):
    """input / other; ``rounding_mode="floor"`` rounds the quotient down, ``"trunc"`` toward
    zero (integers then stay integers): ``cr.div(x, 2, rounding_mode="floor")``."""
    if rounding_mode is None:
        return true_divide(input, other)
    if rounding_mode not in ("floor", "trunc"):
        raise ConfigError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but "
                          f"found {rounding_mode!r}")
    a, b = _pair(input, other)
    _check_int_zero("div", a, b)
    return RoundedDiv.apply(a, b, rounding_mode)


divide = div


def floor_divide(input, other):
    """input // other: the quotient rounded down (``div(..., rounding_mode="floor")``)."""
    return div(input, other, rounding_mode="floor")


def remainder(input, other):
    """input − other · floor(input/other) (Python's ``%``: the sign of *other*)."""
    a, b = _pair(input, other)
    _check_int_zero("remainder", a, b)
    return Remainder.apply(a, b)


def fmod(input, other):
    """input − other · trunc(input/other) (C's ``fmod``: the sign of *input*)."""
    a, b = _pair(input, other)
    _check_int_zero("fmod", a, b)
    return Fmod.apply(a, b)


def rfloordiv(x, other):
    """other // x (the reflected ``__rfloordiv__``)."""
    return floor_divide(other, x)


def rremainder(x, other):
    """other % x (the reflected ``__rmod__``)."""
    return remainder(other, x)

