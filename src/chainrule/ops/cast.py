"""Copies and dtype conversions."""
from chainrule import dtypes
from chainrule.function import Op
from chainrule.ops.device import to_device_op
from chainrule.backend import device as _device
from chainrule.errors import ConfigError
from chainrule.tensor import Tensor


class Clone(Op):
    """y = a copy of x.  x̄ = ȳ."""

    @staticmethod
    def forward(ctx, x):
        return x._data.copy()

    @staticmethod
    def backward(ctx, gy):
        return gy

    @staticmethod
    def jvp(ctx, tx):
        return tx


class ToDtype(Op):
    """y = x converted to *dtype*.  x̄ = ȳ converted back to x's dtype."""

    @staticmethod
    def forward(ctx, x, dtype):
        a = x._data if isinstance(x, Tensor) else x    # from ctx.call: maybe a NumPy scalar
        ctx.src = a.dtype
        return a.astype(dtype)

    @staticmethod
    def backward(ctx, gy):
        # (ctx.call rather than xp.astype: NumPy < 2.1 and CuPy 13 have no astype function)
        return (ctx.call(ToDtype, gy, ctx.src) if ctx.src.kind == "f" else None), None

    @staticmethod
    def jvp(ctx, tx, dtype):
        return None if tx is None else ctx.call(ToDtype, tx, ctx.primals[1])


def clone(input):
    """A copy with its own memory, still connected to the graph."""
    return Clone.apply(input)


def contiguous(input, memory_format=None):
    """*input* itself when its memory is laid out row-major without gaps, else a copy that is
    (still connected to the graph, as ``clone``)."""
    _contiguous_format(memory_format, "contiguous")
    return input if input._data.flags.c_contiguous else Clone.apply(input)


def is_contiguous(input, memory_format=None):
    """True when *input*'s memory is row-major without gaps (a transpose or a step slice is not)."""
    _contiguous_format(memory_format, "is_contiguous")
    return bool(input._data.flags.c_contiguous)


def _contiguous_format(memory_format, op):
    if memory_format is not None:
        raise ConfigError(f"{op}: chainrule keeps tensors row-major only; memory_format must be "
                          f"None, got {memory_format!r}")


def to(input, *args, dtype=None, device=None, copy=False):
    """Convert to a dtype and/or device: ``x.to(cr.float64)``, ``x.to("cpu")``, ``x.to(other)``."""
    for a in args:
        if isinstance(a, Tensor):
            dtype = a.dtype
        elif isinstance(a, str) and a.split(":")[0] in ("cpu", "cuda", "mps"):
            device = a
        elif a is not None and not isinstance(a, str):
            try:
                dtype = dtypes.to_dtype(a)
            except TypeError:
                device = a
        else:
            device = a
    out = input
    if device is not None:
        out = to_device_op(out, _device(device))   # raises DeviceError for missing devices
    if dtype is not None:
        dtype = dtypes.to_dtype(dtype)
        if dtype != out._data.dtype:
            return ToDtype.apply(out, dtype)
    return clone(out) if copy and out is input else out


def _caster(dtype, name):
    def cast(input):
        return to(input, dtype)
    cast.__name__ = name
    cast.__doc__ = f"``x.to(cr.{dtype})``."
    return cast


float_ = _caster(dtypes.float32, "float")
double = _caster(dtypes.float64, "double")
half = _caster(dtypes.float16, "half")
long = _caster(dtypes.int64, "long")
int_ = _caster(dtypes.int32, "int")
bool_ = _caster(dtypes.bool, "bool")
