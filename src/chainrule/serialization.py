"""Saving and loading checkpoints: ``save(obj, path)`` and ``load(path)``, with no pickle.

A checkpoint is a tree of dicts (``str`` or ``int`` keys, kept exactly), lists and tuples whose
leaves are tensors, NumPy arrays (``ndarray``, ``memmap``), NumPy scalars and Python ``bool``,
``int``, ``float``, ``str`` and ``None``.
``load`` rebuilds the tree: a tensor (a ``Parameter`` too) comes back as a plain ``Tensor`` with
``requires_grad=False`` (its ``grad`` and graph are not saved), an array as an array that owns its
memory and is writable, a NumPy scalar as a NumPy scalar of the same dtype. Dict subclasses such as
``OrderedDict`` come back as ``dict`` (order kept); an object met twice is saved twice.

File format, version 1 (all integers little-endian)::

    offset       size  field
    0              10  magic  b"CHAINRULE\\x00"
    10              4  format version, uint32 (1)
    14              8  header length H, uint64
    22              H  header: a JSON object, UTF-8 (ASCII in practice)
    22+H            -  zero bytes up to the next multiple of 64: the payload start P
    P               N  payload: the arrays' raw bytes, C order, little-endian
    P+N            32  SHA-256 of bytes [0, P+N)

The header is ``{"payload_nbytes": N, "root": NODE}``, so a file is exactly ``P + N + 32`` bytes.
A NODE is a JSON object with a ``"type"`` and exactly these other fields::

    {"type": "none"}
    {"type": "bool",  "value": true}
    {"type": "int",   "value": 3}                 any size
    {"type": "float", "value": 0.5}               or "nan", "inf", "-inf"
    {"type": "str",   "value": "..."}
    {"type": "list",  "items": [NODE, ...]}
    {"type": "tuple", "items": [NODE, ...]}
    {"type": "dict",  "keys": [NODE, ...], "values": [NODE, ...]}     keys are str or int nodes
    {"type": "tensor" | "ndarray" | "numpy_scalar",
     "dtype": "float32", "shape": [2, 3], "offset": 0, "nbytes": 24}   numpy_scalar has shape []

An array's bytes lie at ``P + offset``; ``offset`` is a multiple of 64 and ``nbytes`` equals
``prod(shape) * itemsize``. Dtypes are bool, int8, int16, int32, int64, uint8, float16, float32 and
float64. Containers nest at most ``MAX_DEPTH`` deep. ``docs/format.md`` describes the format in full.

Loading reads the file in order and checks each part before reading the next: the magic and the
version first (a foreign file is refused after 22 bytes), then the header's declared length
(against the file's size and ``MAX_HEADER_BYTES``), the header's JSON (a number that overflows a
float, such as ``1e999``, is refused: non-finite floats are strings), the payload's length, and
then the SHA-256 checksum and every node, offset, length, shape and dtype. It never executes
anything from the file (no pickle, no eval: arrays are copied out with ``np.frombuffer`` under
the dtype allowlist); any fault raises :class:`SerializationError` naming the file and what is
wrong. Saving builds the header first, so an unsupported object raises ``TypeError`` (naming its
key path) before the target is touched; it then writes the file with
:func:`chainrule.atomic_write.write_atomic`: a temporary file beside the target, fsynced and
``os.replace``-d onto it, so a crash, a kill or an error mid-write leaves any previous file whole,
while a symbolic link is written through and the replaced file keeps its mode (special files and
unwritable targets raise :class:`~chainrule.atomic_write.FileError`). A binary file object is
written to (or read from, at its current position) directly, without that guarantee.

Example::

    >>> import chainrule as cr, numpy as np
    >>> cr.save({"w": cr.tensor([1.0, 2.0]), "step": 3}, "ckpt.cr")
    >>> cr.load("ckpt.cr")["step"]
    3
"""
import hashlib
import json
import math
import os
import stat
import struct
import sys

