"""Activation functions, as ``torch.nn.functional``: relu, leaky_relu, gelu, elu, silu, softplus, ...

Kinks follow PyTorch: relu'(0) = 0, leaky_relu'(0) = negative_slope, elu'(0) = alpha, and
softplus is exactly x above its threshold.  ``gelu`` uses the exact error function; its derivative
is an op of its own so that second derivatives are exact as well.
"""
import math

import numpy as np

from chainrule import dtypes
from chainrule.backend import namespace_of, numpy_namespace
from chainrule.errors import ArgumentTypeError, ConfigError, DTypeError, LabelError, ShapeError
from chainrule.function import Op
from chainrule.ops import elementwise as _el
from chainrule.ops import softmax as _sm
from chainrule.tensor import Tensor

_UNRESOLVED = object()
_scipy_erf = _UNRESOLVED   # SciPy's erf, looked up on first use (importing SciPy takes ~0.2 s)

# Chebyshev fits (made with numpy.polynomial.chebyshev.chebinterpolate against math.erf),
# together accurate to 1e-14 in float64:
#   |x| <= 2:     erf(x) = x · Σ aₖ Tₖ(x²/2 - 1)
#   2 < |x| < 6:  erf(x) = 1 - e^{-x²} · Σ bₖ Tₖ((|x| - 4)/2)     (the sum is erfcx = e^{x²} erfc x)
#   |x| >= 6:     erf(x) = ±1 (erfc 6 < 2.2e-17)
_ERF_SMALL = (
    0.7415552820424018, -0.30107107338659495, 0.06899483068983153, -0.013916271264722148,
    0.002420799522433424, -0.0003658639685847759, 4.862098443212878e-05, -5.749256557940896e-06,
    6.113243574135119e-07, -5.899101501727344e-08, 5.207008227370302e-09, -4.2329705018939734e-10,
    3.187927005710023e-11, -2.2351565043265964e-12, 1.4364898159868744e-13,
    -7.549516567451064e-15)
_ERFCX_MID = (
    0.1545489325441142, -0.07674006034821484, 0.018494874169701917, -0.004337233595514155,
    0.0009916839077238001, -0.00022144890703081673, 4.836760032122144e-05, -1.0346098326590805e-05,
    2.169871943182829e-06, -4.466493753855307e-07, 9.031674384044574e-08, -1.7955339470231538e-08,
    3.5120800198224926e-09, -6.763531863158532e-10, 1.2831847515655167e-10,
    -2.3996990686516254e-11, 4.42596457441061e-12, -8.053930667503443e-13, 1.445805404009803e-13,
    -2.560746258874933e-14, 4.0996964294506765e-15)


def _chebval(x, c):
    """Σ cₖ Tₖ(x) by Clenshaw's recurrence (the steps of ``numpy.polynomial.chebyshev.chebval``,
    so the sums are the same to the bit), on an array of any namespace."""
    x2 = 2 * x
    c0, c1 = c[-2], c[-1]
    for i in range(3, len(c) + 1):
        c0, c1 = c[-i] - c1, c0 + c1 * x2
    return c0 + c1 * x


def erf_chebyshev(a):
    """erf of a float array from the Chebyshev fits above (any namespace, |error| < 1e-14)."""
    xp = namespace_of(a)
    a = xp.asarray(a)
    x = a.astype(xp.float64)
    ax = xp.abs(x)
    out = xp.ones_like(x)
    small = ax <= 2
    xs = x[small]
    out[small] = xs * _chebval(xs * xs / 2 - 1, _ERF_SMALL)
    mid = ~small & (ax < 6)
    xm = ax[mid]
    out[mid] = 1 - xp.exp(-xm * xm) * _chebval((xm - 4) / 2, _ERFCX_MID)
    big = ~small
    out[big] = xp.copysign(out[big], x[big])
    out[xp.isnan(x)] = xp.nan
    return out.astype(a.dtype if a.dtype.kind == "f" else xp.float64, copy=False)


