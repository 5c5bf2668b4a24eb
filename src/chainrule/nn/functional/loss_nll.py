"""``nll_loss``: the negative log-likelihood of log-probabilities at class indices, as
``torch.nn.functional.nll_loss``; its gradient is one scatter (``ops.indexing.IndexAdd``).

>>> F.nll_loss(cr.tensor([[-0.1, -2.3]]), cr.tensor([0]))
tensor(0.1000)
"""
import math


from chainrule.function import Op
from chainrule.ops.indexing import IndexAdd
from chainrule.nn.functional.loss_common import (_as_target, _check_input, _quiet, _reduce, _scale,
                                                 check_reduction, jvp_by_vjp)
from chainrule.nn.functional.loss_class_targets import (_batched, _class_targets, _class_weight,
                                                        _flat_index, _place_weights, _target_kind)


class NllLoss(Op):
    """ℓ = -w_y·x_y at each place (0 where y is ignore_index); 'mean' divides by Σ w_y.

    x̄ = -ȳ_r·w_y at (n, y_n) and 0 elsewhere: one scatter, itself differentiable.
    """

    @staticmethod
    @_quiet
    def forward(ctx, x, y, valid, bad, w, reduction):
        xp = ctx.xp
        a = x._data
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
        gx = ctx.call(IndexAdd, -g, idx, (math.prod(shape),)).reshape(shape)   # distinct places
        return gx, None, None, None, None, None

    @staticmethod
    def jvp(ctx, tx, *_):
        """ẏ = -w_y · ẋ_y per place, from the VJP at ȳ = 1."""
        return jvp_by_vjp(ctx, (tx,), class_axis=1)


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
    _check_input(name, input, classes=True)
    target = _as_target(target)
    _target_kind(name, input, target, allow_probs=False)
    w = _class_weight(name, weight, input)
    unbatched = input.ndim == 1
    x, t = _batched(input, target, "index")
    y, valid, bad = _class_targets(name, input.shape, t._data, ignore_index)
    out = NllLoss.apply(x, y, valid, bad, w, reduction)
    return out.reshape(()) if unbatched and reduction == "none" else out
