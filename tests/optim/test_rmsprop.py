"""RMSprop: parity with PyTorch over centered/momentum/weight decay/maximize, by hand, validation."""
import itertools

import numpy as np
import pytest

import chainrule.optim as co
from chainrule.tensor import Tensor

OPTIONS = [dict(centered=c, momentum=m, weight_decay=w, maximize=x)
           for c, m, w, x in itertools.product([False, True], [0.0, 0.9], [0.0, 0.1],
                                               [False, True])]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("opts", OPTIONS, ids=str)
@pytest.mark.parametrize("foreach", [None, False])
def test_rmsprop_matches_torch(parity, dtype, opts, foreach):
    parity("RMSprop", dict(lr=0.01, alpha=0.9, eps=1e-6, **opts), dtype=dtype, foreach=foreach,
           **({"rtol": 1e-5, "atol": 2e-6} if dtype == np.float32 else {}))


def test_rmsprop_defaults_match_torch(parity):
    parity("RMSprop", {}, steps=30)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rmsprop_trains_a_quadratic_like_torch(quadratic_parity, dtype):
    quadratic_parity("RMSprop", dict(lr=0.01, centered=True, momentum=0.5), dtype=dtype)


def test_rmsprop_first_step_by_hand():
    w = Tensor(np.array([1.0, 1.0]), requires_grad=True)
    opt = co.RMSprop([w], lr=0.01, alpha=0.99, eps=0.0)
    w.grad = Tensor(np.array([1.0, -4.0]))
    opt.step()                          # v = 0.01 g^2, so g / sqrt(v) = 10 sign(g)
    np.testing.assert_allclose(w._data, [0.9, 1.1], rtol=1e-14)
    assert sorted(opt.state[w]) == ["square_avg", "step"]


def test_centered_rmsprop_first_step_by_hand():
    w = Tensor(np.array([0.0]), requires_grad=True)
    opt = co.RMSprop([w], lr=0.1, alpha=0.5, eps=0.0, centered=True, momentum=0.5)
    w.grad = Tensor(np.array([2.0]))
    opt.step()                          # v = 2, ḡ = 1, a = sqrt(2 - 1) = 1; b = 2
    np.testing.assert_allclose(w._data, [-0.2])
    np.testing.assert_allclose(opt.state[w]["momentum_buffer"]._data, [2.0])
    np.testing.assert_allclose(opt.state[w]["grad_avg"]._data, [1.0])


@pytest.mark.parametrize("kwargs, message", [
    (dict(lr=-1.0), "Invalid learning rate: -1.0"),
    (dict(eps=-1.0), "Invalid epsilon value: -1.0"),
    (dict(momentum=-1.0), "Invalid momentum value: -1.0"),
    (dict(weight_decay=-1.0), "Invalid weight_decay value: -1.0"),
    (dict(alpha=-1.0), "Invalid alpha value: -1.0"),
])
def test_rmsprop_rejects_bad_hyperparameters(kwargs, message):
    w = Tensor(np.zeros(1), requires_grad=True)
    with pytest.raises(ValueError, match=message):
        co.RMSprop([w], **kwargs)
