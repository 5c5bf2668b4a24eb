"""safetensors files through cr.save / cr.load, and state dicts moving between PyTorch and chainrule."""
import struct
import sys

import numpy as np
import pytest

pytest.importorskip("safetensors")

import chainrule as cr  # noqa: E402
from chainrule import safetensors_io  # noqa: E402


def test_round_trip_of_every_dtype(tmp_path):
    path = tmp_path / "w.safetensors"
    tensors = {f"t_{dt}": np.arange(6).reshape(2, 3).astype(dt)
               for dt in ("bool", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64",
                          "uint64", "float16", "float32", "float64")}
    tensors["scalar"] = cr.tensor(2.5)
    tensors["empty"] = cr.zeros(0, 4)
    tensors["param"] = cr.nn.Parameter(cr.randn(3))
    cr.save(tensors, path)
    back = cr.load(path)
    assert sorted(back) == sorted(tensors)
    for key, value in tensors.items():
        want = value._data if isinstance(value, cr.Tensor) else value
        got = back[key]
        assert isinstance(got, cr.Tensor) and not got.requires_grad
        assert got._data.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_array_equal(got._data, want)
        assert got._data.flags.writeable


def test_metadata_and_bytes_api(tmp_path):
    data = safetensors_io.dumps({"w": cr.ones(2)}, metadata={"framework": "chainrule"})
    header_len = struct.unpack("<Q", data[:8])[0]
    assert b'"framework":"chainrule"' in data[8:8 + header_len]
    assert safetensors_io.loads(data)["w"].tolist() == [1.0, 1.0]
    assert safetensors_io.is_safetensors_path(tmp_path / "a.SafeTensors")
    assert not safetensors_io.is_safetensors_path("a.cr")


def test_only_flat_dicts_of_tensors_and_nothing_written_on_error(tmp_path):
    path = tmp_path / "w.safetensors"
    cr.save({"w": cr.ones(2)}, path)
    before = path.read_bytes()
    wrong_type, wrong_dtype, reserved = (cr.errors.ArgumentTypeError, cr.DTypeError,
                                         cr.errors.KeyNameError)
    for bad, kind, word in [({"w": {"nested": cr.ones(1)}}, wrong_type, "flat dict"),
                            ({"w": 3}, wrong_type, "int"),
                            ({1: cr.ones(1)}, wrong_type, "keys must be strings"),
                            ([cr.ones(1)], wrong_type, "dict"),
                            ({"w": np.array(["a"])}, wrong_dtype, "dtype"),
                            ({"__metadata__": cr.ones(1)}, reserved, "reserved")]:
        with pytest.raises(kind, match=word):
            cr.save(bad, path)
    assert path.read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if p.name != "w.safetensors"]  # no temporary files


def test_damaged_files_raise_serialization_error(tmp_path):
    good = safetensors_io.dumps({"a": np.arange(12, dtype=np.float32).reshape(3, 4)})
    header_len = struct.unpack("<Q", good[:8])[0]
    header = good[8:8 + header_len]
    damaged = {
        "empty": b"",
        "truncated prefix": good[:5],
        "truncated data": good[:-4],
        "garbage": b"not a safetensors file at all",
        "huge header length": struct.pack("<Q", 1 << 60) + good[8:],
        "bad json": good[:8] + b"x" + good[9:],
        "offsets outside": good[:8] + header.replace(b"[0,48]", b"[0,96]") + good[8 + header_len:],
        "unknown dtype": good[:8] + header.replace(b'"F32"', b'"Q32"') + good[8 + header_len:],
        "a chainrule file": None,
    }
    for name, data in damaged.items():
        path = tmp_path / f"{name.replace(' ', '_')}.safetensors"
        if data is None:
            cr.save({"a": cr.ones(2)}, tmp_path / "x.cr")
            data = (tmp_path / "x.cr").read_bytes()
        path.write_bytes(data)
        with pytest.raises(cr.SerializationError, match="cannot load"):
            cr.load(path)


def test_float8_is_refused_by_name():
    header = b'{"a":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[0,2]}}'
    header += b" " * (-len(header) % 8)
    data = struct.pack("<Q", len(header)) + header + b"\x00\x01"
    with pytest.raises(cr.SerializationError, match="F8_E4M3"):
        safetensors_io.loads(data)


