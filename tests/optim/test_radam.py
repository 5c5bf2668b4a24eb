"""RAdam: float64 and float32 trajectories against PyTorch over 50 steps, through the switch from
the unrectified to the rectified update (ρₜ > 5 from step 6), weight decay coupled and decoupled,
maximize; errors."""
import itertools

import numpy as np
import pytest

import chainrule.optim as co
from chainrule.tensor import Tensor

OPTIONS = [dict(weight_decay=w, decoupled_weight_decay=d, maximize=m)
           for (w, d), m in itertools.product([(0.0, False), (0.1, False), (0.1, True)],
                                              [False, True])]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("opts", OPTIONS, ids=str)
@pytest.mark.parametrize("foreach", [None, False])
def test_radam_matches_torch_over_50_steps(parity, dtype, opts, foreach):
    parity("RAdam", dict(lr=0.01, betas=(0.8, 0.95), **opts), dtype=dtype, steps=50,
           foreach=foreach)


def test_radam_defaults_match_torch(parity):
    parity("RAdam", {}, dtype=np.float64, steps=50)


def test_radam_trains_a_quadratic_like_torch(quadratic_parity):
    quadratic_parity("RAdam", dict(lr=0.05), dtype=np.float64, steps=50)


def test_radam_first_steps_are_plain_momentum_sgd():
    w = Tensor(np.array([1.0]), requires_grad=True)
    opt = co.RAdam([w], lr=0.1)
    w.grad = Tensor(np.array([2.0]))
    opt.step()                               # ρ₁ < 5: θ ← θ − γ m̂ = 1 − 0.1·2
    np.testing.assert_allclose(w._data, [0.8], rtol=1e-15)


def test_radam_rejects_bad_hyperparameters():
    with pytest.raises(ValueError, match="Invalid beta parameter at index 1: 1.5"):
        co.RAdam([Tensor(np.zeros(1), requires_grad=True)], betas=(0.9, 1.5))
    with pytest.raises(ValueError, match="capturable=True is not supported"):
        co.RAdam([Tensor(np.zeros(1), requires_grad=True)], capturable=True)
