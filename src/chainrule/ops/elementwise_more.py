"""More elementwise math: erf, expm1, log2, log10, rsqrt, tan, the inverse and hyperbolic
trigonometric functions, atan2, nan_to_num, and the compositions PyTorch names (square,
reciprocal, trunc, clamp_min/max, lerp), with logical_xor and count_nonzero.

Each Jacobian is diagonal, so each VJP is ȳ times the derivative and each JVP ẋ times it: the
one-input functions write that product once (``_Unary.times_slope``) for both.  Integer inputs give
the default float dtype, as PyTorch.
"""
import math

from chainrule import dtypes
from chainrule.backend import namespace_of
from chainrule.errors import DTypeError, ShapeError
from chainrule.function import Op
from chainrule.ops._util import normalize_dims, promote, tangent_sum
from chainrule.ops.arithmetic import add, mul, pow, rdiv, rsub, sub
from chainrule.ops.compare import _cmp
from chainrule.ops.elementwise import _Constant, _float, clamp, where
from chainrule.ops.special import erf_array
from chainrule.tensor import Tensor

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


class _Unary(Op):
    """y = f(x) elementwise: a diagonal Jacobian, so x̄ = ȳ · f′(x) and ẏ = ẋ · f′(x).

    A subclass gives ``f(xp, a)``, the forward on an array, and ``times_slope(ctx, g, v)``, the
    product g · f′ (of a cotangent ȳ or a tangent ẋ) written once in NumPy's names with
    ``ctx.xp``; *v* is x, or y for the subclasses with ``from_output = True`` (whose f′ reads y).
    ``ignore`` names the floating-point warnings that f and f′ may raise on purpose (inf, nan).
    """

    from_output = False
    ignore = ()

    @staticmethod
    def forward(ctx, x):
        cls = type(ctx)
        with ctx.xp.errstate(**_ignored(cls.ignore)):
            y = cls.f(ctx.xp, x._data)
        ctx.save_for_backward(y if cls.from_output else x)
        return y

    @staticmethod
    def backward(ctx, gy):
        v, = ctx.saved_tensors
        with ctx.xp.errstate(**_ignored(type(ctx).ignore)):
            return type(ctx).times_slope(ctx, gy, v)

    @staticmethod
    def jvp(ctx, tx):
        cls = type(ctx)
        v = ctx.outputs[0] if cls.from_output else ctx.primals[0]
        with ctx.xp.errstate(**_ignored(cls.ignore)):
            return cls.times_slope(ctx, tx, v)


def _ignored(names):
    return dict.fromkeys(names, "ignore")


_INF_NAN = ("divide", "invalid", "over")   # the warnings of inf and nan results


class Erf(_Unary):
    """y = erf x = (2/√π) ∫₀ˣ e^(−t²) dt.  x̄ = ȳ · (2/√π) · e^(−x²)."""

    @staticmethod
    def f(xp, a):
        return erf_array(xp, a)

    @staticmethod
    def times_slope(ctx, g, x):
        return g * (ctx.xp.exp(-(x * x)) * _TWO_OVER_SQRT_PI)


class Expm1(_Unary):
    """y = eˣ − 1, accurate near 0.  x̄ = ȳ · (y + 1)."""

    from_output, ignore = True, ("over",)

    @staticmethod
    def f(xp, a):
        return xp.expm1(a)

    @staticmethod
    def times_slope(ctx, g, y):
        return g * (y + 1)


class Rsqrt(_Unary):
    """y = 1/√x.  x̄ = −ȳ · y³ / 2  (−inf at x = 0, as PyTorch)."""

    from_output, ignore = True, _INF_NAN

    @staticmethod
    def f(xp, a):
        return 1 / xp.sqrt(a)

    @staticmethod
    def times_slope(ctx, g, y):
        return g * (y * y * y) * -0.5


class Tan(_Unary):
    """y = tan x.  x̄ = ȳ · (1 + y²)."""

    from_output = True

    @staticmethod
    def f(xp, a):
        return xp.tan(a)

    @staticmethod
    def times_slope(ctx, g, y):
        return g * (y * y + 1)


class Asin(_Unary):
    """y = arcsin x.  x̄ = ȳ / √(1 − x²)  (inf at |x| = 1, nan beyond)."""

    ignore = _INF_NAN

    @staticmethod
    def f(xp, a):
        return xp.arcsin(a)

    @staticmethod
    def times_slope(ctx, g, x):
        return g / ctx.xp.sqrt(1 - x * x)


