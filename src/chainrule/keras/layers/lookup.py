"""``IntegerLookup`` and ``StringLookup``: map tokens (integers or strings) to indices by a vocabulary.

Both are Keras 3's ``IndexLookup`` with its layout of indices:

* ``output_mode="int"``: the *mask_token* (if given) is index 0, then come *num_oov_indices*
  indices for tokens not in the vocabulary, then the vocabulary in order;
* other modes (``"one_hot"``, ``"multi_hot"``, ``"count"``): the OOV indices come first and the
  mask token is not indexed: masked inputs are dropped (they add nothing to the vectors).

A token out of the vocabulary goes to the one OOV index, or, with several, to
``token mod num_oov_indices`` (integers) or ``Fingerprint64(token) mod num_oov_indices``
(strings, as TensorFlow). ``adapt(data)`` builds the vocabulary from the tokens seen, most
frequent first, ties broken by the larger token first (Keras's ``np.lexsort`` order), at most
``max_tokens`` indices in all. ``invert=True`` maps indices back to tokens. The vocabulary is part
of the layer's config, so it is saved with the model.

Example::

    >>> lookup = cr.layers.StringLookup()
    >>> lookup.adapt(np.array(["a", "c", "d", "a"]))
    >>> lookup.get_vocabulary()
    ['[UNK]', 'a', 'd', 'c']
    >>> lookup(np.array([["a"], ["x"]]))
    tensor([[1],
            [0]])
"""
from collections import Counter

import numpy as np

from chainrule.errors import ConfigError, DataError, DTypeError
from chainrule.keras.layers.base import Layer
from chainrule.keras.layers.category_encoding import MODES, encode, encoded_shape, integer_codes
from chainrule.keras.layers.hashing import as_text, hash_to_bins
from chainrule.keras.layers.preprocessing import batches
from chainrule.keras.layers.registry import serializable
from chainrule.keras.symbolic import STRING_DTYPE
from chainrule.keras.utils import check_choice, positive_int
from chainrule.tensor import Tensor


