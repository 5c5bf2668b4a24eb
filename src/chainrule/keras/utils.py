"""Naming and argument helpers shared by the Keras-style layers, losses, metrics and trainer.

Names: :func:`unique_name` gives Keras's automatic names (``dense``, ``dense_1`` ...),
:func:`clear_session` restarts them, :func:`snake_case` turns a class name into a default name,
:func:`check_name` validates a name given by the user. Arguments: :func:`positive_int`,
:func:`non_negative_int`, :func:`check_float` and :func:`normalize_shape` check a constructor's
argument once and raise Keras's message (``"expected a positive int for units. Received:
units=0"``) as a :class:`~chainrule.errors.ConfigError` or ``ShapeError``.

Example::

    >>> positive_int(16, "units", "Dense")
    16
    >>> snake_case("BatchNormalization")
    'batch_normalization'
"""
import contextlib
import contextvars
import math
import re
from collections import defaultdict

import numpy as np

from chainrule.errors import ConfigError, ShapeError
from chainrule.random import Generator
from chainrule.tensor import Tensor

_name_uids = defaultdict(int)
_weight_budget = contextvars.ContextVar("weight_budget", default=None)


# ---- names ---------------------------------------------------------------------------------------
def unique_name(base):
    """``base`` the first time, then ``base_1``, ``base_2`` ... (Keras's automatic layer names).

    Example: two ``Dense`` layers are named ``"dense"`` and ``"dense_1"``.
    """
    n = _name_uids[base]
    _name_uids[base] += 1
    return base if n == 0 else f"{base}_{n}"


def clear_session():
    """Restart automatic names (the next Dense is ``"dense"`` again), as ``keras.backend.clear_session``.

    Example: ``cr.keras.clear_session()`` at the top of a notebook cell.
    """
    _name_uids.clear()


def snake_case(name):
    """A class name as Keras 3's default name: ``"BatchNormalization"`` → ``"batch_normalization"``,
    ``"Conv2D"`` → ``"conv2d"``, ``"LSTMCell"`` → ``"lstm_cell"`` (a digit never starts a word).

    Example: ``snake_case("MaxPooling2D")`` is ``"max_pooling2d"``.
    """
    name = re.sub(r"\W+", "", name)
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def check_name(name, where):
    """Validate a user-given layer or model name (a non-empty str without '.' or '/').

    Example: ``check_name("encoder", "Dense")`` returns ``"encoder"``.
    """
    if not isinstance(name, str) or not name or "." in name or "/" in name:
        raise ConfigError(f"{where}: expected a non-empty string without '.' or '/' for name. "
                          f"Received: name={name!r}")
    return name


# ---- arguments -----------------------------------------------------------------------------------
def _is_int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def positive_int(value, name, where):
    """*value* as an int if it is a positive integer, else Keras's message as a ConfigError.

    Example: ``positive_int(0, "units", "Dense")`` raises "Dense: expected a positive int for
    units. Received: units=0".
    """
    if not _is_int(value) or value <= 0:
        raise ConfigError(f"{where}: expected a positive int for {name}. Received: "
                          f"{name}={value!r}")
    return int(value)


def non_negative_int(value, name, where):
    """*value* as an int if it is an integer ≥ 0.

    Example: ``non_negative_int(0, "initial_epoch", "fit")`` is 0.
    """
    if not _is_int(value) or value < 0:
        raise ConfigError(f"{where}: expected a non-negative int for {name}. Received: "
                          f"{name}={value!r}")
    return int(value)


def check_float(value, name, where, low=None, high=None, low_open=False, high_open=False):
    """*value* as a float if it is a finite real number within the given bounds.

    Example: ``check_float(0.5, "rate", "Dropout", 0, 1)``; ``check_float(2, "rate",
    "Dropout", 0, 1)`` raises "Dropout: expected a float in [0, 1] for rate. Received: rate=2".
    """
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool) \
        and math.isfinite(value)
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value < high if high_open else value <= high
    if not ok:
        if low is None and high is None:
            what = "a finite float"
        else:
            left = "(" if low_open else "["
            right = ")" if high_open else "]"
            what = (f"a float in {left}{'-inf' if low is None else low}, "
                    f"{'inf' if high is None else high}{right}")
        raise ConfigError(f"{where}: expected {what} for {name}. Received: {name}={value!r}")
    return float(value)


