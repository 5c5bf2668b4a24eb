"""Loss functions: a prediction and a target in, a number (or one per sample) out.

Each loss is one fused op: its forward computes the elementwise loss and the reduction on arrays,
its backward is the closed-form gradient, written once with ``ctx.xp`` (the arrays' module in a
first-order backward, chainrule's tensor ops under ``create_graph=True``, which differentiates it
again).  The softmax (cross-entropy) and the sigmoid (BCE with logits) are never
formed and then logged: the losses use the stable forms ``x - max - log Σ e^(x - max)`` and
``max(x, 0) - x·y + log(1 + e^-|x|)``, finite for any finite logits.

Arguments, defaults and numbers follow ``torch.nn.functional``; where PyTorch only warns (a target
whose shape differs from the input's and silently broadcasts) chainrule raises, naming the shapes.
``reduction`` is ``'mean'`` (the default), ``'sum'`` or ``'none'`` everywhere.
"""
import difflib
import functools
import warnings

import numpy as np

from chainrule.backend import device_of, namespace_of, numpy_namespace
from chainrule.errors import (AutogradError, ConfigError, DataError, DeviceError, DTypeError,
                             LabelError, ShapeError)
from chainrule.function import Op
from chainrule.grad_mode import state as _grad_state
from chainrule.ops.elementwise import Sigmoid
from chainrule.tensor import Tensor, to_array

__all__ = ["mse_loss", "l1_loss", "huber_loss", "smooth_l1_loss", "pinball_loss",
           "binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy", "nll_loss"]

REDUCTIONS = ("mean", "sum", "none")


# ---- argument checks -------------------------------------------------------------------------
def check_reduction(reduction, where, size_average=None, reduce=None):
    """The reduction name, checked (with a did-you-mean); PyTorch's legacy flags are honoured."""
    if size_average is not None or reduce is not None:
        size_average = True if size_average is None else size_average
        reduce = True if reduce is None else reduce
        reduction = ("mean" if size_average else "sum") if reduce else "none"
        warnings.warn(f"size_average and reduce args will be deprecated, please use "
                      f"reduction='{reduction}' instead.", stacklevel=3)
    if reduction == "elementwise_mean":
        warnings.warn("reduction='elementwise_mean' is deprecated, please use reduction='mean' "
                      "instead.", stacklevel=3)
        return "mean"
    if reduction not in REDUCTIONS:
        close = difflib.get_close_matches(str(reduction), REDUCTIONS, n=1, cutoff=0.5)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"{where}: reduction must be one of 'mean', 'sum' or 'none', got "
                         f"{reduction!r}{hint}")
    return reduction


def _check_input(name, input):
    if not isinstance(input, Tensor):
        raise DTypeError(f"{name}: input must be a Tensor (the model's output), got "
                        f"{type(input).__name__}")
    if input.data.dtype.kind != "f":
        raise DTypeError(f"{name}: input must be a floating-point tensor, got dtype "
                        f"{input.data.dtype}; convert it with input.float()")


def _as_target(target, dtype=None):
    return target if isinstance(target, Tensor) else Tensor(to_array(target, dtype))


def _cast_like(t, input):
    """*t* in the input's float dtype (a target that requires grad is cast differentiably)."""
    if t.data.dtype == input.data.dtype:
        return t
    if t._requires_grad:
        return t.to(input.data.dtype)
    return Tensor(t.data.astype(input.data.dtype))


def _shape_error(name, input, target):
    a, b = tuple(input.shape), tuple(target.shape)
    msg = f"{name}: input has shape {a} but target has shape {b}; they must be equal."
    try:
        both = np.broadcast_shapes(a, b)
        msg += (f" Broadcasting them (as PyTorch does, with only a warning) would give a loss of "
                f"shape {both}, pairing every prediction with the wrong targets.")
    except ValueError:
        pass
    if len(a) >= 1 and a[-1] == 1 and a[:-1] == b:
        fix = "target.view(-1, 1)" if len(a) == 2 else f"target.unsqueeze({len(a) - 1})"
        msg += f" Use {fix} or input.squeeze({len(a) - 1})."
    elif len(b) >= 1 and b[-1] == 1 and b[:-1] == a:
        fix = "input.view(-1, 1)" if len(b) == 2 else f"input.unsqueeze({len(b) - 1})"
        msg += f" Use target.squeeze({len(b) - 1}) or {fix}."
    else:
        msg += " Reshape one of them so that the shapes match."
    return ShapeError(msg)


def _regression_pair(name, input, target):
    _check_input(name, input)
    target = _as_target(target, input.data.dtype)
    if target.shape != input.shape:
        raise _shape_error(name, input, target)
    return _cast_like(target, input)


