"""Tests for ``chainrule.serialization``: round trips, atomic writes, damaged and hostile files."""
import collections
import copy
import hashlib
import io
import json
import math
import os
import pickle
import random
import re
import signal
import struct
import subprocess
import sys
import textwrap
import time
import tracemalloc

import numpy as np
import pytest

from chainrule import serialization as ser
from chainrule.serialization import SerializationError, load, save
from chainrule.tensor import Tensor


# ---- helpers ---------------------------------------------------------------------------------

def assert_same(got, want, where="obj"):
    """Equal values and exactly equal types, all the way down."""
    if isinstance(want, Tensor):
        assert type(got) is Tensor, where
        assert got.requires_grad is False, where
        assert_same(got._data, want._data, where + ".data")
    elif isinstance(want, np.ndarray):
        assert type(got) is np.ndarray, where
        assert got.dtype == want.dtype and got.shape == want.shape, where
        assert got.flags.writeable and got.flags.owndata, where
        np.testing.assert_array_equal(got, want, err_msg=where)
    elif isinstance(want, np.generic):
        assert type(got) is type(want) and got.dtype == want.dtype, where
        assert got == want or (np.isnan(got) and np.isnan(want)), where
    elif isinstance(want, dict):
        assert type(got) is dict, where
        assert list(got) == list(want), where
        for (kg, vg), (kw, vw) in zip(got.items(), want.items()):
            assert type(kg) is type(kw), where
            assert_same(vg, vw, f"{where}[{kw!r}]")
    elif isinstance(want, (list, tuple)):
        assert type(got) is type(want) and len(got) == len(want), where
        for i, (g, w) in enumerate(zip(got, want)):
            assert_same(g, w, f"{where}[{i}]")
    elif isinstance(want, float) and math.isnan(want):
        assert type(got) is float and math.isnan(got), where
    else:
        assert type(got) is type(want) and got == want, where
        if isinstance(want, float):
            assert math.copysign(1, got) == math.copysign(1, want), where


def roundtrip(obj):
    buf = io.BytesIO()
    save(obj, buf)
    buf.seek(0)
    return load(buf)


def frame(header, payload=b"", version=1, magic=ser.MAGIC, header_len=None):
    """A file with the given header (object or bytes) and payload, and a correct checksum."""
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    head = magic + struct.pack("<IQ", version, len(raw) if header_len is None else header_len) + raw
    head += bytes(-len(head) % 64)
    body = head + payload
    return body + hashlib.sha256(body).digest()


def reseal(data):
    """Recompute the checksum of a file's bytes (for mutating content past the checksum)."""
    body = bytes(data[:-32])
    return body + hashlib.sha256(body).digest()


