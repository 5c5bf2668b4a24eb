"""Adamax: parity with PyTorch, a hand-computed first step, validation."""
import itertools

import numpy as np
import pytest

import chainrule.optim as co
import chainrule.optim._kernels as kernels
from chainrule.tensor import Tensor

OPTIONS = [dict(weight_decay=w, maximize=x) for w, x in itertools.product([0.0, 0.1],
                                                                         [False, True])]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("opts", OPTIONS, ids=str)
@pytest.mark.parametrize("foreach", [None, False])
def test_adamax_matches_torch(parity, dtype, opts, foreach):
    parity("Adamax", dict(lr=0.01, betas=(0.8, 0.95), **opts), dtype=dtype, foreach=foreach)


def test_adamax_defaults_match_torch(parity):
    parity("Adamax", {}, steps=30)


def test_adamax_is_bit_identical_to_torch_with_fused_rounding(parity, monkeypatch):
    monkeypatch.setattr(kernels, "EXACT_FMA", True)
    parity("Adamax", dict(lr=0.01, weight_decay=0.1), dtype=np.float32, rtol=0, atol=0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adamax_trains_a_quadratic_like_torch(quadratic_parity, dtype):
    quadratic_parity("Adamax", dict(lr=0.05), dtype=dtype)


def test_adamax_first_step_by_hand():
    w = Tensor(np.array([1.0, 1.0]), requires_grad=True)
    opt = co.Adamax([w], lr=0.002, eps=0.0)
    w.grad = Tensor(np.array([3.0, -0.5]))
    opt.step()                          # m = 0.1 g, u = |g|: step = lr · sign(g)
    np.testing.assert_allclose(w._data, [0.998, 1.002], rtol=1e-14)
    np.testing.assert_allclose(opt.state[w]["exp_inf"]._data, [3.0, 0.5])


@pytest.mark.parametrize("kwargs, message", [
    (dict(lr=-1.0), "Invalid learning rate: -1.0"),
    (dict(eps=-1.0), "Invalid epsilon value: -1.0"),
    (dict(betas=(1.5, 0.9)), "Invalid beta parameter at index 0: 1.5"),
    (dict(betas=(0.9, 1.0)), "Invalid beta parameter at index 1: 1.0"),
    (dict(weight_decay=-1.0), "Invalid weight_decay value: -1.0"),
])
def test_adamax_rejects_bad_hyperparameters(kwargs, message):
    w = Tensor(np.zeros(1), requires_grad=True)
    with pytest.raises(ValueError, match=message):
        co.Adamax([w], **kwargs)