def _constant(name, what, w, input, shape=None, exact=False):
    """An optional weight as an array of the input's dtype, checked to broadcast to *shape*
    (or, with *exact*, to have that shape)."""
    if w is None:
        return None
    if isinstance(w, Tensor):
        if w._requires_grad and _grad_state.enabled:
            raise AutogradError(f"{name}: {what} requires grad, but the loss is not differentiable "
                                f"with respect to it (as in PyTorch); pass {what}.detach()")
        if device_of(w.data) != device_of(input.data):
            raise DeviceError(f"{name}: {what} is on device {device_of(w.data)} but the input is "
                              f"on {device_of(input.data)}; move it with "
                              f"{what}.to({str(device_of(input.data))!r})")
        w = w.data
    w = namespace_of(input.data).asarray(w).astype(input.data.dtype, copy=False)
    if shape is not None:
        try:
            ok = (w.shape if exact else np.broadcast_shapes(w.shape, shape)) == tuple(shape)
        except ValueError:
            ok = False
        if not ok:
            raise ShapeError(f"{name}: {what} of shape {w.shape} does not "
                             f"{'match' if exact else 'broadcast to'} the input's shape "
                             f"{tuple(shape)}")
    return w


def _reduce(xp, v, reduction, denom=None):
    """Reduce the elementwise loss array *v*: 'none' keeps it, 'sum' adds, 'mean' divides."""
    if reduction == "none":
        return v
    total = v.sum()
    if reduction == "sum":
        return total
    if denom is None and v.size:   # a count: the quotient can neither overflow nor divide by 0
        return xp.asarray(total / v.size, dtype=v.dtype)
    with xp.errstate(divide="ignore", invalid="ignore"):
        return xp.asarray(total / (v.size if denom is None else denom), dtype=v.dtype)


def _scale(xp, gy, reduction, denom):
    """The gradient each element's loss receives: ȳ itself, or ȳ / denom for 'mean' (0 where
    denom is 0: every place ignored or weighted 0, as PyTorch).  *denom* is a count (an int), a
    sum of weights on the host (a NumPy scalar) or on a device (a 0-d array, never read back)."""
    if reduction != "mean":
        return gy
    if type(denom) is int or isinstance(denom, np.generic):
        return gy / denom if denom else gy * 0
    with xp.errstate(divide="ignore", invalid="ignore"):
        return xp.where(denom == 0, gy * 0, gy / denom)


def _array(v):
    """The array behind a tensor (values handed to an op are tensors or arrays)."""
    return v.data if isinstance(v, Tensor) else v


def _quiet(method):
    """Run a forward or backward without NumPy's overflow/invalid warnings: like PyTorch, a loss
    (or gradient) that overflows is simply inf (or nan), and the caller sees it in the value."""
    @functools.wraps(method)
    def run(ctx, *args):
        with ctx.xp.errstate(over="ignore", invalid="ignore"):
            return method(ctx, *args)
    return run


# ---- regression losses: one fused op each, loss = w · f(x - t) ----------------------------------
class _Pointwise(Op):
    """loss = reduce(w · f(d)), d = x - t.  x̄ = ȳ_r · w · f'(d) and t̄ = -x̄.

    Subclasses give ``value(xp, d, param)`` (on arrays) and ``slope(xp, d, param)`` (in the
    backward's namespace, so the gradient is differentiable again).  ``WEIGHTED_MEAN``: whether
    'mean' divides by Σw (else by n).
    """

    WEIGHTED_MEAN = True

    @staticmethod
    @_quiet
    def forward(ctx, x, t, w, reduction, param):
        v = type(ctx).value(ctx.xp, x.data - t.data, param)
        denom = None
        if w is not None:
            v = v * w
            if type(ctx).WEIGHTED_MEAN:
                denom = w.sum()
        if reduction == "mean" and denom is None:
            denom = v.size
        ctx.meta = (w, reduction, param, denom)
        ctx.save_for_backward(x, t)
        return _reduce(ctx.xp, v, reduction, denom)

    @staticmethod
    @_quiet
    def backward(ctx, gy):
        xp = ctx.xp
        x, t = ctx.saved_tensors
        w, reduction, param, denom = ctx.meta
        g = _scale(xp, gy, reduction, denom) * type(ctx).slope(xp, x - t, param)
        if w is not None:
            g = g * w
        nx, nt = ctx.needs_input_grad[:2]
        return (g if nx else None), (-g if nt else None), None, None, None


class MSE(_Pointwise):
    """f(d) = d².  f'(d) = 2d."""

    @staticmethod
    def value(xp, d, _):
        return d * d

    @staticmethod
    def slope(xp, d, _):
        return d * 2


class L1(_Pointwise):
    """f(d) = |d|.  f'(d) = sign(d)  (0 at d = 0, as PyTorch)."""

    @staticmethod
    def value(xp, d, _):
        return xp.abs(d)

    @staticmethod
    def slope(xp, d, _):
        return xp.sign(d)       # piecewise constant: its own derivative is 0


