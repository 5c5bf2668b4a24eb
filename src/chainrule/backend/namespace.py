"""Array namespaces: the module an op computes with, found from the arrays themselves.

An op never names NumPy or CuPy.  It asks ``namespace_of(array)`` (through ``ctx.xp``) for the
module that owns its input arrays and calls NumPy-named functions on it: ``xp.exp``, ``xp.where``,
``xp.matmul``.  On the CPU that is NumPy, on a GPU CuPy, in the tests a CPU stand-in for CuPy.

:class:`ArrayNamespace` is that module, plus what every backend must offer the ops in the same
way (``errstate``: CuPy has none, as a GPU raises no floating-point warnings), and ``fuse``:
an elementwise chain written once as a Python function of arrays becomes one GPU kernel on CuPy
(``cupy.fuse``) and stays that plain function on NumPy.  With
``create_graph=True`` a backward computes on tensors instead, through the namespace of the same
NumPy names in ``chainrule.ops.namespace``.
"""
import contextlib

import numpy as np


class ArrayNamespace:
    """One array library (NumPy, CuPy or the stand-in) seen through NumPy's interface.

    Attribute lookups are as fast as the module's own: its public names are copied in once.
    """

    def __init__(self, module, name, device_type):
        self.__dict__.update({k: v for k, v in vars(module).items() if not k.startswith("__")})
        self.module = module
        self.name = name
        self.device_type = device_type
        if not hasattr(module, "errstate"):
            self.errstate = _no_errstate
        self.fuses = callable(getattr(module, "fuse", None))
        self._fuse = module.fuse if self.fuses else _unfused
        self.__dict__.pop("fuse", None)      # the method below, on every backend
        self._kernels = {}

    def fuse(self, fn):
        """*fn* (elementwise array ops on ``self``'s functions) as one kernel: ``cupy.fuse(fn)`` on
        CuPy, counted by the stand-in, *fn* itself on NumPy (where ``fuses`` is False)."""
        return self._fuse(fn)

    def fused(self, make, *variant):
        """The kernel ``fuse(make(self, *variant))``, built once per namespace and variant.

        *make* closes the kernel over the namespace (a fused function takes only arrays and
        scalars); *variant* picks among its forms (Python branches cannot run inside a kernel).
        """
        key = (make, variant)
        kernel = self._kernels.get(key)
        if kernel is None:
            kernel = self._kernels[key] = self._fuse(make(self, *variant))
        return kernel

    def __repr__(self):
        return f"<array namespace {self.name}>"


def _unfused(fn):
    return fn


@contextlib.contextmanager
def _no_errstate(**kwargs):
    yield


numpy_namespace = ArrayNamespace(np, "numpy", "cpu")

_BY_TYPE = {np.ndarray: numpy_namespace}


def register(array_type, namespace):
    """Make arrays of *array_type* compute with *namespace* (done once per backend, on first use)."""
    _BY_TYPE[array_type] = namespace


def namespace_of(arr):
    """The namespace that owns array *arr*: NumPy's for NumPy arrays and scalars."""
    ns = _BY_TYPE.get(type(arr))
    if ns is not None:
        return ns
    for t, ns in _BY_TYPE.items():
        if isinstance(arr, t):
            return ns
    return numpy_namespace


def is_array(obj):
    """True for an array of any registered backend (not a Python or NumPy scalar)."""
    t = type(obj)
    return t in _BY_TYPE or any(isinstance(obj, k) for k in _BY_TYPE)
