"""Activation functions by name, as ``keras.activations``: ``get("relu")`` → a function on tensors.

Names and formulas (Keras 3's defaults; each is differentiable and works on any float tensor)::

    linear / None  x                     relu        max(x, 0)  (gradient 0 at 0, as PyTorch)
    sigmoid        1 / (1 + e⁻ˣ)         tanh        tanh x
    softmax        eˣⁱ / Σ eˣʲ (last axis)           log_softmax  x - logsumexp(x) (last axis)
    gelu           x Φ(x) (exact erf)    elu         x if x > 0 else eˣ - 1
    selu           1.0507 · elu(x, 1.6733)           softplus    log(1 + eˣ)
    softsign       x / (1 + |x|)         leaky_relu  x if x > 0 else 0.2 x
    silu / swish   x σ(x)                exponential eˣ
    relu6          min(max(x, 0), 6)     hard_sigmoid relu6(x + 3) / 6
    mish           x tanh(softplus(x))

An unknown name raises ``ValueError`` with the closest known name. Example::

    >>> act = get("relu")
    >>> act(cr.tensor([-1.0, 2.0]))
    tensor([0., 2.])
"""

from chainrule.errors import ConfigError
from chainrule.keras.registry import ACTIVATIONS as _REGISTRY
from chainrule.keras.registry import uninterpretable
from chainrule.nn import functional as F
from chainrule.ops import elementwise as _el
from chainrule.ops.compare import logical_and

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def linear(x):
    """The identity, ``x``. Example: ``linear(t) is t``."""
    return x


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """max(x, 0), or Keras's general form: x clipped to *max_value* above *threshold*, and
    *negative_slope* · (x − threshold) below it.

    f(x) = max_value for x ≥ max_value; x for threshold < x < max_value; negative_slope ·
    (x − threshold) otherwise (at x = threshold the value is 0, as Keras). Example:
    ``relu(cr.tensor([-1., 2.]))`` → ``tensor([0., 2.])``.
    """
    if negative_slope == 0.0 and max_value is None and threshold == 0.0:
        return F.relu(x)
    if negative_slope != 0.0 and max_value is None and threshold == 0.0:
        return F.leaky_relu(x, negative_slope=negative_slope)
    shifted = x - threshold if threshold != 0.0 else x
    if threshold != 0.0:
        y = x * (x > threshold).to(x.dtype)
    else:
        y = F.relu(x)
    if max_value is not None:
        y = y.clamp(0.0, float(max_value))
    if negative_slope != 0.0:
        y = y - negative_slope * F.relu(-shifted)
    return y


def sigmoid(x):
    """1 / (1 + e⁻ˣ). Example: ``sigmoid(cr.tensor([0.]))`` → ``tensor([0.5])``."""
    return F.sigmoid(x)


def tanh(x):
    """tanh x. Example: ``tanh(cr.tensor([0.]))`` → ``tensor([0.])``."""
    return F.tanh(x)


def softmax(x, axis=-1):
    """eˣⁱ / Σⱼ eˣʲ along *axis* (the last by default). Example: ``softmax(cr.zeros(1, 2))``."""
    return F.softmax(x, dim=axis)


def log_softmax(x, axis=-1):
    """xᵢ - log Σⱼ eˣʲ along *axis*. Example: ``log_softmax(cr.zeros(1, 2))``."""
    return F.log_softmax(x, dim=axis)


def gelu(x, approximate=False):
    """x Φ(x), Φ the standard normal CDF (Keras default: exact). Example: ``gelu(cr.ones(1))``."""
    return F.gelu(x, approximate="tanh" if approximate else "none")


def elu(x, alpha=1.0):
    """x for x > 0, α(eˣ - 1) otherwise. Example: ``elu(cr.tensor([-1.]))``."""
    return F.elu(x, alpha=alpha)


def selu(x):
    """scale · elu(x, α), α ≈ 1.6733, scale ≈ 1.0507 (self-normalising). Example: ``selu(t)``."""
    return F.elu(x, alpha=_SELU_ALPHA) * _SELU_SCALE


def softplus(x):
    """log(1 + eˣ), computed stably. Example: ``softplus(cr.zeros(1))`` → ``tensor([0.6931])``."""
    return F.softplus(x)


def softsign(x):
    """x / (1 + |x|). Example: ``softsign(cr.tensor([1.]))`` → ``tensor([0.5])``."""
    return x / (x.abs() + 1.0)


def leaky_relu(x, negative_slope=0.2):
    """x for x > 0, negative_slope · x otherwise (Keras's default slope 0.2). Example: ``leaky_relu(t)``."""
    return F.leaky_relu(x, negative_slope=negative_slope)


def silu(x):
    """x · σ(x), also called swish. Example: ``silu(cr.zeros(1))`` → ``tensor([0.])``."""
    return F.silu(x)


def exponential(x):
    """eˣ. Example: ``exponential(cr.zeros(1))`` → ``tensor([1.])``."""
    return _el.exp(x)


def relu6(x):
    """min(max(x, 0), 6). Example: ``relu6(cr.tensor([7.]))`` → ``tensor([6.])``.

    The gradient is 1 strictly between 0 and 6 and 0 at both kinks, as TensorFlow's Relu6 and
    PyTorch's ``relu6`` (hardtanh) define it.
    """
    inside = logical_and(x > 0.0, x < 6.0)
    return _el.where(inside, x, _el.where(x >= 6.0, 6.0, 0.0).to(x.dtype))


def hard_sigmoid(x):
    """relu6(x + 3) / 6, a piecewise-linear sigmoid. Example: ``hard_sigmoid(cr.zeros(1))``."""
    return relu6(x + 3.0) / 6.0


def mish(x):
    """x · tanh(softplus(x)). Example: ``mish(cr.zeros(1))`` → ``tensor([0.])``."""
    return x * F.tanh(F.softplus(x))


ACTIVATIONS = {
    "linear": linear, "relu": relu, "sigmoid": sigmoid, "tanh": tanh, "softmax": softmax,
    "log_softmax": log_softmax, "gelu": gelu, "elu": elu, "selu": selu, "softplus": softplus,
    "softsign": softsign, "leaky_relu": leaky_relu, "silu": silu, "swish": silu,
    "exponential": exponential, "relu6": relu6, "hard_sigmoid": hard_sigmoid, "mish": mish,
}
for _name, _fn in ACTIVATIONS.items():
    _REGISTRY.add(_fn, _name)


def get(identifier):
    """The activation function for a name, ``None`` (linear) or a callable (returned as is).

    Example: ``get("relu")(x)``; ``get("rleu")`` raises "Unknown activation: 'rleu'. Did you mean 'relu'?".
    """
    if identifier is None:
        return linear
    if isinstance(identifier, str):
        return _REGISTRY.lookup(identifier)
    if callable(identifier):
        return identifier
    raise uninterpretable("activation function", identifier, "a name such as 'relu', None or a "
                          "callable")


def serialize(activation):
    """The name of a built-in activation (for configs); ``ConfigError`` for other callables.

    Example: ``serialize(get("swish"))`` → ``"silu"``.
    """
    name = _REGISTRY.name_of(activation)
    if name is None:
        raise ConfigError(f"cannot serialize activation {activation!r}: only the built-in "
                          f"activations ({', '.join(_REGISTRY.names())}) can be saved by name")
    return name
