"""Accuracy metrics: how often predictions match labels, as Keras 3 counts it.

``"accuracy"`` in ``compile`` becomes :class:`BinaryAccuracy` when the model has one output unit,
:class:`SparseCategoricalAccuracy` for integer labels against several units, else
:class:`CategoricalAccuracy` (see ``metrics.for_output``). :class:`TopKCategoricalAccuracy` counts
a sample right when its class is among the k highest scores (ties at the k-th score count in).

Example::

    >>> BinaryAccuracy()([1, 0], [0.7, 0.6])
    0.5
"""
import numpy as np

from chainrule.errors import ShapeError
from chainrule.keras.metrics.metric import MeanMetricWrapper, as_array, same_rank
from chainrule.keras.utils import positive_int


# ---- per-sample functions ------------------------------------------------------------------------
def accuracy(y_true, y_pred):
    """1 where y_pred equals y_true exactly, else 0 (per element).

    Example: ``accuracy([1, 2], [1, 3])`` is ``[1., 0.]``.
    """
    t, p = same_rank(as_array(y_true), as_array(y_pred))
    return (t == p).astype(np.float64)


def binary_accuracy(y_true, y_pred, threshold=0.5):
    """1 where (y_pred > threshold) equals the 0/1 label, else 0 (per element).

    Example: ``binary_accuracy([1, 0], [0.7, 0.6])`` is ``[1., 0.]``.
    """
    t, p = same_rank(as_array(y_true), as_array(y_pred))
    return (t == (p > threshold)).astype(np.float64)


def categorical_accuracy(y_true, y_pred):
    """1 where argmax(y_pred) equals argmax(y_true) (one-hot labels), else 0 (per sample).

    Example: ``categorical_accuracy([[0, 1]], [[0.3, 0.7]])`` is ``[1.]``.
    """
    return (as_array(y_true).argmax(-1) == as_array(y_pred).argmax(-1)).astype(np.float64)


def sparse_categorical_accuracy(y_true, y_pred):
    """1 where argmax(y_pred) equals the integer label, else 0 (per sample).

    Example: ``sparse_categorical_accuracy([0], [[0.3, 0.7]])`` is ``[0.]``.
    """
    t, p = as_array(y_true), as_array(y_pred)
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


def top_k_categorical_accuracy(y_true, y_pred, k=5):
    """1 where the one-hot label's class has one of the *k* highest scores, else 0 (per sample).

    A class tied with the k-th highest score counts as in the top k (Keras's ``in_top_k``).
    Example: ``top_k_categorical_accuracy([[0, 0, 1]], [[0.5, 0.3, 0.2]], k=2)`` is ``[0.]``.
    """
    t, p = as_array(y_true), as_array(y_pred)
    if t.shape != p.shape or p.ndim < 1:
        raise ShapeError(f"top_k_categorical_accuracy: y_true (one-hot) and y_pred must have the "
                         f"same shape, got {t.shape} and {p.shape}")
    labels = t.argmax(-1)
    scores = p.reshape(-1, p.shape[-1])
    target = np.take_along_axis(scores, labels.reshape(-1, 1), axis=-1)[:, 0]
    kth = -np.sort(-scores, axis=-1)[:, min(k, scores.shape[-1]) - 1]
    return (target >= kth).astype(np.float64).reshape(labels.shape)


class TopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the one-hot label's class is among the *k* (default 5) highest scores.

    Example: ``TopKCategoricalAccuracy(k=1)`` on one-hot ``[[0, 0, 1], [0, 1, 0]]`` and scores
    ``[[0.1, 0.9, 0.8], [0.05, 0.95, 0]]`` is 0.5.
    """

    _direction = "up"

    def __init__(self, k=5, name="top_k_categorical_accuracy", dtype=None):
        super().__init__(top_k_categorical_accuracy, name, dtype,
                         k=positive_int(k, "k", "TopKCategoricalAccuracy"))
