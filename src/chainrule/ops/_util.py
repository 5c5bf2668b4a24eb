"""Small helpers the ops share: normalising dims and turning operands into arrays."""
from chainrule.tensor import Tensor


def normalize_dim(dim, ndim, op):
    """Turn a possibly negative *dim* into an index in ``range(ndim)``, or raise naming *op*."""
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(f"{op}: dimension out of range (expected to be in range of "
                         f"[{-n}, {n - 1}], but got {dim})")
    return dim % n


def normalize_dims(dim, ndim, op):
    """*dim* (None, int, or a tuple of ints) as a sorted tuple of non-negative axes (None: all)."""
    if dim is None:
        return None
    if isinstance(dim, (list, tuple)):
        if len(dim) == 0:
            return None
        return tuple(sorted(normalize_dim(d, ndim, op) for d in dim))
    return (normalize_dim(dim, ndim, op),)


def data_of(x):
    """The array behind a Tensor, or the plain value itself."""
    return x.data if isinstance(x, Tensor) else x


def pick_dim(dim, axis):
    """PyTorch's *dim* with NumPy's *axis* accepted as its alias."""
    return axis if dim is None else dim