import numpy as np

from chainrule.atomic_write import write_atomic
from chainrule.backend import ndarray
from chainrule.errors import ArgumentTypeError, DataError, DTypeError, SerializationError
from chainrule.safetensors_io import (is_safetensors_path, load as load_safetensors,
                                      save as save_safetensors)
from chainrule.tensor import Tensor

MAGIC = b"CHAINRULE\x00"
FORMAT_VERSION = 1
ALIGN = 64
MAX_DEPTH = 100
MAX_HEADER_BYTES = 1 << 28
"""The largest header a file may have (256 MiB, about two million arrays): a reader checks the
declared length against it, and against the file's size, before reading the header."""
_PREFIX = struct.Struct("<IQ")  # version, header length
_HEADER_AT = len(MAGIC) + _PREFIX.size
_DIGEST = 32
_DTYPES = {name: np.dtype(name).newbyteorder("<") for name in (
    "bool", "int8", "int16", "int32", "int64", "uint8", "float16", "float32", "float64")}
_ARRAY_FIELDS = {"type", "dtype", "shape", "offset", "nbytes"}
_FIELDS = {"none": {"type"}, "bool": {"type", "value"}, "int": {"type", "value"},
           "float": {"type", "value"}, "str": {"type", "value"}, "list": {"type", "items"},
           "tuple": {"type", "items"}, "dict": {"type", "keys", "values"},
           "tensor": _ARRAY_FIELDS, "ndarray": _ARRAY_FIELDS, "numpy_scalar": _ARRAY_FIELDS}
_NONFINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


