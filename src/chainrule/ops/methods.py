"""The table that makes the ops methods and operators of ``Tensor``.

Each op is written once, as a free function in its module; this table binds it to the class,
so ``x.exp()``, ``cr.exp(x)`` and ``x + y`` all run the same code.
"""
from chainrule.ops import (arithmetic as ar, cast, device as dv, compare as cmp, elementwise as el, indexing as ix,
                           inplace as ip, reduction as rd, shape as sh, softmax as sm)
from chainrule.ops import catalogue, random_fill as rf
from chainrule.tensor import Tensor


def _swap(fn):
    """The reflected operator: ``other ∘ self`` from ``fn(self, other)``."""
    return lambda self, other: fn(other, self)


def _iop(fn):
    def op(self, other):
        return fn(self, other)
    return op


METHODS = {
    # math
    "add": ar.add, "sub": ar.sub, "mul": ar.mul, "div": ar.div, "neg": ar.neg, "pow": ar.pow,
    "matmul": ar.matmul, "exp": el.exp, "log": el.log, "log1p": el.log1p, "sqrt": el.sqrt,
    "sin": el.sin, "cos": el.cos, "tanh": el.tanh, "sigmoid": el.sigmoid, "relu": el.relu,
    "abs": el.abs, "clamp": el.clamp, "clip": el.clamp, "maximum": el.maximum,
    "minimum": el.minimum, "sign": el.sign, "floor": el.floor, "ceil": el.ceil, "round": el.round,
    "isnan": el.isnan, "isinf": el.isinf, "isfinite": el.isfinite,
    "where": lambda self, condition, other: el.where(condition, self, other),
    # reductions
    "sum": rd.sum, "mean": rd.mean, "var": rd.var, "std": rd.std, "prod": rd.prod, "max": rd.max,
    "min": rd.min, "amax": rd.amax, "amin": rd.amin, "argmax": rd.argmax, "argmin": rd.argmin,
    "logsumexp": rd.logsumexp, "norm": rd.norm, "gather": rd.gather,
    "softmax": sm.softmax, "log_softmax": sm.log_softmax,
    # shape
    "reshape": sh.reshape, "view": sh.view, "flatten": sh.flatten, "unsqueeze": sh.unsqueeze,
    "squeeze": sh.squeeze, "transpose": sh.transpose, "permute": sh.permute, "expand": sh.expand,
    "t": sh.t, "split": sh.split, "chunk": sh.chunk, "unbind": sh.unbind,
    "expand_as": lambda self, other: sh.expand(self, other.shape),
    "view_as": lambda self, other: sh.view(self, other.shape),
    "reshape_as": lambda self, other: sh.reshape(self, other.shape),
    "index_select": ix.index_select, "masked_fill": ix.masked_fill,
    # comparisons
    "eq": cmp.eq, "ne": cmp.ne, "lt": cmp.lt, "le": cmp.le, "gt": cmp.gt, "ge": cmp.ge,
    "any": cmp.any, "all": cmp.all, "logical_not": cmp.logical_not, "equal": cmp.equal,
    "allclose": cmp.allclose, "isclose": cmp.isclose,
    # copies and conversions
    "clone": cast.clone, "contiguous": cast.contiguous, "is_contiguous": cast.is_contiguous,
    "to": cast.to, "float": cast.float_, "double": cast.double,
    "half": cast.half, "long": cast.long, "int": cast.int_, "bool": cast.bool_,
    "cuda": dv.cuda, "cpu": dv.cpu,
    # in place
    "add_": ip.add_, "sub_": ip.sub_, "mul_": ip.mul_, "div_": ip.div_, "clamp_": ip.clamp_,
    "copy_": ip.copy_,
    # random draws (in place, and the out-of-place bernoulli/multinomial)
    "uniform_": rf.uniform_, "normal_": rf.normal_, "log_normal_": rf.log_normal_,
    "exponential_": rf.exponential_, "cauchy_": rf.cauchy_, "geometric_": rf.geometric_,
    "bernoulli_": rf.bernoulli_, "random_": rf.random_, "bernoulli": rf.bernoulli,
    "multinomial": rf.multinomial,
}

OPERATORS = {
    "__add__": ar.add, "__radd__": ar.add, "__sub__": ar.sub, "__rsub__": ar.rsub,
    "__mul__": ar.mul, "__rmul__": ar.mul, "__truediv__": ar.div, "__rtruediv__": ar.rdiv,
    "__pow__": ar.pow, "__rpow__": ar.rpow, "__matmul__": ar.matmul,
    "__rmatmul__": _swap(ar.matmul), "__neg__": ar.neg, "__abs__": el.abs,
    "__pos__": lambda self: self,
    "__eq__": cmp.eq, "__ne__": cmp.ne, "__lt__": cmp.lt, "__le__": cmp.le, "__gt__": cmp.gt,
    "__ge__": cmp.ge, "__and__": cmp.logical_and, "__or__": cmp.logical_or,
    "__invert__": cmp.logical_not,
    "__getitem__": ix.getitem, "__setitem__": ip.setitem,
    "__iadd__": _iop(ip.add_), "__isub__": _iop(ip.sub_), "__imul__": _iop(ip.mul_),
    "__itruediv__": _iop(ip.div_),
}

PROPERTIES = {"T": sh.T, "mT": sh.mT}

METHODS.update(catalogue.METHODS)       # the everyday catalogue (issue 15)
OPERATORS.update(catalogue.OPERATORS)

for _name, _fn in {**METHODS, **OPERATORS}.items():
    setattr(Tensor, _name, _fn)
for _name, _fn in PROPERTIES.items():
    setattr(Tensor, _name, property(_fn, doc=_fn.__doc__))
