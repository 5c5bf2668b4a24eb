"""Keras losses against their formulas (with Keras's clipping), PyTorch, and Keras's reductions."""
import numpy as np
import pytest

from chainrule.autograd import gradcheck
from chainrule.keras import losses
from chainrule.tensor import Tensor

torch = pytest.importorskip("torch")

EPS = 1e-7


def t(a, grad=False):
    return Tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


def bce_formula(y, p):
    p = np.clip(p, EPS, 1 - EPS)
    return -(y * np.log(p) + (1 - y) * np.log(1 - p)).mean(axis=-1)


# ---- per-sample values ---------------------------------------------------------------------------
def test_binary_crossentropy_matches_formula_and_torch():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, (6, 3)).astype(float)
    p = rng.uniform(0.05, 0.95, (6, 3))
    got = losses.binary_crossentropy(y, t(p))._data
    np.testing.assert_allclose(got, bce_formula(y, p), rtol=1e-12)
    ref = torch.nn.functional.binary_cross_entropy(torch.tensor(p), torch.tensor(y),
                                                   reduction="none").mean(-1)
    np.testing.assert_allclose(got, ref.numpy(), rtol=1e-12)


def test_binary_crossentropy_clips_probabilities_like_keras():
    y = np.array([[1.0], [0.0], [1.0], [0.0]])
    p = np.array([[0.0], [1.0], [1.0], [0.0]])
    got = losses.binary_crossentropy(y, t(p))._data
    # a certain wrong answer costs -log(1e-7) ≈ 16.12, a certain right one -log(1 - 1e-7)
    np.testing.assert_allclose(got, [-np.log(EPS), -np.log(EPS), -np.log(1 - EPS),
                                     -np.log(1 - EPS)], rtol=1e-9)
    assert np.isfinite(got).all()


def test_binary_crossentropy_from_logits_equals_probabilities():
    rng = np.random.default_rng(1)
    z = rng.normal(0, 3, (5, 2))
    y = rng.integers(0, 2, (5, 2)).astype(float)
    from_logits = losses.binary_crossentropy(y, t(z), from_logits=True)._data
    from_probs = losses.binary_crossentropy(y, t(1 / (1 + np.exp(-z))))._data
    np.testing.assert_allclose(from_logits, from_probs, rtol=1e-9)
    big = losses.binary_crossentropy([[0.0]], t([[800.0]]), from_logits=True)._data
    np.testing.assert_allclose(big, [800.0])        # no overflow, no clipping at 16.1


def test_binary_crossentropy_label_smoothing():
    got = losses.binary_crossentropy([[1.0]], t([[0.7]]), label_smoothing=0.2)._data
    y = 1.0 * 0.8 + 0.1
    np.testing.assert_allclose(got, [-(y * np.log(0.7) + (1 - y) * np.log(0.3))])


def test_categorical_crossentropy_renormalises_and_clips():
    y = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    p = np.array([[0.2, 0.6, 0.2], [0.0, 1.0, 1.0]])    # second row sums to 2, holds a 0
    got = losses.categorical_crossentropy(y, t(p))._data
    np.testing.assert_allclose(got, [-np.log(0.6), -np.log(EPS)], rtol=1e-9)


def test_categorical_crossentropy_from_logits_matches_torch():
    rng = np.random.default_rng(2)
    z = rng.normal(size=(4, 5))
    labels = rng.integers(0, 5, 4)
    onehot = np.eye(5)[labels]
    ref = torch.nn.functional.cross_entropy(torch.tensor(z), torch.tensor(labels),
                                            reduction="none").numpy()
    np.testing.assert_allclose(losses.categorical_crossentropy(onehot, t(z), from_logits=True)
                               ._data, ref, rtol=1e-10)
    np.testing.assert_allclose(losses.sparse_categorical_crossentropy(labels, t(z),
                                                                      from_logits=True)._data,
                               ref, rtol=1e-10)
    np.testing.assert_allclose(losses.sparse_categorical_crossentropy(labels[:, None], t(z),
                                                                      from_logits=True)._data,
                               ref, rtol=1e-10)


