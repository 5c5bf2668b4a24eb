"""PyTorch habits that must simply work: x.type(), f"{loss:.4f}", load(weights_only=True),
set_default_device, shape errors caught as RuntimeError."""
import io

import numpy as np
import pytest

import chainrule as cr
from chainrule.backend.cuda import use_standin
from chainrule.errors import ShapeError


def test_type_strings_follow_torch_with_chainrule_name():
    torch = pytest.importorskip("torch")
    for dt_cr, dt_t in [(cr.float32, torch.float32), (cr.float64, torch.float64),
                        (cr.float16, torch.float16), (cr.int64, torch.int64),
                        (cr.int32, torch.int32), (cr.int16, torch.int16), (cr.int8, torch.int8),
                        (cr.uint8, torch.uint8), (cr.bool, torch.bool)]:
        want = torch.ones(2, dtype=dt_t).type().replace("torch.", "chainrule.")
        assert cr.ones(2, dtype=dt_cr).type() == want


def test_type_converts_like_torch():
    x = cr.tensor([1.5, -2.5])
    assert x.type(cr.float32) is x                      # already that type: itself
    assert x.type(cr.float64).dtype == cr.float64
    assert x.type("torch.LongTensor").dtype == cr.int64
    assert x.type("chainrule.DoubleTensor").tolist() == [1.5, -2.5]
    assert x.type("float16").dtype == cr.float16
    with pytest.raises(TypeError, match="invalid type"):
        x.type("torch.FooTensor")
    w = cr.ones(2, requires_grad=True)
    w.type(cr.float64).sum().backward()                 # the conversion is differentiable
    assert w.grad.dtype == cr.float32


def test_type_cuda_strings_with_the_standin():
    with use_standin():
        x = cr.ones(2).cuda()
        assert x.type() == "chainrule.cuda.FloatTensor"
        y = cr.ones(2).type("torch.cuda.DoubleTensor")
        assert y.is_cuda and y.dtype == cr.float64
        assert y.type("torch.DoubleTensor").device == cr.device("cpu")


def test_format_one_element_tensors():
    loss = cr.tensor(0.123456)
    assert f"{loss:.4f}" == "0.1235"
    assert f"{loss}" == str(loss.item())          # a 0-d tensor formats as its number
    assert format(cr.tensor([2.5]), ".1f") == "2.5"            # one element, 1-d
    assert format(cr.tensor([[7]]), "d") == "7"
    assert f"{cr.tensor([1.0, 2.0])}" == str(cr.tensor([1.0, 2.0]))
    with pytest.raises(TypeError, match="unsupported format string"):
        format(cr.tensor([1.0, 2.0]), ".2f")


def test_format_matches_torch_for_0d():
    torch = pytest.importorskip("torch")
    for v in (0.5, -3.25, 1e-5):
        for spec in ("", ".4f", ".2e", "8.3f"):
            assert format(cr.tensor(v, dtype=cr.float64), spec) == \
                format(torch.tensor(v, dtype=torch.float64), spec)


@pytest.mark.parametrize("weights_only", [True, False, None])
def test_load_accepts_weights_only(weights_only, tmp_path):
    model = cr.nn.Linear(3, 2)
    path = tmp_path / "model.pth"
    cr.save(model.state_dict(), path)
    state = cr.load(path, weights_only=weights_only)
    fresh = cr.nn.Linear(3, 2)
    fresh.load_state_dict(state)
    np.testing.assert_array_equal(fresh.weight.detach().numpy(), model.weight.detach().numpy())


def test_load_map_location_and_bad_flag():
    buf = io.BytesIO()
    cr.save({"w": cr.ones(2), "n": 3}, buf)
    with use_standin():
        buf.seek(0)
        out = cr.load(buf, map_location="cuda")
        assert out["w"].is_cuda and out["n"] == 3
        buf.seek(0)
        assert not cr.load(buf, map_location={"cuda:0": "cpu"})["w"].is_cuda
    buf.seek(0)
    with pytest.raises(TypeError, match="weights_only"):
        cr.load(buf, weights_only="yes")


def test_set_default_device():
    assert cr.get_default_device() == cr.device("cpu")
    with use_standin():
        cr.set_default_device("cuda")
        try:
            assert cr.get_default_device() == cr.device("cuda")
            for t in (cr.zeros(2), cr.ones(2), cr.empty(2), cr.full((2,), 1.0), cr.eye(2),
                      cr.tensor([1.0]), cr.randn(2), cr.rand(2), cr.arange(3),
                      cr.linspace(0, 1, 3), cr.randint(0, 3, (2,))):
                assert t.is_cuda
            assert not cr.zeros(2, device="cpu").is_cuda
            assert not cr.zeros_like(cr.ones(2, device="cpu")).is_cuda   # follows its input
        finally:
            cr.set_default_device(None)
    assert not cr.zeros(2).is_cuda and cr.get_default_device() == cr.device("cpu")


def test_set_default_device_matches_torch_api():
    torch = pytest.importorskip("torch")
    assert str(cr.get_default_device()) == str(torch.get_default_device())


SHAPE_MISTAKES = [
    lambda m: m.ones(2, 3) @ m.ones(2, 3),
    lambda m: m.ones(2, 3).reshape(4),
    lambda m: m.ones(2) + m.ones(3),
    lambda m: m.cat([m.ones(2, 3), m.ones(3, 2)]),
    lambda m: m.nn.functional.linear(m.ones(2, 3), m.ones(4, 2)),
    lambda m: m.ones(2, 3).view(3, 3),
    lambda m: m.stack([m.ones(2), m.ones(3)]),
    lambda m: m.ones(2, 3).expand(3, 3),
    lambda m: m.nn.Linear(3, 2)(m.ones(4, 5)),
]


@pytest.mark.parametrize("mistake", SHAPE_MISTAKES)
def test_shape_errors_are_runtime_errors_as_in_torch(mistake):
    with pytest.raises(RuntimeError) as info:
        mistake(cr)
    assert isinstance(info.value, ShapeError) and isinstance(info.value, ValueError)
    torch = pytest.importorskip("torch")
    with pytest.raises(RuntimeError):
        mistake(torch)


def test_cuda_style_checks():
    assert isinstance(cr.cuda.is_available(), bool)
    assert cr.cuda.device_count() >= 0
    device = "cuda" if cr.cuda.is_available() else "cpu"
    assert cr.ones(2, device=device).device.type == device


def test_accelerator_device_pick_as_in_the_tutorials():
    device = cr.accelerator.current_accelerator().type if cr.accelerator.is_available() \
        else "cpu"
    assert device == ("cuda" if cr.cuda.is_available() else "cpu")
    assert cr.accelerator.device_count() == (cr.cuda.device_count()
                                             if cr.cuda.is_available() else 0)
    with use_standin():
        assert cr.accelerator.is_available()
        assert cr.accelerator.current_accelerator() == cr.device("cuda")
        cr.accelerator.synchronize()


def test_torch_utils_data_import_path():
    from chainrule.utils.data import DataLoader, TensorDataset
    assert DataLoader is cr.data.DataLoader and cr.utils.data.TensorDataset is TensorDataset
    batches = list(DataLoader(TensorDataset(cr.arange(6)), batch_size=4))
    assert [b[0].tolist() for b in batches] == [[0, 1, 2, 3], [4, 5]]
