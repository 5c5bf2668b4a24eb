"""More loss modules, as ``torch.nn``: the distribution losses (KLDiv, PoissonNLL, GaussianNLL),
the pair and triplet losses (MarginRanking, HingeEmbedding, CosineEmbedding, TripletMargin) and the
margin classification losses (SoftMargin, MultiLabelSoftMargin, MultiMargin).

Each holds its options (checked when built) and calls its function in ``forward``; class weights
are buffers, as in PyTorch.

>>> nn.SoftMarginLoss()(cr.tensor([0.0, 0.0]), cr.tensor([1.0, -1.0]))
tensor(0.6931)
"""
import numbers

from chainrule.errors import ConfigError
from chainrule.nn.functional import loss_distribution as FD
from chainrule.nn.functional import loss_margin as FM
from chainrule.nn.functional import loss_ranking as FR
from chainrule.nn.modules.loss import _Loss, _WeightedLoss


class KLDivLoss(_Loss):
    """Σ t (log t − x) for log-probabilities x ('batchmean' divides by the batch size).

    >>> nn.KLDivLoss(reduction="batchmean")(cr.tensor([[-0.6931, -0.6931]]), cr.tensor([[0.5, 0.5]]))
    tensor(...)
    """

    def __init__(self, size_average=None, reduce=None, reduction="mean", log_target=False):
        if reduction == "batchmean" and size_average is None and reduce is None:
            super().__init__()
            self.reduction = "batchmean"
        else:
            super().__init__(size_average, reduce, reduction)
        self.log_target = log_target

    def forward(self, input, target):
        return FD.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)


class PoissonNLLLoss(_Loss):
    """eˣ − t x for log-rates x (``log_input=False``: x − t log(x + eps))."""

    def __init__(self, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None,
                 reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        self.log_input, self.full, self.eps = log_input, full, eps

    def forward(self, log_input, target):
        return FD.poisson_nll_loss(log_input, target, log_input=self.log_input, full=self.full,
                                   eps=self.eps, reduction=self.reduction)


class GaussianNLLLoss(_Loss):
    """½ (log v + (x − t)² / v), v the predicted variance (clamped to eps)."""

    def __init__(self, *, full=False, eps=1e-6, reduction="mean"):
        super().__init__(None, None, reduction)
        self.full, self.eps = full, eps

    def forward(self, input, target, var):
        return FD.gaussian_nll_loss(input, target, var, full=self.full, eps=self.eps,
                                    reduction=self.reduction)


class MarginRankingLoss(_Loss):
    """max(0, −y (x₁ − x₂) + margin)."""

    def __init__(self, margin=0.0, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input1, input2, target):
        return FR.margin_ranking_loss(input1, input2, target, margin=self.margin,
                                      reduction=self.reduction)


class HingeEmbeddingLoss(_Loss):
    """x where y = 1, max(0, margin − x) where y = −1."""

    def __init__(self, margin=1.0, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input, target):
        return FR.hinge_embedding_loss(input, target, margin=self.margin,
                                       reduction=self.reduction)


class CosineEmbeddingLoss(_Loss):
    """1 − cos(x₁, x₂) where y = 1, max(0, cos(x₁, x₂) − margin) where y = −1."""

    def __init__(self, margin=0.0, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input1, input2, target):
        return FR.cosine_embedding_loss(input1, input2, target, margin=self.margin,
                                        reduction=self.reduction)


class TripletMarginLoss(_Loss):
    """max(0, margin + d(a, p) − d(a, n)), d the p-norm distance."""

    def __init__(self, margin=1.0, p=2.0, eps=1e-6, swap=False, size_average=None, reduce=None,
                 reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        if isinstance(margin, bool) or not isinstance(margin, numbers.Real) or margin <= 0:
            raise ConfigError(f"TripletMarginLoss: expected margin to be greater than 0, got "
                              f"{margin} instead")
        self.margin, self.p, self.eps, self.swap = margin, p, eps, swap

    def forward(self, anchor, positive, negative):
        return FR.triplet_margin_loss(anchor, positive, negative, margin=self.margin, p=self.p,
                                      eps=self.eps, swap=self.swap, reduction=self.reduction)


class SoftMarginLoss(_Loss):
    """log(1 + e^{−y x})."""

    def forward(self, input, target):
        return FM.soft_margin_loss(input, target, reduction=self.reduction)


class MultiLabelSoftMarginLoss(_WeightedLoss):
    """Binary cross-entropy with logits, weighted per class and averaged over the classes."""

    def forward(self, input, target):
        return FM.multilabel_soft_margin_loss(input, target, weight=self.weight,
                                              reduction=self.reduction)


class MultiMarginLoss(_WeightedLoss):
    """Σ_{i ≠ y} w_y max(0, margin − x_y + x_i)ᵖ / C (p = 1 or 2)."""

    _CLASS_WEIGHT = True

    def __init__(self, p=1, margin=1.0, weight=None, size_average=None, reduce=None,
                 reduction="mean"):
        if p not in (1, 2) or isinstance(p, bool):
            raise ConfigError("only p == 1 and p == 2 supported")
        super().__init__(weight, size_average, reduce, reduction)
        self.p, self.margin = p, margin

    def forward(self, input, target):
        return FM.multi_margin_loss(input, target, p=self.p, margin=self.margin,
                                    weight=self.weight, reduction=self.reduction)
