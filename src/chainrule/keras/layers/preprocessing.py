"""Numeric preprocessing layers that travel with the model: ``Normalization`` and ``Rescaling``.

``Normalization`` learns its state (each feature's mean and variance) from training data with
``adapt(data)`` before training, and saves it with the model, so a loaded model takes raw data.

- ``Normalization`` maps x to ``(x - mean) / max(sqrt(variance), 1e-7)`` per feature of *axis*,
  with the population (biased) variance that ``adapt`` measures (Keras 3's formula).
- ``Rescaling(scale, offset)`` maps x to ``x · scale + offset`` (``Rescaling(1 / 255)`` for
  pixel values).

The lookup layers (``IntegerLookup``, ``StringLookup``, ``CategoryEncoding``) are in
:mod:`~chainrule.keras.layers.lookup`, ``Discretization`` and ``Hashing`` in their own modules.

Example::

    >>> norm = cr.layers.Normalization()
    >>> norm.adapt(np.array([[0.0, 10.0], [2.0, 30.0]]))
    >>> norm(np.array([[1.0, 20.0]]))
    tensor([[0., 0.]])
"""
import numpy as np

from chainrule.errors import (ArgumentTypeError, ConfigError, DataError, DTypeError,
                              IndexOutOfRangeError, ShapeError)
from chainrule.grad_mode import no_grad
from chainrule.keras.layers.base import Layer
from chainrule.keras.layers.registry import serializable
from chainrule.keras.symbolic import shape_repr
from chainrule.tensor import Tensor

EPSILON = 1e-7  # keras.backend.epsilon()


def batches(data, where):
    """Yield NumPy arrays from *data*: an array-like (one batch) or an iterable of batches."""
    if isinstance(data, Tensor):
        yield data.detach()._data
        return
    if isinstance(data, (list, tuple)) and data and \
            all(isinstance(b, (np.ndarray, Tensor)) for b in data):
        data = iter(data)  # a list of arrays: one batch each
    elif isinstance(data, (np.ndarray, list, tuple)) or np.isscalar(data):
        yield np.asarray(data)
        return
    try:
        iterator = iter(data)
    except TypeError:
        raise ArgumentTypeError(f"{where}: expected an array, a tensor or an iterable of batches "
                                f"for data. Received: {type(data).__name__}") from None
    for batch in iterator:
        if isinstance(batch, (tuple, list)) and len(batch) == 2 \
                and all(isinstance(b, (np.ndarray, Tensor)) for b in batch):
            batch = batch[0]  # (features, labels) pairs from a DataLoader: adapt to the features
        yield np.asarray(batch.detach()._data if isinstance(batch, Tensor) else batch)


