"""Keras losses: per-sample functions and ``Loss`` classes, with Keras 3's names and reductions.

A loss *function* (``binary_crossentropy(y_true, y_pred)``) returns one value per sample, the mean
over the last axis; a ``Loss`` *object* (``BinaryCrossentropy()``) reduces those values to a scalar
with optional sample weights, by default Keras 3's ``"sum_over_batch_size"``::

    loss = Σᵢ wᵢ · lᵢ / n          (n samples; w = 1 when no sample_weight is given)

so a weight of 2 counts a sample twice in the numerator only: the loss of a batch with one row
weighted 2 equals the loss of the batch with that row duplicated, times n / (n + 1).
Probabilities are clipped to [ε, 1 − ε] with ε = 1e-7 before the log, as Keras does.
Arguments come in Keras's order, ``(y_true, y_pred)``; ``y_pred`` keeps its graph, so the result
can be backpropagated.

Example::

    >>> from chainrule.keras import losses
    >>> losses.BinaryCrossentropy()([[1.0], [0.0]], cr.tensor([[0.9], [0.2]]))  # (−log .9 − log .8)/2
    tensor(0.1643)
"""
import numpy as np

from chainrule import dtypes
from chainrule.errors import ConfigError, DTypeError, LabelError, ShapeError, suggest
from chainrule.keras.layers.base import snake_case
from chainrule.ops.elementwise import where
from chainrule.ops.softmax import log_softmax
from chainrule.tensor import Tensor

EPSILON = 1e-7  # keras.backend.epsilon()
REDUCTIONS = ("sum_over_batch_size", "sum", "none", "mean_with_sample_weight")


def lookup(kind, identifier, table):
    """``table[identifier]``, or a :class:`ConfigError` naming *kind*, the closest names and all
    valid names.

    Shared by ``losses.get``, ``metrics.get`` and ``optimizers.get``.

    Example: ``lookup("loss", "mse", FUNCTIONS)`` is :func:`mean_squared_error`.
    """
    if isinstance(identifier, str) and identifier in table:
        return table[identifier]
    valid = sorted(table)
    hint = suggest(identifier, valid)
    raise ConfigError(f"Could not interpret {kind} identifier: {identifier!r}.{hint} "
                      f"Valid {kind} names: {', '.join(valid)}")


# ---- helpers ------------------------------------------------------------------------------------
def as_float_tensor(a):
    """*a* as a float tensor (a tensor keeps its graph; integers become the default float).

    Example: ``as_float_tensor([1, 0]).dtype`` is the default float dtype.
    """
    if isinstance(a, Tensor):
        return a if a.data.dtype.kind == "f" else Tensor(a.data.astype(dtypes.get_default_dtype()))
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


def _pair(name, y_true, y_pred):
    """Both arguments as float tensors of one shape, or a ValueError naming both shapes."""
    y_true, y_pred = same_rank(as_float_tensor(y_true), as_float_tensor(y_pred))
    if tuple(y_true.shape) != tuple(y_pred.shape):
        raise ShapeError(f"{name}: y_true and y_pred must have the same shape, got y_true.shape="
                         f"{tuple(y_true.shape)} and y_pred.shape={tuple(y_pred.shape)}; check "
                         f"that the labels match the model's output (units of the last layer)")
    return y_true, y_pred


def _last_axis_mean(values):
    return values.mean(dim=-1) if values.ndim else values


# ---- per-sample loss functions -------------------------------------------------------------------
def mean_squared_error(y_true, y_pred):
    """mean((y_true − y_pred)²) over the last axis, one value per sample.

    Example: ``mean_squared_error([[1., 2.]], cr.tensor([[0., 0.]]))`` is ``[2.5]``.
    """
    y_true, y_pred = _pair("mean_squared_error", y_true, y_pred)
    return _last_axis_mean((y_true - y_pred) ** 2)


def mean_absolute_error(y_true, y_pred):
    """mean(|y_true − y_pred|) over the last axis, one value per sample.

    Example: ``mean_absolute_error([[1., 2.]], cr.tensor([[0., 0.]]))`` is ``[1.5]``.
    """
    y_true, y_pred = _pair("mean_absolute_error", y_true, y_pred)
    return _last_axis_mean((y_true - y_pred).abs())


