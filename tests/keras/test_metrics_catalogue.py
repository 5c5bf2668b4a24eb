"""The rest of Keras 3's metrics: F-scores, top-k accuracy, R², confusion counts and the
precision/recall trade-offs, against Keras's documented examples and NumPy (or scikit-learn)
references, with update_state / result / reset_state and sample weights."""
import numpy as np
import pytest

import chainrule as cr
from chainrule.keras import metrics

F_TRUE = np.array([[1, 1, 1], [1, 0, 0], [1, 1, 0]], np.int32)
F_PRED = np.array([[0.2, 0.6, 0.7], [0.2, 0.6, 0.6], [0.6, 0.8, 0.0]], np.float32)


def test_f1_and_fbeta_match_the_keras_documentation():
    f1 = metrics.F1Score(threshold=0.5)
    f1.update_state(F_TRUE, F_PRED)
    np.testing.assert_allclose(f1.result(), [0.5, 0.8, 0.6666667], rtol=1e-6)
    fb = metrics.FBetaScore(beta=2.0, threshold=0.5)
    fb.update_state(F_TRUE, F_PRED)
    np.testing.assert_allclose(fb.result(), [0.3846154, 0.90909094, 0.8333334], rtol=1e-6)
    assert f1.name == "f1_score" and fb.name == "fbeta_score"


def _f_reference(t, p, beta, average, weights=None):
    """Keras's F-β by hand: per-class counts, ε = 1e-7 in every division."""
    w = np.ones(len(t)) if weights is None else weights
    axis = None if average == "micro" else 0
    tp = (p * t * w[:, None]).sum(axis)
    fp = (p * (1 - t) * w[:, None]).sum(axis)
    fn = ((1 - p) * t * w[:, None]).sum(axis)
    support = (t * w[:, None]).sum(axis)
    prec, rec = tp / (tp + fp + 1e-7), tp / (tp + fn + 1e-7)
    f = prec * rec / (beta ** 2 * prec + rec + 1e-7) * (1 + beta ** 2)
    if average == "weighted":
        return (f * support / (support.sum() + 1e-7)).sum()
    return f.mean() if average else f


@pytest.mark.parametrize("average", [None, "micro", "macro", "weighted"])
def test_fbeta_averages_weights_and_batches(average):
    rng = np.random.default_rng(0)
    t = (rng.random((40, 4)) < 0.4).astype(float)
    p = rng.random((40, 4))
    w = rng.uniform(0.5, 2, 40)
    m = metrics.FBetaScore(average=average, beta=0.5, threshold=0.4)
    m.update_state(t[:25], p[:25], sample_weight=w[:25])
    m.update_state(t[25:], p[25:], sample_weight=w[25:])
    np.testing.assert_allclose(m.result(), _f_reference(t, (p > 0.4) * 1.0, 0.5, average, w),
                               rtol=1e-6)
    m.reset_state()
    assert m.result() == 0.0


def test_f1_threshold_none_takes_each_rows_maximum():
    sklearn = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 3, 50)
    t, p = np.eye(3)[labels], rng.random((50, 3))
    m = metrics.F1Score(average="macro")
    m.update_state(t, p)
    ref = sklearn.f1_score(labels, p.argmax(1), average="macro")
    assert m.result() == pytest.approx(ref, abs=1e-5)


def test_top_k_categorical_accuracy():
    m = metrics.TopKCategoricalAccuracy(k=1)
    m.update_state([[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]])
    assert m.result() == 0.5                     # Keras's documented example
    m.reset_state()
    m.update_state([[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]],
                   sample_weight=[0.7, 0.3])
    assert m.result() == pytest.approx(0.3)
    assert metrics.TopKCategoricalAccuracy().name == "top_k_categorical_accuracy"
    assert metrics.TopKCategoricalAccuracy().get_config()["k"] == 5
    tie = metrics.TopKCategoricalAccuracy(k=1)      # a tie at the k-th score counts in
    assert tie([[1, 0]], [[0.5, 0.5]]) == 1.0


def test_r2_score():
    m = metrics.R2Score()
    m.update_state(np.array([[1], [4], [3]], np.float32), np.array([[2], [4], [4]], np.float32))
    assert m.result() == pytest.approx(0.57142854, rel=1e-6)   # Keras's documented example
    sklearn = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(2)
    t, p, w = rng.normal(size=(30, 3)), rng.normal(size=(30, 3)), rng.uniform(0.1, 2, 30)
    for aggregation, multioutput in [("uniform_average", "uniform_average"),
                                     ("variance_weighted_average", "variance_weighted"),
                                     (None, "raw_values")]:
        m = metrics.R2Score(class_aggregation=aggregation)
        m.update_state(t[:10], p[:10], sample_weight=w[:10])
        m.update_state(t[10:], p[10:], sample_weight=w[10:])
        ref = sklearn.r2_score(t, p, sample_weight=w, multioutput=multioutput)
        np.testing.assert_allclose(m.result(), ref, rtol=1e-6)
    adjusted = metrics.R2Score(num_regressors=2)
    adjusted.update_state(t[:, :1], p[:, :1])
    r2 = sklearn.r2_score(t[:, 0], p[:, 0])
    assert adjusted.result() == pytest.approx(1 - (1 - r2) * 29 / 27, rel=1e-6)


