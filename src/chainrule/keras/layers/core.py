"""Core layers: ``Dense``, ``Activation``, ``Dropout``, ``Flatten``, ``Reshape``, ``Identity``,
``Lambda``.

Each is an ``nn.Module`` computed with ``chainrule.nn.functional`` (``Dense`` is ``F.linear`` on a
kernel stored the Keras way, shape ``(in, units)``), with Keras 3's arguments and defaults.

Example::

    >>> dense = cr.layers.Dense(16, activation="relu")
    >>> dense(cr.ones(8, 29)).shape
    (8, 16)
    >>> [w.shape for w in dense.get_weights()]
    [(29, 16), (16,)]
"""
import math

import numpy as np

from chainrule.errors import ConfigError, ShapeError
from chainrule.keras import regularizers
from chainrule.keras.layers import activations, initializers
from chainrule.keras.layers.base import Layer
from chainrule.keras.utils import normalize_shape, positive_int
from chainrule.keras.layers.registry import serializable
from chainrule.keras.symbolic import shape_repr
from chainrule.nn import functional as F
from chainrule.random import Generator
from chainrule.tensor import Tensor


def _incompatible(layer, axis, expected, shape):
    return ShapeError(f"Input 0 of layer \"{layer.name}\" is incompatible with the layer: expected "
                      f"axis {axis} of input shape to have value {expected}, but received input "
                      f"with shape {shape_repr(tuple(shape))}")


@serializable()
class Dense(Layer):
    """A fully connected layer: ``activation(x @ kernel + bias)``.

    The kernel has shape ``(in, units)`` (Keras's layout) and is initialised glorot_uniform, the
    bias zeros; inputs of rank > 2 are transformed along their last axis. ``kernel_regularizer``
    and ``bias_regularizer`` add their penalties to ``losses``. Example::

        >>> layer = cr.layers.Dense(1, activation="sigmoid")
        >>> layer(cr.ones(4, 16)).shape
        (4, 1)
    """

    _single_input = True

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 **kwargs):
        super().__init__(**kwargs)
        self.units = positive_int(units, "units", "Dense")
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)

    def build(self, input_shape):
        if not isinstance(input_shape, tuple) or len(input_shape) < 1:
            raise ShapeError(f"Dense '{self.name}': expected a single input of rank >= 1. "
                             f"Received: input_shape={input_shape!r}")
        n_in = input_shape[-1]
        if n_in is None:
            raise ShapeError(f"Dense '{self.name}': the last dimension of the inputs must be "
                             "known. "
                             f"Received: input_shape={shape_repr(input_shape)}")
        self.add_weight("kernel", (n_in, self.units), self.kernel_initializer,
                        regularizer=self.kernel_regularizer)
        if self.use_bias:
            self.add_weight("bias", (self.units,), self.bias_initializer,
                            regularizer=self.bias_regularizer)

    def forward(self, inputs):
        if inputs.ndim == 0 or inputs.shape[-1] != self.kernel.shape[0]:
            raise _incompatible(self, -1, self.kernel.shape[0], inputs.shape)
        y = F.linear(inputs, self.kernel.T, self.bias if self.use_bias else None)
        return self.activation(y)

    def compute_output_shape(self, input_shape):
        if input_shape[-1] is not None and input_shape[-1] != self.kernel.shape[0]:
            raise _incompatible(self, -1, self.kernel.shape[0], input_shape)
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        return {**super().get_config(), "units": self.units,
                "activation": activations.serialize(self.activation), "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
                "bias_regularizer": regularizers.serialize(self.bias_regularizer)}


@serializable()
class Activation(Layer):
    """Applies an activation function by name or callable: ``Activation("relu")``.

    Example: ``cr.layers.Activation("tanh")(cr.zeros(2, 3))`` is all zeros.
    """

    _single_input = True

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)

    def forward(self, inputs):
        return self.activation(inputs)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "activation": activations.serialize(self.activation)}


@serializable()
class Dropout(Layer):
    """Inverted dropout: in training, zero each input with probability *rate* and scale the rest
    by 1/(1 - rate); the identity in evaluation.

    *noise_shape* (entries ``None`` take the input's size) shares one mask along axes of size 1;
    *seed* gives the layer its own random stream. Example::

        >>> drop = cr.layers.Dropout(0.5, seed=0)
        >>> drop(cr.ones(2, 4), training=False).sum().item()
        8.0
    """

    _single_input = True

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
            raise ConfigError(f"Invalid value received for argument `rate`. Expected a float value "
                              f"between 0 and 1. Received: rate={rate!r}")
        self.rate = float(rate)
        self.noise_shape = None if noise_shape is None else \
            normalize_shape(noise_shape, "Dropout", "noise_shape")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
            raise ConfigError(f"Dropout: expected an int or None for seed. Received: seed={seed!r}")
        self.seed = None if seed is None else int(seed)
        self._generator = None if seed is None else Generator().manual_seed(self.seed)

    def forward(self, inputs, training=None):
        training = self.training if training is None else bool(training)
        if not training or self.rate == 0:
            return inputs
        if self.noise_shape is None:
            return F.dropout(inputs, p=self.rate, training=True, generator=self._generator)
        if len(self.noise_shape) != inputs.ndim:
            raise ShapeError(f"Dropout '{self.name}': noise_shape {self.noise_shape} does not "
                             "match "
                             f"the input rank {inputs.ndim}")
        shape = tuple(n if s is None else s for s, n in zip(self.noise_shape, inputs.shape))
        ones = Tensor(np.ones(shape, dtype=inputs.dtype))
        mask = F.dropout(ones, p=self.rate, training=True, generator=self._generator)
        return inputs * mask

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "rate": self.rate,
                "noise_shape": None if self.noise_shape is None else list(self.noise_shape),
                "seed": self.seed}


