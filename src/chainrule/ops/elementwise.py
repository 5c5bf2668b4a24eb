"""Elementwise functions.  Each Jacobian is diagonal, so each VJP is ȳ times the derivative.

Kinks follow PyTorch: relu'(0) = 0, |x|'(0) = 0, clamp passes the gradient at its bounds, and
maximum/minimum split it in half at ties.
"""
import numpy as np

from chainrule import dtypes
from chainrule.backend import namespace_of, numpy_namespace
from chainrule.errors import ConfigError, DTypeError, ShapeError
from chainrule.function import Op
from chainrule.ops._util import promote, tangent_sum
from chainrule.tensor import Tensor


def _float(x, op):
    """*x* as a tensor of a float dtype (an integer tensor is converted to the default float)."""
    if not isinstance(x, Tensor):
        x = Tensor(x)
    if x._data.dtype.kind != "f":
        x = Tensor(x._data.astype(dtypes.get_default_dtype()))
    return x


class Exp(Op):
    """y = eˣ.  x̄ = ȳ · y."""

    @staticmethod
    def forward(ctx, x):
        with ctx.xp.errstate(over="ignore"):
            y = ctx.xp.exp(x._data)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, gy):
        y, = ctx.saved_tensors
        return gy * y

    @staticmethod
    def jvp(ctx, tx):
        return tx * ctx.outputs[0]


class Log(Op):
    """y = ln x.  x̄ = ȳ / x."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        with ctx.xp.errstate(divide="ignore", invalid="ignore"):
            return ctx.xp.log(x._data)

    @staticmethod
    def backward(ctx, gy):
        x, = ctx.saved_tensors
        return gy / x

    @staticmethod
    def jvp(ctx, tx):
        with ctx.xp.errstate(divide="ignore", invalid="ignore"):
            return tx / ctx.primals[0]


class Log1p(Op):
    """y = ln(1 + x), accurate for small x.  x̄ = ȳ / (1 + x)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        with ctx.xp.errstate(divide="ignore", invalid="ignore"):
            return ctx.xp.log1p(x._data)

    @staticmethod
    def backward(ctx, gy):
        x, = ctx.saved_tensors
        return gy / (x + 1)

    @staticmethod
    def jvp(ctx, tx):
        with ctx.xp.errstate(divide="ignore", invalid="ignore"):
            return tx / (ctx.primals[0] + 1)


class Sqrt(Op):
    """y = √x.  x̄ = ȳ / (2y)."""

    @staticmethod
    def forward(ctx, x):
        with ctx.xp.errstate(invalid="ignore"):
            y = ctx.xp.sqrt(x._data)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, gy):
        y, = ctx.saved_tensors
        with ctx.xp.errstate(divide="ignore", invalid="ignore"):
            return gy / (y * 2)

    @staticmethod
    def jvp(ctx, tx):
        with ctx.xp.errstate(divide="ignore", invalid="ignore"):
            return tx / (ctx.outputs[0] * 2)


class Sin(Op):
    """y = sin x.  x̄ = ȳ · cos x."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return ctx.xp.sin(x._data)

    @staticmethod
    def backward(ctx, gy):
        x, = ctx.saved_tensors
        return gy * ctx.xp.cos(x)

    @staticmethod
    def jvp(ctx, tx):
        return tx * ctx.xp.cos(ctx.primals[0])


class Cos(Op):
    """y = cos x.  x̄ = -ȳ · sin x."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return ctx.xp.cos(x._data)

    @staticmethod
    def backward(ctx, gy):
        x, = ctx.saved_tensors
        return -(gy * ctx.xp.sin(x))

    @staticmethod
    def jvp(ctx, tx):
        return ctx.xp.negative(tx * ctx.xp.sin(ctx.primals[0]))


class Tanh(Op):
    """y = tanh x.  x̄ = ȳ · (1 - y²)."""

    @staticmethod
    def forward(ctx, x):
        y = ctx.xp.tanh(x._data)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, gy):
        y, = ctx.saved_tensors
        return gy * (1 - y * y)

    @staticmethod
    def jvp(ctx, tx):
        y = ctx.outputs[0]
        return tx * (1 - y * y)


def sigmoid_array(a):
    """σ(a) = 1 / (1 + e⁻ᵃ) computed without overflow: e^{-|a|} never exceeds 1."""
    xp = namespace_of(a)
    z = xp.exp(-xp.abs(a))
    d = 1 + z
    return xp.where(a >= 0, 1 / d, z / d)