def test_categorical_label_smoothing():
    got = losses.categorical_crossentropy([[0.0, 1.0]], t([[0.25, 0.75]]),
                                          label_smoothing=0.1)._data
    np.testing.assert_allclose(got, [-(0.05 * np.log(0.25) + 0.95 * np.log(0.75))])


def test_regression_losses_match_formulas():
    y = np.array([[1.0, 2.0], [0.0, -1.0]])
    p = np.array([[0.0, 4.0], [0.5, -1.0]])
    e = p - y
    np.testing.assert_allclose(losses.mean_squared_error(y, t(p))._data, (e ** 2).mean(-1))
    np.testing.assert_allclose(losses.mean_absolute_error(y, t(p))._data, np.abs(e).mean(-1))
    h = np.where(np.abs(e) <= 1.0, 0.5 * e ** 2, np.abs(e) - 0.5)
    np.testing.assert_allclose(losses.huber(y, t(p))._data, h.mean(-1))
    ref = torch.nn.functional.huber_loss(torch.tensor(p), torch.tensor(y), reduction="none",
                                         delta=1.0).mean(-1)
    np.testing.assert_allclose(losses.huber(y, t(p))._data, ref.numpy())


def test_hinge_maps_zero_one_labels():
    got = losses.hinge([[1.0], [0.0]], t([[0.3], [0.4]]))._data
    np.testing.assert_allclose(got, [0.7, 1.4])


def test_rank_one_labels_match_a_single_unit_output():
    y = np.array([1.0, 0.0, 1.0])
    p = t([[0.9], [0.2], [0.4]])
    np.testing.assert_allclose(losses.binary_crossentropy(y, p)._data,
                               losses.binary_crossentropy(y[:, None], p)._data)


# ---- reduction and sample weights ----------------------------------------------------------------
def test_sum_over_batch_size_with_sample_weights():
    y = np.array([[1.0], [0.0], [1.0]])
    p = np.array([[0.8], [0.3], [0.4]])
    w = np.array([2.0, 1.0, 0.5])
    per = bce_formula(y, p)
    loss = losses.BinaryCrossentropy()
    np.testing.assert_allclose(loss(y, t(p)).item(), per.mean())
    np.testing.assert_allclose(loss(y, t(p), sample_weight=w).item(), (w * per).sum() / 3)
    np.testing.assert_allclose(losses.BinaryCrossentropy(reduction="sum")(y, t(p), w).item(),
                               (w * per).sum())
    np.testing.assert_allclose(losses.BinaryCrossentropy(reduction="none")(y, t(p), w)._data,
                               w * per)
    np.testing.assert_allclose(
        losses.BinaryCrossentropy(reduction="mean_with_sample_weight")(y, t(p), w).item(),
        (w * per).sum() / w.sum())


def test_weight_two_equals_a_duplicated_row():
    y = np.array([[1.0], [0.0], [1.0]])
    p = np.array([[0.8], [0.3], [0.4]])
    loss = losses.BinaryCrossentropy()
    weighted = loss(y, t(p), sample_weight=[2.0, 1.0, 1.0]).item()
    duplicated = loss(np.r_[y, y[:1]], t(np.r_[p, p[:1]])).item()
    np.testing.assert_allclose(weighted * 3, duplicated * 4)      # same sum, n vs n + 1
    summed = losses.BinaryCrossentropy(reduction="sum")
    np.testing.assert_allclose(summed(y, t(p), [2.0, 1.0, 1.0]).item(),
                               summed(np.r_[y, y[:1]], t(np.r_[p, p[:1]])).item())


def test_gradient_matches_torch_with_weights():
    y = np.array([[1.0], [0.0], [1.0], [0.0]])
    p = np.array([[0.8], [0.3], [0.4], [0.9]])
    w = np.array([2.0, 1.0, 0.5, 3.0])
    x = t(p, grad=True)
    losses.BinaryCrossentropy()(y, x, sample_weight=w).backward()
    xt = torch.tensor(p, requires_grad=True)
    (torch.nn.functional.binary_cross_entropy(xt, torch.tensor(y), reduction="none")[:, 0]
     * torch.tensor(w)).mean().backward()
    np.testing.assert_allclose(x.grad._data, xt.grad.numpy(), rtol=1e-10)


