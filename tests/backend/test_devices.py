"""Devices: cr.device, device= on factories, .to/.cuda/.cpu, Module.to, and the GPU path on the
CPU stand-in for CuPy (backend/standin.py), which refuses implicit host conversions and counts
every host↔device copy."""
import numpy as np
import pytest

import chainrule as cr
from chainrule.backend import cuda as cuda_backend, standin
from chainrule.errors import ChainruleError, DeviceError


@pytest.fixture
def gpu():
    """The "cuda" device, played by the stand-in."""
    with cuda_backend.use_standin() as ns:
        standin.reset_transfers()
        yield ns


# ---- names and errors without a GPU -------------------------------------------------------------
def test_device_names_follow_torch():
    assert cr.device("cpu") == "cpu" and repr(cr.device("cpu")) == "device(type='cpu')"
    d = cr.device("cuda:1")
    assert (d.type, d.index, str(d)) == ("cuda", 1, "cuda:1")
    assert repr(d) == "device(type='cuda', index=1)"
    assert cr.device("cuda", 0) == cr.device("cuda:0") == cr.device("cuda")
    assert cr.device("cpu") != cr.device("cuda")
    for bad in ("gpu", "cuda:x", "cuda:-1", 3):
        with pytest.raises(DeviceError):
            cr.device(bad)


@pytest.mark.skipif(cr.cuda.is_available(), reason="a real GPU is present")
def test_asking_for_cuda_without_a_gpu_says_what_to_install():
    assert cr.cuda.device_count() == 0
    with pytest.raises(DeviceError, match=r"chainrule\[cuda\]|no NVIDIA GPU|no usable GPU") as e:
        cr.zeros(2, device="cuda")
    assert isinstance(e.value, RuntimeError) and isinstance(e.value, ChainruleError)
    x = cr.ones(3)
    with pytest.raises(DeviceError):
        x.cuda()
    model = cr.nn.Linear(2, 2)
    before = model.weight._data
    with pytest.raises(DeviceError):
        model.cuda()
    assert model.weight._data is before          # nothing moved on error
    assert not x.is_cuda and x.device == cr.device("cpu")


# ---- the stand-in behaves like CuPy where bugs hide ---------------------------------------------
def test_standin_refuses_implicit_host_conversion(gpu):
    a = gpu.asarray([1.0, 2.0])
    with pytest.raises(TypeError):
        np.asarray(a)
    with pytest.raises(TypeError):
        np.exp(a)
    with pytest.raises(TypeError):
        a + np.ones(2)
    assert type(a.sum()) is standin.StandInArray          # reductions stay 0-d device arrays
    before = dict(standin.transfers)
    float(a.sum())
    assert standin.transfers["to_host"] == before["to_host"] + 1


# ---- tensors on the device ------------------------------------------------------------------------
def test_tensor_to_cuda_and_back(gpu):
    x = cr.tensor([[1.0, -2.0], [3.0, 4.0]])
    y = x.to("cuda")
    assert y.is_cuda and y.device == "cuda:0" and y.device.type == "cuda"
    assert type(y._data) is standin.StandInArray
    with pytest.raises(TypeError, match="cpu"):
        y.numpy()
    assert np.array_equal(y.cpu().numpy(), x.numpy())
    assert x.cuda().is_cuda and y.cuda() is y and x.cpu() is x
    z = x.to("cuda", cr.float64)
    assert z.dtype == cr.float64 and z.is_cuda
    assert "device='cuda:0'" in repr(y)


def test_factories_take_device(gpu):
    for t in (cr.zeros(2, 3, device="cuda"), cr.ones(2, device="cuda"), cr.full((2,), 7.0, device="cuda"),
              cr.eye(3, device="cuda"), cr.randn(4, device="cuda"), cr.rand(4, device="cuda"),
              cr.arange(5, device="cuda"), cr.tensor([1, 2], device="cuda"), cr.empty(2, device="cuda")):
        assert t.is_cuda, t
    x = cr.zeros(3, device="cuda")
    assert cr.zeros_like(x).is_cuda and cr.ones_like(x).is_cuda and cr.randn_like(x).is_cuda
    assert not cr.zeros_like(x, device="cpu").is_cuda
    # the same seed gives the same draws on either device
    cr.manual_seed(3)
    a = cr.randn(5)
    cr.manual_seed(3)
    b = cr.randn(5, device="cuda")
    assert np.array_equal(a.numpy(), b.cpu().numpy())


def test_gradient_flows_back_across_devices(gpu):
    x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x.cuda() * x.cuda()).sum().backward()
    assert not x.grad.is_cuda
    assert np.allclose(x.grad.numpy(), [2.0, 4.0, 6.0])
    w = cr.tensor([1.0, -1.0], device="cuda", requires_grad=True)
    ((w.exp() * 2).sum()).backward()
    assert w.grad.is_cuda
    assert np.allclose(w.grad.cpu().numpy(), 2 * np.exp([1.0, -1.0]))


def test_two_devices_in_one_op_raise_naming_both(gpu):
    a, b = cr.ones(2), cr.ones(2, device="cuda")
    with pytest.raises(DeviceError, match=r"cpu.*cuda:0|cuda:0.*cpu"):
        a + b
    with pytest.raises(RuntimeError, match="same device"):
        cr.matmul(cr.ones(2, 2), cr.ones(2, 2, device="cuda"))


