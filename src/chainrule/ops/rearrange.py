"""Shape ops that rearrange or copy values: ``repeat, tile, flip, roll, movedim, swapaxes, narrow,
unflatten, tensor_split, hstack, vstack, repeat_interleave``.

Most are compositions of the shape and indexing ops (their VJPs come with them); ``Flip`` and
``Roll`` are their own inverses up to sign, so each VJP is the op again on ȳ.
"""
import numbers

from chainrule import dtypes
from chainrule.backend import namespace_of
from chainrule.errors import ArgumentTypeError, ConfigError, DTypeError, ShapeError
from chainrule.function import Op
from chainrule.ops._util import normalize_dim
from chainrule.ops.indexing import GetItem
from chainrule.ops.shape import cat, expand, permute, reshape, transpose
from chainrule.tensor import Tensor


def _ints(sizes, op):
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        sizes = tuple(sizes[0])
    try:
        return tuple(int(s) for s in sizes)
    except TypeError:
        raise ArgumentTypeError(f"{op}: expected ints, got {sizes!r}") from None


def repeat(input, *sizes):
    """Tile the tensor *sizes* times along each dimension (``Tensor.repeat``): a (2, 3) tensor
    repeated (2, 1, 2) is (2, 2, 6).  Leading sizes add dimensions."""
    sizes = _ints(sizes, "repeat")
    nd = input._data.ndim
    if len(sizes) < nd:
        raise ShapeError(f"repeat: number of repeat dims ({len(sizes)}) can not be smaller than "
                         f"the number of dimensions of the tensor ({nd})")
    if any(s < 0 for s in sizes):
        raise ShapeError(f"repeat: repeats must be non-negative, got {sizes}")
    shape = (1,) * (len(sizes) - nd) + tuple(input._data.shape)
    x = reshape(input, sum(((1, n) for n in shape), ()))              # (1, s0, 1, s1, ...)
    x = expand(x, sum(((r, n) for r, n in zip(sizes, shape)), ()))    # (r0, s0, r1, s1, ...)
    return reshape(x, tuple(r * n for r, n in zip(sizes, shape)))


def tile(input, dims):
    """Repeat along each dimension (``torch.tile``): *dims* shorter than the tensor's rank is
    padded with leading ones."""
    dims = _ints((dims,) if isinstance(dims, numbers.Integral) else (tuple(dims),), "tile")
    dims = (1,) * (input._data.ndim - len(dims)) + dims
    return repeat(input, dims)


def _dims(dims, nd, op):
    if isinstance(dims, numbers.Integral):
        dims = (dims,)
    out = tuple(normalize_dim(int(d), nd, op) for d in dims)
    if len(set(out)) != len(out):
        raise ShapeError(f"{op}: dims {tuple(dims)} name a dimension twice")
    return out


class Flip(Op):
    """y = x reversed along *dims* (a copy).  x̄ = ȳ reversed along the same dims; so is ẏ."""

    @staticmethod
    def forward(ctx, x, dims):
        ctx.index = tuple(slice(None, None, -1) if d in dims else slice(None)
                          for d in range(x._data.ndim))
        return x._data[ctx.index].copy()

    @staticmethod
    def backward(ctx, gy):
        return gy[ctx.index], None

    @staticmethod
    def jvp(ctx, tx, _):
        """ẏ = ẋ reversed along *dims*."""
        return ctx.call(Flip, tx, ctx.primals[1])


def flip(input, dims):
    """Reverse the order of elements along *dims* (an int or a tuple), copying."""
    nd = input._data.ndim
    dims = _dims(dims, nd, "flip") if nd else ()
    return Flip.apply(input, dims)


def fliplr(input):
    """Reverse the columns (dimension 1)."""
    return flip(input, 1)


def flipud(input):
    """Reverse the rows (dimension 0)."""
    return flip(input, 0)


