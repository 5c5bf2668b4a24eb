"""Keras's per-sample loss functions: one value per sample, mean (or sum) over the last axis.

Arguments come in Keras's order, ``(y_true, y_pred)``; ``y_pred`` keeps its graph, so the result
can be backpropagated. The formulas are Keras 3's, with ε = 1e-7 (``keras.backend.epsilon()``)::

    mean_squared_error               mean((y − ŷ)²)
    mean_absolute_error              mean(|y − ŷ|)
    mean_absolute_percentage_error   100 · mean(|y − ŷ| / max(|y|, ε))
    mean_squared_logarithmic_error   mean((log(max(ŷ, ε) + 1) − log(max(y, ε) + 1))²)
    huber                            mean(½e² if |e| ≤ δ else δ|e| − ½δ²)
    log_cosh                         mean(e + softplus(−2e) − log 2),  e = ŷ − y
    binary_crossentropy              mean(−y log p − (1 − y) log(1 − p)),  p clipped to [ε, 1 − ε]
    categorical_crossentropy         −Σ y log p  (p renormalised and clipped)
    sparse_categorical_crossentropy  −log p[y]
    kl_divergence                    Σ y log(y / ŷ),  both clipped to [ε, 1]
    poisson                          mean(ŷ − y log(ŷ + ε))
    hinge                            mean(max(1 − y·ŷ, 0))      (0/1 labels become −1/1)
    squared_hinge                    mean(max(1 − y·ŷ, 0)²)     (0/1 labels become −1/1)
    categorical_hinge                max(max((1 − y)·ŷ) − Σ y·ŷ + 1, 0)
    cosine_similarity                −Σ normalize(y)·normalize(ŷ)  (along axis)

Example::

    >>> mean_squared_error([[1.0, 2.0]], cr.tensor([[0.0, 0.0]]))
    tensor([2.5000])
"""
import math

import numpy as np

from chainrule.errors import LabelError, ShapeError
from chainrule.keras.losses.loss import EPSILON, as_float_tensor, last_axis_mean, pair
from chainrule.nn import functional as F
from chainrule.ops.elementwise import where
from chainrule.ops.softmax import log_softmax
from chainrule.tensor import Tensor

_LOG2 = math.log(2.0)
_COSINE_EPS = math.sqrt(EPSILON)   # Keras normalises by rsqrt(max(Σx², ε)) = 1 / max(‖x‖, √ε)


# ---- per-sample loss functions -------------------------------------------------------------------
def mean_squared_error(y_true, y_pred):
    """mean((y_true − y_pred)²) over the last axis, one value per sample.

    Example: ``mean_squared_error([[1., 2.]], cr.tensor([[0., 0.]]))`` is ``[2.5]``.
    """
    y_true, y_pred = pair("mean_squared_error", y_true, y_pred)
    return last_axis_mean((y_true - y_pred) ** 2)


def mean_absolute_error(y_true, y_pred):
    """mean(|y_true − y_pred|) over the last axis, one value per sample.

    Example: ``mean_absolute_error([[1., 2.]], cr.tensor([[0., 0.]]))`` is ``[1.5]``.
    """
    y_true, y_pred = pair("mean_absolute_error", y_true, y_pred)
    return last_axis_mean((y_true - y_pred).abs())


def huber(y_true, y_pred, delta=1.0):
    """Huber loss: ½e² where |e| ≤ δ, else δ|e| − ½δ², averaged over the last axis.

    Example: ``huber([[0.]], cr.tensor([[3.]]))`` is ``[2.5]`` (δ = 1).
    """
    y_true, y_pred = pair("huber", y_true, y_pred)
    err = (y_pred - y_true).abs()
    return last_axis_mean(where(err <= delta, 0.5 * err ** 2, delta * err - 0.5 * delta ** 2))


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0):
    """−[y log p + (1 − y) log(1 − p)] averaged over the last axis, p clipped to [1e-7, 1 − 1e-7].

    With *from_logits* the stable form max(z, 0) − z·y + log(1 + e^−|z|) is used on logits z.
    *label_smoothing* s replaces y by y(1 − s) + s/2.

    Example: ``binary_crossentropy([[1.]], cr.tensor([[1.]]))`` is −log(1 − 1e-7), not 0.
    """
    y_true, y_pred = pair("binary_crossentropy", y_true, y_pred)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        values = y_pred.relu() - y_pred * y_true + (-y_pred.abs()).exp().log1p()
    else:
        p = y_pred.clamp(EPSILON, 1.0 - EPSILON)
        values = -(y_true * p.log() + (1.0 - y_true) * (1.0 - p).log())
    return last_axis_mean(values)


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
    labels = np.asarray(y_true._data if isinstance(y_true, Tensor) else y_true)
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
    one_hot = np.eye(n_classes, dtype=y_pred._data.dtype)[labels.astype(np.int64)]
    return -(Tensor(one_hot) * _log_probs(y_pred, from_logits)).sum(dim=-1)