def split(data):
    """(header dict, payload bytes) of a valid file."""
    header_len = struct.unpack_from("<Q", data, 14)[0]
    start = -(-(22 + header_len) // 64) * 64
    return json.loads(data[22:22 + header_len]), data[start:-32]


def load_bytes(data):
    return load(io.BytesIO(data))


def sample_bytes():
    buf = io.BytesIO()
    save({"w": Tensor(np.arange(6, dtype=np.float32).reshape(2, 3)), 0: [1, 2.5, "s", None, True],
          "b": (np.array([True, False]), np.int8(-3)), "e": np.zeros((0, 2), np.float16)}, buf)
    return buf.getvalue()


# ---- round trips -----------------------------------------------------------------------------

SCALARS = [None, True, False, 0, -7, 2**80, -2**100, 0.0, -0.0, 1.5, 1e-310, 1e308, math.inf,
           -math.inf, math.nan, "", "héllo ✓", "lone \udc80 surrogate", "a\x00b"]
NUMPY_SCALARS = [np.bool_(True), np.int8(-5), np.int16(300), np.int32(-2**31), np.int64(2**62),
                 np.uint8(255), np.float16(0.1), np.float32(np.nan), np.float64(-0.0),
                 np.float64(1 / 3)]


@pytest.mark.parametrize("value", SCALARS + NUMPY_SCALARS, ids=repr)
def test_scalars_round_trip(value):
    assert_same(roundtrip(value), value)
    assert_same(roundtrip({"v": [value]}), {"v": [value]})


@pytest.mark.parametrize("dtype", ["bool", "int8", "int16", "int32", "int64", "uint8", "float16",
                                   "float32", "float64"])
@pytest.mark.parametrize("shape", [(), (0,), (3, 0, 2), (1,), (5,), (2, 3, 4)])
def test_arrays_and_tensors_round_trip(dtype, shape):
    rng = np.random.default_rng(0)
    arr = (rng.standard_normal(shape) * 50).astype(dtype)
    assert_same(roundtrip(arr), arr)
    got = roundtrip(Tensor(arr))
    assert type(got) is Tensor and got._data.dtype == np.dtype(dtype) and got.shape == shape
    np.testing.assert_array_equal(got._data, arr)


def test_float_special_values_keep_their_bits():
    arr = np.array([np.nan, -np.inf, np.inf, -0.0, 5e-324, np.finfo(np.float64).max])
    got = roundtrip(arr)
    assert got.tobytes() == arr.tobytes()
    half = np.array([65504, 6e-8, np.nan, -0.0], dtype=np.float16)
    assert roundtrip(half).tobytes() == half.tobytes()


@pytest.mark.parametrize("make", [
    lambda a: a[::2], lambda a: a.T, lambda a: a[:, ::-1], lambda a: np.asfortranarray(a),
    lambda a: a[1:, 1:3], lambda a: np.broadcast_to(a[0], (5, 4)), lambda a: a.astype(">f8"),
    lambda a: a.astype(">i4")[::-1]])
def test_non_contiguous_and_big_endian_arrays(make):
    arr = make(np.arange(20.0).reshape(5, 4))
    got = roundtrip(arr)
    assert got.dtype == arr.dtype.newbyteorder("=") and got.dtype.isnative
    assert got.flags.c_contiguous and got.flags.writeable and got.flags.owndata
    np.testing.assert_array_equal(got, arr)
    assert_same(roundtrip(Tensor(got)), Tensor(got))


def test_memmap_saves_as_array(tmp_path):
    mm = np.memmap(tmp_path / "m.bin", dtype=np.float32, mode="w+", shape=(3, 2))
    mm[:] = 2.5
    assert_same(roundtrip({"m": mm}), {"m": np.full((3, 2), 2.5, np.float32)})


def test_loaded_arrays_are_independent_writable_copies():
    got = roundtrip({"a": np.ones(3), "b": np.ones(3), "t": Tensor(np.ones(2, np.float32))})
    got["a"][0] = 5
    got["t"]._data[1] = 7
    assert got["b"][0] == 1 and got["a"][0] == 5 and got["t"]._data[1] == 7


def test_tensors_come_back_as_plain_tensors_without_grad():
    from chainrule.nn.parameter import Parameter  # tests may reach above the core
    w = Parameter(Tensor(np.ones((2, 2), np.float32)))
    t = Tensor(np.arange(3, dtype=np.float64), requires_grad=True)
    got = roundtrip({"w": w, "t": t})
    assert type(got["w"]) is Tensor and type(got["t"]) is Tensor
    assert not got["w"].requires_grad and not got["t"].requires_grad
    assert got["w"].grad is None and got["w"].grad_fn is None
    np.testing.assert_array_equal(got["t"]._data, t._data)
    assert got["w"]._data.dtype == np.float32


def test_nested_structure_keeps_key_types_order_and_container_types():
    obj = {"model": {"layer.0.weight": np.eye(2, dtype=np.float32), "layer.0.bias": np.zeros(2)},
           "optimizer": {"state": {0: {"step": 3, "exp_avg": np.ones(2)}, 1: {"step": 3}},
                         "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "params": [0, 1],
                                           "name": None, "amsgrad": False}]},
           10: "int key", -1: [(), [], {}, [[[]]], ((1,),)], "10": "str key",
           "deep": [[{"x": [(np.float32(1), Tensor(np.zeros(1, np.float32)))]}]]}
    assert_same(roundtrip(obj), obj)
    assert list(roundtrip({3: 0, 1: 0, "a": 0, 2: 0})) == [3, 1, "a", 2]


def test_dict_subclass_comes_back_as_dict():
    got = roundtrip(collections.OrderedDict([("b", 1), ("a", np.float64(2))]))
    assert type(got) is dict and list(got) == ["b", "a"] and type(got["a"]) is np.float64


def test_shared_objects_are_saved_by_value():
    arr = np.arange(4)
    got = roundtrip([arr, arr])
    got[0][0] = 99
    assert got[1][0] == 0


