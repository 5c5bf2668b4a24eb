"""The data adapter: arrays in, batches out, for ``fit`` / ``evaluate`` / ``predict``.

:class:`ArrayData` takes what a user passes as ``x``, ``y`` and ``sample_weight`` and keeps NumPy
arrays with one row per sample: inputs in the model's input order, targets and weights one per
output. Matching data to a functional model's inputs (an array, a list in input order or a dict
by input name) and checking each array's shape is the model graph's job
(:meth:`~chainrule.keras.models.graph.Graph.match` and ``check_input``), the same code a call of
the model runs; this module asks it. It then splits off validation rows (the *last* fraction, as
Keras), turns ``class_weight`` into sample weights, and yields batches in order or shuffled with
``cr.manual_seed``'s generator.

Example::

    >>> data = ArrayData("fit", np.zeros((10, 3)), np.ones(10), None, None, ["output"])
    >>> train, val = data.split(0.2)
    >>> train.n, val.n, train.num_batches(4)
    (8, 2, 2)
"""
import copy
import math

import numpy as np

from chainrule import dtypes
from chainrule.errors import ConfigError, DataError, DTypeError, ShapeError
from chainrule.keras.symbolic import STRING_DTYPE
from chainrule.random import default_generator
from chainrule.tensor import Tensor


def as_array(value, where, what, dtype=None):
    """*value* (array-like or tensor) as a NumPy array with at least one axis, checked.

    Numbers become *dtype* (default: the default float); ``dtype="string"`` keeps text as text.
    NaN or infinite values raise a DataError naming the first row and column. Example:
    ``as_array([[1, 2]], "fit", "x")`` is a float array of shape (1, 2).
    """
    arr = value._data if isinstance(value, Tensor) else np.asarray(value)
    if dtype == STRING_DTYPE:
        if arr.dtype.kind not in "USO":
            raise DTypeError(f"{where}: {what} must hold strings for a string Input, got an "
                             f"array of dtype {arr.dtype}")
        if arr.ndim == 0:
            raise ShapeError(f"{where}: {what} must have one row per sample, got a scalar")
        return arr.astype(str)
    if arr.dtype.kind not in "biuf":
        raise DTypeError(f"{where}: {what} must hold numbers, got an array of dtype {arr.dtype}")
    if arr.ndim == 0:
        raise ShapeError(f"{where}: {what} must have one row per sample, got a scalar")
    arr = arr.astype(dtypes.get_default_dtype() if dtype is None else dtypes.to_dtype(dtype),
                     copy=False)
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        bad = np.argwhere(~np.isfinite(arr))[0]
        kind = "NaN" if np.isnan(arr[tuple(bad)]) else "an infinite value"
        raise DataError(f"{where}: {what} contains {kind} (first at row {bad[0]}"
                        + (f", column {', '.join(map(str, bad[1:]))}" if len(bad) > 1 else "")
                        + "); fill in or drop missing values before training (for tables, "
                          "cr.preprocessing.TabularPreprocessor imputes them)")
    return arr


def spec_per_output(spec, names, where, what):
    """A setting per output: a list in output order, a dict by output name (missing outputs get
    None), or one setting for every output. Example: ``spec_per_output("mse", ["a", "b"], ...)``
    is ``["mse", "mse"]``."""
    if isinstance(spec, dict):
        unknown = [k for k in spec if k not in names]
        if unknown:
            raise ConfigError(f"{where}: {what} has key {unknown[0]!r}, which is not an output "
                              f"name; the outputs are {names}")
        return [spec.get(n) for n in names]
    if isinstance(spec, (list, tuple)):
        if len(spec) != len(names):
            raise ConfigError(f"{where}: {what} has {len(spec)} entries but the model has "
                              f"{len(names)} output{'s' if len(names) > 1 else ''} {names}; give "
                              f"one per output (a list in output order or a dict by name)")
        return list(spec)
    return [spec] * len(names)


