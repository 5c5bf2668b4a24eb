"""Vector and matrix norms: ``vector_norm, matrix_norm, norm`` (PyTorch's ``torch.linalg``).

Vector p-norms are ``cr.norm``'s ops (``ops.reduction``: ``Norm`` for p ≥ 1, ``SmallPNorm`` with
PyTorch's conventions at zeros for p < 1, ``amax``/``amin`` of |x| for ±inf); p = 0 counts the
nonzero elements (gradient 0).  Matrix norms are sums and extremes of absolute row or column
sums, or of singular values ("nuc", 2, −2).
"""
import numbers

from chainrule.errors import ConfigError, DTypeError, ShapeError
from chainrule.function import Op
from chainrule.linalg.decompositions import svdvals
from chainrule.ops._util import normalize_dim, normalize_dims
from chainrule.ops.cast import to
from chainrule.ops.rearrange import movedim
from chainrule.ops.reduction import SmallPNorm, amax, amin
from chainrule.ops.reduction import norm as _p_norm
from chainrule.ops.reduction import sum as _sum
from chainrule.ops.shape import reshape
from chainrule.tensor import Tensor

INF = float("inf")


class ZeroNorm(Op):
    """y = the number of nonzero elements over *axes* (the "0-norm").  Piecewise constant: x̄ = 0,
    ẏ = 0."""

    @staticmethod
    def forward(ctx, x, axes, keepdim):
        a = x._data
        return (a != 0).sum(axis=axes, keepdims=keepdim).astype(a.dtype)

    @staticmethod
    def backward(ctx, gy):
        return None, None, None

    @staticmethod
    def jvp(ctx, *_):
        """ẏ = 0."""
        return ctx.xp.zeros_like(ctx.outputs[0])


def _array_of(t):
    return t._data if isinstance(t, Tensor) else t


def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None):
    """The vector ``ord``-norm of *x* over *dim* (all elements by default): (Σ|x|ᵖ)^(1/p), max
    |x| for inf, min |x| for −inf, the number of nonzeros for 0."""
    if not isinstance(x, Tensor):
        x = Tensor(x)
    if dtype is not None:
        x = to(x, dtype)
    if x._data.dtype.kind != "f":
        raise DTypeError(f"linalg.vector_norm: expected a floating point input, got {x.dtype}")
    if not isinstance(ord, numbers.Real):
        raise ConfigError(f"linalg.vector_norm: ord must be a number, got {ord!r}")
    axes = normalize_dims(dim, x._data.ndim, "vector_norm")
    if axes is None and x._data.ndim:
        axes = tuple(range(x._data.ndim))
    if ord == 0:
        return ZeroNorm.apply(x, axes, bool(keepdim))
    if abs(ord) == INF:
        return _p_norm(x, ord, axes, keepdim)
    if ord >= 1:
        return _p_norm(x, float(ord) if ord != int(ord) else int(ord), axes, keepdim)
    return SmallPNorm.apply(x, float(ord), axes, bool(keepdim))


def _two_dims(A, dim, op):
    if A._data.ndim < 2:
        raise ShapeError(f"linalg.{op}: the input tensor A must have at least 2 dimensions, got "
                         f"shape {A.shape}")
    if not isinstance(dim, (tuple, list)) or len(dim) != 2:
        raise ShapeError(f"linalg.{op}: dim must be a 2-tuple, got {dim!r}")
    d0, d1 = (normalize_dim(d, A._data.ndim, op) for d in dim)
    if d0 == d1:
        raise ShapeError(f"linalg.{op}: dims must be different, got ({d0}, {d1})")
    return d0, d1


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None):
    """The matrix norm of A over the two dims: "fro" (√Σa²), "nuc" (Σ singular values),
    1/−1 (max/min absolute column sum), inf/−inf (max/min absolute row sum), 2/−2 (largest /
    smallest singular value)."""
    if dtype is not None:
        A = to(A, dtype)
    if A._data.dtype.kind != "f":
        raise DTypeError(f"linalg.matrix_norm: expected a floating point input, got {A.dtype}")
    d0, d1 = _two_dims(A, dim, "matrix_norm")
    if ord == "fro":
        return vector_norm(A, 2, (d0, d1), keepdim)
    if ord in ("nuc", 2, -2):
        sv = svdvals(movedim(A, (d0, d1), (-2, -1)))
        out = _sum(sv, -1) if ord == "nuc" else amax(sv, -1) if ord == 2 else amin(sv, -1)
        if keepdim:
            for d in sorted((d0, d1)):
                out = reshape(out, out._data.shape[:d] + (1,) + out._data.shape[d:])
        return out
    if ord in (1, -1, INF, -INF):
        summed, across = (d0, d1) if ord in (1, -1) else (d1, d0)
        s = _sum(A.abs(), dim=summed, keepdim=True)
        out = (amax if ord > 0 else amin)(s, dim=across, keepdim=True)
        return out if keepdim else reshape(out, tuple(n for i, n in enumerate(out._data.shape)
                                                      if i not in (d0, d1)))
    raise ConfigError(f"linalg.matrix_norm: Order {ord!r} not supported (use 'fro', 'nuc', "
                      f"1, -1, 2, -2, inf or -inf)")


def norm(A, ord=None, dim=None, keepdim=False, *, dtype=None):
    """A vector norm (1-D input, or one dim) or a matrix norm (2-D input, or two dims), as
    ``torch.linalg.norm``; with ord and dim None, the 2-norm of all elements."""
    if dim is not None:
        dims = (dim,) if isinstance(dim, numbers.Integral) else tuple(dim)
        if len(dims) == 1:
            return vector_norm(A, 2 if ord is None else ord, dims, keepdim, dtype=dtype)
        if len(dims) == 2:
            return matrix_norm(A, "fro" if ord is None else ord, dims, keepdim, dtype=dtype)
        raise ShapeError(f"linalg.norm: If dim is specified, it must be of length 1 or 2. Got "
                         f"{list(dims)}")
    if ord is None:
        return vector_norm(A, 2, None, keepdim, dtype=dtype)
    if A._data.ndim == 1:
        return vector_norm(A, ord, None, keepdim, dtype=dtype)
    if A._data.ndim == 2:
        return matrix_norm(A, ord, (-2, -1), keepdim, dtype=dtype)
    raise ShapeError(f"linalg.norm: If dim is not specified but ord is, the input must be 1D or "
                     f"2D. Got {A._data.ndim}D.")

