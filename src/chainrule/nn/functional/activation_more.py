"""More activation functions, as ``torch.nn.functional``: relu6, hardtanh, selu, celu, mish, glu, ...

The piecewise-linear ones (hardtanh, relu6, threshold, softshrink, hardshrink, hardsigmoid) are one
fused op each: the forward on arrays, and x̄ = ȳ · f'(x) with f' a constant per piece, 0 at the
breaks (PyTorch's choice: the interval of each linear piece is open).  ``hardswish`` is fused too
(its slope x/3 + ½ is differentiable again).  The rest are composed from differentiable ops:
selu and celu from ``elu``, logsigmoid and mish from the one stable softplus
(``activation.Softplus``: max(z, 0) + log(1 + e^{-|z|})), glu from a split and a sigmoid.

>>> F.relu6(cr.tensor([-1.0, 3.0, 7.0]))
tensor([0., 3., 6.])
"""
import numbers

import numpy as np

from chainrule.errors import ConfigError, ShapeError
from chainrule.function import Op
from chainrule.nn.functional.activation import Elu, Softplus, _check_float
from chainrule.ops import elementwise as _el
from chainrule.ops import shape as _sh
from chainrule.ops import softmax as _sm

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


# ---- piecewise-linear activations: one fused op each ------------------------------------------
class _PiecewiseLinear(Op):
    """y = f(x), f linear on each piece.  x̄ = ȳ · f'(x), f' constant per piece (0 at the breaks).

    Subclasses give ``pieces(xp, a, *params) -> (y, slope)`` on arrays; the slope is a constant
    of the backward (and of the JVP ẏ = f'(x) ẋ), so second derivatives are 0, as PyTorch's.
    """

    @staticmethod
    def forward(ctx, x, *params):
        y, slope = type(ctx).pieces(ctx.xp, x._data, *params)
        ctx.slope = slope.astype(x._data.dtype, copy=False)
        ctx.n_params = len(params)
        return y.astype(x._data.dtype, copy=False)

    @staticmethod
    def backward(ctx, gy):
        return (gy * ctx.slope,) + (None,) * ctx.n_params

    @staticmethod
    def jvp(ctx, tx, *_):
        return tx * ctx.slope


class Hardtanh(_PiecewiseLinear):
    """y = min(max(x, lo), hi).  x̄ = ȳ where lo < x < hi, else 0."""

    @staticmethod
    def pieces(xp, a, lo, hi):
        return xp.minimum(xp.maximum(a, lo), hi), (a > lo) & (a < hi)


class Threshold(_PiecewiseLinear):
    """y = x where x > threshold, else value.  x̄ = ȳ where x > threshold."""

    @staticmethod
    def pieces(xp, a, threshold, value):
        below = a <= threshold
        return xp.where(below, value, a), ~below


class Softshrink(_PiecewiseLinear):
    """y = x − λ for x > λ, x + λ for x < −λ, else 0.  x̄ = ȳ where |x| > λ."""

    @staticmethod
    def pieces(xp, a, lambd):
        up, down = a > lambd, a < -lambd
        return xp.where(up, a - lambd, xp.where(down, a + lambd, 0)), up | down


class Hardshrink(_PiecewiseLinear):
    """y = x where |x| > λ, else 0.  x̄ = ȳ where |x| > λ."""

    @staticmethod
    def pieces(xp, a, lambd):
        inside = (a >= -lambd) & (a <= lambd)
        return xp.where(inside, 0, a), ~inside


_SIXTH = float(np.float32(1) / np.float32(6))   # PyTorch's slope: 1/6 rounded to float32


class Hardsigmoid(_PiecewiseLinear):
    """y = min(max(x + 3, 0), 6) / 6.  x̄ = ȳ / 6 where −3 < x < 3, else 0 (1/6 rounded to
    float32 in every dtype, as PyTorch's kernel)."""

    @staticmethod
    def pieces(xp, a):
        return xp.minimum(xp.maximum(a + 3, 0), 6) / 6, ((a > -3) & (a < 3)) * _SIXTH


class Hardswish(Op):
    """y = x · min(max(x + 3, 0), 6) / 6.  x̄ = ȳ · (x/3 + ½) for −3 < x < 3, ȳ for x ≥ 3, else 0."""

    @staticmethod
    def forward(ctx, x):
        xp, a = ctx.xp, x._data
        ctx.save_for_backward(x)
        ctx.masks = ((a > -3) & (a < 3), (a >= 3).astype(a.dtype))
        return (a * xp.minimum(xp.maximum(a + 3, 0), 6) / 6).astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, gy):
        x, = ctx.saved_tensors
        mid, top = ctx.masks
        return gy * ctx.xp.where(mid, x / 3 + 0.5, top)

    @staticmethod
    def jvp(ctx, tx):
        mid, top = ctx.masks
        return tx * ctx.xp.where(mid, ctx.primals[0] / 3 + 0.5, top)


def _number(value, name, op):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ConfigError(f"{op}: {name} must be a number, got {name}={value!r}")
    return float(value)


# ---- the functional forms ---------------------------------------------------------------------
def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """min(max(x, min_val), max_val); gradient 1 strictly inside, 0 outside and at the bounds.

    >>> F.hardtanh(cr.tensor([-2.0, 0.5, 2.0]))
    tensor([-1.0000,  0.5000,  1.0000])
    """
    lo, hi = _number(min_val, "min_val", "hardtanh"), _number(max_val, "max_val", "hardtanh")
    if lo > hi:
        raise ConfigError(f"hardtanh: min_val cannot be greater than max_val, got "
                          f"min_val={min_val}, max_val={max_val}")
    return Hardtanh.apply(_check_float(input, "hardtanh"), lo, hi)


