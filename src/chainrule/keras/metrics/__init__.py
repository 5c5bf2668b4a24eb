"""Keras metrics: stateful accumulators with ``update_state``, ``result`` and ``reset_state``.

A metric sums over batches and reports the value over everything seen since the last reset, so
an epoch's accuracy is the accuracy of the whole epoch, not the mean of batch accuracies.
Metrics work on NumPy arrays (tensors are read without their graph); sample weights weight each
sample. Names and defaults follow Keras 3: ``"accuracy"`` in ``compile`` becomes
:class:`BinaryAccuracy` when the model has one output unit, :class:`SparseCategoricalAccuracy`
for integer labels against several units, else :class:`CategoricalAccuracy` (see
:func:`for_output`). Names are resolved through the one registry
(:mod:`chainrule.keras.registry`).

Example::

    >>> m = AUC()
    >>> m.update_state([0, 1, 1, 0], [0.1, 0.8, 0.6, 0.3])
    >>> m.result()
    1.0
"""
import numpy as np

from chainrule.keras.metrics.accuracy import (Accuracy, BinaryAccuracy, CategoricalAccuracy,
                                              SparseCategoricalAccuracy, TopKCategoricalAccuracy,
                                              accuracy, binary_accuracy, categorical_accuracy,
                                              sparse_categorical_accuracy,
                                              top_k_categorical_accuracy)
from chainrule.keras.metrics.confusion import (AUC, FalseNegatives, FalsePositives, Precision,
                                               PrecisionAtRecall, Recall, RecallAtPrecision,
                                               TrueNegatives, TruePositives, confusion_counts)
from chainrule.keras.metrics.f_score import F1Score, FBetaScore
from chainrule.keras.metrics.metric import Mean, MeanMetricWrapper, Metric
from chainrule.keras.metrics.probabilistic import (BinaryCrossentropy, CategoricalCrossentropy,
                                                   SparseCategoricalCrossentropy)
from chainrule.keras.metrics.regression import (MeanAbsoluteError, MeanSquaredError, R2Score,
                                                RootMeanSquaredError)
from chainrule.keras.registry import METRICS, uninterpretable
from chainrule.keras.utils import snake_case

EPSILON = 1e-7

CLASSES = {cls.__name__: cls for cls in (
    Mean, Accuracy, BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy,
    TopKCategoricalAccuracy, MeanSquaredError, MeanAbsoluteError, RootMeanSquaredError, R2Score,
    Precision, Recall, AUC, TruePositives, FalsePositives, TrueNegatives, FalseNegatives,
    PrecisionAtRecall, RecallAtPrecision, F1Score, FBetaScore, BinaryCrossentropy,
    CategoricalCrossentropy, SparseCategoricalCrossentropy)}
NAMES = {
    **CLASSES,
    "accuracy": Accuracy, "acc": Accuracy,
    "mse": MeanSquaredError, "MSE": MeanSquaredError,
    "mae": MeanAbsoluteError, "MAE": MeanAbsoluteError,
    "auc": AUC, "bce": BinaryCrossentropy, "BCE": BinaryCrossentropy,
    **{snake_case(name): cls for name, cls in CLASSES.items()},
}
for _name, _cls in NAMES.items():      # class names first: they are the names configs use
    METRICS.add(_cls, _name)


def get(identifier):
    """A fresh metric for a name (named as given, as Keras's ``compile`` does), a config dict, or
    a Metric as is.

    A plain function ``fn(y_true, y_pred)`` returning per-sample values is wrapped in a
    :class:`MeanMetricWrapper` named after it.

    Example: ``get("mse").name == "mse"``; ``get("acuracy")`` raises "Unknown metric:
    'acuracy'. Did you mean 'accuracy'? ...".
    """
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, str):
        metric = METRICS.lookup(identifier)()
        metric.name = identifier
        return metric
    if isinstance(identifier, dict):
        return METRICS.deserialize(identifier)
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if callable(identifier):
        return MeanMetricWrapper(identifier)
    raise uninterpretable("metric", identifier, "a name such as 'accuracy', a keras Metric, or a "
                          "function fn(y_true, y_pred)")


def serialize(metric):
    """A metric as saved in a config: a name stays a name, a built-in ``Metric`` becomes
    ``{"class_name", "config"}``; a ``ConfigError`` for anything else.

    Example: ``serialize(F1Score(average="macro"))["config"]["average"]`` is ``"macro"``.
    """
    if isinstance(metric, str):
        METRICS.lookup(metric)
        return metric
    return METRICS.serialize(metric)


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


__all__ = sorted([*CLASSES, "MeanMetricWrapper", "Metric", "accuracy", "binary_accuracy",
                  "categorical_accuracy", "confusion_counts", "for_output", "get", "serialize",
                  "sparse_categorical_accuracy", "top_k_categorical_accuracy"])