def test_nesting_up_to_max_depth_round_trips():
    obj = leaf = []
    for _ in range(ser.MAX_DEPTH - 1):
        leaf.append([])
        leaf = leaf[0]
    leaf.append(np.float32(1))
    assert_same(roundtrip(obj), obj)


def test_torch_optimizer_state_dict_round_trips():
    torch = pytest.importorskip("torch")
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    model(torch.ones(4, 3)).sum().backward()
    opt.step()

    def to_numpy(x):
        if isinstance(x, torch.Tensor):
            return x.detach().numpy()
        if isinstance(x, dict):
            return {k: to_numpy(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return type(x)(to_numpy(v) for v in x)
        return x

    state = to_numpy(opt.state_dict())
    got = roundtrip(state)
    assert_same(got, state)
    assert list(got["state"]) == [0, 1] and got["param_groups"][0]["params"] == [0, 1]


# ---- paths and file objects ------------------------------------------------------------------

def test_str_pathlib_and_bytes_paths(tmp_path):
    obj = {"a": np.arange(3)}
    for path in (str(tmp_path / "s.cr"), tmp_path / "p.cr", os.fsencode(tmp_path / "b.cr")):
        save(obj, path)
        assert_same(load(path), obj)
    assert sorted(os.listdir(tmp_path)) == ["b.cr", "p.cr", "s.cr"]


def test_file_objects_read_and_write_at_their_position(tmp_path):
    buf = io.BytesIO()
    buf.write(b"prefix")
    save({"x": 1}, buf)
    assert buf.getvalue().startswith(b"prefix") and not buf.closed
    buf.seek(6)
    assert load(buf) == {"x": 1}
    path = tmp_path / "f.cr"
    with open(path, "wb") as f:
        save([np.ones(2)], f)
    with open(path, "rb") as f:
        assert_same(load(f), [np.ones(2)])
    assert_same(load(path), [np.ones(2)])


def test_overwrite_replaces_previous_file(tmp_path):
    path = tmp_path / "c.cr"
    save({"v": 1}, path)
    save({"v": 2}, path)
    assert load(path) == {"v": 2}
    assert os.listdir(tmp_path) == ["c.cr"]


def test_bad_path_and_file_arguments():
    with pytest.raises(TypeError, match="save: expected a path"):
        save({}, 123)
    with pytest.raises(TypeError, match="load: expected a path"):
        load(None)
    with pytest.raises(TypeError, match="binary file object"):
        load(io.StringIO("text"))
    with pytest.raises(FileNotFoundError):
        load("/nonexistent/dir/x.cr")


def test_layout_is_aligned_and_described_by_the_header():
    data = sample_bytes()
    assert data[:10] == b"CHAINRULE\x00" and struct.unpack_from("<I", data, 10)[0] == 1
    assert data[-32:] == hashlib.sha256(data[:-32]).digest()
    header, payload = split(data)
    assert header["payload_nbytes"] == len(payload)
    for entry in _array_entries(header["root"]):
        assert entry["offset"] % 64 == 0
    assert (len(data) - 32 - len(payload)) % 64 == 0


def _array_entries(node):
    if node["type"] in ("tensor", "ndarray", "numpy_scalar"):
        yield node
    for child in node.get("items", []) + node.get("values", []):
        yield from _array_entries(child)


# ---- unsupported objects ---------------------------------------------------------------------

class Foo:
    pass


@pytest.mark.parametrize("obj, where, what", [
    ({"layers": [0, 1, Foo()]}, r"obj\['layers'\]\[2\]", "type Foo"),
    (lambda: 0, r"^obj:", "type function"),
    ([{3: {1, 2}}], r"obj\[0\]\[3\]", "type set"),
    ((1, 2j), r"obj\[1\]", "type complex"),
    ({"a": np.zeros(2, np.complex64)}, r"obj\['a'\]", "dtype complex64"),
    ({"a": np.array([None])}, r"obj\['a'\]", "dtype object"),
    ({"a": np.zeros(2, np.uint16)}, r"obj\['a'\]", "dtype uint16"),
    ({"a": np.array(["s"])}, r"obj\['a'\]", "dtype <U1"),
    ([np.str_("s")], r"obj\[0\]", "dtype <U1"),
    ([np.complex128(1)], r"obj\[0\]", "dtype complex128"),
    ({"m": {True: 1}}, r"obj\['m'\]", "key True of type bool"),
    ({"m": {(1, 2): 1}}, r"obj\['m'\]", "key (1, 2) of type tuple"),
    ({"m": {1.5: 1}}, r"obj\['m'\]", "type float"),
    ([b"bytes"], r"obj\[0\]", "type bytes"),
    ([collections.namedtuple("P", "x")(1)], r"obj\[0\]", "type P"),
    ([np.zeros(2, [("a", "f4")])], r"obj\[0\]", "cannot save ndarray"),
    ([np.ma.masked_array([1.0, 2.0], mask=[0, 1])], r"obj\[0\]", "type MaskedArray"),
])
def test_unsupported_objects_name_their_key_path(obj, where, what):
    with pytest.raises(TypeError, match=where) as info:
        save(obj, io.BytesIO())
    assert what in str(info.value)


def test_cycles_and_excessive_nesting_are_refused():
    cyc = {"a": []}
    cyc["a"].append(cyc)
    with pytest.raises(ValueError, match=r"obj\['a'\]\[0\]: .*contains itself"):
        save(cyc, io.BytesIO())
    deep = []
    for _ in range(ser.MAX_DEPTH):
        deep = [deep]
    with pytest.raises(ValueError, match="deeper than"):
        save(deep, io.BytesIO())


def test_failed_serialisation_never_touches_the_target(tmp_path):
    path = tmp_path / "ckpt.cr"
    with pytest.raises(TypeError):
        save({"x": Foo()}, path)
    assert os.listdir(tmp_path) == []
    save({"v": 1}, path)
    before = path.read_bytes()
    with pytest.raises(TypeError):
        save({"v": 2, "x": Foo()}, path)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["ckpt.cr"]
    buf = io.BytesIO()
    with pytest.raises(TypeError):
        save([np.ones(1000), Foo()], buf)
    assert buf.getvalue() == b""


# ---- atomicity -------------------------------------------------------------------------------

BIG = {"w": np.arange(300_000, dtype=np.float64), "step": 2}


@pytest.mark.parametrize("exc", [OSError("disk full"), KeyboardInterrupt()])
@pytest.mark.parametrize("target", ["replace", "fsync", "write"])
def test_failure_mid_save_keeps_previous_file_and_leaves_no_temp(tmp_path, monkeypatch, target, exc):
    path = tmp_path / "ckpt.cr"
    save({"step": 1}, path)
    before = path.read_bytes()

    def fail(*args, **kwargs):
        raise exc

    if target == "write":
        def half_then_fail(f, head, blobs):  # write the header and part of the payload, then die
            f.write(head)
            f.write(memoryview(blobs[0][1].view(np.uint8))[:100_000])
            raise exc
        monkeypatch.setattr(ser, "_write_body", half_then_fail)
    else:
        monkeypatch.setattr(os, target, fail)
    with pytest.raises(type(exc)):
        save(BIG, path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["ckpt.cr"]
    assert load(path) == {"step": 1}


def test_failure_on_first_save_creates_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "replace", lambda *a: (_ for _ in ()).throw(OSError("boom")))
    with pytest.raises(OSError, match="boom"):
        save(BIG, tmp_path / "new.cr")
    assert os.listdir(tmp_path) == []


def test_saving_onto_a_directory_fails_cleanly(tmp_path):
    (tmp_path / "d").mkdir()
    with pytest.raises(OSError):
        save({"a": 1}, tmp_path / "d")
    assert os.listdir(tmp_path) == ["d"]


CHILD = textwrap.dedent("""
    import sys
    import numpy as np
    from chainrule.serialization import save
    path = sys.argv[1]
    for version in range(1, 10**9):
        save({"version": version, "data": np.full(1_000_000, version, dtype=np.int64),
              "tail": [version] * 100}, path)
        print(version, flush=True)
""")


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_sigkill_while_saving_leaves_a_complete_version(tmp_path):
    path = tmp_path / "ckpt.cr"
    save({"version": 0, "data": np.zeros(1_000_000, np.int64), "tail": [0] * 100}, path)
    rng = random.Random(1234)
    for _ in range(6):
        child = subprocess.Popen([sys.executable, "-c", CHILD, str(path)], stdout=subprocess.PIPE,
                                 text=True)
        try:
            assert child.stdout.readline().strip().isdigit()  # one full save done: now mid-loop
            time.sleep(rng.uniform(0, 0.25))
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=30)
            child.stdout.close()
        got = load(path)
        version = got["version"]
        assert version >= 1
        assert got["data"].shape == (1_000_000,) and (got["data"] == version).all()
        assert got["tail"] == [version] * 100
    # A kill mid-write leaves its temp file behind (never a torn target); each new save removes
    # the ones of dead processes, so at most the last child's remains, and the next save clears it.
    strays = [name for name in os.listdir(tmp_path) if name != "ckpt.cr"]
    assert len(strays) <= 1
    assert all(re.fullmatch(r"\.ckpt\.cr\.\d+-[0-9a-f]{12}\.tmp", name) for name in strays)
    for name in strays:
        try:
            assert load(tmp_path / name)["version"] >= 1  # killed between fsync and replace
        except SerializationError:
            pass
    save({"version": -1}, path)
    assert os.listdir(tmp_path) == ["ckpt.cr"]


# ---- damaged files ---------------------------------------------------------------------------

def test_truncated_at_every_offset():
    data = sample_bytes()
    for n in range(len(data)):
        with pytest.raises(SerializationError, match=r"cannot load '<file object>'"):
            load_bytes(data[:n])
    assert_same(load_bytes(data), load_bytes(data))


def test_truncation_messages():
    data = sample_bytes()
    with pytest.raises(SerializationError, match="truncated"):
        load_bytes(data[:5])
    with pytest.raises(SerializationError, match="truncated"):
        load_bytes(data[:30])
    with pytest.raises(SerializationError, match="truncated: it is 927 bytes but its header "
                                                 "describes 928"):
        load_bytes(data[:-1])
    with pytest.raises(SerializationError, match="followed by extra bytes"):
        load_bytes(data + b"\x00")
    flipped = bytearray(data)
    flipped[-40] ^= 1   # a payload byte
    with pytest.raises(SerializationError, match="checksum"):
        load_bytes(bytes(flipped))


def test_random_byte_flips_only_raise_serialization_error():
    data = sample_bytes()
    rng = random.Random(0)
    start = time.perf_counter()
    for _ in range(3000):
        mutated = bytearray(data)
        for _ in range(rng.choice([1, 1, 1, 2, 5])):
            i = rng.randrange(len(mutated))
            mutated[i] ^= rng.randrange(1, 256)
        with pytest.raises(SerializationError):
            load_bytes(bytes(mutated))
    assert time.perf_counter() - start < 60


def test_resealed_byte_mutations_load_or_raise_serialization_error():
    """Mutations with a recomputed checksum reach the header parser: it must stay in control."""
    data = sample_bytes()
    rng = random.Random(1)
    loaded = 0
    for _ in range(3000):
        mutated = bytearray(data)
        for _ in range(rng.choice([1, 1, 2, 3])):
            i = rng.randrange(len(mutated) - 32)
            if rng.random() < 0.5:
                mutated[i] = rng.randrange(256)
            else:
                mutated[i] = ord(rng.choice('0123456789-.e[]{}",:tfn'))
        try:
            load_bytes(reseal(mutated))
            loaded += 1
        except SerializationError:
            pass
    assert loaded > 0  # payload and padding-free flips still load


JUNK = [-1, 0, 1, 63, 64, 2**63, 2**70, -2**70, 1.5, -0.0, "", "x", "float32", "object", "<f8",
        "tensor", "dict", "nan", None, True, False, [], {}, [1, 2], [-1], [2**40, 2**40, 2**40],
        {"type": "none"}, {"type": "str", "value": 1}, [[1]], {"type": "dict"}, list(range(70))]


def _random_edit(tree, rng):
    """Replace, delete or add one field somewhere in a JSON tree."""
    spots = []

    def walk(x):
        if isinstance(x, dict):
            spots.extend((x, k) for k in list(x))
            spots.append((x, "extra"))
            for v in x.values():
                walk(v)
        elif isinstance(x, list):
            spots.extend((x, i) for i in range(len(x)))
            for v in x:
                walk(v)
    walk(tree)
    parent, key = rng.choice(spots)
    action = rng.random()
    if isinstance(parent, dict) and action < 0.15 and key in parent:
        del parent[key]
    elif isinstance(parent, list) and action < 0.15:
        del parent[key]
    elif action < 0.25 and key in (parent if isinstance(parent, dict) else range(len(parent))):
        parent[key] = copy.deepcopy(rng.choice(spots)[0])  # graft another subtree
    else:
        parent[key] = copy.deepcopy(rng.choice(JUNK))


def test_structured_header_fuzz_loads_or_raises_serialization_error():
    header, payload = split(sample_bytes())
    rng = random.Random(2)
    outcomes = collections.Counter()
    start = time.perf_counter()
    for _ in range(3000):
        tree = copy.deepcopy(header)
        for _ in range(rng.choice([1, 1, 2, 3])):
            _random_edit(tree, rng)
        try:
            load_bytes(frame(tree, payload))
            outcomes["loaded"] += 1
        except SerializationError:
            outcomes["refused"] += 1
    assert outcomes["refused"] > 2000
    assert time.perf_counter() - start < 60


def test_wrong_magic():
    data = sample_bytes()
    with pytest.raises(SerializationError, match="not a chainrule file"):
        load_bytes(b"CHAINRULF\x00" + data[10:])
    with pytest.raises(SerializationError, match="not a chainrule file"):
        load_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))


