"""A CPU stand-in for CuPy, so the GPU path is tested on machines without a GPU.

Its arrays live in host memory but behave like CuPy's where bugs hide:

- they refuse implicit conversion to NumPy (``np.asarray(a)`` raises, as CuPy's do) and NumPy's
  functions refuse them, so code that forgets to ask an array for its namespace fails here;
- mixing them with NumPy arrays in one operation raises, as CuPy does;
- reductions return 0-d arrays, never host scalars, as CuPy's do;
- every host↔device copy is counted in :data:`transfers` (``asarray`` of host data, ``get()``,
  ``item()``, ``float()``, ``bool()``...), so a test can assert that a training step makes none;
- ``fuse(fn)`` stands for ``cupy.fuse``: it runs *fn* as array code, takes only what a fused
  kernel takes (arrays and scalars, positionally), and counts each launch in :data:`fused_launches`
  by the kernel's name, so a test can assert that the fused path ran.

``chainrule.backend.cuda.use_standin()`` makes it the "cuda" device.
"""
import numbers

import numpy as np

transfers = {"to_device": 0, "to_host": 0}
"""How many copies crossed between host and (stand-in) device memory."""


fused_launches = {}
"""How many times each fused kernel ran (by function name), as one kernel would on CuPy."""


def reset_transfers():
    """Zero the transfer counters."""
    transfers["to_device"] = transfers["to_host"] = 0


class _Device:
    """The stand-in's ``array.device`` (as ``cupy.cuda.Device``)."""

    id = 0

    def __repr__(self):
        return "<StandIn CUDA Device 0>"


_DEVICE = _Device()


def _unwrap(v):
    t = type(v)
    if t is StandInArray:
        return v._a
    if t is np.ndarray:
        raise TypeError("Unsupported type <class 'numpy.ndarray'>: a host (NumPy) array was mixed "
                        "with a device array; move it to the device first (as CuPy requires)")
    if t is list or t is tuple:
        return t(_unwrap(x) for x in v)
    return v


def _wrap(v):
    t = type(v)
    if t is np.ndarray:
        return StandInArray(v)
    if isinstance(v, np.generic):
        return StandInArray(np.asarray(v))
    if t is tuple or t is list:
        return t(_wrap(x) for x in v)
    if isinstance(v, tuple) and hasattr(v, "_fields"):   # NumPy's named results (svd, qr, eigh)
        return t(*(_wrap(x) for x in v))
    return v


def _unwrap_kwargs(kwargs):
    return {k: _unwrap(v) for k, v in kwargs.items()}


def _binop(name):
    method = getattr(np.ndarray, name)

    def op(self, other):
        return _wrap(method(self._a, _unwrap(other)))
    op.__name__ = name
    return op


class StandInArray:
    """A device array of the stand-in: a NumPy array behind a CuPy-like wall."""

    __slots__ = ("_a", "__weakref__")
    __array_ufunc__ = None      # NumPy's ufuncs (np.exp(a)) refuse it
    __array_priority__ = 2000

    def __init__(self, a):
        self._a = a

    # ---- leaving the device: only explicitly, and counted ------------------------------------
    def __array__(self, *args, **kwargs):
        raise TypeError("Implicit conversion to a NumPy array is not allowed. Please use `.get()` "
                        "to construct a NumPy array explicitly.")

    def __array_function__(self, func, types, args, kwargs):
        raise TypeError(f"numpy.{func.__name__} was given a device array: call the function of the "
                        f"array's own namespace instead")

    def get(self, stream=None, order="C", out=None):
        """A host (NumPy) copy, as ``cupy.ndarray.get``."""
        transfers["to_host"] += 1
        return self._a.copy()

    def item(self):
        transfers["to_host"] += 1
        return self._a.item()

    def tolist(self):
        transfers["to_host"] += 1
        return self._a.tolist()

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __bool__(self):
        return bool(self.item())

    def __index__(self):
        return self._a.__index__()

    def __len__(self):
        return len(self._a)

    def __iter__(self):
        return (_wrap(x) for x in self._a)

    def __repr__(self):
        return "standin." + repr(self._a)

    __hash__ = None

    # ---- attributes ------------------------------------------------------------------------
    @property
    def device(self):
        return _DEVICE

    @property
    def shape(self):
        return self._a.shape

    @property
    def dtype(self):
        return self._a.dtype

    @property
    def ndim(self):
        return self._a.ndim

    @property
    def size(self):
        return self._a.size

    @property
    def itemsize(self):
        return self._a.itemsize

    @property
    def nbytes(self):
        return self._a.nbytes

    @property
    def strides(self):
        return self._a.strides

    @property
    def flags(self):
        return self._a.flags

    @property
    def base(self):
        b = self._a.base
        return None if b is None else _wrap(b) if isinstance(b, np.ndarray) else b

    @property
    def T(self):
        return StandInArray(self._a.T)

    @property
    def mT(self):
        return StandInArray(self._a.mT)

    @property
    def real(self):
        return StandInArray(self._a.real)

    def __getattr__(self, name):      # methods: reshape, astype, sum, transpose, fill, copy, ...
        if name.startswith("__"):     # not NumPy's __array_interface__ and the like
            raise AttributeError(name)
        attr = getattr(self._a, name)
        if not callable(attr):
            return _wrap(attr)

        def method(*args, **kwargs):
            return _wrap(attr(*_unwrap(args), **_unwrap_kwargs(kwargs)))
        return method

    def __getitem__(self, key):
        return _wrap(self._a[_unwrap_key(key)])

    def __setitem__(self, key, value):
        self._a[_unwrap_key(key)] = _unwrap(value)

    def __neg__(self):
        return _wrap(-self._a)

    def __pos__(self):
        return self

    def __abs__(self):
        return _wrap(abs(self._a))

    def __invert__(self):
        return _wrap(~self._a)