def erf_array(a):
    """The error function of a float array: SciPy's when installed (host arrays), else
    :func:`erf_chebyshev`."""
    global _scipy_erf
    if namespace_of(a) is not numpy_namespace:
        return erf_chebyshev(a)
    if _scipy_erf is _UNRESOLVED:
        try:
            from scipy.special import erf as _scipy_erf
        except ImportError:
            _scipy_erf = None
    if _scipy_erf is not None:
        return _scipy_erf(a)
    return erf_chebyshev(a)


_INV_SQRT2 = 1 / math.sqrt(2)
_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)
_K = math.sqrt(2 / math.pi)     # the tanh form: u = K (x + C x³)
_C = 0.044715


def _array(v):
    """The array behind a tensor (values handed to an op are tensors or arrays)."""
    return v._data if isinstance(v, Tensor) else v


class Gelu(Op):
    """y = x Φ(x), Φ the standard normal CDF.  x̄ = ȳ · (Φ(x) + x φ(x)), ẏ = ẋ · (Φ(x) + x φ(x))."""

    @staticmethod
    def forward(ctx, x):
        cdf = 0.5 * (1 + erf_array(x._data * _INV_SQRT2))
        ctx.save_for_backward(x, cdf)
        return x._data * cdf

    @staticmethod
    def backward(ctx, gy):
        x, cdf = ctx.saved_tensors
        return gy * ctx.call(GeluGrad, x, cdf)

    @staticmethod
    def jvp(ctx, tx):
        """ẏ = ẋ · (Φ(x) + x φ(x))."""
        return tx * ctx.call(GeluGrad, ctx.primals[0], ctx.saved_tensors[1])


class GeluGrad(Op):
    """y = Φ(x) + x φ(x), gelu's derivative (Φ(x) given by gelu), φ(x) = e^{-x²/2} / √(2π).

    x̄ = ȳ φ(x)(2 - x²).
    """

    @staticmethod
    def forward(ctx, x, cdf):
        ctx.save_for_backward(x)
        a = x._data
        return _array(cdf) + a * (ctx.xp.exp(-0.5 * a * a) * _INV_SQRT_2PI).astype(a.dtype,
                                                                                    copy=False)

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return g * (ctx.xp.exp(x * x * -0.5) * _INV_SQRT_2PI) * (2 - x * x), None

    @staticmethod
    def jvp(ctx, tx, _):
        x = ctx.primals[0]
        return tx * (ctx.xp.exp(x * x * -0.5) * _INV_SQRT_2PI) * (2 - x * x)


class GeluTanh(Op):
    """y = ½ x (1 + tanh u), u = √(2/π)(x + 0.044715 x³).  x̄ = ȳ · (½(1 + t) + ½ x (1 - t²) u′)."""

    @staticmethod
    def forward(ctx, x):
        a = x._data
        t = ctx.xp.tanh(_K * (a + _C * a * a * a))
        ctx.save_for_backward(x, t)
        return 0.5 * a * (1 + t)

    @staticmethod
    def backward(ctx, gy):
        x, t = ctx.saved_tensors
        return gy * ctx.call(GeluTanhGrad, x, t)

    @staticmethod
    def jvp(ctx, tx):
        return tx * ctx.call(GeluTanhGrad, ctx.primals[0], ctx.saved_tensors[1])


class GeluTanhGrad(Op):
    """y = ½(1 + t) + ½ x (1 - t²) u′ (tanh-gelu's derivative, t = tanh u given).

    x̄ = ȳ · (1 - t²)(u′ - x t u′² + ½ x u″), u′ = K(1 + 3C x²), u″ = 6KC x.
    """

    @staticmethod
    def forward(ctx, x, t):
        a, t = x._data, _array(t)
        ctx.save_for_backward(x)
        return 0.5 * (1 + t) + 0.5 * a * (1 - t * t) * (_K * (1 + 3 * _C * a * a))

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return GeluTanhGrad.times_slope(ctx.xp, g, x), None

    @staticmethod
    def jvp(ctx, tx, _):
        return GeluTanhGrad.times_slope(ctx.xp, tx, ctx.primals[0])

    @staticmethod
    def times_slope(xp, g, x):
        """g · (1 - t²)(u′ - x t u′² + ½ x u″), written in NumPy's names (arrays or tensors)."""
        t = xp.tanh((x + x * x * x * _C) * _K)
        du = (x * x * (3 * _C) + 1) * _K
        return g * (1 - t * t) * (du - x * t * du * du + x * x * (3 * _K * _C))


