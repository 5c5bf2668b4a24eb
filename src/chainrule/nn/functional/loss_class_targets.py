"""Class-index targets for the classification losses (cross-entropy, NLL): their checks, the
positions they pick, their class weights.

An input (N, C, d1, ...) has targets (N, d1, ...) of class indices; ``ignore_index`` places are
skipped; on the CPU an index out of range raises ``LabelError`` naming value and place, while on a
device (where that check would copy to the host every step) it gives a NaN loss at that place, as
PyTorch's CUDA kernels do.
"""
import functools


from chainrule.backend import namespace_of, numpy_namespace
from chainrule.errors import DTypeError, LabelError, ShapeError
from chainrule.tensor import Tensor
from chainrule.nn.functional.loss_common import _constant


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
    kind = target._data.dtype.kind
    if kind == "f":
        if allow_probs and tshape == ishape:
            return "probs"
        if tshape == want or (len(tshape) == len(want) + 1 and tshape[:1] + tshape[2:] == want
                              and tshape[1] == 1):
            raise DTypeError(
                f"{name}: target has dtype {target._data.dtype} and shape {tshape}, which looks "
                f"like class indices, but class indices must be integers: pass target.long()"
                + (f" (class probabilities would have the input's shape {ishape})"
                   if allow_probs else ""))
    elif kind in "iu":
        if tshape == want:
            return "index"
    else:
        raise DTypeError(f"{name}: target must be integer class indices (int64)"
                        + (" or float class probabilities" if allow_probs else "")
                        + f", got dtype {target._data.dtype}")
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


def _batched(input, target, kind):
    """An unbatched input (C,) (and its target) as a batch of one."""
    if input.ndim != 1:
        return input, target
    if kind == "probs":
        return input.reshape(1, -1), target.reshape(1, -1)
    return input.reshape(1, -1), Tensor(target._data.reshape(1))