@serializable()
class Normalization(Layer):
    """Standardises features: ``(x - mean) / max(sqrt(variance), 1e-7)``, per feature of *axis*.

    Give *mean* and *variance* (scalars or arrays over the *axis* features) or call
    ``adapt(data)`` to measure them (population variance). *axis* (default -1, the features of
    tabular data) may be a tuple of axes or None for one scalar mean; ``invert=True`` undoes a
    normalisation. Adapted statistics are non-trainable weights ``mean``, ``variance`` and
    ``count``, saved with the model. Example::

        >>> X_train = cr.datasets.load_heart_disease().data[:200, [0, 3, 4, 7]]   # age … thalach
        >>> norm = cr.layers.Normalization()
        >>> norm.adapt(X_train)
        >>> inputs = cr.layers.Input((4,)); h = norm(inputs)
        >>> norm(X_train).mean(dim=0).abs().max().item() < 1e-5
        True
    """

    _single_input = True

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, **kwargs):
        super().__init__(**kwargs)
        if axis is None:
            axis = ()
        elif isinstance(axis, (int, np.integer)) and not isinstance(axis, bool):
            axis = (int(axis),)
        elif isinstance(axis, (tuple, list)) and all(
                isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in axis):
            axis = tuple(int(a) for a in axis)
        else:
            raise ConfigError(f"Normalization: expected an int, a tuple of ints or None for axis. "
                              f"Received: axis={axis!r}")
        self.axis = axis
        if (mean is None) != (variance is None):
            raise ConfigError(f"Normalization: when setting values directly, both `mean` and "
                              f"`variance` must be set. Received: mean={mean!r} and "
                              f"variance={variance!r}")
        self.input_mean = None if mean is None else np.asarray(mean, dtype=np.float64)
        self.input_variance = None if variance is None else np.asarray(variance, dtype=np.float64)
        if self.input_variance is not None and (self.input_variance < 0).any():
            raise ConfigError("Normalization: variance must be non-negative")
        self.invert = bool(invert)

    def build(self, input_shape):
        ndim = len(input_shape)
        where = f"Normalization '{self.name}'"
        keep = []
        for a in self.axis:
            if not -ndim <= a < ndim:
                raise IndexOutOfRangeError(f"{where}: axis {a} is out of range for inputs of rank "
                                           f"{ndim} "
                                           f"(input_shape={shape_repr(tuple(input_shape))})")
            keep.append(a % ndim)
        if ndim > 0 and 0 in keep and ndim > 1:
            raise ConfigError(f"{where}: the batch axis 0 cannot be kept. Received: "
                              f"axis={self.axis}")
        self._keep = tuple(sorted(set(keep)))
        self._ndim = ndim
        stat_shape = tuple(input_shape[a] for a in self._keep)
        if None in stat_shape:
            raise ShapeError(f"{where}: all `axis` values to be kept must have a known shape. "
                             f"Received: input_shape={shape_repr(tuple(input_shape))}")
        self._stat_shape = stat_shape
        self._bshape = tuple(input_shape[a] if a in self._keep else 1 for a in range(ndim))
        if self.input_mean is None:
            self.add_weight("mean", stat_shape, "zeros", trainable=False)
            self.add_weight("variance", stat_shape, "ones", trainable=False)
            self.add_weight("count", (), "zeros", dtype="int64", trainable=False)
        else:
            try:
                self._const_mean = np.broadcast_to(self.input_mean, stat_shape).astype(self._dtype)
                self._const_var = np.broadcast_to(self.input_variance, stat_shape).astype(self._dtype)
            except ValueError:
                raise ShapeError(f"{where}: mean of shape {self.input_mean.shape} and variance of "
                                 f"shape {self.input_variance.shape} do not fit the {stat_shape} "
                                 f"features of inputs {shape_repr(tuple(input_shape))}") from None

    def _stats(self):
        if self.input_mean is not None:
            return self._const_mean, self._const_var
        return self.mean._data, self.variance._data

    def adapt(self, data, batch_size=None, steps=None):
        """Measure the mean and (population) variance of *data* per kept feature, replacing any
        previous statistics.

        *data* is an array or tensor of samples, or an iterable of batches (a DataLoader's
        ``(x, y)`` batches adapt to ``x``). Example: ``norm.adapt(X_train)``.
        """
        if self.input_mean is not None:
            raise ConfigError(f"Normalization '{self.name}': cannot adapt a layer that was given "
                              f"mean and variance")
        count, mean, m2, rows = 0, None, None, 0
        for i, batch in enumerate(batches(data, f"Normalization '{self.name}'.adapt")):
            if steps is not None and i >= steps:
                break
            if batch.dtype.kind not in "biuf":
                raise DTypeError(f"Normalization '{self.name}'.adapt: expected numeric data, "
                                 f"received dtype {batch.dtype}")
            if batch.ndim == 0:
                batch = batch.reshape(1)
            if batch.ndim == 1 and self.axis not in ((), (0,)):
                batch = batch[:, None]
            self._build_once((None,) + tuple(batch.shape[1:]))
            if batch.ndim != self._ndim or any(batch.shape[a] != self._bshape[a] for a in self._keep):
                raise ShapeError(f"Normalization '{self.name}'.adapt: data of shape {batch.shape} "
                                 f"does not fit the layer, built for {self._stat_shape} features on "
                                 f"axes {list(self._keep)}")
            b = batch.astype(np.float64)
            if not np.isfinite(b).all():
                bad = np.argwhere(~np.isfinite(b))[0]
                kind = "NaN" if np.isnan(b[tuple(bad)]) else "an infinite value"
                where = f"row {rows + bad[0]}" + (f", column {', '.join(map(str, bad[1:]))}"
                                                  if len(bad) > 1 else "")
                raise DataError(f"Normalization '{self.name}'.adapt: the data contains {kind} "
                                f"(first at {where}); fill in or drop missing values first (the "
                                f"layer's statistics are unchanged)")
            rows += len(b)
            reduce = tuple(a for a in range(b.ndim) if a not in self._keep)
            n = b.size // max(int(np.prod(self._stat_shape)), 1) if b.size else 0
            if n == 0:
                continue
            bmean = b.mean(axis=reduce).reshape(self._stat_shape)
            bm2 = ((b - bmean.reshape(self._bshape)) ** 2).sum(axis=reduce).reshape(self._stat_shape)
            if count == 0:
                count, mean, m2 = n, bmean, bm2
            else:  # Chan et al.'s parallel update
                total = count + n
                delta = bmean - mean
                mean = mean + delta * (n / total)
                m2 = m2 + bm2 + delta ** 2 * (count * n / total)
                count = total
        if count == 0:
            raise DataError(f"Normalization '{self.name}'.adapt: the data is empty")
        with no_grad():
            self.mean._data[...] = mean
            self.variance._data[...] = m2 / count
            self.count._data[...] = count
            for w in (self.mean, self.variance, self.count):
                w._vc[0] += 1

    def forward(self, inputs):
        x = inputs
        dtype = self.mean.dtype if self.input_mean is None else self._dtype
        if x.dtype != dtype:
            x = x.to(dtype)
        if x.ndim != self._ndim or any(x.shape[a] != self._bshape[a] for a in self._keep):
            raise ShapeError(f"Input 0 of layer \"{self.name}\" is incompatible with the layer: "
                             f"expected {self._stat_shape} features on axes {list(self._keep)}, "
                             f"received input with shape {shape_repr(tuple(x.shape))}")
        mean, var = self._stats()
        mean_t = Tensor(mean.reshape(self._bshape).astype(dtype))
        scale = Tensor(np.maximum(np.sqrt(var.astype(np.float64)), EPSILON)
                       .reshape(self._bshape).astype(dtype))
        if self.invert:
            return mean_t + x * scale
        return (x - mean_t) / scale

    def compute_output_shape(self, input_shape):
        return input_shape

    def compute_output_dtype(self, input_dtype):
        return self._dtype.name

    def get_config(self):
        axis = None if self.axis == () else (self.axis[0] if len(self.axis) == 1 else list(self.axis))
        return {**super().get_config(), "axis": axis,
                "mean": None if self.input_mean is None else self.input_mean.tolist(),
                "variance": None if self.input_variance is None else self.input_variance.tolist(),
                "invert": self.invert}


