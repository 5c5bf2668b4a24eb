"""The catalogue's layers: GroupNorm, InstanceNorm1d/2d, RMSNorm, LocalResponseNorm, Bilinear,
CosineSimilarity, PairwiseDistance (and their F. forms) against PyTorch, values, gradients and
running statistics; gradcheck in float64; ParameterList and ParameterDict."""
import warnings

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn
from chainrule.autograd import gradcheck, gradgradcheck

RNG = np.random.default_rng(0)


def f64(a, grad=True):
    return cr.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


def _copy_params(ours, theirs):
    """Give our module the torch module's parameter values (float64)."""
    torch = pytest.importorskip("torch")
    with torch.no_grad():
        for (name, p), (tname, tp) in zip(ours.named_parameters(), theirs.named_parameters()):
            assert name == tname
            tp.copy_(torch.tensor(RNG.normal(size=tuple(p.shape))))
            p.data[...] = tp.detach().numpy()


def _module_parity(ours, theirs, x, rtol=1e-10, atol=1e-12):
    torch = pytest.importorskip("torch")
    theirs = theirs.double()
    _copy_params(ours, theirs)
    xo, xt = f64(x), torch.tensor(x, requires_grad=True)
    y, ref = ours(xo), theirs(xt)
    np.testing.assert_allclose(y.detach().numpy(), ref.detach().numpy(), rtol=rtol, atol=atol)
    g = RNG.normal(size=tuple(ref.shape))
    (y * cr.tensor(g)).sum().backward()
    (ref * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(xo.grad.numpy(), xt.grad.numpy(), rtol=rtol, atol=atol)
    for (name, p), (_, tp) in zip(ours.named_parameters(), theirs.named_parameters()):
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=rtol, atol=atol,
                                   err_msg=name)
    return y


@pytest.mark.parametrize("groups, channels, affine, shape",
                         [(2, 4, True, (3, 4, 5)), (3, 6, False, (2, 6, 2, 3)),
                          (1, 3, True, (2, 3))])
def test_group_norm_module_matches_torch(groups, channels, affine, shape):
    torch = pytest.importorskip("torch")
    m = nn.GroupNorm(groups, channels, affine=affine, dtype=cr.float64)
    tm = torch.nn.GroupNorm(groups, channels, affine=affine)
    _module_parity(m, tm, RNG.normal(size=shape))
    assert repr(m) == repr(tm)
    assert list(m.state_dict()) == list(tm.state_dict())


@pytest.mark.parametrize("name, shape", [("InstanceNorm1d", (3, 4, 6)), ("InstanceNorm1d", (4, 6)),
                                         ("InstanceNorm2d", (2, 4, 3, 5)),
                                         ("InstanceNorm2d", (4, 3, 5))])
@pytest.mark.parametrize("affine, track", [(False, False), (True, True), (True, False),
                                           (False, True)])
def test_instance_norm_matches_torch_with_running_stats(name, shape, affine, track):
    torch = pytest.importorskip("torch")
    m = getattr(nn, name)(4, affine=affine, track_running_stats=track, momentum=0.3,
                          dtype=cr.float64)
    tm = getattr(torch.nn, name)(4, affine=affine, track_running_stats=track, momentum=0.3)
    for _ in range(2):                                    # training: input statistics
        _module_parity(m, tm, RNG.normal(size=shape) * 2 + 1)
    assert list(m.state_dict()) == list(tm.state_dict())
    if track:
        np.testing.assert_allclose(m.running_mean.numpy(), tm.running_mean.numpy(), rtol=1e-12)
        np.testing.assert_allclose(m.running_var.numpy(), tm.running_var.numpy(), rtol=1e-12)
    m.eval(), tm.eval()                                   # evaluation: running statistics
    _module_parity(m, tm, RNG.normal(size=shape))
    assert repr(m) == repr(tm)


def test_instance_norm_functional_and_errors():
    x = f64(RNG.normal(size=(2, 3, 4)))
    w, b = f64(RNG.normal(size=3)), f64(RNG.normal(size=3))
    assert gradcheck(lambda a, c, d: F.instance_norm(a, weight=c, bias=d), (x, w, b))
    assert gradgradcheck(lambda a: F.instance_norm(a), (x,))
    with pytest.raises(ValueError, match="Expected more than 1 spatial element when training"):
        F.instance_norm(f64(np.ones((2, 3, 1))))
    with pytest.raises(ValueError, match=r"expected 2D or 3D input \(got 4D input"):
        nn.InstanceNorm1d(3)(f64(np.ones((2, 3, 4, 4))))
    with pytest.raises(ValueError, match="to match num_features"):
        nn.InstanceNorm1d(5, affine=True)(x)
    with pytest.warns(UserWarning, match="does not match num_features"):
        nn.InstanceNorm1d(5)(x)


@pytest.mark.parametrize("shape, norm_shape, eps", [((3, 6), (6,), None), ((2, 3, 4), (3, 4), 1e-3),
                                                    ((5,), 5, 1e-6)])
