"""``cr.cuda``: is a GPU there, how many, and wait for it — as ``torch.cuda``.

GPUs run through CuPy (``pip install chainrule[cuda]``); without CuPy or a GPU,
``is_available()`` is False and asking for ``device="cuda"`` raises ``cr.errors.DeviceError``
saying what to install.  See ``backend/cuda.py``.
"""
from chainrule.backend.cuda import device_count, is_available, synchronize

__all__ = ["device_count", "is_available", "synchronize"]
