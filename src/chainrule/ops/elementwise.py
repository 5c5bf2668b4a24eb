"""Elementwise functions.  Each Jacobian is diagonal, so each VJP is ȳ times the derivative.

Kinks follow PyTorch: relu'(0) = 0, |x|'(0) = 0, clamp passes the gradient at its bounds, and
maximum/minimum split it in half at ties.
"""
from chainrule import dtypes
from chainrule.autograd.function import Function
from chainrule.backend import xp
from chainrule.errors import ConfigError, DTypeError, ShapeError
from chainrule.grad_mode import state as _grad_state
from chainrule.ops._util import promote
from chainrule.tensor import Tensor


def _float(x, op):
    """*x* as a tensor of a float dtype (an integer tensor is converted to the default float)."""
    if not isinstance(x, Tensor):
        x = Tensor(x)
    if x.data.dtype.kind != "f":
        x = Tensor(x.data.astype(dtypes.get_default_dtype()))
    return x


class Exp(Function):
    """y = eˣ.  x̄ = ȳ · y."""

    @staticmethod
    def forward(ctx, x):
        with xp.errstate(over="ignore"):
            y = Tensor(xp.exp(x.data))
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, gy):
        y, = ctx.saved_tensors
        return gy * y


class Log(Function):
    """y = ln x.  x̄ = ȳ / x."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        with xp.errstate(divide="ignore", invalid="ignore"):
            return xp.log(x.data)

    @staticmethod
    def backward(ctx, gy):
        x, = ctx.saved_tensors
        return gy / x


class Log1p(Function):
    """y = ln(1 + x), accurate for small x.  x̄ = ȳ / (1 + x)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        with xp.errstate(divide="ignore", invalid="ignore"):
            return xp.log1p(x.data)

    @staticmethod
    def backward(ctx, gy):
        x, = ctx.saved_tensors
        return gy / (x + 1)


class Sqrt(Function):
    """y = √x.  x̄ = ȳ / (2y)."""

    @staticmethod
    def forward(ctx, x):
        with xp.errstate(invalid="ignore"):
            y = Tensor(xp.sqrt(x.data))
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, gy):
        y, = ctx.saved_tensors
        with xp.errstate(divide="ignore", invalid="ignore"):
            return gy / (y * 2)


class Sin(Function):
    """y = sin x.  x̄ = ȳ · cos x."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return xp.sin(x.data)

    @staticmethod
    def backward(ctx, gy):
        x, = ctx.saved_tensors
        return gy * cos(x)


class Cos(Function):
    """y = cos x.  x̄ = -ȳ · sin x."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return xp.cos(x.data)

    @staticmethod
    def backward(ctx, gy):
        x, = ctx.saved_tensors
        return -(gy * sin(x))


class Tanh(Function):
    """y = tanh x.  x̄ = ȳ · (1 - y²)."""

    @staticmethod
    def forward(ctx, x):
        y = Tensor(xp.tanh(x.data))
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, gy):
        y, = ctx.saved_tensors
        return gy * (1 - y * y)


def sigmoid_array(a):
    """σ(a) = 1 / (1 + e⁻ᵃ) computed without overflow: e^{-|a|} never exceeds 1."""
    z = xp.exp(-xp.abs(a))
    d = 1 + z
    return xp.where(a >= 0, 1 / d, z / d)


class Sigmoid(Function):
    """y = σ(x) = 1 / (1 + e⁻ˣ).  x̄ = ȳ · y · (1 - y)."""

    @staticmethod
    def forward(ctx, x):
        y = Tensor(sigmoid_array(x.data).astype(x.data.dtype, copy=False))
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, gy):
        y, = ctx.saved_tensors
        return gy * (y * (1 - y))


class Relu(Function):
    """y = max(x, 0).  x̄ = ȳ · [x > 0]  (0 at x = 0, as PyTorch)."""

    @staticmethod
    def forward(ctx, x):
        y = Tensor(xp.maximum(x.data, 0))
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, gy):
        y, = ctx.saved_tensors
        if not _grad_state.enabled:  # first order: the same rule on the arrays, nothing recorded
            return xp.where(y.data > 0, gy.data, 0)
        return where(Tensor(y.data > 0), gy, 0.0)