def huber(y_true, y_pred, delta=1.0):
    """Huber loss: ½e² where |e| ≤ δ, else δ|e| − ½δ², averaged over the last axis.

    Example: ``huber([[0.]], cr.tensor([[3.]]))`` is ``[2.5]`` (δ = 1).
    """
    y_true, y_pred = _pair("huber", y_true, y_pred)
    err = (y_pred - y_true).abs()
    return _last_axis_mean(where(err <= delta, 0.5 * err ** 2, delta * err - 0.5 * delta ** 2))


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0):
    """−[y log p + (1 − y) log(1 − p)] averaged over the last axis, p clipped to [1e-7, 1 − 1e-7].

    With *from_logits* the stable form max(z, 0) − z·y + log(1 + e^−|z|) is used on logits z.
    *label_smoothing* s replaces y by y(1 − s) + s/2.

    Example: ``binary_crossentropy([[1.]], cr.tensor([[1.]]))`` is −log(1 − 1e-7), not 0.
    """
    y_true, y_pred = _pair("binary_crossentropy", y_true, y_pred)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        values = y_pred.relu() - y_pred * y_true + (-y_pred.abs()).exp().log1p()
    else:
        p = y_pred.clamp(EPSILON, 1.0 - EPSILON)
        values = -(y_true * p.log() + (1.0 - y_true) * (1.0 - p).log())
    return _last_axis_mean(values)


def _log_probs(y_pred, from_logits):
    """log p over the last axis: log_softmax of logits, or the log of renormalised, clipped p."""
    if from_logits:
        return log_softmax(y_pred, dim=-1)
    p = y_pred / y_pred.sum(dim=-1, keepdim=True)
    return p.clamp(EPSILON, 1.0 - EPSILON).log()


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0):
    """−Σ_c y_c log p_c over the last axis, for one-hot (or probability) labels.

    Without *from_logits*, p is renormalised to sum to 1 and clipped to [1e-7, 1 − 1e-7], as Keras.
    *label_smoothing* s replaces y by y(1 − s) + s/C.

    Example: ``categorical_crossentropy([[0., 1.]], cr.tensor([[0.5, 0.5]]))`` is ``[0.6931]``.
    """
    y_true_t, y_pred = as_float_tensor(y_true), as_float_tensor(y_pred)
    if tuple(y_true_t.shape) != tuple(y_pred.shape):
        hint = (" (integer class labels need sparse_categorical_crossentropy)"
                if y_true_t.ndim < y_pred.ndim or y_true_t.shape[-1] == 1 else "")
        raise ShapeError(f"categorical_crossentropy: y_true and y_pred must have the same shape, "
                         f"got y_true.shape={tuple(y_true_t.shape)} and "
                         f"y_pred.shape={tuple(y_pred.shape)}{hint}")
    if label_smoothing:
        y_true_t = y_true_t * (1.0 - label_smoothing) + label_smoothing / y_pred.shape[-1]
    return -(y_true_t * _log_probs(y_pred, from_logits)).sum(dim=-1)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False):
    """−log p[y] for integer class labels y of shape (n,) or (n, 1) and predictions (n, C).

    Example: ``sparse_categorical_crossentropy([1], cr.tensor([[0.5, 0.5]]))`` is ``[0.6931]``.
    """
    y_pred = as_float_tensor(y_pred)
    labels = np.asarray(y_true.data if isinstance(y_true, Tensor) else y_true)
    if labels.ndim == y_pred.ndim and labels.ndim and labels.shape[-1] == 1:
        labels = labels.reshape(labels.shape[:-1])
    if labels.shape != tuple(y_pred.shape[:-1]):
        raise ShapeError(f"sparse_categorical_crossentropy: y_true must hold one class index per "
                         f"sample, shape {tuple(y_pred.shape[:-1])} for y_pred.shape="
                         f"{tuple(y_pred.shape)}; got y_true.shape={labels.shape} (one-hot labels "
                         f"need categorical_crossentropy)")
    n_classes = y_pred.shape[-1]
    if labels.size and (labels.dtype.kind not in "biuf" or np.any(labels != np.round(labels))
                        or labels.min() < 0 or labels.max() >= n_classes):
        raise LabelError(f"sparse_categorical_crossentropy: labels must be integers in "
                         f"[0, {n_classes}) for {n_classes} output units; got values from "
                         f"{labels.min():g} to {labels.max():g}")
    one_hot = np.eye(n_classes, dtype=y_pred.data.dtype)[labels.astype(np.int64)]
    return -(Tensor(one_hot) * _log_probs(y_pred, from_logits)).sum(dim=-1)


def hinge(y_true, y_pred):
    """mean(max(1 − y·ŷ, 0)) over the last axis; labels 0/1 are mapped to −1/1 first.

    Example: ``hinge([[1.]], cr.tensor([[0.3]]))`` is ``[0.7]``.
    """
    y_true, y_pred = _pair("hinge", y_true, y_pred)
    labels = y_true.data
    if labels.size and np.isin(labels, (0, 1)).all():
        y_true = Tensor(2.0 * labels - 1.0)
    return _last_axis_mean((1.0 - y_true * y_pred).relu())


# ---- reduction ----------------------------------------------------------------------------------
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
        divisor = float(np.sum(w.data))
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


