"""``Hashing``: strings or integers to bins by a stable hash, exactly as Keras 3 (TensorFlow) bins them.

Every value is turned into text first (integers as decimal digits, floats truncated to integers
first), then hashed:

* without a *salt*: FarmHash's ``Fingerprint64`` (``tf.strings.to_hash_bucket_fast``);
* with a *salt* (one int, or a pair of ints): SipHash-2-4 keyed by the pair
  (``tf.strings.to_hash_bucket_strong``);

and the bin is ``hash mod num_bins``. With a *mask_value*, masked inputs go to bin 0 and the rest
to ``1 + hash mod (num_bins − 1)``. Both hashes are written here in plain Python on 64-bit
words (they are cached per distinct value, so a column with few distinct values is fast), and
give TensorFlow's bins bit for bit, on every platform.

Example::

    >>> cr.layers.Hashing(num_bins=3)(np.array([["A"], ["B"], ["C"], ["D"], ["E"]]))
    tensor([[1],
            [0],
            [1],
            [1],
            [2]])
"""
import struct

import numpy as np

from chainrule.errors import ConfigError, DataError, DTypeError
from chainrule.keras.layers.base import Layer
from chainrule.keras.layers.category_encoding import encode, encoded_shape
from chainrule.keras.layers.registry import serializable
from chainrule.keras.utils import check_choice, positive_int
from chainrule.tensor import Tensor

_M = (1 << 64) - 1
_K0, _K1, _K2 = 0xc3a5c85c97cb3127, 0xb492b66fbe98f273, 0x9ae16a3b2f90404f


def _fetch64(s, i):
    return struct.unpack_from("<Q", s, i)[0]


def _fetch32(s, i):
    return struct.unpack_from("<I", s, i)[0]


def _rotate(v, shift):
    return v if shift == 0 else ((v >> shift) | (v << (64 - shift))) & _M


def _shift_mix(v):
    return v ^ (v >> 47)


def _hash_len16(u, v, mul):
    a = ((u ^ v) * mul) & _M
    a ^= a >> 47
    b = ((v ^ a) * mul) & _M
    b ^= b >> 47
    return (b * mul) & _M


def _hash_len0to16(s):
    n = len(s)
    if n >= 8:
        mul = (_K2 + n * 2) & _M
        a = (_fetch64(s, 0) + _K2) & _M
        b = _fetch64(s, n - 8)
        c = (_rotate(b, 37) * mul + a) & _M
        d = ((_rotate(a, 25) + b) * mul) & _M
        return _hash_len16(c, d, mul)
    if n >= 4:
        mul = (_K2 + n * 2) & _M
        return _hash_len16((n + (_fetch32(s, 0) << 3)) & _M, _fetch32(s, n - 4), mul)
    if n > 0:
        y = s[0] + (s[n >> 1] << 8)
        z = n + (s[n - 1] << 2)
        return (_shift_mix(((y * _K2) ^ (z * _K0)) & _M) * _K2) & _M
    return _K2


def _hash_len17to32(s):
    n = len(s)
    mul = (_K2 + n * 2) & _M
    a = (_fetch64(s, 0) * _K1) & _M
    b = _fetch64(s, 8)
    c = (_fetch64(s, n - 8) * mul) & _M
    d = (_fetch64(s, n - 16) * _K2) & _M
    return _hash_len16((_rotate((a + b) & _M, 43) + _rotate(c, 30) + d) & _M,
                       (a + _rotate((b + _K2) & _M, 18) + c) & _M, mul)


def _hash_len33to64(s):
    n = len(s)
    mul = (_K2 + n * 2) & _M
    a = (_fetch64(s, 0) * _K2) & _M
    b = _fetch64(s, 8)
    c = (_fetch64(s, n - 8) * mul) & _M
    d = (_fetch64(s, n - 16) * _K2) & _M
    y = (_rotate((a + b) & _M, 43) + _rotate(c, 30) + d) & _M
    z = _hash_len16(y, (a + _rotate((b + _K2) & _M, 18) + c) & _M, mul)
    e = (_fetch64(s, 16) * mul) & _M
    f = _fetch64(s, 24)
    g = ((y + _fetch64(s, n - 32)) * mul) & _M
    h = ((z + _fetch64(s, n - 24)) * mul) & _M
    return _hash_len16((_rotate((e + f) & _M, 43) + _rotate(g, 30) + h) & _M,
                       (e + _rotate((f + a) & _M, 18) + g) & _M, mul)


def _weak_hash32(s, i, a, b):
    w, x, y, z = (_fetch64(s, i + k) for k in (0, 8, 16, 24))
    a = (a + w) & _M
    b = _rotate((b + a + z) & _M, 21)
    c = a
    a = (a + x + y) & _M
    b = (b + _rotate(a, 44)) & _M
    return (a + z) & _M, (b + c) & _M


