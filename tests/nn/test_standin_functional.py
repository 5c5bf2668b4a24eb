"""nn.functional's fused ops on the "cuda" device played by the CPU stand-in for CuPy: forward
values, first-order gradients and create_graph double-backward gradients equal the CPU's, and the
training-step ops make no host↔device copy."""
import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule.backend import cuda as cuda_backend, namespace_of, standin


@pytest.fixture(scope="module")
def ns():
    with cuda_backend.use_standin() as namespace:
        yield namespace


def _rng(seed=7):
    return np.random.default_rng(seed)


def _x(*shape, seed=7, scale=1.0):
    return _rng(seed).standard_normal(shape) * scale


def _u(*shape, seed=8, lo=0.05, hi=0.95):
    return _rng(seed).uniform(lo, hi, shape)


def _probs(*shape):
    e = _u(*shape, seed=9, lo=0.1, hi=1.0)
    return e / e.sum(axis=1, keepdims=True)


Y = np.array([0, 3, 1, 2, 4, 0])                       # class indices for (6, 5) logits
Y_IGNORE = np.array([0, -100, 1, 2, -100, 4])
Y3 = np.array([[1, 0], [2, 2], [0, 1]])                # for (3, 3, 2) logits
EMB_IDX = np.array([[1, 2, 2], [0, 5, 1]])


def _t(a, device_ns, grad=None):
    """A tensor of array *a*, on the CPU (device_ns None) or on the stand-in device."""
    d = a if device_ns is None else device_ns.asarray(a)
    return cr.Tensor(d, requires_grad=a.dtype.kind == "f" if grad is None else grad)


def _c(a, device_ns):
    """A constant (weights, targets, running statistics) on the same device."""
    return _t(a, device_ns, grad=False)