def mean_absolute_percentage_error(y_true, y_pred):
    """100 · mean(|y_true − y_pred| / max(|y_true|, 1e-7)) over the last axis.

    Example: ``mean_absolute_percentage_error([[2., 4.]], cr.tensor([[1., 5.]]))`` is ``[37.5]``.
    """
    y_true, y_pred = pair("mean_absolute_percentage_error", y_true, y_pred)
    diff = ((y_true - y_pred) / y_true.abs().clamp(min=EPSILON)).abs()
    return last_axis_mean(diff) * 100.0


def mean_squared_logarithmic_error(y_true, y_pred):
    """mean((log(max(ŷ, 1e-7) + 1) − log(max(y, 1e-7) + 1))²) over the last axis.

    Example: ``mean_squared_logarithmic_error([[0.]], cr.tensor([[math.e - 1]]))`` is ``[1.]``.
    """
    y_true, y_pred = pair("mean_squared_logarithmic_error", y_true, y_pred)
    first = (y_pred.clamp(min=EPSILON) + 1.0).log()
    second = (y_true.clamp(min=EPSILON) + 1.0).log()
    return last_axis_mean((first - second) ** 2)


def log_cosh(y_true, y_pred):
    """mean(log cosh(ŷ − y)) over the last axis, computed as e + softplus(−2e) − log 2.

    About e²/2 for small errors and |e| − log 2 for large ones. Example:
    ``log_cosh([[0., 1.]], cr.tensor([[1., 1.]]))`` is ``[0.2169]``.
    """
    y_true, y_pred = pair("log_cosh", y_true, y_pred)
    err = y_pred - y_true
    return last_axis_mean(err + F.softplus(err * -2.0) - _LOG2)


def kl_divergence(y_true, y_pred):
    """Σ y · log(y / ŷ) over the last axis, with y and ŷ clipped to [1e-7, 1] (Keras's KLD).

    Example: ``kl_divergence([[0.5, 0.5]], cr.tensor([[0.25, 0.75]]))`` is ``[0.1438]``.
    """
    y_true, y_pred = pair("kl_divergence", y_true, y_pred)
    y_true = y_true.clamp(EPSILON, 1.0)
    y_pred = y_pred.clamp(EPSILON, 1.0)
    values = y_true * (y_true / y_pred).log()
    return values.sum(dim=-1) if values.ndim else values


def poisson(y_true, y_pred):
    """mean(ŷ − y · log(ŷ + 1e-7)) over the last axis (the Poisson negative log-likelihood up to
    a constant). Example: ``poisson([[1.]], cr.tensor([[1.]]))`` is ``[1.]``.
    """
    y_true, y_pred = pair("poisson", y_true, y_pred)
    return last_axis_mean(y_pred - y_true * (y_pred + EPSILON).log())


def hinge_labels(y_true):
    """Keras's ``convert_binary_labels_to_hinge``: labels that are all 0 or 1 become −1 or 1;
    others are left as they are. Example: ``hinge_labels(cr.tensor([0., 1.]))`` → ``[-1., 1.]``."""
    labels = y_true._data
    if labels.size and np.isin(labels, (0, 1)).all():
        return Tensor(2.0 * labels - 1.0)
    return y_true


def hinge(y_true, y_pred):
    """mean(max(1 − y·ŷ, 0)) over the last axis; labels 0/1 are mapped to −1/1 first.

    Example: ``hinge([[1.]], cr.tensor([[0.3]]))`` is ``[0.7]``.
    """
    y_true, y_pred = pair("hinge", y_true, y_pred)
    return last_axis_mean((1.0 - hinge_labels(y_true) * y_pred).relu())


def squared_hinge(y_true, y_pred):
    """mean(max(1 − y·ŷ, 0)²) over the last axis; labels 0/1 are mapped to −1/1 first.

    Example: ``squared_hinge([[1.]], cr.tensor([[0.3]]))`` is ``[0.49]``.
    """
    y_true, y_pred = pair("squared_hinge", y_true, y_pred)
    return last_axis_mean((1.0 - hinge_labels(y_true) * y_pred).relu() ** 2)


def categorical_hinge(y_true, y_pred):
    """max(neg − pos + 1, 0) with pos = Σ y·ŷ and neg = max((1 − y)·ŷ) over the last axis, for
    one-hot labels. Example: ``categorical_hinge([[0., 1.]], cr.tensor([[0.3, 0.6]]))`` is ``[0.7]``.
    """
    y_true, y_pred = pair("categorical_hinge", y_true, y_pred)
    pos = (y_true * y_pred).sum(dim=-1)
    neg = ((1.0 - y_true) * y_pred).amax(dim=-1)
    return (neg - pos + 1.0).relu()


def cosine_similarity(y_true, y_pred, axis=-1):
    """−Σ normalize(y)·normalize(ŷ) along *axis*: −1 for vectors pointing the same way, 0 when
    orthogonal or when either is 0. Example:
    ``cosine_similarity([[0., 1.]], cr.tensor([[1., 1.]]))`` is ``[-0.7071]``.
    """
    y_true, y_pred = pair("cosine_similarity", y_true, y_pred)
    y_true = F.normalize(y_true, dim=axis, eps=_COSINE_EPS)
    y_pred = F.normalize(y_pred, dim=axis, eps=_COSINE_EPS)
    return -(y_true * y_pred).sum(dim=axis)