@pytest.mark.parametrize("loss, y, p", [
    (losses.BinaryCrossentropy(), [[1.0, 0.0], [0.0, 1.0]], [[0.7, 0.2], [0.4, 0.9]]),
    (losses.BinaryCrossentropy(from_logits=True), [[1.0], [0.0]], [[2.0], [-0.5]]),
    (losses.CategoricalCrossentropy(), [[0.0, 1.0, 0.0]], [[0.2, 0.5, 0.3]]),
    (losses.CategoricalCrossentropy(from_logits=True), [[0.0, 0.0, 1.0]], [[0.1, -1.0, 2.0]]),
    (losses.SparseCategoricalCrossentropy(), [2, 0], [[0.2, 0.5, 0.3], [0.6, 0.1, 0.3]]),
    (losses.Huber(delta=0.5), [[0.0, 1.0]], [[0.2, 2.0]]),
    (losses.MeanAbsoluteError(), [[0.0, 1.0]], [[0.3, 2.0]]),
    (losses.Hinge(), [[1.0], [0.0]], [[0.3], [0.2]]),
])
def test_gradcheck(loss, y, p):
    w = t([2.0, 0.5][:len(y)])
    assert gradcheck(lambda q: loss(y, q, sample_weight=w), (t(p, grad=True),))


def test_clipping_stops_the_gradient_outside_the_range():
    x = t([[1.0], [0.5]], grad=True)
    losses.BinaryCrossentropy()([[1.0], [1.0]], x).backward()
    assert x.grad._data[0, 0] == 0.0 and x.grad._data[1, 0] == pytest.approx(-1.0)


# ---- errors and lookup ---------------------------------------------------------------------------
def test_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"y_true.shape=\(4, 3\).*y_pred.shape=\(4, 1\)"):
        losses.binary_crossentropy(np.ones((4, 3)), t(np.full((4, 1), 0.5)))
    with pytest.raises(ValueError, match="sparse_categorical_crossentropy"):
        losses.categorical_crossentropy([0, 2], t(np.full((2, 3), 1 / 3)))
    with pytest.raises(ValueError, match=r"integers in \[0, 3\)"):
        losses.sparse_categorical_crossentropy([0, 3], t(np.full((2, 3), 1 / 3)))
    with pytest.raises(ValueError, match="one-hot labels need categorical_crossentropy"):
        losses.sparse_categorical_crossentropy(np.eye(3)[:2], t(np.full((2, 3), 1 / 3)))


def test_get_resolves_names_classes_and_callables():
    assert losses.get("binary_crossentropy") is losses.binary_crossentropy
    assert losses.get("mse") is losses.mean_squared_error
    assert losses.get("MAE") is losses.mean_absolute_error
    assert isinstance(losses.get("BinaryCrossentropy"), losses.BinaryCrossentropy)
    bce = losses.BinaryCrossentropy(from_logits=True)
    assert losses.get(bce) is bce
    assert isinstance(losses.get(losses.Huber), losses.Huber)
    fn = lambda y_true, y_pred: (y_pred - y_true).abs()  # noqa: E731
    assert losses.get(fn) is fn and losses.get(None) is None


def test_get_suggests_the_closest_name():
    with pytest.raises(ValueError, match="Did you mean 'binary_crossentropy'") as e:
        losses.get("binary_crossentopy")
    assert "mean_squared_error" in str(e.value)           # lists the valid names
    with pytest.raises(ValueError, match="Could not interpret loss identifier: 42"):
        losses.get(42)


def test_loss_subclass_and_bad_reduction():
    class Cubic(losses.Loss):
        def call(self, y_true, y_pred):
            return ((y_pred - y_true).abs() ** 3).mean(dim=-1)

    assert Cubic().name == "cubic"
    np.testing.assert_allclose(Cubic()([[0.0], [0.0]], t([[1.0], [2.0]])).item(), 4.5)
    with pytest.raises(ValueError, match="reduction must be one of"):
        losses.MeanSquaredError(reduction="average")
    with pytest.raises(ValueError, match="axis=-1"):
        losses.CategoricalCrossentropy(axis=0)
