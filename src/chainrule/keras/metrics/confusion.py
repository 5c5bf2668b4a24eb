"""Confusion-matrix metrics: counts at thresholds, precision, recall, AUC and their trade-offs.

A prediction counts as positive where y_pred > threshold (Keras's rule); labels are positive where
non-zero, and all elements are pooled (Keras's ``multi_label=False``). Counts are weighted by
``sample_weight`` and accumulate over batches.

Example::

    >>> m = AUC()
    >>> m.update_state([0, 1, 1, 0], [0.1, 0.8, 0.6, 0.3])
    >>> m.result()
    1.0
"""
import numpy as np

from chainrule.errors import ConfigError, ShapeError
from chainrule.keras.metrics.metric import (Metric, as_array, as_result, divide_no_nan,
                                            same_rank)
from chainrule.keras.utils import non_negative_int, positive_int

EPSILON = 1e-7

def confusion_counts(thresholds, y_true, y_pred, sample_weight=None):
    """Weighted (tp, fp, tn, fn) at each threshold, predicting positive where y_pred > threshold.

    Labels are positive where non-zero; all elements are pooled (Keras's ``multi_label=False``).

    Example: ``confusion_counts([0.5], [1, 0, 1], [0.9, 0.7, 0.2])`` is
    ``([1.], [1.], [0.], [1.])``.
    """
    t, p = same_rank(as_array(y_true), as_array(y_pred))
    if t.shape != p.shape:
        raise ShapeError(f"y_true and y_pred must have the same shape for a confusion-matrix "
                         f"metric, got {t.shape} and {p.shape}")
    w = np.ones_like(p) if sample_weight is None else np.broadcast_to(
        same_rank(as_array(sample_weight), p)[0], p.shape)
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
    """Counts at one threshold (a float) or several (a list gives a list), default 0.5."""

    def __init__(self, thresholds=None, name=None, dtype=None):
        self._scalar = thresholds is None or np.ndim(thresholds) == 0
        self._thresholds_arg = thresholds
        self.thresholds = np.atleast_1d(np.asarray(0.5 if thresholds is None else thresholds,
                                                   dtype=np.float64))
        if self.thresholds.ndim != 1 or np.any((self.thresholds < 0) | (self.thresholds > 1)):
            raise ConfigError(f"{type(self).__name__}: thresholds must be in [0, 1], got "
                              f"{thresholds!r}")
        super().__init__(name, dtype)

    def get_config(self):
        thresholds = self._thresholds_arg
        if isinstance(thresholds, np.ndarray):
            thresholds = thresholds.tolist()
        return {"thresholds": thresholds, "name": self.name, "dtype": self.dtype}

    def result(self):
        values = divide_no_nan(self.true_positives, self.true_positives + self._other())
        return as_result(values, self._scalar)


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
        self._thresholds_arg = None if thresholds is None else [float(t) for t in inner]
        super().__init__(name, dtype)

    def get_config(self):
        return {"num_thresholds": self.num_thresholds, "curve": self.curve,
                "summation_method": self.summation_method, "name": self.name,
                "dtype": self.dtype, "thresholds": self._thresholds_arg,
                "from_logits": self.from_logits}

    def _scores(self, y_pred):
        return 1.0 / (1.0 + np.exp(-as_array(y_pred))) if self.from_logits else y_pred

    def result(self):
        tp, fp, tn, fn = (self.true_positives, self.false_positives, self.true_negatives,
                          self.false_negatives)
        if self.curve == "PR" and self.summation_method == "interpolation":
            return self._interpolate_pr_auc()
        recall = divide_no_nan(tp, tp + fn)
        if self.curve == "ROC":
            x, y = divide_no_nan(fp, fp + tn), recall
        else:
            x, y = recall, divide_no_nan(tp, tp + fp)
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
        slope = divide_no_nan(dtp, np.maximum(dp, 0))
        intercept = tp[1:] - slope * p[1:]
        both = (p[:-1] > 0) & (p[1:] > 0)
        ratio = np.where(both, divide_no_nan(p[:-1], np.maximum(p[1:], 0)), 1.0)
        terms = slope * (dtp + intercept * np.log(ratio))
        return float(np.sum(divide_no_nan(terms, np.maximum(tp[1:] + fn[1:], 0))))


class _ConditionCount(_ThresholdMetric):
    """The weighted number of samples in one cell of the confusion matrix, per threshold."""

    _direction = None
    _cell = None

    def result(self):
        return as_result(getattr(self, self._cell), self._scalar)


