"""Losses on pairs and triplets, as ``torch.nn.functional``: ``margin_ranking_loss``,
``hinge_embedding_loss``, ``cosine_embedding_loss`` and ``triplet_margin_loss``.

    margin_ranking:  max(0, −y (x₁ − x₂) + margin)
    hinge_embedding: x where y = 1;  max(0, margin − x) where y = −1
    cosine_embedding: 1 − cos(x₁, x₂) where y = 1;  max(0, cos(x₁, x₂) − margin) where y = −1
    triplet_margin:  max(0, margin + d(a, p) − d(a, n)),  d(u, v) = ‖u − v + eps‖ₚ

Composed of differentiable ops with PyTorch's formulas, so the hinges pass the gradient at 0
as PyTorch's ``clamp_min`` does, and targets other than ±1 are treated as PyTorch treats them.

>>> F.margin_ranking_loss(cr.tensor([1.0]), cr.tensor([2.0]), cr.tensor([1.0]), margin=0.5)
tensor(1.5000)
"""
from chainrule.errors import ConfigError, ShapeError
from chainrule.nn.functional.distance import pairwise_distance
from chainrule.nn.functional.loss_common import (as_target, check_number, check_reduction,
                                                 float_input, reduce_loss)
from chainrule.ops import elementwise as _el

_EPSILON = 1e-12      # PyTorch's guard on the squared norms in cosine_embedding_loss


def margin_ranking_loss(input1, input2, target, margin=0, size_average=None, reduce=None,
                        reduction="mean"):
    """max(0, −y·(x₁ − x₂) + margin): y = 1 asks for x₁ > x₂, y = −1 for x₁ < x₂.

    >>> F.margin_ranking_loss(cr.tensor([3.0]), cr.tensor([1.0]), cr.tensor([1.0]))
    tensor(0.)
    """
    reduction = check_reduction(reduction, "margin_ranking_loss", size_average, reduce)
    float_input("margin_ranking_loss", input1, "input1")
    float_input("margin_ranking_loss", input2, "input2")
    target = as_target(target, input1)
    if not input1.ndim == input2.ndim == target.ndim:
        raise ShapeError(f"margin_ranking_loss : All input tensors should have same dimension "
                         f"but got sizes: input1: {tuple(input1.shape)}, input2: "
                         f"{tuple(input2.shape)}, target: {tuple(target.shape)} ")
    margin = check_number(margin, "margin", "margin_ranking_loss")
    return reduce_loss(_el.clamp(-target * (input1 - input2) + margin, min=0.0), reduction)


def hinge_embedding_loss(input, target, margin=1.0, size_average=None, reduce=None,
                         reduction="mean"):
    """x where y = 1, max(0, margin − x) where y = −1 (x a distance, y ±1).

    >>> F.hinge_embedding_loss(cr.tensor([0.3, 0.3]), cr.tensor([1.0, -1.0]), reduction="none")
    tensor([0.3000, 0.7000])
    """
    reduction = check_reduction(reduction, "hinge_embedding_loss", size_average, reduce)
    float_input("hinge_embedding_loss", input)
    target = as_target(target, input)
    margin = check_number(margin, "margin", "hinge_embedding_loss")
    hinge = _el.clamp(margin - input, min=0.0)
    loss = _el.where(target != 1, hinge, 0.0) + _el.where(target != -1, input, 0.0)
    return reduce_loss(loss, reduction)


def cosine_embedding_loss(input1, input2, target, margin=0, size_average=None, reduce=None,
                          reduction="mean"):
    """1 − cos(x₁, x₂) where y = 1, max(0, cos(x₁, x₂) − margin) where y = −1, row by row.

    >>> F.cosine_embedding_loss(cr.tensor([[1.0, 0.0]]), cr.tensor([[0.0, 1.0]]), cr.tensor([1.0]))
    tensor(1.)
    """
    reduction = check_reduction(reduction, "cosine_embedding_loss", size_average, reduce)
    float_input("cosine_embedding_loss", input1, "input1")
    float_input("cosine_embedding_loss", input2, "input2")
    target = as_target(target, input1)
    d = target.ndim
    if d not in (0, 1):
        raise ShapeError(f"cosine_embedding_loss: 0D or 1D target tensor expected, multi-target "
                         f"not supported, got target of shape {tuple(target.shape)}")
    if input1.ndim != d + 1 or input2.ndim != d + 1:
        raise ShapeError(f"cosine_embedding_loss: {d}D target tensor expects {d + 1}D input "
                         f"tensors, but found inputs with sizes {tuple(input1.shape)} and "
                         f"{tuple(input2.shape)}.")
    margin = check_number(margin, "margin", "cosine_embedding_loss")
    prod = (input1 * input2).sum(d)
    mag1 = (input1 * input1).sum(d) + _EPSILON
    mag2 = (input2 * input2).sum(d) + _EPSILON
    cos = prod / _el.sqrt(mag1 * mag2)
    loss = _el.where(target == 1, 1 - cos, 0.0) + \
        _el.where(target == -1, _el.clamp(cos - margin, min=0.0), 0.0)
    return reduce_loss(loss, reduction)


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2, eps=1e-6, swap=False,
                        size_average=None, reduce=None, reduction="mean"):
    """max(0, margin + d(a, p) − d(a, n)) with d the p-norm distance (``swap``: d(a, n) is
    min(d(a, n), d(p, n))).

    >>> a, p, n = cr.tensor([[0.0, 0.0]]), cr.tensor([[0.0, 1.0]]), cr.tensor([[3.0, 4.0]])
    >>> F.triplet_margin_loss(a, p, n, eps=0.0)
    tensor(0.)
    """
    reduction = check_reduction(reduction, "triplet_margin_loss", size_average, reduce)
    margin = check_number(margin, "margin", "triplet_margin_loss")
    if margin <= 0:
        raise ConfigError(f"margin must be greater than 0, got {margin}")
    for name, t in (("anchor", anchor), ("positive", positive), ("negative", negative)):
        float_input("triplet_margin_loss", t, name)
    if not anchor.ndim == positive.ndim == negative.ndim:
        raise ShapeError(f"The anchor, positive, and negative tensors are expected to have the "
                         f"same number of dimensions, but got: anchor {anchor.ndim}D, positive "
                         f"{positive.ndim}D, and negative {negative.ndim}D inputs")
    d_pos = pairwise_distance(anchor, positive, p, eps)
    d_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_neg = _el.minimum(d_neg, pairwise_distance(positive, negative, p, eps))
    return reduce_loss(_el.clamp(margin + d_pos - d_neg, min=0.0), reduction)
