"""``cr.accelerator``: the device-agnostic check of ``torch.accelerator`` (PyTorch ≥ 2.6).

PyTorch's tutorials now pick their device with
``torch.accelerator.current_accelerator().type if torch.accelerator.is_available() else "cpu"``;
chainrule's only accelerator is a CUDA GPU (through CuPy), so these answer as ``cr.cuda`` does.
"""
from chainrule.backend import Device
from chainrule.backend import cuda as _cuda

__all__ = ["current_accelerator", "device_count", "is_available", "synchronize"]


def is_available():
    """True when an accelerator (a CUDA GPU) can be used."""
    return _cuda.is_available()


def current_accelerator(check_available=False):
    """``cr.device('cuda')`` when a GPU can be used, else None (chainrule knows no other
    accelerator, so *check_available* changes nothing)."""
    return Device("cuda") if _cuda.is_available() else None


def device_count():
    """The number of accelerators (GPUs); 0 without one."""
    return _cuda.device_count() if _cuda.is_available() else 0


def synchronize(device=None):
    """Wait for the accelerator's queued work to finish (nothing to wait for without one)."""
    if _cuda.is_available():
        _cuda.synchronize(None if device is None else Device(device).index)
