"""nn.init: gains, fans, the statistics of every initialiser, in-place semantics (against torch)."""
import math

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.nn import init


@pytest.mark.parametrize("args", [("linear",), ("conv1d",), ("conv2d",), ("conv3d",),
                                  ("conv_transpose2d",), ("sigmoid",), ("tanh",), ("relu",),
                                  ("leaky_relu",), ("leaky_relu", 0.2), ("leaky_relu", 1),
                                  ("leaky_relu", math.sqrt(5)), ("selu",)])
def test_calculate_gain_matches_torch(args):
    torch = pytest.importorskip("torch")
    assert init.calculate_gain(*args) == pytest.approx(torch.nn.init.calculate_gain(*args),
                                                       rel=1e-15)


def test_calculate_gain_errors():
    with pytest.raises(ValueError, match="Unsupported nonlinearity swish"):
        init.calculate_gain("swish")
    with pytest.raises(ValueError, match="not a valid number"):
        init.calculate_gain("leaky_relu", "0.1")


@pytest.mark.parametrize("shape", [(3, 4), (5, 2, 3), (4, 3, 2, 2)])
def test_fans_match_torch(shape):
    torch = pytest.importorskip("torch")
    from torch.nn.init import _calculate_fan_in_and_fan_out as tfans
    assert init._calculate_fan_in_and_fan_out(cr.zeros(*shape)) == tfans(torch.zeros(*shape))


def test_fans_need_two_dims():
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init._calculate_fan_in_and_fan_out(cr.zeros(3))
    with pytest.raises(ValueError, match="Mode fan_avg not supported"):
        init.kaiming_normal_(cr.zeros(3, 3), mode="fan_avg")


def _big(shape=(500, 400)):
    cr.manual_seed(0)
    return cr.empty(*shape)


def test_uniform_and_normal():
    w = init.uniform_(_big(), -2.0, 3.0)
    assert w.data.min() >= -2 and w.data.max() <= 3
    assert abs(w.data.mean() - 0.5) < 0.02 and abs(w.data.var() - 25 / 12) < 0.03
    w = init.normal_(_big(), 1.5, 0.5)
    assert abs(w.data.mean() - 1.5) < 0.005 and abs(w.data.std() - 0.5) < 0.005


