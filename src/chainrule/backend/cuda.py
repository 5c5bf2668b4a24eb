"""The "cuda" device: CuPy when it is installed and sees a GPU, or the CPU stand-in in tests.

Nothing here runs at ``import chainrule``: CuPy is imported the first time a GPU is asked for
(``cr.cuda.is_available()``, ``device="cuda"``, ``.cuda()``), so a CPU-only install never pays for it.
"""
import contextlib

from chainrule.backend import namespace as _ns, standin
from chainrule.errors import DeviceError

_INSTALL = ("install CuPy for your CUDA version (pip install chainrule[cuda], which brings "
            "cupy-cuda12x) on a machine with an NVIDIA GPU and driver")


class _Backend:
    """What the "cuda" device computes with, found once."""

    __slots__ = ("namespace", "why_not", "probed")

    def __init__(self):
        self.namespace, self.why_not, self.probed = None, None, False


_backend = _Backend()


def _probe():
    if _backend.probed:
        return
    _backend.probed = True
    try:
        import cupy
    except ImportError:
        _backend.why_not = f"CuPy is not installed: {_INSTALL}"
        return
    except Exception as e:   # a broken CuPy install: say so rather than crash at import
        _backend.why_not = f"CuPy failed to import ({type(e).__name__}: {e}); reinstall it: {_INSTALL}"
        return
    try:
        n = cupy.cuda.runtime.getDeviceCount()
    except Exception as e:
        _backend.why_not = f"CuPy is installed but finds no usable GPU ({e})"
        return
    if n == 0:
        _backend.why_not = "CuPy is installed but this machine has no NVIDIA GPU"
        return
    ns = _ns.ArrayNamespace(cupy, "cupy", "cuda")
    _ns.register(cupy.ndarray, ns)
    _backend.namespace = ns


def namespace():
    """The array namespace of the "cuda" device, or DeviceError saying what to install."""
    _probe()
    if _backend.namespace is None:
        raise DeviceError(f"device 'cuda' is not available: {_backend.why_not}. Use device='cpu', "
                          f"or check cr.cuda.is_available() first")
    return _backend.namespace


def is_available():
    """True when a GPU can be used (CuPy installed and a GPU present, or the test stand-in)."""
    _probe()
    return _backend.namespace is not None


def device_count():
    """The number of GPUs (0 without CuPy or a GPU; 1 for the stand-in)."""
    if not is_available():
        return 0
    if _backend.namespace.name == "standin":
        return 1
    return _backend.namespace.cuda.runtime.getDeviceCount()


def synchronize(device=None):
    """Wait for every kernel queued on the GPU to finish (a no-op on the stand-in)."""
    ns = namespace()
    if ns.name != "standin":
        ns.cuda.Device(0 if device is None else device).synchronize()


def use_device(index):
    """A context manager that makes GPU *index* current while arrays are made there."""
    ns = namespace()
    if ns.name == "standin":
        if index not in (None, 0):
            raise DeviceError(f"device 'cuda:{index}' does not exist: the stand-in has one device, "
                              f"cuda:0")
        return contextlib.nullcontext()
    n = device_count()
    if index is not None and not 0 <= index < n:
        raise DeviceError(f"device 'cuda:{index}' does not exist: this machine has {n} GPU(s), "
                          f"cuda:0 to cuda:{n - 1}")
    return ns.cuda.Device(index or 0)


@contextlib.contextmanager
def use_standin():
    """Make "cuda" the CPU stand-in of ``backend/standin.py`` inside the ``with`` block (tests)."""
    saved = (_backend.namespace, _backend.why_not, _backend.probed)
    ns = _ns.ArrayNamespace(standin.module, "standin", "cuda")
    _ns.register(standin.StandInArray, ns)
    _backend.namespace, _backend.why_not, _backend.probed = ns, None, True
    try:
        yield ns
    finally:
        _backend.namespace, _backend.why_not, _backend.probed = saved