def test_future_and_unknown_versions():
    header, payload = split(sample_bytes())
    with pytest.raises(SerializationError, match=r"newer chainrule \(format 2\); upgrade"):
        load_bytes(frame(header, payload, version=2))
    with pytest.raises(SerializationError, match="newer chainrule"):
        load_bytes(frame(b"anything at all", b"", version=2**32 - 1))
    with pytest.raises(SerializationError, match="unknown format version 0"):
        load_bytes(frame(header, payload, version=0))
    assert_same(load_bytes(frame(header, payload)), load_bytes(sample_bytes()))


def _array_header(**changes):
    entry = {"type": "ndarray", "dtype": "float64", "shape": [2], "offset": 0, "nbytes": 16}
    entry.update(changes)
    return {"payload_nbytes": 16, "root": entry}


@pytest.mark.parametrize("changes, message", [
    ({"shape": [2**62, 2**62]}, "too large"),
    ({"shape": [2**40], "nbytes": 2**43}, "outside"),
    ({"shape": [0, 2**62]}, "too large"),
    ({"shape": [1] * 65}, "at most 64"),
    ({"shape": [-2]}, "shape"),
    ({"shape": [2.0]}, "shape"),
    ({"shape": [True, 2]}, "shape"),
    ({"shape": "2"}, "shape"),
    ({"offset": 64}, "outside"),
    ({"offset": 2**80}, "outside"),
    ({"offset": -64}, "offset"),
    ({"offset": 8, "shape": [1], "nbytes": 8}, "multiple of 64"),
    ({"offset": 0.0}, "offset"),
    ({"nbytes": 8}, "does not match"),
    ({"nbytes": "16"}, "does not match"),
    ({"dtype": "object"}, "not allowed"),
    ({"dtype": "O"}, "not allowed"),
    ({"dtype": "<f8"}, "not allowed"),
    ({"dtype": "complex128", "shape": [1]}, "not allowed"),
    ({"dtype": ["float64"]}, "not allowed"),
    ({"type": "numpy_scalar"}, "shape \\[\\]"),
    ({"type": "pickle"}, "not a valid node"),
    ({"extra": 1}, "exactly the fields"),
])
def test_inconsistent_array_entries(changes, message):
    data = frame(_array_header(**changes), np.arange(2.0).tobytes())
    with pytest.raises(SerializationError, match=message):
        load_bytes(data)
    np.testing.assert_array_equal(load_bytes(frame(_array_header(), np.arange(2.0).tobytes())),
                                  [0.0, 1.0])