@pytest.mark.parametrize("cls, doc_true, doc_pred, doc_weight, value, weighted", [
    (metrics.TruePositives, [0, 1, 1, 1], [1, 0, 1, 1], [0, 0, 1, 0], 2.0, 1.0),
    (metrics.FalsePositives, [0, 1, 0, 0], [0, 0, 1, 1], [0, 0, 1, 0], 2.0, 1.0),
    (metrics.TrueNegatives, [0, 1, 0, 0], [1, 1, 0, 0], [0, 0, 0, 1], 2.0, 1.0),
    (metrics.FalseNegatives, [0, 1, 1, 1], [0, 1, 0, 0], [0, 0, 1, 0], 2.0, 1.0),
])
def test_confusion_counts_match_the_keras_documentation(cls, doc_true, doc_pred, doc_weight,
                                                        value, weighted):
    m = cls()
    m.update_state(doc_true, doc_pred)
    assert m.result() == value
    m.reset_state()
    m.update_state(doc_true, doc_pred, sample_weight=doc_weight)
    assert m.result() == weighted


def test_confusion_counts_at_several_thresholds():
    rng = np.random.default_rng(3)
    t, p = (rng.random(100) < 0.5) * 1.0, rng.random(100)
    counts = [metrics.TruePositives(thresholds=[0.2, 0.5, 0.9]),
              metrics.FalsePositives(thresholds=[0.2, 0.5, 0.9]),
              metrics.TrueNegatives(thresholds=[0.2, 0.5, 0.9]),
              metrics.FalseNegatives(thresholds=[0.2, 0.5, 0.9])]
    for m in counts:
        m.update_state(t, p)
    for i, thr in enumerate([0.2, 0.5, 0.9]):
        pred = p > thr
        want = [(pred & (t == 1)).sum(), (pred & (t == 0)).sum(),
                (~pred & (t == 0)).sum(), (~pred & (t == 1)).sum()]
        assert [m.result()[i] for m in counts] == want
    assert metrics.TruePositives().name == "true_positives"


def test_precision_at_recall_and_recall_at_precision_match_keras():
    m = metrics.PrecisionAtRecall(0.5)
    m.update_state([0, 0, 0, 1, 1], [0, 0.3, 0.8, 0.3, 0.8])
    assert m.result() == 0.5
    m.reset_state()
    m.update_state([0, 0, 0, 1, 1], [0, 0.3, 0.8, 0.3, 0.8], sample_weight=[2, 2, 2, 1, 1])
    assert m.result() == pytest.approx(0.33333333)
    r = metrics.RecallAtPrecision(0.8)
    r.update_state([0, 0, 1, 1], [0, 0.5, 0.3, 0.9])
    assert r.result() == 0.5
    r.reset_state()
    r.update_state([0, 0, 1, 1], [0, 0.5, 0.3, 0.9], sample_weight=[1, 0, 0, 1])
    assert r.result() == 1.0
    unreachable = metrics.RecallAtPrecision(1.0)
    unreachable.update_state([0, 1], [0.9, 0.1])
    assert unreachable.result() == 0.0


def test_precision_at_recall_against_a_brute_force_sweep():
    rng = np.random.default_rng(4)
    t, p = (rng.random(200) < 0.4) * 1.0, rng.random(200)
    m = metrics.PrecisionAtRecall(0.7, num_thresholds=50)
    m.update_state(t, p)
    best = 0.0
    for i in range(50):
        thr = i / 49
        pred = p > thr if i else np.ones_like(p, dtype=bool)
        tp, fp, fn = (pred & (t == 1)).sum(), (pred & (t == 0)).sum(), (~pred & (t == 1)).sum()
        if tp / (tp + fn) >= 0.7:
            best = max(best, tp / (tp + fp))
    assert m.result() == pytest.approx(best)


def test_class_id_picks_one_column():
    t = np.eye(3)[[0, 1, 2, 1]]
    p = np.array([[0.9, 0.1, 0.0], [0.2, 0.7, 0.1], [0.1, 0.3, 0.6], [0.6, 0.3, 0.1]])
    m = metrics.PrecisionAtRecall(1.0, class_id=1)
    m.update_state(t, p)
    col = metrics.PrecisionAtRecall(1.0)
    col.update_state(t[:, 1], p[:, 1])
    assert m.result() == col.result()


def test_new_metrics_in_compile_save_and_errors(tmp_path):
    x = np.random.default_rng(5).normal(size=(40, 3))
    y = (x[:, :1] > 0).astype(float)
    model = cr.Sequential([cr.layers.Input((3,)), cr.layers.Dense(1, activation="sigmoid")])
    model.compile("adam", "binary_crossentropy",
                  ["true_positives", metrics.F1Score(average="micro", threshold=0.5),
                   metrics.PrecisionAtRecall(0.5)])
    logs = model.fit(x, y, epochs=1, verbose=0).history
    assert {"true_positives", "f1_score", "precision_at_recall"} <= set(logs)
    model.save(tmp_path / "m.keras")
    restored = cr.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(restored.evaluate(x, y, verbose=0), model.evaluate(x, y, verbose=0))
    with pytest.raises(ValueError, match="average"):
        metrics.F1Score(average="mean")
    with pytest.raises(ValueError, match="beta"):
        metrics.FBetaScore(beta=2)
    with pytest.raises(ValueError, match="recall"):
        metrics.PrecisionAtRecall(1.5)
    with pytest.raises(ValueError, match="class_aggregation"):
        metrics.R2Score(class_aggregation="mean")