class Roll(Op):
    """y = x shifted cyclically by *shifts* along *dims*.  x̄ = ȳ shifted back; ẏ = ẋ shifted."""

    @staticmethod
    def forward(ctx, x, shifts, dims):
        ctx.meta = (shifts, dims)
        a = x._data if isinstance(x, Tensor) else x
        return ctx.xp.roll(a, shifts, axis=dims)

    @staticmethod
    def backward(ctx, gy):
        shifts, dims = ctx.meta
        return ctx.call(Roll, gy, tuple(-s for s in shifts), dims), None, None

    @staticmethod
    def jvp(ctx, tx, *_):
        """ẏ = ẋ shifted alike."""
        return ctx.call(Roll, tx, *ctx.meta)


def roll(input, shifts, dims=None):
    """Shift elements cyclically along *dims* (of the flattened tensor when dims is None)."""
    shifts = (shifts,) if isinstance(shifts, numbers.Integral) else tuple(int(s) for s in shifts)
    if dims is None:
        if len(shifts) != 1:
            raise ShapeError(f"roll: with dims=None give one shift, got {shifts}")
        return reshape(Roll.apply(reshape(input, (-1,)), shifts, (0,)), input._data.shape)
    dims = (dims,) if isinstance(dims, numbers.Integral) else tuple(dims)
    if len(shifts) != len(dims):
        raise ShapeError(f"roll: shifts and dims must align. shifts: {len(shifts)}, dims: "
                         f"{len(dims)}")
    nd = max(input._data.ndim, 1)
    dims = tuple(normalize_dim(d, nd, "roll") for d in dims)
    if input._data.ndim == 0:
        return input.clone()
    return Roll.apply(input, shifts, dims)


def movedim(input, source, destination):
    """Move dimension(s) *source* to position(s) *destination*, keeping the others in order."""
    nd = input._data.ndim
    src = _dims(source, nd, "movedim")
    dst = _dims(destination, nd, "movedim")
    if len(src) != len(dst):
        raise ShapeError(f"movedim: Invalid source or destination dims: source ({list(src)} "
                         f"dims) should contain the same number of dims as destination "
                         f"({list(dst)} dims)")
    order = [d for d in range(nd) if d not in src]
    for s, t in sorted(zip(dst, src)):
        order.insert(s, t)
    return permute(input, tuple(order)) if nd else input


moveaxis = movedim


def swapaxes(input, axis0, axis1):
    """Swap two dimensions (``transpose``)."""
    return transpose(input, axis0, axis1)


swapdims = swapaxes


def narrow(input, dim, start, length):
    """The slice start : start + length along *dim* (a view)."""
    d = normalize_dim(dim, input._data.ndim, "narrow")
    n = input._data.shape[d]
    start = int(start)
    if start < 0:
        start += n
    if not 0 <= start <= n or length < 0 or start + length > n:
        raise ShapeError(f"narrow: start ({start}) + length ({length}) exceeds dimension size "
                         f"({n}) of dim {d}")
    return input[(slice(None),) * d + (slice(start, start + length),)]


def unflatten(input, dim, sizes):
    """Split dimension *dim* into *sizes* (one may be -1)."""
    d = normalize_dim(dim, input._data.ndim, "unflatten")
    sizes = tuple(int(s) for s in sizes)
    if not sizes:
        raise ShapeError("unflatten: sizes must be non-empty")
    n = input._data.shape[d]
    known = 1
    for s in sizes:
        known *= s if s != -1 else 1
    if sizes.count(-1) > 1 or (-1 not in sizes and known != n) or (-1 in sizes and
                                                                    (known == 0 or n % known)):
        raise ShapeError(f"unflatten: provided sizes {list(sizes)} don't multiply up to the size "
                         f"of dim {d} ({n}) in the input tensor of shape {input.shape}")
    shape = input._data.shape
    return reshape(input, shape[:d] + sizes + shape[d + 1:])