class Sigmoid(Op):
    """y = σ(x) = 1 / (1 + e⁻ˣ).  x̄ = ȳ · y · (1 - y)."""

    @staticmethod
    def forward(ctx, x):
        y = sigmoid_array(x._data).astype(x._data.dtype, copy=False)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, gy):
        y, = ctx.saved_tensors
        return gy * (y * (1 - y))

    @staticmethod
    def jvp(ctx, tx):
        y = ctx.outputs[0]
        return tx * (y * (1 - y))


class Relu(Op):
    """y = max(x, 0).  x̄ = ȳ · [x > 0]  (0 at x = 0, as PyTorch; at x = NaN the gradient passes,
    as PyTorch's ``threshold_backward``: it zeroes where y ≤ 0)."""

    @staticmethod
    def forward(ctx, x):
        xp, a = ctx.xp, x._data
        # NumPy's max against a row of zeros runs twice as fast as against the number 0
        y = xp.maximum(a, xp.zeros(a.shape[-1:], a.dtype) if a.size >= 4096 else 0)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, gy):
        y, = ctx.saved_tensors
        xp = ctx.xp
        if getattr(xp, "fuses", False):    # arrays on a GPU: the mask and the select, one kernel
            return xp.fused(_make_relu_backward)(y, gy, gy.dtype.type(0))
        if xp is numpy_namespace and gy.dtype.kind == "f" and gy.size >= 1024:
            return _zero_where(y <= 0, gy)
        return xp.where(y <= 0, 0, gy)

    @staticmethod
    def jvp(ctx, tx):
        return ctx.xp.where(_array(ctx.outputs[0]) <= 0, 0, tx)


_INT_OF_WIDTH = {2: np.int16, 4: np.int32, 8: np.int64}


def _zero_where(mask, g):
    """``where(mask, 0, g)`` for a NumPy float array, exactly, without a branch per element: g's
    bits AND-ed with zeros where *mask* holds and with all ones elsewhere (+0 there, and a NaN or
    inf of g never leaks through).  NumPy's ``where`` branches on each element and runs 6–9×
    slower on the random masks a ReLU makes."""
    keep = mask.astype(_INT_OF_WIDTH[g.itemsize])   # 1 where zeroed, else 0
    np.subtract(keep, 1, out=keep)                   # 0 where zeroed, all bits set elsewhere
    np.bitwise_and(keep, g.view(keep.dtype), out=keep)
    return keep.view(g.dtype)


def _make_relu_backward(xp):
    """Relu's VJP ȳ · [y > 0] (zero where y ≤ 0) as one elementwise kernel (``xp.fused``)."""
    def relu_backward(y, gy, zero):
        return xp.where(y <= zero, zero, gy)
    return relu_backward


