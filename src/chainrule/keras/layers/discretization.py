"""``Discretization``: numbers to bucket indices, by given boundaries or by quantiles learnt in
``adapt``, as Keras 3.

A value x goes to bucket i where ``boundaries[i−1] ≤ x < boundaries[i]`` (``np.digitize``): below
the first boundary is bucket 0, at or above the last is bucket ``len(boundaries)``. ``adapt(data)``
with ``num_bins`` estimates the quantile boundaries with Keras's summary algorithm (a sorted
sample of the data compressed to ``1/epsilon`` weighted points, merged batch by batch, then
interpolated at the ``num_bins`` quantiles), so the boundaries are Keras's.

Example::

    >>> layer = cr.layers.Discretization(bin_boundaries=[0.0, 1.0, 2.0])
    >>> layer(np.array([[-1.5, 1.0, 3.4, 0.5], [0.0, 3.0, 1.3, 0.0]]))
    tensor([[0, 2, 3, 1],
            [1, 3, 2, 1]])
"""
import numpy as np

from chainrule.errors import ConfigError, DTypeError
from chainrule.keras.layers.base import Layer
from chainrule.keras.layers.category_encoding import MODES, encode, encoded_shape
from chainrule.keras.layers.preprocessing import batches
from chainrule.keras.layers.registry import serializable
from chainrule.keras.utils import check_choice, check_float
from chainrule.tensor import Tensor


def summarize(values, epsilon):
    """A sorted sample of *values* (about 1/epsilon points) with the weight each stands for."""
    values = np.sort(np.reshape(values, -1))
    increment = values.size / (1.0 / epsilon)
    step = max(increment, 1)
    boundaries = values[int(increment)::int(step)]
    return np.stack([boundaries, np.ones_like(boundaries) * step])


def compress_summary(summary, epsilon):
    """*summary* interpolated at the cumulative-weight fractions epsilon, 2·epsilon, ..., 1."""
    if summary.shape[1] * epsilon < 1:
        return summary
    percents = epsilon + np.arange(0.0, 1.0, epsilon)
    cum_weights = summary[1].cumsum()
    cum_weight_percents = cum_weights / cum_weights[-1]
    new_bins = np.interp(percents, cum_weight_percents, summary[0])
    cum_weights = np.interp(percents, cum_weight_percents, cum_weights)
    new_weights = cum_weights - np.concatenate((np.array([0]), cum_weights[:-1]))
    return np.stack((new_bins, new_weights)).astype("float32")


def merge_summaries(prev_summary, next_summary, epsilon):
    """Two summaries merged in value order, then compressed."""
    merged = np.concatenate((prev_summary, next_summary), axis=1)
    merged = np.take(merged, np.argsort(merged[0]), axis=1)
    return compress_summary(merged, epsilon)


