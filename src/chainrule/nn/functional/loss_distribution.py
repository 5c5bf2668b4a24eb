"""Losses that score a predicted distribution, as ``torch.nn.functional``: ``kl_div``,
``poisson_nll_loss`` and ``gaussian_nll_loss``.

    kl_div:            t (log t − x)            (x log-probabilities; log_target: eᵗ (t − x))
    poisson_nll_loss:  eˣ − t x                 (log_input=False: x − t log(x + eps))
    gaussian_nll_loss: ½ (log max(v, eps) + (x − t)² / max(v, eps))

Composed of differentiable tensor ops, so the gradients (to the input, the target and the
variance) are those of the formulas, of every order.  Arguments, defaults, broadcasting and
reductions follow PyTorch, ``kl_div``'s ``'batchmean'`` and its warning for ``'mean'`` included.

>>> F.kl_div(cr.tensor([0.0, 0.0]).log_softmax(0), cr.tensor([0.5, 0.5]), reduction="sum")
tensor(0.)
"""
import math
import warnings

import numpy as np

from chainrule.backend import namespace_of
from chainrule.errors import ConfigError, ShapeError
from chainrule.function import Op
from chainrule.nn.functional.loss_common import (as_target, check_number, check_reduction,
                                                 float_input, reduce_loss)
from chainrule.ops import elementwise as _el
from chainrule.tensor import Tensor


def _xlogy_self(t):
    """t · log t, with 0 where t = 0 (``torch.xlogy(t, t)``; nan for t < 0 or nan)."""
    if t.requires_grad:
        return t * _el.log(_el.where(t == 0, 1.0, t))
    a = t._data
    xp = namespace_of(a)
    with np.errstate(divide="ignore", invalid="ignore"):
        return Tensor(a * xp.log(xp.where(a == 0, 1, a)).astype(a.dtype, copy=False))


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """Σ t (log t − x): the KL divergence of the target from exp(input) (input log-probabilities).

    ``reduction='batchmean'`` divides the sum by the batch size (the true KL divergence);
    ``'mean'`` divides by the number of elements, with PyTorch's warning.

    >>> F.kl_div(cr.tensor([[-1.0, -0.5]]), cr.tensor([[0.25, 0.75]]), reduction="batchmean")
    tensor(0.0627)
    """
    if size_average is not None or reduce is not None:
        reduction = check_reduction(reduction, "kl_div", size_average, reduce)
    elif reduction == "mean":
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the "
                      "support size.'batchmean' divides only by the batch size, and aligns with "
                      "the KL div math definition.'mean' will be changed to behave the same as "
                      "'batchmean' in the next major release.", stacklevel=2)
    elif reduction != "batchmean":
        check_reduction(reduction, "kl_div")
    float_input("kl_div", input)
    target = as_target(target, input)
    if log_target:
        loss = _el.exp(target) * (target - input)
    else:
        loss = _xlogy_self(target) - target * input
    if reduction == "batchmean":
        total = loss.sum()
        return total / input.shape[0] if input.ndim != 0 else total
    return reduce_loss(loss, reduction)


def poisson_nll_loss(input, target, log_input=True, full=False, size_average=None, eps=1e-8,
                     reduce=None, reduction="mean"):
    """eˣ − t·x for log-rates x (``log_input=False``: x − t·log(x + eps)); ``full`` adds
    Stirling's t log t − t + ½ log(2πt) where t > 1.

    >>> F.poisson_nll_loss(cr.tensor([0.0]), cr.tensor([2.0]))
    tensor(1.)
    """
    reduction = check_reduction(reduction, "poisson_nll_loss", size_average, reduce)
    float_input("poisson_nll_loss", input)
    target = as_target(target, input)
    if log_input:
        loss = _el.exp(input) - target * input
    else:
        loss = input - target * _el.log(input + check_number(eps, "eps", "poisson_nll_loss"))
    if full:
        big = target > 1
        t = _el.where(big, target, 2.0)          # a safe value where the term is not used
        stirling = t * _el.log(t) - t + _el.log(t * (2 * math.pi)) * 0.5
        loss = loss + _el.where(big, stirling, 0.0)
    return reduce_loss(loss, reduction)


class _FloorValue(Op):
    """y = max(v, lo), differentiated as y = v (v̄ = ȳ): PyTorch clamps the variance in place
    under ``no_grad``, so its gradient is taken at the clamped value but passes straight through."""

    @staticmethod
    def forward(ctx, v, lo):
        return ctx.xp.maximum(v._data, lo).astype(v._data.dtype, copy=False)

    @staticmethod
    def backward(ctx, gy):
        return gy, None

    @staticmethod
    def jvp(ctx, tv, _):
        return tv


def _variance(var, input):
    """*var* checked and shaped to broadcast against *input*, as PyTorch does."""
    if not isinstance(var, Tensor):
        v = check_number(var, "var", "gaussian_nll_loss")
        if v < 0:
            raise ConfigError("var has negative entry/entries")
        return Tensor(namespace_of(input._data).full(input.shape, v, input._data.dtype))
    if bool((var._data < 0).any()):
        raise ConfigError("var has negative entry/entries")
    vs, xs = tuple(var.shape), tuple(input.shape)
    if vs != xs:
        if xs[:-1] == vs:
            return var.unsqueeze(-1)
        if not (len(xs) == len(vs) and sum(b for a, b in zip(xs, vs) if a != b) == 1):
            raise ShapeError(f"var is of incorrect size: var has shape {vs}, input has shape "
                             f"{xs}")
    return var


def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """½ (log v + (x − t)² / v) with v = max(var, eps) (``full`` adds ½ log 2π).

    *var* has the input's shape (heteroscedastic), or one dimension of size 1 or the last one
    missing (homoscedastic), or is a number.

    >>> F.gaussian_nll_loss(cr.tensor([1.0]), cr.tensor([3.0]), cr.tensor([1.0]))
    tensor(2.)
    """
    float_input("gaussian_nll_loss", input)
    target = as_target(target, input)
    var = _variance(var, input)
    reduction = check_reduction(reduction, "gaussian_nll_loss")
    v = _FloorValue.apply(var, check_number(eps, "eps", "gaussian_nll_loss"))
    d = input - target
    loss = (_el.log(v) + d * d / v) * 0.5
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return reduce_loss(loss, reduction)