def fingerprint64(data):
    """FarmHash ``Fingerprint64`` (farmhashna ``Hash64``) of *data* (bytes), as a Python int.

    Example: ``fingerprint64(b"")`` is FarmHash's k2, 0x9ae16a3b2f90404f.
    """
    s, n = bytes(data), len(data)
    if n <= 16:
        return _hash_len0to16(s)
    if n <= 32:
        return _hash_len17to32(s)
    if n <= 64:
        return _hash_len33to64(s)
    seed = 81
    x = seed
    y = (seed * _K1 + 113) & _M
    z = (_shift_mix((y * _K2 + 113) & _M) * _K2) & _M
    v, w = (0, 0), (0, 0)
    x = (x * _K2 + _fetch64(s, 0)) & _M
    end = ((n - 1) // 64) * 64
    last64 = end + ((n - 1) & 63) - 63
    i = 0
    while True:
        x = (_rotate((x + y + v[0] + _fetch64(s, i + 8)) & _M, 37) * _K1) & _M
        y = (_rotate((y + v[1] + _fetch64(s, i + 48)) & _M, 42) * _K1) & _M
        x ^= w[1]
        y = (y + v[0] + _fetch64(s, i + 40)) & _M
        z = (_rotate((z + w[0]) & _M, 33) * _K1) & _M
        v = _weak_hash32(s, i, (v[1] * _K1) & _M, (x + w[0]) & _M)
        w = _weak_hash32(s, i + 32, (z + w[1]) & _M, (y + _fetch64(s, i + 16)) & _M)
        z, x = x, z
        i += 64
        if i == end:
            break
    mul = (_K1 + ((z & 0xff) << 1)) & _M
    i = last64
    w = ((w[0] + ((n - 1) & 63)) & _M, w[1])
    v = ((v[0] + w[0]) & _M, v[1])
    w = ((w[0] + v[0]) & _M, w[1])
    x = (_rotate((x + y + v[0] + _fetch64(s, i + 8)) & _M, 37) * mul) & _M
    y = (_rotate((y + v[1] + _fetch64(s, i + 48)) & _M, 42) * mul) & _M
    x ^= (w[1] * 9) & _M
    y = (y + v[0] * 9 + _fetch64(s, i + 40)) & _M
    z = (_rotate((z + w[0]) & _M, 33) * mul) & _M
    v = _weak_hash32(s, i, (v[1] * mul) & _M, (x + w[0]) & _M)
    w = _weak_hash32(s, i + 32, (z + w[1]) & _M, (y + _fetch64(s, i + 16)) & _M)
    z, x = x, z
    return _hash_len16((_hash_len16(v[0], w[0], mul) + _shift_mix(y) * _K0 + z) & _M,
                       (_hash_len16(v[1], w[1], mul) + x) & _M, mul)


def siphash64(key, data):
    """SipHash-2-4 of *data* (bytes) under the 128-bit *key* given as two 64-bit ints.

    Example: ``siphash64((133, 137), b"A")`` is the hash ``Hashing(salt=[133, 137])`` bins.
    """
    k0, k1 = (int(k) & _M for k in key)
    v0, v1 = k0 ^ 0x736f6d6570736575, k1 ^ 0x646f72616e646f6d
    v2, v3 = k0 ^ 0x6c7967656e657261, k1 ^ 0x7465646279746573

    def rounds(v0, v1, v2, v3, n):
        for _ in range(n):
            v0 = (v0 + v1) & _M
            v1 = _rotl(v1, 13) ^ v0
            v0 = _rotl(v0, 32)
            v2 = (v2 + v3) & _M
            v3 = _rotl(v3, 16) ^ v2
            v0 = (v0 + v3) & _M
            v3 = _rotl(v3, 21) ^ v0
            v2 = (v2 + v1) & _M
            v1 = _rotl(v1, 17) ^ v2
            v2 = _rotl(v2, 32)
        return v0, v1, v2, v3

    data = bytes(data)
    n = len(data)
    for i in range(0, n - n % 8, 8):
        m = _fetch64(data, i)
        v3 ^= m
        v0, v1, v2, v3 = rounds(v0, v1, v2, v3, 2)
        v0 ^= m
    tail = data[n - n % 8:] + b"\0" * (8 - n % 8)
    m = ((n & 0xff) << 56) | _fetch64(tail, 0)
    v3 ^= m
    v0, v1, v2, v3 = rounds(v0, v1, v2, v3, 2)
    v0 ^= m
    v2 ^= 0xff
    v0, v1, v2, v3 = rounds(v0, v1, v2, v3, 4)
    return v0 ^ v1 ^ v2 ^ v3


def _rotl(v, shift):
    return ((v << shift) | (v >> (64 - shift))) & _M


def as_text(values, where):
    """*values* (strings, bytes, integers or floats) as a NumPy array of ``str``, as TensorFlow's
    ``as_string`` writes numbers (floats truncated to integers first)."""
    a = values._data if isinstance(values, Tensor) else np.asarray(values)
    if a.dtype.kind in "US":
        return a.astype(str)
    if a.dtype.kind == "O":
        return np.vectorize(lambda v: v.decode() if isinstance(v, bytes) else str(v),
                            otypes=[str])(a) if a.size else a.astype(str)
    if a.dtype.kind == "f":
        if not np.isfinite(a).all():
            raise DataError(f"{where}: cannot hash NaN or infinite values")
        a = np.trunc(a).astype(np.int64)
    if a.dtype.kind in "biu":
        return a.astype(np.int64).astype(str)
    raise DTypeError(f"{where}: expected strings or integers, received dtype {a.dtype}")


def hash_to_bins(text, num_bins, salt=None):
    """The bin of every string in the ``str`` array *text* (FarmHash, or SipHash with *salt*)."""
    uniq, inverse = np.unique(text.ravel(), return_inverse=True)
    if salt is None:
        bins = [fingerprint64(t.encode("utf-8")) % num_bins for t in uniq.tolist()]
    else:
        bins = [siphash64(salt, t.encode("utf-8")) % num_bins for t in uniq.tolist()]
    return np.asarray(bins, dtype=np.int64)[inverse].reshape(text.shape)


@serializable()
class Hashing(Layer):
    """Hashes strings or integers into *num_bins* bins, as Keras 3's ``Hashing``.

    Args:
        num_bins: the number of bins, the mask's bin included.
        mask_value: a value mapped to bin 0 (the others then fill bins 1 to num_bins − 1).
        salt: None (FarmHash64), an int (SipHash64 keyed by ``[salt, salt]``) or two ints.
        output_mode: ``"int"`` (the bins, int64), ``"one_hot"``, ``"multi_hot"`` or ``"count"``
            (vectors of num_bins, as ``CategoryEncoding``).

    Example: ``cr.layers.Hashing(num_bins=3, salt=133)`` bins "A" ... "E" as 0, 0, 2, 1, 0.
    """

    _single_input = True
    _autocast = False

    def __init__(self, num_bins, mask_value=None, salt=None, output_mode="int", sparse=False,
                 **kwargs):
        super().__init__(**kwargs)
        where = "Hashing"
        self.num_bins = positive_int(num_bins, "num_bins", where)
        check_choice(output_mode, "output_mode", where, ("int", "one_hot", "multi_hot", "count"))
        if sparse:
            raise ConfigError("Hashing: sparse=True is not supported (chainrule has dense tensors "
                              "only)")
        if salt is not None:
            if isinstance(salt, (list, tuple)) and len(salt) == 2 and all(
                    isinstance(s, (int, np.integer)) and not isinstance(s, bool) for s in salt):
                salt = [int(s) for s in salt]
            elif isinstance(salt, (int, np.integer)) and not isinstance(salt, bool):
                salt = [int(salt), int(salt)]
            else:
                raise ConfigError(f"The `salt` argument for `Hashing` can only be a tuple of size "
                                  f"2 integers, or a single integer. Received: salt={salt!r}.")
        self.mask_value, self.salt = mask_value, salt
        self.output_mode, self.sparse = output_mode, False

    def bins(self, inputs):
        """The bin of every input value, as an int64 NumPy array of the inputs' shape."""
        where = f"Hashing '{self.name}'"
        text = as_text(inputs, where)
        n = self.num_bins
        if self.mask_value is None or n == 1:
            return hash_to_bins(text, n, self.salt)
        masked = text == as_text(np.asarray([self.mask_value]), where)[0]
        return np.where(masked, 0, hash_to_bins(text, n - 1, self.salt) + 1)

    def forward(self, inputs):
        bins = self.bins(inputs)
        if self.output_mode == "int":
            return Tensor(bins)
        return Tensor(encode(bins, self.num_bins, self.output_mode, self._dtype))

    def compute_output_shape(self, input_shape):
        if self.output_mode == "int":
            return tuple(input_shape)
        return encoded_shape(input_shape, self.num_bins, self.output_mode)

    def compute_output_dtype(self, input_dtype):
        return "int64" if self.output_mode == "int" else self._dtype.name

    def get_config(self):
        return {**super().get_config(), "num_bins": self.num_bins, "salt": self.salt,
                "mask_value": self.mask_value, "output_mode": self.output_mode,
                "sparse": self.sparse}


__all__ = ["Hashing", "fingerprint64", "hash_to_bins", "siphash64"]
