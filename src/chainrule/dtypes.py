"""Data types. A chainrule dtype is a NumPy dtype, so ``x.dtype == cr.float32`` and
``x.numpy().dtype`` agree. float32 is the default floating type, as in PyTorch."""
import builtins

import numpy as np

from chainrule.errors import DTypeError

float16 = np.dtype(np.float16)
float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)
int8 = np.dtype(np.int8)
int16 = np.dtype(np.int16)
int32 = np.dtype(np.int32)
int64 = np.dtype(np.int64)
uint8 = np.dtype(np.uint8)
bool = np.dtype(np.bool_)  # noqa: A001 - the contract's name, as torch.bool

half, float, double = float16, float32, float64  # noqa: A001
short, int, long = int16, int32, int64  # noqa: A001

_FLOATS = (float16, float32, float64)
_default = [float32]  # a one-slot box: the default float dtype, like torch's


def get_default_dtype():
    """Return the dtype that Python floats and float factories produce (float32 unless changed)."""
    return _default[0]


def set_default_dtype(d):
    """Set the default float dtype to ``cr.float32`` or ``cr.float64`` (as ``torch.set_default_dtype``)."""
    d = to_dtype(d)
    if d not in (float32, float64):
        raise DTypeError(f"set_default_dtype: expected cr.float32 or cr.float64, got {d}")
    _default[0] = d


def to_dtype(spec):
    """Turn a dtype-like (a dtype, ``"float32"``, Python ``float``/``int``/``bool``) into a dtype."""
    if spec is None:
        return None
    if spec is builtins.float:
        return get_default_dtype()
    if spec is builtins.int:
        return int64
    if spec is builtins.bool:
        return bool
    try:
        return np.dtype(spec)
    except TypeError:
        raise DTypeError(f"expected a dtype such as cr.float32, got {spec!r}") from None


def is_floating(dtype):
    """True for float16, float32 and float64."""
    return dtype.kind == "f"