@pytest.mark.parametrize("header, message", [
    (b"{not json", "not valid JSON"),
    (b"\xff\xfe{}", "not valid JSON"),
    (b'{"payload_nbytes": 0, "root": {"type": "float", "value": NaN}}', "not valid JSON"),
    (b"[" * 100_000 + b"]" * 100_000, "not valid JSON"),
    (b'{"payload_nbytes": 0, "root": {"type": "int", "value": 1' + b"0" * 5000 + b"}}",
     "not valid JSON"),
    (b"[]", "must be a JSON object"),
    (b'{"payload_nbytes": 0}', "exactly the fields"),
    (b'{"payload_nbytes": -1, "root": {"type": "none"}}', "non-negative"),
    (b'{"payload_nbytes": 1.0, "root": {"type": "none"}}', "non-negative"),
    (b'{"payload_nbytes": 64, "root": {"type": "none"}}', "describes"),
    (b'{"payload_nbytes": 0, "root": {"type": "none", "value": 1}}', "exactly the fields"),
    (b'{"payload_nbytes": 0, "root": {"type": "bool", "value": 1}}', "bool node"),
    (b'{"payload_nbytes": 0, "root": {"type": "int", "value": true}}', "int node"),
    (b'{"payload_nbytes": 0, "root": {"type": "int", "value": 1.0}}', "int node"),
    (b'{"payload_nbytes": 0, "root": {"type": "float", "value": 1}}', "float node"),
    (b'{"payload_nbytes": 0, "root": {"type": "float", "value": "NaN"}}', "float node"),
    (b'{"payload_nbytes": 0, "root": {"type": "str", "value": null}}', "str node"),
    (b'{"payload_nbytes": 0, "root": {"type": "list", "items": {}}}', "must be a list"),
    (b'{"payload_nbytes": 0, "root": {"type": "list", "items": [1]}}', r"root\[0\]: not a valid"),
    (b'{"payload_nbytes": 0, "root": {"type": "dict", "keys": [], "values": [{"type": "none"}]}}',
     "one length"),
    (b'{"payload_nbytes": 0, "root": {"type": "dict", "keys": [{"type": "none"}], '
     b'"values": [{"type": "none"}]}}', "str or int"),
    (b'{"payload_nbytes": 0, "root": {"type": "dict", "keys": [{"type": "str", "value": "a"}, '
     b'{"type": "str", "value": "a"}], "values": [{"type": "none"}, {"type": "none"}]}}',
     "duplicate key 'a'"),
    (b'{"payload_nbytes": 0, "root": {"type": "eval", "value": "__import__(\'os\')"}}',
     "not a valid node"),
    (b'{"payload_nbytes": 0, "root": null}', "not a valid node"),
])
def test_malformed_headers(header, message):
    with pytest.raises(SerializationError, match=message):
        load_bytes(frame(header))