@pytest.mark.parametrize("affine", [True, False])
def test_rms_norm_matches_torch(shape, norm_shape, eps, affine):
    torch = pytest.importorskip("torch")
    m = nn.RMSNorm(norm_shape, eps=eps, elementwise_affine=affine, dtype=cr.float64)
    tm = torch.nn.RMSNorm(norm_shape, eps=eps, elementwise_affine=affine)
    _module_parity(m, tm, RNG.normal(size=shape))
    assert repr(m) == repr(tm)
    assert list(m.state_dict()) == list(tm.state_dict())
    x = f64(RNG.normal(size=shape))
    assert gradgradcheck(lambda a: F.rms_norm(a, norm_shape, eps=1e-3), (x,))


def test_rms_norm_float32_default_eps_matches_torch():
    torch = pytest.importorskip("torch")
    x = RNG.normal(size=(4, 8)).astype(np.float32) * 1e-4
    y = F.rms_norm(cr.tensor(x), (8,))
    ref = torch.nn.functional.rms_norm(torch.tensor(x), (8,))
    np.testing.assert_allclose(y.numpy(), ref.numpy(), rtol=2e-6)


@pytest.mark.parametrize("size, shape", [(2, (2, 5, 3)), (3, (2, 6, 2, 2)), (5, (1, 4, 3)),
                                         (1, (2, 3, 2, 2, 2))])
def test_local_response_norm_matches_torch(size, shape):
    torch = pytest.importorskip("torch")
    m = nn.LocalResponseNorm(size, alpha=0.5, beta=0.6, k=1.5)
    tm = torch.nn.LocalResponseNorm(size, alpha=0.5, beta=0.6, k=1.5)
    _module_parity(m, tm, RNG.normal(size=shape))
    assert repr(m) == repr(tm)
    x = f64(RNG.normal(size=shape))
    assert gradcheck(lambda a: F.local_response_norm(a, size, 0.5, 0.6, 1.5), (x,))
    with pytest.raises(ValueError, match="Expected 3D or higher dimensionality input"):
        F.local_response_norm(f64(np.ones((2, 3))), 2)


@pytest.mark.parametrize("shape1, shape2", [((4, 3), (4, 5)), ((2, 3, 3), (2, 3, 5)),
                                            ((3,), (5,))])
@pytest.mark.parametrize("bias", [True, False])
def test_bilinear_matches_torch(shape1, shape2, bias):
    torch = pytest.importorskip("torch")
    m = nn.Bilinear(shape1[-1], shape2[-1], 2, bias=bias, dtype=cr.float64)
    tm = torch.nn.Bilinear(shape1[-1], shape2[-1], 2, bias=bias).double()
    _copy_params(m, tm)
    x1, x2 = RNG.normal(size=shape1), RNG.normal(size=shape2)
    xo = [f64(x1), f64(x2)]
    xt = [torch.tensor(a, requires_grad=True) for a in (x1, x2)]
    y, ref = m(*xo), tm(*xt)
    np.testing.assert_allclose(y.detach().numpy(), ref.detach().numpy(), rtol=1e-12)
    y.sum().backward()
    ref.sum().backward()
    for a, b in zip(xo + list(m.parameters()), xt + list(tm.parameters())):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-11, atol=1e-13)
    assert repr(m) == repr(tm)
    assert gradcheck(F.bilinear, (f64(x1), f64(x2), f64(RNG.normal(size=(2,) + shape1[-1:] +
                                                                     shape2[-1:]))))


def test_bilinear_init_bounds_and_errors():
    m = nn.Bilinear(4, 2, 3)
    assert m.weight.shape == (3, 4, 2) and float(m.weight.abs().max()) <= 0.5
    with pytest.raises(ValueError, match="input1 size does not match weight size: got 3 but "
                                         "expected 4"):
        m(cr.ones(5, 3), cr.ones(5, 2))
    with pytest.raises(ValueError, match="input batch dimensions do not match"):
        m(cr.ones(5, 4), cr.ones(4, 2))


@pytest.mark.parametrize("s1, s2, dim", [((4, 5), (4, 5), 1), ((4, 5), (5,), -1),
                                         ((2, 3, 4), (2, 3, 4), 0), ((3, 1), (1, 4), 0)])
def test_cosine_similarity_matches_torch(torch_parity, s1, s2, dim):
    torch = pytest.importorskip("torch")
    a, b = RNG.normal(size=s1), RNG.normal(size=s2)
    torch_parity(lambda x, y: nn.CosineSimilarity(dim)(x, y),
                 lambda x, y: torch.nn.CosineSimilarity(dim)(x, y), [a, b])
    torch_parity(lambda x, y: F.cosine_similarity(x, y, dim), lambda x, y:
                 torch.nn.functional.cosine_similarity(x, y, dim), [a, b], dtype=np.float32)
    assert gradgradcheck(lambda x, y: F.cosine_similarity(x, y, dim), (f64(a), f64(b)))