@serializable()
class Discretization(Layer):
    """Buckets numbers by *bin_boundaries*, or by *num_bins* quantiles measured with ``adapt``.

    Args:
        bin_boundaries: increasing boundaries (``len + 1`` buckets).
        num_bins: the number of buckets ``adapt`` makes (give this or bin_boundaries).
        epsilon: the quantile estimate's tolerance (default 0.01).
        output_mode: ``"int"`` (bucket indices, int64), ``"one_hot"``, ``"multi_hot"`` or
            ``"count"``.

    Example: ``layer = cr.layers.Discretization(num_bins=4); layer.adapt(x)``.
    """

    _single_input = True
    _autocast = False

    def __init__(self, bin_boundaries=None, num_bins=None, epsilon=0.01, output_mode="int",
                 sparse=False, **kwargs):
        super().__init__(**kwargs)
        where = "Discretization"
        check_choice(output_mode, "output_mode", where, ("int",) + MODES)
        if sparse:
            raise ConfigError("Discretization: sparse=True is not supported (chainrule has dense "
                              "tensors only)")
        if num_bins is not None and (isinstance(num_bins, bool) or not isinstance(
                num_bins, (int, np.integer)) or num_bins < 0):
            raise ConfigError(f"`num_bins` must be greater than or equal to 0. Received: "
                              f"`num_bins={num_bins!r}`")
        if num_bins is not None and bin_boundaries is not None:
            raise ConfigError(f"Both `num_bins` and `bin_boundaries` should not be set. Received: "
                              f"`num_bins={num_bins}` and `bin_boundaries={bin_boundaries}`")
        if num_bins is None and bin_boundaries is None:
            raise ConfigError("You need to set either `num_bins` or `bin_boundaries`.")
        self.epsilon = check_float(epsilon, "epsilon", where, 0.0, 1.0, low_open=True)
        self.num_bins = None if num_bins is None else int(num_bins)
        self.output_mode, self.sparse = output_mode, False
        self.bin_boundaries = None if bin_boundaries is None else \
            self._boundaries(bin_boundaries)
        self.summary = None if self.bin_boundaries is not None else \
            np.array([[], []], dtype="float32")

    @staticmethod
    def _boundaries(values):
        arr = np.asarray(values, dtype=np.float64)
        if arr.ndim != 1 or not np.isfinite(arr).all() or np.any(np.diff(arr) < 0):
            raise ConfigError(f"Discretization: bin_boundaries must be a list of increasing "
                              f"numbers. Received: bin_boundaries={values!r}")
        return arr.tolist()

    def adapt(self, data, batch_size=None, steps=None):
        """Estimate *num_bins* quantile boundaries from *data* (an array or batches), replacing
        any previous ones. Example: ``layer.adapt(x_train[:, 0])``."""
        if self.num_bins is None:
            raise ConfigError("Cannot adapt a Discretization layer that has been initialized with "
                              "`bin_boundaries`, use `num_bins` instead.")
        where = f"Discretization '{self.name}'.adapt"
        self.summary = np.array([[], []], dtype="float32")
        for i, batch in enumerate(batches(data, where)):
            if steps is not None and i >= steps:
                break
            if batch.dtype.kind not in "biuf":
                raise DTypeError(f"{where}: expected numbers, received dtype {batch.dtype}")
            values = np.asarray(batch).astype("float32")
            self.summary = merge_summaries(summarize(values, self.epsilon), self.summary,
                                           self.epsilon)
        self.bin_boundaries = compress_summary(self.summary, 1.0 / self.num_bins)[0, :-1].tolist()

    def forward(self, inputs):
        if self.bin_boundaries is None:
            raise ConfigError("You need to either pass the `bin_boundaries` argument at "
                              "construction time or call `adapt(dataset)` before you can start "
                              "using the `Discretization` layer.")
        values = inputs._data if isinstance(inputs, Tensor) else np.asarray(inputs)
        if values.dtype.kind not in "biuf":
            raise DTypeError(f"Discretization '{self.name}': expected numbers, received dtype "
                             f"{values.dtype}")
        indices = np.digitize(values, self.bin_boundaries).astype(np.int64)
        if self.output_mode == "int":
            return Tensor(indices)
        return Tensor(encode(indices, len(self.bin_boundaries) + 1, self.output_mode,
                             self._dtype))

    def compute_output_shape(self, input_shape):
        if self.output_mode == "int":
            return tuple(input_shape)
        if self.bin_boundaries is None:
            raise ConfigError(f"Discretization '{self.name}': call adapt(data) before using "
                              f"output_mode='{self.output_mode}' in a model")
        return encoded_shape(input_shape, len(self.bin_boundaries) + 1, self.output_mode)

    def compute_output_dtype(self, input_dtype):
        return "int64" if self.output_mode == "int" else self._dtype.name

    def get_config(self):
        return {**super().get_config(), "bin_boundaries": self.bin_boundaries,
                "num_bins": self.num_bins, "epsilon": self.epsilon,
                "output_mode": self.output_mode, "sparse": self.sparse}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        boundaries = config.get("bin_boundaries")
        if boundaries is not None and config.get("num_bins") is not None:
            config.pop("bin_boundaries")        # adapted: both are set, as Keras saves them
            layer = cls(**config)
            layer.bin_boundaries = cls._boundaries(boundaries)
            return layer
        return cls(**config)
