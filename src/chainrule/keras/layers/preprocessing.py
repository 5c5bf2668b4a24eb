"""Preprocessing layers that travel with the model: ``Normalization``, ``CategoryEncoding``,
``IntegerLookup``.

Their state (a feature's mean and variance, a vocabulary) is learnt from training data with
``adapt(data)`` before training, and is saved with the model, so a loaded model takes raw data.

- ``Normalization`` maps x to ``(x - mean) / max(sqrt(variance), 1e-7)`` per feature of *axis*,
  with the population (biased) variance that ``adapt`` measures (Keras 3's formula).
- ``CategoryEncoding(num_tokens)`` turns integer codes in ``[0, num_tokens)`` into one-hot,
  multi-hot or count vectors.
- ``IntegerLookup`` maps arbitrary integer codes to contiguous indices (index 0 for unknown codes
  by default) and can output one-hot vectors directly.

Example::

    >>> norm = cr.layers.Normalization()
    >>> norm.adapt(np.array([[0.0, 10.0], [2.0, 30.0]]))
    >>> norm(np.array([[1.0, 20.0]]))
    tensor([[0., 0.]])
"""
from collections import Counter

import numpy as np

from chainrule.errors import (ConfigError, DataError, DTypeError, IndexOutOfRangeError, LabelError,
                              ShapeError)
from chainrule.grad_mode import no_grad
from chainrule.keras.layers.base import Layer, positive_int
from chainrule.keras.layers.registry import serializable
from chainrule.keras.symbolic import shape_repr
from chainrule.tensor import Tensor

EPSILON = 1e-7  # keras.backend.epsilon()


def _batches(data, where):
    """Yield NumPy arrays from *data*: an array-like (one batch) or an iterable of batches."""
    if isinstance(data, Tensor):
        yield data.detach().data
        return
    if isinstance(data, (list, tuple)) and data and \
            all(isinstance(b, (np.ndarray, Tensor)) for b in data):
        data = iter(data)  # a list of arrays: one batch each
    elif isinstance(data, (np.ndarray, list, tuple)) or np.isscalar(data):
        yield np.asarray(data)
        return
    try:
        iterator = iter(data)
    except TypeError:
        raise DTypeError(f"{where}: expected an array, a tensor or an iterable of batches for "
                         "data. "
                         f"Received: {type(data).__name__}") from None
    for batch in iterator:
        if isinstance(batch, (tuple, list)) and len(batch) == 2 \
                and all(isinstance(b, (np.ndarray, Tensor)) for b in batch):
            batch = batch[0]  # (features, labels) pairs from a DataLoader: adapt to the features
        yield np.asarray(batch.detach().data if isinstance(batch, Tensor) else batch)