class Acos(_Unary):
    """y = arccos x.  x̄ = −ȳ / √(1 − x²)."""

    ignore = _INF_NAN

    @staticmethod
    def f(xp, a):
        return xp.arccos(a)

    @staticmethod
    def times_slope(ctx, g, x):
        return -(g / ctx.xp.sqrt(1 - x * x))


class Atan(_Unary):
    """y = arctan x.  x̄ = ȳ / (1 + x²)."""

    @staticmethod
    def f(xp, a):
        return xp.arctan(a)

    @staticmethod
    def times_slope(ctx, g, x):
        return g / (x * x + 1)


class Sinh(_Unary):
    """y = sinh x.  x̄ = ȳ · cosh x."""

    ignore = ("over",)

    @staticmethod
    def f(xp, a):
        return xp.sinh(a)

    @staticmethod
    def times_slope(ctx, g, x):
        return g * ctx.call(Cosh, x)


class Cosh(_Unary):
    """y = cosh x.  x̄ = ȳ · sinh x."""

    ignore = ("over",)

    @staticmethod
    def f(xp, a):
        return xp.cosh(a)

    @staticmethod
    def times_slope(ctx, g, x):
        return g * ctx.call(Sinh, x)


class _LogBase(Op):
    """y = log_b x.  x̄ = ȳ / (x · ln b), ẏ = ẋ / (x · ln b)."""

    @staticmethod
    def forward(ctx, x, fn, ln_base):
        ctx.save_for_backward(x)
        ctx.ln_base = ln_base
        with ctx.xp.errstate(divide="ignore", invalid="ignore"):
            return getattr(ctx.xp, fn)(x._data)

    @staticmethod
    def backward(ctx, gy):
        x, = ctx.saved_tensors
        with ctx.xp.errstate(divide="ignore", invalid="ignore"):
            return gy / (x * ctx.ln_base), None, None

    @staticmethod
    def jvp(ctx, tx, *_):
        with ctx.xp.errstate(divide="ignore", invalid="ignore"):
            return tx / (ctx.primals[0] * ctx.ln_base)


