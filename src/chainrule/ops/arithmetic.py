"""Arithmetic: + - * / ** @ and negation.

Each binary op broadcasts its operands; its backward returns gradients of the broadcast shape and
the engine sums them back to each operand's shape (``engine.unbroadcast``).  An operand may be a
Python number, which gets no gradient.
"""
from chainrule import dtypes
from chainrule.autograd.function import Function
from chainrule.backend import xp
from chainrule.ops.elementwise import log, where
from chainrule.tensor import Tensor


def _operand(x, other):
    """*other* as an array or Python number ready to combine with tensor *x* (PyTorch promotion:
    an int tensor combined with a Python float gives the default float dtype)."""
    if isinstance(other, Tensor):
        return other
    if isinstance(other, float) and x.data.dtype.kind in "biu":
        return other  # the op promotes below
    if isinstance(other, (int, float, bool)):
        return other
    return Tensor(other)


def _arr(v):
    return v.data if isinstance(v, Tensor) else v


def _shape_error(op, a, b):
    sa = a.shape if isinstance(a, Tensor) else "a scalar"
    sb = b.shape if isinstance(b, Tensor) else "a scalar"
    return ValueError(f"{op}: shapes {sa} and {sb} do not broadcast (trailing dimensions must be "
                      f"equal or 1)")


def _promote(y, a, b):
    """Cast *y* to the default float dtype when NumPy promoted an integer op to float64."""
    if y.dtype == dtypes.float64:
        da = a.data.dtype if isinstance(a, Tensor) else None
        db = b.data.dtype if isinstance(b, Tensor) else None
        if da != dtypes.float64 and db != dtypes.float64:
            return y.astype(dtypes.get_default_dtype())
    return y


class Add(Function):
    """y = a + b.  Jacobians are identities: ā = ȳ, b̄ = ȳ."""

    @staticmethod
    def forward(ctx, a, b):
        try:
            y = _arr(a) + _arr(b)
        except ValueError:
            raise _shape_error("add", a, b) from None
        return _promote(y, a, b)

    @staticmethod
    def backward(ctx, gy):
        return gy, gy


class Sub(Function):
    """y = a - b.  ā = ȳ, b̄ = -ȳ."""

    @staticmethod
    def forward(ctx, a, b):
        try:
            y = _arr(a) - _arr(b)
        except ValueError:
            raise _shape_error("sub", a, b) from None
        return _promote(y, a, b)

    @staticmethod
    def backward(ctx, gy):
        return gy, (-gy if ctx.needs_input_grad[1] else None)


class Mul(Function):
    """y = a · b (elementwise).  ā = ȳ · b, b̄ = ȳ · a."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a if isinstance(a, Tensor) else None,
                              b if isinstance(b, Tensor) else None)
        ctx.consts = (a, b)
        try:
            y = _arr(a) * _arr(b)
        except ValueError:
            raise _shape_error("mul", a, b) from None
        return _promote(y, a, b)

    @staticmethod
    def backward(ctx, gy):
        a, b = ctx.saved_tensors
        a = ctx.consts[0] if a is None else a
        b = ctx.consts[1] if b is None else b
        na, nb = ctx.needs_input_grad
        return (gy * b if na else None), (gy * a if nb else None)


class Div(Function):
    """y = a / b.  ā = ȳ / b, b̄ = -ȳ · a / b²."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a if isinstance(a, Tensor) else None,
                              b if isinstance(b, Tensor) else None)
        ctx.consts = (a, b)
        try:
            y = _arr(a) / _arr(b)
        except ValueError:
            raise _shape_error("div", a, b) from None
        if y.dtype == dtypes.float64:
            y = _promote(y, a, b)
        return y

    @staticmethod
    def backward(ctx, gy):
        a, b = ctx.saved_tensors
        a = ctx.consts[0] if a is None else a
        b = ctx.consts[1] if b is None else b
        na, nb = ctx.needs_input_grad
        ga = gy / b if na else None
        gb = -gy * a / (b * b) if nb else None
        return ga, gb


class Neg(Function):
    """y = -x.  x̄ = -ȳ."""

    @staticmethod
    def forward(ctx, x):
        return -x.data

    @staticmethod
    def backward(ctx, gy):
        return -gy