@serializable()
class Normalization(Layer):
    """Standardises features: ``(x - mean) / max(sqrt(variance), 1e-7)``, per feature of *axis*.

    Give *mean* and *variance* (scalars or arrays over the *axis* features) or call
    ``adapt(data)`` to measure them (population variance). *axis* (default -1, the features of
    tabular data) may be a tuple of axes or None for one scalar mean; ``invert=True`` undoes a
    normalisation. Adapted statistics are non-trainable weights ``mean``, ``variance`` and
    ``count``, saved with the model. Example::

        >>> X_train = cr.datasets.load_heart_disease().data[:200, [0, 3, 4, 7]]   # age … thalach
        >>> norm = cr.layers.Normalization()
        >>> norm.adapt(X_train)
        >>> inputs = cr.layers.Input((4,)); h = norm(inputs)
        >>> norm(X_train).mean(dim=0).abs().max().item() < 1e-5
        True
    """

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, **kwargs):
        super().__init__(**kwargs)
        if axis is None:
            axis = ()
        elif isinstance(axis, (int, np.integer)) and not isinstance(axis, bool):
            axis = (int(axis),)
        elif isinstance(axis, (tuple, list)) and all(
                isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in axis):
            axis = tuple(int(a) for a in axis)
        else:
            raise ConfigError(f"Normalization: expected an int, a tuple of ints or None for axis. "
                              f"Received: axis={axis!r}")
        self.axis = axis
        if (mean is None) != (variance is None):
            raise ConfigError(f"Normalization: when setting values directly, both `mean` and "
                              f"`variance` must be set. Received: mean={mean!r} and "
                              f"variance={variance!r}")
        self.input_mean = None if mean is None else np.asarray(mean, dtype=np.float64)
        self.input_variance = None if variance is None else np.asarray(variance, dtype=np.float64)
        if self.input_variance is not None and (self.input_variance < 0).any():
            raise ConfigError("Normalization: variance must be non-negative")
        self.invert = bool(invert)

    def build(self, input_shape):
        ndim = len(input_shape)
        where = f"Normalization '{self.name}'"
        keep = []
        for a in self.axis:
            if not -ndim <= a < ndim:
                raise IndexOutOfRangeError(f"{where}: axis {a} is out of range for inputs of rank "
                                           f"{ndim} "
                                           f"(input_shape={shape_repr(tuple(input_shape))})")
            keep.append(a % ndim)
        if ndim > 0 and 0 in keep and ndim > 1:
            raise ConfigError(f"{where}: the batch axis 0 cannot be kept. Received: "
                              f"axis={self.axis}")
        self._keep = tuple(sorted(set(keep)))
        self._ndim = ndim
        stat_shape = tuple(input_shape[a] for a in self._keep)
        if None in stat_shape:
            raise ShapeError(f"{where}: all `axis` values to be kept must have a known shape. "
                             f"Received: input_shape={shape_repr(tuple(input_shape))}")
        self._stat_shape = stat_shape
        self._bshape = tuple(input_shape[a] if a in self._keep else 1 for a in range(ndim))
        if self.input_mean is None:
            self.add_weight("mean", stat_shape, "zeros", trainable=False)
            self.add_weight("variance", stat_shape, "ones", trainable=False)
            self.add_weight("count", (), "zeros", dtype="int64", trainable=False)
        else:
            try:
                self._const_mean = np.broadcast_to(self.input_mean, stat_shape).astype(self._dtype)
                self._const_var = np.broadcast_to(self.input_variance, stat_shape).astype(self._dtype)
            except ValueError:
                raise ShapeError(f"{where}: mean of shape {self.input_mean.shape} and variance of "
                                 f"shape {self.input_variance.shape} do not fit the {stat_shape} "
                                 f"features of inputs {shape_repr(tuple(input_shape))}") from None

    def _stats(self):
        if self.input_mean is not None:
            return self._const_mean, self._const_var
        return self.mean.data, self.variance.data

    def adapt(self, data, batch_size=None, steps=None):
        """Measure the mean and (population) variance of *data* per kept feature, replacing any
        previous statistics.

        *data* is an array or tensor of samples, or an iterable of batches (a DataLoader's
        ``(x, y)`` batches adapt to ``x``). Example: ``norm.adapt(X_train)``.
        """
        if self.input_mean is not None:
            raise ConfigError(f"Normalization '{self.name}': cannot adapt a layer that was given "
                              f"mean and variance")
        count, mean, m2, rows = 0, None, None, 0
        for i, batch in enumerate(_batches(data, f"Normalization '{self.name}'.adapt")):
            if steps is not None and i >= steps:
                break
            if batch.dtype.kind not in "biuf":
                raise DTypeError(f"Normalization '{self.name}'.adapt: expected numeric data, "
                                 f"received dtype {batch.dtype}")
            if batch.ndim == 0:
                batch = batch.reshape(1)
            if batch.ndim == 1 and self.axis not in ((), (0,)):
                batch = batch[:, None]
            self._build_once((None,) + tuple(batch.shape[1:]))
            if batch.ndim != self._ndim or any(batch.shape[a] != self._bshape[a] for a in self._keep):
                raise ShapeError(f"Normalization '{self.name}'.adapt: data of shape {batch.shape} "
                                 f"does not fit the layer, built for {self._stat_shape} features on "
                                 f"axes {list(self._keep)}")
            b = batch.astype(np.float64)
            if not np.isfinite(b).all():
                bad = np.argwhere(~np.isfinite(b))[0]
                kind = "NaN" if np.isnan(b[tuple(bad)]) else "an infinite value"
                where = f"row {rows + bad[0]}" + (f", column {', '.join(map(str, bad[1:]))}"
                                                  if len(bad) > 1 else "")
                raise DataError(f"Normalization '{self.name}'.adapt: the data contains {kind} "
                                f"(first at {where}); fill in or drop missing values first (the "
                                f"layer's statistics are unchanged)")
            rows += len(b)
            reduce = tuple(a for a in range(b.ndim) if a not in self._keep)
            n = b.size // max(int(np.prod(self._stat_shape)), 1) if b.size else 0
            if n == 0:
                continue
            bmean = b.mean(axis=reduce).reshape(self._stat_shape)
            bm2 = ((b - bmean.reshape(self._bshape)) ** 2).sum(axis=reduce).reshape(self._stat_shape)
            if count == 0:
                count, mean, m2 = n, bmean, bm2
            else:  # Chan et al.'s parallel update
                total = count + n
                delta = bmean - mean
                mean = mean + delta * (n / total)
                m2 = m2 + bm2 + delta ** 2 * (count * n / total)
                count = total
        if count == 0:
            raise DataError(f"Normalization '{self.name}'.adapt: the data is empty")
        with no_grad():
            self.mean.data[...] = mean
            self.variance.data[...] = m2 / count
            self.count.data[...] = count
            for w in (self.mean, self.variance, self.count):
                w._vc[0] += 1

    def forward(self, inputs):
        x = inputs
        dtype = self.mean.dtype if self.input_mean is None else self._dtype
        if x.dtype != dtype:
            x = x.to(dtype)
        if x.ndim != self._ndim or any(x.shape[a] != self._bshape[a] for a in self._keep):
            raise ShapeError(f"Input 0 of layer \"{self.name}\" is incompatible with the layer: "
                             f"expected {self._stat_shape} features on axes {list(self._keep)}, "
                             f"received input with shape {shape_repr(tuple(x.shape))}")
        mean, var = self._stats()
        mean_t = Tensor(mean.reshape(self._bshape).astype(dtype))
        scale = Tensor(np.maximum(np.sqrt(var.astype(np.float64)), EPSILON)
                       .reshape(self._bshape).astype(dtype))
        if self.invert:
            return mean_t + x * scale
        return (x - mean_t) / scale

    def compute_output_shape(self, input_shape):
        return input_shape

    def compute_output_dtype(self, input_dtype):
        return self._dtype.name

    def get_config(self):
        axis = None if self.axis == () else (self.axis[0] if len(self.axis) == 1 else list(self.axis))
        return {**super().get_config(), "axis": axis,
                "mean": None if self.input_mean is None else self.input_mean.tolist(),
                "variance": None if self.input_variance is None else self.input_variance.tolist(),
                "invert": self.invert}


