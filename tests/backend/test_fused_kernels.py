"""Fused elementwise kernels (issue 11): ``xp.fuse`` is ``cupy.fuse`` on CuPy, counted by the
stand-in, the function itself on NumPy; Adam's update, BCE-with-logits (forward and backward) and
ReLU's backward run as one kernel each on the stand-in device and give the CPU's numbers to the
bit."""
import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule.backend import cuda as cuda_backend
from chainrule.backend import numpy_namespace, standin


@pytest.fixture
def ns():
    with cuda_backend.use_standin() as namespace:
        standin.fused_launches.clear()
        yield namespace


def _pair(a, ns, requires_grad=True):
    """The same values as a CPU tensor and a stand-in tensor."""
    return (cr.Tensor(a.copy(), requires_grad=requires_grad),
            cr.Tensor(ns.asarray(a), requires_grad=requires_grad))


def _same(cpu, dev):
    np.testing.assert_array_equal(dev._data.get(), cpu._data)


# ---- the namespace's fuse ----------------------------------------------------------------------
def test_numpy_fuse_is_the_function_itself():
    def f(x):
        return x * 2
    assert numpy_namespace.fuses is False
    assert numpy_namespace.fuse(f) is f


def test_standin_fuse_counts_launches_and_caches_the_kernel(ns):
    def make(xp, k):
        def scale(x, s):
            return x * s + k
        return scale
    assert ns.fuses is True
    kernel = ns.fused(make, 1.0)
    assert ns.fused(make, 1.0) is kernel and ns.fused(make, 2.0) is not kernel
    out = kernel(ns.asarray(np.arange(3.0)), np.float64(2))
    np.testing.assert_array_equal(out.get(), [1.0, 3.0, 5.0])
    assert standin.fused_launches == {"scale": 1}


def test_standin_fuse_refuses_what_cupy_fuse_refuses(ns):
    kernel = ns.fuse(lambda x: x)
    with pytest.raises(TypeError, match="positionally"):
        kernel(x=ns.asarray(np.ones(2)))
    with pytest.raises(TypeError, match="device arrays or scalars"):
        kernel([1.0, 2.0])


# ---- ReLU's backward -------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_backward_fused_matches_cpu(ns, dtype):
    a = np.random.default_rng(0).standard_normal((7, 5)).astype(dtype)
    a[0, :2] = 0.0                                        # the kink: 0 gradient, as PyTorch
    g = np.random.default_rng(1).standard_normal((7, 5)).astype(dtype)
    (xc, xd) = _pair(a, ns)
    yc, yd = F.relu(xc), F.relu(xd)
    _same(yc, yd)
    yc.backward(cr.Tensor(g))
    yd.backward(cr.Tensor(ns.asarray(g)))
    _same(xc.grad, xd.grad)
    assert xd.grad._data.dtype == dtype
    assert standin.fused_launches == {"relu_backward": 1}


def test_relu_double_backward_on_the_standin_is_not_fused_and_correct(ns):
    a = np.array([-1.0, 0.5, 2.0])
    xc, xd = _pair(a, ns)
    gc, = cr.autograd.grad(F.relu(xc).pow(2).sum(), xc, create_graph=True)
    gd, = cr.autograd.grad(F.relu(xd).pow(2).sum(), xd, create_graph=True)
    _same(gc, gd)
    gc.sum().backward()
    gd.sum().backward()
    _same(xc.grad, xd.grad)


# ---- BCE with logits -------------------------------------------------------------------------
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bce_with_logits_fused_matches_cpu(ns, reduction, dtype):
    rng = np.random.default_rng(2)
    x = (rng.standard_normal((16, 3)) * 4).astype(dtype)
    x[0, 0], x[1, 1], x[2, 2] = 0.0, 1000.0, -1000.0     # sign boundary and saturation
    t = (rng.uniform(size=(16, 3)) > 0.5).astype(dtype)
    xc, xd = _pair(x, ns)
    tc, td = _pair(t, ns)
    lc = F.binary_cross_entropy_with_logits(xc, tc, reduction=reduction)
    ld = F.binary_cross_entropy_with_logits(xd, td, reduction=reduction)
    _same(lc, ld)
    lc.sum().backward()
    ld.sum().backward()
    _same(xc.grad, xd.grad)
    _same(tc.grad, td.grad)
    assert standin.fused_launches == {"bce_logits_forward": 1, "bce_logits_backward": 1}


