"""Regression losses, as ``torch.nn.functional``: ``mse_loss``, ``l1_loss``, ``huber_loss``,
``smooth_l1_loss`` and chainrule's ``pinball_loss`` (quantile regression).

Each is one fused op, loss = reduce(w · f(x − t)): the forward computes f and the reduction on
arrays, the backward is ȳ · w · f'(x − t), written once with ``ctx.xp`` so that it is
differentiable again under ``create_graph=True``.

>>> F.mse_loss(cr.tensor([1., 2.]), cr.tensor([1., 4.]))
tensor(2.)
"""


from chainrule.errors import ConfigError
from chainrule.function import Op
from chainrule.nn.functional.loss_common import (_array, _constant, _quiet, _reduce,
                                                 _regression_pair, _scale, check_reduction,
                                                 jvp_by_vjp)


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
        v = type(ctx).value(ctx.xp, x._data - t._data, param)
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

    @staticmethod
    def jvp(ctx, tx, tt, *_):
        """ẏ = reduce(w · f'(d) · (ẋ - ṫ)), from the VJP."""
        return jvp_by_vjp(ctx, (tx, tt))


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
