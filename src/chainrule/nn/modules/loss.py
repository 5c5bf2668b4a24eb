"""Loss modules, as ``torch.nn``: each holds its options and calls its function in ``forward``.

``criterion = nn.CrossEntropyLoss(label_smoothing=0.1)``, then ``loss = criterion(logits, labels)``.
Options are checked when the module is built; class weights are buffers (saved in ``state_dict``
and moved by ``to``), as in PyTorch.  The math lives in ``nn/functional/loss.py``.
"""
from chainrule.errors import ArgumentTypeError, ConfigError, DTypeError, ShapeError
from chainrule.nn.functional import loss as F
from chainrule.nn.modules.module import Module
from chainrule.tensor import Tensor, to_array

__all__ = ["MSELoss", "L1Loss", "HuberLoss", "SmoothL1Loss", "BCELoss", "BCEWithLogitsLoss",
           "CrossEntropyLoss", "NLLLoss", "PinballLoss"]


def _as_buffer(where, what, value, one_d=False):
    """An optional weight as a float tensor (a list or array is converted)."""
    if value is None:
        return None
    t = value if isinstance(value, Tensor) else Tensor(to_array(value))
    if t._data.dtype.kind not in "fiu":
        raise DTypeError(f"{where}: {what} must be a tensor of numbers, got dtype {t._data.dtype}")
    if t._data.dtype.kind != "f":
        t = t.float()
    if one_d and t.ndim != 1:
        raise ShapeError(f"{where}: {what} must be a 1-D tensor with one value per class, got "
                         f"shape {tuple(t.shape)}")
    return t


class _Loss(Module):
    """Base of the losses: stores and checks ``reduction`` ('mean', 'sum' or 'none')."""

    def __init__(self, size_average=None, reduce=None, reduction="mean"):
        super().__init__()
        self.reduction = F.check_reduction(reduction, type(self).__name__, size_average, reduce)

    def extra_repr(self):
        return "" if self.reduction == "mean" else f"reduction={self.reduction!r}"


class _WeightedLoss(_Loss):
    """A loss with an optional ``weight`` buffer."""

    _CLASS_WEIGHT = False

    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", _as_buffer(type(self).__name__, "weight", weight,
                                                  one_d=self._CLASS_WEIGHT))


class MSELoss(_Loss):
    """Mean squared error: mean((input - target)²) (or 'sum' / 'none').

    >>> nn.MSELoss()(cr.tensor([1., 2.]), cr.tensor([1., 4.]))
    tensor(2.)
    """

    def forward(self, input, target):
        return F.mse_loss(input, target, reduction=self.reduction)


class L1Loss(_Loss):
    """Mean absolute error: mean(|input - target|) (or 'sum' / 'none').

    >>> nn.L1Loss()(cr.tensor([1., 2.]), cr.tensor([1., 4.]))
    tensor(1.)
    """

    def forward(self, input, target):
        return F.l1_loss(input, target, reduction=self.reduction)


class HuberLoss(_Loss):
    """Huber loss: ½d² where |d| < delta, else delta·(|d| - ½delta), with d = input - target.

    >>> nn.HuberLoss(delta=1.0)(cr.tensor([0., 0.]), cr.tensor([0.5, 3.]))
    tensor(1.3125)
    """

    def __init__(self, reduction="mean", delta=1.0):
        super().__init__(reduction=reduction)
        if isinstance(delta, bool) or not isinstance(delta, (int, float)) or not delta > 0:
            raise ConfigError(f"HuberLoss: delta must be a positive number, got delta={delta!r}")
        self.delta = float(delta)

    def forward(self, input, target):
        return F.huber_loss(input, target, reduction=self.reduction, delta=self.delta)

    def extra_repr(self):
        return ", ".join(filter(None, [super().extra_repr(),
                                       f"delta={self.delta}" if self.delta != 1.0 else ""]))


class SmoothL1Loss(_Loss):
    """Smooth L1: ½d²/beta where |d| < beta, else |d| - ½beta (beta = 0 gives the L1 loss).

    >>> nn.SmoothL1Loss()(cr.tensor([0., 0.]), cr.tensor([0.5, 3.]))
    tensor(1.3125)
    """

    def __init__(self, size_average=None, reduce=None, reduction="mean", beta=1.0):
        super().__init__(size_average, reduce, reduction)
        if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not beta >= 0:
            raise ConfigError("SmoothL1Loss: beta must be a non-negative number, got "
                              f"beta={beta!r}")
        self.beta = float(beta)

    def forward(self, input, target):
        return F.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)

    def extra_repr(self):
        return ", ".join(filter(None, [super().extra_repr(),
                                       f"beta={self.beta}" if self.beta != 1.0 else ""]))