def per_output(value, names, where, what):
    """Data (y or sample weights) split per output: from a list in output order, a dict by
    output name, or, for one output, one array."""
    if isinstance(value, dict):
        parts = spec_per_output(value, names, where, what)
        missing = [k for k in names if k not in value]
        if missing:
            raise ConfigError(f"{where}: {what} has no entry for output {missing[0]!r}")
        return parts
    if len(names) == 1:
        return list(value) if is_list_of_arrays(value, 1) else [value]
    if not isinstance(value, (list, tuple)) or len(value) != len(names):
        raise ConfigError(f"{where}: the model has {len(names)} outputs {names}, so {what} must "
                          f"be a list of {len(names)} arrays or a dict keyed by output name; got "
                          f"{type(value).__name__}" + (f" of length {len(value)}" if
                                                       isinstance(value, (list, tuple)) else ""))
    return list(value)


def is_list_of_arrays(value, expected):
    """Whether *value* is a list with one array per input (or output) rather than one array's rows.

    A list is per input when the model has several inputs, or when it holds a single array or
    tensor (``[x]``); a list of numbers or of rows is one array.
    """
    return isinstance(value, (list, tuple)) and (
        expected > 1 or (len(value) == 1 and isinstance(value[0], (np.ndarray, Tensor))))


def unpack_validation(validation_data):
    """``(x_val, y_val)`` or ``(x_val, y_val, sample_weight_val)`` from fit's validation_data."""
    if isinstance(validation_data, (tuple, list)) and len(validation_data) in (2, 3):
        return tuple(validation_data)
    raise ConfigError("fit: validation_data must be a tuple (x_val, y_val) or (x_val, y_val, "
                      f"sample_weight_val), got {type(validation_data).__name__}"
                      + (f" of length {len(validation_data)}"
                         if isinstance(validation_data, (tuple, list)) else ""))


