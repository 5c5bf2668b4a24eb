"""Arithmetic: + - * / ** @ and negation.

Each binary op broadcasts its operands; its backward returns gradients of the broadcast shape and
the engine sums them back to each operand's shape (``engine.unbroadcast``).  An operand may be a
Python number, which gets no gradient.
"""
from chainrule.backend import namespace_of
from chainrule.errors import ShapeError
from chainrule.function import Op
from chainrule.ops._util import promote, tangent_sum
from chainrule.tensor import Tensor


def _operand(x, other):
    """*other* as an array or Python number ready to combine with tensor *x* (PyTorch promotion:
    an int tensor combined with a Python float gives the default float dtype)."""
    if isinstance(other, Tensor):
        return other
    if isinstance(other, float) and x._data.dtype.kind in "biu":
        return other  # the op promotes below
    if isinstance(other, (int, float, bool)):
        return other
    return Tensor(other)


def _arr(v):
    """The array behind a tensor (masks built from a saved operand's array are constants)."""
    return v._data if isinstance(v, Tensor) else v


def _shape_error(op, a, b):
    sa = a.shape if isinstance(a, Tensor) else "a scalar"
    sb = b.shape if isinstance(b, Tensor) else "a scalar"
    return ShapeError(f"{op}: shapes {sa} and {sb} do not broadcast (trailing dimensions must be "
                      f"equal or 1)")


def _binary(xp, op, fn, a, b, quiet=False):
    """``fn(a, b)`` on the arrays of namespace *xp* with PyTorch's dtype and errors naming *op*;
    *quiet* silences NumPy's warnings for division by zero and the like (PyTorch gives inf and nan
    silently)."""
    try:
        if quiet:
            with xp.errstate(divide="ignore", invalid="ignore", over="ignore"):
                y = fn(_arr(a), _arr(b))
        else:
            y = fn(_arr(a), _arr(b))
    except ValueError as e:
        if "broadcast" in str(e):
            raise _shape_error(op, a, b) from None
        raise ShapeError(f"{op}: {e}") from None
    return promote(xp.asarray(y), a, b)


def _keep(ctx, a, b, keep_a, keep_b):
    """Save what the wanted gradients need (as PyTorch): tensors for backward, and the Python
    numbers among the operands as constants."""
    ta, tb = isinstance(a, Tensor), isinstance(b, Tensor)
    ctx.save_for_backward(a if keep_a and ta else None, b if keep_b and tb else None)
    ctx.consts = (None if ta else a, None if tb else b)


def _operands(ctx):
    """The saved operands (arrays in a first-order backward, tensors with create_graph), with the
    Python numbers among them put back in their place."""
    a, b = ctx.saved_tensors[:2]
    ca, cb = ctx.consts
    return (ca if a is None else a), (cb if b is None else b)


class Add(Op):
    """y = a + b.  Jacobians are identities: ā = ȳ, b̄ = ȳ."""

    @staticmethod
    def forward(ctx, a, b):
        xp = ctx.xp
        return _binary(xp, "add", xp.add, a, b)

    @staticmethod
    def backward(ctx, gy):
        return gy, gy

    @staticmethod
    def jvp(ctx, ta, tb):
        return tangent_sum(ta, tb)


class Sub(Op):
    """y = a - b.  ā = ȳ, b̄ = -ȳ."""

    @staticmethod
    def forward(ctx, a, b):
        xp = ctx.xp
        return _binary(xp, "sub", xp.subtract, a, b)

    @staticmethod
    def backward(ctx, gy):
        return gy, (ctx.xp.negative(gy) if ctx.needs_input_grad[1] else None)

    @staticmethod
    def jvp(ctx, ta, tb):
        return tangent_sum(ta, None if tb is None else ctx.xp.negative(tb))