def _short(value):
    """``repr(value)``, cut short: a hostile header must not make a megabyte error message."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


# ---- saving ----------------------------------------------------------------------------------

def save(obj, path):
    """Save a tree of dicts, lists, tuples, tensors, arrays and scalars to one file, atomically.

    *path* is a ``str`` / ``os.PathLike`` (written through a temporary file and ``os.replace``) or a
    binary file object (written at its position, not atomically, left open). Unsupported objects
    raise ``TypeError`` naming their key path, before anything is written. Example::

        >>> model = cr.nn.Linear(3, 1)
        >>> cr.save({"model": model.state_dict(), "epoch": 5}, "ckpt.cr")
    """
    if is_safetensors_path(path):  # "x.safetensors": a flat dict of tensors, safetensors format
        return save_safetensors(obj, path)
    is_path = isinstance(path, (str, bytes, os.PathLike))
    if not is_path and not hasattr(path, "write"):
        raise ArgumentTypeError("save: expected a path (str or os.PathLike) or a binary file "
                                f"object, got {type(path).__name__}")
    blobs = []  # (payload offset, C-contiguous little-endian array)
    root = _encode(obj, "obj", 1, blobs, set())
    payload_nbytes = blobs[-1][0] + blobs[-1][1].nbytes if blobs else 0
    header = json.dumps({"payload_nbytes": payload_nbytes, "root": root},
                        ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode("ascii")
    if len(header) > MAX_HEADER_BYTES:
        raise DataError(f"obj: the header describing this object would take {len(header)} bytes, "
                        f"more than a chainrule file may have ({MAX_HEADER_BYTES}); save fewer, "
                        f"larger arrays")
    head = MAGIC + _PREFIX.pack(FORMAT_VERSION, len(header)) + header
    head += bytes(_align(len(head)) - len(head))
    if is_path:
        write_atomic(path, lambda f: _write_body(f, head, blobs))
    else:
        _write_body(path, head, blobs)


def _align(n):
    return -(-n // ALIGN) * ALIGN


def _encode(obj, where, depth, blobs, active):
    """Turn *obj* into a header node, appending the arrays it holds to *blobs*."""
    if isinstance(obj, Tensor):
        return _array_node("tensor", obj._data, where, blobs)
    if type(obj) is ndarray or type(obj) is np.memmap:  # not masked arrays, matrices: they'd lose meaning
        return _array_node("ndarray", obj, where, blobs)
    if isinstance(obj, np.generic):  # before float: np.float64 is a float
        return _array_node("numpy_scalar", np.asarray(obj), where, blobs)
    if obj is None:
        return {"type": "none"}
    kind = type(obj)
    if kind is bool:
        return {"type": "bool", "value": obj}
    if kind is int:
        try:
            str(obj)
        except ValueError:  # more digits than sys.get_int_max_str_digits()
            raise DataError(f"{where}: integer too large to save ({obj.bit_length()} "
                            "bits)") from None
        return {"type": "int", "value": obj}
    if kind is float:
        return {"type": "float", "value": obj if math.isfinite(obj) else repr(obj)}
    if kind is str:
        return {"type": "str", "value": obj}
    if not (kind is list or kind is tuple or isinstance(obj, dict)):
        raise ArgumentTypeError(f"{where}: cannot save object of type {kind.__name__} (expected a "
                                "dict, list, tuple, Tensor, ndarray, NumPy scalar, bool, int, "
                                "float, str or None)")
    if id(obj) in active:
        raise DataError(f"{where}: cannot save a container that contains itself")
    if depth > MAX_DEPTH:
        raise DataError(f"{where}: containers nest deeper than {MAX_DEPTH} levels")
    active.add(id(obj))
    if isinstance(obj, dict):
        keys, values = [], []
        for key, value in obj.items():
            if type(key) is not str and type(key) is not int:
                raise ArgumentTypeError(f"{where}: cannot save dict key {key!r} of type "
                                        f"{type(key).__name__} "
                                        f"(keys must be str or int)")
            keys.append(_encode(key, where, depth, blobs, active))
            values.append(_encode(value, f"{where}[{key!r}]", depth + 1, blobs, active))
        node = {"type": "dict", "keys": keys, "values": values}
    else:
        items = [_encode(v, f"{where}[{i}]", depth + 1, blobs, active) for i, v in enumerate(obj)]
        node = {"type": kind.__name__, "items": items}
    active.discard(id(obj))
    return node


def _array_node(kind, arr, where, blobs):
    name = arr.dtype.name
    if name not in _DTYPES or arr.dtype.fields is not None:
        raise DTypeError(f"{where}: cannot save {kind} of dtype {arr.dtype} "
                         f"(supported: {', '.join(_DTYPES)})")
    offset = _align(blobs[-1][0] + blobs[-1][1].nbytes) if blobs else 0
    blobs.append((offset, np.ascontiguousarray(arr, dtype=_DTYPES[name])))
    return {"type": kind, "dtype": name, "shape": list(arr.shape), "offset": offset,
            "nbytes": arr.nbytes}


def _write_body(f, head, blobs):
    """Write header, payload and checksum to the binary file *f*."""
    digest = hashlib.sha256()

    def put(data):
        digest.update(data)
        f.write(data)

    put(head)
    end = 0
    for offset, arr in blobs:
        put(bytes(offset - end))
        put(memoryview(arr.reshape(-1).view(np.uint8)))
        end = offset + arr.nbytes
    f.write(digest.digest())


# ---- loading ---------------------------------------------------------------------------------

def load(path, map_location=None, *, weights_only=None, mmap=None):
    """Load a file written by :func:`save`, checking all of it and executing nothing from it.

    *path* is a ``str`` / ``os.PathLike`` or a binary file object (read from its position to the end).
    Tensors come back as ``Tensor`` with ``requires_grad=False``; a damaged or foreign file raises
    :class:`SerializationError`.  ``weights_only`` is accepted for PyTorch code: chainrule's format
    holds only data (tensors, numbers, strings, containers) and never runs code, so True, False
    and None all load the same.  ``map_location`` (a device, its name, or a dict mapping source
    device names to target ones) moves the tensors as they load; ``mmap`` is accepted and ignored.
    Example::

        >>> model = cr.nn.Linear(3, 1)
        >>> cr.save({"model": model.state_dict(), "epoch": 5}, "ckpt.cr")
        >>> state = cr.load("ckpt.cr")
        >>> model.load_state_dict(state["model"])
        <All keys matched successfully>
        >>> state["epoch"]
        5
    """
    if weights_only not in (None, True, False):
        raise ArgumentTypeError("load: weights_only must be True, False or None, got "
                                f"{weights_only!r}")
    obj = _load(path)
    return obj if map_location is None else _to_location(obj, map_location)


def _to_location(obj, where):
    """*obj* with every tensor moved as *map_location* says."""
    if isinstance(obj, Tensor):
        if isinstance(where, dict):
            target = where.get(str(obj.device))
            return obj if target is None else obj.to(target)
        return obj.to(where)
    if isinstance(obj, dict):
        return type(obj)((k, _to_location(v, where)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)) and not hasattr(obj, "_fields"):
        return type(obj)(_to_location(v, where) for v in obj)
    return obj


def _load(path):
    if is_safetensors_path(path):  # "x.safetensors": a dict of tensors, safetensors format
        return load_safetensors(path)
    if isinstance(path, (str, bytes, os.PathLike)):
        name = os.fspath(path)
        with open(name, "rb") as f:
            st = os.fstat(f.fileno())
            size = st.st_size if stat.S_ISREG(st.st_mode) else None
            return _Reader(f, name, size).read()
    if hasattr(path, "read"):
        name = getattr(path, "name", None)
        name = name if isinstance(name, (str, bytes)) else "<file object>"
        return _Reader(path, name, _remaining(path)).read()
    raise ArgumentTypeError(f"load: expected a path (str or os.PathLike) or a binary file object, "
                            f"got {type(path).__name__}")


def _remaining(f):
    """The bytes left from a file object's position to its end, or None when it cannot tell."""
    try:
        if not f.seekable():
            return None
        here = f.tell()
        end = f.seek(0, os.SEEK_END)
        f.seek(here)
        return end - here
    except (AttributeError, OSError, ValueError):
        return None