class IndexLookup(Layer):
    """The shared machinery of ``IntegerLookup`` and ``StringLookup`` (see the module docstring).

    Subclasses say how inputs become tokens (``_tokens``) and how a token is written (``_token``).
    """

    _single_input = True
    _autocast = False

    def __init__(self, max_tokens, num_oov_indices, mask_token, oov_token, vocabulary,
                 idf_weights, invert, output_mode, pad_to_max_tokens, sparse, **kwargs):
        super().__init__(**kwargs)
        where = type(self).__name__
        if max_tokens is not None:
            max_tokens = positive_int(max_tokens, "max_tokens", where)
        if isinstance(num_oov_indices, bool) or not isinstance(num_oov_indices, (int, np.integer)) \
                or num_oov_indices < 0:
            raise ConfigError(f"{where}: `num_oov_indices` must be greater than or equal to 0. "
                              f"Received: num_oov_indices={num_oov_indices!r}")
        check_choice(output_mode, "output_mode", where, ("int",) + MODES + ("tf_idf",))
        if output_mode == "tf_idf" or idf_weights is not None:
            raise ConfigError(f"{where}: output_mode='tf_idf' (and idf_weights) is not supported; "
                              f"use 'count', 'multi_hot' or 'one_hot'")
        if sparse:
            raise ConfigError(f"{where}: sparse=True is not supported (chainrule has dense "
                              f"tensors only)")
        if invert and output_mode != "int":
            raise ConfigError(f"{where}: `output_mode` must be 'int' when `invert` is true. "
                              f"Received: output_mode={output_mode!r}")
        if pad_to_max_tokens and max_tokens is None:
            raise ConfigError(f"{where}: if pad_to_max_tokens is True, must set `max_tokens`.")
        self.max_tokens, self.num_oov_indices = max_tokens, int(num_oov_indices)
        self.mask_token = None if mask_token is None else self._token(mask_token, "mask_token")
        self.oov_token = None if oov_token is None else self._token(oov_token, "oov_token")
        self.invert, self.output_mode = bool(invert), output_mode
        self.pad_to_max_tokens, self.sparse, self.idf_weights = bool(pad_to_max_tokens), False, None
        self._oov_start = 1 if self.mask_token is not None and output_mode == "int" else 0
        self._token_start = self._oov_start + self.num_oov_indices
        if max_tokens is not None and max_tokens <= self._token_start:
            raise ConfigError(f"{where}: max_tokens must leave room for vocabulary after the "
                              f"{self._token_start} mask/OOV indices. Received: "
                              f"max_tokens={max_tokens}")
        self._vocab = None
        if vocabulary is not None:
            self.set_vocabulary(vocabulary)

    # ---- the vocabulary ------------------------------------------------------------------------
    def set_vocabulary(self, vocabulary, idf_weights=None):
        """Use *vocabulary* (distinct tokens; the mask and OOV tokens may lead it, in that order)
        from now on. Example: ``lookup.set_vocabulary(["a", "b"])``."""
        where = f"{type(self).__name__} '{self.name}'"
        if idf_weights is not None:
            raise ConfigError(f"{where}: idf_weights (tf_idf) is not supported")
        raw = vocabulary._data if isinstance(vocabulary, Tensor) else vocabulary
        if isinstance(raw, np.ndarray):
            raw = raw.tolist()
        if not isinstance(raw, (list, tuple)) or any(isinstance(t, (list, tuple)) for t in raw):
            raise ConfigError(f"{where}: expected a flat list of tokens for vocabulary. "
                              f"Received: {vocabulary!r}"[:300])
        tokens = [self._token(t, "vocabulary") for t in raw]
        special = [self.mask_token] * self._oov_start + [self.oov_token] * self.num_oov_indices
        if special and tokens[:len(special)] == special:
            tokens = tokens[len(special):]
        repeated = sorted({t for t, c in Counter(tokens).items() if c > 1}, key=str)
        if repeated:
            raise ConfigError(f"{where}: the passed vocabulary has at least one repeated term. "
                              f"Please uniquify your dataset. The repeated terms are {repeated}")
        if self.mask_token is not None and self.mask_token in tokens:
            raise ConfigError(f"{where}: found reserved mask token {self.mask_token!r} at an "
                              f"unexpected location in `vocabulary`; remove it, or include the "
                              f"special tokens only at the start, in this order: {special}")
        if self.invert and self.oov_token is not None and self.oov_token in tokens:
            raise ConfigError(f"{where}: found reserved OOV token {self.oov_token!r} in "
                              f"`vocabulary`")
        if self.max_tokens is not None and len(tokens) + self._token_start > self.max_tokens:
            raise ConfigError(f"{where}: a vocabulary of {len(tokens)} tokens does not fit "
                              f"max_tokens={self.max_tokens}")
        self._vocab = tokens
        self._index = {t: i + self._token_start for i, t in enumerate(tokens)}

    def adapt(self, data, batch_size=None, steps=None):
        """Build the vocabulary from the tokens in *data*, most frequent first (replacing any).

        Example: ``lookup.adapt(X_train[:, 2])``.
        """
        where = f"{type(self).__name__} '{self.name}'.adapt"
        counts = Counter()
        for i, batch in enumerate(batches(data, where)):
            if steps is not None and i >= steps:
                break
            values, n = np.unique(self._tokens(batch, where).ravel(), return_counts=True)
            counts.update(dict(zip(values.tolist(), n.tolist())))
        for special in (self.mask_token, self.oov_token):
            counts.pop(special, None)
        tokens = list(counts)
        order = np.lexsort((np.array(tokens), np.array([counts[t] for t in tokens])))[::-1] \
            if tokens else []
        vocab = [tokens[i] for i in order]
        if self.max_tokens is not None:
            vocab = vocab[:self.max_tokens - self._token_start]
        self.set_vocabulary(vocab)

    def get_vocabulary(self, include_special_tokens=True):
        """The tokens by index: the special tokens (mask, OOV) then the vocabulary."""
        vocab = list(self._vocab or [])
        if not include_special_tokens:
            return vocab
        special = [self.mask_token] * self._oov_start + [self.oov_token] * self.num_oov_indices
        return special + vocab

    def vocabulary_size(self):
        """The number of indices: special indices and vocabulary together."""
        return self._token_start + len(self._vocab or [])

    def _depth(self):
        return self.max_tokens if self.pad_to_max_tokens else self.vocabulary_size()

    def _require_vocabulary(self):
        if self._vocab is None:
            raise ConfigError(f"{type(self).__name__} '{self.name}': the layer has no vocabulary "
                              f"yet; call adapt(data) or pass vocabulary=[...] first")

    # ---- looking up ----------------------------------------------------------------------------
    def _indices(self, tokens):
        """The index of every token (−1 for a masked one in non-int modes)."""
        where = f"{type(self).__name__} '{self.name}'"
        uniq, inverse = np.unique(tokens.ravel(), return_inverse=True)
        found = np.array([self._index.get(t, -1) for t in uniq.tolist()], dtype=np.int64)
        index = found[inverse].reshape(tokens.shape)
        unknown = index < 0
        masked = (tokens == self.mask_token) if self.mask_token is not None else \
            np.zeros(tokens.shape, dtype=bool)
        unknown &= ~masked
        if unknown.any():
            if self.num_oov_indices == 0:
                bad = tokens[unknown].ravel()[0].item()
                raise DataError(f"{where}: the token {bad!r} is not in the vocabulary and "
                                f"num_oov_indices=0 (when `num_oov_indices=0` all inputs should "
                                f"be in vocabulary; consider setting `num_oov_indices=1`)")
            index = np.where(unknown, self._oov_start + self._oov_bucket(tokens), index)
        return np.where(masked, 0 if self.output_mode == "int" else -1, index)

    def _invert(self, indices):
        table = np.array(self.get_vocabulary(), dtype=object)
        inside = (indices >= 0) & (indices < len(table))
        out = np.where(inside, table[np.clip(indices, 0, len(table) - 1)], self.oov_token)
        return out.astype(np.int64 if self.vocabulary_dtype != STRING_DTYPE else str)

    def forward(self, inputs):
        self._require_vocabulary()
        where = f"{type(self).__name__} '{self.name}'"
        if self.invert:
            return Tensor(self._invert(integer_codes(inputs, where)))
        indices = self._indices(self._tokens(inputs, where))
        if self.output_mode == "int":
            return Tensor(indices)
        return Tensor(encode(indices, self._depth(), self.output_mode, self._dtype))

    def compute_output_shape(self, input_shape):
        if self.output_mode == "int":
            return tuple(input_shape)
        if self._vocab is None and not self.pad_to_max_tokens:
            raise ConfigError(f"{type(self).__name__} '{self.name}': call adapt(data) or pass "
                              f"vocabulary before using output_mode='{self.output_mode}' in a "
                              f"model (the output size is the vocabulary size)")
        return encoded_shape(input_shape, self._depth(), self.output_mode)

    def compute_output_dtype(self, input_dtype):
        if self.invert:
            return self.vocabulary_dtype
        return "int64" if self.output_mode == "int" else self._dtype.name

    def get_config(self):
        return {**super().get_config(), "max_tokens": self.max_tokens,
                "num_oov_indices": self.num_oov_indices, "mask_token": self.mask_token,
                "oov_token": self.oov_token,
                "vocabulary": None if self._vocab is None else list(self._vocab),
                "invert": self.invert, "output_mode": self.output_mode,
                "pad_to_max_tokens": self.pad_to_max_tokens}