_MODES = ("one_hot", "multi_hot", "count")


def _integer_codes(x, where):
    """The integer array behind tensor *x*; float inputs must hold whole numbers."""
    a = x.data if isinstance(x, Tensor) else np.asarray(x)
    if a.dtype.kind in "iub":
        return a.astype(np.int64)
    if a.dtype.kind == "f":
        if not np.isfinite(a).all() or (a != np.round(a)).any():
            bad = float(a[~np.isfinite(a) | (a != np.round(a))].ravel()[0])
            raise DataError(f"{where}: expected integer codes, received the value {bad!r}")
        return a.astype(np.int64)
    raise DTypeError(f"{where}: expected integer inputs, received dtype {a.dtype}")


def _encode(codes, depth, mode, dtype):
    """One-hot / multi-hot / count vectors of *depth* for the int array *codes*."""
    if mode == "one_hot":
        if codes.ndim >= 2 and codes.shape[-1] == 1:
            codes = codes[..., 0]
        out = np.zeros(codes.shape + (depth,), dtype=dtype)
        np.put_along_axis(out, codes[..., None], 1, axis=-1)
        return out
    if codes.ndim <= 1:
        codes = codes.reshape(-1, 1)  # a vector of codes: one code per sample
    flat = codes.reshape(-1, codes.shape[-1])
    out = np.zeros((flat.shape[0], depth), dtype=dtype)
    rows = np.repeat(np.arange(flat.shape[0]), flat.shape[1])
    np.add.at(out, (rows, flat.ravel()), 1)
    if mode == "multi_hot":
        np.minimum(out, 1, out=out)
    return out.reshape(codes.shape[:-1] + (depth,))


