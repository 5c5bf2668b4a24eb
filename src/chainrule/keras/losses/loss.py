"""The ``Loss`` base class, Keras 3's reductions and the argument helpers the loss functions share.

A ``Loss`` object's ``call(y_true, y_pred)`` gives one value per sample; ``__call__`` weights them
by ``sample_weight`` and reduces them, by default Keras 3's ``"sum_over_batch_size"``::

    loss = Σᵢ wᵢ · lᵢ / n          (n values; w = 1 when no sample_weight is given)

Example::

    >>> reduce_weighted_values(cr.tensor([1.0, 3.0]), [2.0, 1.0])   # (2 + 3) / 2
    tensor(2.5000)
"""
import numpy as np

from chainrule import dtypes
from chainrule.errors import ConfigError, DTypeError, ShapeError
from chainrule.keras.utils import snake_case
from chainrule.tensor import Tensor

EPSILON = 1e-7  # keras.backend.epsilon()
REDUCTIONS = ("sum_over_batch_size", "sum", "none", "mean_with_sample_weight")


def as_float_tensor(a):
    """*a* as a float tensor (a tensor keeps its graph; integers become the default float).

    Example: ``as_float_tensor([1, 0]).dtype`` is the default float dtype.
    """
    if isinstance(a, Tensor):
        return a if a._data.dtype.kind == "f" else Tensor(a._data.astype(dtypes.get_default_dtype()))
    arr = np.asarray(a)
    if arr.dtype.kind not in "biuf":
        raise DTypeError(f"expected numbers, got an array of dtype {arr.dtype}")
    return Tensor(arr.astype(dtypes.get_default_dtype(), copy=False))


def same_rank(x1, x2):
    """Keras's ``squeeze_or_expand_to_same_rank``: match ranks that differ by a trailing axis of 1.

    A rank-1 partner is expanded (``(n,)`` against ``(n, 1)`` becomes ``(n, 1)``); otherwise the
    higher-rank one loses its trailing 1.

    Example: tensors of shapes ``(4,)`` and ``(4, 1)`` come back as ``(4, 1)`` and ``(4, 1)``.
    """
    r1, r2 = x1.ndim, x2.ndim
    if r1 == r2 + 1 and x1.shape[-1] == 1:
        return (x1, x2.reshape(*x2.shape, 1)) if r2 == 1 else (x1.reshape(*x1.shape[:-1]), x2)
    if r2 == r1 + 1 and x2.shape[-1] == 1:
        return (x1.reshape(*x1.shape, 1), x2) if r1 == 1 else (x1, x2.reshape(*x2.shape[:-1]))
    return x1, x2


def pair(name, y_true, y_pred):
    """Both arguments as float tensors of one shape (``same_rank`` first), or a ShapeError naming
    both shapes. Example: ``pair("mse", [[1.]], cr.tensor([[2.]]))``."""
    y_true, y_pred = same_rank(as_float_tensor(y_true), as_float_tensor(y_pred))
    if tuple(y_true.shape) != tuple(y_pred.shape):
        raise ShapeError(f"{name}: y_true and y_pred must have the same shape, got y_true.shape="
                         f"{tuple(y_true.shape)} and y_pred.shape={tuple(y_pred.shape)}; check "
                         f"that the labels match the model's output (units of the last layer)")
    return y_true, y_pred


def last_axis_mean(values):
    """The mean over the last axis (a scalar stays as it is). Example: ``last_axis_mean(t)``."""
    return values.mean(dim=-1) if values.ndim else values


def reduce_weighted_values(values, sample_weight=None, reduction="sum_over_batch_size"):
    """Weight per-sample *values* and reduce them as Keras 3's ``reduce_weighted_values``.

    ``"sum_over_batch_size"``: Σ w·l / (number of values); ``"sum"``: Σ w·l; ``"none"``: w·l;
    ``"mean_with_sample_weight"``: Σ w·l / Σ w.

    Example: ``reduce_weighted_values(cr.tensor([1., 3.]), [2., 1.])`` is ``(2 + 3) / 2``.
    """
    if sample_weight is not None:
        w = as_float_tensor(sample_weight)
        values, w = same_rank(values, w)
        values = values * w
    if reduction == "none" or values.ndim == 0:
        return values
    total = values.sum()
    if reduction == "sum":
        return total
    if reduction == "mean_with_sample_weight" and sample_weight is not None:
        divisor = float(np.sum(w._data))
    else:
        divisor = values.numel()
    return total / divisor if divisor else total * 0.0


class Loss:
    """Base class of Keras losses: ``call`` gives per-sample values, ``__call__`` reduces them.

    Args:
        name: the loss's name (defaults to the class's snake-case name).
        reduction: ``"sum_over_batch_size"`` (default), ``"sum"``, ``"none"`` or
            ``"mean_with_sample_weight"``.

    Subclass and implement ``call(y_true, y_pred)`` returning one value per sample::

        >>> class Cubic(Loss):
        ...     def call(self, y_true, y_pred):
        ...         return ((y_pred - y_true).abs() ** 3).mean(dim=-1)
    """

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None):
        if reduction not in REDUCTIONS:
            raise ConfigError(f"{type(self).__name__}: reduction must be one of {REDUCTIONS}, "
                              f"got {reduction!r}")
        self.name = name or snake_case(type(self).__name__)
        self.reduction = reduction
        self.dtype = dtype

    def __call__(self, y_true, y_pred, sample_weight=None):
        return reduce_weighted_values(self.call(y_true, y_pred), sample_weight, self.reduction)

    def call(self, y_true, y_pred):
        """The loss of each sample (a tensor with one value per row); subclasses implement it."""
        raise NotImplementedError(f"{type(self).__name__} must implement call(y_true, y_pred)")

    def get_config(self):
        """The constructor arguments, as Keras's ``get_config``."""
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config):
        """A new loss from ``get_config()``'s dict. Example: ``Loss.from_config(l.get_config())``."""
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class LossFunctionWrapper(Loss):
    """A ``Loss`` made from a per-sample function ``fn(y_true, y_pred, **kwargs)``.

    Example: ``LossFunctionWrapper(mean_squared_error, name="mse")``.
    """

    def __init__(self, fn, name=None, reduction="sum_over_batch_size", dtype=None, **kwargs):
        super().__init__(name or getattr(fn, "__name__", None), reduction, dtype)
        self.fn = fn
        self._fn_kwargs = kwargs

    def call(self, y_true, y_pred):
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def get_config(self):
        return {**super().get_config(), **self._fn_kwargs}


def check_axis(axis, name):
    """Only the last axis may hold the classes (``axis=-1``). Example: ``check_axis(-1, "bce")``."""
    if axis != -1:
        raise ConfigError(f"{name}: only axis=-1 (the last axis holds the classes) is supported, "
                          f"got axis={axis}")