def tensor_split(input, indices_or_sections, dim=0):
    """Split into views along *dim*: into *n* nearly equal parts (the first n % size one longer)
    or at the given indices (``torch.tensor_split``)."""
    d = normalize_dim(dim, input._data.ndim, "tensor_split")
    n = input._data.shape[d]
    ios = indices_or_sections
    if isinstance(ios, Tensor):
        if ios._data.dtype.kind not in "iu" or ios._data.ndim > 1:
            raise DTypeError("tensor_split: indices_or_sections must be a 0-d or 1-d integer "
                             f"tensor, got shape {ios.shape} and dtype {ios.dtype}")
        ios = ios.item() if ios._data.ndim == 0 else [int(v) for v in ios.tolist()]
    if isinstance(ios, numbers.Integral):
        if ios <= 0:
            raise ConfigError(f"tensor_split: number of sections must be larger than 0, got {ios}")
        size, extra = divmod(n, ios)
        bounds, start = [], 0
        for i in range(ios):
            start += size + (1 if i < extra else 0)
            bounds.append(start)
        bounds = bounds[:-1]
    else:
        bounds = [int(b) for b in ios]
    out, start = [], 0
    for b in bounds + [n]:
        b = min(max(b + n if b < 0 else b, 0), n)
        s = min(start, n)
        out.append(input[(slice(None),) * d + (slice(s, max(b, s)),)])
        start = max(b, s)
    return tuple(out)


def _at_least(t, nd):
    if not isinstance(t, Tensor):
        t = Tensor(t)
    if t._data.ndim >= nd:
        return t
    if nd == 1:
        return reshape(t, (1,))
    return reshape(t, (1,) * (2 - t._data.ndim) + tuple(t._data.shape))


def atleast_1d(input):
    """*input* with at least one dimension."""
    return _at_least(input, 1)


def atleast_2d(input):
    """*input* with at least two dimensions (a vector becomes a row)."""
    return _at_least(input, 2)


def hstack(tensors):
    """Join horizontally: along dimension 1, or 0 for 1-D tensors (``torch.hstack``)."""
    ts = [atleast_1d(t) for t in tensors]
    return cat(ts, 0 if ts and ts[0]._data.ndim == 1 else 1)


def vstack(tensors):
    """Join vertically: 1-D tensors become rows, then along dimension 0 (``torch.vstack``)."""
    return cat([atleast_2d(t) for t in tensors], 0)


row_stack = vstack


def repeat_interleave(input, repeats=None, dim=None, *, output_size=None):
    """Repeat each element *repeats* times along *dim* (of the flattened tensor when dim is
    None); *repeats* is an int or a tensor with one count per element.  Called with only a
    tensor of counts, returns the indices repeated by those counts."""
    if repeats is None:                    # repeat_interleave(counts): 0, 0, 1, 2, 2, ...
        return Tensor(_repeated_positions(input._data))
    x = reshape(input, (-1,)) if dim is None else input
    d = 0 if dim is None else normalize_dim(dim, input._data.ndim, "repeat_interleave")
    xp = namespace_of(x._data)
    n = x._data.shape[d] if x._data.ndim else 1
    if isinstance(repeats, Tensor):
        r = repeats._data
        if r.dtype.kind not in "iu":
            raise DTypeError(f"repeat_interleave: repeats must be an integer tensor, got "
                             f"{repeats.dtype}")
        r = r.reshape(-1) if r.size == 1 else r
        if r.ndim != 1 or r.shape[0] not in (1, n):
            raise ShapeError(f"repeat_interleave: repeats must have the same size as input along "
                             f"dim {d} ({n}), got shape {repeats.shape}")
        if r.shape[0] == 1:
            r = xp.broadcast_to(r, (n,))
    else:
        r = int(repeats)
    if isinstance(r, int) and r < 0 or not isinstance(r, int) and bool((r < 0).any()):
        raise ShapeError("repeat_interleave: repeats can not be negative")
    idx = xp.repeat(xp.arange(n), r) if isinstance(r, int) else _repeated_positions(r)
    if output_size is not None and idx.shape[0] != output_size:
        raise ShapeError(f"repeat_interleave: output_size {output_size} does not match the "
                         f"repeats' total {idx.shape[0]}")
    if x._data.ndim == 0:
        x = reshape(x, (1,))
    return GetItem.apply(x, (slice(None),) * d + (idx,))


def _repeated_positions(counts):
    """0 repeated counts[0] times, 1 counts[1] times, ...: where each output position falls in
    the running total of the counts (array repeats that CuPy's ``repeat`` does not take)."""
    xp = namespace_of(counts)
    ends = xp.cumsum(counts)
    total = int(ends[-1]) if counts.shape[0] else 0
    return xp.searchsorted(ends, xp.arange(total), side="right").astype(dtypes.int64)
