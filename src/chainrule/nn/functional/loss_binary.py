"""Binary cross-entropy, as ``torch.nn.functional``: on probabilities (``binary_cross_entropy``,
each log clamped at −100 as PyTorch) and on logits (``binary_cross_entropy_with_logits``).

The logits form is one fused, stable op: the sigmoid is never formed and then logged; the loss is
``max(x, 0) − x·t + log(1 + e^−|x|)`` (the stable softplus, with its terms added in the order that
keeps it exact for every finite logit), and with ``pos_weight`` it uses ``softplus(−x)``.

>>> F.binary_cross_entropy_with_logits(cr.tensor([1000., -1000.]), cr.tensor([1., 0.]))
tensor(0.)
"""

import numpy as np

from chainrule.backend import namespace_of, numpy_namespace
from chainrule.errors import DataError, DTypeError
from chainrule.function import Op
from chainrule.ops.elementwise import Sigmoid
from chainrule.tensor import Tensor
from chainrule.nn.functional.loss_common import (_as_target, _cast_like, _check_input, _constant,
                                                 _quiet, _reduce, _scale, _shape_error,
                                                 check_reduction, jvp_by_vjp)
from chainrule.nn.functional.activation import stable_softplus


_BCE_EPS = float(np.float32(1e-12))   # PyTorch's floor on x(1 - x) in the gradient (a float32)


class BinaryCrossEntropy(Op):
    """ℓ = -w·(t·log x + (1 - t)·log(1 - x)) on probabilities x, each log clamped at -100.

    x̄ = ȳ_r · w · (x - t) / max(x(1 - x), 1e-12);  t̄ = ȳ_r · w · (log(1 - x) - log x)  (PyTorch's).
    """

    @staticmethod
    @_quiet
    def forward(ctx, x, t, w, reduction):
        xp = ctx.xp
        a, y = x._data, t._data
        _check_probabilities(xp, a)
        with xp.errstate(divide="ignore"):
            log_x = xp.maximum(xp.log(a), -100)
            log_1mx = xp.maximum(xp.log1p(-a), -100)
        v = (y - 1) * log_1mx - y * log_x
        if w is not None:
            v *= w
        ctx.meta = (w, reduction, v.size)
        ctx.save_for_backward(x, t)
        return _reduce(xp, v, reduction)

    @staticmethod
    @_quiet
    def backward(ctx, gy):
        xp = ctx.xp
        x, t = ctx.saved_tensors
        w, reduction, n = ctx.meta
        s = _scale(xp, gy, reduction, n)
        if w is not None:
            s = s * w
        nx, nt = ctx.needs_input_grad[:2]
        with xp.errstate(divide="ignore"):
            gx = (x - t) / xp.clip((1 - x) * x, _BCE_EPS, None) * s if nx else None
            gt = (xp.log(1 - x) - xp.log(x)) * s if nt else None
        return gx, gt, None, None

    @staticmethod
    def jvp(ctx, tx, tt, *_):
        """ẏ = reduce(w · ((x - t)/max(x(1 - x), ε) · ẋ + (log(1 - x) - log x) · ṫ)), from the VJP."""
        return jvp_by_vjp(ctx, (tx, tt))


def _binary_target(name, input, target):
    if (type(target) is Tensor and type(input) is Tensor and target._data.dtype is input._data.dtype
            and input._data.dtype.kind == "f" and target._data.shape == input._data.shape):
        return target    # the common case, valid as it is
    _check_input(name, input)
    target = _as_target(target)
    if target._data.dtype.kind != "f":
        raise DTypeError(f"{name}: target must be a floating-point tensor of 0./1. labels (or "
                        f"probabilities), got dtype {target._data.dtype}; pass target.float()")
    if target.shape != input.shape:
        raise _shape_error(name, input, target)
    return _cast_like(target, input)


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None,
                         reduction="mean"):
    """Binary cross-entropy on probabilities: -w·(t·log x + (1 - t)·log(1 - x)).

    Each log is clamped at -100, as in PyTorch, so x = 0 or 1 gives a finite loss.  Pass raw scores
    to :func:`binary_cross_entropy_with_logits` instead: it is exact where sigmoid saturates.

    >>> F.binary_cross_entropy(cr.tensor([0.8]), cr.tensor([1.]))
    tensor(0.2231)
    """
    reduction = check_reduction(reduction, "binary_cross_entropy", size_average, reduce)
    target = _binary_target("binary_cross_entropy", input, target)
    w = _constant("binary_cross_entropy", "weight", weight, input, input.shape)
    return BinaryCrossEntropy.apply(input, target, w, reduction)


def _check_probabilities(xp, a):
    """Refuse an input outside [0, 1] (inside the op, so a compiled replay checks it too).  On a
    device the check would copy to the host in every step: there, as in PyTorch's CUDA kernel, an
    input outside [0, 1] is not raised but gives a NaN loss."""
    if a.size and xp is numpy_namespace:
        lo, hi = a.min(), a.max()
        if not (lo >= 0 and hi <= 1):
            raise DataError(
                f"binary_cross_entropy: input must hold probabilities in [0, 1], but its values "
                f"range over [{lo:.6g}, {hi:.6g}]; for raw scores (logits) use "
                f"binary_cross_entropy_with_logits (nn.BCEWithLogitsLoss), which is also stabler "
                f"than sigmoid followed by binary_cross_entropy")