class ArrayData:
    """Inputs, targets and sample weights as NumPy arrays with one row per sample, in batches."""

    def __init__(self, where, x, y, sample_weight, graph, output_names, input_names=None):
        if x is None:
            raise ConfigError(f"{where}: x is required (the input data)")
        self.where = where
        self.keys = None
        if graph is not None:          # a functional or Sequential model: its graph matches x
            items = graph.match(x, where)
            names = graph.input_names
            self.xs = []
            for i, (item, t) in enumerate(zip(items, graph.inputs)):
                what = "x" if len(items) == 1 else \
                    f"x[{names[i]!r}]" if isinstance(x, dict) else f"x[{i}]"
                arr = as_array(item, where, what, t.dtype)
                graph.check_input(i, arr.shape, where, what, check_batch=False)
                self.xs.append(arr)
        else:                          # a subclassed model: a dict, a list or one array
            if isinstance(x, dict):
                self.keys = list(x)
                xs = [x[k] for k in self.keys]
            elif is_list_of_arrays(x, len(input_names or ())):
                xs = list(x)
                if input_names and len(xs) != len(input_names):
                    raise ShapeError(f"{where}: the model has {len(input_names)} inputs "
                                     f"{input_names}; x is a list of {len(xs)}")
            else:
                xs = [x]
            self.xs = [as_array(v, where, "x" if len(xs) == 1 else f"x[{k!r}]")
                       for k, v in zip(self.keys or range(len(xs)), xs)]
        self.ys = None if y is None else [
            as_array(v, where, "y" if len(output_names) == 1 else f"y for output {name!r}")
            for v, name in zip(per_output(y, output_names, where, "y"), output_names)]
        self.sws = None
        if sample_weight is not None:
            if len(output_names) > 1 and isinstance(sample_weight, (list, tuple, dict)):
                parts = per_output(sample_weight, output_names, where, "sample_weight")
            else:
                parts = [sample_weight] * len(output_names)
            self.sws = [as_array(w, where, "sample_weight") for w in parts]
            if any(w.ndim > 2 or (w.ndim == 2 and w.shape[1] != 1) for w in self.sws):
                raise ShapeError(f"{where}: sample_weight must hold one weight per sample, got "
                                 f"shape {self.sws[0].shape}")
        self.n = self._check_lengths()

    def _check_lengths(self):
        lengths = [len(a) for a in self.xs]
        if len(set(lengths)) > 1:
            raise DataError(f"{self.where}: all inputs must have the same number of samples, "
                            f"got {lengths}")
        n = lengths[0]
        for name, arrays in (("y", self.ys), ("sample_weight", self.sws)):
            for a in arrays or ():
                if len(a) != n:
                    raise DataError(f"{self.where}: x and {name} must have the same number of "
                                    f"samples, but x has {n} and {name} has {len(a)}")
        if n == 0:
            raise DataError(f"{self.where}: the data is empty (0 samples)")
        return n

    # ---- splitting and weighting ---------------------------------------------------------------
    def split(self, fraction):
        """(training, validation): the validation part is the last *fraction* of the rows."""
        split_at = int(math.floor(self.n * (1.0 - fraction)))
        if split_at == 0 or split_at == self.n:
            raise DataError(f"fit: training data contains {self.n} samples, which is not "
                            f"sufficient to split it into a validation and training set as "
                            f"specified by validation_split={fraction}; provide more data or "
                            f"a different validation_split")
        return self._take(slice(0, split_at)), self._take(slice(split_at, None))

    def _take(self, rows):
        part = copy.copy(self)
        part.xs = [a[rows] for a in self.xs]
        part.ys = None if self.ys is None else [a[rows] for a in self.ys]
        part.sws = None if self.sws is None else [a[rows] for a in self.sws]
        part.n = len(part.xs[0])
        return part

    def apply_class_weight(self, class_weight):
        """Set sample weights from *class_weight* ``{class: weight}`` and the labels (Keras 3)."""
        if not isinstance(class_weight, dict):
            raise ConfigError(f"fit: class_weight must be a dict {{class: weight}}, got "
                              f"{type(class_weight).__name__}")
        if self.ys is None or len(self.ys) != 1:
            raise ConfigError("fit: class_weight is only supported for models with a single "
                              "output (use sample_weight per output instead)")
        weights = {}
        for k, w in class_weight.items():
            if isinstance(k, bool) or not (isinstance(k, (int, np.integer)) or
                                           isinstance(k, float) and k.is_integer()):
                raise ConfigError(f"fit: class_weight keys must be integer class indices, got "
                                  f"{k!r}")
            if isinstance(w, bool) or not isinstance(w, (int, float, np.number)) or w < 0:
                raise ConfigError(f"fit: class_weight values must be non-negative numbers, got "
                                  f"{w!r} for class {k}")
            weights[int(k)] = float(w)
        y = self.ys[0]
        if y.ndim > 1:
            y = y.argmax(axis=-1) if y.shape[-1] != 1 else y[..., 0]
        labels = np.round(y).astype(np.int64).reshape(len(y), -1)[:, 0]
        sw = np.ones(len(labels), dtype=dtypes.get_default_dtype())
        for c, w in weights.items():
            sw[labels == c] = w
        self.sws = [sw]

    # ---- batches ----------------------------------------------------------------------------
    def num_batches(self, batch_size):
        return -(-self.n // batch_size)

    def epoch_batches(self, batch_size, shuffle):
        """The batches of one pass: (x structure of tensors, y arrays or None, weights or None)."""
        starts = range(0, self.n, batch_size)
        if shuffle is True:
            order = default_generator.rng.permutation(self.n)
            return (self.batch(order[i:i + batch_size]) for i in starts)
        if shuffle == "batch":
            starts = [starts[i] for i in default_generator.rng.permutation(len(starts))]
        return (self.batch(slice(i, i + batch_size)) for i in starts)

    def batch_stream(self, batch_size, shuffle):
        """Batches without end, a fresh pass (reshuffled) each time the data is used up."""
        while True:
            yield from self.epoch_batches(batch_size, shuffle)

    def batch(self, rows):
        xs = [Tensor(a[rows]) for a in self.xs]
        if self.keys is not None:
            x = dict(zip(self.keys, xs))
        else:
            x = xs if len(xs) > 1 else xs[0]
        ys = None if self.ys is None else [a[rows] for a in self.ys]
        sws = None if self.sws is None else [a[rows] for a in self.sws]
        return x, ys, sws