@serializable()
class IntegerLookup(IndexLookup):
    """Maps integer tokens to contiguous indices through a vocabulary (Keras 3's ``IntegerLookup``).

    Default OOV token −1, indices int64; see the module docstring for the layout. Example::

        >>> lookup = cr.layers.IntegerLookup(output_mode="one_hot")
        >>> lookup.adapt(np.array([3, 6, 7, 3]))
        >>> lookup.get_vocabulary()
        [-1, 3, 7, 6]
        >>> lookup(np.array([6, 9]))
        tensor([[0., 0., 0., 1.],
                [1., 0., 0., 0.]])
    """

    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None, oov_token=-1,
                 vocabulary=None, vocabulary_dtype="int64", idf_weights=None, invert=False,
                 output_mode="int", sparse=False, pad_to_max_tokens=False, **kwargs):
        check_choice(vocabulary_dtype, "vocabulary_dtype", "IntegerLookup", ("int64", "int32"))
        self.vocabulary_dtype = vocabulary_dtype
        super().__init__(max_tokens, num_oov_indices, mask_token, oov_token, vocabulary,
                         idf_weights, invert, output_mode, pad_to_max_tokens, sparse, **kwargs)

    def _token(self, value, name):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise ConfigError(f"IntegerLookup: expected an int for {name}. Received: "
                              f"{name}={value!r}")
        return int(value)

    def _tokens(self, inputs, where):
        return integer_codes(inputs, where)

    def _oov_bucket(self, tokens):
        return np.mod(tokens, self.num_oov_indices)

    def get_config(self):
        return {**super().get_config(), "vocabulary_dtype": self.vocabulary_dtype}


@serializable()
class StringLookup(IndexLookup):
    """Maps string tokens to contiguous indices through a vocabulary (Keras 3's ``StringLookup``).

    Default OOV token ``"[UNK]"``; bytes are decoded with *encoding*. Inputs are arrays (or lists)
    of strings, or a string ``Input`` (``cr.layers.Input((1,), dtype="string")``). Example::

        >>> lookup = cr.layers.StringLookup(vocabulary=["a", "b", "c"], output_mode="one_hot")
        >>> lookup(np.array(["c", "z"]))
        tensor([[0., 0., 0., 1.],
                [1., 0., 0., 0.]])
    """

    vocabulary_dtype = STRING_DTYPE

    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None, oov_token="[UNK]",
                 vocabulary=None, idf_weights=None, invert=False, output_mode="int",
                 pad_to_max_tokens=False, sparse=False, encoding="utf-8", **kwargs):
        self.encoding = encoding
        super().__init__(max_tokens, num_oov_indices, mask_token, oov_token, vocabulary,
                         idf_weights, invert, output_mode, pad_to_max_tokens, sparse, **kwargs)

    def _token(self, value, name):
        if isinstance(value, bytes):
            return value.decode(self.encoding)
        if isinstance(value, (str, np.str_)):
            return str(value)
        raise ConfigError(f"StringLookup: expected a string for {name}. Received: "
                          f"{name}={value!r}")

    def _tokens(self, inputs, where):
        a = inputs._data if isinstance(inputs, Tensor) else np.asarray(inputs)
        if a.dtype.kind == "S":
            return np.char.decode(a, self.encoding)
        if a.dtype.kind not in "UO":
            raise DTypeError(f"{where}: expected strings, received an array of dtype {a.dtype}")
        return as_text(a, where)

    def _oov_bucket(self, tokens):
        return hash_to_bins(tokens, self.num_oov_indices)

    def get_config(self):
        return {**super().get_config(), "encoding": self.encoding}


__all__ = ["IndexLookup", "IntegerLookup", "StringLookup"]
