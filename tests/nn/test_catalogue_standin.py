"""The catalogue's activations, norms, distances and losses on the "cuda" device played by the CPU
stand-in for CuPy: outputs, gradients and create_graph second-order gradients equal the CPU's,
and nothing leaves the device."""
import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule.backend import cuda as cuda_backend, namespace_of, standin


@pytest.fixture(scope="module")
def ns():
    with cuda_backend.use_standin() as namespace:
        yield namespace


def _x(*shape, seed=7, scale=1.0):
    return np.random.default_rng(seed).standard_normal(shape) * scale


def _t(a, device_ns, grad=None):
    d = a if device_ns is None else device_ns.asarray(a)
    return cr.Tensor(d, requires_grad=a.dtype.kind == "f" if grad is None else grad)


def _c(a, device_ns):
    return _t(np.asarray(a), device_ns, grad=False)


X = _x(4, 6, scale=3)
SIGNS = np.where(_x(4, seed=2) > 0, 1.0, -1.0)
CLASSES = np.array([0, 5, 2, 3])
P = np.random.default_rng(3).dirichlet(np.ones(6), size=4)

CASES = [
    ("relu6", lambda d, x: F.relu6(x), [X]),
    ("hardtanh", lambda d, x: F.hardtanh(x, -2.0, 1.5), [X]),
    ("threshold", lambda d, x: F.threshold(x, 0.5, -1.0), [X]),
    ("softshrink", lambda d, x: F.softshrink(x, 0.7), [X]),
    ("hardshrink", lambda d, x: F.hardshrink(x, 0.7), [X]),
    ("hardsigmoid", lambda d, x: F.hardsigmoid(x), [X]),
    ("hardswish", lambda d, x: F.hardswish(x), [X]),
    ("selu", lambda d, x: F.selu(x), [X]),
    ("celu", lambda d, x: F.celu(x, 0.5), [X]),
    ("mish", lambda d, x: F.mish(x), [X]),
    ("logsigmoid", lambda d, x: F.logsigmoid(x), [X]),
    ("softsign", lambda d, x: F.softsign(x), [X]),
    ("tanhshrink", lambda d, x: F.tanhshrink(x), [X]),
    ("softmin", lambda d, x: F.softmin(x, 1), [X]),
    ("glu", lambda d, x: F.glu(x), [X]),
    ("instance_norm", lambda d, x, w, b: F.instance_norm(x, weight=w, bias=b),
     [_x(2, 3, 5), _x(3, seed=1), _x(3, seed=2)]),
    ("rms_norm", lambda d, x, w: F.rms_norm(x, (6,), w), [X, _x(6, seed=4)]),
    ("local_response_norm", lambda d, x: F.local_response_norm(x, 3, 0.5, 0.7, 1.2),
     [_x(2, 5, 3)]),
    ("bilinear", lambda d, a, b, w, bias: F.bilinear(a, b, w, bias),
     [_x(3, 4), _x(3, 2, seed=1), _x(5, 4, 2, seed=2), _x(5, seed=3)]),
    ("cosine_similarity", lambda d, a, b: F.cosine_similarity(a, b), [X, _x(4, 6, seed=5)]),
    ("pairwise_distance", lambda d, a, b: F.pairwise_distance(a, b, 3.0),
     [X, _x(4, 6, seed=5)]),
    ("kl_div", lambda d, x: F.kl_div(x, _c(P, d), reduction="batchmean"), [X]),
    ("poisson_nll.full", lambda d, x: F.poisson_nll_loss(x, _c(np.abs(X).round(), d), full=True),
     [X * 0.3]),
    ("gaussian_nll", lambda d, x, v: F.gaussian_nll_loss(x, _c(X[::-1].copy(), d), v),
     [X, np.abs(X) + 0.1]),
    ("margin_ranking", lambda d, a, b: F.margin_ranking_loss(a, b, _c(SIGNS, d), 0.2),
     [X[:, 0].copy(), X[:, 1].copy()]),
    ("hinge_embedding", lambda d, x: F.hinge_embedding_loss(x, _c(SIGNS[:, None] * np.ones(6), d)),
     [np.abs(X)]),
    ("cosine_embedding", lambda d, a, b: F.cosine_embedding_loss(a, b, _c(SIGNS, d), 0.1),
     [X, _x(4, 6, seed=5)]),
    ("triplet", lambda d, a, p, n: F.triplet_margin_loss(a, p, n, swap=True),
     [X, _x(4, 6, seed=5), _x(4, 6, seed=6)]),
    ("soft_margin", lambda d, x: F.soft_margin_loss(x, _c(SIGNS[:, None] * np.ones(6), d)), [X]),
    ("multilabel_soft_margin", lambda d, x: F.multilabel_soft_margin_loss(
        x, _c((X > 0).astype(float), d), weight=_c(np.linspace(0.5, 2, 6), d)), [X]),
    ("multi_margin", lambda d, x: F.multi_margin_loss(x, _c(CLASSES, d), p=2,
                                                      weight=_c(np.linspace(0.5, 2, 6), d)),
     [X]),
]


def _host(t):
    d = t.detach()._data
    return d if type(d) is np.ndarray else d.get()


def _check_same(cpu, dev, what):
    assert type(dev._data) is standin.StandInArray, f"{what} left the device"
    assert dev.dtype == cpu.dtype and dev.shape == cpu.shape, what
    np.testing.assert_allclose(_host(dev), _host(cpu), rtol=1e-12, atol=1e-14, err_msg=what)


def _up(t, device_ns, seed=3):
    return _c(np.random.default_rng(seed).standard_normal(t.shape).astype(t.dtype), device_ns)


@pytest.mark.parametrize("name, fn, arrays", CASES, ids=[c[0] for c in CASES])
def test_catalogue_on_the_standin_equals_the_cpu(ns, name, fn, arrays):
    def run(device_ns):
        xs = [_t(a, device_ns) for a in arrays]
        scale = _t(np.array(1.5), device_ns)
        out = fn(device_ns, *xs)
        grads = cr.autograd.grad(out, xs, _up(out, device_ns) * scale, create_graph=True)
        total = None
        for k, g in enumerate(grads):
            term = (g * _up(g, device_ns, seed=10 + k)).sum()
            total = term if total is None else total + term
        total.backward()
        return out, grads, [x.grad for x in xs] + [scale.grad]

    (o_c, g_c, gg_c), (o_d, g_d, gg_d) = run(None), run(ns)
    _check_same(o_c, o_d, f"{name} output")
    for k, (c, d) in enumerate(zip(g_c, g_d)):
        _check_same(c, d, f"{name} gradient {k}")
    for k, (c, d) in enumerate(zip(gg_c, gg_d)):
        assert (c is None) == (d is None), f"{name}: second-order gradient {k}"
        if c is not None:
            _check_same(c, d, f"{name} second-order gradient {k}")


def test_layers_on_the_standin(ns):
    from chainrule import nn
    x = _t(_x(2, 4, 3), ns)
    for m in (nn.GroupNorm(2, 4), nn.InstanceNorm1d(4, affine=True, track_running_stats=True),
              nn.PReLU(4)):
        m.to("cuda")
        y = m(x)
        assert type(y._data) is standin.StandInArray and namespace_of(y._data) is ns