class BCELoss(_WeightedLoss):
    """Binary cross-entropy on probabilities in [0, 1]; ``weight`` rescales each element.

    Prefer :class:`BCEWithLogitsLoss` on raw scores: it is exact where sigmoid saturates.

    >>> nn.BCELoss()(cr.tensor([0.8]), cr.tensor([1.]))
    tensor(0.2231)
    """

    def forward(self, input, target):
        return F.binary_cross_entropy(input, target, weight=self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Sigmoid and binary cross-entropy in one stable op, on raw scores (logits).

    ``pos_weight`` (one per class, broadcast along the last dimension) scales the positive
    targets' loss: n_negative / n_positive balances a rare positive class.

    >>> nn.BCEWithLogitsLoss(pos_weight=cr.tensor([3.]))(cr.tensor([[0.]]), cr.tensor([[1.]]))
    tensor(2.0794)
    """

    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean",
                 pos_weight=None):
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", _as_buffer("BCEWithLogitsLoss", "weight", weight))
        self.register_buffer("pos_weight", _as_buffer("BCEWithLogitsLoss", "pos_weight",
                                                      pos_weight))

    def forward(self, input, target):
        return F.binary_cross_entropy_with_logits(input, target, weight=self.weight,
                                                  pos_weight=self.pos_weight,
                                                  reduction=self.reduction)


def _check_ignore_index(where, ignore_index):
    if isinstance(ignore_index, bool) or not isinstance(ignore_index, int):
        raise ArgumentTypeError(f"{where}: ignore_index must be an int, got {ignore_index!r}")
    return ignore_index


class CrossEntropyLoss(_WeightedLoss):
    """Cross-entropy of logits (N, C, d1, ...) against class indices or class probabilities.

    Indices (int, shape (N, d1, ...)) equal to ``ignore_index`` are skipped; ``weight`` holds one
    value per class; ``label_smoothing`` mixes the target with the uniform distribution.

    >>> nn.CrossEntropyLoss()(cr.tensor([[2., 0., 0.]]), cr.tensor([0]))
    tensor(0.2395)
    """

    _CLASS_WEIGHT = True

    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None,
                 reduction="mean", label_smoothing=0.0):
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = _check_ignore_index("CrossEntropyLoss", ignore_index)
        if isinstance(label_smoothing, bool) or not isinstance(label_smoothing, (int, float)) \
                or not 0.0 <= label_smoothing <= 1.0:
            raise ConfigError(f"CrossEntropyLoss: label_smoothing must be a number in [0, 1], "
                              f"got label_smoothing={label_smoothing!r}")
        self.label_smoothing = float(label_smoothing)

    def forward(self, input, target):
        return F.cross_entropy(input, target, weight=self.weight, ignore_index=self.ignore_index,
                               reduction=self.reduction, label_smoothing=self.label_smoothing)

    def extra_repr(self):
        return ", ".join(filter(None, [
            super().extra_repr(),
            f"ignore_index={self.ignore_index}" if self.ignore_index != -100 else "",
            f"label_smoothing={self.label_smoothing}" if self.label_smoothing else ""]))


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood of log-probabilities (N, C, d1, ...) at class indices.

    >>> nn.NLLLoss()(cr.tensor([[-0.1, -2.3]]), cr.tensor([0]))
    tensor(0.1000)
    """

    _CLASS_WEIGHT = True

    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None,
                 reduction="mean"):
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = _check_ignore_index("NLLLoss", ignore_index)

    def forward(self, input, target):
        return F.nll_loss(input, target, weight=self.weight, ignore_index=self.ignore_index,
                          reduction=self.reduction)

    def extra_repr(self):
        return ", ".join(filter(None, [
            super().extra_repr(),
            f"ignore_index={self.ignore_index}" if self.ignore_index != -100 else ""]))


class PinballLoss(_Loss):
    """Quantile (pinball) loss: mean(max(q·(target - input), (q - 1)·(target - input))).

    Minimising it makes the prediction the q-quantile of the target given the input: q = 0.9
    penalises predicting too low nine times as much as predicting too high.

    >>> nn.PinballLoss(quantile=0.9)(cr.tensor([0., 0.]), cr.tensor([1., -1.]))
    tensor(0.5000)
    """

    def __init__(self, quantile=0.5, reduction="mean"):
        super().__init__(reduction=reduction)
        self.quantile = F.check_quantile(quantile, "PinballLoss")

    def forward(self, input, target):
        return F.pinball_loss(input, target, quantile=self.quantile, reduction=self.reduction)

    def extra_repr(self):
        return ", ".join(filter(None, [f"quantile={self.quantile}", super().extra_repr()]))
