"""Making tensors: from data, filled with constants, ranges, and random draws."""
import builtins

from chainrule import dtypes
from chainrule.backend import device as _device, device_of, namespace_for, to_device, xp
from chainrule.errors import ArgumentTypeError, ConfigError, DTypeError, ShapeError
from chainrule.random import rng
from chainrule.tensor import Tensor, to_array


def _size(size, op):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    try:
        size = tuple(builtins.int(s) for s in size)
    except (TypeError, ValueError):
        raise ArgumentTypeError(f"{op}: expected a size given as ints, got {size!r}") from None
    if any(s < 0 for s in size):
        raise ShapeError(f"{op}: sizes must be non-negative, got {size}")
    return size


_default_device = None


def set_default_device(device):
    """Make the factories (``cr.zeros``, ``cr.tensor``, ``cr.randn``, ...) create tensors on
    *device* when they are given no ``device=`` (None: the CPU again), as
    ``torch.set_default_device``.  ``*_like`` factories keep following their input's device.

    >>> cr.set_default_device("cpu")       # "cuda" on a machine with a GPU
    >>> cr.zeros(2).device
    device(type='cpu')
    >>> cr.set_default_device(None)
    """
    global _default_device
    _default_device = None if device is None else _device(device)


def get_default_device():
    """The device factories use when given none (``cr.device('cpu')`` unless set)."""
    return _device(_default_device)


def _dev(device):
    return _default_device if device is None else device


def _make(arr, requires_grad, device):
    """A tensor around *arr*, moved to *device* (host-made values: data, random draws)."""
    device = _dev(device)
    if device is not None:
        arr = to_device(arr, _device(device))
    return Tensor(arr, requires_grad=requires_grad)



def _float_dtype(dtype):
    return dtypes.to_dtype(dtype) if dtype is not None else dtypes.get_default_dtype()


def tensor(data, dtype=None, requires_grad=False, device=None):
    """A new tensor holding a copy of *data* (nested lists, numbers, arrays or a tensor).

    Python floats become the default float dtype (float32), ints int64, bools bool.

    >>> cr.tensor([[1., 2.], [3., 4.]], requires_grad=True).shape
    (2, 2)
    """
    arr = to_array(data, dtype)
    src = data._data if isinstance(data, Tensor) else data
    if arr is src or isinstance(src, xp.ndarray) and xp.may_share_memory(arr, src):
        arr = arr.copy()
    return _make(arr, requires_grad, device)


def as_tensor(data, dtype=None, device=None):
    """A tensor sharing memory with *data* when possible (a tensor or array of the right dtype)."""
    if isinstance(data, Tensor) and (dtype is None or data.dtype == dtypes.to_dtype(dtype)):
        return data
    return Tensor(to_array(data, dtype))


def from_numpy(ndarray):
    """A tensor sharing memory with a NumPy array (changes to one show in the other)."""
    if not isinstance(ndarray, xp.ndarray):
        raise ArgumentTypeError("from_numpy: expected a numpy.ndarray, got "
                                f"{type(ndarray).__name__}")
    return Tensor(ndarray)


def zeros(*size, dtype=None, requires_grad=False, device=None):
    """A tensor of zeros: ``cr.zeros(2, 3)``."""
    ns = namespace_for(_dev(device))
    return Tensor(ns.zeros(_size(size, "zeros"), dtype=_float_dtype(dtype)), requires_grad=requires_grad)


def ones(*size, dtype=None, requires_grad=False, device=None):
    """A tensor of ones."""
    ns = namespace_for(_dev(device))
    return Tensor(ns.ones(_size(size, "ones"), dtype=_float_dtype(dtype)), requires_grad=requires_grad)


def empty(*size, dtype=None, requires_grad=False, device=None):
    """An uninitialised tensor (its values are whatever the memory held)."""
    ns = namespace_for(_dev(device))
    return Tensor(ns.empty(_size(size, "empty"), dtype=_float_dtype(dtype)), requires_grad=requires_grad)


def full(size, fill_value, dtype=None, requires_grad=False, device=None):
    """A tensor filled with *fill_value*; its dtype follows the value (float → default float)."""
    if dtype is None:
        dtype = to_array(fill_value).dtype
    size = _size((size,) if isinstance(size, int) else (size,), "full")
    ns = namespace_for(_dev(device))
    return Tensor(ns.full(size, fill_value, dtype=dtypes.to_dtype(dtype)),
                  requires_grad=requires_grad)


def _like(x, dtype):
    return dtypes.to_dtype(dtype) if dtype is not None else x._data.dtype


def _like_ns(x, device):
    """The namespace of *device*, or of *x*'s device when none is given (as PyTorch)."""
    return namespace_for(device_of(x._data) if device is None else device)


def zeros_like(input, dtype=None, requires_grad=False, device=None):
    """Zeros of *input*'s shape and dtype."""
    return Tensor(_like_ns(input, device).zeros(input.shape, dtype=_like(input, dtype)),
                  requires_grad=requires_grad)