# name, function (of the device namespace and the tensors), input arrays (float ones get grads)
CASES = [
    ("linear", lambda d, x, w, b: F.linear(x, w, b), [_x(6, 4), _x(3, 4, seed=1), _x(3, seed=2)]),
    ("linear.3d_no_bias", lambda d, x, w: F.linear(x, w), [_x(2, 5, 4), _x(3, 4, seed=1)]),
    ("bce_logits", lambda d, x, t: F.binary_cross_entropy_with_logits(x, t),
     [_x(6, 3, scale=3), _u(6, 3)]),
    ("bce_logits.weight_pos_weight_sum",
     lambda d, x, t: F.binary_cross_entropy_with_logits(
         x, t, weight=_c(_u(6, 3, seed=3, lo=0.2, hi=2), d),
         pos_weight=_c(_u(3, seed=4, lo=0.5, hi=3), d), reduction="sum"),
     [_x(6, 3, scale=3), _u(6, 3)]),
    ("bce_logits.none_extremes", lambda d, x, t: F.binary_cross_entropy_with_logits(
        x, t, reduction="none"), [np.array([[1000.0, -1000.0, 0.0, 40.0]]), _u(1, 4)]),
    ("bce", lambda d, x, t: F.binary_cross_entropy(x, t), [_u(6, 3), _u(6, 3, seed=5)]),
    ("bce.weight_none", lambda d, x, t: F.binary_cross_entropy(
        x, t, weight=_c(_u(3, seed=3), d), reduction="none"), [_u(6, 3), _u(6, 3, seed=5)]),
    ("mse", lambda d, x, t: F.mse_loss(x, t), [_x(4, 3), _x(4, 3, seed=1)]),
    ("mse.weight_mean", lambda d, x, t: F.mse_loss(x, t, weight=_c(_u(4, 3), d)),
     [_x(4, 3), _x(4, 3, seed=1)]),
    ("l1.sum", lambda d, x, t: F.l1_loss(x, t, reduction="sum"), [_x(4, 3), _x(4, 3, seed=1)]),
    ("huber", lambda d, x, t: F.huber_loss(x, t, delta=0.5), [_x(4, 3), _x(4, 3, seed=1)]),
    ("smooth_l1.none", lambda d, x, t: F.smooth_l1_loss(x, t, beta=0.5, reduction="none"),
     [_x(4, 3), _x(4, 3, seed=1)]),
    ("pinball", lambda d, x, t: F.pinball_loss(x, t, quantile=0.8), [_x(4, 3), _x(4, 3, seed=1)]),
    ("cross_entropy", lambda d, x: F.cross_entropy(x, _c(Y, d)), [_x(6, 5, scale=2)]),
    ("cross_entropy.weight_ignore_smoothing_sum",
     lambda d, x: F.cross_entropy(x, _c(Y_IGNORE, d), weight=_c(_u(5, seed=3, lo=0.2, hi=2), d),
                                  label_smoothing=0.2, reduction="sum"), [_x(6, 5, scale=2)]),
    ("cross_entropy.transposed", lambda d, x: F.cross_entropy(x.t(), _c(Y, d), reduction="none"),
     [_x(5, 6, scale=2)]),
    ("cross_entropy.3d_smoothing", lambda d, x: F.cross_entropy(x, _c(Y3, d),
                                                                label_smoothing=0.1),
     [_x(3, 3, 2, scale=2)]),
    ("cross_entropy.all_ignored", lambda d, x: F.cross_entropy(x, _c(np.full(6, -100), d)),
     [_x(6, 5)]),
    ("cross_entropy.probs", lambda d, x, t: F.cross_entropy(
        x, t, weight=_c(_u(5, seed=3), d), label_smoothing=0.1), [_x(6, 5, scale=2), _probs(6, 5)]),
    ("nll", lambda d, x: F.nll_loss(x, _c(Y_IGNORE, d), weight=_c(_u(5, seed=3), d)),
     [_x(6, 5)]),
    ("nll.permuted_none", lambda d, x: F.nll_loss(x.permute(0, 2, 1), _c(Y3, d),
                                                  reduction="none"), [_x(3, 2, 3)]),
    ("layer_norm", lambda d, x, w, b: F.layer_norm(x, (5,), w, b),
     [_x(4, 5), _x(5, seed=1), _x(5, seed=2)]),
    ("layer_norm.2dims_no_affine", lambda d, x: F.layer_norm(x, (3, 4)), [_x(2, 3, 4)]),
    ("batch_norm.train", lambda d, x, w, b: F.batch_norm(
        x, _c(np.zeros(3), d), _c(np.ones(3), d), w, b, training=True),
     [_x(8, 3), _x(3, seed=1), _x(3, seed=2)]),
    ("batch_norm.train_3d", lambda d, x: F.batch_norm(x, None, None, training=True),
     [_x(4, 3, 5)]),
    ("batch_norm.eval", lambda d, x, w, b: F.batch_norm(
        x, _c(_x(3, seed=3), d), _c(_u(3, seed=4), d), w, b), [_x(8, 3), _x(3, seed=1),
                                                               _x(3, seed=2)]),
    ("gelu", lambda d, x: F.gelu(x), [_x(4, 5, scale=3)]),
    ("gelu.tanh", lambda d, x: F.gelu(x, approximate="tanh"), [_x(4, 5, scale=3)]),
    ("leaky_relu", lambda d, x: F.leaky_relu(x, 0.1), [_x(4, 5)]),
    ("elu", lambda d, x: F.elu(x, 0.7), [_x(4, 5)]),
    ("softplus", lambda d, x: F.softplus(x, 2.0, 3.0), [_x(4, 5, scale=3)]),
    ("silu", lambda d, x: F.silu(x), [_x(4, 5)]),
    ("embedding.padding", lambda d, w: F.embedding(_c(EMB_IDX, d), w, padding_idx=2),
     [_x(6, 3)]),
    ("embedding.max_norm", lambda d, w: F.embedding(_c(EMB_IDX, d), w * 1.0, max_norm=0.5),
     [_x(6, 3)]),
    ("dropout.p1", lambda d, x: F.dropout(x, 1.0), [_x(4, 5)]),
]

# the CPU computes erf with SciPy where it is installed, a device with the Chebyshev fit (1e-14)
TOLERANCE = {"gelu": 1e-14}


def _host(t):
    d = t.detach()._data
    return d if type(d) is np.ndarray else d.get()


def _check_same(cpu, dev, what, atol=1e-15):
    assert type(dev._data) is standin.StandInArray, f"{what} left the device"
    assert dev.dtype == cpu.dtype and dev.shape == cpu.shape, what
    np.testing.assert_allclose(_host(dev), _host(cpu), rtol=1e-12, atol=atol, err_msg=what)


def _ones_like(t):
    return cr.Tensor(namespace_of(t._data).ones(t.shape, dtype=t.dtype))


def _up(t, device_ns, seed=3):
    """A random ȳ for output *t*, the same numbers on either device."""
    return _c(_rng(seed).standard_normal(t.shape).astype(t.dtype), device_ns)


