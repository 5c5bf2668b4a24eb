"""Adagrad: parity with PyTorch over lr_decay, initial_accumulator_value, weight decay, maximize."""
import itertools

import numpy as np
import pytest

import chainrule.optim as co
from chainrule.tensor import Tensor

OPTIONS = [dict(lr_decay=d, initial_accumulator_value=a, weight_decay=w, maximize=x)
           for d, a, w, x in itertools.product([0.0, 0.05], [0.0, 0.3], [0.0, 0.1],
                                               [False, True])]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("opts", OPTIONS, ids=str)
@pytest.mark.parametrize("foreach", [None, False])
def test_adagrad_matches_torch(parity, dtype, opts, foreach):
    parity("Adagrad", dict(lr=0.05, **opts), dtype=dtype, foreach=foreach)


def test_adagrad_defaults_match_torch(parity):
    parity("Adagrad", {}, steps=30)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adagrad_trains_a_quadratic_like_torch(quadratic_parity, dtype):
    quadratic_parity("Adagrad", dict(lr=0.1, lr_decay=0.01), dtype=dtype)


def test_adagrad_state_is_made_at_construction():
    torch = pytest.importorskip("torch")
    w = Tensor(np.zeros(3, np.float32), requires_grad=True)
    opt = co.Adagrad([w], initial_accumulator_value=0.25)
    np.testing.assert_array_equal(opt.state[w]["sum"]._data, 0.25)
    assert float(opt.state[w]["step"]) == 0.0
    tw = torch.zeros(3, requires_grad=True)
    topt = torch.optim.Adagrad([tw], initial_accumulator_value=0.25)
    assert list(opt.state_dict()["state"][0]) == list(topt.state_dict()["state"][0])


def test_adagrad_steps_by_hand():
    w = Tensor(np.array([1.0]), requires_grad=True)
    opt = co.Adagrad([w], lr=0.1, lr_decay=0.5, eps=0.0, initial_accumulator_value=0.0)
    w.grad = Tensor(np.array([2.0]))
    opt.step()                          # s = 4; w -= 0.1 · 2 / 2
    np.testing.assert_allclose(w._data, [0.9])
    w.grad = Tensor(np.array([1.0]))
    opt.step()                          # clr = 0.1 / 1.5; s = 5
    np.testing.assert_allclose(w._data, [0.9 - 0.1 / 1.5 / np.sqrt(5.0)], rtol=1e-15)


@pytest.mark.parametrize("kwargs, message", [
    (dict(lr=-1.0), "Invalid learning rate: -1.0"),
    (dict(lr_decay=-1.0), "Invalid lr_decay value: -1.0"),
    (dict(weight_decay=-1.0), "Invalid weight_decay value: -1.0"),
    (dict(initial_accumulator_value=-1.0), "Invalid initial_accumulator_value value: -1.0"),
    (dict(eps=-1.0), "Invalid epsilon value: -1.0"),
])
def test_adagrad_rejects_bad_hyperparameters(kwargs, message):
    w = Tensor(np.zeros(1), requires_grad=True)
    with pytest.raises(ValueError, match=message):
        co.Adagrad([w], **kwargs)
