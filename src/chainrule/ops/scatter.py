"""Scattering and selecting along a dimension: ``scatter, scatter_add, index_add,
masked_select, nonzero, take_along_dim``.

``scatter`` writes src into a copy of the input at index (along dim); ``scatter_add`` and
``index_add`` add into it, so repeated indices accumulate.  Their VJPs gather the gradient back
from the same places (``reduction.GatherDim`` / ``indexing.GetItem``), which scatter it again in
their own VJPs: all of them are differentiable to any order.
"""
import numpy as np

from chainrule import dtypes
from chainrule.backend import device_of, namespace_of
from chainrule.errors import (
    AutogradError,
    ConfigError,
    DeviceError,
    DTypeError,
    IndexOutOfRangeError,
    ShapeError,
)
from chainrule.function import Op
from chainrule.grad_mode import is_grad_enabled
from chainrule.ops._util import normalize_dim
from chainrule.ops.arithmetic import add, mul
from chainrule.ops.indexing import GetItem, IndexAdd, normalize_index
from chainrule.ops.reduction import GatherDim, ScatterAddDim
from chainrule.ops.shape import broadcast_to, reshape
from chainrule.tensor import Tensor


def _full_index(xp, idx, dim):
    """The advanced index that puts idx[i, j, ...] along *dim* and keeps every other position."""
    full = []
    for d, n in enumerate(idx.shape):
        if d == dim:
            full.append(idx)
        else:
            full.append(xp.arange(n).reshape(tuple(n if k == d else 1 for k in range(idx.ndim))))
    return tuple(full)


def _part(idx_shape):
    """The leading block of a tensor that an index of shape *idx_shape* covers."""
    return tuple(slice(0, n) for n in idx_shape)


class Scatter(Op):
    """y = x with src written at *idx* along *dim* (the last write wins where indices repeat).

    x̄ = ȳ where nothing was written, else 0;  src̄ = ȳ gathered at idx (as PyTorch, every
    src element whose index was written gets the gradient there).
    Linear in (x, src): ẏ = ẋ with ṡrc written at idx."""

    @staticmethod
    def forward(ctx, x, src, dim, idx):
        xp = ctx.xp
        idx = idx._data if isinstance(idx, Tensor) else idx      # ctx.call wraps arrays
        full = _full_index(xp, idx, dim)
        out = x._data.copy()
        out[full] = src._data[_part(idx.shape)] if isinstance(src, Tensor) else src
        mask = xp.zeros(out.shape, dtype=bool)
        mask[full] = True
        ctx.meta = (dim, idx, mask, src._data.shape if isinstance(src, Tensor) else None)
        return out

    @staticmethod
    def backward(ctx, gy):
        dim, idx, mask, src_shape = ctx.meta
        nx, ns = ctx.needs_input_grad[:2]
        gx = ctx.xp.where(mask, 0.0, gy) if nx else None
        gs = None
        if ns:
            gs = ctx.call(GatherDim, gy, dim, idx)
            if tuple(idx.shape) != tuple(src_shape):       # src larger than index: pad with 0
                gs = ctx.call(IndexAdd, gs, _part(idx.shape), src_shape)
        return gx, gs, None, None

    @staticmethod
    def jvp(ctx, tx, ts, *_):
        """ẏ = ẋ with ṡrc written at idx (0 for a missing tangent)."""
        x, _, dim, idx = ctx.primals
        return ctx.call(Scatter, ctx.xp.zeros_like(x) if tx is None else tx,
                        0.0 if ts is None else ts, dim, idx)


def _index(input, dim, index, op, src=None):
    """Check *index* against *input* (and *src*) as PyTorch's scatter/gather do; the array."""
    d = normalize_dim(dim, input._data.ndim, op)
    if isinstance(index, Tensor):
        if device_of(index._data) != device_of(input._data):
            raise DeviceError(f"{op}: index is on {device_of(index._data)} but input is on "
                              f"{device_of(input._data)}; move one with .to()")
        idx = index._data
    else:
        idx = namespace_of(input._data).asarray(index)
    if idx.dtype.kind not in "iu":
        raise DTypeError(f"{op}: index must be an int64 tensor, got dtype {idx.dtype}")
    nd = max(input._data.ndim, 1)
    if idx.ndim != nd and idx.size:
        raise ShapeError(f"{op}: index of shape {idx.shape} must have as many dimensions as the "
                         f"input of shape {input.shape}")
    for i, n in enumerate(idx.shape):
        if i != d and n > (input._data.shape[i] if input._data.ndim else 1) or \
                src is not None and src._data.ndim and n > src._data.shape[i]:
            raise ShapeError(f"{op}: index of shape {idx.shape} must be no larger than the input "
                             f"{input.shape} (except along dim {d})"
                             + ("" if src is None else f" and than src {src.shape}"))
    size = input._data.shape[d] if input._data.ndim else 1
    if idx.size and not bool(((idx >= 0) & (idx < size)).all()):
        raise IndexOutOfRangeError(f"{op}: index out of range for dimension {d} of size {size} "
                                   f"(values from {idx.min()} to {idx.max()})")
    return d, idx


