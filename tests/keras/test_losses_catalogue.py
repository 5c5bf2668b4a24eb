"""The rest of Keras 3's losses: each against its documented equation in NumPy (and PyTorch where it
has the same loss), with Keras's names, defaults, reductions and sample weights."""
import math

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd.gradcheck import gradcheck
from chainrule.keras import losses

EPS = 1e-7
RNG = np.random.default_rng(0)
Y = RNG.uniform(0.05, 1.0, size=(6, 4))
P = RNG.uniform(0.05, 1.0, size=(6, 4))
W = RNG.uniform(0.5, 2.0, size=6)


def _np_normalize(a):
    return a / np.sqrt(np.maximum((a * a).sum(-1, keepdims=True), EPS))


REFERENCES = {   # Keras 3's formulas, per sample
    "kl_divergence": lambda y, p: (np.clip(y, EPS, 1) * np.log(np.clip(y, EPS, 1)
                                                                / np.clip(p, EPS, 1))).sum(-1),
    "poisson": lambda y, p: (p - y * np.log(p + EPS)).mean(-1),
    "log_cosh": lambda y, p: np.log(np.cosh(p - y)).mean(-1),
    "mean_absolute_percentage_error":
        lambda y, p: 100 * (np.abs(y - p) / np.maximum(np.abs(y), EPS)).mean(-1),
    "mean_squared_logarithmic_error":
        lambda y, p: ((np.log(np.maximum(p, EPS) + 1) - np.log(np.maximum(y, EPS) + 1)) ** 2)
        .mean(-1),
    "cosine_similarity": lambda y, p: -(_np_normalize(y) * _np_normalize(p)).sum(-1),
    "squared_hinge": lambda y, p: (np.maximum(1 - y * p, 0) ** 2).mean(-1),
    "categorical_hinge": lambda y, p: np.maximum(
        ((1 - y) * p).max(-1) - (y * p).sum(-1) + 1, 0),
}
CLASSES = {"kl_divergence": losses.KLDivergence, "poisson": losses.Poisson,
           "log_cosh": losses.LogCosh,
           "mean_absolute_percentage_error": losses.MeanAbsolutePercentageError,
           "mean_squared_logarithmic_error": losses.MeanSquaredLogarithmicError,
           "cosine_similarity": losses.CosineSimilarity, "squared_hinge": losses.SquaredHinge,
           "categorical_hinge": losses.CategoricalHinge}


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_per_sample_function_matches_the_keras_equation(name):
    fn = getattr(losses, name)
    got = fn(Y, cr.tensor(P)).numpy()
    np.testing.assert_allclose(got, REFERENCES[name](Y, P), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_class_name_default_reduction_and_sample_weight(name):
    loss = CLASSES[name]()
    assert loss.name == name and loss.reduction == "sum_over_batch_size"
    ref = REFERENCES[name](Y, P)
    assert loss(Y, cr.tensor(P)).item() == pytest.approx(ref.mean(), rel=1e-5)
    assert loss(Y, cr.tensor(P), sample_weight=W).item() == pytest.approx((ref * W).sum() / 6,
                                                                          rel=1e-5)
    summed = CLASSES[name](reduction="sum")
    assert summed(Y, cr.tensor(P)).item() == pytest.approx(ref.sum(), rel=1e-5)
    none = CLASSES[name](reduction="none")(Y, cr.tensor(P)).numpy()
    np.testing.assert_allclose(none, ref, rtol=1e-5, atol=1e-6)
    again = type(loss).from_config(loss.get_config())
    assert again.get_config() == loss.get_config()


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_names_resolve_and_gradients_are_right(name):
    assert losses.get(name) is getattr(losses, name)
    assert isinstance(losses.get(CLASSES[name].__name__), CLASSES[name])
    y = cr.tensor(Y[:2, :3])
    p = cr.tensor(P[:2, :3], requires_grad=True)
    assert gradcheck(lambda q: getattr(losses, name)(y, q), (p,))


def test_keras_aliases():
    assert losses.get("kld") is losses.kl_divergence and losses.get("KLD") is losses.kl_divergence
    assert losses.get("mape") is losses.mean_absolute_percentage_error
    assert losses.get("msle") is losses.mean_squared_logarithmic_error
    assert losses.get("logcosh") is losses.log_cosh


def test_documented_examples():
    # Keras's docstring examples
    assert losses.log_cosh([[0.0, 1.0], [0.0, 0.0]],
                           cr.tensor([[1.0, 1.0], [0.0, 0.0]])).numpy().mean() \
        == pytest.approx(0.108, abs=1e-3)
    got = losses.cosine_similarity([[0.0, 1.0], [1.0, 1.0], [1.0, 1.0]],
                                   cr.tensor([[1.0, 0.0], [1.0, 1.0], [-1.0, -1.0]])).numpy()
    np.testing.assert_allclose(got, [0.0, -1.0, 1.0], atol=1e-6)
    assert losses.CategoricalHinge()([[0.0, 1.0]], cr.tensor([[0.3, 0.6]])).item() \
        == pytest.approx(0.7)


def test_against_pytorch():
    torch = pytest.importorskip("torch")
    y, p = torch.tensor(Y), torch.tensor(P)
    # Poisson: torch's poisson_nll_loss without log input is ŷ − y·log(ŷ + eps)
    ref = torch.nn.functional.poisson_nll_loss(p, y, log_input=False, eps=EPS).item()
    assert losses.Poisson()(Y, cr.tensor(P)).item() == pytest.approx(ref, rel=1e-6)
    # KL divergence: torch's kl_div takes log-probabilities; sum over classes, mean over samples
    ref = (torch.nn.functional.kl_div(p.log(), y, reduction="none").sum(-1)).mean().item()
    assert losses.KLDivergence()(Y, cr.tensor(P)).item() == pytest.approx(ref, rel=1e-6)
    # cosine similarity: −cos, torch's cosine_similarity (its eps on each norm is tiny here)
    ref = -torch.nn.functional.cosine_similarity(p, y, dim=-1).mean().item()
    assert losses.CosineSimilarity()(Y, cr.tensor(P)).item() == pytest.approx(ref, rel=1e-6)


def test_hinge_labels_and_cosine_axis():
    labels = np.array([[0.0, 1.0, 1.0]])
    out = cr.tensor([[0.3, -0.2, 2.0]])
    want = (np.maximum(1 - np.array([[-1.0, 1.0, 1.0]]) * out.numpy(), 0) ** 2).mean()
    assert losses.SquaredHinge()(labels, out).item() == pytest.approx(want)
    col = losses.CosineSimilarity(axis=0)(Y, cr.tensor(P), ).item()
    assert col == pytest.approx(-(_np_normalize(Y.T) * _np_normalize(P.T)).sum(-1).mean(),
                                rel=1e-5)
    assert losses.CosineSimilarity()([[0.0, 0.0]], cr.tensor([[1.0, 2.0]])).item() == 0.0


def test_mape_and_msle_guard_against_zero():
    assert math.isfinite(losses.MeanAbsolutePercentageError()([[0.0]], cr.tensor([[1.0]])).item())
    assert losses.MeanSquaredLogarithmicError()([[-5.0]], cr.tensor([[-3.0]])).item() == 0.0


def test_compile_by_name_trains():
    x = RNG.normal(size=(40, 3))
    y = np.exp(x @ np.array([0.3, -0.2, 0.1]))[:, None]
    model = cr.Sequential([cr.layers.Input((3,)), cr.layers.Dense(1, activation="exponential")])
    model.compile("adam", "poisson")
    history = model.fit(x, y, epochs=3, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