class LeakyRelu(Op):
    """y = x for x > 0, slope · x otherwise.  x̄ = ȳ · (1 or slope)  (slope at 0, as PyTorch)."""

    @staticmethod
    def forward(ctx, x, slope):
        a = x._data
        scale = ctx.xp.where(a > 0, 1, slope).astype(a.dtype, copy=False)
        ctx.save_for_backward(scale)        # a constant of the backward
        return a * scale

    @staticmethod
    def backward(ctx, gy):
        scale, = ctx.saved_tensors
        return gy * scale, None

    @staticmethod
    def jvp(ctx, tx, _):
        return tx * ctx.saved_tensors[0]


class Elu(Op):
    """y = x for x > 0, α(eˣ - 1) otherwise.  x̄ = ȳ · (1 or α eˣ)  (α at 0, as PyTorch)."""

    @staticmethod
    def forward(ctx, x, alpha):
        xp = ctx.xp
        a = x._data
        pos = a > 0
        ctx.save_for_backward(x)
        ctx.pos, ctx.alpha = pos, alpha
        return xp.where(pos, a, alpha * xp.expm1(xp.minimum(a, 0))).astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, gy):
        x, = ctx.saved_tensors
        return gy * Elu.slope(ctx, x), None

    @staticmethod
    def jvp(ctx, tx, _):
        return tx * Elu.slope(ctx, ctx.primals[0])

    @staticmethod
    def slope(ctx, x):
        """1 or α e^{x·[x<0]}: equals α eˣ where it is used (x ≤ 0), never overflows, and its
        own derivative is 0 at x = 0, PyTorch's choice for the second derivative at the kink."""
        a = _array(x)
        neg = (a < 0).astype(a.dtype)
        return ctx.xp.where(ctx.pos, 1.0, ctx.xp.exp(x * neg) * ctx.alpha)


def stable_softplus(xp, a, tail=None):
    """log(1 + eᵃ) = max(a, 0) + log(1 + e^{-|a|}): the stable softplus, finite for every finite a
    and exact where eᵃ would overflow (arrays of any namespace, or tensors under create_graph).
    *tail*: log(1 + e^{-|a|}) when the caller already has it."""
    if tail is None:
        tail = xp.log1p(xp.exp(-xp.abs(a)))
    return xp.maximum(a, 0) + tail


class Softplus(Op):
    """y = log(1 + e^{βx}) / β, or x where βx > threshold.  x̄ = ȳ · σ(βx)  (or ȳ there)."""

    @staticmethod
    def forward(ctx, x, beta, threshold):
        xp = ctx.xp
        a = x._data
        z = a * beta
        lin = z > threshold
        soft = stable_softplus(xp, z) / beta
        ctx.save_for_backward(x)
        ctx.meta = (lin, beta)
        return xp.where(lin, a, soft).astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, gy):
        x, = ctx.saved_tensors
        return gy * Softplus.slope(ctx, x), None, None

    @staticmethod
    def jvp(ctx, tx, *_):
        return tx * Softplus.slope(ctx, ctx.primals[0])

    @staticmethod
    def slope(ctx, x):
        """1 where βx > threshold, else σ(βx)."""
        lin, beta = ctx.meta
        return ctx.xp.where(lin, 1.0, ctx.call(_el.Sigmoid, x * beta))


