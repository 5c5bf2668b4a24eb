"""Keras metrics against formulas, against chainrule.metrics (scikit-learn's), and their state."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chainrule import metrics as sk
from chainrule.keras import metrics


def data(seed, n=500):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    score = np.clip(rng.normal(0.35 + 0.3 * y, 0.2), 0, 1)
    return y, score


# ---- against chainrule.metrics (the exact, scikit-learn formulas) -------------------------------
@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1), st.floats(0, 1)), min_size=1, max_size=60),
       st.floats(0.05, 0.95))
def test_threshold_metrics_match_sklearn_formulas(pairs, threshold):
    y = np.array([p[0] for p in pairs])
    s = np.array([p[1] for p in pairs])
    pred = (s > threshold).astype(int)
    assert metrics.BinaryAccuracy(threshold=threshold)(y, s) == pytest.approx(
        sk.accuracy_score(y, pred))
    assert metrics.Precision(thresholds=threshold)(y, s) == pytest.approx(
        sk.precision_score(y, pred))
    assert metrics.Recall(thresholds=threshold)(y, s) == pytest.approx(sk.recall_score(y, pred))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_auc_estimate_is_close_to_the_exact_rank_auc(seed):
    y, s = data(seed)
    exact = sk.roc_auc_score(y, s)
    assert metrics.AUC()(y, s) == pytest.approx(exact, abs=5e-3)
    assert metrics.AUC(num_thresholds=2000)(y, s) == pytest.approx(exact, abs=5e-4)


def test_auc_values_keras_gives():
    # values from keras 3 (torch backend) on the same inputs
    assert metrics.AUC()([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.75)
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 1000)
    s = rng.random(1000) * 0.5 + y * 0.3
    assert metrics.AUC()(y, s) == pytest.approx(0.906433641910553, abs=1e-6)
    assert metrics.AUC(curve="PR")(y, s) == pytest.approx(0.9248822927474976, abs=1e-6)
    assert metrics.AUC(summation_method="minoring")(y, s) == pytest.approx(
        0.9042477607727051, abs=1e-6)


def test_auc_options():
    y, s = data(3)
    logits = np.log(s + 1e-9) - np.log1p(-s + 1e-9)
    assert metrics.AUC(from_logits=True)(y, logits) == pytest.approx(metrics.AUC()(y, s),
                                                                     abs=2e-3)
    lo, hi = (metrics.AUC(summation_method=m)(y, s) for m in ("minoring", "majoring"))
    assert lo <= metrics.AUC()(y, s) <= hi
    assert metrics.AUC(thresholds=[0.25, 0.5, 0.75]).num_thresholds == 5
    assert metrics.AUC()([1, 1], [0.2, 0.9]) == 0.0          # one class: Keras gives 0
    with pytest.raises(ValueError, match="curve"):
        metrics.AUC(curve="DET")
    with pytest.raises(ValueError, match="multi_label"):
        metrics.AUC(multi_label=True)


# ---- state ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("make", [metrics.AUC, metrics.Precision, metrics.Recall,
                                  metrics.BinaryAccuracy, metrics.MeanSquaredError])
def test_updates_accumulate_over_batches_and_reset(make):
    y, s = data(4, n=90)
    y, s = y[:, None], s[:, None]           # one column: the shape of a one-unit output
    whole = make()(y, s)
    m = make()
    for i in range(0, 90, 32):
        m.update_state(y[i:i + 32], s[i:i + 32])
    assert m.result() == pytest.approx(whole)
    m.reset_state()
    m.update_state(y[:10], s[:10])
    assert m.result() == pytest.approx(make()(y[:10], s[:10]))


def test_sample_weights():
    y = np.array([1, 0, 1, 0])
    s = np.array([0.9, 0.8, 0.2, 0.1])               # right, wrong, wrong, right
    w = np.array([3.0, 1.0, 1.0, 1.0])
    assert metrics.BinaryAccuracy()(y, s, sample_weight=w) == pytest.approx(4 / 6)
    assert metrics.Precision()(y, s, sample_weight=w) == pytest.approx(3 / 4)
    assert metrics.Recall()(y, s, sample_weight=w) == pytest.approx(3 / 4)
    m = metrics.Mean()
    m.update_state([1, 3])
    m.update_state([5], sample_weight=[2])
    assert m.result() == pytest.approx((1 + 3 + 10) / 4)


def test_precision_and_recall_are_zero_without_positives():
    assert metrics.Precision()([1, 1], [0.1, 0.2]) == 0.0
    assert metrics.Recall()([0, 0], [0.9, 0.2]) == 0.0
    assert metrics.Precision(thresholds=[0.1, 0.5])([1, 0], [0.3, 0.2]) == [0.5, 0.0]


def test_regression_and_crossentropy_metrics():
    y = np.array([[1.0], [2.0], [3.0]])
    p = np.array([[1.5], [2.0], [1.0]])
    assert metrics.MeanSquaredError()(y, p) == pytest.approx((0.25 + 0 + 4) / 3)
    assert metrics.MeanAbsoluteError()(y, p) == pytest.approx((0.5 + 0 + 2) / 3)
    assert metrics.RootMeanSquaredError()(y, p) == pytest.approx(np.sqrt(4.25 / 3))
    assert metrics.BinaryCrossentropy()([[1.0]], [[0.5]]) == pytest.approx(np.log(2), rel=1e-6)
    assert metrics.SparseCategoricalCrossentropy()([1], [[0.5, 0.5]]) == pytest.approx(
        np.log(2), rel=1e-6)


def test_accuracies():
    assert metrics.Accuracy()([1, 2, 3], [1, 2, 4]) == pytest.approx(2 / 3)
    assert metrics.CategoricalAccuracy()([[0, 1], [1, 0]], [[0.3, 0.7], [0.4, 0.6]]) == 0.5
    assert metrics.SparseCategoricalAccuracy()([1, 0], [[0.3, 0.7], [0.4, 0.6]]) == 0.5
    assert metrics.SparseCategoricalAccuracy()([[1], [0]], [[0.3, 0.7], [0.4, 0.6]]) == 0.5
    assert metrics.BinaryAccuracy()([[1], [0]], [0.7, 0.6]) == 0.5   # (n, 1) against (n,)


# ---- names and lookup -----------------------------------------------------------------------------
def test_default_names_and_directions():
    assert [m().name for m in (metrics.AUC, metrics.Precision, metrics.Recall,
                               metrics.BinaryAccuracy, metrics.MeanSquaredError)] == \
        ["auc", "precision", "recall", "binary_accuracy", "mean_squared_error"]
    assert metrics.AUC._direction == "up" and metrics.MeanAbsoluteError._direction == "down"


def test_get_names_the_metric_as_given():
    assert isinstance(metrics.get("mse"), metrics.MeanSquaredError)
    assert metrics.get("mse").name == "mse"
    assert metrics.get("mean_squared_error").name == "mean_squared_error"
    assert isinstance(metrics.get("auc"), metrics.AUC) and metrics.get("AUC").name == "AUC"
    m = metrics.Recall(name="sensitivity")
    assert metrics.get(m) is m
    wrapped = metrics.get(lambda y_true, y_pred: np.abs(y_true - y_pred))
    assert wrapped([1.0, 3.0], [0.0, 0.0]) == 2.0


def test_get_suggests_the_closest_name():
    with pytest.raises(ValueError, match="Did you mean 'accuracy'") as e:
        metrics.get("acuracy")
    assert "precision" in str(e.value)


@pytest.mark.parametrize("y_shape, p_shape, kind", [
    ((8,), (8, 1), metrics.BinaryAccuracy), ((8, 1), (8, 1), metrics.BinaryAccuracy),
    ((8,), (8, 3), metrics.SparseCategoricalAccuracy),
    ((8, 1), (8, 3), metrics.SparseCategoricalAccuracy),
    ((8, 3), (8, 3), metrics.CategoricalAccuracy)])
def test_accuracy_resolves_from_shapes_as_keras(y_shape, p_shape, kind):
    m = metrics.for_output("accuracy", np.zeros(y_shape), np.zeros(p_shape))
    assert type(m) is kind and m.name == "accuracy"
    assert metrics.for_output("acc", np.zeros(y_shape), np.zeros(p_shape)).name == "acc"
    assert type(metrics.for_output("auc", np.zeros(y_shape), np.zeros(p_shape))) is metrics.AUC
