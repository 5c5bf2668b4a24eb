"""ASGD: float64 and float32 trajectories against PyTorch over 50 steps, with averaging switched
on mid-run (t0), weight decay and maximize; its eta and mu kept as PyTorch keeps them; the
averaged parameters ``ax``; chunked updates; errors."""
import numpy as np
import pytest

import chainrule.optim as co
from chainrule.tensor import Tensor

OPTIONS = [dict(), dict(lr=0.05, lambd=1e-2, alpha=0.6, t0=10), dict(t0=5, weight_decay=0.1),
           dict(t0=20, maximize=True)]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("opts", OPTIONS, ids=str)
def test_asgd_matches_torch_over_50_steps(parity, dtype, opts):
    opt = parity("ASGD", opts, dtype=dtype, steps=50)
    assert all("ax" in s and s["eta"]._data.shape == () for s in opt.state.values())


def test_asgd_average_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    w0 = rng.standard_normal(5)
    w, tw = Tensor(w0.copy(), requires_grad=True), torch.tensor(w0.copy(), requires_grad=True)
    opt, topt = co.ASGD([w], lr=0.05, t0=3), torch.optim.ASGD([tw], lr=0.05, t0=3, foreach=False)
    for _ in range(12):
        g = rng.standard_normal(5)
        w.grad, tw.grad = Tensor(g.copy()), torch.tensor(g.copy())
        opt.step(), topt.step()
    st, tst = opt.state[w], topt.state[tw]
    assert list(st) == list(tst) == ["step", "eta", "mu", "ax"]
    np.testing.assert_allclose(st["ax"]._data, tst["ax"].numpy(), rtol=1e-13)
    assert float(st["eta"]) == float(tst["eta"]) and float(st["mu"]) == float(tst["mu"])


def test_asgd_trains_a_quadratic_like_torch(quadratic_parity):
    quadratic_parity("ASGD", dict(lr=0.05, t0=10), dtype=np.float64, steps=50)


def test_asgd_large_parameter_is_updated_in_chunks_identically():
    rng = np.random.default_rng(0)
    grads = [rng.standard_normal(3000) for _ in range(5)]
    out = []
    for chunk in (1 << 30, 1 << 9):
        w = Tensor(np.zeros(3000), requires_grad=True)
        opt = co.ASGD([w], lr=0.1, t0=2)
        opt._chunk = chunk
        for g in grads:
            w.grad = Tensor(g.copy())
            opt.step()
        out.append((w._data.copy(), opt.state[w]["ax"]._data.copy(), float(opt.state[w]["eta"])))
    assert all(np.array_equal(a, b) for a, b in zip(out[0][:2], out[1][:2]))
    assert out[0][2] == out[1][2]


def test_asgd_rejects_bad_hyperparameters():
    with pytest.raises(ValueError, match="Invalid learning rate"):
        co.ASGD([Tensor(np.zeros(1), requires_grad=True)], lr=-0.1)
    with pytest.raises(ValueError, match="Invalid weight_decay value"):
        co.ASGD([Tensor(np.zeros(1), requires_grad=True)], weight_decay=-0.1)
