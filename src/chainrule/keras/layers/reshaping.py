"""Reshaping layers: ``Permute`` (reorder the axes of each sample) and ``RepeatVector``.

Example::

    >>> cr.layers.Permute((2, 1))(cr.zeros(4, 10, 64)).shape
    (4, 64, 10)
    >>> cr.layers.RepeatVector(3)(cr.zeros(4, 32)).shape
    (4, 3, 32)
"""
import numpy as np

from chainrule.errors import ConfigError, ShapeError
from chainrule.keras.layers.base import Layer
from chainrule.keras.layers.registry import serializable
from chainrule.keras.symbolic import shape_repr
from chainrule.keras.utils import positive_int


@serializable()
class Permute(Layer):
    """Reorders the axes of each sample: *dims* is a permutation of 1 … k (the batch axis stays).

    Example: ``Permute((2, 1))`` swaps the two axes of ``(batch, steps, features)`` inputs.
    """

    _single_input = True

    def __init__(self, dims, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(dims, (list, tuple)) or any(
                isinstance(d, bool) or not isinstance(d, (int, np.integer)) for d in dims) \
                or sorted(dims) != list(range(1, len(dims) + 1)):
            raise ConfigError(f"Invalid permutation argument `dims` for Permute Layer. The set of "
                              f"indices in `dims` must be consecutive and start from 1. "
                              f"Received dims={dims!r}")
        self.dims = tuple(int(d) for d in dims)

    def _check(self, ndim):
        if ndim != len(self.dims) + 1:
            raise ShapeError(f"Permute '{self.name}': dims={self.dims} needs inputs of rank "
                             f"{len(self.dims) + 1}, received rank {ndim}")

    def forward(self, inputs):
        self._check(inputs.ndim)
        return inputs.permute(0, *self.dims)

    def compute_output_shape(self, input_shape):
        self._check(len(input_shape))
        return (input_shape[0],) + tuple(input_shape[d] for d in self.dims)

    def get_config(self):
        return {**super().get_config(), "dims": list(self.dims)}


@serializable()
class RepeatVector(Layer):
    """Repeats each sample's vector *n* times: ``(batch, features)`` → ``(batch, n, features)``.

    Example: ``RepeatVector(3)(x)`` before an LSTM decoder.
    """

    _single_input = True

    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        self.n = positive_int(n, "n", "RepeatVector")

    def _check(self, shape):
        if len(shape) != 2:
            raise ShapeError(f"RepeatVector '{self.name}': expected 2D inputs (batch, features), "
                             f"received shape {shape_repr(tuple(shape))}")

    def forward(self, inputs):
        self._check(inputs.shape)
        n, d = inputs.shape
        return inputs.unsqueeze(1).expand(n, self.n, d)

    def compute_output_shape(self, input_shape):
        self._check(input_shape)
        return (input_shape[0], self.n, input_shape[1])

    def get_config(self):
        return {**super().get_config(), "n": self.n}