class Abs(Op):
    """y = |x|.  x̄ = ȳ · sign(x)  (0 at x = 0)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return ctx.xp.abs(x._data)

    @staticmethod
    def backward(ctx, gy):
        x, = ctx.saved_tensors
        return gy * ctx.xp.sign(x)

    @staticmethod
    def jvp(ctx, tx):
        x = _array(ctx.primals[0])
        return tx * namespace_of(x).sign(x)


class Clamp(Op):
    """y = min(max(x, lo), hi); the bounds are numbers, tensors (broadcasting) or None.

    As PyTorch: x̄ = ȳ where lo ≤ x ≤ hi (the bounds pass the gradient to x); a tensor lo gets ȳ
    where x < lo (and lo < hi), a tensor hi where x > hi (or hi < lo, where y = hi).
    """

    @staticmethod
    def forward(ctx, x, lo, hi):
        ctx.save_for_backward(x)
        lo_a = lo._data if isinstance(lo, Tensor) else lo
        hi_a = hi._data if isinstance(hi, Tensor) else hi
        ctx.bounds = (lo_a, hi_a)
        y, xp = x._data, ctx.xp
        try:
            if lo is not None:
                y = xp.maximum(y, lo_a)
            if hi is not None:
                y = xp.minimum(y, hi_a)
        except ValueError:
            raise ShapeError(f"clamp: the bounds' shapes do not broadcast with the input's "
                             f"shape {x.shape}") from None
        if y.dtype != x._data.dtype and not (isinstance(lo, Tensor) or isinstance(hi, Tensor)):
            # Python bounds keep a float tensor's dtype; a float bound makes ints the default float
            y = y.astype(x._data.dtype if x._data.dtype.kind == "f" else dtypes.get_default_dtype())
        return y

    @staticmethod
    def backward(ctx, gy):
        x, = ctx.saved_tensors
        lo, hi = ctx.bounds            # arrays or numbers: the masks are constants
        xp, x = ctx.xp, _array(x)
        mask_x = True
        if lo is not None:
            mask_x = x >= lo
        if hi is not None:
            mask_x = mask_x & (x <= hi)
        _, n_lo, n_hi = ctx.needs_input_grad
        g_lo = g_hi = None
        if n_lo:
            m = x < lo if hi is None else (x < lo) & (lo < hi)
            g_lo = xp.where(m, gy, 0.0)
        if n_hi:
            m = x > hi if lo is None else (x > hi) | (hi < lo)
            g_hi = xp.where(m, gy, 0.0)
        return xp.where(mask_x, gy, 0.0), g_lo, g_hi

    @staticmethod
    def jvp(ctx, tx, t_lo, t_hi):
        """ẏ = ẋ where lo ≤ x ≤ hi, else the tangent of the bound that y equals."""
        x, lo, hi = (_array(p) for p in ctx.primals)     # the masks are constants
        xp = ctx.xp
        mask_x = True
        if lo is not None:
            mask_x = x >= lo
        if hi is not None:
            mask_x = mask_x & (x <= hi)
        out = None if tx is None else xp.where(mask_x, tx, 0.0)
        if t_lo is not None:
            m = x < lo if hi is None else (x < lo) & (lo < hi)
            out = tangent_sum(out, xp.where(m, t_lo, 0.0))
        if t_hi is not None:
            m = x > hi if lo is None else (x > hi) | (hi < lo)
            out = tangent_sum(out, xp.where(m, t_hi, 0.0))
        return out


class Maximum(Op):
    """y = max(a, b) elementwise.  The larger input gets ȳ; at a tie each gets ȳ/2."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        try:
            return promote(ctx.xp.maximum(a._data, b._data), a, b)
        except ValueError:
            raise ShapeError(f"maximum: shapes {a.shape} and {b.shape} do not broadcast") from None

    @staticmethod
    def backward(ctx, gy):
        a, b = map(_array, ctx.saved_tensors)
        return _tie_split(ctx.xp, gy, a, b, a < b, a > b)

    @staticmethod
    def jvp(ctx, ta, tb):
        """ẏ = the winner's tangent, the mean of both at a tie."""
        a, b = map(_array, ctx.primals)
        return _tie_jvp(ctx, ta, tb, a, b, a < b, a > b)


class Minimum(Op):
    """y = min(a, b) elementwise.  The smaller input gets ȳ; at a tie each gets ȳ/2."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        try:
            return promote(ctx.xp.minimum(a._data, b._data), a, b)
        except ValueError:
            raise ShapeError(f"minimum: shapes {a.shape} and {b.shape} do not broadcast") from None

    @staticmethod
    def backward(ctx, gy):
        a, b = map(_array, ctx.saved_tensors)
        return _tie_split(ctx.xp, gy, a, b, a > b, a < b)

    @staticmethod
    def jvp(ctx, ta, tb):
        """ẏ = the winner's tangent, the mean of both at a tie."""
        a, b = map(_array, ctx.primals)
        return _tie_jvp(ctx, ta, tb, a, b, a > b, a < b)


def _array(t):
    """The array behind a saved value (masks and shares are constants, never differentiated)."""
    return t._data if isinstance(t, Tensor) else t


def _tie_split(xp, gy, a, b, a_loses, b_loses):
    """ȳ to the winner, ȳ/2 to each at a tie, as PyTorch (which, with a NaN, gives ȳ to both)."""
    axp = namespace_of(a)
    tie = a == b
    share_a = axp.where(tie, 0.5, ~a_loses).astype(gy.dtype)
    share_b = axp.where(tie, 0.5, ~b_loses).astype(gy.dtype)
    return gy * share_a, gy * share_b


def _tie_jvp(ctx, ta, tb, a, b, a_loses, b_loses):
    """ȧ · share_a + ḃ · share_b with the shares of :func:`_tie_split` (½ each at a tie)."""
    axp = namespace_of(a)
    tie = a == b
    dt = ctx.outputs[0].dtype
    share_a = axp.where(tie, 0.5, ~a_loses).astype(dt)
    share_b = axp.where(tie, 0.5, ~b_loses).astype(dt)
    return tangent_sum(None if ta is None else ta * share_a, None if tb is None else tb * share_b)