# ---- the functional forms ---------------------------------------------------------------------
def _check_float(input, op):
    if not isinstance(input, Tensor):
        raise ArgumentTypeError(f"{op}: expected a cr.Tensor, got {type(input).__name__}")
    if input._data.dtype.kind != "f":
        raise DTypeError(f"{op}: expected a floating-point tensor, got dtype {input.dtype}")
    return input


def relu(input, inplace=False):
    """max(x, 0) elementwise (gradient 0 at 0).  *inplace* is accepted for PyTorch compatibility;
    the result is always a new tensor.

    >>> F.relu(cr.tensor([-1., 2.]))
    tensor([0., 2.])
    """
    return _el.relu(input)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    """x for x > 0, negative_slope · x otherwise."""
    return LeakyRelu.apply(_check_float(input, "leaky_relu"), float(negative_slope))


def gelu(input, approximate="none"):
    """x Φ(x) with Φ the standard normal CDF; ``approximate="tanh"`` uses
    ½x(1 + tanh(√(2/π)(x + 0.044715x³))).

    >>> F.gelu(cr.tensor([1.0]))
    tensor([0.8413])
    """
    _check_float(input, "gelu")
    if approximate == "none":
        return Gelu.apply(input)
    if approximate == "tanh":
        return GeluTanh.apply(input)
    raise ConfigError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


def sigmoid(input):
    """1 / (1 + e⁻ˣ) elementwise."""
    return _el.sigmoid(input)


def tanh(input):
    """tanh x elementwise."""
    return _el.tanh(input)


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    """e^{xᵢ} / Σⱼ e^{xⱼ} along *dim*."""
    return _sm.softmax(input, dim, dtype)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    """xᵢ - log Σⱼ e^{xⱼ} along *dim*, computed stably."""
    return _sm.log_softmax(input, dim, dtype)


def elu(input, alpha=1.0, inplace=False):
    """x for x > 0, α(eˣ - 1) otherwise."""
    return Elu.apply(_check_float(input, "elu"), float(alpha))


def silu(input, inplace=False):
    """x · σ(x) (also called swish)."""
    return input * _el.sigmoid(input)


def softplus(input, beta=1.0, threshold=20.0):
    """log(1 + e^{βx}) / β, reverting to x where βx > threshold."""
    if beta == 0:
        raise ConfigError("softplus: beta must be non-zero")
    return Softplus.apply(_check_float(input, "softplus"), float(beta), float(threshold))


def one_hot(tensor, num_classes=-1):
    """Class indices of shape (*) as int64 one-hot vectors of shape (*, num_classes).

    >>> F.one_hot(cr.tensor([0, 2]), 3)
    tensor([[1, 0, 0],
            [0, 0, 1]])
    """
    if not isinstance(tensor, Tensor):
        raise ArgumentTypeError("one_hot: expected an integer cr.Tensor, got "
                                f"{type(tensor).__name__}")
    idx = tensor._data
    if idx.dtype.kind not in "iu":
        raise DTypeError(f"one_hot: expected an integer tensor of class indices, got dtype "
                         f"{tensor.dtype}")
    if num_classes == -1:
        if idx.size == 0:
            raise ShapeError("one_hot: cannot infer the number of classes from an empty tensor; "
                             "pass num_classes")
        num_classes = int(idx.max()) + 1
    elif not isinstance(num_classes, (int, np.integer)) or num_classes < 0:
        raise ConfigError(f"one_hot: num_classes must be a non-negative int or -1, got "
                          f"{num_classes!r}")
    if idx.size and idx.min() < 0:
        raise LabelError(f"one_hot: class values must be non-negative, got {int(idx.min())}")
    if idx.size and idx.max() >= num_classes:
        raise LabelError(f"one_hot: class values must be smaller than num_classes={num_classes}, "
                         f"got {int(idx.max())}")
    xp = namespace_of(idx)
    return Tensor((idx[..., None] == xp.arange(int(num_classes))).astype(dtypes.int64))
