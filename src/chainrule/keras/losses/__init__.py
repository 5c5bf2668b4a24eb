"""Keras losses: per-sample functions and ``Loss`` classes, with Keras 3's names and reductions.

A loss *function* (``binary_crossentropy(y_true, y_pred)``) returns one value per sample, the mean
over the last axis; a ``Loss`` *object* (``BinaryCrossentropy()``) reduces those values to a scalar
with optional sample weights, by default Keras 3's ``"sum_over_batch_size"``::

    loss = Σᵢ wᵢ · lᵢ / n          (n samples; w = 1 when no sample_weight is given)

so a weight of 2 counts a sample twice in the numerator only: the loss of a batch with one row
weighted 2 equals the loss of the batch with that row duplicated, times n / (n + 1).
Probabilities are clipped to [ε, 1 − ε] with ε = 1e-7 before the log, as Keras does.
Arguments come in Keras's order, ``(y_true, y_pred)``; ``y_pred`` keeps its graph, so the result
can be backpropagated. ``get`` resolves names (``"mse"``, ``"kld"``, ``"CosineSimilarity"``) through
the one registry (:mod:`chainrule.keras.registry`).

Example::

    >>> from chainrule.keras import losses
    >>> losses.BinaryCrossentropy()([[1.0], [0.0]], cr.tensor([[0.9], [0.2]]))  # (−log .9 − log .8)/2
    tensor(0.1643)
"""
from chainrule.keras.losses.classes import (BinaryCrossentropy, CategoricalCrossentropy,
                                            CategoricalHinge, CosineSimilarity, Hinge, Huber,
                                            KLDivergence, LogCosh, MeanAbsoluteError,
                                            MeanAbsolutePercentageError, MeanSquaredError,
                                            MeanSquaredLogarithmicError, Poisson,
                                            SparseCategoricalCrossentropy, SquaredHinge)
from chainrule.keras.losses.functions import (binary_crossentropy, categorical_crossentropy,
                                              categorical_hinge, cosine_similarity, hinge, huber,
                                              kl_divergence, log_cosh, mean_absolute_error,
                                              mean_absolute_percentage_error, mean_squared_error,
                                              mean_squared_logarithmic_error, poisson,
                                              sparse_categorical_crossentropy, squared_hinge)
from chainrule.keras.losses.loss import (EPSILON, REDUCTIONS, Loss, LossFunctionWrapper,
                                         as_float_tensor, reduce_weighted_values, same_rank)
from chainrule.keras.registry import LOSSES, uninterpretable

FUNCTIONS = {f.__name__: f for f in (
    mean_squared_error, mean_absolute_error, mean_absolute_percentage_error,
    mean_squared_logarithmic_error, huber, log_cosh, binary_crossentropy,
    categorical_crossentropy, sparse_categorical_crossentropy, kl_divergence, poisson, hinge,
    squared_hinge, categorical_hinge, cosine_similarity)}
ALIASES = {"mse": mean_squared_error, "MSE": mean_squared_error,
           "mae": mean_absolute_error, "MAE": mean_absolute_error,
           "mape": mean_absolute_percentage_error, "MAPE": mean_absolute_percentage_error,
           "msle": mean_squared_logarithmic_error, "MSLE": mean_squared_logarithmic_error,
           "kld": kl_divergence, "KLD": kl_divergence, "logcosh": log_cosh,
           "bce": binary_crossentropy, "BCE": binary_crossentropy}
CLASSES = {cls.__name__: cls for cls in (
    MeanSquaredError, MeanAbsoluteError, MeanAbsolutePercentageError, MeanSquaredLogarithmicError,
    Huber, LogCosh, BinaryCrossentropy, CategoricalCrossentropy, SparseCategoricalCrossentropy,
    KLDivergence, Poisson, Hinge, SquaredHinge, CategoricalHinge, CosineSimilarity)}
for _name, _obj in {**FUNCTIONS, **ALIASES, **CLASSES}.items():
    LOSSES.add(_obj, _name)


def get(identifier):
    """Resolve a loss: a function or class name, a config dict, a ``Loss``, or any callable.

    A function name gives the per-sample function, a class name a fresh instance, as Keras;
    ``None`` stays None. Example: ``get("binary_crossentropy")`` is
    :func:`binary_crossentropy`; ``get("binary_crossentopy")`` raises "Unknown loss:
    'binary_crossentopy'. Did you mean 'binary_crossentropy'? ...".
    """
    if identifier is None or isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str):
        found = LOSSES.lookup(identifier)
        return found() if isinstance(found, type) else found
    if isinstance(identifier, dict):
        return LOSSES.deserialize(identifier)
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    if callable(identifier):
        return identifier
    raise uninterpretable("loss", identifier, "a name such as 'binary_crossentropy', a keras "
                          "Loss, or a function fn(y_true, y_pred)")


def serialize(loss):
    """A built-in loss as saved in a config: a function by its name, a ``Loss`` as
    ``{"class_name", "config"}``; a ``ConfigError`` for anything else. Example:
    ``serialize(KLDivergence())["class_name"]`` is ``"KLDivergence"``."""
    if isinstance(loss, str):
        LOSSES.lookup(loss)
        return loss
    name = LOSSES.name_of(loss)
    if name is not None and not isinstance(loss, type):
        return name
    return LOSSES.serialize(loss)


def deserialize(config):
    """The loss that :func:`serialize` wrote. Example: ``deserialize(serialize(Poisson()))``."""
    return get(config)


__all__ = sorted([*FUNCTIONS, *CLASSES, "EPSILON", "REDUCTIONS", "Loss", "LossFunctionWrapper",
                  "as_float_tensor", "deserialize", "get", "reduce_weighted_values", "same_rank",
                  "serialize"])
