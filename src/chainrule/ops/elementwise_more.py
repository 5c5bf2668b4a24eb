"""More elementwise math: erf, expm1, log2, log10, rsqrt, tan, the inverse and hyperbolic
trigonometric functions, atan2, nan_to_num, and the compositions PyTorch names (square,
reciprocal, trunc, clamp_min/max, lerp), with logical_xor and count_nonzero.

Each Jacobian is diagonal, so each VJP is ȳ times the derivative; integer inputs give the default
float dtype, as PyTorch.
"""
import math

from chainrule import dtypes
from chainrule.backend import namespace_of
from chainrule.errors import DTypeError, ShapeError
from chainrule.function import Op
from chainrule.ops._util import normalize_dims, promote
from chainrule.ops.arithmetic import add, mul, pow, rdiv, rsub, sub
from chainrule.ops.compare import _cmp
from chainrule.ops.elementwise import _Constant, _float, clamp, where
from chainrule.ops.special import erf_array
from chainrule.tensor import Tensor

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


class Erf(Op):
    """y = erf x = (2/√π) ∫₀ˣ e^(−t²) dt.  x̄ = ȳ · (2/√π) · e^(−x²)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return erf_array(ctx.xp, x.data)

    @staticmethod
    def backward(ctx, gy):
        x, = ctx.saved_tensors
        return gy * (ctx.xp.exp(-(x * x)) * _TWO_OVER_SQRT_PI)


class Expm1(Op):
    """y = eˣ − 1, accurate near 0.  x̄ = ȳ · (y + 1)."""

    @staticmethod
    def forward(ctx, x):
        with ctx.xp.errstate(over="ignore"):
            y = ctx.xp.expm1(x.data)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, gy):
        y, = ctx.saved_tensors
        return gy * (y + 1)


class _LogBase(Op):
    """y = log_b x.  x̄ = ȳ / (x · ln b)."""

    @staticmethod
    def forward(ctx, x, fn, ln_base):
        ctx.save_for_backward(x)
        ctx.ln_base = ln_base
        with ctx.xp.errstate(divide="ignore", invalid="ignore"):
            return getattr(ctx.xp, fn)(x.data)

    @staticmethod
    def backward(ctx, gy):
        x, = ctx.saved_tensors
        with ctx.xp.errstate(divide="ignore", invalid="ignore"):
            return gy / (x * ctx.ln_base), None, None


class Rsqrt(Op):
    """y = 1/√x.  x̄ = −ȳ · y³ / 2  (−inf at x = 0, as PyTorch)."""

    @staticmethod
    def forward(ctx, x):
        with ctx.xp.errstate(divide="ignore", invalid="ignore"):
            y = 1 / ctx.xp.sqrt(x.data)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, gy):
        y, = ctx.saved_tensors
        with ctx.xp.errstate(invalid="ignore", over="ignore"):
            return gy * (y * y * y) * -0.5


class Tan(Op):
    """y = tan x.  x̄ = ȳ · (1 + y²)."""

    @staticmethod
    def forward(ctx, x):
        y = ctx.xp.tan(x.data)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, gy):
        y, = ctx.saved_tensors
        return gy * (y * y + 1)


class Asin(Op):
    """y = arcsin x.  x̄ = ȳ / √(1 − x²)  (inf at |x| = 1, nan beyond)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        with ctx.xp.errstate(invalid="ignore"):
            return ctx.xp.arcsin(x.data)

    @staticmethod
    def backward(ctx, gy):
        x, = ctx.saved_tensors
        with ctx.xp.errstate(divide="ignore", invalid="ignore"):
            return gy / ctx.xp.sqrt(1 - x * x)


