"""vmap's batching rules: each op run once on the whole batch, the batch dimension first.

A rule receives the op's arguments as the function gave them (batched tensors of this level,
plain tensors, numbers) and runs with the ops going to the level below, on physical tensors.
Most rules only move a dimension index or a shape by one place:

* elementwise and broadcasting ops: each batched operand is viewed as (B, 1, ..., 1, *sample) so
  that broadcasting against the unbatched operands lines up sample dimensions, not the batch;
* reductions, softmax, ``cat``: the dimension arguments shift by one (None becomes "all but
  the batch");
* shape ops: the batch size is put in front of the target shape or permutation;
* ``matmul``: 1-D operands are made matrices first, then the batch dimensions line up as above.
"""
import numpy as np

from chainrule.func.batched import RULES, LogicalArray, VmapError, is_batched
from chainrule.nn.functional.linear import Linear
from chainrule.ops import arithmetic as ar
from chainrule.ops import cast
from chainrule.ops import elementwise as el
from chainrule.ops import indexing as ix
from chainrule.ops import reduction as rd
from chainrule.ops import shape as sh
from chainrule.ops import softmax as sm
from chainrule.tensor import Tensor


def _out(level, out):
    return level.wrap_out(out)


def elementwise(level, cls, args, kwargs):
    """Ops that broadcast their tensor arguments and compute elementwise."""
    rank = max(a.ndim for a in args if isinstance(a, Tensor))
    new = []
    for a in args:
        if is_batched(a, level):
            p = level.phys(a)
            if a.ndim < rank:
                p = p.reshape((level.size,) + (1,) * (rank - a.ndim) + tuple(a.shape))
            a = p
        new.append(a)
    return _out(level, cls.apply(*new, **kwargs))


def _reduction(axes_at):
    """Ops ``op(x, ..., axes, ...)`` reducing over a sorted tuple of axes (None: all)."""
    def rule(level, cls, args, kwargs):
        x = args[0]
        axes = args[axes_at]
        args = list(args)
        args[0] = level.phys(x)
        args[axes_at] = tuple(range(1, x.ndim + 1)) if axes is None else \
            tuple(a + 1 for a in axes)
        return _out(level, cls.apply(*args, **kwargs))
    return rule


def _dim_at(pos):
    """Ops ``op(x, ..., dim, ...)`` along one dimension."""
    def rule(level, cls, args, kwargs):
        args = list(args)
        args[0] = level.phys(args[0])
        args[pos] = args[pos] + 1
        return _out(level, cls.apply(*args, **kwargs))
    return rule


def reshape(level, cls, args, kwargs):
    x, shape = args
    return _out(level, cls.apply(level.phys(x), (level.size,) + tuple(shape)))


def permute(level, cls, args, kwargs):
    x, dims = args
    return _out(level, cls.apply(level.phys(x), (0,) + tuple(d + 1 for d in dims)))


def expand(level, cls, args, kwargs):
    x, shape = args
    p = level.phys(x)
    if x.ndim < len(shape):
        p = p.reshape((level.size,) + (1,) * (len(shape) - x.ndim) + tuple(x.shape))
    return _out(level, cls.apply(p, (level.size,) + tuple(shape)))


def sum_to(level, cls, args, kwargs):
    x, shape = args
    shape = tuple(shape)
    target = (level.size,) + (1,) * (x.ndim - len(shape)) + shape
    p = cls.apply(level.phys(x), target)
    return _out(level, p.reshape((level.size,) + shape))


def cat(level, cls, args, kwargs):
    dim, *xs = args
    return _out(level, cls.apply(dim + 1, *[level.phys_or_expand(x) for x in xs]))


def matmul(level, cls, args, kwargs):
    a, b = args
    ra, rb = a.ndim, b.ndim
    ops = []
    for t, vec in ((a, lambda k: (1, k)), (b, lambda k: (k, 1))):   # 1-D operands as matrices
        shape = vec(t.shape[0]) if t.ndim == 1 else tuple(t.shape)
        if is_batched(t, level):
            ops.append([level.phys(t), shape, True])
        else:
            ops.append([t.reshape(shape) if t.ndim == 1 else t, shape, False])
    n = max(len(ops[0][1]), len(ops[1][1]))
    for o in ops:          # a batched operand as (B, 1, ..., 1, *batch dims, m, k)
        if o[2]:
            o[0] = o[0].reshape((level.size,) + (1,) * (n - len(o[1])) + o[1])
    out = cls.apply(ops[0][0], ops[1][0])
    shape = tuple(out.shape)
    if ra == 1:
        shape = shape[:-2] + shape[-1:]
    if rb == 1:
        shape = shape[:-1]
    if shape != tuple(out.shape):
        out = out.reshape(shape)
    return _out(level, out)


