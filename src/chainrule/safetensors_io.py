"""Weights in the safetensors format: ``cr.save(tensors, "w.safetensors")``, ``cr.load(path)``.

A safetensors file is a flat ``{name: tensor}`` dict: an 8-byte little-endian header length, a JSON
header naming each tensor's dtype, shape and byte range, then the raw bytes. PyTorch
(``safetensors.torch``), JAX, Hugging Face and other frameworks read and write it, so a
``state_dict`` moves between them and chainrule unchanged (chainrule's ``nn`` layers use PyTorch's
parameter names and layouts). Reading and writing go through the ``safetensors`` package
(``pip install 'chainrule[safetensors]'``); nothing in a file is ever executed, and a damaged file
raises :class:`~chainrule.errors.SerializationError` naming the file. The format carries no
checksum: a flipped bit inside a tensor's bytes goes unnoticed (chainrule's own format has one).

Dtypes: bool, int8/16/32/64, uint8/16/32/64, float16/32/64 both ways; bfloat16 tensors (common in
PyTorch checkpoints) load as float32, exactly. Example::

    >>> model = cr.nn.Linear(3, 1)
    >>> cr.save(model.state_dict(), "linear.safetensors")
    >>> model.load_state_dict(cr.load("linear.safetensors"))
    <All keys matched successfully>
"""
import os
from collections.abc import Mapping

import numpy as np

from chainrule.atomic_write import write_atomic
from chainrule.errors import ArgumentTypeError, DTypeError, KeyNameError, SerializationError
from chainrule.tensor import Tensor

SUFFIX = ".safetensors"
_DTYPES = {"BOOL": np.bool_, "U8": np.uint8, "I8": np.int8, "U16": np.uint16, "I16": np.int16,
           "U32": np.uint32, "I32": np.int32, "U64": np.uint64, "I64": np.int64,
           "F16": np.float16, "F32": np.float32, "F64": np.float64}


def is_safetensors_path(path):
    """True when *path* (a str or os.PathLike) names a ``.safetensors`` file. Example:
    ``is_safetensors_path("w.safetensors")`` → True."""
    if not isinstance(path, (str, bytes, os.PathLike)):
        return False
    return os.fsdecode(path).lower().endswith(SUFFIX)


def _package():
    try:
        import safetensors
        import safetensors.numpy
    except ImportError as e:
        raise ImportError("reading and writing .safetensors files needs the safetensors package: "
                          "pip install 'chainrule[safetensors]'", name="safetensors") from e
    return safetensors


def _array(key, value):
    if isinstance(value, Tensor):
        arr = value._data
    elif isinstance(value, np.ndarray) and value.dtype.fields is None:
        arr = value
    else:
        raise ArgumentTypeError("save: a .safetensors file holds a flat dict of tensors, but entry "
                                f"{key!r} is a {type(value).__name__}; save nested or non-tensor "
                                "data in chainrule's own format (any other file name)")
    if arr.dtype.kind not in "biuf":
        raise DTypeError(f"save: entry {key!r} has dtype {arr.dtype}, which safetensors cannot "
                         f"hold (bool, integers and floats only)")
    return arr if arr.flags.c_contiguous else arr.copy(order="C")  # 0-d stays 0-d


def dumps(tensors, metadata=None):
    """The bytes of a safetensors file holding *tensors* (a dict of str → Tensor or ndarray).

    *metadata* is an optional dict of str → str stored in the header. Example:
    ``dumps({"w": cr.ones(2)})[:8]`` is the header length.
    """
    package = _package()
    if not isinstance(tensors, Mapping):
        raise ArgumentTypeError(f"save: a .safetensors file holds a dict of tensors, got "
                                f"{type(tensors).__name__}")
    arrays = {}
    for key, value in tensors.items():
        if not isinstance(key, str):
            raise ArgumentTypeError(f"save: safetensors keys must be strings, got {key!r} of type "
                                    f"{type(key).__name__}")
        if key == "__metadata__":
            raise KeyNameError("save: the key '__metadata__' is reserved by the safetensors format")
        arrays[key] = _array(key, value)
    if metadata is not None and (not isinstance(metadata, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in metadata.items())):
        raise ArgumentTypeError("save: safetensors metadata must be a dict of str to str")
    return package.numpy.save(arrays, metadata=None if metadata is None else dict(metadata))


def save(tensors, path, metadata=None):
    """Write *tensors* to the ``.safetensors`` file *path* atomically (through
    :func:`~chainrule.atomic_write.write_atomic`), so an error or a crash leaves any previous
    file whole; everything is checked before the target is touched.

    Example: ``save(model.state_dict(), "model.safetensors")``.
    """
    data = dumps(tensors, metadata)
    write_atomic(path, lambda f: f.write(data))


def loads(data, name="<bytes>"):
    """The dict of tensors in safetensors bytes *data* (see :func:`load`)."""
    package = _package()
    try:
        entries = package.deserialize(bytes(data))
    except (package.SafetensorError, ValueError, TypeError, OverflowError) as e:
        raise SerializationError(f"cannot load {name!r}: not a readable safetensors file "
                                 f"({type(e).__name__}: {str(e)[:200]})") from None
    out = {}
    for key, entry in entries:
        kind, shape, raw = entry["dtype"], entry["shape"], entry["data"]
        if kind == "BF16":  # the top 16 bits of a float32: widen exactly
            bits = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
            arr = bits.view(np.float32)
        elif kind in _DTYPES:
            arr = np.frombuffer(raw, dtype=np.dtype(_DTYPES[kind]).newbyteorder("<"))
            arr = arr.astype(arr.dtype.newbyteorder("="))  # a writable copy in native order
        else:
            raise SerializationError(f"cannot load {name!r}: tensor {key!r} has dtype {kind}, "
                                     f"which NumPy cannot hold (supported: "
                                     f"{', '.join(_DTYPES)}, BF16)")
        out[key] = Tensor(arr.reshape(shape))
    return out


def load(path):
    """Read a ``.safetensors`` file into a dict of ``Tensor`` (``requires_grad=False``).
    A damaged or foreign file raises ``SerializationError``; nothing is executed.

    Example: ``model.load_state_dict(load("model.safetensors"))``.
    """
    name = os.fsdecode(path)
    with open(name, "rb") as f:
        data = f.read()
    return loads(data, name)