class Where(Op):
    """y = a where cond else b.  ā = ȳ where cond (else 0); b̄ = ȳ where not cond."""

    @staticmethod
    def forward(ctx, cond, a, b):
        ctx.cond = cond._data
        try:
            return ctx.xp.where(cond._data, a._data if isinstance(a, Tensor) else a,
                            b._data if isinstance(b, Tensor) else b)
        except ValueError:
            sa = a.shape if isinstance(a, Tensor) else "a scalar"
            sb = b.shape if isinstance(b, Tensor) else "a scalar"
            raise ShapeError(f"where: condition {cond.shape}, input {sa} and other {sb} do not "
                             f"broadcast") from None

    @staticmethod
    def backward(ctx, gy):
        _, na, nb = ctx.needs_input_grad
        xp = ctx.xp
        ga = xp.where(ctx.cond, gy, 0.0) if na else None
        gb = xp.where(ctx.cond, 0.0, gy) if nb else None
        return None, ga, gb

    @staticmethod
    def jvp(ctx, t_cond, ta, tb):
        if ta is None and tb is None:
            return None
        return ctx.xp.where(ctx.cond, 0.0 if ta is None else ta, 0.0 if tb is None else tb)


class _Constant(Op):
    """A piecewise-constant function (sign, floor, ceil, round).  Its derivative is 0 wherever it
    exists, so x̄ = 0 (PyTorch's choice at the jumps too)."""

    @staticmethod
    def forward(ctx, x, fn, *args):
        return getattr(ctx.xp, fn)(x._data, *args)

    @staticmethod
    def backward(ctx, gy):
        return ctx.xp.zeros_like(gy), None, *([None] * (len(ctx.needs_input_grad) - 2))

    @staticmethod
    def jvp(ctx, tx, *rest):
        return ctx.xp.zeros_like(ctx.outputs[0])


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
    return Maximum.apply(input, other if isinstance(other, Tensor) else _on_device_of(input, other))


def minimum(input, other):
    """Elementwise minimum of two tensors (ties share the gradient equally)."""
    return Minimum.apply(input, other if isinstance(other, Tensor) else _on_device_of(input, other))


def _on_device_of(t, value):
    """A plain value (a number, a list, a host array) as a tensor on tensor *t*'s device; a Python
    number is made there directly (no host copy) and a float keeps a float *t*'s dtype."""
    d = t._data
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if isinstance(value, float):
            dtype = d.dtype if d.dtype.kind == "f" else dtypes.get_default_dtype()
        else:
            dtype = d.dtype if d.dtype.kind in "iuf" else dtypes.int64
        return Tensor(namespace_of(d).full((), value, dtype=dtype))
    v = Tensor(value)
    if type(d) is not type(v._data):
        v = Tensor(namespace_of(d).asarray(v._data))
    return v


def where(condition, input, other):
    """Pick from *input* where *condition* is true, else from *other* (either may be a number)."""
    if not isinstance(condition, Tensor):
        condition = Tensor(condition)
    if condition._data.dtype != dtypes.bool:
        raise DTypeError(f"where: condition must be a bool tensor, got dtype {condition.dtype}")
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        input = Tensor(namespace_of(condition._data).asarray(input,
                                                            dtype=dtypes.get_default_dtype()))
    return Where.apply(condition, input, other)


def sign(input):
    """The sign of each element (-1, 0 or 1); its gradient is zero, as PyTorch."""
    return _Constant.apply(input, "sign")


def floor(input):
    """Round down elementwise; its gradient is zero."""
    return _Constant.apply(input, "floor")


def ceil(input):
    """Round up elementwise; its gradient is zero."""
    return _Constant.apply(input, "ceil")


def round(input, decimals=0):  # noqa: A001 - PyTorch's name
    """Round half to even elementwise; its gradient is zero."""
    return _Constant.apply(input, "round", decimals)


def isnan(input):
    """Bool tensor: which elements are NaN."""
    return Tensor(namespace_of(input._data).isnan(input._data))


def isinf(input):
    """Bool tensor: which elements are ±inf."""
    return Tensor(namespace_of(input._data).isinf(input._data))


def isfinite(input):
    """Bool tensor: which elements are finite."""
    return Tensor(namespace_of(input._data).isfinite(input._data))
