"""Adadelta: float64 and float32 trajectories against PyTorch over 50 steps (weight decay,
maximize, the flat and per-parameter paths); a hand-computed first step; errors."""
import itertools

import numpy as np
import pytest

import chainrule.optim as co
from chainrule.tensor import Tensor

OPTIONS = [dict(weight_decay=w, maximize=m) for w, m in itertools.product([0.0, 0.1],
                                                                           [False, True])]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("opts", OPTIONS, ids=str)
@pytest.mark.parametrize("foreach", [None, False])
def test_adadelta_matches_torch_over_50_steps(parity, dtype, opts, foreach):
    parity("Adadelta", dict(lr=0.5, rho=0.8, eps=1e-5, **opts), dtype=dtype, steps=50,
           foreach=foreach)


def test_adadelta_defaults_match_torch(parity):
    parity("Adadelta", {}, dtype=np.float64, steps=50)


def test_adadelta_trains_a_quadratic_like_torch(quadratic_parity):
    quadratic_parity("Adadelta", dict(lr=1.0), dtype=np.float64, steps=50)


def test_adadelta_first_step_by_hand():
    w = Tensor(np.array([1.0]), requires_grad=True)
    opt = co.Adadelta([w])
    w.grad = Tensor(np.array([1.0]))
    opt.step()
    delta = np.sqrt(1e-6) / np.sqrt(0.1 + 1e-6)
    np.testing.assert_allclose(w._data, [1 - delta], rtol=1e-15)
    np.testing.assert_allclose(opt.state[w]["acc_delta"]._data, [0.1 * delta ** 2], rtol=1e-14)


@pytest.mark.parametrize("kwargs, message", [(dict(rho=1.5), "Invalid rho value: 1.5"),
                                             (dict(lr=-1.0), "Invalid learning rate"),
                                             (dict(eps=-1.0), "Invalid epsilon value")])
def test_adadelta_rejects_bad_hyperparameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        co.Adadelta([Tensor(np.zeros(1), requires_grad=True)], **kwargs)
