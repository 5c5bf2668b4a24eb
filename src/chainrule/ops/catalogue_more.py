"""The catalogue's second table (issue 15, "PyTorch code runs as written"): the methods of the
fused add*-family, special math, windows, selection, index writes and tensor facts, with the
in-place forms made by ``inplace_more.inplace_of`` (so version counters and rebasing are shared).
``catalogue.py`` merges it into the methods ``methods.py`` binds."""
from chainrule.ops import fused_math as fm
from chainrule.ops import index_more as im
from chainrule.ops import selection_more as sl
from chainrule.ops import shape_more as sh
from chainrule.ops import special_math as sp
from chainrule.ops import tensor_info as ti
from chainrule.ops.inplace_more import inplace_of
from chainrule.ops.windows import unfold

_OUT_OF_PLACE = {
    # the add*-family
    "addmm": fm.addmm, "addmv": fm.addmv, "addr": fm.addr, "baddbmm": fm.baddbmm,
    "addcmul": fm.addcmul, "addcdiv": fm.addcdiv,
    # special math and nan-aware reductions
    "xlogy": sp.xlogy, "logaddexp": sp.logaddexp, "hypot": sp.hypot, "sinc": sp.sinc,
    "frac": sp.frac, "sgn": sp.sgn, "signbit": sp.signbit, "copysign": sp.copysign,
    "heaviside": sp.heaviside, "float_power": sp.float_power, "fmax": sp.fmax, "fmin": sp.fmin,
    "logit": sp.logit, "nansum": sp.nansum, "nanmean": sp.nanmean,
    "logcumsumexp": sp.logcumsumexp,
    # selection and counting
    "cummax": sl.cummax, "cummin": sl.cummin, "mode": sl.mode, "bincount": sl.bincount,
    "histc": sl.histc,
    # index writes
    "index_fill": im.index_fill, "index_copy": im.index_copy, "index_put": im.index_put,
    "masked_scatter": im.masked_scatter, "put": im.put,
}

_INPLACE = ("addcmul", "addcdiv", "index_fill", "index_copy", "index_put", "masked_scatter", "put")

METHODS = {
    **_OUT_OF_PLACE,
    **{name + "_": inplace_of(_OUT_OF_PLACE[name], name) for name in _INPLACE},
    # shapes and windows
    "ravel": sh.ravel, "split_with_sizes": sh.split_with_sizes, "hsplit": sh.hsplit,
    "vsplit": sh.vsplit, "dsplit": sh.dsplit, "unfold": unfold, "sum_to_size": sh.sum_to_size,
    "squeeze_": sh.squeeze_, "unsqueeze_": sh.unsqueeze_, "t_": sh.t_,
    "transpose_": sh.transpose_,
    # conversions and facts
    "type_as": ti.type_as, "short": ti.short, "byte": ti.byte, "char": ti.char,
    "is_signed": ti.is_signed, "is_complex": ti.is_complex, "nelement": ti.nelement,
    "stride": ti.stride, "storage_offset": ti.storage_offset, "data_ptr": ti.data_ptr,
    "pin_memory": ti.pin_memory, "share_memory_": ti.share_memory_, "apply_": ti.apply_,
    "map_": ti.map_,
}