def _encoded_shape(input_shape, depth, mode):
    shape = tuple(input_shape)
    if mode == "one_hot":
        if len(shape) >= 2 and shape[-1] == 1:
            shape = shape[:-1]
        return shape + (depth,)
    if len(shape) <= 1:
        return shape + (depth,)
    return shape[:-1] + (depth,)


@serializable()
class CategoryEncoding(Layer):
    """Encodes integer codes in ``[0, num_tokens)`` as one-hot, multi-hot or count vectors.

    ``output_mode="one_hot"`` encodes every code (a trailing axis of size 1 is replaced);
    ``"multi_hot"`` (Keras's default) and ``"count"`` encode each sample's codes along the last
    axis into one vector (a vector of codes counts as one code per sample). Codes outside the range
    raise ``ValueError``. Example::

        >>> cr.layers.CategoryEncoding(num_tokens=4, output_mode="one_hot")(np.array([3, 0]))
        tensor([[0., 0., 0., 1.],
                [1., 0., 0., 0.]])
    """

    _autocast = False

    def __init__(self, num_tokens=None, output_mode="multi_hot", **kwargs):
        super().__init__(**kwargs)
        self.num_tokens = positive_int(num_tokens, "num_tokens", "CategoryEncoding")
        if output_mode not in _MODES:
            raise ConfigError(f"CategoryEncoding: expected one of {_MODES} for output_mode. "
                              f"Received: output_mode={output_mode!r}")
        self.output_mode = output_mode

    def forward(self, inputs):
        where = f"CategoryEncoding '{self.name}'"
        codes = _integer_codes(inputs, where)
        if codes.size and (codes.min() < 0 or codes.max() >= self.num_tokens):
            bad = codes.min() if codes.min() < 0 else codes.max()
            raise LabelError(f"{where}: input values must be in the range 0 <= values < "
                             f"num_tokens with num_tokens={self.num_tokens}. Received: {int(bad)}")
        return Tensor(_encode(codes, self.num_tokens, self.output_mode, self._dtype))

    def compute_output_shape(self, input_shape):
        return _encoded_shape(input_shape, self.num_tokens, self.output_mode)

    def compute_output_dtype(self, input_dtype):
        return self._dtype.name

    def get_config(self):
        return {**super().get_config(), "num_tokens": self.num_tokens,
                "output_mode": self.output_mode}