def test_module_to_moves_parameters_and_buffers(gpu):
    model = cr.nn.Sequential(cr.nn.Linear(3, 4), cr.nn.BatchNorm1d(4), cr.nn.ReLU(), cr.nn.Linear(4, 1))
    w0 = model[0].weight
    assert model.to("cuda") is model
    assert model[0].weight is w0 and w0.is_cuda            # identity kept, memory moved
    assert all(t.is_cuda for t in model.parameters()) and all(t.is_cuda for t in model.buffers())
    model.cpu()
    assert not any(t.is_cuda for t in model.parameters())
    model.cuda()
    sd = model.state_dict()
    assert all(v.is_cuda for v in sd.values())
    fresh = cr.nn.Sequential(cr.nn.Linear(3, 4), cr.nn.BatchNorm1d(4), cr.nn.ReLU(), cr.nn.Linear(4, 1)).cuda()
    fresh.load_state_dict({k: v.cpu() for k, v in sd.items()})
    assert fresh[0].weight.is_cuda
    assert np.array_equal(fresh[0].weight.detach().cpu().numpy(), model[0].weight.detach().cpu().numpy())


def _heart_like_run(device, steps=5):
    cr.manual_seed(0)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 28)).astype(np.float32)
    y = (X[:, :1] > 0).astype(np.float32)
    model = cr.nn.Sequential(cr.nn.Linear(28, 16), cr.nn.ReLU(), cr.nn.Linear(16, 1)).to(device)
    opt = cr.optim.Adam(model.parameters(), lr=1e-2)
    loss_fn = cr.nn.BCEWithLogitsLoss()
    xb, yb = cr.tensor(X).to(device), cr.tensor(y).to(device)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = loss_fn(model(xb), yb)
        loss.backward()
        opt.step()
        losses.append(loss)
    return model, opt, losses, (xb, yb, loss_fn)


def test_training_on_the_device_matches_the_cpu(gpu):
    m_cpu, _, l_cpu, _ = _heart_like_run("cpu")
    m_gpu, opt, l_gpu, _ = _heart_like_run("cuda")
    for a, b in zip(l_cpu, l_gpu):
        assert np.allclose(a.item(), b.item(), rtol=1e-6, atol=1e-7)
    for p, q in zip(m_cpu.parameters(), m_gpu.parameters()):
        assert q.is_cuda
        assert np.allclose(p.detach().numpy(), q.detach().cpu().numpy(), rtol=1e-5, atol=1e-6)
    for state in opt.state.values():        # optimiser state lives on its parameter's device
        assert state["exp_avg"].is_cuda and state["exp_avg_sq"].is_cuda


@pytest.mark.parametrize("loss_name", ["bce", "ce", "mse"])
def test_a_training_step_makes_no_host_device_transfer(gpu, loss_name):
    cr.manual_seed(0)
    out = 1 if loss_name != "ce" else 3
    model = cr.nn.Sequential(cr.nn.Linear(8, 16), cr.nn.ReLU(), cr.nn.Dropout(0.1),
                             cr.nn.Linear(16, out)).cuda()
    opt = cr.optim.Adam(model.parameters(), lr=1e-3)
    x = cr.randn(32, 8, device="cuda")
    if loss_name == "bce":
        target, loss_fn = (cr.rand(32, 1, device="cuda") > 0.5).float(), cr.nn.BCEWithLogitsLoss()
    elif loss_name == "ce":
        target, loss_fn = cr.randint(0, 3, (32,), device="cuda"), cr.nn.CrossEntropyLoss()
    else:
        target, loss_fn = cr.randn(32, 1, device="cuda"), cr.nn.MSELoss()

    def step():
        opt.zero_grad()
        loss = loss_fn(model(x), target)
        loss.backward()
        opt.step()
        return loss
    step()                                   # the first step makes the optimiser's state
    standin.reset_transfers()
    for _ in range(3):
        loss = step()
    assert standin.transfers == {"to_device": 0, "to_host": 0}
    assert np.isfinite(loss.item())          # asked for by the user: one copy to the host
    assert standin.transfers["to_host"] == 1


def test_cuda_module_on_the_standin(gpu):
    assert cr.cuda.is_available() and cr.cuda.device_count() == 1
    cr.cuda.synchronize()                       # nothing queued on the stand-in: returns at once
    with pytest.raises(DeviceError, match="cuda:1"):
        cr.zeros(2, device="cuda:1")


@pytest.mark.skipif(cr.cuda.is_available(), reason="a real GPU is present")
def test_synchronize_without_a_gpu_says_what_to_install():
    with pytest.raises(DeviceError):
        cr.cuda.synchronize()


def test_maximum_with_a_number_stays_on_the_device(gpu):
    x = cr.tensor([-1.0, 2.0], device="cuda", dtype=cr.float64, requires_grad=True)
    y = cr.maximum(x, 0.5)
    assert y.is_cuda and y.dtype == cr.float64
    y.sum().backward()
    assert np.array_equal(x.grad.cpu().numpy(), [0.0, 1.0])