class Mul(Op):
    """y = a · b (elementwise).  ā = ȳ · b, b̄ = ȳ · a."""

    @staticmethod
    def forward(ctx, a, b):
        na, nb = ctx.needs_input_grad   # keep only what the wanted gradients need, as PyTorch
        _keep(ctx, a, b, nb, na)
        xp = ctx.xp
        return _binary(xp, "mul", xp.multiply, a, b)

    @staticmethod
    def backward(ctx, gy):
        a, b = _operands(ctx)
        na, nb = ctx.needs_input_grad
        return (gy * b if na else None), (gy * a if nb else None)

    @staticmethod
    def jvp(ctx, ta, tb):
        a, b = ctx.primals
        return tangent_sum(None if ta is None else ta * b, None if tb is None else a * tb)


class Div(Op):
    """y = a / b.  ā = ȳ / b, b̄ = -ȳ · a / b²."""

    @staticmethod
    def forward(ctx, a, b):
        _keep(ctx, a, b, ctx.needs_input_grad[1], True)
        xp = ctx.xp
        return _binary(xp, "div", xp.true_divide, a, b, quiet=True)

    @staticmethod
    def backward(ctx, gy):
        a, b = _operands(ctx)
        na, nb = ctx.needs_input_grad
        with ctx.xp.errstate(divide="ignore", invalid="ignore", over="ignore"):
            ga = gy / b if na else None
            gb = ctx.xp.negative(gy) * a / (b * b) if nb else None
        return ga, gb

    @staticmethod
    def jvp(ctx, ta, tb):
        """ẏ = (ȧ - ḃ · y) / b."""
        a, b = ctx.primals
        with ctx.xp.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return tangent_sum(ta, None if tb is None else ctx.xp.negative(tb * ctx.outputs[0])) / b


class Neg(Op):
    """y = -x.  x̄ = -ȳ."""

    @staticmethod
    def forward(ctx, x):
        return ctx.xp.negative(x._data)

    @staticmethod
    def backward(ctx, gy):
        return ctx.xp.negative(gy)

    @staticmethod
    def jvp(ctx, tx):
        return ctx.xp.negative(tx)


class Pow(Op):
    """y = a ** b.  ā = ȳ · b · a^(b-1)  (0 where b = 0);  b̄ = ȳ · y · ln a  (0 where a = 0 and
    b ≥ 0).

    PyTorch's conventions, exactly: at a = 0 and b < 0, y = inf and b̄ = ȳ · inf · ln 0 = -inf
    (so ``cr.pow(0., x)`` at x < 0 has gradient -inf); a negative base gives b̄ = nan.
    """

    @staticmethod
    def forward(ctx, a, b):
        xp = ctx.xp
        y = _binary(xp, "pow", xp.power, a, b, quiet=True)
        ta, tb = isinstance(a, Tensor), isinstance(b, Tensor)
        ctx.save_for_backward(a if ta else None, b if tb else None,
                              y if ctx.needs_input_grad[1] else None)   # y: the array returned
        ctx.consts = (None if ta else a, None if tb else b)
        return y

    @staticmethod
    def backward(ctx, gy):
        a, b = _operands(ctx)
        na, nb = ctx.needs_input_grad
        xp = ctx.xp
        ga = gb = None
        with xp.errstate(divide="ignore", invalid="ignore", over="ignore"):
            if na:
                ga = _pow_grad_base(xp, gy, a, b)
            if nb:
                gb = _pow_grad_exponent(xp, gy, a, b, ctx.saved_tensors[2])
        return ga, gb

    @staticmethod
    def jvp(ctx, ta, tb):
        """ẏ = ȧ · b · a^(b-1) + ḃ · y · ln a, with the VJP's conventions."""
        a, b = ctx.primals
        xp = ctx.xp
        with xp.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return tangent_sum(None if ta is None else _pow_grad_base(xp, ta, a, b),
                               None if tb is None else
                               _pow_grad_exponent(xp, tb, a, b, ctx.outputs[0]))


