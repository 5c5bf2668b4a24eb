"""Zeroth-order gradients: estimates agree with backprop within their statistical error."""
import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.optim import SGD, Adam
from chainrule.optim.zeroth_order import (blackbox, default_eps, estimate_grad,
                                          perturbation_estimate, zeroth_order_closure)


def _problem(dtype=cr.float64):
    w = cr.tensor([[0.5, -1.0, 2.0], [1.5, 0.2, -0.7]], dtype=dtype, requires_grad=True)
    b = cr.tensor([0.3, -0.4], dtype=dtype, requires_grad=True)

    def f():
        return ((w ** 3).sum() + (w[0] * w[1]).sum() + (b ** 2).sum() * w[1, 2]
                + (w.sum(1) * b).sum().tanh())
    return [w, b], f


def _backprop(params, f):
    return [g._data.astype(np.float64) for g in cr.autograd.grad(f(), params)]


def test_central_differences_match_backprop_float64():
    params, f = _problem()
    est = estimate_grad(f, params, set_grad=False)
    for e, g in zip(est, _backprop(params, f)):
        assert e.dtype == cr.float64
        np.testing.assert_allclose(e._data, g, rtol=1e-7, atol=1e-8)


def test_central_differences_float32_default_eps():
    params, f = _problem(cr.float32)
    est = estimate_grad(f, params, set_grad=False)
    for e, g in zip(est, _backprop(params, f)):
        assert e.dtype == cr.float32
        np.testing.assert_allclose(e._data, g, rtol=2e-2, atol=2e-2)
    assert default_eps(np.float32, "central") == pytest.approx(np.cbrt(np.finfo(np.float32).eps))


@pytest.mark.parametrize("method", ["spsa", "gaussian"])
def test_random_estimates_unbiased_within_standard_errors(method):
    """The mean of n single-direction estimates lies within 5 standard errors of ∇f."""
    params, f = _problem()
    exact = np.concatenate([g.ravel() for g in _backprop(params, f)])
    gen = cr.Generator().manual_seed(1)
    n = 1500
    samples = np.array([np.concatenate([e._data.ravel() for e in
                                        estimate_grad(f, params, method=method, eps=1e-4,
                                                      generator=gen, set_grad=False)])
                        for _ in range(n)])
    mean, se = samples.mean(0), samples.std(0, ddof=1) / np.sqrt(n)
    z = np.abs(mean - exact) / se
    assert z.max() < 5, (method, z)
    # and averaging num_samples directions at once shrinks the spread accordingly
    avg = estimate_grad(f, params, method=method, eps=1e-4, num_samples=400, generator=gen,
                        set_grad=False)
    flat = np.concatenate([a._data.ravel() for a in avg])
    assert np.all(np.abs(flat - exact) < 6 * samples.std(0) / np.sqrt(400))


def test_parameters_restored_bit_for_bit_and_versions_bumped():
    params, f = _problem(cr.float32)
    before = [p._data.copy() for p in params]
    versions = [p._version for p in params]
    for method in ("central", "spsa", "gaussian"):
        estimate_grad(f, params, method=method, num_samples=3)
    for p, b, v in zip(params, before, versions):
        np.testing.assert_array_equal(p._data, b)
        assert p._version > v


def test_writes_grad_accumulates_and_optimizer_steps():
    params, f = _problem()
    est = estimate_grad(f, params)
    for p, e in zip(params, est):
        np.testing.assert_array_equal(p.grad._data, e._data)
    estimate_grad(f, params, accumulate=True)
    for p, e in zip(params, est):
        np.testing.assert_allclose(p.grad._data, 2 * e._data)
    p = cr.tensor([1.0, -2.0, 0.5], requires_grad=True)
    opt = SGD([p], lr=0.1)
    gen = cr.Generator().manual_seed(0)
    for _ in range(150):
        opt.zero_grad()
        estimate_grad(lambda: ((p - 3) ** 2).sum(), [p], method="spsa", num_samples=2,
                      generator=gen)
        opt.step()
    np.testing.assert_allclose(p._data, 3.0, atol=1e-2)


def test_zeroth_order_closure_returns_loss():
    p = cr.tensor([2.0, -1.0], dtype=cr.float64, requires_grad=True)
    opt = Adam([p], lr=0.1)
    closure = zeroth_order_closure(lambda: (p ** 2).sum(), [p], opt)
    first = float(opt.step(closure))
    assert first == pytest.approx(5.0)
    for _ in range(100):
        opt.step(closure)
    assert float((p ** 2).sum()) < 1e-2


def test_fun_may_return_a_float_and_runs_without_a_graph():
    p = cr.tensor([1.0, 2.0], dtype=cr.float64, requires_grad=True)
    seen = []

    def f():
        seen.append(cr.is_grad_enabled())
        return float((p._data ** 2).sum())
    est = estimate_grad(f, [p], set_grad=False)
    np.testing.assert_allclose(est[0]._data, [2.0, 4.0], rtol=1e-8)
    assert not any(seen)


