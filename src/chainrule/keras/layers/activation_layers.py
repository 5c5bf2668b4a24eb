"""Activation layers with arguments: ``ReLU``, ``LeakyReLU``, ``ELU``, ``PReLU``, ``Softmax``.

Each wraps the activation function of :mod:`chainrule.keras.layers.activations` or the
``cr.nn.functional`` op (``F.leaky_relu``, ``F.elu``, ``F.prelu``, ``F.softmax``) with Keras 3's
arguments and defaults::

    ReLU(max_value=None, negative_slope=0.0, threshold=0.0)
        max_value for x ≥ max_value, x above threshold, negative_slope·(x − threshold) below
    LeakyReLU(negative_slope=0.3)     x for x > 0, negative_slope·x otherwise
    ELU(alpha=1.0)                    x for x > 0, α(eˣ − 1) otherwise
    PReLU(alpha_initializer="Zeros")  x for x > 0, a·x otherwise, a learnt per feature
    Softmax(axis=-1)                  eˣ / Σ eˣ along axis; masked entries get probability 0

Example::

    >>> cr.layers.LeakyReLU()(cr.tensor([[-1.0, 2.0]]))
    tensor([[-0.3000,  2.0000]])
"""
import warnings

import numpy as np

from chainrule.errors import ConfigError, ShapeError
from chainrule.keras import regularizers
from chainrule.keras.layers import activations, initializers
from chainrule.keras.layers.base import Layer
from chainrule.keras.layers.registry import serializable
from chainrule.keras.utils import check_float, normalize_axes
from chainrule.nn import functional as F
from chainrule.tensor import Tensor


class _Elementwise(Layer):
    """An activation layer: no weights, the output has the input's shape."""

    _single_input = True

    def compute_output_shape(self, input_shape):
        return input_shape


@serializable()
class ReLU(_Elementwise):
    """Rectified linear unit with Keras's optional ceiling, slope and threshold.

    Example: ``cr.layers.ReLU(max_value=6.0)`` is ReLU6.
    """

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        if max_value is not None:
            max_value = check_float(max_value, "max_value", "ReLU", low=0.0)
        self.max_value = max_value
        self.negative_slope = check_float(negative_slope, "negative_slope", "ReLU", low=0.0)
        self.threshold = check_float(threshold, "threshold", "ReLU")

    def forward(self, inputs):
        return activations.relu(inputs, negative_slope=self.negative_slope,
                                max_value=self.max_value, threshold=self.threshold)

    def get_config(self):
        return {**super().get_config(), "max_value": self.max_value,
                "negative_slope": self.negative_slope, "threshold": self.threshold}


@serializable()
class LeakyReLU(_Elementwise):
    """x for x > 0, negative_slope · x otherwise (Keras's default slope 0.3).

    Example: ``cr.layers.LeakyReLU(negative_slope=0.1)``.
    """

    def __init__(self, negative_slope=0.3, **kwargs):
        if "alpha" in kwargs:       # Keras 2's name, accepted by Keras 3 with a warning
            negative_slope = kwargs.pop("alpha")
            warnings.warn("Argument `alpha` is deprecated. Use `negative_slope` instead.",
                          stacklevel=2)
        super().__init__(**kwargs)
        self.negative_slope = check_float(negative_slope, "negative_slope", "LeakyReLU", low=0.0)

    def forward(self, inputs):
        return F.leaky_relu(inputs, negative_slope=self.negative_slope)

    def get_config(self):
        return {**super().get_config(), "negative_slope": self.negative_slope}


@serializable()
class ELU(_Elementwise):
    """Exponential linear unit: x for x > 0, α(eˣ − 1) otherwise (α = 1.0).

    Example: ``cr.layers.ELU(alpha=0.5)``.
    """

    def __init__(self, alpha=1.0, **kwargs):
        super().__init__(**kwargs)
        self.alpha = check_float(alpha, "alpha", "ELU")

    def forward(self, inputs):
        return F.elu(inputs, alpha=self.alpha)

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha}