def scatter(input, dim, index, src=None, *, value=None, reduce=None):
    """A copy of *input* with *src* (or the number *value*) written at *index* along *dim*:
    out[i][index[i][j]] = src[i][j] for dim=1.  ``reduce="add"`` adds instead (scatter_add);
    ``"multiply"`` multiplies (not differentiable)."""
    if src is None:
        src = value
    if src is None:
        raise ConfigError("scatter: give src (a tensor) or value (a number)")
    if not isinstance(src, Tensor) and not isinstance(src, (int, float, bool)):
        src = Tensor(src)
    d, idx = _index(input, dim, index, "scatter", src if isinstance(src, Tensor) else None)
    if reduce == "add":
        if not isinstance(src, Tensor):
            src = Tensor(namespace_of(input._data).full(idx.shape, src, dtype=input._data.dtype))
        return scatter_add(input, dim, index, src)
    if reduce == "multiply":
        if is_grad_enabled() and (input.requires_grad or isinstance(src, Tensor) and
                                  src.requires_grad):
            raise AutogradError("scatter: reduce='multiply' is not differentiable; compute it "
                                "under cr.no_grad() or on detached tensors")
        xp = namespace_of(input._data)
        out = input._data.copy()
        xp.multiply.at(out, _full_index(xp, idx, d),
                       src._data[_part(idx.shape)] if isinstance(src, Tensor) else src)
        return Tensor(out)
    if reduce is not None:
        raise ConfigError(f"scatter: reduce must be 'add' or 'multiply', got {reduce!r}")
    if isinstance(src, Tensor) and src._data.dtype != input._data.dtype:
        raise DTypeError(f"scatter: expected src of the input's dtype {input.dtype}, got "
                         f"{src.dtype}")
    if input._data.ndim == 0:
        return reshape(scatter(reshape(input, (1,)), 0, reshape(Tensor(idx), (-1,)),
                               reshape(src, (-1,)) if isinstance(src, Tensor) else src), ())
    return Scatter.apply(input, src, d, idx)


def scatter_add(input, dim, index, src):
    """*input* plus *src* added at *index* along *dim* (repeated indices accumulate):
    out[i][index[i][j]] += src[i][j] for dim=1."""
    d, idx = _index(input, dim, index, "scatter_add", src)
    if src._data.dtype != input._data.dtype:
        raise DTypeError(f"scatter_add: expected src of the input's dtype {input.dtype}, got "
                         f"{src.dtype}")
    if input._data.ndim == 0:
        return add(input, reshape(src, (-1,))[0:idx.size].sum()) if idx.size else input.clone()
    part = src if tuple(src._data.shape) == tuple(idx.shape) else src[_part(idx.shape)]
    return add(input, ScatterAddDim.apply(part, d, idx, input._data.shape))


def index_add(input, dim, index, source, *, alpha=1):
    """*input* with alpha · *source* added at the positions *index* along *dim* (repeated
    indices accumulate): out[index[i]] += alpha · source[i] for dim=0."""
    d = normalize_dim(dim, input._data.ndim, "index_add")
    xp = namespace_of(input._data)
    idx = index._data if isinstance(index, Tensor) else xp.asarray(index)
    if idx.ndim > 1 or idx.dtype.kind not in "iu":
        raise DTypeError(f"index_add: index must be a 1-D integer tensor, got shape {idx.shape} "
                         f"and dtype {idx.dtype}")
    want = input._data.shape[:d] + (idx.size,) + input._data.shape[d + 1:]
    if tuple(source._data.shape) != want and not (input._data.ndim == 0 and source._data.size == 1):
        raise ShapeError(f"index_add: source of shape {source.shape} does not fit input "
                         f"{input.shape} with {idx.size} indices along dim {d} (expected {want})")
    size = input._data.shape[d] if input._data.ndim else 1
    if idx.size and not bool(((idx >= 0) & (idx < size)).all()):
        raise IndexOutOfRangeError(f"index_add: index out of range for dimension {d} of size "
                                   f"{size}")
    if alpha != 1:
        source = mul(source, alpha)
    if input._data.ndim == 0:
        return add(input, reshape(source, ()))
    full = (slice(None),) * d + (normalize_index(idx, input._data),)
    return add(input, IndexAdd.apply(source, full, input._data.shape))