class Huber(_Pointwise):
    """f(d) = ½d² for |d| < δ, else δ(|d| - ½δ).  f'(d) = clamp(d, -δ, δ)."""

    WEIGHTED_MEAN = False   # PyTorch's weighted huber_loss 'mean' divides by n, not by Σw

    @staticmethod
    def value(xp, d, delta):
        z = xp.abs(d)
        v = xp.where(z < delta, 0.5 * z * z, delta * (z - 0.5 * delta))
        return v.astype(d.dtype, copy=False)

    @staticmethod
    def slope(xp, d, delta):
        return xp.clip(d, -delta, delta)


class SmoothL1(_Pointwise):
    """f(d) = ½d²/β for |d| < β, else |d| - ½β.  f'(d) = clamp(d/β, -1, 1)."""

    @staticmethod
    def value(xp, d, beta):
        z = xp.abs(d)
        v = xp.where(z < beta, 0.5 * z * z / beta, z - 0.5 * beta)
        return v.astype(d.dtype, copy=False)

    @staticmethod
    def slope(xp, d, beta):
        return xp.clip(d / beta, -1.0, 1.0)


class Pinball(_Pointwise):
    """With u = t - x: f = max(q·u, (q-1)·u) = d·([d > 0] - q) for d = x - t.
    f'(d) = [d > 0] - q; at d = 0 the slope is -q (the u ≥ 0 branch, as scikit-learn)."""

    @staticmethod
    def value(xp, d, q):
        return d * ((d > 0) - d.dtype.type(q))

    @staticmethod
    def slope(xp, d, q):
        d = _array(d)           # piecewise constant: a constant of the backward
        return (d > 0) - d.dtype.type(q)


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Mean squared error: reduce((input - target)²), optionally weighted elementwise.

    >>> F.mse_loss(cr.tensor([1., 2.]), cr.tensor([1., 4.]))
    tensor(2.)
    """
    reduction = check_reduction(reduction, "mse_loss", size_average, reduce)
    target = _regression_pair("mse_loss", input, target)
    w = _constant("mse_loss", "weight", weight, input, input.shape, exact=True)
    return MSE.apply(input, target, w, reduction, None)


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Mean absolute error: reduce(|input - target|), optionally weighted elementwise.

    >>> F.l1_loss(cr.tensor([1., 2.]), cr.tensor([1., 4.]))
    tensor(1.)
    """
    reduction = check_reduction(reduction, "l1_loss", size_average, reduce)
    target = _regression_pair("l1_loss", input, target)
    w = _constant("l1_loss", "weight", weight, input, input.shape, exact=True)
    return L1.apply(input, target, w, reduction, None)


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    """Huber loss: ½d² where |d| < delta, delta·(|d| - ½delta) beyond (d = input - target).

    >>> F.huber_loss(cr.tensor([0., 0.]), cr.tensor([0.5, 3.]))
    tensor(1.3125)
    """
    reduction = check_reduction(reduction, "huber_loss")
    if not delta > 0:
        raise ConfigError(f"huber_loss: delta must be positive, got delta={delta}")
    target = _regression_pair("huber_loss", input, target)
    w = _constant("huber_loss", "weight", weight, input, input.shape, exact=True)
    return Huber.apply(input, target, w, reduction, float(delta))


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """Smooth L1: ½d²/beta where |d| < beta, |d| - ½beta beyond; beta=0 is the L1 loss.

    >>> F.smooth_l1_loss(cr.tensor([0., 0.]), cr.tensor([0.5, 3.]))
    tensor(1.3125)
    """
    reduction = check_reduction(reduction, "smooth_l1_loss", size_average, reduce)
    if not beta >= 0:
        raise ConfigError(f"smooth_l1_loss: beta must be non-negative, got beta={beta}")
    target = _regression_pair("smooth_l1_loss", input, target)
    if beta == 0:
        return L1.apply(input, target, None, reduction, None)
    return SmoothL1.apply(input, target, None, reduction, float(beta))


def check_quantile(quantile, where):
    """*quantile* as a float strictly between 0 and 1, or a ValueError naming *where*."""
    if isinstance(quantile, bool) or not isinstance(quantile, (int, float)) or \
            not 0 < quantile < 1:
        raise ConfigError(f"{where}: quantile must be a number strictly between 0 and 1, got "
                         f"quantile={quantile!r}")
    return float(quantile)


def pinball_loss(input, target, quantile=0.5, reduction="mean"):
    """Quantile (pinball) loss: reduce(max(q·(target - input), (q - 1)·(target - input))).

    Minimising it makes *input* the q-quantile of the target's distribution (q = 0.5: the median,
    and half the L1 loss).  Its gradient w.r.t. input is 1 - q where input > target, else -q.

    >>> F.pinball_loss(cr.tensor([0., 0.]), cr.tensor([1., -1.]), quantile=0.9)
    tensor(0.5000)
    """
    reduction = check_reduction(reduction, "pinball_loss")
    q = check_quantile(quantile, "pinball_loss")
    target = _regression_pair("pinball_loss", input, target)
    return Pinball.apply(input, target, None, reduction, q)


