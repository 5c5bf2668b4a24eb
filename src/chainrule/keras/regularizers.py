"""Weight regularizers, as ``keras.regularizers``: penalties a layer adds to the training loss.

Keras's formulas (no factor 1/2 on L2)::

    L1(l1)        l1 · Σ|w|
    L2(l2)        l2 · Σ w²
    L1L2(l1, l2)  l1 · Σ|w| + l2 · Σ w²

A layer given ``kernel_regularizer=L2(0.01)`` lists the penalty of its current kernel in
``layer.losses`` (recomputed at every access, so it follows the weights as they train), and
``model.losses`` collects those of all its layers; ``fit`` adds their sum to the loss. The penalty
is a scalar tensor built from differentiable ops, so its gradient reaches the weight.

Example::

    >>> dense = cr.layers.Dense(4, kernel_regularizer=cr.regularizers.L2(0.01))
    >>> _ = dense(cr.ones(2, 3))
    >>> bool(np.isclose(dense.losses[0].item(), 0.01 * (dense.get_weights()[0] ** 2).sum()))
    True
"""
import math

from chainrule.errors import ArgumentTypeError, ConfigError
from chainrule.keras.registry import REGULARIZERS, uninterpretable
from chainrule.tensor import Tensor


def _factor(value, name, where):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or value < 0:
        raise ConfigError(f"{where}: expected a non-negative float for {name}. "
                          f"Received: {name}={value!r}")
    return float(value)


class Regularizer:
    """Base class: ``reg(weight)`` returns a scalar penalty tensor; ``get_config`` rebuilds it.

    Subclass and define ``__call__(self, x)`` for a custom penalty. Example::

        >>> cr.regularizers.L1(0.1)(cr.tensor([1.0, -2.0])).item()
        0.30000001192092896
    """

    def __call__(self, x):
        raise NotImplementedError(f"{type(self).__name__} must define __call__(self, x)")

    def get_config(self):
        """The keyword arguments that rebuild this regularizer."""
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def _check_tensor(x, where):
    if not isinstance(x, Tensor):
        raise ArgumentTypeError(f"{where}: expected a cr.Tensor weight. Received: "
                                f"{type(x).__name__}")


class L1(Regularizer):
    """Penalty ``l1 · Σ|w|`` (Keras default l1=0.01).

    Example: ``cr.layers.Dense(8, kernel_regularizer=cr.regularizers.L1(1e-4))``.
    """

    def __init__(self, l1=0.01):
        self.l1 = _factor(l1, "l1", "L1")

    def __call__(self, x):
        _check_tensor(x, "L1")
        return x.abs().sum() * self.l1

    def get_config(self):
        return {"l1": self.l1}


class L2(Regularizer):
    """Penalty ``l2 · Σ w²`` (Keras default l2=0.01; no factor 1/2).

    Example: ``cr.layers.Dense(8, kernel_regularizer=cr.regularizers.L2(1e-4))``.
    """

    def __init__(self, l2=0.01):
        self.l2 = _factor(l2, "l2", "L2")

    def __call__(self, x):
        _check_tensor(x, "L2")
        return (x * x).sum() * self.l2

    def get_config(self):
        return {"l2": self.l2}


class L1L2(Regularizer):
    """Penalty ``l1 · Σ|w| + l2 · Σ w²`` (Keras defaults l1=0.0, l2=0.0).

    Example: ``cr.regularizers.L1L2(l1=1e-5, l2=1e-4)``.
    """

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = _factor(l1, "l1", "L1L2")
        self.l2 = _factor(l2, "l2", "L1L2")

    def __call__(self, x):
        _check_tensor(x, "L1L2")
        penalty = x.abs().sum() * self.l1
        return penalty + (x * x).sum() * self.l2

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


def l1(l1=0.01):
    """``L1(l1)``, the lower-case alias Keras keeps. Example: ``cr.regularizers.l1(0.001)``."""
    return L1(l1)


def l2(l2=0.01):
    """``L2(l2)``, the lower-case alias Keras keeps. Example: ``cr.regularizers.l2(0.001)``."""
    return L2(l2)


def l1_l2(l1=0.01, l2=0.01):
    """``L1L2(l1, l2)`` with Keras's defaults for this alias (0.01 each). Example: ``l1_l2()``."""
    return L1L2(l1, l2)


for _cls in (L1, L2, L1L2):
    REGULARIZERS.add(_cls)
REGULARIZERS.add(l1, "l1")
REGULARIZERS.add(l2, "l2")
REGULARIZERS.add(l1_l2, "l1_l2")


def serialize(regularizer):
    """``{"class_name": ..., "config": {...}}`` for a built-in regularizer (``None`` for None)."""
    if regularizer is None:
        return None
    return REGULARIZERS.serialize(regularizer)


def get(identifier):
    """A regularizer from ``None``, a name (``"l2"``), a config dict, an instance or a callable.

    Example: ``cr.regularizers.get("l2")`` → ``L2(l2=0.01)``.
    """
    if identifier is None or isinstance(identifier, Regularizer):
        return identifier
    if isinstance(identifier, str):
        return REGULARIZERS.lookup(identifier)()
    if isinstance(identifier, dict):
        return REGULARIZERS.deserialize(identifier)
    if callable(identifier):
        return identifier
    raise uninterpretable("regularizer", identifier, "a name such as 'l2', a config dict, a "
                          "Regularizer or a callable")


__all__ = ["Regularizer", "L1", "L2", "L1L2", "l1", "l2", "l1_l2", "get", "serialize"]
