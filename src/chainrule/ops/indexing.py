"""Indexing: ``x[idx]`` and its adjoint, adding a gradient back into the indexed places.

``x[idx]`` picks elements; its VJP puts ȳ back where they came from in a zero tensor of x's shape,
adding where an integer-array index repeats an element.  The two ops are each other's VJP, so
indexing is differentiable to any order.
"""
from chainrule.autograd.function import Function
from chainrule.backend import xp
from chainrule.errors import IndexOutOfRangeError
from chainrule.ops.elementwise import where
from chainrule.tensor import Tensor


def _is_basic(idx):
    """True when *idx* uses only ints, slices, None and Ellipsis (a view; no repeats)."""
    items = idx if isinstance(idx, tuple) else (idx,)
    return all(i is None or i is Ellipsis or isinstance(i, slice)
               or isinstance(i, (int, xp.integer)) and not isinstance(i, bool) for i in items)


def normalize_index(idx):
    """Replace tensors inside an index by their arrays; bool/int lists become arrays."""
    if isinstance(idx, Tensor):
        return idx.data
    if isinstance(idx, tuple):
        return tuple(normalize_index(i) for i in idx)
    if isinstance(idx, list):
        return xp.asarray([i.item() if isinstance(i, Tensor) else i for i in idx])
    return idx


class GetItem(Function):
    """y = x[idx].  VJP: x̄ = zeros like x with ȳ added at idx."""

    @staticmethod
    def forward(ctx, x, idx):
        ctx.meta = (x.data.shape, idx)
        try:
            y = x.data[idx]
            if not isinstance(y, xp.ndarray):   # one element: a 0-d view, not a copied scalar
                y = x.data[(idx if isinstance(idx, tuple) else (idx,)) + (Ellipsis,)]
            return y
        except IndexError as e:
            raise IndexOutOfRangeError(f"index {_show(idx)} is invalid for a tensor of shape "
                                       f"{x.shape}: {e}") \
                from None

    @staticmethod
    def backward(ctx, gy):
        shape, idx = ctx.meta
        return IndexAdd.apply(gy, idx, shape), None


class IndexAdd(Function):
    """y = zeros(shape) with g added at idx (repeated indices accumulate).  VJP: ḡ = ȳ[idx]."""

    @staticmethod
    def forward(ctx, g, idx, shape):
        ctx.idx = idx
        out = xp.zeros(shape, dtype=g.data.dtype)
        if _is_basic(idx):
            out[idx] = g.data
        else:
            xp.add.at(out, idx, g.data)
        return out

    @staticmethod
    def backward(ctx, gy):
        return GetItem.apply(gy, ctx.idx), None, None


def _show(idx):
    if isinstance(idx, tuple):
        return "[" + ", ".join(_show1(i) for i in idx) + "]"
    return "[" + _show1(idx) + "]"


def _show1(i):
    if isinstance(i, xp.ndarray):
        return f"array(shape={i.shape}, dtype={i.dtype})"
    if isinstance(i, slice):
        return f"{'' if i.start is None else i.start}:{'' if i.stop is None else i.stop}" + \
            ("" if i.step is None else f":{i.step}")
    return repr(i)


def getitem(x, idx):
    """``x[idx]`` with ints, slices, None, Ellipsis, integer arrays and boolean masks."""
    idx = normalize_index(idx)
    out = GetItem.apply(x, idx)
    if _is_basic(idx):   # a view: in-place changes through it are changes to x
        out._vc, out._view_of = x._vc, (x, "index", idx)
    return out


def index_select(input, dim, index):
    """Pick entries along *dim* at the integer *index* (``torch.index_select``)."""
    idx = [slice(None)] * input.data.ndim
    idx[dim] = index.data if isinstance(index, Tensor) else xp.asarray(index)
    return GetItem.apply(input, tuple(idx))


def masked_fill(input, mask, value):
    """A copy of *input* with *value* where *mask* is true."""
    return where(mask, value, input)