@serializable()
class Rescaling(Layer):
    """Rescales inputs: ``x · scale + offset``, computed in the layer's float dtype.

    *scale* and *offset* are numbers (or lists broadcast against the last axes). Integer inputs
    (uint8 pixels) are cast to the layer's dtype first. Example::

        >>> cr.layers.Rescaling(1 / 127.5, offset=-1)(np.array([[0, 255]], dtype=np.uint8))
        tensor([[-1.,  1.]])
    """

    _single_input = True
    _autocast = False

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        for name, value in (("scale", scale), ("offset", offset)):
            arr = np.asarray(value)
            if arr.dtype.kind not in "biuf" or not np.isfinite(arr).all():
                raise ConfigError(f"Rescaling: expected a finite number (or a list of them) for "
                                  f"{name}. Received: {name}={value!r}")
        self.scale = scale.tolist() if isinstance(scale, np.ndarray) else scale
        self.offset = offset.tolist() if isinstance(offset, np.ndarray) else offset

    def forward(self, inputs):
        x = inputs if inputs.dtype == self._dtype else inputs.to(self._dtype)
        scale = Tensor(np.asarray(self.scale, dtype=self._dtype))
        offset = Tensor(np.asarray(self.offset, dtype=self._dtype))
        return x * scale + offset

    def compute_output_shape(self, input_shape):
        return input_shape

    def compute_output_dtype(self, input_dtype):
        return self._dtype.name

    def get_config(self):
        return {**super().get_config(), "scale": self.scale, "offset": self.offset}