class Abs(Function):
    """y = |x|.  x̄ = ȳ · sign(x)  (0 at x = 0)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return xp.abs(x.data)

    @staticmethod
    def backward(ctx, gy):
        x, = ctx.saved_tensors
        return gy * Tensor(xp.sign(x.data))


class Clamp(Function):
    """y = min(max(x, lo), hi); the bounds are numbers, tensors (broadcasting) or None.

    As PyTorch: x̄ = ȳ where lo ≤ x ≤ hi (the bounds pass the gradient to x); a tensor lo gets ȳ
    where x < lo (and lo < hi), a tensor hi where x > hi (or hi < lo, where y = hi).
    """

    @staticmethod
    def forward(ctx, x, lo, hi):
        ctx.save_for_backward(x)
        lo_a = lo.data if isinstance(lo, Tensor) else lo
        hi_a = hi.data if isinstance(hi, Tensor) else hi
        ctx.bounds = (lo_a, hi_a)
        y = x.data
        try:
            if lo is not None:
                y = xp.maximum(y, lo_a)
            if hi is not None:
                y = xp.minimum(y, hi_a)
        except ValueError:
            raise ShapeError(f"clamp: the bounds' shapes do not broadcast with the input's "
                             f"shape {x.shape}") from None
        if y.dtype != x.data.dtype and not (isinstance(lo, Tensor) or isinstance(hi, Tensor)):
            # Python bounds keep a float tensor's dtype; a float bound makes ints the default float
            y = y.astype(x.data.dtype if x.data.dtype.kind == "f" else dtypes.get_default_dtype())
        return y

    @staticmethod
    def backward(ctx, gy):
        x, = ctx.saved_tensors
        lo, hi = ctx.bounds
        x = x.data
        mask_x = xp.ones(x.shape, dtype=bool)
        if lo is not None:
            mask_x = mask_x & (x >= lo)
        if hi is not None:
            mask_x = mask_x & (x <= hi)
        _, n_lo, n_hi = ctx.needs_input_grad
        g_lo = g_hi = None
        if n_lo:
            m = x < lo if hi is None else (x < lo) & (lo < hi)
            g_lo = where(Tensor(m), gy, 0.0)
        if n_hi:
            m = x > hi if lo is None else (x > hi) | (hi < lo)
            g_hi = where(Tensor(m), gy, 0.0)
        return where(Tensor(mask_x), gy, 0.0), g_lo, g_hi


class Maximum(Function):
    """y = max(a, b) elementwise.  The larger input gets ȳ; at a tie each gets ȳ/2."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        try:
            return promote(xp.maximum(a.data, b.data), a, b)
        except ValueError:
            raise ShapeError(f"maximum: shapes {a.shape} and {b.shape} do not broadcast") from None

    @staticmethod
    def backward(ctx, gy):
        a, b = ctx.saved_tensors
        return _tie_split(gy, a.data, b.data, a.data < b.data, a.data > b.data)