# ---- binary cross-entropy -----------------------------------------------------------------------
_BCE_EPS = float(np.float32(1e-12))   # PyTorch's floor on x(1 - x) in the gradient (a float32)


class BinaryCrossEntropy(Op):
    """ℓ = -w·(t·log x + (1 - t)·log(1 - x)) on probabilities x, each log clamped at -100.

    x̄ = ȳ_r · w · (x - t) / max(x(1 - x), 1e-12);  t̄ = ȳ_r · w · (log(1 - x) - log x)  (PyTorch's).
    """

    @staticmethod
    @_quiet
    def forward(ctx, x, t, w, reduction):
        xp = ctx.xp
        a, y = x.data, t.data
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


def _binary_target(name, input, target):
    if (type(target) is Tensor and type(input) is Tensor and target.data.dtype is input.data.dtype
            and input.data.dtype.kind == "f" and target.data.shape == input.data.shape):
        return target    # the common case, valid as it is
    _check_input(name, input)
    target = _as_target(target)
    if target.data.dtype.kind != "f":
        raise DTypeError(f"{name}: target must be a floating-point tensor of 0./1. labels (or "
                        f"probabilities), got dtype {target.data.dtype}; pass target.float()")
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
    # (on a device the check would copy to the host in every step: there, as in PyTorch's CUDA
    # kernel, an input outside [0, 1] is not raised but gives a NaN loss)
    if input.data.size and namespace_of(input.data) is numpy_namespace:
        lo, hi = input.data.min(), input.data.max()
        if not (lo >= 0 and hi <= 1):
            raise DataError(
                f"binary_cross_entropy: input must hold probabilities in [0, 1], but its values "
                f"range over [{lo:.6g}, {hi:.6g}]; for raw scores (logits) use "
                f"binary_cross_entropy_with_logits (nn.BCEWithLogitsLoss), which is also stabler "
                f"than sigmoid followed by binary_cross_entropy")
    return BinaryCrossEntropy.apply(input, target, w, reduction)


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
        a, y = x.data, t.data
        z = xp.abs(a)                  # z = e^-|a|, kept: the backward's σ(a) is made from it
        xp.negative(z, out=z)
        xp.exp(z, out=z)
        sp = xp.log1p(z)               # softplus(-a) = max(-a, 0) + log1p(e^-|a|)
        if pos_weight is None:
            v = xp.maximum(a, 0)
            v -= a * y
            v += sp
        else:
            sp += xp.maximum(-a, 0)
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
            if nx:
                gx = (ctx.call(_SigmoidFromExp, x, z=z) - t) * s
            if nt:
                gt = -x * s
        else:
            if nx:
                gx = ((t * (p - 1) + 1) * ctx.call(_SigmoidFromExp, x, z=z) - t * p) * s
            if nt:
                gt = (_softplus_neg(xp, x) * (p - 1) - x) * s
        return gx, gt, None, None, None


class _SigmoidFromExp(Sigmoid):
    """y = σ(x) made from z = e^-|x|, which the forward pass computed: 1/(1 + z) for x ≥ 0,
    z/(1 + z) below (each one division, so the numbers of ``sigmoid_array`` to the bit).
    Sigmoid's VJP: x̄ = ȳ · y · (1 - y)."""

    @staticmethod
    def forward(ctx, x, z):
        xp = ctx.xp
        y = xp.where(x.data >= 0, 1, z)      # the numerator, then one division by 1 + z
        y /= 1 + z
        ctx.save_for_backward(y)
        return y


def _softplus_neg(xp, x):
    """softplus(-x) = log(1 + e^-x) = log1p(e^-|x|) + max(-x, 0), finite for every finite x."""
    return xp.log1p(xp.exp(-xp.abs(x))) + xp.maximum(-x, 0)


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


# ---- classification: cross-entropy and NLL ------------------------------------------------------
def _flat_index(shape, y):
    """Flat positions of (n, y[n, s], s) in a C-ordered array of *shape* = (N, C, *S)."""
    xp = namespace_of(y)
    n, c = shape[0], shape[1]
    d = y.size // n if n else 0
    if d == 1 or n == 0:
        starts = _row_starts(n, c) if xp is numpy_namespace else xp.arange(n) * c
        return starts + y.reshape(-1)
    return ((xp.arange(n)[:, None] * c + y.reshape(n, d)) * d + xp.arange(d)).reshape(-1)