def test_header_nested_too_deep():
    node = {"type": "none"}
    for _ in range(ser.MAX_DEPTH + 1):
        node = {"type": "list", "items": [node]}
    with pytest.raises(SerializationError, match="deeper than"):
        load_bytes(frame({"payload_nbytes": 0, "root": node}))


class CountingReader(io.RawIOBase):
    """A read-only stream over *data* (bytes, or a path read lazily) that counts the bytes read."""

    def __init__(self, data, seekable=True):
        self.inner = open(data, "rb") if isinstance(data, (str, os.PathLike)) else io.BytesIO(data)
        self.name = getattr(self.inner, "name", "<counting>")
        self.bytes_read = 0
        self._seekable = seekable

    def readable(self):
        return True

    def seekable(self):
        return self._seekable

    def seek(self, offset, whence=0):
        if not self._seekable:
            raise io.UnsupportedOperation("seek")
        return self.inner.seek(offset, whence)

    def tell(self):
        return self.inner.tell()

    def readinto(self, b):
        n = self.inner.readinto(b)
        self.bytes_read += n
        return n

    def close(self):
        self.inner.close()
        super().close()


def _sparse(path, head, size):
    with open(path, "wb") as f:
        f.write(head)
        f.truncate(size)
    return path


@pytest.mark.parametrize("head", [b"PK\x03\x04", b"\x80\x04\x95", b"\x00" * 64],
                         ids=["zip", "pickle", "zeros"])