def relu6(input, inplace=False):
    """min(max(x, 0), 6) (``hardtanh(x, 0, 6)``).

    >>> F.relu6(cr.tensor([-1.0, 7.0]))
    tensor([0., 6.])
    """
    return Hardtanh.apply(_check_float(input, "relu6"), 0.0, 6.0)


def threshold(input, threshold, value, inplace=False):
    """x where x > threshold, else value.

    >>> F.threshold(cr.tensor([0.5, 2.0]), 1.0, -1.0)
    tensor([-1.,  2.])
    """
    return Threshold.apply(_check_float(input, "threshold"),
                           _number(threshold, "threshold", "threshold"),
                           _number(value, "value", "threshold"))


def softshrink(input, lambd=0.5):
    """x − λ for x > λ, x + λ for x < −λ, 0 otherwise (λ ≥ 0).

    >>> F.softshrink(cr.tensor([-2.0, 0.2, 1.0]))
    tensor([-1.5000,  0.0000,  0.5000])
    """
    lambd = _number(lambd, "lambd", "softshrink")
    if lambd < 0:
        raise ConfigError(f"softshrink: lambda must be greater or equal to 0, but found to be "
                          f"{lambd}.")
    return Softshrink.apply(_check_float(input, "softshrink"), lambd)


def hardshrink(input, lambd=0.5):
    """x where |x| > λ, 0 otherwise.

    >>> F.hardshrink(cr.tensor([-2.0, 0.2, 1.0]))
    tensor([-2.,  0.,  1.])
    """
    return Hardshrink.apply(_check_float(input, "hardshrink"), _number(lambd, "lambd", "hardshrink"))


def hardsigmoid(input, inplace=False):
    """min(max(x + 3, 0), 6) / 6, a piecewise-linear sigmoid.

    >>> F.hardsigmoid(cr.tensor([-4.0, 0.0, 4.0]))
    tensor([0.0000, 0.5000, 1.0000])
    """
    return Hardsigmoid.apply(_check_float(input, "hardsigmoid"))


def hardswish(input, inplace=False):
    """x · hardsigmoid(x) (MobileNetV3's swish).

    >>> F.hardswish(cr.tensor([-4.0, 1.0, 4.0]))
    tensor([-0.0000,  0.6667,  4.0000])
    """
    return Hardswish.apply(_check_float(input, "hardswish"))


def selu(input, inplace=False):
    """scale · elu(x, α) with Klambauer et al.'s α ≈ 1.6733 and scale ≈ 1.0507.

    >>> F.selu(cr.tensor([1.0]))
    tensor([1.0507])
    """
    return Elu.apply(_check_float(input, "selu"), SELU_ALPHA) * SELU_SCALE


def celu(input, alpha=1.0, inplace=False):
    """max(0, x) + min(0, α(e^{x/α} − 1)), i.e. α · elu(x/α, 1).

    >>> F.celu(cr.tensor([-1.0, 2.0]), alpha=1.0)
    tensor([-0.6321,  2.0000])
    """
    alpha = _number(alpha, "alpha", "celu")
    if alpha == 0:
        raise ConfigError("celu: ZeroDivisionError, alpha cannot be 0")
    _check_float(input, "celu")
    if alpha == 1.0:
        return Elu.apply(input, 1.0)
    return Elu.apply(input / alpha, 1.0) * alpha


def softsign(input):
    """x / (1 + |x|).

    >>> F.softsign(cr.tensor([1.0, -3.0]))
    tensor([ 0.5000, -0.7500])
    """
    return input / (_el.abs(_check_float(input, "softsign")) + 1)


def logsigmoid(input):
    """log σ(x) = −softplus(−x), computed stably for any x.

    >>> F.logsigmoid(cr.tensor([0.0]))
    tensor([-0.6931])
    """
    return -Softplus.apply(-_check_float(input, "logsigmoid"), 1.0, float("inf"))


def mish(input, inplace=False):
    """x · tanh(softplus(x)).

    >>> F.mish(cr.tensor([1.0]))
    tensor([0.8651])
    """
    return input * _el.tanh(Softplus.apply(_check_float(input, "mish"), 1.0, 20.0))


def tanhshrink(input):
    """x − tanh x.

    >>> F.tanhshrink(cr.tensor([1.0]))
    tensor([0.2384])
    """
    return input - _el.tanh(_check_float(input, "tanhshrink"))


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    """e^{−xᵢ} / Σⱼ e^{−xⱼ} along *dim* (softmax of −x).

    >>> F.softmin(cr.tensor([0.0, 0.0]), dim=0)
    tensor([0.5000, 0.5000])
    """
    return _sm.softmax(-input, dim, dtype)


def glu(input, dim=-1):
    """a ⊗ σ(b), where a and b are the two halves of *input* along *dim*.

    >>> F.glu(cr.tensor([[1.0, 2.0, 0.0, 0.0]])).shape
    (1, 2)
    """
    _check_float(input, "glu")
    if input.ndim == 0:
        raise ShapeError("glu does not support scalars because halving size must be even")
    d = dim + input.ndim if dim < 0 else dim
    if not 0 <= d < input.ndim:
        raise ShapeError(f"glu: dim {dim} is out of range for a tensor of {input.ndim} dimensions")
    n = input.shape[d]
    if n % 2:
        raise ShapeError(f"Halving dimension must be even, but dimension {d} is size {n}")
    a, b = _sh.split(input, n // 2, d)
    return a * _el.sigmoid(b)
