"""Random draws into tensors: the in-place ``x.normal_()`` family and ``cr.bernoulli``,
``cr.multinomial``, ``cr.normal``, ``cr.poisson``, as PyTorch has them.

Draws come from a ``cr.Generator`` (the default one unless ``generator=`` is given) on the host,
so a seed gives the same numbers on every device; they are then written into the tensor's
memory (copied to its device). Sampling is not differentiable: results carry no history, and
the in-place forms follow the rules of ``fill_`` (a leaf that requires grad is filled under
``cr.no_grad()``, or through ``.data``, as ``nn.init`` does)::

    >>> w = cr.empty(3, 4)
    >>> tuple(w.normal_(0.0, 0.02).shape)
    (3, 4)
"""
import math

import numpy as np

from chainrule import dtypes
from chainrule.backend import device_of, ndarray, to_device
from chainrule.errors import ArgumentTypeError, ConfigError, DataError, DTypeError, ShapeError
from chainrule.random import rng
from chainrule.tensor import Tensor, _check_inplace


def _host(x):
    """*x*'s values as a NumPy array (a tensor, an array or a number)."""
    a = x._data if isinstance(x, Tensor) else x
    return a if type(a) is ndarray else np.asarray(a if not hasattr(a, "get") else a.get())


def write_host(x, values):
    """Write host *values* into tensor *x* (cast to its dtype, on its device: the same numbers on
    every device) and bump its version; return x.  No graph check: ``nn.init`` fills leaves."""
    arr = x._data
    if type(arr) is ndarray:
        np.copyto(arr, values, casting="unsafe")
    else:   # a device array: the host's values, copied over
        arr[...] = to_device(np.asarray(values).astype(arr.dtype), device_of(arr))
    x._vc[0] += 1
    return x


def _write(x, values):
    """:func:`write_host` after the in-place rules of ``fill_``."""
    _check_inplace(x)
    return write_host(x, values)


def _float_target(x, op):
    """Refuse anything but a floating-point tensor."""
    if not isinstance(x, Tensor):
        raise ArgumentTypeError(f"{op}: expected a cr.Tensor, got {type(x).__name__}")
    if x._data.dtype.kind != "f":
        raise DTypeError(f"{op}: expects a floating point tensor, got dtype {x.dtype}")