@serializable()
class IntegerLookup(Layer):
    """Maps integer codes to contiguous indices through a vocabulary, optionally one-hot encoded.

    Indices (Keras's layout): the *mask_token* (if given) is 0, then *num_oov_indices* indices for
    codes not in the vocabulary (a code's OOV index is ``code mod num_oov_indices``), then the
    vocabulary in order. ``adapt(data)`` builds the vocabulary from the codes seen, most frequent
    first (ties: smaller code first), at most ``max_tokens`` indices in all.
    ``output_mode`` is "int" (the indices, int64), "one_hot", "multi_hot" or "count" (vectors of
    ``vocabulary_size()``). The vocabulary is part of the layer's config, so it is saved with the
    model. Example::

        >>> lookup = cr.layers.IntegerLookup(output_mode="one_hot")
        >>> lookup.adapt(np.array([3, 6, 7, 3]))
        >>> lookup.get_vocabulary()
        [-1, 3, 6, 7]
        >>> lookup(np.array([7, 9]))
        tensor([[0., 0., 0., 1.],
                [1., 0., 0., 0.]])
    """

    _autocast = False

    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None, oov_token=-1,
                 vocabulary=None, vocabulary_dtype="int64", output_mode="int", **kwargs):
        super().__init__(**kwargs)
        where = "IntegerLookup"
        if max_tokens is not None:
            max_tokens = positive_int(max_tokens, "max_tokens", where)
        if isinstance(num_oov_indices, bool) or not isinstance(num_oov_indices, (int, np.integer)) \
                or num_oov_indices < 0:
            raise ConfigError(f"{where}: expected a non-negative int for num_oov_indices. "
                              f"Received: num_oov_indices={num_oov_indices!r}")
        for name, value in (("mask_token", mask_token), ("oov_token", oov_token)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer))):
                raise ConfigError(f"{where}: expected an int or None for {name}. "
                                  f"Received: {name}={value!r}")
        if vocabulary_dtype not in ("int64", "int32"):
            raise ConfigError(f"{where}: expected 'int64' or 'int32' for vocabulary_dtype. "
                              f"Received: vocabulary_dtype={vocabulary_dtype!r}")
        if output_mode not in ("int",) + _MODES:
            raise ConfigError(f"{where}: expected one of {('int',) + _MODES} for output_mode. "
                              f"Received: output_mode={output_mode!r}")
        self.max_tokens = max_tokens
        self.num_oov_indices = int(num_oov_indices)
        self.mask_token = None if mask_token is None else int(mask_token)
        self.oov_token = None if oov_token is None else int(oov_token)
        self.vocabulary_dtype = vocabulary_dtype
        self.output_mode = output_mode
        self._special = self.num_oov_indices + (self.mask_token is not None)
        if max_tokens is not None and max_tokens <= self._special:
            raise ConfigError(f"{where}: max_tokens must leave room for vocabulary after the "
                              f"{self._special} mask/OOV indices. Received: "
                              f"max_tokens={max_tokens}")
        self._vocab = None
        if vocabulary is not None:
            self.set_vocabulary(vocabulary)

    def set_vocabulary(self, vocabulary):
        """Use *vocabulary* (distinct ints, without the mask token) from now on.

        Example: ``lookup.set_vocabulary([3, 6, 7])``.
        """
        where = f"IntegerLookup '{self.name}'"
        arr = np.asarray(vocabulary.data if isinstance(vocabulary, Tensor) else vocabulary)
        if arr.ndim != 1 or (arr.size and arr.dtype.kind not in "iu"):
            raise ConfigError(f"{where}: expected a flat list of ints for vocabulary. "
                              f"Received: {vocabulary!r}")
        vocab = [int(v) for v in arr]
        if len(set(vocab)) != len(vocab):
            dup = next(v for v in vocab if vocab.count(v) > 1)
            raise ConfigError(f"{where}: the vocabulary must not contain repeated tokens. "
                              f"Received a repeated token: {dup}")
        if self.mask_token is not None and self.mask_token in vocab:
            raise ConfigError(f"{where}: the vocabulary must not contain the mask token "
                              f"{self.mask_token}")
        if self.max_tokens is not None and len(vocab) + self._special > self.max_tokens:
            raise ConfigError(f"{where}: a vocabulary of {len(vocab)} tokens does not fit "
                              f"max_tokens={self.max_tokens}")
        self._vocab = vocab
        arr = np.asarray(vocab, dtype=np.int64)
        self._order = np.argsort(arr, kind="stable")
        self._sorted = arr[self._order]

    def adapt(self, data, batch_size=None, steps=None):
        """Build the vocabulary from the codes in *data*, most frequent first (replacing any).

        Example: ``lookup.adapt(X_train[:, 2])``.
        """
        where = f"IntegerLookup '{self.name}'.adapt"
        counts = Counter()
        for i, batch in enumerate(_batches(data, where)):
            if steps is not None and i >= steps:
                break
            codes = _integer_codes(batch, where).ravel()
            values, n = np.unique(codes, return_counts=True)
            counts.update(dict(zip(values.tolist(), n.tolist())))
        counts.pop(self.mask_token, None)
        vocab = sorted(counts, key=lambda v: (-counts[v], v))
        if self.max_tokens is not None:
            vocab = vocab[:self.max_tokens - self._special]
        self.set_vocabulary(vocab)

    def get_vocabulary(self, include_special_tokens=True):
        """The tokens by index: [mask], the OOV token(s), then the vocabulary."""
        vocab = list(self._vocab or [])
        if not include_special_tokens:
            return vocab
        special = [self.mask_token] if self.mask_token is not None else []
        return special + [self.oov_token] * self.num_oov_indices + vocab

    def vocabulary_size(self):
        """The number of indices: mask, OOV indices and vocabulary together."""
        return self._special + len(self._vocab or [])

    def _lookup(self, codes):
        where = f"IntegerLookup '{self.name}'"
        if self._vocab is None:
            raise ConfigError(f"{where}: the layer has no vocabulary yet; call adapt(data) or pass "
                              f"vocabulary=[...] first")
        offset = int(self.mask_token is not None)
        found = np.zeros(codes.shape, dtype=bool)
        index = np.zeros(codes.shape, dtype=np.int64)
        if self._sorted.size:
            pos = np.minimum(np.searchsorted(self._sorted, codes), self._sorted.size - 1)
            found = self._sorted[pos] == codes
            index = self._order[pos] + self._special
        masked = (codes == self.mask_token) if offset else np.zeros(codes.shape, dtype=bool)
        unknown = ~found & ~masked
        if unknown.any():
            if self.num_oov_indices == 0:
                raise DataError(f"{where}: the code {int(codes[unknown].ravel()[0])} is not in the "
                                f"vocabulary and num_oov_indices=0")
            index = np.where(unknown, offset + np.mod(codes, self.num_oov_indices), index)
        return np.where(masked, 0, index).astype(np.int64)

    def forward(self, inputs):
        codes = _integer_codes(inputs, f"IntegerLookup '{self.name}'")
        indices = self._lookup(codes)
        if self.output_mode == "int":
            return Tensor(indices.astype(self.vocabulary_dtype))
        return Tensor(_encode(indices, self.vocabulary_size(), self.output_mode, self._dtype))

    def compute_output_shape(self, input_shape):
        if self.output_mode == "int":
            return tuple(input_shape)
        if self._vocab is None:
            raise ConfigError(f"IntegerLookup '{self.name}': call adapt(data) or pass vocabulary "
                              f"before using output_mode='{self.output_mode}' in a model (the "
                              f"output size is the vocabulary size)")
        return _encoded_shape(input_shape, self.vocabulary_size(), self.output_mode)

    def compute_output_dtype(self, input_dtype):
        return self.vocabulary_dtype if self.output_mode == "int" else self._dtype.name

    def get_config(self):
        return {**super().get_config(), "max_tokens": self.max_tokens,
                "num_oov_indices": self.num_oov_indices, "mask_token": self.mask_token,
                "oov_token": self.oov_token,
                "vocabulary": None if self._vocab is None else list(self._vocab),
                "vocabulary_dtype": self.vocabulary_dtype, "output_mode": self.output_mode}