@functools.lru_cache(maxsize=32)
def _row_starts(n, c):
    """0, c, 2c, ... (n of them): where each row of a C-ordered (n, c) array starts (host, kept
    read-only: a training loop asks for the same one every step)."""
    starts = numpy_namespace.arange(n) * c
    starts.flags.writeable = False
    return starts


def _class_targets(name, ishape, y, ignore_index):
    """Check the (batched) class indices *y* against an input of the user's shape *ishape*.

    Returns (y, valid, bad): y with ignored places set to class 0, the mask of kept places (None
    when every place counts), and None.  On the CPU an index out of range raises LabelError
    naming value and place.  On a device that check would copy to the host in every training
    step; there, as in PyTorch's CUDA kernels, nothing is read back: an index out of range is
    set to class 0 and marked in *bad*, and the loss is NaN at that place (so is the gradient).
    """
    xp = namespace_of(y)
    c = ishape[1] if len(ishape) > 1 else ishape[0]
    if xp is not numpy_namespace:
        valid = y != ignore_index
        bad = valid & ((y < 0) | (y >= c))
        valid &= ~bad
        return xp.where(valid, y, 0), valid, bad
    if y.size and not 0 <= ignore_index < c:
        # every index in [0, c): seen as unsigned, a negative index is huge, so one max suffices
        unsigned = y.view(f"u{y.dtype.itemsize}") if y.dtype.kind == "i" else y
        if unsigned.max() < c:
            return y, None, None
    valid = y != ignore_index
    bad = valid & ((y < 0) | (y >= c))
    if bad.any():
        pos = tuple(int(i) for i in xp.argwhere(bad)[0])
        where = "target" if len(ishape) == 1 else "target[" + ", ".join(map(str, pos)) + "]"
        raise LabelError(
            f"{name}: class index {int(y[pos])} at {where} is out of range: the input (shape "
            f"{tuple(ishape)}) has {c} classes, so targets must lie in [0, {c - 1}] (or equal "
            f"ignore_index={ignore_index})")
    if valid.all():
        return y, None, None
    return xp.where(valid, y, 0), valid, None


def _place_weights(xp, dtype, w, y, valid, bad):
    """w_y at each place (flat), 0 where ignored and NaN where the target is out of range (a
    device's targets, see ``_class_targets``); None when every place weighs 1."""
    wy = None if w is None else w[y.reshape(-1)]
    if valid is not None:
        vf = valid.reshape(-1)
        wy = vf.astype(dtype) if wy is None else wy * vf
    if bad is not None:
        wy = xp.where(bad.reshape(-1), xp.nan, wy)
    return wy


def _index_target_shape(shape):
    return (shape[0],) + tuple(shape[2:]) if len(shape) > 1 else ()


def _target_kind(name, input, target, allow_probs):
    """'index' or 'probs' for *target*, or an error saying what to pass."""
    ishape = tuple(input.shape)
    want = _index_target_shape(ishape)
    tshape = tuple(target.shape)
    kind = target.data.dtype.kind
    if kind == "f":
        if allow_probs and tshape == ishape:
            return "probs"
        if tshape == want or (len(tshape) == len(want) + 1 and tshape[:1] + tshape[2:] == want
                              and tshape[1] == 1):
            raise DTypeError(
                f"{name}: target has dtype {target.data.dtype} and shape {tshape}, which looks "
                f"like class indices, but class indices must be integers: pass target.long()"
                + (f" (class probabilities would have the input's shape {ishape})"
                   if allow_probs else ""))
    elif kind in "iu":
        if tshape == want:
            return "index"
    else:
        raise DTypeError(f"{name}: target must be integer class indices (int64)"
                        + (" or float class probabilities" if allow_probs else "")
                        + f", got dtype {target.data.dtype}")
    msg = (f"{name}: for input of shape {ishape}, target must hold class indices (integers) of "
           f"shape {want}")
    if allow_probs:
        msg += f" or class probabilities (floats) of shape {ishape}"
    msg += f"; got {'an integer' if kind in 'iu' else 'a float'} target of shape {tshape}"
    if len(ishape) > 1 and tshape == want[:1] + (1,) + want[1:]:
        msg += ". Use target.squeeze(1)" + (" (or target.view(-1))" if len(want) == 1 else "")
    elif kind in "iu" and tshape == ishape and allow_probs:
        msg += (". A one-hot target is a probability target: pass target.float() "
                "(or target.argmax(1) for class indices)")
    raise ShapeError(msg)


def _class_weight(name, weight, input):
    if weight is None:
        return None
    c = input.shape[1] if input.ndim > 1 else input.shape[0]
    w = _constant(name, "weight", weight, input)
    if w.shape != (c,):
        raise ShapeError(f"{name}: weight must hold one value per class, shape ({c},) for an "
                         f"input of shape {tuple(input.shape)}, got shape {w.shape}")
    return w


