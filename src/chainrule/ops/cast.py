"""Copies and dtype conversions."""
from chainrule import dtypes
from chainrule.autograd.function import Function
from chainrule.backend import device as _device
from chainrule.tensor import Tensor


class Clone(Function):
    """y = a copy of x.  x̄ = ȳ."""

    @staticmethod
    def forward(ctx, x):
        return x.data.copy()

    @staticmethod
    def backward(ctx, gy):
        return gy


class ToDtype(Function):
    """y = x converted to *dtype*.  x̄ = ȳ converted back to x's dtype."""

    @staticmethod
    def forward(ctx, x, dtype):
        ctx.src = x.data.dtype
        return x.data.astype(dtype)

    @staticmethod
    def backward(ctx, gy):
        return (ToDtype.apply(gy, ctx.src) if ctx.src.kind == "f" else None), None


def clone(input):
    """A copy with its own memory, still connected to the graph."""
    return Clone.apply(input)


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
    if device is not None:
        _device(device)  # raises clearly for devices that do not exist
    if dtype is not None:
        dtype = dtypes.to_dtype(dtype)
        if dtype != input.data.dtype:
            return ToDtype.apply(input, dtype)
    return clone(input) if copy else input


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
