"""The ``Metric`` base class, ``Mean`` and ``MeanMetricWrapper``: stateful accumulators.

A metric sums over batches and reports the value over everything seen since the last reset, so
an epoch's accuracy is the accuracy of the whole epoch, not the mean of batch accuracies.
Metrics work on NumPy arrays (tensors are read without their graph); sample weights weight each
sample. ``get_config()`` returns the constructor arguments, so a built-in metric can be saved
with a model and rebuilt by name.

Example::

    >>> m = Mean()
    >>> m.update_state([1, 3]); m.update_state([5], sample_weight=[2])
    >>> m.result()
    3.5
"""
import inspect

import numpy as np

from chainrule.errors import ConfigError
from chainrule.keras.utils import snake_case
from chainrule.tensor import Tensor


def as_array(a):
    """*a* (a tensor, array or list) as a float64 NumPy array, without any graph."""
    return np.asarray(a._data if isinstance(a, Tensor) else a, dtype=np.float64)


def same_rank(x1, x2):
    """Keras's squeeze_or_expand_to_same_rank on NumPy arrays (see ``losses.same_rank``)."""
    if x1.ndim == x2.ndim + 1 and x1.shape[-1] == 1:
        return (x1, x2[..., None]) if x2.ndim == 1 else (x1[..., 0], x2)
    if x2.ndim == x1.ndim + 1 and x2.shape[-1] == 1:
        return (x1[..., None], x2) if x1.ndim == 1 else (x1, x2[..., 0])
    return x1, x2


def divide_no_nan(a, b):
    """a / b, with 0 where b is 0 (Keras's ``divide_no_nan``)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return np.divide(a, b, out=np.zeros(np.broadcast(a, b).shape), where=b != 0)


def _copy(value):
    return np.array(value, copy=True) if isinstance(value, np.ndarray) else value


def as_result(values, scalar):
    """A Python float (or a list of floats) from a result array. Example: ``as_result([0.5], True)``."""
    values = np.asarray(values, dtype=np.float64)
    if scalar or values.ndim == 0:
        return float(values.reshape(-1)[0]) if values.size == 1 else float(values)
    return [float(v) for v in values]


class Metric:
    """Base class of stateful metrics.

    Subclasses implement ``update_state(y_true, y_pred, sample_weight=None)``, ``result()`` and
    ``reset_state()``; calling a metric updates it and returns the result, as in Keras.
    ``_direction`` ("up" or "down") tells callbacks whether larger is better.

    Example::

        >>> mean = Mean()
        >>> mean([1, 3]), mean([5])
        (2.0, 3.0)
    """

    _direction = None

    def __init__(self, name=None, dtype=None):
        self.name = name or snake_case(type(self).__name__)
        self.dtype = dtype
        before = set(vars(self))
        self.reset_state()
        self._state_names = tuple(sorted(set(vars(self)) - before))

    def get_state(self):
        """The accumulators (what ``reset_state`` sets) as plain values and array copies, e.g. to
        save a run in the middle of an epoch. Example: ``Mean().get_state()`` is
        ``{'count': 0.0, 'total': 0.0}``."""
        return {k: _copy(getattr(self, k)) for k in self._state_names}

    def set_state(self, state):
        """Put back accumulators from :meth:`get_state` (the same metric, the same names)."""
        if not isinstance(state, dict) or set(state) != set(self._state_names):
            raise ConfigError(f"{type(self).__name__} '{self.name}': expected a state with keys "
                              f"{list(self._state_names)}, received "
                              f"{sorted(state) if isinstance(state, dict) else type(state).__name__}")
        for k, v in state.items():
            setattr(self, k, _copy(v))

    def reset_state(self):
        """Forget everything seen (``fit`` calls it at each epoch's start)."""
        raise NotImplementedError(f"{type(self).__name__} must implement reset_state()")

    def update_state(self, *args, **kwargs):
        """Add a batch: ``update_state(y_true, y_pred, sample_weight=None)``."""
        raise NotImplementedError(f"{type(self).__name__} must implement update_state()")

    def result(self):
        """The value over everything seen since the last reset, a Python float."""
        raise NotImplementedError(f"{type(self).__name__} must implement result()")

    def __call__(self, *args, **kwargs):
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self):
        """The constructor arguments (``name``, ``dtype`` and the metric's own), for saving.

        Read from the attributes named like the arguments of ``__init__``.
        """
        config = {}
        for p in list(inspect.signature(type(self).__init__).parameters)[1:]:
            if p in ("args", "kwargs"):
                continue
            if p in getattr(self, "_fn_kwargs", {}):
                value = self._fn_kwargs[p]
            elif hasattr(self, p):
                value = getattr(self, p)
            else:
                continue
            config[p] = value.tolist() if isinstance(value, np.ndarray) else value
        return config

    @classmethod
    def from_config(cls, config):
        """A new metric from ``get_config()``'s dict."""
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r}>"


class Mean(Metric):
    """The (weighted) mean of the values given: Σ w·v / Σ w over all updates.

    Values of rank > 1 are first averaged per sample.

    Example: ``m = Mean(); m.update_state([1, 3]); m.update_state([5], sample_weight=[2])``
    gives ``m.result() == (1 + 3 + 10) / 4``.
    """

    def reset_state(self):
        self.total = 0.0
        self.count = 0.0

    def update_state(self, values, sample_weight=None):
        v = as_array(values)
        if v.ndim > 1:
            v = v.reshape(len(v), -1).mean(axis=1)
        if sample_weight is None:
            self.total += float(v.sum())
            self.count += float(v.size) if v.ndim else 1.0
            return
        w = as_array(sample_weight)
        if w.ndim > 1:
            w = w.reshape(len(w), -1).mean(axis=1)
        v, w = np.broadcast_arrays(v, w)
        self.total += float((v * w).sum())
        self.count += float(w.sum())

    def result(self):
        return self.total / self.count if self.count else 0.0


class MeanMetricWrapper(Mean):
    """The weighted mean over samples of a per-sample function ``fn(y_true, y_pred, **kwargs)``.

    Example: ``MeanMetricWrapper(losses.mean_absolute_error, name="mae")``.
    """

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        self._fn = fn
        self._fn_kwargs = kwargs
        super().__init__(name or getattr(fn, "__name__", None), dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        values = self._fn(as_array(y_true), as_array(y_pred), **self._fn_kwargs)
        super().update_state(values._data if isinstance(values, Tensor) else values, sample_weight)