def test_bce_with_logits_fused_with_weight(ns):
    rng = np.random.default_rng(3)
    x, t, w = rng.standard_normal((5, 4)), rng.uniform(size=(5, 4)), rng.uniform(size=(5, 4))
    xc, xd = _pair(x, ns)
    lc = F.binary_cross_entropy_with_logits(xc, cr.Tensor(t), weight=cr.Tensor(w))
    ld = F.binary_cross_entropy_with_logits(xd, cr.Tensor(ns.asarray(t)),
                                            weight=cr.Tensor(ns.asarray(w)))
    _same(lc, ld)
    lc.backward()
    ld.backward()
    _same(xc.grad, xd.grad)
    assert standin.fused_launches["bce_logits_forward"] == 1


def test_bce_with_logits_matches_torch_through_the_fused_path(ns):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    x, t = rng.standard_normal((6, 2)).astype(np.float32), rng.uniform(size=(6, 2)).astype(
        np.float32)
    xd = cr.Tensor(ns.asarray(x), requires_grad=True)
    ld = F.binary_cross_entropy_with_logits(xd, cr.Tensor(ns.asarray(t)))
    ld.backward()
    xt = torch.tensor(x, requires_grad=True)
    lt = torch.nn.functional.binary_cross_entropy_with_logits(xt, torch.tensor(t))
    lt.backward()
    np.testing.assert_allclose(ld._data.get(), lt.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(xd.grad._data.get(), xt.grad.numpy(), rtol=1e-6, atol=1e-8)


# ---- Adam ------------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs", [
    {},
    {"amsgrad": True},
    {"weight_decay": 0.1},
    {"weight_decay": 0.1, "decoupled_weight_decay": True, "maximize": True},
    {"betas": (0.3, 0.99)},                 # lerp weight >= 0.5: PyTorch's other lerp form
    {"foreach": False, "lr": 0.05},
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adam_fused_step_matches_cpu(ns, kwargs, dtype):
    rng = np.random.default_rng(5)
    shapes = [(4, 3), (3,), (2, 2, 2)]
    init = [rng.standard_normal(s).astype(dtype) for s in shapes]
    cpu = [cr.nn.Parameter(cr.Tensor(a.copy())) for a in init]
    dev = [cr.nn.Parameter(cr.Tensor(ns.asarray(a))) for a in init]
    oc, od = cr.optim.Adam(cpu, **kwargs), cr.optim.Adam(dev, **kwargs)
    for step in range(4):
        for pc, pd in zip(cpu, dev):
            g = rng.standard_normal(pc.shape).astype(dtype)
            pc.grad, pd.grad = cr.Tensor(g), cr.Tensor(ns.asarray(g))
        oc.step()
        od.step()
    for pc, pd in zip(cpu, dev):
        _same(pc, pd)
        for key, buf in oc.state[pc].items():
            if key != "step":
                _same(buf, od.state[pd][key])
    launches = sum(n for k, n in standin.fused_launches.items() if k.endswith("_step"))
    assert launches == 4 * len(shapes)          # one kernel per parameter per step


def test_adam_fused_matches_torch(ns):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(6)
    a = rng.standard_normal((5, 3)).astype(np.float32)
    p = cr.nn.Parameter(cr.Tensor(ns.asarray(a)))
    pt = torch.nn.Parameter(torch.tensor(a))
    opt, optt = cr.optim.Adam([p], lr=0.01), torch.optim.Adam([pt], lr=0.01)
    for _ in range(5):
        g = rng.standard_normal(a.shape).astype(np.float32)
        p.grad, pt.grad = cr.Tensor(ns.asarray(g)), torch.tensor(g)
        opt.step()
        optt.step()
    # float32: PyTorch's CPU kernels round x·s + y once (FMA) and may use MKL's sqrt
    np.testing.assert_allclose(p._data.get(), pt.detach().numpy(), rtol=1e-6, atol=1e-7)


def test_training_step_on_the_standin_uses_the_fused_kernels_and_no_transfer(ns):
    rng = np.random.default_rng(7)
    model = cr.nn.Sequential(cr.nn.Linear(4, 8), cr.nn.ReLU(), cr.nn.Linear(8, 1)).to("cuda")
    opt = cr.optim.Adam(model.parameters(), lr=0.01)
    x = cr.Tensor(ns.asarray(rng.standard_normal((16, 4)).astype(np.float32)))
    y = cr.Tensor(ns.asarray((rng.uniform(size=(16, 1)) > 0.5).astype(np.float32)))
    standin.reset_transfers()
    loss = F.binary_cross_entropy_with_logits(model(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    assert standin.transfers == {"to_device": 0, "to_host": 0}
    assert standin.fused_launches == {"bce_logits_forward": 1, "bce_logits_backward": 1,
                                      "relu_backward": 1, "adam_step": 4}