def test_a_large_foreign_file_is_refused_after_reading_its_prefix(tmp_path, head):
    big = _sparse(tmp_path / "big.bin", head, 256 * 2**20)   # sparse: no disk, no time
    with CountingReader(big) as f, pytest.raises(SerializationError, match="not a chainrule"):
        load(f)
    assert f.bytes_read <= 64
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(SerializationError, match="not a chainrule file"):
            load(big)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2**20 and time.perf_counter() - start < 5.0   # reads 64 bytes: ms, not s


def test_the_header_length_is_capped_before_the_header_is_read():
    head = ser.MAGIC + struct.pack("<IQ", 1, ser.MAX_HEADER_BYTES + 1)
    stream = CountingReader(head + b"{" * 4096, seekable=False)   # size unknown to the reader
    with pytest.raises(SerializationError, match=r"header claims \d+ bytes, more than the "
                                                 r"268435456"):
        load(stream)
    assert stream.bytes_read <= 22 + 4096 and stream.bytes_read < 64 * 1024


def test_a_file_longer_than_its_header_says_is_refused_before_the_payload_is_read(tmp_path):
    data = sample_bytes()
    path = tmp_path / "extended.cr"
    with open(path, "wb") as f:
        f.write(data)
        f.truncate(len(data) + 128 * 2**20)
    with CountingReader(path) as f, pytest.raises(SerializationError,
                                                 match="followed by extra bytes"):
        load(f)
    assert f.bytes_read < 4096
    with pytest.raises(SerializationError, match="followed by extra bytes"):
        load(CountingReader(data + b"\x00", seekable=False))


