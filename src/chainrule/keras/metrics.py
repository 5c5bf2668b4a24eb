"""Keras metrics: stateful accumulators with ``update_state``, ``result`` and ``reset_state``.

A metric sums over batches and reports the value over everything seen since the last reset, so
an epoch's accuracy is the accuracy of the whole epoch, not the mean of batch accuracies.
Metrics work on NumPy arrays (tensors are read without their graph); sample weights weight each
sample. Names and defaults follow Keras 3: ``"accuracy"`` in ``compile`` becomes
:class:`BinaryAccuracy` when the model has one output unit, :class:`SparseCategoricalAccuracy`
for integer labels against several units, else :class:`CategoricalAccuracy` (see
:func:`for_output`).

Example::

    >>> m = AUC()
    >>> m.update_state([0, 1, 1, 0], [0.1, 0.8, 0.6, 0.3])
    >>> m.result()
    1.0
"""
import numpy as np

from chainrule.errors import ConfigError, ShapeError
from chainrule.keras import losses
from chainrule.keras.layers.base import snake_case
from chainrule.keras.losses import lookup
from chainrule.tensor import Tensor

EPSILON = losses.EPSILON


def _np(a):
    """*a* (a tensor, array or list) as a float64 NumPy array, without any graph."""
    return np.asarray(a.data if isinstance(a, Tensor) else a, dtype=np.float64)


def _same_rank(x1, x2):
    """Keras's squeeze_or_expand_to_same_rank on NumPy arrays (see ``losses.same_rank``)."""
    if x1.ndim == x2.ndim + 1 and x1.shape[-1] == 1:
        return (x1, x2[..., None]) if x2.ndim == 1 else (x1[..., 0], x2)
    if x2.ndim == x1.ndim + 1 and x2.shape[-1] == 1:
        return (x1[..., None], x2) if x1.ndim == 1 else (x1, x2[..., 0])
    return x1, x2