def test_trunc_normal():
    w = init.trunc_normal_(_big(), mean=0.0, std=1.0, a=-1.0, b=2.0)
    assert w.data.min() >= -1 and w.data.max() <= 2
    # mean of N(0,1) truncated to [-1, 2]: (φ(-1) - φ(2)) / (Φ(2) - Φ(-1))
    phi = lambda v: math.exp(-v * v / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    cdf = lambda v: 0.5 * (1 + math.erf(v / math.sqrt(2)))  # noqa: E731
    assert abs(w.data.mean() - (phi(-1) - phi(2)) / (cdf(2) - cdf(-1))) < 0.01
    with pytest.raises(ValueError, match="a < b"):
        init.trunc_normal_(cr.zeros(2), a=1.0, b=0.0)


def test_constants():
    assert init.constant_(cr.zeros(2, 2), 0.25).tolist() == [[0.25, 0.25], [0.25, 0.25]]
    assert init.ones_(cr.zeros(3)).tolist() == [1, 1, 1]
    assert init.zeros_(cr.ones(3)).tolist() == [0, 0, 0]
    assert init.eye_(cr.zeros(2, 3)).tolist() == [[1, 0, 0], [0, 1, 0]]


@pytest.mark.parametrize("gain", [1.0, 2.0])
def test_xavier(gain):
    fan_in, fan_out = 400, 500
    w = init.xavier_uniform_(_big(), gain=gain)
    a = gain * math.sqrt(6 / (fan_in + fan_out))
    assert np.abs(w.data).max() <= a and np.abs(w.data).max() > 0.99 * a
    assert abs(w.data.var() - a * a / 3) < 0.02 * a * a
    w = init.xavier_normal_(_big(), gain=gain)
    std = gain * math.sqrt(2 / (fan_in + fan_out))
    assert abs(w.data.std() - std) < 0.01 * std


@pytest.mark.parametrize("a, mode, nonlinearity", [(0, "fan_in", "relu"),
                                                   (0, "fan_out", "relu"),
                                                   (math.sqrt(5), "fan_in", "leaky_relu"),
                                                   (0.1, "fan_out", "leaky_relu"),
                                                   (0, "fan_in", "tanh")])
def test_kaiming(a, mode, nonlinearity):
    shape = (500, 40, 10)  # fan_in 400, fan_out 5000
    fan = 400 if mode == "fan_in" else 5000
    gain = init.calculate_gain(nonlinearity, a)
    w = init.kaiming_normal_(_big(shape), a=a, mode=mode, nonlinearity=nonlinearity)
    std = gain / math.sqrt(fan)
    assert abs(w.data.std() - std) < 0.01 * std and abs(w.data.mean()) < 0.01 * std
    w = init.kaiming_uniform_(_big(shape), a=a, mode=mode, nonlinearity=nonlinearity)
    bound = math.sqrt(3) * std
    assert np.abs(w.data).max() <= bound and np.abs(w.data).max() > 0.99 * bound
    assert abs(w.data.var() - bound ** 2 / 3) < 0.02 * bound ** 2


def test_kaiming_bounds_match_torch():
    torch = pytest.importorskip("torch")
    for kw in ({}, {"a": math.sqrt(5)}, {"mode": "fan_out", "nonlinearity": "relu"}):
        t = torch.empty(300, 200)
        torch.nn.init.kaiming_uniform_(t, **kw)
        ours = init.kaiming_uniform_(cr.empty(300, 200), **kw)
        tb, ob = t.abs().max().item(), float(np.abs(ours.data).max())
        assert abs(tb - ob) < 0.01 * tb


def test_orthogonal():
    for shape in ((6, 4), (4, 6), (3, 2, 2)):
        w = init.orthogonal_(cr.empty(*shape), gain=2.0).data.reshape(shape[0], -1)
        if w.shape[0] <= w.shape[1]:
            np.testing.assert_allclose(w @ w.T, 4 * np.eye(w.shape[0]), atol=1e-5)
        else:
            np.testing.assert_allclose(w.T @ w, 4 * np.eye(w.shape[1]), atol=1e-5)
    with pytest.raises(ValueError, match="2 or more dimensions"):
        init.orthogonal_(cr.zeros(3))


def test_in_place_version_bump_no_graph_and_identity():
    p = nn.Parameter(cr.zeros(3, 4))
    v = p._version
    out = init.kaiming_uniform_(p)
    assert out is p and p._version == v + 1
    assert p.grad_fn is None and p.requires_grad and p.is_leaf
    y = (p * p).sum()      # saves p for backward
    init.normal_(p)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.backward()


def test_generators_make_draws_reproducible():
    a = init.normal_(cr.empty(5), generator=cr.Generator().manual_seed(4))
    b = init.normal_(cr.empty(5), generator=cr.Generator().manual_seed(4))
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    c = init.xavier_uniform_(cr.empty(3, 3), generator=cr.Generator().manual_seed(4))
    d = init.xavier_uniform_(cr.empty(3, 3), generator=cr.Generator().manual_seed(4))
    np.testing.assert_array_equal(c.numpy(), d.numpy())


def test_dtype_kept_and_zero_element_warning():
    assert init.normal_(cr.empty(3, dtype=cr.float64)).dtype == cr.float64
    with pytest.warns(UserWarning, match="no-op"):
        init.kaiming_uniform_(cr.empty(0, 3))
    with pytest.raises(TypeError, match="uniform_: expected a cr.Tensor"):
        init.uniform_(np.zeros(3))


@pytest.mark.parametrize("shape, groups", [((4, 4, 3), 1), ((6, 3, 3, 3), 2), ((2, 5, 3, 3), 1),
                                           ((4, 2, 1, 3, 3), 2)])
def test_dirac_matches_torch(shape, groups):
    torch = pytest.importorskip("torch")
    w = cr.empty(*shape)
    cr.nn.init.dirac_(w, groups)
    ref = torch.empty(*shape)
    torch.nn.init.dirac_(ref, groups)
    np.testing.assert_array_equal(w.numpy(), ref.numpy())


def test_dirac_keeps_a_convolutions_input():
    conv = cr.nn.Conv2d(3, 3, 3, padding=1, bias=False)
    cr.nn.init.dirac_(conv.weight)
    x = cr.randn(2, 3, 5, 5)
    np.testing.assert_allclose(conv(x).detach().numpy(), x.numpy(), atol=1e-6)
    with pytest.raises(cr.errors.ShapeError, match="3, 4, or 5 dimensions"):
        cr.nn.init.dirac_(cr.empty(3, 3))
    with pytest.raises(cr.errors.ConfigError, match="divisible by groups"):
        cr.nn.init.dirac_(cr.empty(3, 3, 3), groups=2)