def masked_select(input, mask):
    """The elements of *input* where the bool *mask* (broadcasting) is true, as a 1-D tensor."""
    m = mask._data if isinstance(mask, Tensor) else namespace_of(input._data).asarray(mask)
    if m.dtype != dtypes.bool:
        raise DTypeError(f"masked_select: mask must be a bool tensor, got dtype {m.dtype}")
    xp = namespace_of(input._data)
    try:
        shape = np.broadcast_shapes(input._data.shape, m.shape)     # shapes only
    except ValueError:
        raise ShapeError(f"masked_select: mask of shape {m.shape} does not broadcast with input "
                         f"of shape {input.shape}") from None
    x = broadcast_to(input, shape) if shape != input._data.shape else input
    return GetItem.apply(x, xp.broadcast_to(m, shape))


def nonzero(input, *, as_tuple=False):
    """The indices of the nonzero elements: an (n, ndim) int64 tensor, or with
    ``as_tuple=True`` one 1-D tensor per dimension (as ``torch.nonzero``)."""
    a = input._data
    xp = namespace_of(a)
    if a.ndim == 0:
        hit = xp.asarray(a != 0).reshape(1)
        n = int(hit.sum())
        if as_tuple:
            return (Tensor(xp.zeros((n,), dtype=dtypes.int64)),)
        return Tensor(xp.zeros((n, 0), dtype=dtypes.int64))
    found = [i.astype(dtypes.int64, copy=False) for i in xp.nonzero(a)]
    if as_tuple:
        return tuple(Tensor(i) for i in found)
    return Tensor(xp.stack(found, axis=1))


def argwhere(input):
    """The indices of the nonzero elements as an (n, ndim) tensor (``nonzero``)."""
    return nonzero(input)


def take_along_dim(input, indices, dim=None):
    """Values of *input* at *indices* along *dim* (broadcasting the other dimensions), or of the
    flattened input when dim is None (``torch.take_along_dim``)."""
    xp = namespace_of(input._data)
    idx = indices._data if isinstance(indices, Tensor) else xp.asarray(indices)
    if idx.dtype.kind not in "iu":
        raise DTypeError(f"take_along_dim: indices must be an int64 tensor, got {idx.dtype}")
    if dim is None:
        flat = reshape(input, (-1,))
        return GatherDim.apply(flat, 0, _checked(idx.reshape(-1), flat._data.shape[0], False))
    d = normalize_dim(dim, input._data.ndim, "take_along_dim")
    if idx.ndim != input._data.ndim:
        raise ShapeError(f"take_along_dim: input {input.shape} and indices {idx.shape} should "
                         f"have the same number of dimensions")
    try:
        sx = list(np.broadcast_shapes(_with(input._data.shape, d, 1), _with(idx.shape, d, 1)))
    except ValueError:
        raise ShapeError(f"take_along_dim: input {input.shape} and indices {idx.shape} do not "
                         f"broadcast outside dim {d}") from None
    x_shape = tuple(_with(sx, d, input._data.shape[d]))
    i_shape = tuple(_with(sx, d, idx.shape[d]))
    x = broadcast_to(input, x_shape) if x_shape != input._data.shape else input
    idx = xp.broadcast_to(idx, i_shape)
    return GatherDim.apply(x, d, _checked(idx, input._data.shape[d]))


def _with(shape, d, n):
    s = list(shape)
    s[d] = n
    return tuple(s)


def _checked(idx, size, negative=True):
    """*idx* with negative entries counted from the end, as PyTorch's take_along_dim along a
    dimension (not of the flattened input)."""
    if idx.size and not bool(((idx >= (-size if negative else 0)) & (idx < size)).all()):
        raise IndexOutOfRangeError(f"take_along_dim: index out of range for a dimension of size "
                                   f"{size}")
    return namespace_of(idx).where(idx < 0, idx + size, idx)