def _per_class(w, ndim):
    """Class weights (C,) shaped to broadcast against (N, C, *S)."""
    return w.reshape((1, -1) + (1,) * (ndim - 2))


def _column(a, y):
    """Per-place values (flat, or in the target's shape (N, *S)) as (N, 1, *S), to broadcast
    against (N, C, *S); an array or a tensor."""
    return a.reshape(y.shape[:1] + (1,) + y.shape[1:])


class CrossEntropy(Op):
    """Log-softmax and negative log-likelihood in one op, along dimension 1 of x (N, C, *S).

    With log pᶜ = xᶜ - max x - log Σ e^(x - max x), class weights w (1 without), smoothing ε:

    * class indices y: ℓ = -(1 - ε)·w_y·log p_y - (ε/C)·Σ_c w_c·log p_c, and 0 where y is
      ignore_index; 'mean' divides the sum by Σ w_y over kept places (as PyTorch).
      x̄ = ȳ_r·[p·α - (1 - ε)·w_y·onehot(y) - (ε/C)·w],  α = (1 - ε)·w_y + (ε/C)·Σ_c w_c,
      which is ȳ_r·(p - onehot(y)) in the plain case: ȳ_r·p less one scatter, no one-hot array.
    * class probabilities t (x's shape): with t' = (1 - ε)·t + ε/C, ℓ = -Σ_c w_c·t'_c·log p_c;
      'mean' divides by the number of places N·ΠS.
      x̄ = ȳ_r·(p·Σ_c w_c t'_c - w·t');   t̄ = -(1 - ε)·ȳ_r·w·log p.

    The softmax p (and log p, for a target that wants a gradient) is kept from the forward pass
    and handed to the rule by ``_KeptSoftmax`` / ``_KeptLogSoftmax``: as it is in a first-order
    backward, as a recorded function of x under ``create_graph``, so the gradient can be
    differentiated again.  The rule works for any memory layout of x (``x.t()``, permutes).
    """

    @staticmethod
    @_quiet
    def forward(ctx, x, target, y, valid, bad, w, reduction, eps):
        xp = ctx.xp
        a = x.data
        c = a.shape[1]
        shifted = a - a.max(axis=1, keepdims=True)
        idx = wy = logp = None
        if target is None:                                    # class indices
            idx = _flat_index(a.shape, y)
            picked = shifted.reshape(-1)[idx]                 # x_y - max (C order, any layout)
            if eps:
                smooth = (shifted.sum(axis=1) if w is None
                          else (shifted * _per_class(w, a.ndim)).sum(axis=1)).reshape(-1)
            e = xp.exp(shifted, out=shifted)
        else:
            e = xp.exp(shifted)
        s = e.sum(axis=1, keepdims=True)
        lse = xp.log(s)
        if target is None:
            lse = lse.reshape(-1)
            v = lse - picked                                  # -log p_y at each place
            wy = _place_weights(xp, a.dtype, w, y, valid, bad)
            if wy is not None:
                v *= wy
            if eps:
                vf = None if valid is None else valid.reshape(-1)
                sm = (c if w is None else w.sum()) * lse - smooth   # -Σ_c w_c log p_c
                if valid is not None:
                    sm *= vf
                v = (1 - eps) * v + (eps / c) * sm
            denom = (v.size if wy is None else wy.sum()) if reduction == "mean" else None
            v = v.reshape(y.shape)
        else:
            t = target.data
            if eps:
                t = t * (1 - eps) + eps / c
            logp = shifted - lse
            v = -(logp * (t if w is None else t * _per_class(w, a.ndim))).sum(axis=1)
            denom = v.size
            if not target._requires_grad:
                logp = None
        e /= s                                                # e is now the softmax p
        ctx.meta = (y, valid, w, reduction, eps, denom, idx, wy)
        ctx.save_for_backward(x, target, e, logp)
        return _reduce(xp, v, reduction, denom)

    @staticmethod
    @_quiet
    def backward(ctx, gy):
        xp = ctx.xp
        x, target, p, logp = ctx.saved_tensors
        y, valid, w, reduction, eps, denom, idx, wy = ctx.meta
        g = _scale(xp, gy, reduction, denom)
        if target is not None:
            return CrossEntropy._probs_backward(ctx, g, x, target, p, logp)
        c = p.shape[1]
        # per place, or one number (as a 0-d array: ctx.call hands arrays over fastest)
        g = g.reshape((-1,)) if g.ndim else xp.asarray(g)
        r = g if wy is None else g * wy                       # ȳ_r·w_y
        if not eps:
            coef = r
        else:
            vf = None if valid is None else valid.reshape(-1)
            total_w = c if w is None else w.sum()
            wy1 = (1 if vf is None else vf) if wy is None else wy
            coef = g * ((1 - eps) * wy1 + (eps / c) * total_w * (1 if vf is None else vf))
        # ȳ_r·α·p less (1 - ε)·ȳ_r·w_y at the targets
        grad = ctx.call(_SoftmaxLessTargets, x, _column(coef, y) if coef.ndim else coef,
                        r * (1 - eps) if eps else r, p=p, idx=idx)
        if eps:
            gv = g if valid is None else g * valid.reshape(-1)
            term = _column(gv, y) if gv.ndim else gv
            grad = grad - (eps / c) * term * (1 if w is None else _per_class(w, p.ndim))
        return grad, None, None, None, None, None, None, None

    @staticmethod
    def _probs_backward(ctx, g, x, target, p, logp):
        xp = ctx.xp
        w, eps = ctx.meta[2], ctx.meta[4]
        if g.ndim:
            g = xp.expand_dims(g, 1)
        c = x.shape[1]
        wc = None if w is None else _per_class(w, x.ndim)
        nx, nt = ctx.needs_input_grad[:2]
        gx = gt = None
        if nx:
            p = ctx.call(_KeptSoftmax, x, p)
            t = target * (1 - eps) + eps / c if eps else target
            tw = t if wc is None else t * wc
            gx = (p * xp.sum(tw, axis=1, keepdims=True) - tw) * g
        if nt:
            gt = ctx.call(_KeptLogSoftmax, x, logp) * g * (-(1 - eps))
            if wc is not None:
                gt = gt * wc
        return gx, gt, None, None, None, None, None, None


