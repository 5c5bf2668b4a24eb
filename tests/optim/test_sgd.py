"""SGD: step-for-step parity with PyTorch over every option, hand-computed steps, validation."""
import itertools

import numpy as np
import pytest

import chainrule.optim as co
import chainrule.optim._kernels as kernels
from chainrule.tensor import Tensor

OPTIONS = [dict(momentum=m, dampening=d, nesterov=n, weight_decay=w, maximize=x)
           for m, d, n, w, x in itertools.product([0.0, 0.9], [0.0, 0.3], [False, True],
                                                  [0.0, 0.05], [False, True])
           if not (n and (m == 0 or d != 0))]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("opts", OPTIONS, ids=str)
@pytest.mark.parametrize("foreach", [None, False])
def test_sgd_matches_torch(parity, dtype, opts, foreach):
    parity("SGD", dict(lr=0.05, **opts), dtype=dtype, foreach=foreach)


def test_sgd_default_lr_is_torchs():
    w = Tensor(np.zeros(1), requires_grad=True)
    assert co.SGD([w]).defaults["lr"] == 1e-3


@pytest.mark.parametrize("opts", [dict(momentum=0.9, nesterov=True, weight_decay=0.01),
                                  dict(momentum=0.9, dampening=0.5, maximize=True), {}], ids=str)
@pytest.mark.parametrize("foreach", [None, False])
def test_sgd_is_bit_identical_to_torch_with_fused_rounding(parity, monkeypatch, opts, foreach):
    # with EXACT_FMA the float32 multiply-adds round once, as PyTorch's CPU kernels do
    monkeypatch.setattr(kernels, "EXACT_FMA", True)
    parity("SGD", dict(lr=0.05, **opts), dtype=np.float32, foreach=foreach, rtol=0, atol=0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sgd_trains_a_quadratic_like_torch(quadratic_parity, dtype):
    quadratic_parity("SGD", dict(lr=0.1, momentum=0.9, nesterov=True), dtype=dtype)


def test_sgd_steps_by_hand():
    w = Tensor(np.array([1.0]), requires_grad=True)
    opt = co.SGD([w], lr=0.1, momentum=0.9, dampening=0.5, weight_decay=0.1)
    w.grad = Tensor(np.array([2.0]))
    opt.step()                          # g = 2 + 0.1 = 2.1; buffer starts as g (no dampening)
    np.testing.assert_allclose(w._data, [1.0 - 0.1 * 2.1])
    np.testing.assert_allclose(opt.state[w]["momentum_buffer"]._data, [2.1])
    w.grad = Tensor(np.array([1.0]))
    opt.step()                          # g = 1 + 0.1 * 0.79; b = 0.9 * 2.1 + 0.5 g
    g = 1.0 + 0.1 * 0.79
    b = 0.9 * 2.1 + 0.5 * g
    np.testing.assert_allclose(w._data, [0.79 - 0.1 * b], rtol=1e-15)


def test_sgd_nesterov_by_hand():
    w = Tensor(np.array([0.0]), requires_grad=True)
    opt = co.SGD([w], lr=1.0, momentum=0.5, nesterov=True)
    w.grad = Tensor(np.array([1.0]))
    opt.step()                          # b = 1; step with g + 0.5 b = 1.5
    np.testing.assert_allclose(w._data, [-1.5])


def test_plain_sgd_keeps_no_state():
    w = Tensor(np.zeros(2), requires_grad=True)
    v = Tensor(np.zeros(3), requires_grad=True)
    opt = co.SGD([w, v], lr=0.1)
    w.grad, v.grad = Tensor(np.ones(2)), Tensor(np.ones(3))
    opt.step()
    assert len(opt.state) == 0
    assert opt.state_dict()["state"] == {}
    np.testing.assert_allclose(w._data, -0.1)


def test_sgd_skips_params_without_grad():
    w = Tensor(np.ones(2), requires_grad=True)
    v = Tensor(np.ones(2), requires_grad=True)
    opt = co.SGD([w, v], lr=0.1, momentum=0.9, weight_decay=0.5)
    w.grad = Tensor(np.ones(2))
    opt.step()
    np.testing.assert_allclose(v._data, 1.0)
    assert v not in opt.state


@pytest.mark.parametrize("kwargs, message", [
    (dict(lr=-0.1), "Invalid learning rate: -0.1"),
    (dict(momentum=-0.9), "Invalid momentum value: -0.9"),
    (dict(weight_decay=-1), "Invalid weight_decay value: -1"),
    (dict(nesterov=True), "Nesterov momentum requires a momentum and zero dampening"),
    (dict(nesterov=True, momentum=0.9, dampening=0.1),
     "Nesterov momentum requires a momentum and zero dampening"),
])
def test_sgd_rejects_bad_hyperparameters(kwargs, message):
    w = Tensor(np.zeros(1), requires_grad=True)
    with pytest.raises(ValueError, match=message):
        co.SGD([w], **kwargs)