def check_choice(value, name, where, choices):
    """*value* if it is one of *choices*, else a ConfigError listing them.

    Example: ``check_choice("int", "output_mode", "Hashing", ("int", "count"))`` is ``"int"``.
    """
    if value not in choices:
        raise ConfigError(f"{where}: expected one of {tuple(choices)} for {name}. Received: "
                          f"{name}={value!r}")
    return value


def normalize_shape(shape, where, name="shape"):
    """A tuple of non-negative ints and ``None`` from a tuple or list (Keras rejects a bare int).

    Example: ``normalize_shape([None, 3], "Input")`` is ``(None, 3)``.
    """
    if _is_int(shape):
        raise ShapeError(f"{where}: expected a tuple for {name}. Received: {name}={shape!r} "
                         f"(write {name}=({shape},) for a vector)")
    if not isinstance(shape, (tuple, list)):
        raise ShapeError(f"{where}: expected a tuple of ints or None for {name}. "
                         f"Received: {name}={shape!r}")
    out = []
    for d in shape:
        if d is None:
            out.append(None)
        elif _is_int(d) and d >= 0:
            out.append(int(d))
        else:
            raise ShapeError(f"{where}: expected a tuple of non-negative ints or None for {name}. "
                             f"Received: {name}={tuple(shape)!r}")
    return tuple(out)


def normalize_axes(axis, ndim, where):
    """Sorted non-negative axes from an int or a list of ints, checked against *ndim*.

    Example: ``normalize_axes(-1, 3, "UnitNormalization")`` is ``[2]``.
    """
    items = list(axis) if isinstance(axis, (list, tuple)) else [axis]
    out = []
    for a in items:
        if not _is_int(a) or not -ndim <= a < ndim:
            raise ShapeError(f"{where}: invalid axis {axis!r} for inputs of rank {ndim}")
        out.append(int(a) % ndim)
    return sorted(set(out))


def to_tensor(x):
    """A Tensor from a Tensor, NumPy array or number (lists of arrays stay lists, dicts stay dicts).

    Example: ``to_tensor(np.zeros(3))`` is a Tensor; ``to_tensor([a, b])`` a list of Tensors.
    """
    if isinstance(x, Tensor):
        return x
    if isinstance(x, (list, tuple)) and x and all(isinstance(e, (Tensor, np.ndarray)) for e in x):
        return [to_tensor(e) for e in x]
    if isinstance(x, dict):
        return {k: to_tensor(v) for k, v in x.items()}
    if isinstance(x, (np.ndarray, np.generic, int, float, list, tuple)):
        return Tensor(np.asarray(x) if not isinstance(x, np.ndarray) else x)
    return x


# ---- saving and loading --------------------------------------------------------------------------
def generators_of(model):
    """The private random streams in *model*'s modules (``Dropout(seed=...)``), keyed
    ``"<module position>.<attribute>"``: positions, unlike automatic layer names, are the same in
    the same architecture rebuilt in another process. Example: ``{"3._generator": Generator}``."""
    out = {}
    for i, module in enumerate(model.modules()):
        for attr, value in vars(module).items():
            if isinstance(value, Generator):
                out[f"{i}.{attr}"] = value
    return out


@contextlib.contextmanager
def weight_budget(n):
    """While loading a file: layers may create at most *n* weight entries in all (about what the
    file stores), so a hostile config cannot make chainrule allocate huge arrays.

    Example: ``with weight_budget(10_000): model = deserialize_layer(entry)``.
    """
    token = _weight_budget.set([int(n)])
    try:
        yield
    finally:
        _weight_budget.reset(token)


def spend_weight_budget(size, where):
    """Take *size* entries from the loading budget (no-op outside :func:`weight_budget`)."""
    budget = _weight_budget.get()
    if budget is None:
        return
    if size > budget[0]:
        raise ConfigError(f"{where} is larger than the weights the file stores")
    budget[0] -= size
