"""Probabilistic metrics: the mean cross-entropies, with the losses' clipping (ε = 1e-7).

Example::

    >>> round(BinaryCrossentropy()([[1.]], [[0.5]]), 6)   # log 2
    0.693147
"""
from chainrule.keras import losses
from chainrule.keras.metrics.metric import MeanMetricWrapper

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