@serializable()
class Flatten(Layer):
    """Flattens all axes but the batch: ``(N, d1, d2, ...)`` → ``(N, d1·d2·...)``.

    Example: ``cr.layers.Flatten()(cr.zeros(2, 3, 4)).shape`` → ``(2, 12)``.
    """

    _single_input = True

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        if data_format not in (None, "channels_last", "channels_first"):
            raise ConfigError(f"Flatten: expected data_format 'channels_last' or 'channels_first'. "
                              f"Received: data_format={data_format!r}")
        self.data_format = data_format

    def forward(self, inputs):
        if inputs.ndim == 0:
            raise ShapeError(f"Flatten '{self.name}': expected an input with a batch axis, "
                             f"received a scalar")
        if self.data_format == "channels_first" and inputs.ndim > 2:
            inputs = inputs.permute(0, *range(2, inputs.ndim), 1)
        return inputs.reshape(inputs.shape[0], -1)

    def compute_output_shape(self, input_shape):
        rest = input_shape[1:]
        size = None if None in rest else math.prod(rest)
        return (input_shape[0], size)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}


@serializable()
class Reshape(Layer):
    """Reshapes each sample to *target_shape* (one entry may be -1). Example::

        >>> cr.layers.Reshape((3, 2))(cr.zeros(4, 6)).shape
        (4, 3, 2)
    """

    _single_input = True

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(target_shape, (tuple, list)) or \
                any(isinstance(d, bool) or not isinstance(d, (int, np.integer)) or (d <= 0 and d != -1)
                    for d in target_shape) or sum(d == -1 for d in target_shape) > 1:
            raise ConfigError(f"Reshape: expected a tuple of positive ints (at most one -1) for "
                              f"target_shape. Received: target_shape={target_shape!r}")
        self.target_shape = tuple(int(d) for d in target_shape)

    def forward(self, inputs):
        return inputs.reshape((inputs.shape[0],) + self.target_shape)

    def compute_output_shape(self, input_shape):
        rest = input_shape[1:]
        target = list(self.target_shape)
        if -1 in target:
            known = math.prod(d for d in target if d != -1)
            if None in rest:
                target[target.index(-1)] = None
            else:
                total = math.prod(rest)
                if total % known:
                    raise ShapeError(f"Reshape '{self.name}': cannot reshape "
                                     f"{shape_repr(input_shape)}"
                                     f" to {shape_repr(self.target_shape)}")
                target[target.index(-1)] = total // known
        elif None not in rest and math.prod(rest) != math.prod(target):
            raise ShapeError(f"Reshape '{self.name}': total size of the new array must be "
                             f"unchanged; cannot reshape {shape_repr(input_shape)} to "
                             f"{shape_repr(self.target_shape)}")
        return (input_shape[0],) + tuple(target)

    def get_config(self):
        return {**super().get_config(), "target_shape": list(self.target_shape)}


@serializable()
class Identity(Layer):
    """Returns its input unchanged (a placeholder). Example: ``Identity()(x) is x``."""

    _single_input = True

    def forward(self, inputs):
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape


@serializable()
class Lambda(Layer):
    """Wraps a function of tensors as a layer: ``Lambda(lambda x: x ** 2)``.

    *function* is called as ``function(inputs, **arguments)`` on a tensor (or a list of them);
    *output_shape* (without the batch) is optional, the shape is otherwise found by running the
    function once. A model with a Lambda saves the function by name only: code is never stored
    in or run from a file, so loading needs ``load_model(path, custom_objects={name: function})``
    (Keras's ``safe_mode``). Example::

        >>> cr.layers.Lambda(lambda x: x * 2.0)(cr.ones(2, 3)).sum().item()
        12.0
    """

    def __init__(self, function, output_shape=None, mask=None, arguments=None, **kwargs):
        super().__init__(**kwargs)
        if not callable(function):
            raise ConfigError(f"Lambda: expected a callable for function. Received: "
                              f"function={function!r}")
        if mask is not None:
            raise ConfigError("Lambda: mask is not supported (chainrule layers carry no masks)")
        if arguments is not None and not isinstance(arguments, dict):
            raise ConfigError(f"Lambda: expected a dict for arguments. Received: "
                              f"arguments={arguments!r}")
        self.function, self.arguments = function, dict(arguments or {})
        self.output_shape = None if output_shape is None else \
            normalize_shape(output_shape, "Lambda", "output_shape")

    def forward(self, inputs):
        return self.function(inputs, **self.arguments)

    def compute_output_shape(self, input_shape):
        if self.output_shape is None:
            return super().compute_output_shape(input_shape)
        batch = (input_shape[0] if isinstance(input_shape, tuple) else input_shape[0][0])
        return (batch,) + self.output_shape

    def get_config(self):
        return {**super().get_config(), "function": getattr(self.function, "__name__", "function"),
                "output_shape": None if self.output_shape is None else list(self.output_shape),
                "arguments": self.arguments}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        name = config.get("function")
        function = (custom_objects or {}).get(name) if isinstance(name, str) else None
        if not callable(function):
            raise ConfigError(f"Lambda layer '{config.get('name')}' calls the function {name!r}, "
                              f"whose code a saved model does not hold; pass it to load_model("
                              f"path, custom_objects={{{name!r}: function}})")
        config["function"] = function
        return cls(**config)
