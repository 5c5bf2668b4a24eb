"""Population methods: the built-in evolution strategy and the Nevergrad adapter."""
import sys

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.optim import evolution
from chainrule.optim.evolution import (BlackBoxResult, EvolutionStrategy, centered_ranks,
                                       evolution_minimize, minimize_blackbox, nevergrad_minimize)


def test_centered_ranks():
    np.testing.assert_allclose(centered_ranks(np.array([3.0, 1.0, 2.0])), [0.5, -0.5, 0.0])
    np.testing.assert_allclose(centered_ranks(np.array([1.0, 5.0, np.inf, 0.0])),
                               [-1 / 6, 1 / 6, 0.5, -0.5])


def test_es_lowers_a_quadratic():
    w = cr.tensor(np.linspace(-2, 3, 10))
    es = EvolutionStrategy([w], lr=0.05, sigma=0.1, generator=cr.Generator().manual_seed(0))
    first = float(es.step(lambda: ((w - 1) ** 2).sum()))
    for _ in range(150):
        last = float(es.step(lambda: ((w - 1) ** 2).sum()))
    assert last < 1e-2 * first
    assert es.state[w]["func_evals"] == 151 * es.evaluations_per_step


@pytest.mark.parametrize("kwargs", [{"antithetic": False, "population_size": 15},
                                    {"rank_shaping": False, "lr": 0.005, "momentum": 0.5}])
def test_es_variants_lower_the_loss(kwargs):
    w = cr.tensor([2.0, -1.5, 1.0])
    es = EvolutionStrategy([w], sigma=0.1, generator=cr.Generator().manual_seed(0), **kwargs)
    first = float(es.step(lambda: (w ** 2).sum()))
    for _ in range(100):
        es.step(lambda: (w ** 2).sum())
    assert float((w ** 2).sum()) < 0.1 * first


def test_es_is_reproducible_and_needs_no_graph():
    runs = []
    for _ in range(2):
        w = cr.tensor([1.0, 2.0], requires_grad=True)
        es = EvolutionStrategy([w], generator=cr.Generator().manual_seed(3))
        for _ in range(5):
            es.step(lambda: (w ** 2).sum())
        assert w.grad is None
        runs.append(w._data.copy())
    np.testing.assert_array_equal(*runs)


@pytest.mark.parametrize("kwargs, match", [({"lr": 0}, "learning rate"), ({"sigma": 0}, "sigma"),
                                           ({"population_size": 7}, "population_size"),
                                           ({"momentum": 1.0}, "momentum")])
def test_es_validates_hyperparameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        EvolutionStrategy([cr.tensor([1.0])], **kwargs)
    with pytest.raises(TypeError, match="cr.Generator"):
        EvolutionStrategy([cr.tensor([1.0])], generator=np.random.default_rng(0))


def test_evolution_minimize_keeps_the_budget_and_the_best():
    w = cr.tensor([3.0, -2.0, 1.0])
    r = evolution_minimize(lambda: (w ** 2).sum(), [w], budget=2000,
                           generator=cr.Generator().manual_seed(0))
    assert isinstance(r, BlackBoxResult) and r.optimizer == "EvolutionStrategy"
    assert r.evaluations <= 2000 and len(r.losses) == r.evaluations
    assert r.loss < 0.05 * 14.0
    assert float((w ** 2).sum()) == pytest.approx(r.loss)
    with pytest.raises(ValueError, match="less than one generation"):
        evolution_minimize(lambda: (w ** 2).sum(), [w], budget=5)


def test_minimize_blackbox_falls_back_to_es_without_nevergrad(monkeypatch):
    monkeypatch.setitem(sys.modules, "nevergrad", None)
    w = cr.tensor([1.5, -1.0])
    r = minimize_blackbox(lambda: float(np.abs(w._data).sum()), [w], budget=600, seed=0)
    assert r.optimizer == "EvolutionStrategy"
    assert r.loss < 0.5
    with pytest.raises(ImportError, match="pip install nevergrad"):
        nevergrad_minimize(lambda: (w ** 2).sum(), [w])
    with pytest.raises(ValueError, match="method"):
        minimize_blackbox(lambda: 0.0, [w], method="cma")


# ---- Nevergrad (optional) ------------------------------------------------------------------
def _black_box_network():
    """A non-differentiable loss of a small network: misclassifications plus a rounded margin."""
    cr.manual_seed(0)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 2))
    y = (X[:, 0] - X[:, 1] > 0).astype(np.float64)
    net = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1))
    Xt = cr.tensor(X, dtype=cr.float32)

    def loss():
        with cr.no_grad():
            out = net(Xt).numpy().ravel()
        return float(np.mean((out > 0) != y) + np.mean(np.round(np.abs(out - (2 * y - 1)), 1)))
    return net, loss


@pytest.mark.parametrize("optimizer, flat", [("CMA", True), ("OnePlusOne", False), ("DE", True)])
def test_nevergrad_lowers_a_black_box_loss(optimizer, flat):
    pytest.importorskip("nevergrad")
    net, loss = _black_box_network()
    start = loss()
    r = nevergrad_minimize(loss, net.parameters(), optimizer=optimizer, budget=300, flat=flat,
                           seed=0)
    assert r.optimizer == optimizer and r.evaluations == 300 and len(r.losses) == 300
    assert r.loss < 0.7 * start
    assert loss() == pytest.approx(r.loss)                     # the recommendation written back
    assert r.recommendation is not None


def test_nevergrad_options_and_errors():
    pytest.importorskip("nevergrad")
    w = cr.tensor([2.0, -3.0], dtype=cr.float64)
    r = nevergrad_minimize(lambda: ((w - 0.5) ** 2).sum(), [w], optimizer="OnePlusOne",
                           budget=200, bounds=(-1.0, 1.0), sigma=0.3,
                           seed=cr.Generator().manual_seed(1), early_stopping=40)
    assert r.evaluations <= 200
    assert np.all(np.abs(w._data) <= 1.0) and r.loss < 0.05
    with pytest.raises(ValueError, match="no optimizer 'NotAnOptimizer'"):
        nevergrad_minimize(lambda: 0.0, [w], optimizer="NotAnOptimizer")
    with pytest.raises(ValueError, match="budget"):
        nevergrad_minimize(lambda: 0.0, [w], budget=0)
    r = minimize_blackbox(lambda: ((w - 0.5) ** 2).sum(), [w], optimizer="CMA", budget=100,
                          seed=0)
    assert r.optimizer == "CMA"


def test_nevergrad_metamodel_numpy_breakage_is_explained(monkeypatch):
    pytest.importorskip("nevergrad")
    w = cr.tensor([1.0])

    class Broken:
        num_tell = 0

        def __init__(self, **kwargs):
            pass

        def minimize(self, *a, **k):
            raise TypeError("only 0-dimensional arrays can be converted to Python scalars")
    with pytest.raises(RuntimeError, match="choose another optimizer"):
        evolution.nevergrad_minimize(lambda: 0.0, [w], optimizer=Broken, budget=5)
