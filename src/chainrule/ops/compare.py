"""Comparisons and logic: they return bool tensors and carry no gradient."""
from chainrule.backend import xp
from chainrule.tensor import Tensor


def _arr(v):
    return v.data if isinstance(v, Tensor) else v


def _cmp(fn, name):
    def op(input, other):
        try:
            return Tensor(xp.asarray(fn(_arr(input), _arr(other))))
        except ValueError:
            sa = input.shape if isinstance(input, Tensor) else "a scalar"
            sb = other.shape if isinstance(other, Tensor) else "a scalar"
            raise ValueError(f"{name}: shapes {sa} and {sb} do not broadcast") from None
    op.__name__ = name
    op.__doc__ = f"Elementwise ``{name}`` comparison; returns a bool tensor with no gradient."
    return op


eq = _cmp(xp.equal, "eq")
ne = _cmp(xp.not_equal, "ne")
lt = _cmp(xp.less, "lt")
le = _cmp(xp.less_equal, "le")
gt = _cmp(xp.greater, "gt")
ge = _cmp(xp.greater_equal, "ge")
logical_and = _cmp(xp.logical_and, "logical_and")
logical_or = _cmp(xp.logical_or, "logical_or")


def logical_not(input):
    """Elementwise logical not; returns a bool tensor."""
    return Tensor(xp.logical_not(input.data))


def equal(input, other):
    """True if both tensors have the same shape and elements (a Python bool)."""
    return input.data.shape == other.data.shape and bool((input.data == other.data).all())


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """True if all elements are close (as ``torch.allclose``)."""
    return bool(xp.allclose(input.data, _arr(other), rtol=rtol, atol=atol, equal_nan=equal_nan))


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """Elementwise closeness as a bool tensor."""
    return Tensor(xp.isclose(input.data, _arr(other), rtol=rtol, atol=atol, equal_nan=equal_nan))


def any(input, dim=None, keepdim=False):  # noqa: A001
    """True where any element (along *dim*) is nonzero."""
    return Tensor(xp.asarray(xp.any(input.data, axis=dim, keepdims=keepdim)))


def all(input, dim=None, keepdim=False):  # noqa: A001
    """True where all elements (along *dim*) are nonzero."""
    return Tensor(xp.asarray(xp.all(input.data, axis=dim, keepdims=keepdim)))