class _KeptSoftmax(Op):
    """p = softmax(x) along dimension 1, as the forward pass computed it (handed in as *p*).

    Jacobian diag(p) - p pᵀ per place, so x̄ = p · (ȳ - Σ_c ȳ·p).
    """

    @staticmethod
    def forward(ctx, x, p):
        p = _array(p)
        ctx.save_for_backward(p)
        return p

    @staticmethod
    def backward(ctx, g):
        p, = ctx.saved_tensors
        return p * (g - ctx.xp.sum(g * p, axis=1, keepdims=True)), None


class _KeptLogSoftmax(Op):
    """l = log softmax(x) along dimension 1, as the forward pass computed it (handed in as *l*).

    Jacobian I - 1 pᵀ per place, so x̄ = ȳ - e^l · Σ_c ȳ.
    """

    @staticmethod
    def forward(ctx, x, logp):
        logp = _array(logp)
        ctx.save_for_backward(logp)
        return logp

    @staticmethod
    def backward(ctx, g):
        logp, = ctx.saved_tensors
        xp = ctx.xp
        return g - xp.exp(logp) * xp.sum(g, axis=1, keepdims=True), None


class _SoftmaxLessTargets(Op):
    """y = c · p - v · onehot(targets), p = softmax(x) along dimension 1 (as the forward pass
    computed it, handed in as the constant *p*), c a number or one per place, v one per target
    (at the flat C-order positions *idx*) or one number: cross-entropy's x̄ in a single pass, for
    x of any memory layout.

    x̄ = p · (ȳc - Σ_c ȳc·p);   c̄ = ȳ · p (summed to c's shape);   v̄ = -ȳ at the targets.
    """

    @staticmethod
    def forward(ctx, x, c, v, p, idx):
        out = p * _array(c)
        if not out.flags.c_contiguous:     # p has x's layout: make the flat view the array itself
            out = ctx.xp.ascontiguousarray(out)
        out.reshape(-1)[idx] -= _array(v)
        ctx.save_for_backward(x, c, p)
        ctx.idx = idx
        return out

    @staticmethod
    def backward(ctx, gy):
        xp = ctx.xp
        x, c, p = ctx.saved_tensors
        nx, nc, nv = ctx.needs_input_grad[:3]
        gx = gc = gv = None
        if nx or nc:
            p = ctx.call(_KeptSoftmax, x, p)
        if nx:
            gyc = gy * c
            gx = p * (gyc - xp.sum(gyc * p, axis=1, keepdims=True))
        if nc:
            gc = gy * p
        if nv:
            gv = -gy.reshape((-1,))[ctx.idx]
        return gx, gc, gv


class ScatterFlat(Op):
    """out = zeros(shape) with v at the distinct flat (C-order) positions idx.  v̄ = ȳ.flat[idx].

    *out* is a fresh C-ordered array, so its flat view is the array itself: a caller combines it
    with arrays of any layout by ordinary (out-of-place) arithmetic.
    """

    @staticmethod
    def forward(ctx, v, idx, shape):
        idx, v = _array(idx), _array(v)           # v may be a NumPy scalar
        ctx.idx = idx
        out = ctx.xp.zeros(shape, dtype=v.dtype)
        out.reshape(-1)[idx] = v
        return out

    @staticmethod
    def backward(ctx, gy):
        return gy.reshape((-1,))[ctx.idx], None, None