@serializable()
class PReLU(_Elementwise):
    """Parametric ReLU: x for x > 0, a·x otherwise, with a learnt slope a per feature.

    ``alpha`` has the input's shape without the batch, except along *shared_axes* (1-based, as in
    Keras: ``shared_axes=[1, 2]`` shares one slope per channel of an image), where it has size 1.
    Computed with ``F.prelu`` (PyTorch's gradient at x = 0). Example::

        >>> layer = cr.layers.PReLU(alpha_initializer=cr.keras.initializers.Constant(0.25))
        >>> layer(cr.tensor([[-2.0, 2.0]]))
        tensor([[-0.5000,  2.0000]], grad_fn=...)
    """

    def __init__(self, alpha_initializer="Zeros", alpha_regularizer=None, alpha_constraint=None,
                 shared_axes=None, **kwargs):
        super().__init__(**kwargs)
        if alpha_constraint is not None:
            raise ConfigError("PReLU: alpha_constraint is not supported (chainrule has no weight "
                              "constraints)")
        self.alpha_initializer = initializers.get(alpha_initializer)
        self.alpha_regularizer = regularizers.get(alpha_regularizer)
        if shared_axes is not None and not isinstance(shared_axes, (list, tuple)):
            shared_axes = [shared_axes]
        self.shared_axes = None if shared_axes is None else [int(a) for a in shared_axes]

    def build(self, input_shape):
        shape = list(input_shape[1:])
        for a in self.shared_axes or ():
            if not 1 <= a <= len(shape):
                raise ShapeError(f"PReLU '{self.name}': shared axis {a} is out of range for "
                                 f"inputs of shape {tuple(input_shape)} (axes count from 1)")
            shape[a - 1] = 1
        if None in shape:
            raise ShapeError(f"PReLU '{self.name}': the non-shared axes must have known sizes. "
                             f"Received: input_shape={tuple(input_shape)}")
        self.add_weight("alpha", tuple(shape), self.alpha_initializer,
                        regularizer=self.alpha_regularizer)

    def forward(self, inputs):
        n = inputs.shape[0]
        features = tuple(inputs.shape[1:])
        alpha = self.alpha if tuple(self.alpha.shape) == features else self.alpha.expand(*features)
        size = int(np.prod(features))
        return F.prelu(inputs.reshape(n, size), alpha.reshape(size)).reshape(inputs.shape)

    def get_config(self):
        return {**super().get_config(),
                "alpha_initializer": initializers.serialize(self.alpha_initializer),
                "alpha_regularizer": regularizers.serialize(self.alpha_regularizer),
                "alpha_constraint": None, "shared_axes": self.shared_axes}


@serializable()
class Softmax(_Elementwise):
    """Softmax along *axis* (an int, or several axes normalised together).

    Called with ``mask`` (1 keep, 0 drop, broadcastable to the input), masked entries get a large
    negative logit (−1e9; −3e4 in float16) and probability 0, as Keras. Example::

        >>> cr.layers.Softmax()(cr.tensor([[1.0, 1.0, 5.0]]), mask=np.array([[1, 1, 0]]))
        tensor([[0.5000, 0.5000, 0.0000]])
    """

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        items = list(axis) if isinstance(axis, (list, tuple)) else [axis]
        if not items or any(isinstance(a, bool) or not isinstance(a, (int, np.integer))
                            for a in items):
            raise ConfigError(f"Softmax: expected an int or a list of ints for axis. Received: "
                              f"axis={axis!r}")
        self.axis = [int(a) for a in items] if isinstance(axis, (list, tuple)) else int(axis)

    def forward(self, inputs, mask=None):
        keep = None
        if mask is not None:
            keep = Tensor(np.asarray(mask._data if isinstance(mask, Tensor) else mask)
                          .astype(inputs._data.dtype))
            large = -3e4 if inputs._data.dtype == np.float16 else -1e9
            inputs = inputs + (1.0 - keep) * large
        axes = normalize_axes(self.axis, inputs.ndim, f"Softmax '{self.name}'")
        if len(axes) == 1:
            out = F.softmax(inputs, dim=axes[0])
        else:
            out = (inputs - inputs.logsumexp(tuple(axes), keepdim=True)).exp()
        return out if keep is None else out * keep

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


__all__ = ["ELU", "LeakyReLU", "PReLU", "ReLU", "Softmax"]