def _divide_no_nan(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return np.divide(a, b, out=np.zeros(np.broadcast(a, b).shape), where=b != 0)


class Metric:
    """Base class of stateful metrics.

    Subclasses implement ``update_state(y_true, y_pred, sample_weight=None)``, ``result()`` and
    ``reset_state()``; calling a metric updates it and returns the result, as in Keras.
    ``_direction`` ("up" or "down") tells callbacks whether larger is better.

    Example::

        >>> acc = BinaryAccuracy()
        >>> acc([1, 0], [0.7, 0.6])
        0.5
    """

    _direction = None

    def __init__(self, name=None, dtype=None):
        self.name = name or snake_case(type(self).__name__)
        self.dtype = dtype
        self.reset_state()

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
        v = _np(values)
        if v.ndim > 1:
            v = v.reshape(len(v), -1).mean(axis=1)
        if sample_weight is None:
            self.total += float(v.sum())
            self.count += float(v.size) if v.ndim else 1.0
            return
        w = _np(sample_weight)
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
        values = self._fn(_np(y_true), _np(y_pred), **self._fn_kwargs)
        super().update_state(values.data if isinstance(values, Tensor) else values, sample_weight)


# ---- per-sample functions ------------------------------------------------------------------------
def accuracy(y_true, y_pred):
    """1 where y_pred equals y_true exactly, else 0 (per element).

    Example: ``accuracy([1, 2], [1, 3])`` is ``[1., 0.]``.
    """
    t, p = _same_rank(_np(y_true), _np(y_pred))
    return (t == p).astype(np.float64)


def binary_accuracy(y_true, y_pred, threshold=0.5):
    """1 where (y_pred > threshold) equals the 0/1 label, else 0 (per element).

    Example: ``binary_accuracy([1, 0], [0.7, 0.6])`` is ``[1., 0.]``.
    """
    t, p = _same_rank(_np(y_true), _np(y_pred))
    return (t == (p > threshold)).astype(np.float64)


def categorical_accuracy(y_true, y_pred):
    """1 where argmax(y_pred) equals argmax(y_true) (one-hot labels), else 0 (per sample).

    Example: ``categorical_accuracy([[0, 1]], [[0.3, 0.7]])`` is ``[1.]``.
    """
    return (_np(y_true).argmax(-1) == _np(y_pred).argmax(-1)).astype(np.float64)


def sparse_categorical_accuracy(y_true, y_pred):
    """1 where argmax(y_pred) equals the integer label, else 0 (per sample).

    Example: ``sparse_categorical_accuracy([0], [[0.3, 0.7]])`` is ``[0.]``.
    """
    t, p = _np(y_true), _np(y_pred)
    if t.ndim == p.ndim and t.shape[-1] == 1:
        t = t[..., 0]
    return (t == p.argmax(-1)).astype(np.float64)


# ---- mean metrics --------------------------------------------------------------------------------
class Accuracy(MeanMetricWrapper):
    """How often predictions equal labels exactly (for probabilities use BinaryAccuracy).

    Example: ``Accuracy()([1, 2], [1, 3])`` is 0.5.
    """

    _direction = "up"

    def __init__(self, name="accuracy", dtype=None):
        super().__init__(accuracy, name, dtype)


class BinaryAccuracy(MeanMetricWrapper):
    """How often (y_pred > threshold) matches the 0/1 labels.

    Example: ``BinaryAccuracy()([1, 0], [0.7, 0.6])`` is 0.5.
    """

    _direction = "up"

    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        super().__init__(binary_accuracy, name, dtype, threshold=threshold)


class CategoricalAccuracy(MeanMetricWrapper):
    """How often argmax(y_pred) matches one-hot labels.

    Example: ``CategoricalAccuracy()([[0, 1]], [[0.3, 0.7]])`` is 1.0.
    """

    _direction = "up"

    def __init__(self, name="categorical_accuracy", dtype=None):
        super().__init__(categorical_accuracy, name, dtype)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    """How often argmax(y_pred) matches integer labels.

    Example: ``SparseCategoricalAccuracy()([1], [[0.3, 0.7]])`` is 1.0.
    """

    _direction = "up"

    def __init__(self, name="sparse_categorical_accuracy", dtype=None):
        super().__init__(sparse_categorical_accuracy, name, dtype)


class MeanSquaredError(MeanMetricWrapper):
    """Mean over samples of mean_j (y_true − y_pred)².

    Example: ``MeanSquaredError()([[1.]], [[3.]])`` is 4.0.
    """

    _direction = "down"

    def __init__(self, name="mean_squared_error", dtype=None):
        super().__init__(losses.mean_squared_error, name, dtype)


class MeanAbsoluteError(MeanMetricWrapper):
    """Mean over samples of mean_j |y_true − y_pred|.

    Example: ``MeanAbsoluteError()([[1.]], [[3.]])`` is 2.0.
    """

    _direction = "down"

    def __init__(self, name="mean_absolute_error", dtype=None):
        super().__init__(losses.mean_absolute_error, name, dtype)


class BinaryCrossentropy(MeanMetricWrapper):
    """Mean binary cross-entropy, with the loss's clipping to [1e-7, 1 − 1e-7].

    Example: ``BinaryCrossentropy()([[1.]], [[0.5]])`` is log 2.
    """

    _direction = "down"

    def __init__(self, name="binary_crossentropy", dtype=None, from_logits=False,
                 label_smoothing=0.0):
        super().__init__(losses.binary_crossentropy, name, dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing)


class CategoricalCrossentropy(MeanMetricWrapper):
    """Mean categorical cross-entropy for one-hot labels.

    Example: ``CategoricalCrossentropy()([[0, 1]], [[0.5, 0.5]])`` is log 2.
    """

    _direction = "down"

    def __init__(self, name="categorical_crossentropy", dtype=None, from_logits=False,
                 label_smoothing=0.0):
        super().__init__(losses.categorical_crossentropy, name, dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing)


class SparseCategoricalCrossentropy(MeanMetricWrapper):
    """Mean categorical cross-entropy for integer labels.

    Example: ``SparseCategoricalCrossentropy()([1], [[0.5, 0.5]])`` is log 2.
    """

    _direction = "down"

    def __init__(self, name="sparse_categorical_crossentropy", dtype=None, from_logits=False):
        super().__init__(losses.sparse_categorical_crossentropy, name, dtype,
                         from_logits=from_logits)


class RootMeanSquaredError(Mean):
    """√(mean of (y_true − y_pred)²) over everything seen.

    Example: ``RootMeanSquaredError()([[0.], [0.]], [[3.], [4.]])`` is √12.5.
    """

    _direction = "down"

    def __init__(self, name="root_mean_squared_error", dtype=None):
        super().__init__(name, dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        super().update_state(losses.mean_squared_error(y_true, y_pred).data, sample_weight)

    def result(self):
        return float(np.sqrt(super().result()))


# ---- confusion-matrix metrics --------------------------------------------------------------------
def confusion_counts(thresholds, y_true, y_pred, sample_weight=None):
    """Weighted (tp, fp, tn, fn) at each threshold, predicting positive where y_pred > threshold.

    Labels are positive where non-zero; all elements are pooled (Keras's ``multi_label=False``).

    Example: ``confusion_counts([0.5], [1, 0, 1], [0.9, 0.7, 0.2])`` is
    ``([1.], [1.], [0.], [1.])``.
    """
    t, p = _same_rank(_np(y_true), _np(y_pred))
    if t.shape != p.shape:
        raise ShapeError(f"y_true and y_pred must have the same shape for a confusion-matrix "
                         f"metric, got {t.shape} and {p.shape}")
    w = np.ones_like(p) if sample_weight is None else np.broadcast_to(
        _same_rank(_np(sample_weight), p)[0], p.shape)
    pos = (t != 0).ravel()
    p, w = p.ravel(), w.ravel()
    order = np.argsort(p, kind="stable")
    p_sorted = p[order]
    cum_pos = np.r_[0.0, np.cumsum((w * pos)[order])]
    cum_neg = np.r_[0.0, np.cumsum((w * ~pos)[order])]
    below = np.searchsorted(p_sorted, thresholds, side="right")   # how many p <= threshold
    fn, tn = cum_pos[below], cum_neg[below]
    return cum_pos[-1] - fn, cum_neg[-1] - tn, tn, fn


class _Confusion(Metric):
    """Accumulates weighted tp/fp/tn/fn at ``self.thresholds`` (a 1-D array)."""

    _direction = "up"

    def reset_state(self):
        n = len(self.thresholds)
        self.true_positives, self.false_positives = np.zeros(n), np.zeros(n)
        self.true_negatives, self.false_negatives = np.zeros(n), np.zeros(n)

    def update_state(self, y_true, y_pred, sample_weight=None):
        tp, fp, tn, fn = confusion_counts(self.thresholds, y_true, self._scores(y_pred),
                                          sample_weight)
        self.true_positives += tp
        self.false_positives += fp
        self.true_negatives += tn
        self.false_negatives += fn

    def _scores(self, y_pred):
        return y_pred


class _ThresholdMetric(_Confusion):
    """Precision or recall at one threshold (a float) or several (a list gives a list)."""

    def __init__(self, thresholds=None, name=None, dtype=None):
        self._scalar = thresholds is None or np.ndim(thresholds) == 0
        self.thresholds = np.atleast_1d(np.asarray(0.5 if thresholds is None else thresholds,
                                                   dtype=np.float64))
        if np.any((self.thresholds < 0) | (self.thresholds > 1)):
            raise ConfigError(f"{type(self).__name__}: thresholds must be in [0, 1], got "
                              f"{thresholds!r}")
        super().__init__(name, dtype)

    def result(self):
        values = _divide_no_nan(self.true_positives, self.true_positives + self._other())
        return float(values[0]) if self._scalar else [float(v) for v in values]


class Precision(_ThresholdMetric):
    """TP / (TP + FP), predicting y_pred > threshold (0.5); 0 when nothing is predicted positive.

    Example: ``Precision()([0, 1, 1], [0.9, 0.8, 0.2])`` is 0.5.
    """

    def __init__(self, thresholds=None, name="precision", dtype=None):
        super().__init__(thresholds, name, dtype)

    def _other(self):
        return self.false_positives


class Recall(_ThresholdMetric):
    """TP / (TP + FN) (sensitivity) with predictions y_pred > threshold (0.5); 0 without positives.

    Example: ``Recall()([0, 1, 1], [0.9, 0.8, 0.2])`` is 0.5.
    """

    def __init__(self, thresholds=None, name="recall", dtype=None):
        super().__init__(thresholds, name, dtype)

    def _other(self):
        return self.false_negatives


class AUC(_Confusion):
    """Area under the ROC (or precision-recall) curve, estimated at fixed thresholds as Keras.

    The thresholds are ``[−ε, 1/(T−1), 2/(T−1), ..., (T−2)/(T−1), 1 + ε]`` (T = num_thresholds,
    ε = 1e-7); the curve through the (FPR, TPR) points they give is integrated with the
    trapezoidal rule (``summation_method="interpolation"``), or with lower/upper rectangles
    (``"minoring"``/``"majoring"``).  For PR with interpolation, Davis & Goadrich's interpolation
    is used.  The estimate approaches the exact rank AUC (``chainrule.metrics.roc_auc_score``) as
    T grows; ties between scores in one threshold bucket count one half.

    Example::

        >>> AUC()([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
        0.75
    """

    def __init__(self, num_thresholds=200, curve="ROC", summation_method="interpolation",
                 name="auc", dtype=None, thresholds=None, multi_label=False, num_labels=None,
                 label_weights=None, from_logits=False):
        if curve not in ("ROC", "PR"):
            raise ConfigError(f"AUC: curve must be 'ROC' or 'PR', got {curve!r}")
        if summation_method not in ("interpolation", "minoring", "majoring"):
            raise ConfigError(f"AUC: summation_method must be 'interpolation', 'minoring' or "
                              f"'majoring', got {summation_method!r}")
        if multi_label or label_weights is not None:
            raise ConfigError("AUC: multi_label=True and label_weights are not supported; all "
                              "labels are pooled")
        if thresholds is not None:
            inner = np.sort(np.asarray(thresholds, dtype=np.float64))
            num_thresholds = len(inner) + 2
        else:
            if num_thresholds <= 1:
                raise ConfigError(f"AUC: num_thresholds must be > 1, got {num_thresholds}")
            inner = np.arange(1, num_thresholds - 1) / (num_thresholds - 1.0)
        self.num_thresholds = num_thresholds
        self.thresholds = np.r_[0.0 - EPSILON, inner, 1.0 + EPSILON]
        self.curve, self.summation_method = curve, summation_method
        self.from_logits = from_logits
        super().__init__(name, dtype)

    def _scores(self, y_pred):
        return 1.0 / (1.0 + np.exp(-_np(y_pred))) if self.from_logits else y_pred

    def result(self):
        tp, fp, tn, fn = (self.true_positives, self.false_positives, self.true_negatives,
                          self.false_negatives)
        if self.curve == "PR" and self.summation_method == "interpolation":
            return self._interpolate_pr_auc()
        recall = _divide_no_nan(tp, tp + fn)
        if self.curve == "ROC":
            x, y = _divide_no_nan(fp, fp + tn), recall
        else:
            x, y = recall, _divide_no_nan(tp, tp + fp)
        if self.summation_method == "interpolation":
            heights = (y[:-1] + y[1:]) / 2.0
        elif self.summation_method == "minoring":
            heights = np.minimum(y[:-1], y[1:])
        else:
            heights = np.maximum(y[:-1], y[1:])
        return float(np.sum((x[:-1] - x[1:]) * heights))

    def _interpolate_pr_auc(self):
        tp, fp, fn = self.true_positives, self.false_positives, self.false_negatives
        dtp = tp[:-1] - tp[1:]
        p = tp + fp
        dp = p[:-1] - p[1:]
        slope = _divide_no_nan(dtp, np.maximum(dp, 0))
        intercept = tp[1:] - slope * p[1:]
        both = (p[:-1] > 0) & (p[1:] > 0)
        ratio = np.where(both, _divide_no_nan(p[:-1], np.maximum(p[1:], 0)), 1.0)
        terms = slope * (dtp + intercept * np.log(ratio))
        return float(np.sum(_divide_no_nan(terms, np.maximum(tp[1:] + fn[1:], 0))))


# ---- lookup --------------------------------------------------------------------------------------
CLASSES = {cls.__name__: cls for cls in (
    Mean, Accuracy, BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy,
    MeanSquaredError, MeanAbsoluteError, RootMeanSquaredError, Precision, Recall, AUC,
    BinaryCrossentropy, CategoricalCrossentropy, SparseCategoricalCrossentropy)}
NAMES = {
    "accuracy": Accuracy, "acc": Accuracy, "binary_accuracy": BinaryAccuracy,
    "categorical_accuracy": CategoricalAccuracy,
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "mse": MeanSquaredError, "MSE": MeanSquaredError, "mean_squared_error": MeanSquaredError,
    "mae": MeanAbsoluteError, "MAE": MeanAbsoluteError, "mean_absolute_error": MeanAbsoluteError,
    "root_mean_squared_error": RootMeanSquaredError, "auc": AUC, "precision": Precision,
    "recall": Recall, "binary_crossentropy": BinaryCrossentropy,
    "bce": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    **CLASSES,
}


def get(identifier):
    """A fresh metric for a name (named as given, as Keras's ``compile`` does), or a Metric as is.

    A plain function ``fn(y_true, y_pred)`` returning per-sample values is wrapped in a
    :class:`MeanMetricWrapper` named after it.

    Example: ``get("mse").name == "mse"``; ``get("acuracy")`` raises "... Did you mean
    'accuracy'? ...".
    """
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, str):
        metric = lookup("metric", identifier, NAMES)()
        metric.name = identifier
        return metric
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if callable(identifier):
        return MeanMetricWrapper(identifier)
    raise ConfigError(f"Could not interpret metric identifier: {identifier!r} (expected a name "
                      f"such as 'accuracy', a keras Metric, or a function fn(y_true, y_pred))")


def for_output(identifier, y_true, y_pred):
    """Resolve a compile-time metric for one output, picking the accuracy kind as Keras 3.

    ``"accuracy"``/``"acc"`` becomes BinaryAccuracy when y_pred's last axis has 1 unit,
    SparseCategoricalAccuracy when y_true has a lower rank (or a last axis of 1) than y_pred,
    else CategoricalAccuracy; the metric keeps the name given.

    Example: ``for_output("accuracy", y, probs_n_by_1)`` is a BinaryAccuracy named "accuracy".
    """
    if not (isinstance(identifier, str) and identifier.lower() in ("accuracy", "acc")):
        return get(identifier)
    t, p = np.shape(y_true), np.shape(y_pred)
    if p[-1:] == (1,):
        cls = BinaryAccuracy
    elif len(t) < len(p) or (t[-1:] == (1,) and p[-1] > 1):
        cls = SparseCategoricalAccuracy
    else:
        cls = CategoricalAccuracy
    return cls(name=identifier)