def _batched(input, target, kind):
    """An unbatched input (C,) (and its target) as a batch of one."""
    if input.ndim != 1:
        return input, target
    if kind == "probs":
        return input.reshape(1, -1), target.reshape(1, -1)
    return input.reshape(1, -1), Tensor(target.data.reshape(1))


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                  reduction="mean", label_smoothing=0.0):
    """Cross-entropy of logits *input* (N, C, d1, ...) against class indices or probabilities.

    *target* holds class indices (int, shape (N, d1, ...), ignore_index skipped) or class
    probabilities (float, the input's shape).  One fused, stable op: never softmax then log.
    A class index out of range raises on the CPU; on a GPU it is not read back (as in PyTorch's
    CUDA kernel, which would otherwise copy to the host every step) and gives a NaN loss.

    >>> F.cross_entropy(cr.tensor([[2., 0., 0.]]), cr.tensor([0]))
    tensor(0.2395)
    """
    name = "cross_entropy"
    reduction = check_reduction(reduction, name, size_average, reduce)
    _check_input(name, input)
    if input.ndim == 0:
        raise ShapeError(f"{name}: input must have a class dimension: shape (C,), (N, C) or "
                         f"(N, C, d1, ...), got a 0-d tensor")
    target = _as_target(target)
    kind = _target_kind(name, input, target, allow_probs=True)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ConfigError(f"{name}: label_smoothing must be between 0.0 and 1.0, got "
                         f"{label_smoothing}")
    w = _class_weight(name, weight, input)
    unbatched = input.ndim == 1
    x, t = _batched(input, target, kind)
    if x.shape[1] == 0:
        raise ShapeError(f"{name}: input of shape {tuple(input.shape)} has no classes")
    eps = float(label_smoothing)
    if kind == "probs":
        if ignore_index >= 0:
            raise ConfigError(f"{name}: ignore_index={ignore_index} cannot be used with class "
                             f"probability targets (it only applies to class indices)")
        out = CrossEntropy.apply(x, _cast_like(t, input), None, None, None, w, reduction, eps)
    else:
        y, valid, bad = _class_targets(name, input.shape, t.data, ignore_index)
        out = CrossEntropy.apply(x, None, y, valid, bad, w, reduction, eps)
    return out.reshape(()) if unbatched and reduction == "none" else out


class NllLoss(Op):
    """ℓ = -w_y·x_y at each place (0 where y is ignore_index); 'mean' divides by Σ w_y.

    x̄ = -ȳ_r·w_y at (n, y_n) and 0 elsewhere: one scatter, itself differentiable.
    """

    @staticmethod
    @_quiet
    def forward(ctx, x, y, valid, bad, w, reduction):
        xp = ctx.xp
        a = x.data
        idx = _flat_index(a.shape, y)
        flat = a.reshape(-1) if a.flags.c_contiguous else xp.ascontiguousarray(a).reshape(-1)
        v = -flat[idx]
        wy = _place_weights(xp, a.dtype, w, y, valid, bad)
        if wy is not None:
            v *= wy
        denom = (wy.sum() if wy is not None else v.size) if reduction == "mean" else None
        ctx.meta = (a.shape, idx, wy, reduction, denom)
        return _reduce(xp, v.reshape(y.shape), reduction, denom)

    @staticmethod
    @_quiet
    def backward(ctx, gy):
        shape, idx, wy, reduction, denom = ctx.meta
        g = _scale(ctx.xp, gy, reduction, denom)
        g = g.reshape((-1,)) if g.ndim else g
        if wy is not None:
            g = g * wy
        return ctx.call(ScatterFlat, -g, idx, shape), None, None, None, None, None


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
             reduction="mean"):
    """Negative log-likelihood of log-probabilities *input* (N, C, d1, ...) at class indices.

    Pair it with ``log_softmax`` (or use :func:`cross_entropy`, which fuses the two).  A class
    index out of range raises on the CPU and gives a NaN loss on a GPU (see cross_entropy).

    >>> F.nll_loss(cr.tensor([[-0.1, -2.3]]), cr.tensor([0]))
    tensor(0.1000)
    """
    name = "nll_loss"
    reduction = check_reduction(reduction, name, size_average, reduce)
    _check_input(name, input)
    if input.ndim == 0:
        raise ShapeError(f"{name}: input must have a class dimension: shape (C,), (N, C) or "
                         f"(N, C, d1, ...), got a 0-d tensor")
    target = _as_target(target)
    _target_kind(name, input, target, allow_probs=False)
    w = _class_weight(name, weight, input)
    unbatched = input.ndim == 1
    x, t = _batched(input, target, "index")
    y, valid, bad = _class_targets(name, input.shape, t.data, ignore_index)
    out = NllLoss.apply(x, y, valid, bad, w, reduction)
    return out.reshape(()) if unbatched and reduction == "none" else out