@pytest.mark.parametrize("name, fn, arrays", CASES, ids=[c[0] for c in CASES])
def test_forward_and_backward_on_the_standin_equal_the_cpu(ns, name, fn, arrays):
    atol = TOLERANCE.get(name, 1e-15)
    xs_c, xs_d = [_t(a, None) for a in arrays], [_t(a, ns) for a in arrays]
    out_c, out_d = fn(None, *xs_c), fn(ns, *xs_d)
    _check_same(out_c, out_d, f"{name} output", atol)
    out_c.backward(_up(out_c, None))
    out_d.backward(_up(out_d, ns))
    for i, (c, d) in enumerate(zip(xs_c, xs_d)):
        if c.requires_grad:
            _check_same(c.grad, d.grad, f"{name} gradient of input {i}", atol)


SECOND_ORDER = [c for c in CASES if c[0] in {
    "linear", "linear.3d_no_bias", "bce_logits", "bce_logits.weight_pos_weight_sum", "bce",
    "mse.weight_mean", "huber", "smooth_l1.none", "cross_entropy",
    "cross_entropy.weight_ignore_smoothing_sum", "cross_entropy.transposed",
    "cross_entropy.3d_smoothing", "cross_entropy.probs", "nll", "layer_norm",
    "batch_norm.train", "batch_norm.train_3d", "gelu", "gelu.tanh", "leaky_relu", "elu",
    "softplus", "embedding.padding"}]


def test_second_order_table_is_complete():
    assert len(SECOND_ORDER) == 23


@pytest.mark.parametrize("name, fn, arrays", SECOND_ORDER, ids=[c[0] for c in SECOND_ORDER])
def test_create_graph_double_backward_on_the_standin_equals_the_cpu(ns, name, fn, arrays):
    """g = ∂(s·ȳ·f)/∂x with create_graph, then backward of Σ g·v: the same rule, recorded (the
    scale s, which requires grad, makes g differentiable even where f is linear in x)."""
    atol = TOLERANCE.get(name, 1e-14)

    def second(device_ns):
        xs = [_t(a, device_ns) for a in arrays]
        scale = _t(np.array(1.5), device_ns)
        out = fn(device_ns, *xs)
        diff = [x for x in xs if x.requires_grad]
        grads = cr.autograd.grad(out, diff, _up(out, device_ns) * scale, create_graph=True)
        total = None
        for k, g in enumerate(grads):
            term = (g * _up(g, device_ns, seed=10 + k)).sum()
            total = term if total is None else total + term
        total.backward()
        return grads, [x.grad for x in diff] + [scale.grad]

    (g_c, gg_c), (g_d, gg_d) = second(None), second(ns)
    for k, (c, d) in enumerate(zip(g_c, g_d)):
        _check_same(c, d, f"{name} gradient {k}", atol)
    for k, (c, d) in enumerate(zip(gg_c, gg_d)):
        assert (c is None) == (d is None), f"{name}: second-order gradient {k}"
        if c is not None:
            _check_same(c, d, f"{name} second-order gradient {k}", atol)


def test_one_hot_on_the_standin(ns):
    y = np.array([[0, 3], [2, 2]])
    out = F.one_hot(_c(y, ns), 5)
    assert type(out._data) is standin.StandInArray and out.dtype == cr.int64
    np.testing.assert_array_equal(_host(out), F.one_hot(cr.tensor(y), 5).numpy())


# ---- dropout: the mask is drawn on the device -----------------------------------------------
def test_dropout_draws_its_mask_on_the_device_seeded_by_chainrule(ns):
    a = _x(200, 50)

    def run(seed):
        cr.manual_seed(seed)
        x = _t(a, ns)
        y = F.dropout(x, 0.3)
        y.backward(_ones_like(y))
        return _host(y), _host(x.grad)

    standin.reset_transfers()
    cr.manual_seed(0)
    F.dropout(_t(a, ns, grad=False), 0.3)
    assert standin.transfers["to_device"] == 1          # the input above; the mask is not copied
    y1, g1 = run(0)
    y2, _ = run(0)
    y3, _ = run(1)
    np.testing.assert_array_equal(y1, y2)               # cr.manual_seed governs device draws
    assert not np.array_equal(y1, y3)
    kept = g1 != 0
    assert 0.65 < kept.mean() < 0.75                     # Bernoulli(0.7)
    np.testing.assert_allclose(g1[kept], 1 / 0.7, rtol=1e-12)
    np.testing.assert_allclose(y1[kept], a[kept] / 0.7, rtol=1e-12)
    assert (y1[~kept] == 0).all()


