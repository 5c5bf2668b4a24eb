"""Writing at indices: ``index_fill, index_copy, index_put, masked_scatter, put`` (out of place;
their in-place ``_`` forms go through ``inplace._inplace``).

Each is a selection: y = where(mask, placed values, x), with the values placed by
``IndexAssign`` (or ``IndexAdd``; both VJPs read ȳ back at the indices).  So x̄ = ȳ where nothing was written, and the source's
gradient is ȳ at the positions it was written to (summed over repeats for ``accumulate=True``,
where y = x + the placed values and x̄ = ȳ everywhere).
"""
from chainrule.backend import namespace_of
from chainrule.errors import ArgumentTypeError, DTypeError, IndexOutOfRangeError, ShapeError
from chainrule.ops._util import normalize_dim
from chainrule.ops.arithmetic import add
from chainrule.ops.cast import to
from chainrule.ops.elementwise import where
from chainrule.ops.indexing import IndexAdd, IndexAssign, normalize_index
from chainrule.ops.scatter import index_add
from chainrule.ops.shape import expand, reshape
from chainrule.tensor import Tensor


def _index(input, dim, index, op):
    """(dim, the 1-D int index array, the bool mask of the chosen slots shaped to broadcast)."""
    xp = namespace_of(input._data)
    nd = input._data.ndim
    d = normalize_dim(dim, nd, op)
    idx = index._data if isinstance(index, Tensor) else xp.asarray(index)
    if idx.dtype.kind not in "iu" or idx.ndim > 1:
        raise DTypeError(f"{op}: index must be a 0-D or 1-D integer tensor, got shape "
                         f"{tuple(idx.shape)} and dtype {idx.dtype}")
    idx = idx.reshape(-1)
    n = input._data.shape[d] if nd else 1
    if idx.size and not bool(((idx >= -n) & (idx < n)).all()):
        raise IndexOutOfRangeError(f"{op}: index out of range for dimension {d} of size {n}")
    idx = idx % n if n else idx
    mask = xp.zeros(n, dtype=bool)
    mask[idx] = True
    return d, idx, Tensor(mask.reshape((n,) + (1,) * (nd - d - 1)) if nd else mask.reshape(()))


def _like(input, value):
    """*value* (a number or a tensor) as a tensor of input's dtype on its device."""
    if isinstance(value, Tensor):
        return to(value, input.dtype)
    return Tensor(namespace_of(input._data).asarray(value, dtype=input._data.dtype))


def index_fill(input, dim, index, value):
    """A copy of *input* with *value* (a number or 0-d tensor) in the slices *index* along *dim*.

    >>> cr.zeros(2, 3).index_fill(1, cr.tensor([0, 2]), 1.)
    tensor([[1., 0., 1.],
            [1., 0., 1.]])
    """
    if isinstance(value, Tensor) and value._data.ndim:
        raise ShapeError(f"index_fill_ only supports a 0-dimensional value tensor, but got "
                         f"tensor with {value._data.ndim} dimension(s)")
    _, _, mask = _index(input, dim, index, "index_fill")
    return where(mask, _like(input, value), input)


def index_copy(input, dim, index, source):
    """A copy of *input* with its slices *index* along *dim* replaced by *source*'s slices.

    >>> cr.zeros(3, 2).index_copy(0, cr.tensor([2, 0]), cr.ones(2, 2))
    tensor([[1., 1.],
            [0., 0.],
            [1., 1.]])
    """
    if source._data.dtype != input._data.dtype:
        raise DTypeError(f"index_copy_(): self and source expected to have the same dtype, but "
                         f"got (self) {input.dtype} and (source) {source.dtype}")
    d, idx, mask = _index(input, dim, index, "index_copy")
    if input._data.ndim == 0:
        return where(mask, reshape(source, ()), input)
    zeros = Tensor(namespace_of(input._data).zeros_like(input._data))
    return where(mask, index_add(zeros, d, Tensor(idx), source), input)