class Atan2(Op):
    """y = atan2(a, b), the angle of the point (b, a).  ā = ȳ · b / (a² + b²),
    b̄ = −ȳ · a / (a² + b²)  (0 at the origin, as PyTorch)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        try:
            return promote(ctx.xp.asarray(ctx.xp.arctan2(a._data, b._data)), a, b)
        except ValueError:
            raise _broadcast_error("atan2", a, b) from None

    @staticmethod
    def backward(ctx, gy):
        a, b = ctx.saved_tensors
        recip = Atan2.inverse_radius2(ctx.xp, a, b)
        na, nb = ctx.needs_input_grad
        return (gy * b * recip if na else None), (gy * -a * recip if nb else None)

    @staticmethod
    def jvp(ctx, ta, tb):
        """ẏ = (b ȧ − a ḃ) / (a² + b²)  (0 at the origin)."""
        a, b = ctx.primals
        return tangent_sum(None if ta is None else ta * b, None if tb is None else tb * -a) \
            * Atan2.inverse_radius2(ctx.xp, a, b)

    @staticmethod
    def inverse_radius2(xp, a, b):
        """1 / (a² + b²), taken as 0 at the origin (a constant mask there)."""
        aa, ba = _array(a), _array(b)
        origin = aa * aa + ba * ba == 0
        with xp.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return xp.where(origin, 0.0, 1 / xp.where(origin, 1.0, a * a + b * b))


class NanToNum(Op):
    """y = x with NaN, +inf and −inf replaced by numbers.  x̄ = ȳ where x is finite, else 0."""

    @staticmethod
    def forward(ctx, x, nan, posinf, neginf):
        ctx.finite = ctx.xp.isfinite(x._data)
        return ctx.xp.nan_to_num(x._data, nan=nan, posinf=posinf, neginf=neginf)

    @staticmethod
    def backward(ctx, gy):
        return ctx.xp.where(ctx.finite, gy, 0.0), None, None, None

    @staticmethod
    def jvp(ctx, tx, *_):
        return ctx.xp.where(ctx.finite, tx, 0.0)


def _array(t):
    return t._data if isinstance(t, Tensor) else t


def _broadcast_error(op, a, b):
    return ShapeError(f"{op}: shapes {a.shape} and {b.shape} do not broadcast")


# ---- the free functions ------------------------------------------------------------------
def erf(input):
    """The error function (2/√π) ∫₀ˣ e^(−t²) dt elementwise: ``cr.erf(cr.tensor([0.5]))``."""
    return Erf.apply(_float(input, "erf"))


def expm1(input):
    """eˣ − 1 elementwise, accurate near 0."""
    return Expm1.apply(_float(input, "expm1"))


def log2(input):
    """Base-2 logarithm elementwise."""
    return _LogBase.apply(_float(input, "log2"), "log2", math.log(2.0))


def log10(input):
    """Base-10 logarithm elementwise."""
    return _LogBase.apply(_float(input, "log10"), "log10", math.log(10.0))


def rsqrt(input):
    """1/√x elementwise."""
    return Rsqrt.apply(_float(input, "rsqrt"))


def tan(input):
    """tan x elementwise."""
    return Tan.apply(_float(input, "tan"))


def asin(input):
    """arcsin x elementwise (nan outside [−1, 1])."""
    return Asin.apply(_float(input, "asin"))


def acos(input):
    """arccos x elementwise (nan outside [−1, 1])."""
    return Acos.apply(_float(input, "acos"))


def atan(input):
    """arctan x elementwise."""
    return Atan.apply(_float(input, "atan"))


def sinh(input):
    """sinh x elementwise."""
    return Sinh.apply(_float(input, "sinh"))


def cosh(input):
    """cosh x elementwise."""
    return Cosh.apply(_float(input, "cosh"))


def atan2(input, other):
    """atan2(input, other) elementwise, the angle of (other, input) in (−π, π], broadcasting."""
    a = input if isinstance(input, Tensor) else Tensor(input)
    b = other if isinstance(other, Tensor) else Tensor(other)
    return Atan2.apply(a, b)


arctan2 = atan2
arcsin, arccos, arctan = asin, acos, atan


def nan_to_num(input, nan=0.0, posinf=None, neginf=None):
    """Replace NaN by *nan* and ±inf by *posinf*/*neginf* (by default the dtype's largest and
    smallest finite values); the gradient is 0 where the input was not finite."""
    if input._data.dtype.kind != "f":
        return input.clone()
    return NanToNum.apply(input, nan, posinf, neginf)


def square(input):
    """x² elementwise (integers stay integers)."""
    return pow(input, 2)


def reciprocal(input):
    """1/x elementwise (integers give the default float dtype)."""
    return rdiv(input, 1.0)


def trunc(input):
    """Round toward zero elementwise; its gradient is zero."""
    if input._data.dtype.kind != "f":
        return input.clone()
    return _Constant.apply(input, "trunc")


fix = trunc


def clamp_min(input, min):
    """max(x, min) elementwise (``clamp(x, min=min)``)."""
    return clamp(input, min=min)


def clamp_max(input, max):
    """min(x, max) elementwise (``clamp(x, max=max)``)."""
    return clamp(input, max=max)


def lerp(input, end, weight):
    """input + weight · (end − input), computed as PyTorch: from *end* when |weight| ≥ 0.5.

    ``cr.lerp(a, b, 0.25)``; *weight* is a number or a tensor (broadcasting).
    """
    if not isinstance(end, Tensor):
        end = Tensor(namespace_of(input._data).asarray(end, dtype=input._data.dtype))
    if input._data.dtype.kind != "f" or end._data.dtype != input._data.dtype:
        raise DTypeError(f"lerp: expected input and end of one float dtype, got {input.dtype} "
                         f"and {end.dtype}")
    gap = sub(end, input)
    if not isinstance(weight, Tensor):
        w = float(weight)
        return add(input, mul(gap, w)) if abs(w) < 0.5 else sub(end, mul(gap, 1.0 - w))
    small = Tensor(namespace_of(weight._data).abs(weight._data) < 0.5)
    return where(small, add(input, mul(weight, gap)), sub(end, mul(gap, rsub(weight, 1.0))))


logical_xor = _cmp("logical_xor", "logical_xor")


def count_nonzero(input, dim=None):
    """The number of nonzero elements (along *dim*, an int or a tuple), an int64 tensor."""
    a = input._data
    xp = namespace_of(a)
    axes = normalize_dims(dim, a.ndim, "count_nonzero")
    return Tensor(xp.asarray(xp.count_nonzero(a, axis=axes)).astype(dtypes.int64, copy=False))
