"""In-place forms ``x.f_(...)`` of the elementwise methods (and of the scatters, triangles and
scans PyTorch has them for), all through ``inplace._inplace``: the result is computed out of
place, written into x's memory, x's version counter is bumped and, inside a graph, x's history
is rebased onto the new node, exactly as ``add_`` and ``mul_`` do.
"""
from chainrule.ops import arithmetic as ar
from chainrule.ops import compare as cmp
from chainrule.ops import division as dv
from chainrule.ops import elementwise as el
from chainrule.ops import elementwise_more as em
from chainrule.ops import indexing as ix
from chainrule.ops import matrix as mx
from chainrule.ops import scan as sc
from chainrule.ops import scatter as st
from chainrule.ops.inplace import _inplace


def _bound(fn, kwargs):
    """*fn* with keyword arguments fixed (``_inplace`` passes positional ones)."""
    if not kwargs:
        return fn
    return lambda *args: fn(*args, **kwargs)


def inplace_of(fn, name):
    """The in-place method ``name_`` of the out-of-place op *fn*."""
    def method(self, *args, **kwargs):
        return _inplace(self, _bound(fn, kwargs), *args)
    method.__name__ = method.__qualname__ = name + "_"
    method.__doc__ = f"``{name}`` in place: the result is written into the tensor itself."
    return method


_OPS = {
    # arithmetic and division
    "neg": ar.neg, "negative": ar.neg, "pow": ar.pow, "div": dv.div, "divide": dv.div,
    "true_divide": ar.div, "floor_divide": dv.floor_divide, "remainder": dv.remainder,
    "fmod": dv.fmod, "multiply": ar.mul, "subtract": ar.sub,
    # elementwise functions
    "exp": el.exp, "log": el.log, "log1p": el.log1p, "sqrt": el.sqrt, "sin": el.sin,
    "cos": el.cos, "tanh": el.tanh, "sigmoid": el.sigmoid, "relu": el.relu, "abs": el.abs,
    "clip": el.clamp, "sign": el.sign, "floor": el.floor, "ceil": el.ceil, "round": el.round,
    "erf": em.erf, "expm1": em.expm1, "log2": em.log2, "log10": em.log10, "rsqrt": em.rsqrt,
    "square": em.square, "reciprocal": em.reciprocal, "tan": em.tan, "asin": em.asin,
    "arcsin": em.asin, "acos": em.acos, "arccos": em.acos, "atan": em.atan, "arctan": em.atan,
    "atan2": em.atan2, "arctan2": em.atan2, "sinh": em.sinh, "cosh": em.cosh, "lerp": em.lerp,
    "trunc": em.trunc, "fix": em.trunc, "nan_to_num": em.nan_to_num, "clamp_min": em.clamp_min,
    "clamp_max": em.clamp_max,
    # logic (bool results are written as 0/1 into a numeric tensor)
    "logical_and": cmp.logical_and, "logical_or": cmp.logical_or,
    "logical_not": cmp.logical_not, "logical_xor": em.logical_xor,
    # indexing, triangles and scans
    "masked_fill": ix.masked_fill, "index_add": st.index_add, "scatter": st.scatter,
    "scatter_add": st.scatter_add, "tril": mx.tril, "triu": mx.triu, "cumsum": sc.cumsum,
    "cumprod": sc.cumprod,
}

INPLACE = {name + "_": inplace_of(fn, name) for name, fn in _OPS.items()}
"""Method name → in-place method, for ``ops/methods.py``."""
