"""Comparisons and logic: they return bool tensors and carry no gradient."""
from chainrule.backend import DeviceError, device_of, namespace_of
from chainrule.dtypes import uint8
from chainrule.errors import ShapeError
from chainrule.ops._util import normalize_dims
from chainrule.tensor import Tensor


def _arr(v):
    return v._data if isinstance(v, Tensor) else v


def _namespace(name, a, b):
    """The namespace of the tensor operands' arrays (raises DeviceError for two devices)."""
    if isinstance(a, Tensor):
        if isinstance(b, Tensor) and type(a._data) is not type(b._data):
            da, db = device_of(a._data), device_of(b._data)
            if da != db:
                raise DeviceError(f"{name}: expected both tensors on one device, got {da} and {db}"
                                  f"; move one with .to({str(da)!r}) or .to({str(db)!r})")
        return namespace_of(a._data)
    return namespace_of(_arr(b))


def _cmp(fname, name):
    def op(input, other):
        ns = _namespace(name, input, other)
        try:
            return Tensor(ns.asarray(getattr(ns, fname)(_arr(input), _arr(other))))
        except ValueError:
            sa = input.shape if isinstance(input, Tensor) else "a scalar"
            sb = other.shape if isinstance(other, Tensor) else "a scalar"
            raise ShapeError(f"{name}: shapes {sa} and {sb} do not broadcast") from None
    op.__name__ = name
    op.__doc__ = f"Elementwise ``{name}`` comparison; returns a bool tensor with no gradient."
    return op


eq = _cmp("equal", "eq")
ne = _cmp("not_equal", "ne")
lt = _cmp("less", "lt")
le = _cmp("less_equal", "le")
gt = _cmp("greater", "gt")
ge = _cmp("greater_equal", "ge")
logical_and = _cmp("logical_and", "logical_and")
logical_or = _cmp("logical_or", "logical_or")


def logical_not(input):
    """Elementwise logical not; returns a bool tensor."""
    return Tensor(namespace_of(input._data).logical_not(input._data))


def equal(input, other):
    """True if both tensors have the same shape and elements (a Python bool)."""
    _namespace("equal", input, other)
    return input._data.shape == other._data.shape and bool((input._data == other._data).all())


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """True if all elements are close (as ``torch.allclose``)."""
    ns = _namespace("allclose", input, other)
    return bool(ns.allclose(input._data, _arr(other), rtol=rtol, atol=atol, equal_nan=equal_nan))


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """Elementwise closeness as a bool tensor."""
    ns = _namespace("isclose", input, other)
    return Tensor(ns.asarray(ns.isclose(input._data, _arr(other), rtol=rtol, atol=atol,
                                        equal_nan=equal_nan)))


def _truth(input, dim, keepdim, fn):
    """any/all over *dim*: None (everything), an int, or a tuple of ints (() reduces nothing,
    as PyTorch); uint8 inputs give uint8, everything else bool."""
    a = input._data
    ns = namespace_of(a)
    if isinstance(dim, (tuple, list)) and len(dim) == 0:
        out = a != 0
    else:
        out = getattr(ns, fn)(a, axis=normalize_dims(dim, a.ndim, fn), keepdims=bool(keepdim))
    out = ns.asarray(out)
    return Tensor(out.astype(a.dtype) if a.dtype == uint8 else out)


def any(input, dim=None, keepdim=False):  # noqa: A001
    """True where any element (along *dim*: an int or a tuple of ints) is nonzero."""
    return _truth(input, dim, keepdim, "any")


def all(input, dim=None, keepdim=False):  # noqa: A001
    """True where all elements (along *dim*: an int or a tuple of ints) are nonzero."""
    return _truth(input, dim, keepdim, "all")