def test_save_refuses_a_header_beyond_the_cap(tmp_path, monkeypatch):
    monkeypatch.setattr(ser, "MAX_HEADER_BYTES", 1000)
    with pytest.raises(ValueError, match="more than a chainrule file may have"):
        save([{"k": i} for i in range(100)], tmp_path / "x.cr")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("raw", [
    b'{"payload_nbytes":0,"root":{"type":"float","value":1e999}}',
    b'{"payload_nbytes":0,"root":{"type":"float","value":-1e999}}',
    b'{"payload_nbytes":0,"root":{"type":"list","items":[{"type":"float","value":1.5e400}]}}',
    b'{"payload_nbytes":1e999,"root":{"type":"none"}}',
], ids=["inf", "-inf", "nested", "payload_nbytes"])
def test_a_json_number_too_large_for_a_float_is_refused(raw):
    """docs/format.md: non-finite floats are the strings "inf", "-inf", "nan", never numbers."""
    with pytest.raises(SerializationError, match="is not finite"):
        load_bytes(frame(raw))


def test_header_length_beyond_the_file():
    with pytest.raises(SerializationError, match="truncated"):
        load_bytes(frame(b"{}", header_len=2**63))
    with pytest.raises(SerializationError, match="truncated"):
        load_bytes(frame(b"{}", header_len=10_000))


def test_nonzero_padding_is_refused():
    data = bytearray(sample_bytes())
    header_len = struct.unpack_from("<Q", data, 14)[0]
    if (22 + header_len) % 64 == 0:
        pytest.skip("no padding in this sample")
    data[22 + header_len] = 1
    with pytest.raises(SerializationError, match="padding"):
        load_bytes(reseal(data))


def test_errors_name_the_file(tmp_path):
    path = tmp_path / "broken.cr"
    path.write_bytes(sample_bytes()[:-3])
    with pytest.raises(SerializationError, match=re.escape(repr(str(path)))):
        load(path)
    with open(path, "rb") as f, pytest.raises(SerializationError, match="broken.cr"):
        load(f)
    assert issubclass(SerializationError, ValueError)


# ---- no code execution -----------------------------------------------------------------------

class _Boom:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.fixture
def no_pickle(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("load used pickle")
    for name in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, name, forbidden)
    monkeypatch.setattr(np, "load", forbidden)


def test_pickle_payloads_are_never_unpickled(tmp_path, no_pickle):
    marker = tmp_path / "pwned"
    evil = pickle.dumps({"x": _Boom(str(marker))})
    # a bare pickle file, as torch.save or pickle.dump would write
    with pytest.raises(SerializationError, match="never unpickles"):
        load_bytes(evil)
    # a valid frame whose payload is a pickle, described as an object array
    entry = {"type": "ndarray", "dtype": "object", "shape": [1], "offset": 0, "nbytes": len(evil)}
    with pytest.raises(SerializationError, match="not allowed"):
        load_bytes(frame({"payload_nbytes": len(evil), "root": entry}, evil))
    # ... or as a node type that would need unpickling
    node = {"type": "pickle", "value": evil.hex()}
    with pytest.raises(SerializationError, match="not a valid node"):
        load_bytes(frame({"payload_nbytes": 0, "root": node}))
    # ... or as raw bytes with an allowed dtype: comes back as plain bytes, nothing runs
    entry = {"type": "ndarray", "dtype": "uint8", "shape": [len(evil)], "offset": 0,
             "nbytes": len(evil)}
    got = load_bytes(frame({"payload_nbytes": len(evil), "root": entry}, evil))
    assert got.tobytes() == evil
    assert not marker.exists()


def test_valid_files_load_without_pickle(no_pickle):
    assert_same(load_bytes(sample_bytes()), load_bytes(sample_bytes()))


def test_torch_save_file_is_refused(tmp_path, no_pickle):
    torch = pytest.importorskip("torch")
    path = tmp_path / "t.pt"
    torch.save({"w": torch.ones(2)}, path)
    with pytest.raises(SerializationError, match="not a chainrule file"):
        load(path)
