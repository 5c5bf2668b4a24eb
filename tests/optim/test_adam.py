"""Adam and AdamW: step-for-step parity with PyTorch, hand-computed first steps, validation."""
import itertools

import numpy as np
import pytest

import chainrule.optim as co
from chainrule.tensor import Tensor

OPTIONS = [dict(amsgrad=a, maximize=m, weight_decay=w)
           for a, m, w in itertools.product([False, True], [False, True], [0.0, 0.1])]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("opts", OPTIONS, ids=str)
@pytest.mark.parametrize("foreach", [None, False])
def test_adam_matches_torch(parity, dtype, opts, foreach):
    parity("Adam", dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6, **opts), dtype=dtype,
           foreach=foreach)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("opts", OPTIONS, ids=str)
def test_adamw_matches_torch(parity, dtype, opts):
    parity("AdamW", dict(lr=0.01, **opts), dtype=dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adam_decoupled_weight_decay_matches_torch(parity, dtype):
    parity("Adam", dict(lr=0.02, weight_decay=0.3, decoupled_weight_decay=True), dtype=dtype)


def test_adam_defaults_match_torch(parity):
    parity("Adam", {}, steps=30)
    parity("AdamW", {}, steps=30)


@pytest.mark.parametrize("name", ["Adam", "AdamW"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adam_trains_a_quadratic_like_torch(quadratic_parity, name, dtype):
    first = quadratic_parity(name, dict(lr=0.05, amsgrad=True), dtype=dtype, steps=25)
    assert np.isfinite(first)


def test_adam_first_step_by_hand():
    # m = (1-b1) g, v = (1-b2) g^2; bias-corrected m / sqrt(v) = sign(g): each element moves by lr
    w = Tensor(np.array([1.0, -2.0]), requires_grad=True)
    opt = co.Adam([w], lr=0.1, eps=0.0)
    w.grad = Tensor(np.array([0.5, -3.0]))
    opt.step()
    np.testing.assert_allclose(w._data, [0.9, -1.9], rtol=1e-15)
    st = opt.state[w]
    np.testing.assert_allclose(st["exp_avg"]._data, [0.05, -0.3])
    np.testing.assert_allclose(st["exp_avg_sq"]._data, [0.00025, 0.009], rtol=1e-12)
    assert float(st["step"]) == 1.0


def test_adam_second_step_by_hand():
    w = Tensor(np.array([0.0]), requires_grad=True)
    b1, b2, lr, eps = 0.9, 0.999, 0.01, 1e-8
    opt = co.Adam([w], lr=lr, betas=(b1, b2), eps=eps)
    m = v = 0.0
    theta = 0.0
    for t, g in enumerate([1.0, -2.0], start=1):
        w.grad = Tensor(np.array([g]))
        opt.step()
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        theta -= lr / (1 - b1 ** t) * m / (np.sqrt(v) / np.sqrt(1 - b2 ** t) + eps)
    np.testing.assert_allclose(w._data, [theta], rtol=1e-12)


def test_adamw_decays_weights_without_gradient_signal():
    w = Tensor(np.ones(3), requires_grad=True)
    opt = co.AdamW([w], lr=0.1, weight_decay=0.1)
    w.grad = Tensor(np.zeros(3))
    opt.step()
    np.testing.assert_allclose(w._data, 0.99, rtol=1e-15)
    assert opt.param_groups[0]["decoupled_weight_decay"] is True


def test_amsgrad_keeps_the_running_maximum():
    w = Tensor(np.zeros(2), requires_grad=True)
    opt = co.Adam([w], betas=(0.9, 0.5), amsgrad=True)
    for g in ([3.0, 1.0], [0.1, 2.0]):
        w.grad = Tensor(np.array(g))
        opt.step()
    st = opt.state[w]
    assert np.all(st["max_exp_avg_sq"]._data >= st["exp_avg_sq"]._data)
    assert st["max_exp_avg_sq"]._data[0] > st["exp_avg_sq"]._data[0]


def test_adam_state_layout_matches_torch():
    torch = pytest.importorskip("torch")
    w = Tensor(np.zeros(2, np.float32), requires_grad=True)
    tw = torch.zeros(2, requires_grad=True)
    opt, topt = co.Adam([w], amsgrad=True), torch.optim.Adam([tw], amsgrad=True)
    w.grad, tw.grad = Tensor(np.ones(2, np.float32)), torch.ones(2)
    opt.step()
    topt.step()
    assert list(opt.state[w]) == list(topt.state[tw])
    assert opt.state[w]["step"].dtype == np.float32 and opt.state[w]["step"].shape == ()
    assert sorted(opt.param_groups[0]) == sorted(topt.param_groups[0])


@pytest.mark.parametrize("kwargs, message", [
    (dict(lr=-1.0), "Invalid learning rate: -1.0"),
    (dict(eps=-1e-8), "Invalid epsilon value: -1e-08"),
    (dict(betas=(1.0, 0.999)), "Invalid beta parameter at index 0: 1.0"),
    (dict(betas=(0.9, -0.1)), "Invalid beta parameter at index 1: -0.1"),
    (dict(weight_decay=-0.5), "Invalid weight_decay value: -0.5"),
])
@pytest.mark.parametrize("cls", [co.Adam, co.AdamW])
def test_adam_rejects_bad_hyperparameters(cls, kwargs, message):
    w = Tensor(np.zeros(1), requires_grad=True)
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(".", r"\.")):
        cls([w], **kwargs)


def test_adam_rejects_unsupported_torch_flags():
    w = Tensor(np.zeros(1), requires_grad=True)
    with pytest.raises(ValueError, match="differentiable=True is not supported"):
        co.Adam([w], differentiable=True)
    with pytest.raises(ValueError, match="capturable=True is not supported"):
        co.Adam([w], capturable=True)
    with pytest.raises(RuntimeError, match="cannot be `True` together"):
        co.Adam([w], foreach=True, fused=True)
