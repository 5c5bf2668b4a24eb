"""``CategoryEncoding`` and the encoding every categorical layer shares: codes to vectors.

:func:`encode` turns integer codes into one-hot, multi-hot or count vectors (Keras's
``encode_categorical_inputs``); ``CategoryEncoding``, the lookup layers, ``Discretization`` and
``Hashing`` use it for their non-``"int"`` output modes.

Example::

    >>> encode(np.array([2, 0]), 3, "one_hot", np.float32)
    array([[0., 0., 1.],
           [1., 0., 0.]], dtype=float32)
"""
import numpy as np

from chainrule.errors import ConfigError, DataError, DTypeError, LabelError
from chainrule.keras.layers.base import Layer
from chainrule.keras.layers.registry import serializable
from chainrule.keras.utils import positive_int
from chainrule.tensor import Tensor

MODES = ("one_hot", "multi_hot", "count")


def integer_codes(x, where):
    """The integer array behind tensor *x*; float inputs must hold whole numbers."""
    a = x._data if isinstance(x, Tensor) else np.asarray(x)
    if a.dtype.kind in "iub":
        return a.astype(np.int64)
    if a.dtype.kind == "f":
        if not np.isfinite(a).all() or (a != np.round(a)).any():
            bad = float(a[~np.isfinite(a) | (a != np.round(a))].ravel()[0])
            raise DataError(f"{where}: expected integer codes, received the value {bad!r}")
        return a.astype(np.int64)
    raise DTypeError(f"{where}: expected integer inputs, received dtype {a.dtype}")


def encode(codes, depth, mode, dtype):
    """One-hot / multi-hot / count vectors of *depth* for the int array *codes* (Keras's
    ``encode_categorical_inputs``); codes of −1 (masked) are left out."""
    keep = codes >= 0
    safe = np.where(keep, codes, 0)
    if mode == "one_hot":
        if safe.ndim >= 2 and safe.shape[-1] == 1:
            safe, keep = safe[..., 0], keep[..., 0]
        out = np.zeros(safe.shape + (depth,), dtype=dtype)
        np.put_along_axis(out, safe[..., None], 1, axis=-1)
        return out * keep[..., None].astype(dtype)
    if safe.ndim == 0:
        safe, keep = safe.reshape(1), keep.reshape(1)
    flat, flat_keep = safe.reshape(-1, safe.shape[-1]), keep.reshape(-1, keep.shape[-1])
    out = np.zeros((flat.shape[0], depth), dtype=dtype)
    rows = np.repeat(np.arange(flat.shape[0]), flat.shape[1])
    np.add.at(out, (rows, flat.ravel()), flat_keep.ravel().astype(dtype))
    if mode == "multi_hot":
        np.minimum(out, 1, out=out)
    return out.reshape(safe.shape[:-1] + (depth,))


def encoded_shape(input_shape, depth, mode):
    """The output shape of :func:`encode` for inputs of *input_shape* (None sizes allowed)."""
    shape = tuple(input_shape)
    if mode == "one_hot":
        if len(shape) >= 2 and shape[-1] == 1:
            shape = shape[:-1]
        return shape + (depth,)
    return shape[:-1] + (depth,)


@serializable()
class CategoryEncoding(Layer):
    """Encodes integer codes in ``[0, num_tokens)`` as one-hot, multi-hot or count vectors.

    ``output_mode="one_hot"`` encodes every code (a trailing axis of size 1 is replaced);
    ``"multi_hot"`` (Keras's default) and ``"count"`` encode each sample's codes along the last
    axis into one vector (a 1-D input is one sample, as in Keras). Codes outside the range raise
    ``LabelError``. Example::

        >>> cr.layers.CategoryEncoding(num_tokens=4, output_mode="one_hot")(np.array([3, 0]))
        tensor([[0., 0., 0., 1.],
                [1., 0., 0., 0.]])
    """

    _single_input = True

    _autocast = False

    def __init__(self, num_tokens=None, output_mode="multi_hot", **kwargs):
        super().__init__(**kwargs)
        self.num_tokens = positive_int(num_tokens, "num_tokens", "CategoryEncoding")
        if output_mode not in MODES:
            raise ConfigError(f"CategoryEncoding: expected one of {MODES} for output_mode. "
                              f"Received: output_mode={output_mode!r}")
        self.output_mode = output_mode

    def forward(self, inputs):
        where = f"CategoryEncoding '{self.name}'"
        codes = integer_codes(inputs, where)
        if codes.size and (codes.min() < 0 or codes.max() >= self.num_tokens):
            bad = codes.min() if codes.min() < 0 else codes.max()
            raise LabelError(f"{where}: input values must be in the range 0 <= values < "
                             f"num_tokens with num_tokens={self.num_tokens}. Received: {int(bad)}")
        return Tensor(encode(codes, self.num_tokens, self.output_mode, self._dtype))

    def compute_output_shape(self, input_shape):
        return encoded_shape(input_shape, self.num_tokens, self.output_mode)

    def compute_output_dtype(self, input_dtype):
        return self._dtype.name

    def get_config(self):
        return {**super().get_config(), "num_tokens": self.num_tokens,
                "output_mode": self.output_mode}