def test_missing_package_gives_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "safetensors", None)
    with pytest.raises(ImportError, match=r"chainrule\[safetensors\]"):
        safetensors_io.dumps({"w": cr.ones(1)})


def torch_and_chainrule_mlps(torch):
    torch.manual_seed(0)
    tnet = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.ReLU(), torch.nn.BatchNorm1d(8),
                               torch.nn.Linear(8, 4), torch.nn.LayerNorm(4), torch.nn.Tanh())
    tnet.train()
    for _ in range(3):  # running statistics that are not 0 and 1
        tnet(torch.randn(16, 5) * 2)
    tnet.eval()
    net = cr.nn.Sequential(cr.nn.Linear(5, 8), cr.nn.ReLU(), cr.nn.BatchNorm1d(8),
                           cr.nn.Linear(8, 4), cr.nn.LayerNorm(4), cr.nn.Tanh()).eval()
    return tnet, net


def test_pytorch_state_dict_through_safetensors_gives_pytorchs_outputs(tmp_path):
    torch = pytest.importorskip("torch")
    from safetensors.torch import load_file, save_file
    tnet, net = torch_and_chainrule_mlps(torch)
    save_file(tnet.state_dict(), tmp_path / "torch.safetensors")
    assert net.load_state_dict(cr.load(tmp_path / "torch.safetensors")).missing_keys == []
    x = np.random.RandomState(0).randn(7, 5).astype(np.float32)
    want = tnet(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(net(cr.tensor(x))._data, want, atol=1e-6)
    assert int(net[2].num_batches_tracked.item()) == 3
    # and back: chainrule writes, PyTorch reads
    with cr.no_grad():
        net[0].weight.mul_(2)
    cr.save(net.state_dict(), tmp_path / "cr.safetensors")
    tnet.load_state_dict(load_file(tmp_path / "cr.safetensors"))
    np.testing.assert_allclose(tnet(torch.from_numpy(x)).detach().numpy(), net(cr.tensor(x))._data,
                               atol=1e-6)


def test_bfloat16_loads_as_float32_exactly(tmp_path):
    torch = pytest.importorskip("torch")
    from safetensors.torch import save_file
    w = torch.randn(4, 3).to(torch.bfloat16)
    save_file({"w": w}, tmp_path / "bf.safetensors")
    got = cr.load(tmp_path / "bf.safetensors")["w"]
    assert got.dtype == cr.float32
    np.testing.assert_array_equal(got._data, w.float().numpy())


def test_load_state_dict_takes_torch_tensors_and_numpy_arrays():
    torch = pytest.importorskip("torch")
    tnet, net = torch_and_chainrule_mlps(torch)
    net.load_state_dict(tnet.state_dict())  # torch tensors, converted through __array__
    x = np.random.RandomState(1).randn(3, 5).astype(np.float32)
    np.testing.assert_allclose(net(cr.tensor(x))._data, tnet(torch.from_numpy(x)).detach().numpy(),
                               atol=1e-6)
    arrays = {k: v.numpy().astype(np.float64) if v.is_floating_point() else v.numpy()
              for k, v in tnet.state_dict().items()}
    net.load_state_dict(arrays)  # float64 arrays into float32 parameters: cast, as PyTorch does
    assert net[0].weight.dtype == cr.float32
    lin = cr.nn.Linear(5, 8)
    lin.load_state_dict({"weight": tnet[0].weight.detach(), "bias": tnet[0].bias.detach()},
                        assign=True)
    with torch.no_grad():
        tnet[0].weight.zero_()
    assert lin.weight.abs().sum().item() > 0  # assign copied: no memory shared with torch
    with pytest.raises(cr.StateDictError, match="requires grad"):
        lin.load_state_dict(dict(tnet[0].named_parameters()))
    before = lin.weight._data.copy()
    with pytest.raises(cr.StateDictError, match="complex128"):
        lin.load_state_dict({"weight": np.zeros((8, 5), complex), "bias": np.zeros(8)})
    with pytest.raises(cr.StateDictError, match="size mismatch"):
        lin.load_state_dict({"weight": torch.zeros(5, 8), "bias": torch.zeros(8)})
    np.testing.assert_array_equal(lin.weight._data, before)  # nothing changed on error
