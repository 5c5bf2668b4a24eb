"""Products and the parts of matrices: ``mm, bmm, mv, dot, outer, diag, diagonal, trace, tril,
triu``.

The products are ``matmul`` with PyTorch's shape checks; the diagonals pick elements with index
arrays (so their VJP puts ȳ back on the diagonal); the triangles keep a fixed mask of elements,
so their VJP is ȳ masked the same way.
"""
from chainrule.backend import namespace_of
from chainrule.errors import ArgumentTypeError, DTypeError, ShapeError
from chainrule.ops._util import normalize_dim
from chainrule.ops.arithmetic import matmul, mul
from chainrule.ops.elementwise import Where
from chainrule.ops.indexing import GetItem, IndexAdd
from chainrule.ops.reduction import sum as _sum
from chainrule.ops.shape import permute, reshape
from chainrule.tensor import Tensor


def _need(t, nd, op, name):
    if not isinstance(t, Tensor):
        raise ArgumentTypeError(f"{op}: expected a tensor for {name}, got {type(t).__name__}")
    if t._data.ndim != nd:
        raise ShapeError(f"{op}: {name} must be a {nd}-D tensor, got shape {t.shape}")


def _same_dtype(a, b, op):
    if a._data.dtype != b._data.dtype:
        raise DTypeError(f"{op}: expected both operands of one dtype, got {a.dtype} and {b.dtype}")


def mm(input, mat2):
    """The matrix product of an (n, m) and an (m, p) tensor (no broadcasting)."""
    _need(input, 2, "mm", "input")
    _need(mat2, 2, "mm", "mat2")
    _same_dtype(input, mat2, "mm")
    return matmul(input, mat2)


def bmm(input, mat2):
    """Batched matrix product of (b, n, m) and (b, m, p) tensors (no broadcasting)."""
    _need(input, 3, "bmm", "input")
    _need(mat2, 3, "bmm", "mat2")
    _same_dtype(input, mat2, "bmm")
    if input._data.shape[0] != mat2._data.shape[0]:
        raise ShapeError(f"bmm: batch sizes differ: {input.shape} and {mat2.shape}")
    return matmul(input, mat2)


def mv(input, vec):
    """The product of an (n, m) matrix and an (m,) vector."""
    _need(input, 2, "mv", "input")
    _need(vec, 1, "mv", "vec")
    _same_dtype(input, vec, "mv")
    return matmul(input, vec)


def dot(input, tensor):
    """The inner product of two 1-D tensors of one size."""
    _need(input, 1, "dot", "input")
    _need(tensor, 1, "dot", "tensor")
    _same_dtype(input, tensor, "dot")
    if input._data.shape != tensor._data.shape:
        raise ShapeError(f"dot: inconsistent tensor size, expected tensor {input.shape} and src "
                         f"{tensor.shape} to have the same number of elements")
    return matmul(input, tensor)


def outer(input, vec2):
    """The outer product xyᵀ of two 1-D tensors: out[i, j] = x[i] · y[j]."""
    _need(input, 1, "outer", "input")
    _need(vec2, 1, "outer", "vec2")
    return mul(reshape(input, (-1, 1)), reshape(vec2, (1, -1)))


ger = outer


def _diag_positions(xp, n, m, offset):
    """Row and column indices of diagonal *offset* of an n × m matrix."""
    k = max(0, min(n + min(offset, 0), m - max(offset, 0)))
    rows = xp.arange(k) - min(offset, 0)
    return rows, rows + offset


def diagonal(input, offset=0, dim1=0, dim2=1):
    """The diagonal *offset* of the matrices in dims (dim1, dim2), as the last dimension."""
    nd = input._data.ndim
    d1, d2 = normalize_dim(dim1, nd, "diagonal"), normalize_dim(dim2, nd, "diagonal")
    if d1 == d2:
        raise ShapeError(f"diagonal: dimensions cannot be identical {dim1}, {dim2}")
    rest = tuple(d for d in range(nd) if d not in (d1, d2))
    x = permute(input, rest + (d1, d2)) if rest + (d1, d2) != tuple(range(nd)) else input
    xp = namespace_of(input._data)
    rows, cols = _diag_positions(xp, input._data.shape[d1], input._data.shape[d2], int(offset))
    return GetItem.apply(x, (Ellipsis, rows, cols))


_diagonal = diagonal


def diag(input, diagonal=0):
    """A 1-D tensor's values on diagonal *diagonal* of a square matrix, or a 2-D tensor's
    diagonal *diagonal* as a 1-D tensor (``torch.diag``)."""
    nd = input._data.ndim
    if nd == 2:
        return _diagonal(input, diagonal)
    if nd != 1:
        raise ShapeError(f"diag: expected a 1-D or 2-D tensor, got shape {input.shape}")
    n = input._data.shape[0] + abs(int(diagonal))
    xp = namespace_of(input._data)
    rows, cols = _diag_positions(xp, n, n, int(diagonal))
    return IndexAdd.apply(input, (rows, cols), (n, n))


def trace(input):
    """The sum of the main diagonal of a 2-D tensor (integers sum as int64)."""
    _need(input, 2, "trace", "input")
    return _sum(diagonal(input))


def _triangle(input, diagonal, lower, op):
    if input._data.ndim < 2:
        raise ShapeError(f"{op}: input tensor must have at least 2 dimensions, got shape "
                         f"{input.shape}")
    xp = namespace_of(input._data)
    n, m = input._data.shape[-2:]
    keep = xp.tri(n, m, int(diagonal), dtype=bool)
    if not lower:
        keep = ~xp.tri(n, m, int(diagonal) - 1, dtype=bool)
    zero = xp.zeros((), dtype=input._data.dtype)
    return Where.apply(Tensor(keep), input, zero)


def tril(input, diagonal=0):
    """The lower triangle of the matrices (the last two dimensions): elements on or below
    diagonal *diagonal*; the others are 0."""
    return _triangle(input, diagonal, True, "tril")


def triu(input, diagonal=0):
    """The upper triangle of the matrices: elements on or above diagonal *diagonal*."""
    return _triangle(input, diagonal, False, "triu")