class Pow(Function):
    """y = a ** b.  ā = ȳ · b · a^(b-1);  b̄ = ȳ · y · log(a)  (0 where a = 0, as PyTorch)."""

    @staticmethod
    def forward(ctx, a, b):
        try:
            y = Tensor(_promote(xp.power(_arr(a), _arr(b)), a, b))
        except ValueError:
            raise _shape_error("pow", a, b) from None
        ctx.save_for_backward(a if isinstance(a, Tensor) else None,
                              b if isinstance(b, Tensor) else None, y)
        ctx.consts = (a, b)
        return y

    @staticmethod
    def backward(ctx, gy):
        a, b, y = ctx.saved_tensors
        a = ctx.consts[0] if a is None else a
        b = ctx.consts[1] if b is None else b
        na, nb = ctx.needs_input_grad
        ga = gb = None
        if na:
            if isinstance(b, Tensor):
                ga = gy * b * a ** (b - 1)
            elif b == 0:
                ga = gy * 0.0
            elif b == 2:
                ga = gy * (a * 2.0)
            else:
                ga = gy * b * a ** (b - 1)
        if nb:
            a_t = a if isinstance(a, Tensor) else Tensor(xp.asarray(a, dtype=y.data.dtype))
            safe = where(a_t == 0, 1.0, a_t)
            gb = where(a_t == 0, 0.0, gy * y * log(safe))
        return ga, gb


def _as_tensor(x):
    return x if isinstance(x, Tensor) else Tensor(x)


def add(input, other, alpha=1):
    """input + alpha · other, broadcasting."""
    if alpha != 1:
        other = mul(_operand(input, other), alpha)
    return Add.apply(_as_tensor(input), _operand(input, other))


def sub(input, other, alpha=1):
    """input - alpha · other, broadcasting."""
    if alpha != 1:
        other = mul(_operand(input, other), alpha)
    return Sub.apply(_as_tensor(input), _operand(input, other))


def mul(input, other):
    """input · other (elementwise), broadcasting."""
    return Mul.apply(_as_tensor(input), _operand(input, other))


def div(input, other):
    """input / other (true division), broadcasting."""
    return Div.apply(_as_tensor(input), _operand(input, other))


def neg(input):
    """-input."""
    return Neg.apply(input)


def pow(input, exponent):
    """input ** exponent, broadcasting; either may be a tensor."""
    if not isinstance(input, Tensor):
        return Pow.apply(input, exponent)
    return Pow.apply(input, _operand(input, exponent))


def rsub(x, other):
    """other - x (the reflected ``__rsub__``)."""
    return Sub.apply(other, x)


def rdiv(x, other):
    """other / x (the reflected ``__rtruediv__``)."""
    return Div.apply(other, x)


def rpow(x, other):
    """other ** x (the reflected ``__rpow__``)."""
    return Pow.apply(other, x)


class MatMul(Function):
    """y = a @ b, with NumPy's batching and 1-D promotion.

    For matrices: ā = ȳ · bᵀ and b̄ = aᵀ · ȳ; batch dimensions broadcast and are summed back by
    the engine; 1-D operands are treated as a row (a) or column (b) vector and squeezed back.
    """

    @staticmethod
    def forward(ctx, a, b):
        if a.data.ndim == 0 or b.data.ndim == 0:
            raise ValueError(f"matmul: both arguments need at least 1 dimension, got shapes "
                             f"{a.shape} and {b.shape}")
        ka = a.data.shape[-1]
        kb = b.data.shape[-2] if b.data.ndim > 1 else b.data.shape[0]
        if ka != kb:
            raise ValueError(f"matmul: shapes {a.shape} and {b.shape} cannot be multiplied "
                             f"({ka} != {kb}: the last dimension of the first must equal the "
                             f"{'first' if b.data.ndim == 1 else 'second-to-last'} of the second)")
        ctx.save_for_backward(a, b)
        return a.data @ b.data

    @staticmethod
    def backward(ctx, gy):
        a, b = ctx.saved_tensors
        na, nb = ctx.needs_input_grad
        a2 = a.unsqueeze(0) if a.data.ndim == 1 else a
        b2 = b.unsqueeze(-1) if b.data.ndim == 1 else b
        g = gy
        if a.data.ndim == 1:
            g = g.unsqueeze(-2)
        if b.data.ndim == 1:
            g = g.unsqueeze(-1)
        ga = g @ b2.mT if na else None
        gb = a2.mT @ g if nb else None
        if ga is not None and a.data.ndim == 1:
            ga = ga.squeeze(-2)
            if ga.data.ndim > 1:
                ga = ga.sum(tuple(range(ga.data.ndim - 1)))
        if gb is not None and b.data.ndim == 1:
            gb = gb.squeeze(-1)
            if gb.data.ndim > 1:
                gb = gb.sum(tuple(range(gb.data.ndim - 1)))
        return ga, gb


def matmul(input, other):
    """Matrix product with batching (``torch.matmul``): ``x @ w``."""
    return MatMul.apply(_as_tensor(input), _as_tensor(other))
