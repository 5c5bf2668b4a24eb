"""Shape ops: they move or copy values without arithmetic, so each VJP moves the gradient back.

Broadcasting (``expand``) and its adjoint, summing back to a shape (``sum_to``), live here; the
engine calls ``sum_to`` to undo broadcasting for every op (so ``expand``'s own VJP is just ȳ).
"""
from chainrule.backend import namespace_of
from chainrule.errors import ArgumentTypeError, ConfigError, ShapeError, UsageError
from chainrule.function import Op
from chainrule.ops._util import normalize_dim
from chainrule.tensor import Tensor


def _reduced_axes(shape, target):
    """The axes of *shape* that broadcasting from *target* created or stretched."""
    lead = len(shape) - len(target)
    if lead < 0:
        raise ShapeError(f"sum_to: cannot sum shape {shape} to the larger shape {target}")
    axes = list(range(lead))
    for i, n in enumerate(target):
        if n == 1 and shape[lead + i] != 1:
            axes.append(lead + i)
        elif n != shape[lead + i] and n != 1:
            raise ShapeError(f"sum_to: shape {shape} does not broadcast from {target}")
    return tuple(axes), lead


class SumTo(Op):
    """y = sum of x over the axes that broadcasting to x.shape created from *shape*.

    Jacobian: each output element is the sum of its broadcast copies, so x̄ = broadcast(ȳ).
    """

    @staticmethod
    def forward(ctx, x, shape):
        ctx.shape = x._data.shape
        axes, lead = _reduced_axes(x._data.shape, shape)
        y = x._data.sum(axis=axes, keepdims=True) if axes else x._data
        return y.reshape(shape)

    @staticmethod
    def backward(ctx, gy):
        return ctx.xp.broadcast_to(gy, ctx.shape), None

    @staticmethod
    def jvp(ctx, tx, _):
        return ctx.call(SumTo, tx, ctx.outputs[0].shape)


class Expand(Op):
    """y = x broadcast to *shape* (no copy).  VJP: x̄ = sum_to(ȳ, x.shape), which the engine's
    ``unbroadcast`` computes for every op: the rule itself hands ȳ back."""

    @staticmethod
    def forward(ctx, x, shape):
        return ctx.xp.broadcast_to(x._data, shape)

    @staticmethod
    def backward(ctx, gy):
        return gy, None

    @staticmethod
    def jvp(ctx, tx, _):
        return ctx.xp.broadcast_to(tx, ctx.primals[1])


def _view(out, x, how=None, arg=None):
    """Mark *out* as a view of *x* when it shares x's memory, as PyTorch does: they share a
    version counter (an in-place change through either is seen by the saved-tensor checks of
    both), and ``out._view_of = (x, how, arg)`` tells an in-place op on out how to rebase x's
    history: ``("reshape", x.shape)``, ``("permute", inverse dims)``, or None (cannot)."""
    if out is not x and namespace_of(x._data).may_share_memory(out._data, x._data):
        out._vc, out._view_of = x._vc, (x, how, arg)
    return out


def _inverse(dims):
    inv = [0] * len(dims)
    for i, d in enumerate(dims):
        inv[d] = i
    return tuple(inv)


def sum_to(x, shape):
    """Sum *x* down to *shape* (the adjoint of broadcasting)."""
    shape = tuple(shape)
    if x._data.shape == shape:
        return x
    return SumTo.apply(x, shape)


def expand(x, *sizes):
    """Broadcast *x* to a larger shape without copying; -1 keeps a dimension (as ``Tensor.expand``)."""
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        sizes = tuple(sizes[0])
    lead = len(sizes) - x._data.ndim
    if lead < 0:
        raise ShapeError(f"expand: the number of sizes ({len(sizes)}) must be at least the "
                         f"tensor's number of dimensions ({x._data.ndim}); got shape {x.shape}")
    if any(s == -1 for s in sizes[:lead]):
        raise ShapeError(f"expand: -1 is not allowed for a new leading dimension; got sizes "
                         f"{tuple(sizes)} for shape {x.shape}")
    shape = tuple(x._data.shape[i - lead] if s == -1 else s for i, s in enumerate(sizes))
    for i, n in enumerate(x._data.shape):
        if n != 1 and n != shape[lead + i]:
            raise ShapeError(f"expand: the expanded size ({shape[lead + i]}) must match the "
                             f"existing size ({n}) at non-singleton dimension {lead + i}; "
                             f"shape {x.shape} -> {shape}")
    if shape == x._data.shape:
        return x
    return _view(Expand.apply(x, shape), x)


def broadcast_to(x, shape):
    """Broadcast *x* to *shape* (as ``torch.broadcast_to``)."""
    return expand(x, tuple(shape))


class Reshape(Op):
    """y = x with a new shape and the same values in row-major order.  VJP: x̄ = ȳ reshaped back."""

    @staticmethod
    def forward(ctx, x, shape):
        ctx.shape = x._data.shape
        return x._data.reshape(shape)

    @staticmethod
    def backward(ctx, gy):
        return gy.reshape(ctx.shape), None

    @staticmethod
    def jvp(ctx, tx, _):
        return tx.reshape(ctx.primals[1])


