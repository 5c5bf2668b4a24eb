"""vmap's batching rules for the losses: one loss per example, as ``torch.func.vmap`` gives.

Each loss op runs once on the whole batch with ``reduction='none'`` — the batch dimension in front
of the elementwise losses, merged into the class losses' own batch dimension N — and the
example's 'sum' or 'mean' is then taken over its own places.  'mean' divides by what the op divides
by for one example: its number of places, or Σ w where the op weighs its mean (class weights w_y of
the kept places for cross-entropy and NLL, ``weight`` for the weighted regression losses).

Constants that the functional forms derive from a batched target (class indices, the mask of
ignored places) arrive as batched arrays and are used per example.
"""
import math

import numpy as np

from chainrule.backend import namespace_of
from chainrule.errors import LabelError
from chainrule.func.batched import RULES, LogicalArray, VmapError, is_batched
from chainrule.nn.functional import loss_binary as _bin
from chainrule.nn.functional import loss_cross_entropy as _ce
from chainrule.nn.functional import loss_nll as _nll
from chainrule.nn.functional import loss_regression as _reg
from chainrule.nn.functional.loss_class_targets import _place_weights
from chainrule.tensor import Tensor


def _full(level, t, shape):
    """Tensor *t* (batched or not) as a physical tensor of shape (B, *shape)."""
    b = level.size
    if is_batched(t, level):
        p = level.phys(t)
        if t.ndim < len(shape):
            p = p.reshape((b,) + (1,) * (len(shape) - t.ndim) + tuple(t.shape))
    else:
        p = t.reshape((1,) * (len(shape) - t.ndim + 1) + tuple(t.shape))
    return p if tuple(p.shape) == (b,) + shape else p.expand((b,) + shape)


def _array(level, a, rank=None):
    """A constant argument on the physical side: a batched array of this level as its physical
    array (B, 1, ..., 1, *sample) aligned to *rank* sample dimensions; anything else as it is."""
    if type(a) is not LogicalArray:
        return a
    if a._level is not level:
        raise VmapError("vmap: a loss constant batched by another vmap level is not supported")
    arr = a._arr()
    if rank is not None and a.ndim < rank:
        arr = arr.reshape((level.size,) + (1,) * (rank - a.ndim) + a.shape)
    return arr


def _per_example(out, reduction, denom):
    """(B, *places) losses as each example's 'none', 'sum' or 'mean' (sum / denom: a count, or
    an array of weight sums, one or one per example, on the loss's device)."""
    if reduction == "none":
        return out
    total = out.sum(dim=tuple(range(1, out.ndim))) if out.ndim > 1 else out
    if reduction == "sum":
        return total
    if isinstance(denom, int):
        return total / denom
    return total / Tensor(namespace_of(out._data).asarray(denom, dtype=out._data.dtype))


# ---- the elementwise losses: (x, t, constants..., reduction, ...) ------------------------------
def _elementwise_loss(red_at):
    def rule(level, cls, args, kwargs):
        x, t = args[0], args[1]
        shape = tuple(np.broadcast_shapes(tuple(x.shape), tuple(t.shape)))
        new = [_full(level, x, shape), _full(level, t, shape)]
        new += [_array(level, a, len(shape)) for a in args[2:red_at]]
        new += ["none", *args[red_at + 1:]]
        out = cls.apply(*new, **kwargs)
        denom = math.prod(shape)
        w = new[2]
        if getattr(cls, "WEIGHTED_MEAN", False) and w is not None and args[red_at] == "mean":
            if type(args[2]) is LogicalArray:     # a weight per example
                denom = namespace_of(w).broadcast_to(w, (level.size,) + shape)
                denom = denom.reshape(level.size, -1).sum(1)
            else:
                denom = w.sum()
        return level.wrap(_per_example(out, args[red_at], denom))
    return rule


# ---- the class losses: x (N, C, *S) with class indices or probabilities ------------------------
def _merge(level, t, shape):
    """(B, N, ...) as (B·N, ...): the batch merged into the loss's own batch dimension."""
    p = _full(level, t, shape)
    return p.reshape((level.size * shape[0],) + shape[1:])


def _class_arrays(level, places, y, valid, bad):
    """The class indices, kept-place mask and out-of-range mask on the physical side, merged as
    (B·N, *S); an index out of range raises as it does outside vmap."""
    b = level.size
    out = []
    for a in (y, valid, bad):
        if a is not None:
            a = _array(level, a)
            if a.shape[:1] != (b,) or a.ndim != len(places) + 1:
                a = namespace_of(a).broadcast_to(a, (b,) + places)
            a = a.reshape((b * places[0],) + places[1:])
        out.append(a)
    y, valid, bad = out
    if bad is not None and bad.any():
        raise LabelError(f"cross_entropy/nll_loss: class index {int(y[bad][0])} is out of range "
                         f"for an example under vmap")
    return y, valid, None


def _class_denominator(level, dtype, w, y, valid, reduction, places):
    if reduction != "mean":
        return None
    wy = _place_weights(namespace_of(y), dtype, w, y, valid, None)
    if wy is None:
        return math.prod(places)
    return wy.reshape(level.size, -1).sum(1)


def cross_entropy(level, cls, args, kwargs):
    x, target, y, valid, bad, w, reduction, eps = args
    shape = tuple(x.shape)
    places = (shape[0],) + shape[2:]
    px = _merge(level, x, shape)
    if target is not None:                       # class probabilities
        out = cls.apply(px, _merge(level, target, shape), None, None, None, w, "none", eps)
        denom = math.prod(places)
    else:
        y, valid, _ = _class_arrays(level, places, y, valid, bad)
        out = cls.apply(px, None, y, valid, None, w, "none", eps)
        denom = _class_denominator(level, px._data.dtype, w, y, valid, reduction, places)
    out = out.reshape((level.size,) + places)
    return level.wrap(_per_example(out, reduction, denom))


def nll_loss(level, cls, args, kwargs):
    x, y, valid, bad, w, reduction = args
    shape = tuple(x.shape)
    places = (shape[0],) + shape[2:]
    px = _merge(level, x, shape)
    y, valid, _ = _class_arrays(level, places, y, valid, bad)
    out = cls.apply(px, y, valid, None, w, "none").reshape((level.size,) + places)
    denom = _class_denominator(level, px._data.dtype, w, y, valid, reduction, places)
    return level.wrap(_per_example(out, reduction, denom))


for _op in (_reg.MSE, _reg.L1, _reg.Huber, _reg.SmoothL1, _reg.Pinball, _bin.BinaryCrossEntropy):
    RULES[_op] = _elementwise_loss(3)
RULES[_bin.BinaryCrossEntropyWithLogits] = _elementwise_loss(4)
RULES[_ce.CrossEntropy] = cross_entropy
RULES[_nll.NllLoss] = nll_loss