def _number(value, name, op):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ArgumentTypeError(f"{op}: {name} must be a number, got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value):
        raise ConfigError(f"{op}: {name} must be finite, got {value}")
    return value


def uniform_(x, from_=0.0, to=1.0, *, generator=None, **kwargs):
    """Fill with draws from U[from, to) (``from`` may be given by keyword, as in PyTorch)."""
    from_ = kwargs.pop("from", from_)
    _no_extra(kwargs, "uniform_")
    _float_target(x, "uniform_")
    a, b = _number(from_, "from", "uniform_"), _number(to, "to", "uniform_")
    if a > b:
        raise ConfigError(f"uniform_ expects to return a [from, to) range, but found from={a} > "
                          f"to={b}")
    return _write(x, rng(generator).uniform(a, b, x._data.shape))


def normal_(x, mean=0.0, std=1.0, *, generator=None):
    """Fill with draws from N(mean, std²)."""
    _float_target(x, "normal_")
    mean, std = _number(mean, "mean", "normal_"), _number(std, "std", "normal_")
    if std < 0:
        raise ConfigError(f"normal expects std >= 0.0, but found std {std}")
    return _write(x, rng(generator).normal(mean, std, x._data.shape))


def log_normal_(x, mean=1.0, std=2.0, *, generator=None):
    """Fill with draws of e^z, z ~ N(mean, std²)."""
    _float_target(x, "log_normal_")
    mean, std = _number(mean, "mean", "log_normal_"), _number(std, "std", "log_normal_")
    if std <= 0:
        raise ConfigError(f"log_normal_ expects std > 0.0, but found std={std}")
    return _write(x, rng(generator).lognormal(mean, std, x._data.shape))


def exponential_(x, lambd=1.0, *, generator=None):
    """Fill with draws from the exponential distribution of rate λ (density λe^{−λx})."""
    _float_target(x, "exponential_")
    lambd = _number(lambd, "lambd", "exponential_")
    if lambd <= 0:
        raise ConfigError(f"exponential_ expects lambda > 0.0, but found lambda={lambd}")
    return _write(x, rng(generator).exponential(1.0 / lambd, x._data.shape))


def cauchy_(x, median=0.0, sigma=1.0, *, generator=None):
    """Fill with draws from the Cauchy distribution: median + σ·tan(π(u − ½)), u ~ U(0, 1)."""
    _float_target(x, "cauchy_")
    median, sigma = _number(median, "median", "cauchy_"), _number(sigma, "sigma", "cauchy_")
    if sigma <= 0:
        raise ConfigError(f"cauchy_ expects sigma > 0.0, but found sigma={sigma}")
    return _write(x, median + sigma * rng(generator).standard_cauchy(x._data.shape))


def geometric_(x, p, *, generator=None):
    """Fill with the number of Bernoulli(p) trials up to the first success (1, 2, …)."""
    _tensor(x, "geometric_")
    p = _number(p, "p", "geometric_")
    if not 0 < p < 1:
        raise ConfigError(f"geometric_ expects p to be in (0, 1), but got p={p}")
    return _write(x, rng(generator).geometric(p, x._data.shape))


def bernoulli_(x, p=0.5, *, generator=None):
    """Fill with 1 with probability p, else 0 (*p* a number or a tensor broadcast to x)."""
    _tensor(x, "bernoulli_")
    probs = _probabilities(p, "bernoulli_")
    shape = x._data.shape
    try:
        probs = np.broadcast_to(probs, shape)
    except ValueError:
        raise ShapeError(f"bernoulli_: p of shape {tuple(probs.shape)} cannot be broadcast to the "
                         f"tensor's shape {tuple(shape)}") from None
    return _write(x, rng(generator).random(shape) < probs)


def random_(x, from_=0, to=None, *, generator=None, **kwargs):
    """Fill with integers drawn uniformly from [from, to − 1]; ``x.random_(to)`` draws from
    [0, to − 1]; without bounds, from [0, 2^mantissa] (floats) or [0, the dtype's max]."""
    by_keyword = "from" in kwargs
    from_ = kwargs.pop("from", from_)
    _no_extra(kwargs, "random_")
    _tensor(x, "random_")
    if to is None and not by_keyword and from_ != 0:
        from_, to = 0, from_   # random_(to)
    kind = x._data.dtype
    if to is None:
        to = 2 if kind == np.bool_ else (2 ** (np.finfo(kind).nmant + 1) + 1 if kind.kind == "f"
                                         else int(np.iinfo(kind).max) + 1)
    for name, v in (("from", from_), ("to", to)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise ArgumentTypeError(f"random_: {name} must be an int, got {type(v).__name__}")
    if from_ >= to:
        raise ConfigError(f"random_ expects 'from' to be less than 'to', but got from={from_} >= "
                          f"to={to}")
    return _write(x, rng(generator).integers(from_, to, x._data.shape))


def bernoulli(input, p=None, *, generator=None):  # noqa: A002 - PyTorch's name
    """A tensor of 0/1 draws, 1 with probability ``input`` (or *p*) element by element."""
    _float_target(input, "bernoulli")
    probs = _probabilities(input if p is None else p, "bernoulli")
    draws = rng(generator).random(input._data.shape) < np.broadcast_to(probs, input._data.shape)
    return _like(input, draws)


def poisson(input, generator=None):  # noqa: A002 - PyTorch's name
    """A tensor of Poisson draws with the rates ``input`` (element by element)."""
    _float_target(input, "poisson")
    rates = _host(input)
    if not np.isfinite(rates).all() or (rates < 0).any():
        raise DataError("poisson: the rates must be finite and >= 0")
    return _like(input, rng(generator).poisson(rates))


def normal(mean, std=1.0, size=None, *, generator=None, dtype=None):
    """Draws from N(mean, std²): *mean* and/or *std* tensors (broadcast together, the result
    on their device and of their dtype), or two numbers and a *size*."""
    tensors = [t for t in (mean, std) if isinstance(t, Tensor)]
    if not tensors:
        if size is None:
            raise ArgumentTypeError("normal: with a number for mean and std, give a size, e.g. "
                                    "cr.normal(0.0, 1.0, size=(3,))")
        m, s = _number(mean, "mean", "normal"), _number(std, "std", "normal")
        if s < 0:
            raise ConfigError(f"normal expects std >= 0.0, but found std {s}")
        kind = dtypes.to_dtype(dtype) if dtype is not None else dtypes.get_default_dtype()
        shape = tuple(size) if isinstance(size, (tuple, list)) else (size,)
        return Tensor(rng(generator).normal(m, s, shape).astype(kind))
    if size is not None:
        raise ArgumentTypeError("normal: size is only for a number mean and std; with a tensor "
                                "the result has its shape")
    for t in tensors:
        _float_target(t, "normal")
    m, s = _host(mean), _host(std)
    if (s < 0).any():
        raise ConfigError("normal expects all elements of std >= 0.0")
    try:
        shape = np.broadcast_shapes(np.shape(m), np.shape(s))
    except ValueError:
        raise ShapeError(f"normal: mean of shape {np.shape(m)} and std of shape {np.shape(s)} "
                         f"do not broadcast") from None
    return _like(tensors[0], rng(generator).normal(m, s, shape))


def multinomial(input, num_samples, replacement=False, *, generator=None):  # noqa: A002
    """Category indices drawn with the (unnormalised) weights of each row of *input*
    (1-D: one distribution, 2-D: one per row); int64 of shape (…, num_samples)."""
    _float_target(input, "multinomial")
    w = _host(input).astype(np.float64)
    if w.ndim not in (1, 2):
        raise ShapeError(f"multinomial: prob_dist must be 1 or 2 dim, got shape {tuple(w.shape)}")
    if isinstance(num_samples, bool) or not isinstance(num_samples, (int, np.integer)) \
            or num_samples <= 0:
        raise ConfigError(f"multinomial: cannot sample n_sample <= 0 samples, got {num_samples!r}")
    if not np.isfinite(w).all() or (w < 0).any():
        raise DataError("multinomial: probability tensor contains either inf, nan or element < 0")
    rows = w.reshape(-1, w.shape[-1])
    if not replacement and num_samples > rows.shape[1]:
        raise ConfigError(f"multinomial: cannot sample n_sample > prob_dist.size(-1) samples "
                          f"without replacement ({num_samples} > {rows.shape[1]})")
    g = rng(generator)
    out = np.empty((rows.shape[0], num_samples), dtype=np.int64)
    for r, row in enumerate(rows):   # one NumPy call per distribution
        total = row.sum()
        if total <= 0:
            raise DataError(f"multinomial: invalid distribution in row {r} (sum of "
                            f"probabilities <= 0)")
        if not replacement and np.count_nonzero(row) < num_samples:
            raise DataError(f"multinomial: invalid distribution in row {r} (with "
                            f"replacement=False, not enough non-zero categories to sample "
                            f"{num_samples})")
        out[r] = g.choice(row.shape[0], size=num_samples, replace=replacement, p=row / total)
    out = out.reshape(w.shape[:-1] + (num_samples,))
    arr = out if type(input._data) is ndarray else to_device(out, device_of(input._data))
    return Tensor(arr)


def _probabilities(p, op):
    """*p* as a host array of probabilities in [0, 1]."""
    if isinstance(p, Tensor) or isinstance(p, ndarray):
        probs = _host(p).astype(np.float64)
    else:
        probs = np.asarray(_number(p, "p", op))
    if not ((probs >= 0) & (probs <= 1)).all():
        raise ConfigError(f"{op}: expected 0 <= p <= 1 for every probability")
    return probs


def _like(t, values):
    """A new tensor of *values* with tensor *t*'s dtype, on its device."""
    arr = np.asarray(values).astype(t._data.dtype)
    return Tensor(arr if type(t._data) is ndarray else to_device(arr, device_of(t._data)))


def _tensor(x, op):
    if not isinstance(x, Tensor):
        raise ArgumentTypeError(f"{op}: expected a cr.Tensor, got {type(x).__name__}")


def _no_extra(kwargs, op):
    if kwargs:
        raise ArgumentTypeError(f"{op}() got unexpected keyword arguments {sorted(kwargs)}")