def _pow_grad_base(xp, gy, a, b):
    """ā = ȳ · b · a^(b-1), and 0 (even at a = 0, where a^(b-1) may be inf) wherever b = 0."""
    if isinstance(b, (int, float)):
        if b == 0:
            return xp.zeros_like(gy)
        if b == 2:
            return gy * (a * 2.0)
        return gy * (b * a ** (b - 1))
    return xp.where(_arr(b) == 0, 0.0, gy * (b * a ** (b - 1)))


def _pow_grad_exponent(xp, gy, a, b, y):
    """b̄ = ȳ · where(a = 0 and b ≥ 0, 0, y · ln a), as PyTorch.

    ln a is taken of a with 1 put where the gradient is 0 by convention, so that a second
    derivative through the unused branch is 0 rather than 0 · inf = nan.
    """
    ad, bd = _arr(a), _arr(b)
    if not isinstance(a, Tensor) and isinstance(a, (int, float)):
        ad = namespace_of(bd).zeros_like(bd) + a     # a Python base, as a constant array
        a = ad
    conv = (ad == 0) & (bd >= 0)
    return gy * xp.where(conv, 0.0, y * xp.log(xp.where(conv, 1.0, a)))


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


class MatMul(Op):
    """y = a @ b, with NumPy's batching and 1-D promotion.

    For matrices: ā = ȳ · bᵀ and b̄ = aᵀ · ȳ; batch dimensions broadcast and are summed back by
    the engine; 1-D operands are treated as a row (a) or column (b) vector and squeezed back.
    """

    @staticmethod
    def forward(ctx, a, b):
        if a._data.ndim == 0 or b._data.ndim == 0:
            raise ShapeError(f"matmul: both arguments need at least 1 dimension, got shapes "
                             f"{a.shape} and {b.shape}")
        ka = a._data.shape[-1]
        kb = b._data.shape[-2] if b._data.ndim > 1 else b._data.shape[0]
        if ka != kb:
            raise ShapeError(f"matmul: shapes {a.shape} and {b.shape} cannot be multiplied "
                             f"({ka} != {kb}: the last dimension of the first must equal the "
                             f"{'first' if b._data.ndim == 1 else 'second-to-last'} of the second)")
        ctx.save_for_backward(a, b)
        try:
            return ctx.xp.matmul(a._data, b._data)
        except ValueError:
            raise ShapeError(f"matmul: the batch dimensions of shapes {a.shape} and {b.shape} do "
                             f"not broadcast") from None

    @staticmethod
    def backward(ctx, gy):
        a, b = ctx.saved_tensors
        na, nb = ctx.needs_input_grad
        if a.ndim == 2 and b.ndim == 2:          # the common case (Linear): plain transposes
            return (gy @ b.T if na else None), (a.T @ gy if nb else None)
        xp = ctx.xp
        a1, b1 = a.ndim == 1, b.ndim == 1
        a2 = xp.expand_dims(a, 0) if a1 else a
        b2 = xp.expand_dims(b, -1) if b1 else b
        g = xp.expand_dims(gy, -1) if b1 else gy
        if a1:
            g = xp.expand_dims(g, -2)
        ga = g @ xp.swapaxes(b2, -1, -2) if na else None
        gb = xp.swapaxes(a2, -1, -2) @ g if nb else None
        if ga is not None and a1:
            ga = xp.squeeze(ga, -2)     # batch dimensions are summed away by engine.unbroadcast
        if gb is not None and b1:
            gb = xp.squeeze(gb, -1)
        return ga, gb

    @staticmethod
    def jvp(ctx, ta, tb):
        """ẏ = ȧ @ b + a @ ḃ."""
        a, b = ctx.primals
        return tangent_sum(None if ta is None else ta @ b, None if tb is None else a @ tb)


def matmul(input, other):
    """Matrix product with batching (``torch.matmul``): ``x @ w``."""
    return MatMul.apply(_as_tensor(input), _as_tensor(other))