def ones_like(input, dtype=None, requires_grad=False, device=None):
    """Ones of *input*'s shape and dtype."""
    return Tensor(_like_ns(input, device).ones(input.shape, dtype=_like(input, dtype)),
                  requires_grad=requires_grad)


def empty_like(input, dtype=None, requires_grad=False, device=None):
    """An uninitialised tensor of *input*'s shape and dtype."""
    return Tensor(_like_ns(input, device).empty(input.shape, dtype=_like(input, dtype)),
                  requires_grad=requires_grad)


def full_like(input, fill_value, dtype=None, requires_grad=False, device=None):
    """*fill_value* everywhere, in *input*'s shape and dtype."""
    return Tensor(_like_ns(input, device).full(input.shape, fill_value, dtype=_like(input, dtype)),
                  requires_grad=requires_grad)


def rand_like(input, dtype=None, requires_grad=False, device=None, generator=None):
    """Uniform [0, 1) draws in *input*'s shape and (float) dtype."""
    return rand(input.shape, dtype=_like(input, dtype), requires_grad=requires_grad,
                device=device_of(input._data) if device is None else device, generator=generator)


def randn_like(input, dtype=None, requires_grad=False, device=None, generator=None):
    """Standard normal draws in *input*'s shape and (float) dtype."""
    return randn(input.shape, dtype=_like(input, dtype), requires_grad=requires_grad,
                 device=device_of(input._data) if device is None else device, generator=generator)


def _random_float(dtype, op):
    d = _float_dtype(dtype)
    if d.kind != "f":
        raise DTypeError(f"{op}: expected a float dtype, got {d}")
    return d


def rand(*size, generator=None, dtype=None, requires_grad=False, device=None):
    """Uniform draws on [0, 1) from *generator* (the default generator if None)."""
    d = _random_float(dtype, "rand")
    arr = rng(generator).random(_size(size, "rand"), dtype=d if d != dtypes.float16 else None)
    return _make(arr.astype(d, copy=False), requires_grad, device)


def randn(*size, generator=None, dtype=None, requires_grad=False, device=None):
    """Standard normal draws from *generator* (the default generator if None)."""
    d = _random_float(dtype, "randn")
    arr = rng(generator).standard_normal(_size(size, "randn"),
                                         dtype=d if d != dtypes.float16 else None)
    return _make(arr.astype(d, copy=False), requires_grad, device)


def randint(low=0, high=None, size=None, *, generator=None, dtype=None, requires_grad=False,
            device=None):
    """Integers drawn uniformly from [low, high): ``cr.randint(10, (3,))`` or ``cr.randint(2, 10, (3,))``."""
    if size is None:
        if isinstance(high, (tuple, list)):
            low, high, size = 0, low, high
        else:
            raise ArgumentTypeError("randint: expected a size, e.g. cr.randint(0, 10, (3,))")
    if high is None:
        low, high = 0, low
    if high <= low:
        raise ConfigError(f"randint: expected low < high, got low={low}, high={high}")
    arr = rng(generator).integers(low, high, size=_size((size,), "randint"))
    return _make(arr.astype(dtypes.to_dtype(dtype) if dtype is not None else dtypes.int64),
                 requires_grad, device)


def randperm(n, *, generator=None, dtype=None, device=None):
    """A random permutation of 0 .. n-1."""
    arr = rng(generator).permutation(n)
    return _make(arr.astype(dtypes.to_dtype(dtype) if dtype is not None else dtypes.int64),
                 False, device)


def arange(start, end=None, step=1, *, dtype=None, requires_grad=False, device=None):
    """Evenly spaced values in [start, end): int64 for integer arguments, else the default float."""
    if end is None:
        start, end = 0, start
    if step == 0:
        raise ConfigError("arange: step must be nonzero")
    if dtype is None:
        dtype = dtypes.int64 if all(isinstance(v, (int, xp.integer)) for v in (start, end, step)) \
            else dtypes.get_default_dtype()
    return _make(xp.arange(start, end, step).astype(dtypes.to_dtype(dtype)), requires_grad, device)


def linspace(start, end, steps, *, dtype=None, requires_grad=False, device=None):
    """*steps* evenly spaced values from start to end inclusive."""
    if not isinstance(steps, (int, xp.integer)) or isinstance(steps, bool) or steps < 0:
        raise ConfigError(f"linspace: steps must be a non-negative int, got {steps!r}")
    return _make(xp.linspace(start, end, steps).astype(_float_dtype(dtype)), requires_grad, device)


def eye(n, m=None, *, dtype=None, requires_grad=False, device=None):
    """The n×m identity matrix."""
    return Tensor(namespace_for(_dev(device)).eye(n, m, dtype=_float_dtype(dtype)),
                  requires_grad=requires_grad)