def _unwrap_key(key):
    if type(key) is tuple:
        return tuple(_unwrap_key(k) for k in key)
    if type(key) is StandInArray:
        return key._a
    return key


for _name in ("__add__", "__radd__", "__sub__", "__rsub__", "__mul__", "__rmul__", "__truediv__",
              "__rtruediv__", "__floordiv__", "__rfloordiv__", "__mod__", "__rmod__", "__pow__",
              "__rpow__", "__matmul__", "__rmatmul__", "__and__", "__rand__", "__or__", "__ror__",
              "__xor__", "__rxor__", "__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__",
              "__iadd__", "__isub__", "__imul__", "__itruediv__", "__ifloordiv__", "__imod__",
              "__ipow__", "__iand__", "__ior__", "__ixor__", "__lshift__", "__rshift__"):
    setattr(StandInArray, _name, _binop(_name))


def _inplace(name):
    method = getattr(np.ndarray, name)

    def op(self, other):
        method(self._a, _unwrap(other))
        return self
    return op


for _name in ("__iadd__", "__isub__", "__imul__", "__itruediv__", "__ifloordiv__", "__imod__",
              "__ipow__", "__iand__", "__ior__", "__ixor__"):
    setattr(StandInArray, _name, _inplace(_name))


class _UFunc:
    """A NumPy ufunc seen from the stand-in: call, ``.at``, ``.reduce``, ``.accumulate``."""

    def __init__(self, uf):
        self._uf = uf
        self.__name__ = uf.__name__

    def __call__(self, *args, **kwargs):
        return _wrap(self._uf(*_unwrap(args), **_unwrap_kwargs(kwargs)))

    def at(self, a, indices, b=None):
        if b is None:
            self._uf.at(_unwrap(a), _unwrap_key(indices))
        else:
            self._uf.at(_unwrap(a), _unwrap_key(indices), _unwrap(b))

    def reduce(self, *args, **kwargs):
        return _wrap(self._uf.reduce(*_unwrap(args), **_unwrap_kwargs(kwargs)))

    def accumulate(self, *args, **kwargs):
        return _wrap(self._uf.accumulate(*_unwrap(args), **_unwrap_kwargs(kwargs)))

    def outer(self, *args, **kwargs):
        return _wrap(self._uf.outer(*_unwrap(args), **_unwrap_kwargs(kwargs)))


def _function(fn):
    def f(*args, **kwargs):
        return _wrap(fn(*_unwrap(args), **_unwrap_kwargs(kwargs)))
    f.__name__ = getattr(fn, "__name__", "function")
    f.__doc__ = getattr(fn, "__doc__", None)
    return f


class _Module:
    """A namespace of NumPy's functions that take and return stand-in arrays."""

    def __init__(self, source, name):
        self.__name__ = name
        for k, v in vars(source).items():
            if k.startswith("_"):
                continue
            if isinstance(v, np.ufunc):
                setattr(self, k, _UFunc(v))
            elif isinstance(v, type) or isinstance(v, (numbers.Number, str, np.dtype)) or v is None:
                setattr(self, k, v)
            elif callable(v):
                setattr(self, k, _function(v))


def fuse(fn):
    """``cupy.fuse(fn)`` on the stand-in: *fn* run as array code, each call counted as one launch."""
    name = fn.__name__

    def kernel(*args, **kwargs):
        if kwargs:
            raise TypeError(f"fused kernel {name}: takes its arguments positionally (as "
                            f"cupy.fuse), got keywords {sorted(kwargs)}")
        for a in args:
            if not (type(a) is StandInArray or isinstance(a, (numbers.Number, np.generic))):
                raise TypeError(f"fused kernel {name}: arguments must be device arrays or "
                                f"scalars (as cupy.fuse), got {type(a).__name__}")
        fused_launches[name] = fused_launches.get(name, 0) + 1
        return fn(*args)
    kernel.__name__ = name
    return kernel


def _asarray(obj, dtype=None, copy=None):
    if type(obj) is StandInArray:
        if dtype is None or obj.dtype == dtype:
            return obj
        return StandInArray(obj._a.astype(dtype))
    transfers["to_device"] += 1
    arr = np.array(obj, dtype=dtype, copy=True)
    return StandInArray(arr)


def _asnumpy(a, stream=None, out=None):
    if type(a) is StandInArray:
        return a.get()
    return np.asarray(a)


module = _Module(np, "standin")
"""The stand-in's array module: ``module.exp(a)`` as ``cupy.exp(a)``."""
module.ndarray = StandInArray
module.asarray = _asarray
module.array = lambda obj, dtype=None, copy=True: (
    StandInArray(obj._a.astype(dtype or obj.dtype, copy=True)) if type(obj) is StandInArray
    else _asarray(obj, dtype))
module.asnumpy = _asnumpy
module.fuse = fuse
module.errstate = np.errstate
module.linalg = _Module(np.linalg, "standin.linalg")
module.random = _Module(np.random, "standin.random")
module.newaxis = None
module.pi, module.e, module.inf, module.nan = np.pi, np.e, np.inf, np.nan
for _dt in ("float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool_",
            "complex64", "complex128", "intp"):
    setattr(module, _dt, getattr(np, _dt))
module.dtype = np.dtype
module.finfo, module.iinfo = np.finfo, np.iinfo
module.result_type = lambda *a: np.result_type(*[x.dtype if type(x) is StandInArray else x
                                                      for x in a])
module.can_cast = np.can_cast
module.promote_types = np.promote_types
module.isscalar = np.isscalar
