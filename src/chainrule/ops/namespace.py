"""The tensor namespace: chainrule's differentiable ops under NumPy's names.

A built-in op's backward is written once, in NumPy's names, against ``ctx.xp``.  In a first-order
backward ``ctx.xp`` is the arrays' own module (NumPy, CuPy) and nothing is recorded.  With
``create_graph=True`` the engine hands the same backward this namespace instead, and its
gradients and saved values as tensors: every call below is a recorded chainrule op, so the
gradient is itself differentiable (Hessians, gradient penalties) with no second copy of the rule.

Only the names backward rules use are here; each maps to the op that computes it.
"""
import numpy as np

from chainrule.backend import namespace_of
from chainrule.errors import ShapeError
from chainrule.ops import arithmetic as _ar, cast as _cast, elementwise as _el, \
    reduction as _rd, shape as _sh
from chainrule.tensor import Tensor


def _t(x):
    return x if isinstance(x, Tensor) else Tensor(x)


class _Add:
    """``xp.add(a, b)``, and ``xp.add.reduce(x, axis)``: NumPy's sum without the Python wrapper
    of ``np.sum`` (about 1.3 µs a call on small arrays), for hot-path rules such as Linear's b̄."""

    __slots__ = ()

    def __call__(self, a, b):
        return _ar.add(_t(a), b)

    @staticmethod
    def reduce(x, axis=0, dtype=None, keepdims=False):
        return _rd.sum(_t(x), dim=axis, keepdim=keepdims, dtype=dtype)


class TensorNamespace:
    """NumPy's names for chainrule's differentiable tensor ops (see the module docstring)."""

    name = "chainrule"
    errstate = staticmethod(np.errstate)
    float16, float32, float64, int64, bool_ = (np.float16, np.float32, np.float64, np.int64,
                                               np.bool_)
    inf, nan, pi = np.inf, np.nan, np.pi

    # ---- elementwise ---------------------------------------------------------------------
    exp = staticmethod(_el.exp)
    log = staticmethod(_el.log)
    log1p = staticmethod(_el.log1p)
    sqrt = staticmethod(_el.sqrt)
    sin = staticmethod(_el.sin)
    cos = staticmethod(_el.cos)
    tanh = staticmethod(_el.tanh)
    abs = staticmethod(_el.abs)
    sign = staticmethod(_el.sign)

    @staticmethod
    def maximum(a, b):
        return _el.maximum(_t(a), b)

    @staticmethod
    def minimum(a, b):
        return _el.minimum(_t(a), b)

    @staticmethod
    def where(condition, a, b):
        return _el.where(condition, a, b)

    @staticmethod
    def clip(x, lo=None, hi=None):
        return _el.clamp(_t(x), lo, hi)

    @staticmethod
    def square(x):
        return x * x

    @staticmethod
    def reciprocal(x):
        return 1.0 / x

    @staticmethod
    def multiply(a, b):
        return _ar.mul(_t(a), b)

    add = _Add()

    @staticmethod
    def subtract(a, b):
        return _ar.sub(_t(a), b)

    @staticmethod
    def divide(a, b):
        return _ar.div(_t(a), b)

    @staticmethod
    def negative(x):
        return -x

    @staticmethod
    def matmul(a, b):
        return _ar.matmul(_t(a), _t(b))

    # ---- reductions ----------------------------------------------------------------------
    @staticmethod
    def sum(x, axis=None, keepdims=False, dtype=None):
        return _rd.sum(_t(x), dim=axis, keepdim=keepdims, dtype=dtype)

    @staticmethod
    def mean(x, axis=None, keepdims=False):
        return _rd.mean(_t(x), dim=axis, keepdim=keepdims)

    # ---- shape ---------------------------------------------------------------------------
    @staticmethod
    def reshape(x, shape):
        return _sh.reshape(_t(x), shape)

    @staticmethod
    def broadcast_to(x, shape):
        return _sh.expand(_t(x), tuple(shape))

    @staticmethod
    def expand_dims(x, axis):
        if isinstance(axis, tuple):
            for a in sorted(axis):
                x = _sh.unsqueeze(_t(x), a)
            return x
        return _sh.unsqueeze(_t(x), axis)

    @staticmethod
    def squeeze(x, axis=None):
        return _sh.squeeze(_t(x), axis)

    @staticmethod
    def transpose(x, axes=None):
        x = _t(x)
        if axes is None:
            axes = tuple(range(x.ndim))[::-1]
        return _sh.permute(x, tuple(axes))

    @staticmethod
    def swapaxes(x, a, b):
        return _sh.transpose(_t(x), a, b)

    @staticmethod
    def concatenate(xs, axis=0):
        return _sh.cat([_t(x) for x in xs], axis)

    @staticmethod
    def split(x, indices_or_sections, axis=0):
        x = _t(x)
        n = x.shape[axis]
        if isinstance(indices_or_sections, int):
            if n % indices_or_sections:
                raise ShapeError("array split does not result in an equal division")
            return list(_sh.split(x, n // indices_or_sections, axis))
        bounds = [min(max(int(i), 0), n) for i in indices_or_sections]
        sizes = [e - s for s, e in zip([0, *bounds], [*bounds, n])]
        if any(s < 0 for s in sizes):
            raise ShapeError(f"split: indices {list(indices_or_sections)} must be increasing")
        return list(_sh.split(x, sizes, axis))

    # ---- making and converting -----------------------------------------------------------
    @staticmethod
    def astype(x, dtype, copy=True):
        return _cast.to(_t(x), dtype)

    @staticmethod
    def zeros_like(x, dtype=None):
        d = x._data if isinstance(x, Tensor) else x
        return Tensor(_array_ns(d).zeros_like(d, dtype=dtype))

    @staticmethod
    def ones_like(x, dtype=None):
        d = x._data if isinstance(x, Tensor) else x
        return Tensor(_array_ns(d).ones_like(d, dtype=dtype))

    @staticmethod
    def asarray(x, dtype=None):
        return x if isinstance(x, Tensor) and dtype is None else Tensor(x, dtype=dtype)

    def __repr__(self):
        return "<tensor namespace chainrule>"


def _array_ns(arr):
    return np if type(arr) is np.ndarray else namespace_of(arr)


tensor_namespace = TensorNamespace()
"""The namespace a create_graph backward computes with."""
