"""Tensor conversions and facts about its memory: ``type_as, short, byte, char, is_signed,
is_complex, nelement, stride, storage_offset, data_ptr, pin_memory, share_memory_``, and the
per-element Python callbacks ``apply_`` and ``map_`` (CPU only and slow, as PyTorch documents)."""
import numpy as np

from chainrule import dtypes
from chainrule.backend import DeviceError
from chainrule.errors import AutogradError, ShapeError
from chainrule.grad_mode import check_inplace_on_inference
from chainrule.grad_mode import state as _grad_state
from chainrule.ops._util import normalize_dim
from chainrule.ops.cast import _caster, to
from chainrule.tensor import Tensor

short = _caster(dtypes.int16, "short")
byte = _caster(dtypes.uint8, "byte")
char = _caster(dtypes.int8, "char")


def type_as(input, other):
    """*input* converted to *other*'s dtype and device: ``x.to(other.device, other.dtype)``."""
    return to(input, device=other.device, dtype=other.dtype)


def is_signed(input):
    """True for a signed dtype (not uint8 or bool)."""
    return input._data.dtype.kind in "if"


def is_complex(input):
    """False: chainrule has no complex dtypes."""
    return False


def nelement(input):
    """The number of elements (``numel``)."""
    return int(input._data.size)


def stride(input, dim=None):
    """The step in elements between neighbours along each dimension (or along *dim*).

    >>> cr.ones(2, 3).stride()
    (3, 1)
    """
    a = input._data
    st = tuple(int(s) // a.itemsize for s in a.strides)
    if dim is None:
        return st
    return st[normalize_dim(dim, a.ndim, "stride")]


def _ptr(a):
    if type(a) is np.ndarray:
        return a.__array_interface__["data"][0]
    try:
        return int(a._data.ptr)                        # CuPy
    except AttributeError:
        pass
    try:
        return a.__array_interface__["data"][0]       # array types that expose NumPy's interface
    except AttributeError:
        raise DeviceError(f"data_ptr: the {type(a).__name__} array behind this tensor exposes no "
                          f"memory address") from None


def _root(a):
    while a.base is not None and hasattr(a.base, "strides"):
        a = a.base
    return a


def data_ptr(input):
    """The address of the tensor's first element."""
    return _ptr(input._data)


def storage_offset(input):
    """How many elements into its storage (the array it views) the tensor begins.

    >>> cr.arange(5.)[2:].storage_offset()
    2
    """
    a = input._data
    return (_ptr(a) - _ptr(_root(a))) // a.itemsize


def pin_memory(input, device=None):
    """The tensor itself on the CPU (NumPy memory needs no pinning); refused for GPU tensors."""
    if input.is_cuda:
        raise DeviceError(f"cannot pin a {input.device} tensor: only dense CPU tensors can be "
                          f"pinned")
    return input


def share_memory_(input):
    """The tensor itself (its memory is already shareable with worker processes by pickling)."""
    return input


def _host_inplace(x, op):
    if x.is_cuda:
        raise DeviceError(f"{op} is only implemented on CPU tensors (got a {x.device} tensor)")
    if x._requires_grad and _grad_state.enabled:
        raise AutogradError(f"Can't call {op}() on Variable that requires grad. Use "
                            f"var.detach().{op}() instead.")
    if type(x._vc) is not list:
        check_inplace_on_inference()


def apply_(input, callable):
    """Replace each element v by ``callable(v)`` in place (a Python loop: slow, CPU only).

    >>> cr.tensor([1., 2.]).apply_(lambda v: v * 10)
    tensor([10., 20.])
    """
    _host_inplace(input, "apply_")
    a = input._data
    vals = [callable(v) for v in a.reshape(-1).tolist()]
    a[...] = np.asarray(vals, dtype=a.dtype).reshape(a.shape)
    input._vc[0] += 1
    return input


def map_(input, tensor, callable):
    """Replace each element v by ``callable(v, w)``, w the matching element of *tensor*
    (broadcast to input's shape), in place (a Python loop: slow, CPU only)."""
    _host_inplace(input, "map_")
    a = input._data
    other = tensor._data if isinstance(tensor, Tensor) else np.asarray(tensor)
    if type(other) is not np.ndarray:
        raise DeviceError(f"map_ is only implemented on CPU tensors (got {tensor.device})")
    try:
        other = np.broadcast_to(other, a.shape)
    except ValueError:
        raise ShapeError(f"map_: tensor of shape {tuple(other.shape)} does not broadcast to "
                         f"{tuple(a.shape)}") from None
    vals = [callable(v, w) for v, w in zip(a.reshape(-1).tolist(), other.reshape(-1).tolist())]
    a[...] = np.asarray(vals, dtype=a.dtype).reshape(a.shape)
    input._vc[0] += 1
    return input
