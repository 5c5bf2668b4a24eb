"""NAdam: float64 and float32 trajectories against PyTorch over 50 steps (weight decay coupled and
decoupled, maximize), its float32 mu_product as PyTorch keeps it, chunked updates, state, errors."""
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
def test_nadam_matches_torch_over_50_steps(parity, dtype, opts):
    parity("NAdam", dict(lr=0.01, betas=(0.8, 0.95), momentum_decay=0.01, **opts), dtype=dtype,
           steps=50)


def test_nadam_defaults_and_skipped_gradients_match_torch(parity):
    parity("NAdam", {}, dtype=np.float64, steps=50, skip=lambda t, i: (t + i) % 3 == 0)


def test_nadam_trains_a_quadratic_like_torch(quadratic_parity):
    quadratic_parity("NAdam", dict(lr=0.05), dtype=np.float64, steps=50)


def test_nadam_state_matches_torch_layout():
    torch = pytest.importorskip("torch")
    w = Tensor(np.ones(3), requires_grad=True)
    opt = co.NAdam([w])
    w.grad = Tensor(np.ones(3))
    opt.step()
    tw = torch.ones(3, dtype=torch.float64, requires_grad=True)
    topt = torch.optim.NAdam([tw])
    tw.grad = torch.ones(3, dtype=torch.float64)
    topt.step()
    assert list(opt.state[w]) == list(topt.state[tw])
    assert opt.state[w]["mu_product"]._data.dtype == np.float32    # PyTorch's scalar dtype
    assert float(opt.state[w]["mu_product"]) == float(topt.state[tw]["mu_product"])
    assert sorted(opt.param_groups[0]) == sorted(topt.param_groups[0])


def test_nadam_large_parameter_is_updated_in_chunks_identically():
    rng = np.random.default_rng(0)
    grads = [rng.standard_normal(5000) for _ in range(4)]
    out = []
    for chunk in (1 << 30, 1 << 10):
        w = Tensor(np.zeros(5000), requires_grad=True)
        opt = co.NAdam([w], lr=0.1)
        opt._chunk = chunk
        for g in grads:
            w.grad = Tensor(g.copy())
            opt.step()
        out.append((w._data.copy(), float(opt.state[w]["mu_product"])))
    assert np.array_equal(out[0][0], out[1][0]) and out[0][1] == out[1][1]


def test_nadam_state_dict_round_trip_continues_as_torch():
    """A reloaded state continues as PyTorch's does (which, on load, casts mu_product to the
    parameter's dtype)."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    grads = [rng.standard_normal(4) for _ in range(6)]

    def run(lib, make_param, wrap):
        w = make_param()
        opt = lib.NAdam([w], lr=0.1)
        for g in grads[:3]:
            w.grad = wrap(g.copy())
            opt.step()
        saved = opt.state_dict()
        w2 = make_param(w)
        opt2 = lib.NAdam([w2], lr=0.1)
        opt2.load_state_dict(saved)
        for g in grads[3:]:
            w2.grad = wrap(g.copy())
            opt2.step()
        return w2, opt2

    w, opt = run(co, lambda w=None: Tensor(np.zeros(4) if w is None else w._data.copy(),
                                           requires_grad=True), Tensor)
    tw, _ = run(torch.optim, lambda w=None: (torch.zeros(4, dtype=torch.float64) if w is None
                                             else w.detach().clone()).requires_grad_(),
                torch.tensor)
    np.testing.assert_allclose(w._data, tw.detach().numpy(), rtol=1e-13)
    assert opt.state[w]["mu_product"]._data.dtype == np.float64


@pytest.mark.parametrize("kwargs, message", [
    (dict(lr=-1.0), "Invalid learning rate: -1.0"),
    (dict(betas=(1.0, 0.9)), "Invalid beta parameter at index 0: 1.0"),
    (dict(momentum_decay=-0.1), "Invalid momentum_decay value: -0.1"),
    (dict(eps=-1e-8), "Invalid epsilon value"),
])
def test_nadam_rejects_bad_hyperparameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        co.NAdam([Tensor(np.zeros(1), requires_grad=True)], **kwargs)