class MeanSquaredError(LossFunctionWrapper):
    """Mean of squared errors: Σᵢ mean_j (yᵢⱼ − ŷᵢⱼ)² / n.

    Example: ``MeanSquaredError()([[1.]], cr.tensor([[3.]]))`` is ``tensor(4.)``.
    """

    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_error", dtype=None):
        super().__init__(mean_squared_error, name, reduction, dtype)


class MeanAbsoluteError(LossFunctionWrapper):
    """Mean of absolute errors.

    Example: ``MeanAbsoluteError()([[1.]], cr.tensor([[3.]]))`` is ``tensor(2.)``.
    """

    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_error", dtype=None):
        super().__init__(mean_absolute_error, name, reduction, dtype)


class Huber(LossFunctionWrapper):
    """Huber loss with threshold *delta*: quadratic near zero, linear beyond δ.

    Example: ``Huber(delta=1.0)([[0.]], cr.tensor([[3.]]))`` is ``tensor(2.5)``.
    """

    def __init__(self, delta=1.0, reduction="sum_over_batch_size", name="huber_loss", dtype=None):
        super().__init__(huber, name, reduction, dtype, delta=delta)


class BinaryCrossentropy(LossFunctionWrapper):
    """Binary cross-entropy for 0/1 labels and probabilities (or logits with *from_logits*).

    Example: ``BinaryCrossentropy()([[1.], [0.]], cr.tensor([[0.9], [0.2]]))`` is
    ``(−log 0.9 − log 0.8) / 2``.
    """

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="binary_crossentropy", dtype=None):
        _check_axis(axis, name)
        super().__init__(binary_crossentropy, name, reduction, dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing)


class CategoricalCrossentropy(LossFunctionWrapper):
    """Cross-entropy for one-hot labels and class probabilities (or logits with *from_logits*).

    Example: ``CategoricalCrossentropy()([[0., 1.]], cr.tensor([[0.2, 0.8]]))`` is ``−log 0.8``.
    """

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="categorical_crossentropy", dtype=None):
        _check_axis(axis, name)
        super().__init__(categorical_crossentropy, name, reduction, dtype,
                         from_logits=from_logits, label_smoothing=label_smoothing)


class SparseCategoricalCrossentropy(LossFunctionWrapper):
    """Cross-entropy for integer class labels and class probabilities (or logits).

    Example: ``SparseCategoricalCrossentropy()([1], cr.tensor([[0.2, 0.8]]))`` is ``−log 0.8``.
    """

    def __init__(self, from_logits=False, reduction="sum_over_batch_size",
                 name="sparse_categorical_crossentropy", dtype=None):
        super().__init__(sparse_categorical_crossentropy, name, reduction, dtype,
                         from_logits=from_logits)


class Hinge(LossFunctionWrapper):
    """Hinge loss max(1 − y·ŷ, 0) for labels −1/1 (or 0/1).

    Example: ``Hinge()([[1.]], cr.tensor([[0.3]]))`` is ``tensor(0.7)``.
    """

    def __init__(self, reduction="sum_over_batch_size", name="hinge", dtype=None):
        super().__init__(hinge, name, reduction, dtype)


def _check_axis(axis, name):
    if axis != -1:
        raise ConfigError(f"{name}: only axis=-1 (the last axis holds the classes) is supported, "
                          f"got axis={axis}")


FUNCTIONS = {
    "mean_squared_error": mean_squared_error, "mse": mean_squared_error,
    "MSE": mean_squared_error,
    "mean_absolute_error": mean_absolute_error, "mae": mean_absolute_error,
    "MAE": mean_absolute_error,
    "huber": huber,
    "binary_crossentropy": binary_crossentropy, "bce": binary_crossentropy,
    "BCE": binary_crossentropy,
    "categorical_crossentropy": categorical_crossentropy,
    "sparse_categorical_crossentropy": sparse_categorical_crossentropy,
    "hinge": hinge,
}
CLASSES = {cls.__name__: cls for cls in (MeanSquaredError, MeanAbsoluteError, Huber,
                                         BinaryCrossentropy, CategoricalCrossentropy,
                                         SparseCategoricalCrossentropy, Hinge)}


def get(identifier):
    """Resolve a loss: a function or class name, a ``Loss``, or any callable (None stays None).

    A function name gives the per-sample function, a class name a fresh instance, as Keras.

    Example: ``get("binary_crossentropy")`` is :func:`binary_crossentropy`;
    ``get("binary_crossentopy")`` raises "... Did you mean 'binary_crossentropy'? ...".
    """
    if identifier is None or isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str):
        found = lookup("loss", identifier, {**FUNCTIONS, **CLASSES})
        return found() if isinstance(found, type) else found
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    if callable(identifier):
        return identifier
    raise ConfigError(f"Could not interpret loss identifier: {identifier!r} (expected a name such "
                      f"as 'binary_crossentropy', a keras Loss, or a function "
                      f"fn(y_true, y_pred))")