class TruePositives(_ConditionCount):
    """The weighted count of positives predicted positive (y_pred > threshold, default 0.5).

    Example: ``TruePositives()([0, 1, 1, 1], [1, 0, 1, 1])`` is 2.0.
    """

    _cell = "true_positives"


class FalsePositives(_ConditionCount):
    """The weighted count of negatives predicted positive (y_pred > threshold, default 0.5).

    Example: ``FalsePositives()([0, 1, 0, 0], [0, 0, 1, 1])`` is 2.0.
    """

    _cell = "false_positives"


class TrueNegatives(_ConditionCount):
    """The weighted count of negatives predicted negative (y_pred ≤ threshold, default 0.5).

    Example: ``TrueNegatives()([0, 1, 0, 0], [1, 1, 0, 0])`` is 2.0.
    """

    _cell = "true_negatives"


class FalseNegatives(_ConditionCount):
    """The weighted count of positives predicted negative (y_pred ≤ threshold, default 0.5).

    Example: ``FalseNegatives()([0, 1, 1, 1], [0, 1, 0, 0])`` is 2.0.
    """

    _cell = "false_negatives"


class _AtConstraint(_Confusion):
    """Counts at *num_thresholds* evenly spaced thresholds 0, 1/(T−1), ..., 1, as Keras 3.

    At threshold 0 every prediction counts as positive (Keras's bucketed counting); above it,
    a prediction is positive when it exceeds the threshold. *class_id* picks one column of
    multi-class outputs.
    """

    _direction = "up"

    def __init__(self, value, value_name, num_thresholds=200, class_id=None, name=None,
                 dtype=None):
        where = type(self).__name__
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) \
                or not 0 <= value <= 1:
            raise ConfigError(f"{where}: argument `{value_name}` must be in the range [0, 1]. "
                              f"Received: {value_name}={value!r}")
        self.num_thresholds = positive_int(num_thresholds, "num_thresholds", where)
        if class_id is not None:
            class_id = non_negative_int(class_id, "class_id", where)
        self.class_id = class_id
        if self.num_thresholds == 1:
            self.thresholds = np.array([0.5])
            self._counted = self.thresholds
        else:
            inner = [(i + 1) * 1.0 / (self.num_thresholds - 1)
                     for i in range(self.num_thresholds - 2)]
            self.thresholds = np.array([0.0] + inner + [1.0])
            self._counted = np.r_[-np.inf, self.thresholds[1:]]
        super().__init__(name, dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        if self.class_id is not None:
            t, p = as_array(y_true), as_array(y_pred)
            if p.ndim == 0 or not self.class_id < p.shape[-1]:
                raise ShapeError(f"{type(self).__name__}: class_id={self.class_id} is out of "
                                 f"range for predictions of shape {p.shape}")
            y_true, y_pred = t[..., self.class_id], p[..., self.class_id]
        tp, fp, tn, fn = confusion_counts(self._counted, y_true, y_pred, sample_weight)
        self.true_positives += tp
        self.false_positives += fp
        self.true_negatives += tn
        self.false_negatives += fn

    def _best(self, constrained, dependent, value):
        feasible = constrained >= value
        return float(dependent[feasible].max()) if feasible.any() else 0.0


class PrecisionAtRecall(_AtConstraint):
    """The best precision among thresholds whose recall is at least *recall*.

    Example: ``PrecisionAtRecall(0.5)([0, 0, 0, 1, 1], [0, 0.3, 0.8, 0.3, 0.8])`` is 0.5.
    """

    def __init__(self, recall, num_thresholds=200, class_id=None, name=None, dtype=None):
        self.recall = recall
        super().__init__(recall, "recall", num_thresholds, class_id, name, dtype)

    def result(self):
        tp = self.true_positives
        recalls = divide_no_nan(tp, tp + self.false_negatives)
        precisions = divide_no_nan(tp, tp + self.false_positives)
        return self._best(recalls, precisions, self.recall)


class RecallAtPrecision(_AtConstraint):
    """The best recall among thresholds whose precision is at least *precision* (0 if none).

    Example: ``RecallAtPrecision(0.8)([0, 0, 1, 1], [0, 0.5, 0.3, 0.9])`` is 0.5.
    """

    def __init__(self, precision, num_thresholds=200, class_id=None, name=None, dtype=None):
        self.precision = precision
        super().__init__(precision, "precision", num_thresholds, class_id, name, dtype)

    def result(self):
        tp = self.true_positives
        recalls = divide_no_nan(tp, tp + self.false_negatives)
        precisions = divide_no_nan(tp, tp + self.false_positives)
        return self._best(precisions, recalls, self.precision)
