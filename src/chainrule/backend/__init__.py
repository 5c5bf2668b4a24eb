"""The array backend: where a tensor's memory lives and which array module computes on it.

A tensor's values are one array (``Tensor._data``): a NumPy array on the CPU, a CuPy array on an
NVIDIA GPU.  Ops never name either library: ``namespace_of(array)`` gives the module that owns an
array (see ``namespace.py``), so one rule runs on every device.  ``Device`` names a place the way
``torch.device`` does: ``"cpu"``, ``"cuda"``, ``"cuda:1"``.
"""
import numpy as np

from chainrule.backend import cuda
from chainrule.backend.namespace import ArrayNamespace, is_array, namespace_of, numpy_namespace
from chainrule.errors import DeviceError

xp = np
"""NumPy, for host-side code that never holds device arrays (data loading, files, metrics)."""

ndarray = np.ndarray


class Device:
    """Where a tensor's memory lives, as ``torch.device``: type "cpu" or "cuda", and an index.

    >>> cr.device("cuda:1")
    device(type='cuda', index=1)
    """

    __slots__ = ("type", "index")

    def __init__(self, type="cpu", index=None):
        if isinstance(type, Device):
            type, index = type.type, type.index if index is None else index
        if not isinstance(type, str):
            raise DeviceError(f"device: expected a string such as 'cpu', 'cuda' or 'cuda:0', got "
                              f"{type!r}")
        name, _, idx = type.partition(":")
        if idx:
            if index is not None:
                raise DeviceError(f"device: index given twice ({type!r} and index={index})")
            if not idx.isdigit():
                raise DeviceError(f"device: invalid device string {type!r}: expected 'cuda:N' "
                                  f"with N a non-negative integer")
            index = int(idx)
        if name not in ("cpu", "cuda"):
            raise DeviceError(f"device: unknown device type {name!r}: expected 'cpu' or 'cuda' "
                              f"(e.g. 'cuda:0')")
        if index is not None and (not isinstance(index, int) or index < 0):
            raise DeviceError(f"device: index must be a non-negative int, got {index!r}")
        if name == "cpu" and index not in (None, 0):
            raise DeviceError(f"device: the CPU has no index {index}; use 'cpu'")
        self.type = name
        self.index = index if name == "cuda" else None

    def __repr__(self):
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other):
        if isinstance(other, str):
            try:
                other = Device(other)
            except DeviceError:
                return False
        if not isinstance(other, Device):
            return NotImplemented
        return self.type == other.type and (self.index or 0) == (other.index or 0)

    def __hash__(self):
        return hash((self.type, self.index or 0))


cpu = Device("cpu")


def device(spec=None, index=None):
    """The :class:`Device` named by *spec*: None or "cpu" (the CPU), "cuda", "cuda:N", a Device."""
    if spec is None or spec is cpu:
        return cpu
    if type(spec) is Device and index is None:
        return spec
    return Device(spec, index)


def device_of(arr):
    """The device that holds array *arr*."""
    if type(arr) is ndarray:
        return cpu
    dev = getattr(arr, "device", None)
    if dev is None or isinstance(dev, str):
        return cpu
    return Device("cuda", getattr(dev, "id", 0))


def namespace_for(dev):
    """The array namespace that makes arrays on device *dev* (raises DeviceError if unavailable)."""
    dev = device(dev)
    if dev.type == "cpu":
        return numpy_namespace
    ns = cuda.namespace()
    cuda.use_device(dev.index)   # checks the index exists
    return ns


def to_device(arr, dev):
    """*arr* on device *dev*: the same array when it is there already, else a copy."""
    dev = device(dev)
    src = namespace_of(arr)
    if dev.type == "cpu":
        if src is numpy_namespace:
            return arr
        return arr.get()
    ns = namespace_for(dev)
    if src is ns:
        return arr
    if src is not numpy_namespace:
        arr = arr.get()
    with cuda.use_device(dev.index):
        return ns.asarray(arr)


def asarray(data, dtype=None):
    """Convert *data* (nested lists, scalars, arrays) to a host array of *dtype*."""
    return np.asarray(data, dtype=dtype)


__all__ = ["ArrayNamespace", "Device", "asarray", "cpu", "cuda", "device", "device_of", "is_array",
           "namespace_for", "namespace_of", "ndarray", "numpy_namespace", "to_device", "xp"]