def _shape_arg(shape, op):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    try:
        return tuple(int(s) for s in shape)
    except TypeError:
        raise ArgumentTypeError(f"{op}: expected a shape of ints, got {shape!r}") from None


def _resolve_shape(x, shape, op):
    n = x._data.size
    if shape.count(-1) > 1:
        raise ShapeError(f"{op}: only one dimension can be inferred (-1), got {shape}")
    known = 1
    for s in shape:
        if s != -1:
            known *= s
    if -1 in shape:
        if known == 0 or n % known:
            raise ShapeError(f"{op}: shape {shape} is invalid for input of size {n} "
                             f"(shape {x.shape})")
        shape = tuple(n // known if s == -1 else s for s in shape)
    elif known != n:
        raise ShapeError(f"{op}: shape {shape} is invalid for input of size {n} (shape {x.shape})")
    return shape


def reshape(x, *shape):
    """The same values in a new shape; one dimension may be -1 (inferred)."""
    shape = _resolve_shape(x, _shape_arg(shape, "reshape"), "reshape")
    if shape == x._data.shape:
        return x
    return _view(Reshape.apply(x, shape), x, "reshape", x._data.shape)


def view(x, *shape):
    """Like :func:`reshape` but never copies: raises if the memory layout does not allow it."""
    shape = _resolve_shape(x, _shape_arg(shape, "view"), "view")
    d = x._data
    if d.size and not namespace_of(d).may_share_memory(d.reshape(shape), d):   # it had to copy
        raise UsageError(f"view: shape {shape} is not compatible with the input's memory "
                         f"layout (shape {x.shape}, strides {x._data.strides}); use "
                         f".reshape(...) instead")
    return reshape(x, shape)


def flatten(x, start_dim=0, end_dim=-1):
    """Merge dimensions *start_dim* through *end_dim* into one."""
    if x._data.ndim == 0:
        return reshape(x, (1,))
    s = normalize_dim(start_dim, x._data.ndim, "flatten")
    e = normalize_dim(end_dim, x._data.ndim, "flatten")
    if s > e:
        raise ShapeError(f"flatten: start_dim ({start_dim}) cannot come after end_dim ({end_dim})")
    shp = x._data.shape
    return reshape(x, shp[:s] + (-1 if 0 not in shp[s:e + 1] else 0,) + shp[e + 1:])


def unsqueeze(x, dim):
    """Insert a dimension of size 1 at *dim*."""
    d = normalize_dim(dim, x._data.ndim + 1, "unsqueeze")
    return reshape(x, x._data.shape[:d] + (1,) + x._data.shape[d:])


def squeeze(x, dim=None):
    """Remove dimensions of size 1 (all of them, or only those in *dim*)."""
    shp = x._data.shape
    if dim is None:
        dims = [i for i, n in enumerate(shp) if n == 1]
    else:
        dims = dim if isinstance(dim, (tuple, list)) else [dim]
        dims = [normalize_dim(d, x._data.ndim, "squeeze") for d in dims]
        dims = [d for d in dims if x._data.ndim and shp[d] == 1]
    return reshape(x, tuple(n for i, n in enumerate(shp) if i not in dims))


class Permute(Op):
    """y = x with its axes reordered.  VJP: x̄ = ȳ with the inverse permutation."""

    @staticmethod
    def forward(ctx, x, dims):
        ctx.dims = dims
        return x._data.transpose(dims)

    @staticmethod
    def backward(ctx, gy):
        return ctx.xp.transpose(gy, _inverse(ctx.dims)), None

    @staticmethod
    def jvp(ctx, tx, _):
        return ctx.xp.transpose(tx, ctx.dims)


def permute(x, *dims):
    """Reorder the dimensions: ``x.permute(2, 0, 1)``."""
    dims = _shape_arg(dims, "permute")
    if len(dims) != x._data.ndim:
        raise ShapeError(f"permute: expected {x._data.ndim} dims for shape {x.shape}, got {dims}")
    dims = tuple(normalize_dim(d, x._data.ndim, "permute") for d in dims)
    if sorted(dims) != list(range(x._data.ndim)):
        raise ShapeError(f"permute: dims {dims} repeat a dimension")
    return _view(Permute.apply(x, dims), x, "permute", _inverse(dims))


def transpose(x, dim0, dim1):
    """Swap dimensions *dim0* and *dim1*."""
    n = x._data.ndim
    if n < 2 and dim0 in (0, -1) and dim1 in (0, -1):
        return x
    d0, d1 = normalize_dim(dim0, n, "transpose"), normalize_dim(dim1, n, "transpose")
    dims = list(range(n))
    dims[d0], dims[d1] = dims[d1], dims[d0]
    return _view(Permute.apply(x, tuple(dims)), x, "permute", tuple(dims))


def t(x):
    """Transpose a matrix (a 0-d or 1-d tensor is returned as is)."""
    if x._data.ndim > 2:
        raise ShapeError(f"t: expects a tensor with <= 2 dimensions, got shape {x.shape}")
    return transpose(x, 0, 1) if x._data.ndim == 2 else x


def T(x):
    """All dimensions reversed (``x.T``)."""
    rev = tuple(range(x._data.ndim - 1, -1, -1))
    return _view(Permute.apply(x, rev), x, "permute", rev) if x._data.ndim > 1 else x


def mT(x):
    """The last two dimensions swapped (``x.mT``, a batch of matrix transposes)."""
    return transpose(x, -2, -1)


class Cat(Op):
    """y = the inputs joined along *dim*.  VJP: each input gets its slice of ȳ."""

    @staticmethod
    def forward(ctx, dim, *xs):
        ctx.dim = dim
        bounds, end = [], 0
        for x in xs[:-1]:
            end += x._data.shape[dim]
            bounds.append(end)
        ctx.bounds = bounds
        return ctx.xp.concatenate([x._data for x in xs], axis=dim)

    @staticmethod
    def backward(ctx, gy):
        return (None, *ctx.xp.split(gy, ctx.bounds, axis=ctx.dim))

    @staticmethod
    def jvp(ctx, _, *txs):
        """ẏ = the tangents joined (zeros for an input without one)."""
        xp = ctx.xp
        parts = [xp.zeros_like(x) if t is None else t for x, t in zip(ctx.primals[1:], txs)]
        return xp.concatenate(parts, axis=ctx.dim)


def _tensors(seq, op):
    if isinstance(seq, Tensor) or not isinstance(seq, (list, tuple)):
        raise ArgumentTypeError(f"{op}: expected a list or tuple of tensors, got "
                                f"{type(seq).__name__}")
    if not seq:
        raise ShapeError(f"{op}: expected a non-empty list of tensors")
    return [s if isinstance(s, Tensor) else Tensor(s) for s in seq]


def cat(tensors, dim=0):
    """Join tensors along an existing dimension *dim* (``torch.cat``)."""
    xs = _tensors(tensors, "cat")
    for i, x in enumerate(xs):
        if x._data.ndim == 0:
            raise ShapeError(f"cat: zero-dimensional tensor (at position {i}) cannot be "
                             f"concatenated; use cr.stack to join scalars")
    d = normalize_dim(dim, xs[0]._data.ndim, "cat")
    ref = xs[0]._data.shape
    for i, x in enumerate(xs):
        s = x._data.shape
        if len(s) != len(ref) or any(a != b for j, (a, b) in enumerate(zip(s, ref)) if j != d):
            raise ShapeError(f"cat: sizes of tensors must match except in dimension {d}: tensor 0 "
                             f"has shape {ref}, tensor {i} has shape {s}")
    return Cat.apply(d, *xs)


concatenate = cat


def stack(tensors, dim=0):
    """Join same-shaped tensors along a new dimension *dim* (``torch.stack``)."""
    xs = _tensors(tensors, "stack")
    for i, x in enumerate(xs):
        if x._data.shape != xs[0]._data.shape:
            raise ShapeError(f"stack: expects each tensor to be equal size, but got "
                             f"{xs[0].shape} at entry 0 and {x.shape} at entry {i}")
    d = normalize_dim(dim, xs[0]._data.ndim + 1, "stack")
    return cat([unsqueeze(x, d) for x in xs], d)


def split(x, split_size_or_sections, dim=0):
    """Split into pieces of *split_size_or_sections* (an int, or a list of sizes) along *dim*."""
    d = normalize_dim(dim, x._data.ndim, "split")
    n = x._data.shape[d]
    if isinstance(split_size_or_sections, int):
        if split_size_or_sections <= 0:
            raise ConfigError("split: split_size must be a positive int, got "
                              f"{split_size_or_sections}")
        sizes = [split_size_or_sections] * (n // split_size_or_sections)
        if n % split_size_or_sections:
            sizes.append(n % split_size_or_sections)
    else:
        sizes = list(split_size_or_sections)
        if sum(sizes) != n:
            raise ShapeError(f"split: sizes {sizes} sum to {sum(sizes)}, but dimension {d} of "
                             f"shape {x.shape} has {n}")
    out, start = [], 0
    for s in sizes:
        idx = [slice(None)] * x._data.ndim
        idx[d] = slice(start, start + s)
        out.append(x[tuple(idx)])
        start += s
    return tuple(out)


def chunk(x, chunks, dim=0):
    """Split into *chunks* nearly equal pieces along *dim* (the last may be smaller)."""
    if not isinstance(chunks, int) or chunks <= 0:
        raise ConfigError(f"chunk: chunks must be a positive int, got {chunks!r}")
    n = x._data.shape[normalize_dim(dim, x._data.ndim, "chunk")]
    size = -(-n // chunks) if n else 1
    return split(x, max(size, 1), dim)


def unbind(x, dim=0):
    """The slices along *dim*, as a tuple of tensors with that dimension removed."""
    d = normalize_dim(dim, x._data.ndim, "unbind")
    return tuple(squeeze(s, d) for s in split(x, 1, d))