def index_put(input, indices, values, accumulate=False):
    """A copy of *input* with ``out[indices] = values`` (``+=`` with *accumulate*, where repeated
    indices add up).  *indices* is a tuple of integer or bool tensors, one per leading dimension.

    >>> cr.zeros(3).index_put((cr.tensor([0, 0]),), cr.tensor(1.), accumulate=True)
    tensor([2., 0., 0.])
    """
    if not isinstance(indices, (tuple, list)):
        raise ArgumentTypeError(f"index_put: indices must be a tuple of tensors, got "
                         f"{type(indices).__name__}")
    if len(indices) > max(input._data.ndim, 1):
        raise IndexOutOfRangeError(f"index_put: too many indices ({len(indices)}) for a tensor "
                                   f"of dimension {input._data.ndim}")
    idx = normalize_index(tuple(i._data if isinstance(i, Tensor) else i for i in indices),
                          input._data)
    v = _like(input, values)
    try:
        target = input._data[idx].shape
    except IndexError as e:
        raise IndexOutOfRangeError(f"index_put: {e}") from None
    try:
        v = expand(v, target) if tuple(v._data.shape) != target else v
    except ShapeError:
        raise ShapeError(f"index_put: values of shape {v.shape} do not broadcast to the indexed "
                         f"shape {target}") from None
    if accumulate:
        return add(input, IndexAdd.apply(v, idx, input._data.shape))
    xp = namespace_of(input._data)
    written = xp.zeros(input._data.shape, dtype=bool)
    written[idx] = True
    return where(Tensor(written), IndexAssign.apply(v, idx, input._data.shape), input)


def masked_scatter(input, mask, source):
    """A copy of *input* with *source*'s first elements (row-major) written where the bool *mask*
    (broadcast to input's shape) is true, in order.

    >>> cr.zeros(4).masked_scatter(cr.tensor([True, False, True, False]), cr.tensor([1., 2.]))
    tensor([1., 0., 2., 0.])
    """
    xp = namespace_of(input._data)
    m = mask._data if isinstance(mask, Tensor) else xp.asarray(mask)
    if m.dtype != bool:
        raise DTypeError(f"masked_scatter_: expected mask to have bool dtype, got {m.dtype}")
    if source._data.dtype != input._data.dtype:
        raise DTypeError(f"masked_scatter_: expected self and source to have same dtypes but got "
                         f"{input.dtype} and {source.dtype}")
    try:
        m = xp.broadcast_to(m, input._data.shape)
    except ValueError:
        raise ShapeError(f"masked_scatter: mask of shape {tuple(m.shape)} does not broadcast to "
                         f"input of shape {input.shape}") from None
    pos = xp.nonzero(m)
    n = int(pos[0].size) if pos else int(bool(m))
    if source._data.size < n:
        raise ShapeError(f"masked_scatter: expected source to have at least {n} elements (the "
                         f"number of ones in mask), got {source._data.size}")
    if input._data.ndim == 0:
        return where(Tensor(m), reshape(source, (-1,))[0], input) if n else input
    return index_put(input, pos, reshape(source, (-1,))[:n])


def put(input, index, source, accumulate=False):
    """A copy of *input*, seen as 1-D, with ``flat[index] = source`` (``+=`` with *accumulate*).

    >>> cr.zeros(2, 2).put(cr.tensor([3]), cr.tensor([5.]))
    tensor([[0., 0.],
            [0., 5.]])
    """
    xp = namespace_of(input._data)
    idx = index._data if isinstance(index, Tensor) else xp.asarray(index)
    if idx.dtype.kind not in "iu":
        raise DTypeError(f"put: index must be an integer tensor, got dtype {idx.dtype}")
    if source._data.dtype != input._data.dtype:
        raise DTypeError(f"put: expected self and source to have the same dtype, got "
                         f"{input.dtype} and {source.dtype}")
    if idx.size != source._data.size:
        raise ShapeError(f"put: expected source and index to have the same number of elements, "
                         f"but got source.numel() = {source._data.size}, index.numel() = "
                         f"{idx.size}")
    n = input._data.size
    idx = idx.reshape(-1)
    if idx.size and not bool(((idx >= -n) & (idx < n)).all()):
        raise IndexOutOfRangeError(f"put: index out of range for a tensor of {n} elements")
    flat = index_put(reshape(input, (-1,)), (Tensor(idx % max(n, 1)),), reshape(source, (-1,)),
                     accumulate)
    return reshape(flat, input.shape)