class Minimum(Function):
    """y = min(a, b) elementwise.  The smaller input gets ȳ; at a tie each gets ȳ/2."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        try:
            return promote(xp.minimum(a.data, b.data), a, b)
        except ValueError:
            raise ShapeError(f"minimum: shapes {a.shape} and {b.shape} do not broadcast") from None

    @staticmethod
    def backward(ctx, gy):
        a, b = ctx.saved_tensors
        return _tie_split(gy, a.data, b.data, a.data > b.data, a.data < b.data)


def _tie_split(gy, a, b, a_loses, b_loses):
    """ȳ to the winner, ȳ/2 to each at a tie, as PyTorch (which, with a NaN, gives ȳ to both)."""
    tie = a == b
    share_a = xp.where(tie, 0.5, ~a_loses).astype(gy.data.dtype)
    share_b = xp.where(tie, 0.5, ~b_loses).astype(gy.data.dtype)
    return gy * Tensor(share_a), gy * Tensor(share_b)


class Where(Function):
    """y = a where cond else b.  ā = ȳ where cond (else 0); b̄ = ȳ where not cond."""

    @staticmethod
    def forward(ctx, cond, a, b):
        ctx.cond = cond
        try:
            return xp.where(cond.data, a.data if isinstance(a, Tensor) else a,
                            b.data if isinstance(b, Tensor) else b)
        except ValueError:
            sa = a.shape if isinstance(a, Tensor) else "a scalar"
            sb = b.shape if isinstance(b, Tensor) else "a scalar"
            raise ShapeError(f"where: condition {cond.shape}, input {sa} and other {sb} do not "
                             f"broadcast") from None

    @staticmethod
    def backward(ctx, gy):
        _, na, nb = ctx.needs_input_grad
        zero = Tensor(xp.zeros((), dtype=gy.data.dtype))
        ga = Where.apply(ctx.cond, gy, zero) if na else None
        gb = Where.apply(ctx.cond, zero, gy) if nb else None
        return None, ga, gb


# ---- the free functions ------------------------------------------------------------------
def exp(input):
    """eˣ elementwise."""
    return Exp.apply(_float(input, "exp"))


def log(input):
    """Natural logarithm elementwise (-inf at 0, nan below, as PyTorch)."""
    return Log.apply(_float(input, "log"))


def log1p(input):
    """ln(1 + x) elementwise, accurate near 0."""
    return Log1p.apply(_float(input, "log1p"))


def sqrt(input):
    """√x elementwise."""
    return Sqrt.apply(_float(input, "sqrt"))


def sin(input):
    """sin x elementwise."""
    return Sin.apply(_float(input, "sin"))


def cos(input):
    """cos x elementwise."""
    return Cos.apply(_float(input, "cos"))


def tanh(input):
    """tanh x elementwise."""
    return Tanh.apply(_float(input, "tanh"))


def sigmoid(input):
    """The logistic function 1 / (1 + e⁻ˣ) elementwise, stable for large |x|."""
    return Sigmoid.apply(_float(input, "sigmoid"))


def relu(input):
    """max(x, 0) elementwise."""
    return Relu.apply(input)


def abs(input):  # noqa: A001 - PyTorch's name
    """|x| elementwise."""
    return Abs.apply(input)


def clamp(input, min=None, max=None):  # noqa: A002 - PyTorch's argument names
    """Limit values to [min, max] (either bound may be None or a tensor)."""
    if min is None and max is None:
        raise ConfigError("clamp: at least one of min and max must be given")
    return Clamp.apply(input, min, max)


clip = clamp


def maximum(input, other):
    """Elementwise maximum of two tensors (ties share the gradient equally)."""
    return Maximum.apply(input, other if isinstance(other, Tensor) else Tensor(other))


def minimum(input, other):
    """Elementwise minimum of two tensors (ties share the gradient equally)."""
    return Minimum.apply(input, other if isinstance(other, Tensor) else Tensor(other))


def where(condition, input, other):
    """Pick from *input* where *condition* is true, else from *other* (either may be a number)."""
    if not isinstance(condition, Tensor):
        condition = Tensor(condition)
    if condition.data.dtype != dtypes.bool:
        raise DTypeError(f"where: condition must be a bool tensor, got dtype {condition.dtype}")
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        input = Tensor(xp.asarray(input, dtype=dtypes.get_default_dtype()))
    return Where.apply(condition, input, other)


def sign(input):
    """The sign of each element (-1, 0 or 1); carries no gradient."""
    return Tensor(xp.sign(input.data))


def floor(input):
    """Round down elementwise; carries no gradient."""
    return Tensor(xp.floor(input.data))


def ceil(input):
    """Round up elementwise; carries no gradient."""
    return Tensor(xp.ceil(input.data))


def round(input, decimals=0):  # noqa: A001 - PyTorch's name
    """Round half to even elementwise; carries no gradient."""
    return Tensor(xp.round(input.data, decimals))


def isnan(input):
    """Bool tensor: which elements are NaN."""
    return Tensor(xp.isnan(input.data))


def isinf(input):
    """Bool tensor: which elements are ±inf."""
    return Tensor(xp.isinf(input.data))


def isfinite(input):
    """Bool tensor: which elements are finite."""
    return Tensor(xp.isfinite(input.data))
