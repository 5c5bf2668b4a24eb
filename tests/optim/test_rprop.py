"""Rprop: float64 and float32 trajectories against PyTorch over 50 steps (etas, step-size bounds
that bind, maximize, the flat and per-parameter paths); sign changes by hand; errors."""
import numpy as np
import pytest

import chainrule.optim as co
from chainrule.tensor import Tensor

OPTIONS = [dict(), dict(etas=(0.3, 1.5), step_sizes=(1e-3, 0.05)), dict(maximize=True),
           dict(lr=0.1, step_sizes=(0.05, 0.2))]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("opts", OPTIONS, ids=str)
@pytest.mark.parametrize("foreach", [None, False])
def test_rprop_matches_torch_over_50_steps(parity, dtype, opts, foreach):
    parity("Rprop", opts, dtype=dtype, steps=50, foreach=foreach)


def test_rprop_trains_a_quadratic_like_torch(quadratic_parity):
    quadratic_parity("Rprop", dict(lr=0.01), dtype=np.float64, steps=50)


def test_rprop_sign_changes_by_hand():
    w = Tensor(np.zeros(3), requires_grad=True)
    opt = co.Rprop([w], lr=0.1, etas=(0.5, 2.0))
    for g in ([1.0, 1.0, 1.0], [1.0, -1.0, 0.0], [1.0, -1.0, 1.0]):
        w.grad = Tensor(np.array(g))
        opt.step()
    # element 0: same sign twice: steps 0.1, 0.2, 0.4; element 1: flip → step halved and
    # skipped, then a fresh start (prev = 0): 0.05; element 2: zero gradient, then same size
    np.testing.assert_allclose(opt.state[w]["step_size"]._data, [0.4, 0.05, 0.1], rtol=1e-15)
    np.testing.assert_allclose(w._data, [-0.7, -0.05, -0.2], rtol=1e-15)


@pytest.mark.parametrize("kwargs, message", [(dict(etas=(1.5, 1.2)), "Invalid eta values"),
                                             (dict(etas=(0.5, 0.9)), "Invalid eta values"),
                                             (dict(lr=-1.0), "Invalid learning rate")])
def test_rprop_rejects_bad_hyperparameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        co.Rprop([Tensor(np.zeros(1), requires_grad=True)], **kwargs)
