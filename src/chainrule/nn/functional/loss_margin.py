"""Margin classification losses, as ``torch.nn.functional``: ``soft_margin_loss``,
``multilabel_soft_margin_loss`` and ``multi_margin_loss``.

    soft_margin:            log(1 + e^{−y x})                         (y = ±1)
    multilabel_soft_margin: mean over classes of −w (y log σ(x) + (1 − y) log σ(−x))
    multi_margin:           Σ_{i ≠ y} w_y max(0, margin − x_y + x_i)ᵖ / C     (p = 1 or 2)

``soft_margin_loss`` is the stable softplus, finite where PyTorch's log1p(exp(·)) overflows;
``multilabel_soft_margin_loss`` is the binary cross-entropy with logits, averaged over the classes;
``multi_margin_loss`` counts a term only where its hinge is positive (gradient 0 at the hinge, as
PyTorch's kernel).  All differentiable to every order.

>>> F.soft_margin_loss(cr.tensor([0.0]), cr.tensor([1.0]))
tensor(0.6931)
"""
import numbers

from chainrule.backend import namespace_of
from chainrule.errors import ConfigError, DTypeError, LabelError, ShapeError
from chainrule.nn.functional.activation import Softplus
from chainrule.nn.functional.loss_binary import binary_cross_entropy_with_logits
from chainrule.nn.functional.loss_common import (as_target, check_number, check_reduction,
                                                 float_input, reduce_loss)
from chainrule.ops import elementwise as _el
from chainrule.tensor import Tensor


def soft_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """log(1 + e^{−y·x}) per element, for targets y = ±1.

    >>> F.soft_margin_loss(cr.tensor([-800.0]), cr.tensor([1.0]))
    tensor(800.)
    """
    reduction = check_reduction(reduction, "soft_margin_loss", size_average, reduce)
    float_input("soft_margin_loss", input)
    target = as_target(target, input)
    return reduce_loss(Softplus.apply(-input * target, 1.0, float("inf")), reduction)


def multilabel_soft_margin_loss(input, target, weight=None, size_average=None, reduce=None,
                                reduction="mean"):
    """The binary cross-entropy of sigmoid(x) with targets y ∈ {0, 1}, weighted, averaged over
    the classes (the last dimension): one loss per sample.

    >>> F.multilabel_soft_margin_loss(cr.tensor([[0.0, 0.0]]), cr.tensor([[1.0, 0.0]]))
    tensor(0.6931)
    """
    reduction = check_reduction(reduction, "multilabel_soft_margin_loss", size_average, reduce)
    float_input("multilabel_soft_margin_loss", input)
    if input.ndim == 0:
        raise ShapeError("multilabel_soft_margin_loss: expected input with a class dimension, "
                         "got a scalar")
    per_class = binary_cross_entropy_with_logits(input, as_target(target, input), weight,
                                                 reduction="none")
    return reduce_loss(per_class.mean(input.ndim - 1), reduction)


def _class_indices(target, nframe, dim):
    """*target* as an array of nframe class indices in [0, dim)."""
    if isinstance(target, Tensor):
        y = target._data
    else:
        y = Tensor(target)._data
    if y.dtype.kind not in "iu":
        raise DTypeError(f"multi_margin_loss: target must hold integer class indices, got dtype "
                         f"{y.dtype}")
    if y.ndim > 1 or y.size != nframe:
        raise ShapeError(f"inconsistent target size, expected {nframe} but got "
                         f"{tuple(y.shape)}")
    y = y.reshape(nframe)
    if y.size and (int(y.min()) < 0 or int(y.max()) >= dim):
        bad = int(y.min()) if int(y.min()) < 0 else int(y.max())
        raise LabelError(f"multi_margin_loss: target out of range: class index {bad} for "
                         f"{dim} classes")
    return y


def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, size_average=None,
                      reduce=None, reduction="mean"):
    """Σ over wrong classes i of w_y·max(0, margin − x_y + x_i)ᵖ, divided by the number of classes.

    >>> F.multi_margin_loss(cr.tensor([[0.1, 0.8, 0.4]]), cr.tensor([1]))
    tensor(0.3000)
    """
    reduction = check_reduction(reduction, "multi_margin_loss", size_average, reduce)
    if isinstance(p, bool) or not isinstance(p, numbers.Integral) or p not in (1, 2):
        raise ConfigError("only p == 1 and p == 2 supported")
    float_input("multi_margin_loss", input)
    margin = check_number(margin, "margin", "multi_margin_loss")
    if input.ndim > 2 or (input.ndim >= 1 and input.shape[-1] == 0):
        raise ShapeError(f"multi_margin_loss: Expected non-empty vector or matrix with optional "
                         f"0-dim batch size, but got: {tuple(input.shape)}")
    nframe = input.shape[0] if input.ndim == 2 else 1
    dim = input.shape[-1] if input.ndim >= 1 else 1
    y = _class_indices(target, nframe, dim)
    xp = namespace_of(input._data)
    y = xp.asarray(y)
    x = input.reshape(nframe, dim)
    x_y = x.gather(1, Tensor(y.reshape(nframe, 1).astype(xp.int64)))
    hinge = _el.relu(margin - x_y + x)
    if p == 2:
        hinge = hinge * hinge
    if weight is not None:
        if not isinstance(weight, Tensor):
            weight = Tensor(weight)
        if weight.ndim > 1 or weight.numel() != dim:
            raise ShapeError(f"inconsistent weight size, expected {dim} but got "
                             f"{tuple(weight.shape)}")
        hinge = hinge * Tensor(weight._data.reshape(dim)[y].astype(input._data.dtype)
                               .reshape(nframe, 1))
    others = xp.arange(dim)[None, :] != y[:, None]
    loss = _el.where(Tensor(others), hinge, 0.0).sum(1) / dim
    shape = tuple(target.shape) if isinstance(target, Tensor) else tuple(Tensor(target).shape)
    return reduce_loss(loss.reshape(shape), reduction)