def test_cosine_similarity_of_a_zero_vector_is_zero_with_torch_gradient(torch_parity):
    torch = pytest.importorskip("torch")
    a, b = RNG.normal(size=(3, 4)), RNG.normal(size=(3, 4))
    a[1] = 0.0
    torch_parity(F.cosine_similarity, torch.nn.functional.cosine_similarity, [a, b])


@pytest.mark.parametrize("p", [2.0, 1.0, 3.0, float("inf")])
@pytest.mark.parametrize("keepdim", [False, True])
def test_pairwise_distance_matches_torch(torch_parity, p, keepdim):
    torch = pytest.importorskip("torch")
    a, b = RNG.normal(size=(5, 3)), RNG.normal(size=(5, 3))
    torch_parity(lambda x, y: nn.PairwiseDistance(p, 1e-6, keepdim)(x, y),
                 lambda x, y: torch.nn.PairwiseDistance(p, 1e-6, keepdim)(x, y), [a, b])
    torch_parity(lambda x, y: F.pairwise_distance(x, y, p), lambda x, y:
                 torch.nn.functional.pairwise_distance(x, y, p), [a, b[0]])
    assert gradcheck(lambda x, y: F.pairwise_distance(x, y, p), (f64(a), f64(b)))
    assert repr(nn.PairwiseDistance(p, 1e-6, keepdim)) == repr(
        torch.nn.PairwiseDistance(p, 1e-6, keepdim))


def test_parameter_list_registers_and_behaves_as_a_list():
    torch = pytest.importorskip("torch")
    pl = nn.ParameterList([cr.ones(2), nn.Parameter(cr.zeros(3))])
    pl.append(cr.ones(1, 4))
    pl += [cr.zeros(2)]
    assert len(pl) == 4 and all(isinstance(p, nn.Parameter) for p in pl)
    assert [n for n, _ in pl.named_parameters()] == ["0", "1", "2", "3"]
    assert pl[-1] is pl[3] and len(pl[1:3]) == 2
    pl[0] = cr.full((2,), 5.0)
    assert pl[0].tolist() == [5.0, 5.0] and pl[0].requires_grad
    pl.append("not a tensor")
    assert pl[4] == "not a tensor" and len(list(pl.parameters())) == 4
    tl = torch.nn.ParameterList([torch.ones(2), torch.zeros(3)])
    ol = nn.ParameterList([cr.ones(2), cr.zeros(3)])
    assert repr(ol).replace("chainrule", "torch") == repr(tl)
    with pytest.raises(IndexError):
        pl[7]
    with pytest.raises(RuntimeError, match="should not be called"):
        pl(cr.ones(1))

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.ws = nn.ParameterList([cr.ones(2, 2) for _ in range(3)])

    net = Net()
    assert list(net.state_dict()) == ["ws.0", "ws.1", "ws.2"]
    opt = cr.optim.SGD(net.parameters(), lr=0.1)
    sum((w * w).sum() for w in net.ws).backward()
    opt.step()
    np.testing.assert_allclose(net.ws[2].detach().numpy(), np.full((2, 2), 0.8), rtol=1e-6)


def test_parameter_dict_registers_and_behaves_as_a_dict():
    pd = nn.ParameterDict({"b": cr.ones(2), "a": cr.zeros(1)})
    assert list(pd.keys()) == ["a", "b"]            # a plain dict is sorted, as PyTorch
    pd["c"] = cr.ones(3)
    assert "c" in pd and len(pd) == 3 and isinstance(pd["c"], nn.Parameter)
    assert [n for n, _ in pd.named_parameters()] == ["a", "b", "c"]
    assert pd.pop("b").shape == (2,) and list(pd) == ["a", "c"]
    assert pd.get("zz") is None and pd.setdefault("d", cr.zeros(2)).shape == (2,)
    k, v = pd.popitem()
    assert k == "d" and list(pd) == ["a", "c"]
    merged = pd | {"e": cr.ones(1)}
    assert list(merged) == ["a", "c", "e"] and list(pd) == ["a", "c"]
    pd.update([("x", cr.ones(1)), ("y", 3)])
    assert pd["y"] == 3 and [n for n, _ in pd.named_parameters()] == ["a", "c", "x"]
    del pd["x"]
    assert "x" not in pd and len(list(pd.parameters())) == 2
    assert "(w): Parameter containing: [chainrule.float32 of size 2x3]" in repr(
        nn.ParameterDict({"w": cr.ones(2, 3)}))
    with pytest.raises(TypeError, match="keys must be strings"):
        pd[3] = cr.ones(1)
    with pytest.raises(KeyError):
        pd["nope"]
    pd.clear()
    assert len(pd) == 0 and not list(pd.parameters())


def test_layers_warn_nothing_in_normal_use():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nn.GroupNorm(2, 4)(cr.randn(2, 4, 3))
        nn.InstanceNorm2d(3)(cr.randn(2, 3, 4, 4))
        nn.LocalResponseNorm(3)(cr.randn(2, 5, 4))