class BinaryCrossEntropyWithLogits(Op):
    """BCE on logits, fused and stable.  With p = pos_weight and l = 1 + (p - 1)·t:

        ℓ = w·((1 - t)·x + l·softplus(-x)),  softplus(-x) = max(-x, 0) + log(1 + e^-|x|),

    which is max(x, 0) - x·t + log(1 + e^-|x|) without pos_weight: finite for all finite x.

        x̄ = ȳ_r · w · (l·σ(x) - p·t)           (σ(x) - t without pos_weight)
        t̄ = ȳ_r · w · ((p - 1)·softplus(-x) - x)   (-x without pos_weight)
    """

    @staticmethod
    @_quiet
    def forward(ctx, x, t, w, pos_weight, reduction):
        xp = ctx.xp
        a, y = x._data, t._data
        if xp.fuses and pos_weight is None:      # one kernel on a GPU, the same numbers
            z, v = xp.fused(_make_bce_logits_forward)(a, y, a.dtype.type(0))
            if w is not None:
                v *= w
            ctx.meta = (w, pos_weight, reduction, v.size)
            ctx.save_for_backward(x, t, z if ctx.needs_input_grad[0] else None)
            return _reduce(xp, v, reduction)
        z = xp.abs(a)                  # z = e^-|a|, kept: the backward's σ(a) is made from it
        xp.negative(z, out=z)
        xp.exp(z, out=z)
        sp = xp.log1p(z)               # softplus(-a) = max(-a, 0) + log1p(e^-|a|)
        if pos_weight is None:
            v = xp.maximum(a, 0)
            v -= a * y
            v += sp
        else:
            sp = stable_softplus(xp, -a, tail=sp)     # softplus(-a), from the kept e^-|a|
            v = (1 - y) * a + ((pos_weight - 1) * y + 1) * sp
        if w is not None:
            v *= w
        ctx.meta = (w, pos_weight, reduction, v.size)
        ctx.save_for_backward(x, t, z if ctx.needs_input_grad[0] else None)
        return _reduce(xp, v, reduction)

    @staticmethod
    @_quiet
    def backward(ctx, gy):
        xp = ctx.xp
        x, t, z = ctx.saved_tensors
        w, p, reduction, n = ctx.meta
        s = _scale(xp, gy, reduction, n)
        if w is not None:
            s = s * w
        nx, nt = ctx.needs_input_grad[:2]
        gx = gt = None
        if p is None:
            if nx and getattr(xp, "fuses", False):   # arrays on a GPU: one kernel
                gx = xp.fused(_make_bce_logits_backward)(x, z, t, s, x.dtype.type(1))
            elif nx:
                gx = (ctx.call(_SigmoidFromExp, x, z=z) - t) * s
            if nt:
                gt = -x * s
        else:
            if nx:
                gx = ((t * (p - 1) + 1) * ctx.call(_SigmoidFromExp, x, z=z) - t * p) * s
            if nt:
                gt = (stable_softplus(xp, -x) * (p - 1) - x) * s
        return gx, gt, None, None, None

    @staticmethod
    def jvp(ctx, tx, tt, *_):
        """ẏ = reduce(w · ((l·σ(x) - p·t) · ẋ + ((p - 1)·softplus(-x) - x) · ṫ)), from the VJP."""
        if tx is not None and ctx._saved[2] is None:      # e^-|x| was not kept: no VJP was asked
            x = ctx.primals[0]
            a = x._data if isinstance(x, Tensor) else x
            xp = namespace_of(a)
            ctx._saved = ctx._saved[:2] + (xp.exp(-xp.abs(a)),)
            ctx._saved_versions = ctx._saved_versions[:2] + (None,)
        return jvp_by_vjp(ctx, (tx, tt))


class _SigmoidFromExp(Sigmoid):
    """y = σ(x) made from z = e^-|x|, which the forward pass computed: 1/(1 + z) for x ≥ 0,
    z/(1 + z) below (each one division, so the numbers of ``sigmoid_array`` to the bit).
    Sigmoid's VJP: x̄ = ȳ · y · (1 - y)."""

    @staticmethod
    def forward(ctx, x, z):
        xp = ctx.xp
        y = xp.where(x._data >= 0, 1, z)      # the numerator, then one division by 1 + z
        y /= 1 + z
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def jvp(ctx, tx, z=None):
        return Sigmoid.jvp(ctx, tx)


def _make_bce_logits_forward(xp):
    """The forward above as one elementwise kernel (``xp.fused``): (z, ℓ) with z = e^-|x|."""
    def bce_logits_forward(x, t, zero):
        z = xp.exp(-xp.abs(x))
        return z, xp.maximum(x, zero) - x * t + xp.log1p(z)
    return bce_logits_forward


def _make_bce_logits_backward(xp):
    """x̄ = (σ(x) - t)·s as one kernel, σ made from z = e^-|x| as ``_SigmoidFromExp`` makes it."""
    def bce_logits_backward(x, z, t, s, one):
        return (xp.where(x >= 0, one, z) / (one + z) - t) * s
    return bce_logits_backward


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction="mean", pos_weight=None):
    """Sigmoid and binary cross-entropy in one stable op: exact at any logit, even ±1000.

    ``pos_weight`` (broadcast along the last dimension, one per class) multiplies the loss of the
    positive targets: pos_weight = n_negative / n_positive balances a rare positive class.

    >>> F.binary_cross_entropy_with_logits(cr.tensor([1000., -1000.]), cr.tensor([1., 0.]))
    tensor(0.)
    """
    name = "binary_cross_entropy_with_logits"
    reduction = check_reduction(reduction, name, size_average, reduce)
    target = _binary_target(name, input, target)
    w = _constant(name, "weight", weight, input, input.shape)
    pw = _constant(name, "pos_weight", pos_weight, input, input.shape)
    return BinaryCrossEntropyWithLogits.apply(input, target, w, pw, reduction)