def test_dropout_with_a_generator_on_the_standin(ns):
    a = _x(30, 30)
    outs = []
    for _ in range(2):
        gen = cr.Generator().manual_seed(5)
        outs.append(_host(F.dropout(_t(a, ns), 0.5, generator=gen)))
    np.testing.assert_array_equal(*outs)


# ---- no host↔device copy in a training step -------------------------------------------------
# name, loss of x and the constants, the constants' arrays (put on the device before counting)
HOT = [
    ("linear", lambda x, w, b: F.linear(x, w, b).sum(), [_x(3, 6, seed=1), _x(3, seed=2)]),
    ("bce_logits", lambda x, t: F.binary_cross_entropy_with_logits(x, t), [_u(8, 6)]),
    ("bce_logits.pos_weight", lambda x, t, pw: F.binary_cross_entropy_with_logits(
        x, t, pos_weight=pw), [_u(8, 6), _u(6, seed=3)]),
    ("mse", lambda x, t: F.mse_loss(x, t), [_x(8, 6, seed=1)]),
    ("layer_norm", lambda x, w, b: F.layer_norm(x, (6,), w, b).sum(), [_x(6), _x(6, seed=1)]),
    ("batch_norm", lambda x, m, v: F.batch_norm(x, m, v, training=True).sum(),
     [np.zeros(6), np.ones(6)]),
    ("gelu", lambda x: F.gelu(x).sum(), []),
    ("softplus", lambda x: F.softplus(x).sum(), []),
    ("leaky_relu", lambda x: F.leaky_relu(x).sum(), []),
    ("dropout", lambda x: F.dropout(x, 0.2).sum(), []),
    ("embedding", lambda x, i: F.embedding(i, x, padding_idx=0).sum(), [EMB_IDX]),
    ("cross_entropy", lambda x, y: F.cross_entropy(x[:6], y, label_smoothing=0.1), [Y]),
    ("cross_entropy.transposed", lambda x, y: F.cross_entropy(x.t(), y), [Y]),
]


@pytest.mark.parametrize("name, fn, consts", HOT, ids=[h[0] for h in HOT])
def test_forward_and_backward_make_no_host_copy(ns, name, fn, consts):
    x = _t(_x(8, 6), ns)
    cs = [_c(a, ns) for a in consts]
    standin.reset_transfers()
    loss = fn(x, *cs)
    loss.backward()
    assert standin.transfers == {"to_device": 0, "to_host": 0}, name
    assert type(x.grad._data) is standin.StandInArray


@pytest.mark.parametrize("loss", [F.cross_entropy, F.nll_loss])
def test_class_targets_are_not_read_back_and_a_bad_one_gives_nan(ns, loss):
    """No copy to the host to range-check class indices on a device (PyTorch's CUDA kernels do
    not either): a target out of range makes the loss NaN at its place, as the CPU raises."""
    a = _x(6, 5)
    x = _t(a, ns)
    standin.reset_transfers()
    out = loss(x, _c(Y, ns), reduction="none")
    out.backward(_ones_like(out))
    assert standin.transfers == {"to_device": 1, "to_host": 0}      # the targets, made above
    np.testing.assert_allclose(_host(out), loss(cr.tensor(a), cr.tensor(Y),
                                                reduction="none").numpy(), rtol=1e-12)
    bad = np.array([0, 1, 7, 2, -100, -3])
    out = loss(_t(a, ns, grad=False), _c(bad, ns), reduction="none")
    values = _host(out)
    assert np.isnan(values[[2, 5]]).all() and values[4] == 0 and np.isfinite(values[[0, 1, 3]]).all()
    assert np.isnan(_host(loss(_t(a, ns, grad=False), _c(bad, ns)))).all()
    with pytest.raises(cr.errors.LabelError, match="class index 7"):
        loss(cr.tensor(a), cr.tensor(bad))


def test_an_embedding_index_out_of_range_gives_nan_on_the_device(ns):
    w = _t(_x(6, 3), ns)
    out = F.embedding(_c(np.array([[1, 9], [-1, 2]]), ns), w)
    rows = _host(out)
    assert np.isnan(rows[0, 1]).all() and np.isnan(rows[1, 0]).all()
    np.testing.assert_array_equal(rows[[0, 1], [0, 1]], _x(6, 3)[[1, 2]])
    out.backward(_ones_like(out))
    g = _host(w.grad)
    np.testing.assert_array_equal(g, np.isin(np.arange(6), [1, 2])[:, None] * np.ones((6, 3)))
    with pytest.raises(cr.errors.IndexOutOfRangeError, match="index 9"):
        F.embedding(cr.tensor([[1, 9]]), cr.tensor(_x(6, 3)))
