"""Indexing: ``x[idx]`` and its adjoint, adding a gradient back into the indexed places.

``x[idx]`` picks elements; its VJP puts ȳ back where they came from in a zero tensor of x's shape,
adding where an integer-array index repeats an element.  The two ops are each other's VJP, so
indexing is differentiable to any order.
"""
import numbers

from chainrule.backend import is_array, namespace_of, numpy_namespace
from chainrule.errors import IndexOutOfRangeError
from chainrule.function import Op
from chainrule.ops.elementwise import where
from chainrule.tensor import Tensor


def _is_basic(idx):
    """True when *idx* uses only ints, slices, None and Ellipsis (a view; no repeats)."""
    items = idx if isinstance(idx, tuple) else (idx,)
    return all(i is None or i is Ellipsis or isinstance(i, slice)
               or isinstance(i, numbers.Integral) and not isinstance(i, bool) for i in items)


def normalize_index(idx, like=None):
    """Replace tensors inside an index by their arrays; bool/int lists become arrays.

    With *like* (the indexed array), index arrays are made in (or moved to) its namespace, as
    PyTorch accepts CPU index tensors for a CUDA tensor.
    """
    ns = numpy_namespace if like is None else namespace_of(like)
    return _normalize(idx, ns)


def _normalize(idx, ns):
    if isinstance(idx, Tensor):
        idx = idx._data
    if isinstance(idx, tuple):
        return tuple(_normalize(i, ns) for i in idx)
    if isinstance(idx, list):
        return ns.asarray([i.item() if isinstance(i, Tensor) else i for i in idx])
    if is_array(idx) and namespace_of(idx) is not ns:
        return ns.asarray(idx.get() if namespace_of(idx) is not numpy_namespace else idx)
    return idx


def _array(i):
    return i._data if isinstance(i, Tensor) else i


class GetItem(Op):
    """y = x[idx].  VJP: x̄ = zeros like x with ȳ added at idx."""

    @staticmethod
    def forward(ctx, x, idx):
        # from ctx.call, x may be a first-order gradient: an array (or a NumPy scalar), and idx
        # an index array handed over as a tensor
        a, idx = _array(x), _array(idx)
        ctx.meta = (a.shape, idx)
        try:
            y = a[idx]
            if not isinstance(y, ctx.xp.ndarray):   # one element: a 0-d view, not a copied scalar
                y = a[(idx if isinstance(idx, tuple) else (idx,)) + (Ellipsis,)]
            return y
        except IndexError as e:
            raise IndexOutOfRangeError(f"index {_show(idx)} is invalid for a tensor of shape "
                                       f"{a.shape}: {e}") \
                from None

    @staticmethod
    def backward(ctx, gy):
        shape, idx = ctx.meta
        return ctx.call(IndexAdd, gy, idx, shape), None

    @staticmethod
    def jvp(ctx, tx, _):
        return ctx.call(GetItem, tx, ctx.meta[1])


class IndexAdd(Op):
    """y = zeros(shape) with g added at idx (repeated indices accumulate).  VJP: ḡ = ȳ[idx]."""

    @staticmethod
    def forward(ctx, g, idx, shape):
        g, idx = _array(g), _array(idx)
        ctx.idx = idx
        out = ctx.xp.zeros(shape, dtype=g.dtype)
        if _is_basic(idx):
            out[idx] = g
        else:
            ctx.xp.add.at(out, idx, g)
        return out

    @staticmethod
    def backward(ctx, gy):
        return ctx.call(GetItem, gy, ctx.idx), None, None

    @staticmethod
    def jvp(ctx, tg, *rest):
        return ctx.call(IndexAdd, tg, ctx.idx, ctx.outputs[0].shape)


class IndexAssign(Op):
    """y = zeros(shape) with ``y[idx] = v`` (at a repeated index one write wins: the last on the
    CPU, as NumPy and PyTorch's CPU kernels).  VJP: v̄ = ȳ[idx], PyTorch's rule for index_put
    (every value gets the gradient of its slot); ẏ is the same write of v̇."""

    @staticmethod
    def forward(ctx, v, idx, shape):
        v = v._data if isinstance(v, Tensor) else v
        ctx.idx, ctx.shape = idx, shape
        out = ctx.xp.zeros(shape, dtype=v.dtype)
        out[idx] = v
        return out

    @staticmethod
    def backward(ctx, gy):
        return ctx.call(GetItem, gy, ctx.idx), None, None

    @staticmethod
    def jvp(ctx, tv, *_):
        return ctx.call(IndexAssign, tv, ctx.idx, ctx.shape)


def _show(idx):
    if isinstance(idx, tuple):
        return "[" + ", ".join(_show1(i) for i in idx) + "]"
    return "[" + _show1(idx) + "]"


def _show1(i):
    if is_array(i):
        return f"array(shape={i.shape}, dtype={i.dtype})"
    if isinstance(i, slice):
        return f"{'' if i.start is None else i.start}:{'' if i.stop is None else i.stop}" + \
            ("" if i.step is None else f":{i.step}")
    return repr(i)


def getitem(x, idx):
    """``x[idx]`` with ints, slices, None, Ellipsis, integer arrays and boolean masks."""
    idx = normalize_index(idx, x._data)
    out = GetItem.apply(x, idx)
    if _is_basic(idx):   # a view: in-place changes through it are changes to x
        out._vc, out._view_of = x._vc, (x, "index", idx)
    return out


def index_select(input, dim, index):
    """Pick entries along *dim* at the integer *index* (``torch.index_select``)."""
    ns = namespace_of(input._data)
    index = index._data if isinstance(index, Tensor) else index
    idx = [slice(None)] * input._data.ndim
    idx[dim] = _normalize(index, ns) if is_array(index) else ns.asarray(index)
    return GetItem.apply(input, tuple(idx))


def masked_fill(input, mask, value):
    """A copy of *input* with *value* where *mask* is true."""
    return where(mask, value, input)
