"""Keras's ``Loss`` classes: a per-sample function with its arguments, reduced with sample weights.

Each class is Keras 3's, with its name, arguments and defaults (``reduction="sum_over_batch_size"``
and the snake-case ``name``); ``LossClass()(y_true, y_pred, sample_weight)`` is the reduced loss
and ``get_config()`` rebuilds it (``from_config``). The formulas are in
:mod:`chainrule.keras.losses.functions`.

Example::

    >>> KLDivergence()([[0.5, 0.5]], cr.tensor([[0.25, 0.75]]))
    tensor(0.1438)
"""
from chainrule.keras.losses import functions as fn
from chainrule.keras.losses.loss import LossFunctionWrapper, check_axis

class MeanSquaredError(LossFunctionWrapper):
    """Mean of squared errors: Σᵢ mean_j (yᵢⱼ − ŷᵢⱼ)² / n.

    Example: ``MeanSquaredError()([[1.]], cr.tensor([[3.]]))`` is ``tensor(4.)``.
    """

    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_error", dtype=None):
        super().__init__(fn.mean_squared_error, name, reduction, dtype)


class MeanAbsoluteError(LossFunctionWrapper):
    """Mean of absolute errors.

    Example: ``MeanAbsoluteError()([[1.]], cr.tensor([[3.]]))`` is ``tensor(2.)``.
    """

    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_error", dtype=None):
        super().__init__(fn.mean_absolute_error, name, reduction, dtype)


class Huber(LossFunctionWrapper):
    """Huber loss with threshold *delta*: quadratic near zero, linear beyond δ.

    Example: ``Huber(delta=1.0)([[0.]], cr.tensor([[3.]]))`` is ``tensor(2.5)``.
    """

    def __init__(self, delta=1.0, reduction="sum_over_batch_size", name="huber_loss", dtype=None):
        super().__init__(fn.huber, name, reduction, dtype, delta=delta)


class BinaryCrossentropy(LossFunctionWrapper):
    """Binary cross-entropy for 0/1 labels and probabilities (or logits with *from_logits*).

    Example: ``BinaryCrossentropy()([[1.], [0.]], cr.tensor([[0.9], [0.2]]))`` is
    ``(−log 0.9 − log 0.8) / 2``.
    """

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="binary_crossentropy", dtype=None):
        check_axis(axis, name)
        super().__init__(fn.binary_crossentropy, name, reduction, dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing)


class CategoricalCrossentropy(LossFunctionWrapper):
    """Cross-entropy for one-hot labels and class probabilities (or logits with *from_logits*).

    Example: ``CategoricalCrossentropy()([[0., 1.]], cr.tensor([[0.2, 0.8]]))`` is ``−log 0.8``.
    """

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="categorical_crossentropy", dtype=None):
        check_axis(axis, name)
        super().__init__(fn.categorical_crossentropy, name, reduction, dtype,
                         from_logits=from_logits, label_smoothing=label_smoothing)


class SparseCategoricalCrossentropy(LossFunctionWrapper):
    """Cross-entropy for integer class labels and class probabilities (or logits).

    Example: ``SparseCategoricalCrossentropy()([1], cr.tensor([[0.2, 0.8]]))`` is ``−log 0.8``.
    """

    def __init__(self, from_logits=False, reduction="sum_over_batch_size",
                 name="sparse_categorical_crossentropy", dtype=None):
        super().__init__(fn.sparse_categorical_crossentropy, name, reduction, dtype,
                         from_logits=from_logits)


class Hinge(LossFunctionWrapper):
    """Hinge loss max(1 − y·ŷ, 0) for labels −1/1 (or 0/1).

    Example: ``Hinge()([[1.]], cr.tensor([[0.3]]))`` is ``tensor(0.7)``.
    """

    def __init__(self, reduction="sum_over_batch_size", name="hinge", dtype=None):
        super().__init__(fn.hinge, name, reduction, dtype)


class SquaredHinge(LossFunctionWrapper):
    """Squared hinge loss max(1 − y·ŷ, 0)² for labels −1/1 (or 0/1).

    Example: ``SquaredHinge()([[1.]], cr.tensor([[0.3]]))`` is ``tensor(0.49)``.
    """

    def __init__(self, reduction="sum_over_batch_size", name="squared_hinge", dtype=None):
        super().__init__(fn.squared_hinge, name, reduction, dtype)


class CategoricalHinge(LossFunctionWrapper):
    """Categorical hinge loss max(max((1 − y)·ŷ) − Σ y·ŷ + 1, 0) for one-hot labels.

    Example: ``CategoricalHinge()([[0., 1.]], cr.tensor([[0.3, 0.6]]))`` is ``tensor(0.7)``.
    """

    def __init__(self, reduction="sum_over_batch_size", name="categorical_hinge", dtype=None):
        super().__init__(fn.categorical_hinge, name, reduction, dtype)


class KLDivergence(LossFunctionWrapper):
    """Kullback-Leibler divergence Σ y log(y / ŷ), both clipped to [1e-7, 1].

    Example: ``KLDivergence()([[0.5, 0.5]], cr.tensor([[0.25, 0.75]]))`` is ``tensor(0.1438)``.
    """

    def __init__(self, reduction="sum_over_batch_size", name="kl_divergence", dtype=None):
        super().__init__(fn.kl_divergence, name, reduction, dtype)


class Poisson(LossFunctionWrapper):
    """Poisson loss mean(ŷ − y log(ŷ + 1e-7)), for counts predicted as rates ŷ > 0.

    Example: ``Poisson()([[1.]], cr.tensor([[1.]]))`` is ``tensor(1.)``.
    """

    def __init__(self, reduction="sum_over_batch_size", name="poisson", dtype=None):
        super().__init__(fn.poisson, name, reduction, dtype)


class LogCosh(LossFunctionWrapper):
    """Logarithm of the hyperbolic cosine of the error, mean(log cosh(ŷ − y)).

    Example: ``LogCosh()([[0., 1.], [0., 0.]], cr.tensor([[1., 1.], [0., 0.]]))`` is ``tensor(0.1084)``.
    """

    def __init__(self, reduction="sum_over_batch_size", name="log_cosh", dtype=None):
        super().__init__(fn.log_cosh, name, reduction, dtype)


class MeanAbsolutePercentageError(LossFunctionWrapper):
    """100 · mean(|y − ŷ| / max(|y|, 1e-7)).

    Example: ``MeanAbsolutePercentageError()([[2., 4.]], cr.tensor([[1., 5.]]))`` is ``tensor(37.5)``.
    """

    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_percentage_error",
                 dtype=None):
        super().__init__(fn.mean_absolute_percentage_error, name, reduction, dtype)


class MeanSquaredLogarithmicError(LossFunctionWrapper):
    """mean((log(max(ŷ, 1e-7) + 1) − log(max(y, 1e-7) + 1))²).

    Example: ``MeanSquaredLogarithmicError()([[0.]], cr.tensor([[1.7183]]))`` is about ``tensor(1.)``.
    """

    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_logarithmic_error",
                 dtype=None):
        super().__init__(fn.mean_squared_logarithmic_error, name, reduction, dtype)


class CosineSimilarity(LossFunctionWrapper):
    """−Σ normalize(y)·normalize(ŷ) along *axis*: −1 when prediction and target point the same way.

    Example: ``CosineSimilarity()([[0., 1.]], cr.tensor([[1., 1.]]))`` is ``tensor(-0.7071)``.
    """

    def __init__(self, axis=-1, reduction="sum_over_batch_size", name="cosine_similarity",
                 dtype=None):
        super().__init__(fn.cosine_similarity, name, reduction, dtype, axis=axis)
