"""The everyday catalogue's tensor methods and operators (issue 15), bound by ``methods.py``.

Each op is written once, as a free function in its module (``matrix``, ``einsum``, ``scan``,
``sorting``, ``scatter``, ``rearrange``, ``elementwise_more``, ``division``); this table makes
it a method too, as PyTorch's ``Tensor`` has it, and gives ``//``, ``%`` and their in-place and
reflected forms.
"""
from chainrule.ops import arithmetic as ar
from chainrule.ops import compare as cmp
from chainrule.ops import division as dv
from chainrule.ops import elementwise_more as em
from chainrule.ops import matrix as mx
from chainrule.ops import rearrange as ra
from chainrule.ops import scan as sc
from chainrule.ops import scatter as st
from chainrule.ops import sorting as so
from chainrule.ops.catalogue_more import METHODS as MORE
from chainrule.ops.inplace_more import INPLACE
from chainrule.ops.new_tensors import NEW


def _iop(fn):
    def op(self, other):
        return fn(self, other)
    return op


METHODS = {
    # products and the parts of matrices
    "mm": mx.mm, "bmm": mx.bmm, "mv": mx.mv, "dot": mx.dot, "outer": mx.outer, "ger": mx.outer,
    "diag": mx.diag, "diagonal": mx.diagonal, "trace": mx.trace, "tril": mx.tril,
    "triu": mx.triu,
    # scans, sorting and selection
    "cumsum": sc.cumsum, "cumprod": sc.cumprod, "diff": sc.diff, "sort": so.sort,
    "argsort": so.argsort, "msort": so.msort, "topk": so.topk, "kthvalue": so.kthvalue,
    "median": so.median, "quantile": so.quantile, "unique": so.unique,
    # indexing
    "scatter": st.scatter, "scatter_add": st.scatter_add, "index_add": st.index_add,
    "masked_select": st.masked_select, "nonzero": st.nonzero, "argwhere": st.argwhere,
    "take_along_dim": st.take_along_dim,
    # shape
    "repeat": ra.repeat, "tile": ra.tile, "flip": ra.flip, "fliplr": ra.fliplr,
    "flipud": ra.flipud, "roll": ra.roll, "movedim": ra.movedim, "moveaxis": ra.movedim,
    "swapaxes": ra.swapaxes, "swapdims": ra.swapaxes, "narrow": ra.narrow,
    "unflatten": ra.unflatten, "tensor_split": ra.tensor_split,
    "repeat_interleave": ra.repeat_interleave, "broadcast_to": lambda self, size:
        self.expand(tuple(size)),
    # elementwise math and logic
    "erf": em.erf, "expm1": em.expm1, "log2": em.log2, "log10": em.log10, "rsqrt": em.rsqrt,
    "square": em.square, "reciprocal": em.reciprocal, "tan": em.tan, "asin": em.asin,
    "arcsin": em.asin, "acos": em.acos, "arccos": em.acos, "atan": em.atan, "arctan": em.atan,
    "atan2": em.atan2, "arctan2": em.atan2, "sinh": em.sinh, "cosh": em.cosh, "lerp": em.lerp,
    "trunc": em.trunc, "fix": em.trunc, "nan_to_num": em.nan_to_num,
    "clamp_min": em.clamp_min, "clamp_max": em.clamp_max, "logical_xor": em.logical_xor,
    "count_nonzero": em.count_nonzero,
    "logical_and": cmp.logical_and, "logical_or": cmp.logical_or,
    # division with rounding, and the remainders
    "div": dv.div, "divide": dv.div, "true_divide": ar.div, "floor_divide": dv.floor_divide,
    "remainder": dv.remainder, "fmod": dv.fmod,
    **NEW,
    **INPLACE,
    **MORE,
}

OPERATORS = {
    "__floordiv__": dv.floor_divide, "__rfloordiv__": dv.rfloordiv,
    "__mod__": dv.remainder, "__rmod__": dv.rremainder,
    "__ifloordiv__": _iop(INPLACE["floor_divide_"]), "__imod__": _iop(INPLACE["remainder_"]),
    "__ipow__": _iop(INPLACE["pow_"]),
}

