"""Small helpers the ops share: normalising dims and turning operands into arrays."""
import numpy as np

from chainrule import dtypes
from chainrule.errors import IndexOutOfRangeError, ShapeError
from chainrule.tensor import Tensor


def normalize_dim(dim, ndim, op):
    """Turn a possibly negative *dim* into an index in ``range(ndim)``, or raise naming *op*."""
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexOutOfRangeError(f"{op}: dimension out of range (expected to be in range of "
                                   f"[{-n}, {n - 1}], but got {dim})")
    return dim % n


def normalize_dims(dim, ndim, op):
    """*dim* (None, int, or a tuple of ints) as a sorted tuple of non-negative axes (None: all)."""
    if dim is None:
        return None
    if isinstance(dim, (list, tuple)):
        if len(dim) == 0:
            return None
        axes = tuple(sorted(normalize_dim(d, ndim, op) for d in dim))
        if len(set(axes)) != len(axes):
            raise ShapeError(f"{op}: dim {tuple(dim)} names a dimension twice")
    else:
        axes = (normalize_dim(dim, ndim, op),)
    return axes if ndim else None   # a 0-d tensor's dim 0 (or -1) is the whole tensor


def data_of(x):
    """The array behind a Tensor, or the plain value itself."""
    return x._data if isinstance(x, Tensor) else x


def pick_dim(dim, axis):
    """PyTorch's *dim* with NumPy's *axis* accepted as its alias."""
    return axis if dim is None else dim


def promote(y, a, b):
    """Give a float result PyTorch's dtype where NumPy's differs.

    The float tensor operands decide (a 0-d tensor only when no operand has dimensions), so
    float32 · int64 is float32 and float32 · 0-d float64 is float32; with no float tensor (int
    tensors with a Python float, or int / int) the result is the default float dtype.
    """
    dt = y.dtype
    if dt.kind != "f":
        return y
    if type(a) is Tensor and a._data.dtype == dt and (type(b) is not Tensor or b._data.dtype == dt):
        return y            # the common case: every tensor operand already has y's dtype
    fl = [t._data for t in (a, b) if isinstance(t, Tensor) and t._data.dtype.kind == "f"]
    if len(fl) == 2 and (fl[0].ndim == 0) != (fl[1].ndim == 0):
        fl = [f for f in fl if f.ndim]
    if not fl:
        target = dtypes.get_default_dtype()
    elif len(fl) == 1 or fl[0].dtype == fl[1].dtype:
        target = fl[0].dtype
    else:       # dtype arithmetic only (no array is touched), the same for every backend
        target = np.promote_types(fl[0].dtype, fl[1].dtype)
    return y if y.dtype == target else y.astype(target)


def tangent_sum(*terms):
    """The sum of the tangents that are not None (None if all are): a jvp's ``ȧ + ḃ``."""
    out = None
    for t in terms:
        if t is not None:
            out = t if out is None else out + t
    return out