class Acos(Op):
    """y = arccos x.  x̄ = −ȳ / √(1 − x²)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        with ctx.xp.errstate(invalid="ignore"):
            return ctx.xp.arccos(x.data)

    @staticmethod
    def backward(ctx, gy):
        x, = ctx.saved_tensors
        with ctx.xp.errstate(divide="ignore", invalid="ignore"):
            return -(gy / ctx.xp.sqrt(1 - x * x))


class Atan(Op):
    """y = arctan x.  x̄ = ȳ / (1 + x²)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return ctx.xp.arctan(x.data)

    @staticmethod
    def backward(ctx, gy):
        x, = ctx.saved_tensors
        return gy / (x * x + 1)


class Sinh(Op):
    """y = sinh x.  x̄ = ȳ · cosh x."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        with ctx.xp.errstate(over="ignore"):
            return ctx.xp.sinh(x.data)

    @staticmethod
    def backward(ctx, gy):
        x, = ctx.saved_tensors
        return gy * ctx.call(Cosh, x)


class Cosh(Op):
    """y = cosh x.  x̄ = ȳ · sinh x."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        with ctx.xp.errstate(over="ignore"):
            return ctx.xp.cosh(x.data)

    @staticmethod
    def backward(ctx, gy):
        x, = ctx.saved_tensors
        return gy * ctx.call(Sinh, x)


class Atan2(Op):
    """y = atan2(a, b), the angle of the point (b, a).  ā = ȳ · b / (a² + b²),
    b̄ = −ȳ · a / (a² + b²)  (0 at the origin, as PyTorch)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        try:
            return promote(ctx.xp.asarray(ctx.xp.arctan2(a.data, b.data)), a, b)
        except ValueError:
            raise _broadcast_error("atan2", a, b) from None

    @staticmethod
    def backward(ctx, gy):
        a, b = ctx.saved_tensors
        xp = ctx.xp
        aa, ba = _array(a), _array(b)
        origin = aa * aa + ba * ba == 0            # a constant mask: 1/r² is taken as 0 there
        with xp.errstate(divide="ignore", invalid="ignore", over="ignore"):
            recip = xp.where(origin, 0.0, 1 / xp.where(origin, 1.0, a * a + b * b))
            na, nb = ctx.needs_input_grad
            return (gy * b * recip if na else None), (gy * -a * recip if nb else None)


class NanToNum(Op):
    """y = x with NaN, +inf and −inf replaced by numbers.  x̄ = ȳ where x is finite, else 0."""

    @staticmethod
    def forward(ctx, x, nan, posinf, neginf):
        ctx.finite = ctx.xp.isfinite(x.data)
        return ctx.xp.nan_to_num(x.data, nan=nan, posinf=posinf, neginf=neginf)

    @staticmethod
    def backward(ctx, gy):
        return ctx.xp.where(ctx.finite, gy, 0.0), None, None, None


def _array(t):
    return t.data if isinstance(t, Tensor) else t


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
    if input.data.dtype.kind != "f":
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
    if input.data.dtype.kind != "f":
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
        end = Tensor(namespace_of(input.data).asarray(end, dtype=input.data.dtype))
    if input.data.dtype.kind != "f" or end.data.dtype != input.data.dtype:
        raise DTypeError(f"lerp: expected input and end of one float dtype, got {input.dtype} "
                         f"and {end.dtype}")
    gap = sub(end, input)
    if not isinstance(weight, Tensor):
        w = float(weight)
        return add(input, mul(gap, w)) if abs(w) < 0.5 else sub(end, mul(gap, 1.0 - w))
    small = Tensor(namespace_of(weight.data).abs(weight.data) < 0.5)
    return where(small, add(input, mul(weight, gap)), sub(end, mul(gap, rsub(weight, 1.0))))


logical_xor = _cmp("logical_xor", "logical_xor")


def count_nonzero(input, dim=None):
    """The number of nonzero elements (along *dim*, an int or a tuple), an int64 tensor."""
    a = input.data
    xp = namespace_of(a)
    axes = normalize_dims(dim, a.ndim, "count_nonzero")
    return Tensor(xp.asarray(xp.count_nonzero(a, axis=axes)).astype(dtypes.int64, copy=False))