def _finite_float(text):
    """JSON number to float; a number too large for a float (``1e999``) is not one we wrote."""
    value = float(text)
    if not math.isfinite(value):
        raise SerializationError(f"the number {text[:40]} is not finite (a non-finite float is written as "
                                 f"the string \"inf\", \"-inf\" or \"nan\")")
    return value


class _Reader:
    """Reads one file in order (prefix, header, payload), checking each part before reading the
    next, then rebuilds the object tree the header describes."""

    def __init__(self, f, name, size):
        self.f, self.name, self.size = f, name, size
        self.data = memoryview(b"")
        self.payload_start = self.payload_nbytes = 0

    def fail(self, what):
        return SerializationError(f"cannot load {self.name!r}: {what}")

    def take(self, n):
        """Exactly *n* bytes from the file (fewer only at its end)."""
        if n <= 0:
            return b""
        out = self.f.read(n)
        if not isinstance(out, (bytes, bytearray, memoryview)):
            raise ArgumentTypeError(f"load: expected a binary file object, but read() returned "
                                    f"{type(out).__name__}")
        out = bytes(out)
        while 0 < len(out) < n:
            more = self.f.read(n - len(out))
            if not more:
                break
            out += bytes(more)
        return out

    def read(self):
        prefix = self.take(_HEADER_AT)
        if prefix[:len(MAGIC)] != MAGIC[:min(len(prefix), len(MAGIC))]:
            hint = ("; it looks like a pickle or zip file (torch.save?), which chainrule never "
                    "unpickles" if prefix[:2] in (b"PK", b"\x80\x02", b"\x80\x03", b"\x80\x04",
                                                  b"\x80\x05") else "")
            raise self.fail(f"not a chainrule file (bad magic {prefix[:len(MAGIC)]!r}){hint}")
        if len(prefix) < _HEADER_AT:
            raise self.fail(f"file is truncated ({len(prefix)} bytes, shorter than the "
                            f"{_HEADER_AT}-byte prefix)")
        version, header_len = _PREFIX.unpack_from(prefix, len(MAGIC))
        if version > FORMAT_VERSION:
            raise self.fail(f"file written by a newer chainrule (format {version}); upgrade "
                            f"chainrule to load it (this one reads format {FORMAT_VERSION})")
        if version < 1:
            raise self.fail(f"unknown format version {version}")
        self.payload_start = _align(_HEADER_AT + header_len)
        if self.size is not None and self.payload_start + _DIGEST > self.size:
            raise self.fail(f"file is truncated: its header claims {header_len} bytes but the file "
                            f"has only {self.size}")
        if header_len > MAX_HEADER_BYTES:
            raise self.fail(f"its header claims {header_len} bytes, more than the "
                            f"{MAX_HEADER_BYTES} a chainrule file may have: the file is damaged")
        raw = self.take(self.payload_start - _HEADER_AT)
        if len(raw) < self.payload_start - _HEADER_AT:
            raise self.fail(f"file is truncated: its header claims {header_len} bytes but the file "
                            f"ends before")
        if any(raw[header_len:]):
            raise self.fail("non-zero bytes in the padding after the header")
        header = self.parse_header(raw[:header_len])
        self.payload_nbytes = header["payload_nbytes"]
        if type(self.payload_nbytes) is not int or self.payload_nbytes < 0:
            raise self.fail(f"header: payload_nbytes must be a non-negative integer, "
                            f"got {_short(self.payload_nbytes)}")
        total = self.payload_start + self.payload_nbytes + _DIGEST
        if self.size is not None and total != self.size:
            what = "truncated" if total > self.size else "followed by extra bytes"
            raise self.fail(f"file is {what}: it is {self.size} bytes but its header describes "
                            f"{total}")
        rest = self.take(self.payload_nbytes + _DIGEST)
        if len(rest) < self.payload_nbytes + _DIGEST:
            raise self.fail(f"file is truncated: its header describes {total} bytes but the file "
                            f"ends after {self.payload_start + len(rest)}")
        if self.size is None and self.take(1):
            raise self.fail(f"file is followed by extra bytes: its header describes {total}")
        digest = hashlib.sha256(prefix)
        digest.update(raw)
        self.data = memoryview(rest).cast("B")
        digest.update(self.data[:self.payload_nbytes])
        if digest.digest() != rest[self.payload_nbytes:]:
            raise self.fail("checksum mismatch: the file is corrupted or truncated")
        return self.node(header["root"], "root", 1)

    def parse_header(self, raw):
        def reject(constant):
            raise SerializationError(f"{constant} is not JSON")

        try:
            header = json.loads(raw.decode("utf-8"), parse_constant=reject,
                                parse_float=_finite_float)
        except (UnicodeDecodeError, ValueError, RecursionError) as e:
            raise self.fail(f"header is not valid JSON ({type(e).__name__}: {str(e)[:200]})") from None
        if type(header) is not dict or header.keys() != {"payload_nbytes", "root"}:
            raise self.fail("header must be a JSON object with exactly the fields "
                            "'payload_nbytes' and 'root'")
        return header

    def node(self, node, where, depth):
        """Rebuild the object that header *node* (at key path *where*) describes."""
        kind = node.get("type") if type(node) is dict else None
        if type(kind) is not str or kind not in _FIELDS:
            raise self.fail(f"header entry {where}: not a valid node (unknown or missing type)")
        if node.keys() != _FIELDS[kind]:
            raise self.fail(f"header entry {where}: a {kind!r} node has exactly the fields "
                            f"{sorted(_FIELDS[kind])}, got {_short(sorted(node))}")
        if kind in ("tensor", "ndarray", "numpy_scalar"):
            arr = self.array(node, where)
            if kind == "tensor":
                return Tensor(arr)
            if kind == "numpy_scalar":
                if arr.ndim:
                    raise self.fail(f"header entry {where}: a numpy_scalar has shape [], "
                                    f"got {list(arr.shape)}")
                return arr[()]
            return arr
        if kind == "none":
            return None
        value = node.get("value")
        if kind in ("bool", "int", "str"):
            if type(value) is not {"bool": bool, "int": int, "str": str}[kind]:
                raise self.fail(f"header entry {where}: a {kind} node holds {_short(value)}")
            return value
        if kind == "float":
            if type(value) is float:
                return value
            if type(value) is str and value in _NONFINITE:
                return _NONFINITE[value]
            raise self.fail(f"header entry {where}: a float node holds {_short(value)}")
        if depth > MAX_DEPTH:
            raise self.fail(f"header entry {where}: containers nest deeper than {MAX_DEPTH} levels")
        if kind == "dict":
            return self.dict(node, where, depth)
        items = node["items"]
        if type(items) is not list:
            raise self.fail(f"header entry {where}: 'items' must be a list")
        out = [self.node(item, f"{where}[{i}]", depth + 1) for i, item in enumerate(items)]
        return out if kind == "list" else tuple(out)

    def dict(self, node, where, depth):
        keys, values = node["keys"], node["values"]
        if type(keys) is not list or type(values) is not list or len(keys) != len(values):
            raise self.fail(f"header entry {where}: 'keys' and 'values' must be lists of one length")
        out = {}
        for key_node, value_node in zip(keys, values):
            if type(key_node) is not dict or key_node.get("type") not in ("str", "int"):
                raise self.fail(f"header entry {where}: dict keys must be str or int nodes")
            key = self.node(key_node, where, depth)
            if key in out:
                raise self.fail(f"header entry {where}: duplicate key {_short(key)}")
            out[key] = self.node(value_node, f"{where}[{_short(key)}]", depth + 1)
        return out

    def array(self, node, where):
        """Copy one array out of the payload after checking its dtype, shape, offset and length."""
        name, shape, offset, nbytes = node["dtype"], node["shape"], node["offset"], node["nbytes"]
        if type(name) is not str or name not in _DTYPES:
            raise self.fail(f"header entry {where}: dtype {_short(name)} is not allowed "
                            f"(allowed: {', '.join(_DTYPES)})")
        dtype = _DTYPES[name]
        if (type(shape) is not list or len(shape) > 64
                or any(type(d) is not int or d < 0 for d in shape)):
            raise self.fail(f"header entry {where}: shape must be a list of at most 64 "
                            f"non-negative integers, got {_short(shape)}")
        if math.prod(max(d, 1) for d in shape) * dtype.itemsize > sys.maxsize:
            raise self.fail(f"header entry {where}: shape {shape} is too large")
        count = math.prod(shape)
        if type(nbytes) is not int or nbytes != count * dtype.itemsize:
            raise self.fail(f"header entry {where}: nbytes {_short(nbytes)} does not match shape {shape} "
                            f"of {name} ({count * dtype.itemsize} bytes)")
        if type(offset) is not int or offset < 0 or offset % ALIGN:
            raise self.fail(f"header entry {where}: offset {_short(offset)} must be a non-negative "
                            f"multiple of {ALIGN}")
        if offset + nbytes > self.payload_nbytes:
            raise self.fail(f"header entry {where}: bytes [{offset}, {offset + nbytes}) lie outside "
                            f"the {self.payload_nbytes}-byte payload")
        native = dtype.newbyteorder("=")
        if count == 0:
            return np.empty(shape, dtype=native)
        raw = np.frombuffer(self.data, dtype=dtype, count=count, offset=offset)
        return raw.reshape(shape).astype(native)  # a copy: writable, owns its memory