@pytest.mark.parametrize("kwargs, match", [({"method": "forward"}, "method must be one of"),
                                           ({"eps": 0.0}, "eps must be positive"),
                                           ({"num_samples": 0}, "num_samples")])
def test_bad_arguments(kwargs, match):
    p = cr.tensor([1.0], requires_grad=True)
    with pytest.raises(ValueError, match=match):
        estimate_grad(lambda: p.sum(), [p], **kwargs)


def test_rejects_integer_params_and_vector_losses():
    with pytest.raises(TypeError, match="floating-point"):
        estimate_grad(lambda: 0.0, [cr.tensor([1, 2])])
    p = cr.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(ValueError, match="scalar loss"):
        estimate_grad(lambda: p * 2, [p])


def test_perturbation_estimate_on_plain_arrays():
    a = np.array([1.0, 2.0])
    g = perturbation_estimate([a], lambda: float((a ** 2).sum()))[0]
    np.testing.assert_allclose(g, [2.0, 4.0], rtol=1e-8)
    np.testing.assert_array_equal(a, [1.0, 2.0])


# ---- the hybrid: backprop through a black box --------------------------------------------------
def test_blackbox_scalar_cost_matches_backprop_through_a_layer():
    cr.manual_seed(0)
    layer = nn.Linear(3, 2).to(cr.float64)
    x = cr.randn(5, 3, dtype=cr.float64)
    target = np.array([0.5, -1.0])

    def cost(y):
        return float(((y - target) ** 2).sum() + np.sin(y).sum())

    blackbox(cost)(layer(x)).backward()
    got = [p.grad._data.copy() for p in layer.parameters()]
    layer.zero_grad()
    y = layer(x)
    (((y - cr.tensor(target)) ** 2).sum() + y.sin().sum()).backward()
    for g, p in zip(got, layer.parameters()):
        np.testing.assert_allclose(g, p.grad._data, rtol=1e-6, atol=1e-7)


def test_blackbox_per_row_costs_perturb_columns_together():
    calls = []

    def cost(y):
        calls.append(1)
        return (y ** 2).sum(1) + 3 * y[:, 0]

    y = cr.tensor(np.arange(12.0).reshape(6, 2), dtype=cr.float64, requires_grad=True)
    loss = blackbox(cost)(y)
    assert loss.item() == pytest.approx(cost(y._data).mean())
    calls.clear()
    loss.backward()
    assert len(calls) == 4                       # 2 columns × (+ε, −ε), not 2 × 12 elements
    np.testing.assert_allclose(y.grad._data, (2 * y._data + [3.0, 0.0]) / 6, rtol=1e-7)
    y.grad = None
    blackbox(cost, reduction="sum", method="spsa", num_samples=2,
             generator=cr.Generator().manual_seed(0))(y).backward()
    assert y.grad.shape == y.shape


def test_blackbox_checks_the_cost_shape():
    y = cr.tensor(np.ones((4, 2)), requires_grad=True)
    with pytest.raises(ValueError, match="one value per row"):
        blackbox(lambda a: a)(y)
    with pytest.raises(ValueError, match="reduction"):
        blackbox(lambda a: 0.0, reduction="max")
    with pytest.raises(TypeError, match="callable"):
        blackbox(3.0)


def test_hybrid_training_lowers_a_quantised_black_box_cost():
    """A network trained through a piecewise-constant NumPy cost by Gaussian smoothing."""
    cr.manual_seed(0)
    rng = np.random.default_rng(0)
    net = nn.Sequential(nn.Linear(1, 8), nn.Tanh(), nn.Linear(8, 1))
    opt = Adam(net.parameters(), lr=0.03)
    gen = cr.Generator().manual_seed(0)

    def cost(y, x):                              # quantised to 0.05: no derivative anywhere
        return np.round(20 * np.abs(y[:, 0] - np.sin(3 * x[:, 0]))) / 20

    x_test = np.linspace(-1, 1, 50).reshape(-1, 1)
    with cr.no_grad():
        before = cost(net(cr.tensor(x_test, dtype=cr.float32)).numpy(), x_test).mean()
    for _ in range(150):
        x = rng.uniform(-1, 1, (32, 1))
        loss = blackbox(lambda y: cost(y, x), method="gaussian", eps=0.1, num_samples=4,
                        generator=gen)(net(cr.tensor(x, dtype=cr.float32)))
        opt.zero_grad()
        loss.backward()
        opt.step()
    with cr.no_grad():
        after = cost(net(cr.tensor(x_test, dtype=cr.float32)).numpy(), x_test).mean()
    assert after < 0.5 * before, (before, after)
