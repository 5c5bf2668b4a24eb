"""F-scores: the weighted harmonic mean of precision and recall, per class or averaged (Keras 3's).

    F_β = (1 + β²) · precision · recall / (β² · precision + recall)

with precision = TP / (TP + FP + ε) and recall = TP / (TP + FN + ε), ε = 1e-7, counted per class
(column) of ``(batch, classes)`` inputs. A score is 1 where y_pred > *threshold*, or, with
``threshold=None``, at each row's largest score. ``average``: None (a list, one score per class),
``"micro"`` (counts pooled over classes), ``"macro"`` (the mean over classes) or ``"weighted"``
(weighted by each class's number of true instances).

Example::

    >>> m = F1Score(threshold=0.5)
    >>> m.update_state([[1, 1, 1], [1, 0, 0], [1, 1, 0]],
    ...                [[0.2, 0.6, 0.7], [0.2, 0.6, 0.6], [0.6, 0.8, 0.0]])
    >>> [round(v, 4) for v in m.result()]
    [0.5, 0.8, 0.6667]
"""
import numpy as np

from chainrule.errors import ConfigError, ShapeError
from chainrule.keras.metrics.metric import Metric, as_array

EPSILON = 1e-7


class FBetaScore(Metric):
    """F-β score of multi-class or multi-label predictions (see the module docstring).

    Args:
        average: None (default), "micro", "macro" or "weighted".
        beta: the weight of recall (a float > 0, default 1.0).
        threshold: predictions above it count as 1 (a float in (0, 1]); None takes each row's
            maximum.

    Example: ``FBetaScore(beta=2.0, threshold=0.5)`` on the module's data gives
    ``[0.3846, 0.9091, 0.8333]``.
    """

    _direction = "up"

    def __init__(self, average=None, beta=1.0, threshold=None, name="fbeta_score", dtype=None):
        where = type(self).__name__
        if average not in (None, "micro", "macro", "weighted"):
            raise ConfigError(f"{where}: invalid `average` argument value. Expected one of: "
                              f"{{None, 'micro', 'macro', 'weighted'}}. Received: "
                              f"average={average!r}")
        if not isinstance(beta, float) or not beta > 0.0:
            raise ConfigError(f"{where}: invalid `beta` argument value. It should be a Python "
                              f"float > 0. Received: beta={beta!r}")
        if threshold is not None and (not isinstance(threshold, float)
                                      or not 0.0 < threshold <= 1.0):
            raise ConfigError(f"{where}: invalid `threshold` argument value. It should be a "
                              f"Python float with 0 < threshold <= 1. Received: "
                              f"threshold={threshold!r}")
        self.average, self.beta, self.threshold = average, beta, threshold
        super().__init__(name, dtype)

    def reset_state(self):
        self.true_positives = self.false_positives = None
        self.false_negatives = self.intermediate_weights = None

    def update_state(self, y_true, y_pred, sample_weight=None):
        t, p = as_array(y_true), as_array(y_pred)
        if t.ndim != 2 or p.ndim != 2 or t.shape != p.shape:
            raise ShapeError(f"{type(self).__name__} expects 2D inputs with shape (batch_size, "
                             f"output_dim). Received input shapes: y_pred.shape={p.shape} and "
                             f"y_true.shape={t.shape}")
        if self.threshold is None:
            pred = (p >= p.max(axis=-1, keepdims=True)) & (np.abs(p) > 1e-9)
        else:
            pred = p > self.threshold
        pred = pred.astype(np.float64)
        w = None if sample_weight is None else as_array(sample_weight).reshape(-1, 1)
        axis = None if self.average == "micro" else 0

        def weighted_sum(values):
            return (values if w is None else values * w).sum(axis=axis)

        parts = (weighted_sum(pred * t), weighted_sum(pred * (1 - t)),
                 weighted_sum((1 - pred) * t), weighted_sum(t))
        if self.true_positives is None:
            self.true_positives, self.false_positives, self.false_negatives, \
                self.intermediate_weights = (np.zeros_like(np.asarray(v)) for v in parts)
        elif np.shape(parts[0]) != np.shape(self.true_positives):
            raise ShapeError(f"{type(self).__name__}: the metric was built for "
                             f"{np.size(self.true_positives)} classes, received {p.shape[-1]}")
        self.true_positives = self.true_positives + parts[0]
        self.false_positives = self.false_positives + parts[1]
        self.false_negatives = self.false_negatives + parts[2]
        self.intermediate_weights = self.intermediate_weights + parts[3]

    def result(self):
        if self.true_positives is None:
            return 0.0
        tp = self.true_positives
        precision = tp / (tp + self.false_positives + EPSILON)
        recall = tp / (tp + self.false_negatives + EPSILON)
        b2 = self.beta ** 2
        score = precision * recall / (b2 * precision + recall + EPSILON) * (1 + b2)
        if self.average == "weighted":
            weights = self.intermediate_weights / (np.sum(self.intermediate_weights) + EPSILON)
            return float(np.sum(score * weights))
        if self.average is not None:
            return float(np.mean(score))
        return [float(v) for v in np.atleast_1d(score)]


class F1Score(FBetaScore):
    """F-1 score, 2 · precision · recall / (precision + recall): ``FBetaScore`` with β = 1.

    Example: ``F1Score(threshold=0.5)`` on the module's data gives ``[0.5, 0.8, 0.6667]``.
    """

    def __init__(self, average=None, threshold=None, name="f1_score", dtype=None):
        super().__init__(average=average, beta=1.0, threshold=threshold, name=name, dtype=dtype)