def linear(level, cls, args, kwargs):
    x, w, b = args
    if not is_batched(w, level) and not is_batched(b, level):
        return _out(level, cls.apply(level.phys(x), w, b))
    # per-sample weights: x Wᵀ + b with the batched matmul and add
    pw = level.phys_or_expand(w)
    px = level.phys_or_expand(x)
    y = ar.MatMul.apply(px.reshape((level.size, -1, x.shape[-1])), sh.transpose(pw, 1, 2))
    y = y.reshape((level.size,) + tuple(x.shape[:-1]) + (w.shape[0],))
    if b is not None:
        pb = level.phys_or_expand(b)
        y = y + pb.reshape((level.size,) + (1,) * (x.ndim - 1) + (w.shape[0],))
    return _out(level, y)


def getitem(level, cls, args, kwargs):
    x, idx = args
    items = idx if isinstance(idx, tuple) else (idx,)
    for i in items:
        if isinstance(i, (Tensor, LogicalArray)):
            raise VmapError("vmap: indexing with a batched index tensor is not supported; "
                            "use cr.gather with an index of the sample's shape")
    expected = x._data[idx].shape if not _has_bool(items) else None
    out = cls.apply(level.phys(x), (slice(None),) + items)
    if expected is not None and tuple(out.shape) != (level.size,) + expected:
        j = _advanced_ndim(items)      # separated advanced indices put their dims first
        dims = (j,) + tuple(d for d in range(out.ndim) if d != j)
        out = sh.Permute.apply(out, dims)
    return _out(level, out)


def _has_bool(items):
    return any(isinstance(i, np.ndarray) and i.dtype == bool for i in items)


def _advanced_ndim(items):
    shapes = [np.shape(i) for i in items
              if isinstance(i, np.ndarray) or isinstance(i, (int, np.integer))
              and not isinstance(i, bool)]
    return len(np.broadcast_shapes(*shapes)) if shapes else 0


def _index_array(level, idx):
    """An index array for the physical tensor: its own batch if batched, else repeated."""
    if type(idx) is LogicalArray:
        if idx._level is level:
            return idx._arr()
        raise VmapError("vmap: an index batched by another vmap level is not supported")
    return np.broadcast_to(idx, (level.size,) + idx.shape)


def gather(level, cls, args, kwargs):
    x, dim, idx = args
    return _out(level, cls.apply(level.phys_or_expand(x), dim + 1, _index_array(level, idx)))


def max_dim(level, cls, args, kwargs):
    x, dim, keepdim, idx = args
    return _out(level, cls.apply(level.phys_or_expand(x), dim + 1, keepdim,
                                 _index_array(level, idx)))


for _op in (ar.Add, ar.Sub, ar.Mul, ar.Div, ar.Neg, ar.Pow, el.Exp, el.Log, el.Log1p, el.Sqrt,
            el.Sin, el.Cos, el.Tanh, el.Sigmoid, el.Relu, el.Abs, el.Clamp, el.Maximum,
            el.Minimum, el.Where, el._Constant, cast.Clone, cast.ToDtype):
    RULES[_op] = elementwise
for _op in (rd.Sum, rd.Mean, rd.Prod, rd.AMax, rd.LogSumExp):
    RULES[_op] = _reduction(1)
RULES[rd.Std] = _reduction(1)
RULES[rd.Norm] = _reduction(2)
RULES[sm.Softmax] = _dim_at(1)
RULES[sm.LogSoftmax] = _dim_at(1)
RULES[sh.Reshape] = reshape
RULES[sh.Permute] = permute
RULES[sh.Expand] = expand
RULES[sh.SumTo] = sum_to
RULES[sh.Cat] = cat
RULES[ar.MatMul] = matmul
RULES[Linear] = linear
RULES[ix.GetItem] = getitem
RULES[rd.GatherDim] = gather
RULES[rd.MaxDim] = max_dim
