"""NeuralNetClassifier / NeuralNetRegressor in scikit-learn's machinery, and what they promise."""
import copy
import pickle

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn.base import clone  # noqa: E402
from sklearn.datasets import make_classification, make_regression  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

import chainrule as cr  # noqa: E402
from chainrule.sklearn import NeuralNetClassifier, NeuralNetRegressor  # noqa: E402


@pytest.fixture(scope="module")
def clf_data():
    X, y = make_classification(n_samples=240, n_features=8, n_informative=5, n_classes=3,
                               random_state=0)
    return StandardScaler().fit_transform(X), y


@pytest.fixture(scope="module")
def reg_data():
    X, y = make_regression(n_samples=200, n_features=5, noise=5.0, random_state=0)
    return StandardScaler().fit_transform(X), y / y.std()


def test_pipeline_gridsearch_cross_val_and_clone(clf_data):
    X, y = clf_data
    pipe = make_pipeline(StandardScaler(), NeuralNetClassifier(max_epochs=30, random_state=0))
    grid = GridSearchCV(pipe, {"neuralnetclassifier__lr": [1e-4, 1e-2]}, cv=3)
    grid.fit(X, y)
    assert grid.best_params_ == {"neuralnetclassifier__lr": 1e-2}  # 1e-4 barely moves in 30 epochs
    assert grid.best_score_ > 0.75
    scores = cross_val_score(NeuralNetClassifier(max_epochs=30, lr=0.01, random_state=0), X, y,
                             cv=3)
    assert scores.shape == (3,) and scores.mean() > 0.75
    est = NeuralNetClassifier(lr=0.05, module=lambda i, o: cr.nn.Linear(i, o)).fit(X, y)
    twin = clone(est)
    assert twin.get_params()["lr"] == 0.05 and not hasattr(twin, "module_")


def test_string_labels_and_predict_proba(clf_data):
    X, y = clf_data
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    clf = NeuralNetClassifier(max_epochs=40, lr=0.01, random_state=0).fit(X, names)
    assert clf.classes_.tolist() == ["setosa", "versicolor", "virginica"]
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 3)
    np.testing.assert_allclose(proba.sum(1), 1.0, atol=1e-12)
    pred = clf.predict(X)
    assert pred.dtype == names.dtype
    np.testing.assert_array_equal(pred, clf.classes_[proba.argmax(1)])
    assert clf.score(X, names) > 0.8
    assert clf.n_features_in_ == 8 and clf.n_iter_ == 40 and len(clf.history_) == 40


def test_binary_criteria_give_two_column_probabilities(clf_data):
    X, y = clf_data
    yb = (y == 0).astype(int)
    for criterion in (cr.nn.BCEWithLogitsLoss, cr.nn.CrossEntropyLoss()):
        clf = NeuralNetClassifier(criterion=criterion, max_epochs=30, lr=0.01, random_state=0)
        proba = clf.fit(X, yb).predict_proba(X)
        assert proba.shape == (len(X), 2)
        np.testing.assert_allclose(proba.sum(1), 1.0)
        assert clf.score(X, yb) > 0.85
    with pytest.raises(cr.ConfigError, match="2 classes"):
        NeuralNetClassifier(criterion=cr.nn.BCEWithLogitsLoss).fit(X, y)


def test_partial_fit_continues_training(clf_data):
    X, y = clf_data
    clf = NeuralNetClassifier(max_epochs=2, lr=0.01, random_state=0)
    clf.partial_fit(X[:100], y[:100], classes=[0, 1, 2])
    first = clf.module_
    weights = [p._data.copy() for p in first.parameters()]
    clf.partial_fit(X[100:], y[100:])
    assert clf.module_ is first and len(clf.history_) == 4
    assert any(not np.array_equal(w, p._data) for w, p in zip(weights, first.parameters()))
    with pytest.raises(cr.DataError, match="labels not among"):
        clf.partial_fit(X[:5], np.array([0, 1, 2, 3, 0]))
    with pytest.raises(cr.ConfigError, match="not the same as classes_"):
        clf.partial_fit(X[:5], y[:5], classes=[0, 1])
    with pytest.raises(ValueError, match="features"):
        clf.partial_fit(X[:5, :4], y[:5])
    # a batch that holds one class only is fine once the classes are known
    clf.partial_fit(X[y == 1][:10], y[y == 1][:10])
    reg = NeuralNetRegressor(max_epochs=3, lr=0.01, random_state=0)
    reg.partial_fit(X, y.astype(float)).partial_fit(X, y.astype(float))
    assert reg.n_iter_ == 3 and len(reg.history_) == 6


def test_warm_start_keeps_the_network(clf_data):
    X, y = clf_data
    clf = NeuralNetClassifier(max_epochs=3, warm_start=True, random_state=0).fit(X, y)
    net = clf.module_
    clf.fit(X, y)
    assert clf.module_ is net and len(clf.history_) == 6
    clf.set_params(warm_start=False).fit(X, y)
    assert clf.module_ is not net and len(clf.history_) == 3


def test_random_state_reproducible_and_global_stream_untouched(clf_data):
    X, y = clf_data
    cr.manual_seed(123)
    before = cr.get_rng_state()
    a = NeuralNetClassifier(max_epochs=5, random_state=7).fit(X, y).predict_proba(X)
    assert cr.get_rng_state() == before
    b = NeuralNetClassifier(max_epochs=5, random_state=7).fit(X, y).predict_proba(X)
    c = NeuralNetClassifier(max_epochs=5, random_state=8).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    # dropout inside the module is seeded too
    drop = lambda i, o: cr.nn.Sequential(cr.nn.Linear(i, 16), cr.nn.Dropout(0.5), cr.nn.Linear(16, o))
    d1 = NeuralNetClassifier(module=drop, max_epochs=3, random_state=1).fit(X, y).predict_proba(X)
    d2 = NeuralNetClassifier(module=drop, max_epochs=3, random_state=1).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(d1, d2)


def test_sample_weight_equals_repetition_with_full_batches(clf_data):
    X, y = clf_data[0][:60], clf_data[1][:60]
    w = np.random.RandomState(0).randint(0, 3, len(X))
    kw = dict(max_epochs=15, lr=0.01, batch_size=-1, random_state=0)
    weighted = NeuralNetClassifier(**kw).fit(X, y, sample_weight=w)
    repeated = NeuralNetClassifier(**kw).fit(np.repeat(X, w, 0), np.repeat(y, w))
    np.testing.assert_allclose(weighted.predict_proba(X), repeated.predict_proba(X), rtol=1e-9)
    reg = NeuralNetRegressor(**kw).fit(X, y * 1.0, sample_weight=w)
    rep = NeuralNetRegressor(**kw).fit(np.repeat(X, w, 0), np.repeat(y * 1.0, w))
    np.testing.assert_allclose(reg.predict(X), rep.predict(X), rtol=1e-9)


def test_sample_weight_needs_a_per_sample_criterion(clf_data):
    X, y = clf_data

    def loss(output, target):
        return cr.nn.functional.cross_entropy(output, target)

    NeuralNetClassifier(criterion=loss, max_epochs=1).fit(X, y)
    with pytest.raises(cr.ConfigError, match="per-sample"):
        NeuralNetClassifier(criterion=loss, max_epochs=1).fit(X, y, sample_weight=np.ones(len(y)))
    with pytest.raises(ValueError, match="zero"):
        NeuralNetClassifier().fit(X, y, sample_weight=np.zeros(len(y)))
    with pytest.raises(ValueError, match="Negative"):
        NeuralNetClassifier().fit(X, y, sample_weight=-np.ones(len(y)))
    with pytest.raises(ValueError, match="one class"):
        NeuralNetClassifier().fit(X, y, sample_weight=(y == 0) * 1.0)


def test_early_stopping_keeps_the_best_epoch():
    X, y = make_classification(n_samples=120, n_features=20, n_informative=3, flip_y=0.2,
                               random_state=1)
    clf = NeuralNetClassifier(max_epochs=300, lr=0.02, early_stopping=True, n_iter_no_change=5,
                              validation_fraction=0.25, random_state=0).fit(X, y)
    assert clf.n_iter_ < 300
    losses = [h["valid_loss"] for h in clf.history_]
    best = int(np.argmin(losses))
    assert clf.n_iter_ == best + 1 + 5  # stopped 5 epochs without improvement after the best
    # the kept weights are the best epoch's: recompute that epoch's validation loss
    rng = np.random.RandomState(0)
    rng.randint(np.iinfo(np.int32).max)  # the initial-weights seed
    from sklearn.model_selection import train_test_split
    _, val = train_test_split(np.arange(120), test_size=30, stratify=y, random_state=rng)
    val = np.sort(val)
    proba = clf.predict_proba(X[val])
    nll = -np.mean(np.log(proba[np.arange(len(val)), y[val]]))
    assert nll == pytest.approx(losses[best], rel=1e-9)


def test_custom_modules_are_copied_and_checked(clf_data):
    X, y = clf_data
    net = cr.nn.Sequential(cr.nn.Linear(8, 16), cr.nn.Tanh(), cr.nn.Linear(16, 3))
    before = [p._data.copy() for p in net.parameters()]
    clf = NeuralNetClassifier(module=net, max_epochs=3, lr=0.01).fit(X, y)
    assert clf.module_ is not net
    assert all(np.array_equal(b, p._data) for b, p in zip(before, net.parameters()))
    assert clf._dtype == np.float32  # a given module keeps its own dtype
    inputs = cr.layers.Input((8,))
    keras_net = cr.Model(inputs, cr.layers.Dense(3)(cr.layers.Dense(8, activation="relu")(inputs)))
    assert NeuralNetClassifier(module=keras_net, max_epochs=5, lr=0.05).fit(X, y).score(X, y) > 0.6
    with pytest.raises(cr.ShapeError, match=r"\(n_samples, 3\) outputs"):
        NeuralNetClassifier(module=cr.nn.Linear(8, 2)).fit(X, y)
    with pytest.raises(cr.errors.ArgumentTypeError, match="must return a cr.nn.Module"):
        NeuralNetClassifier(module=lambda i, o: "net").fit(X, y)


def test_bad_parameters_raise_at_fit_naming_them(clf_data):
    X, y = clf_data
    for params, word in [({"lr": 0}, "lr"), ({"max_epochs": 0}, "max_epochs"),
                         ({"batch_size": 0}, "batch_size"), ({"validation_fraction": 1.0},
                                                            "validation_fraction"),
                         ({"optimizer": "adam"}, "optimizer"), ({"tol": -1}, "tol")]:
        est = NeuralNetClassifier(**params)  # scikit-learn: __init__ never validates
        with pytest.raises(cr.ConfigError, match=word):
            est.fit(X, y)
        assert not hasattr(est, "module_")


def test_regressor_multi_output_and_float32(reg_data):
    X, y = reg_data
    reg = NeuralNetRegressor(max_epochs=60, lr=0.01, random_state=0).fit(X, y)
    assert reg.predict(X).shape == (len(X),) and reg.score(X, y) > 0.9
    Y = np.column_stack([y, -2 * y])
    multi = NeuralNetRegressor(max_epochs=60, lr=0.01, random_state=0).fit(X, Y)
    assert multi.predict(X).shape == (len(X), 2) and multi.score(X, Y) > 0.9
    f32 = NeuralNetRegressor(max_epochs=2, random_state=0).fit(X.astype(np.float32), y)
    assert f32.module_[0].weight.dtype == cr.float32 and f32.predict(X).dtype == np.float32
    f64 = NeuralNetRegressor(max_epochs=2, random_state=0, dtype="float32").fit(X, y)
    assert f64._dtype == np.float32


def test_pickle_and_deepcopy_round_trip(clf_data):
    X, y = clf_data
    clf = NeuralNetClassifier(max_epochs=3, random_state=0).fit(X, y)
    for twin in (pickle.loads(pickle.dumps(clf)), copy.deepcopy(clf)):
        np.testing.assert_array_equal(twin.predict_proba(X), clf.predict_proba(X))


def test_regressor_matches_pytorch_full_batch_sgd(reg_data):
    torch = pytest.importorskip("torch")
    X, y = reg_data
    net = cr.nn.Sequential(cr.nn.Linear(5, 7), cr.nn.Tanh(), cr.nn.Linear(7, 1)).double()
    tnet = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.Tanh(), torch.nn.Linear(7, 1)).double()
    tnet.load_state_dict({k: torch.tensor(v._data) for k, v in net.state_dict().items()})
    reg = NeuralNetRegressor(module=net, optimizer=cr.optim.SGD, lr=0.1, batch_size=-1,
                             max_epochs=20, optimizer_kwargs={"momentum": 0.9}).fit(X, y)
    opt = torch.optim.SGD(tnet.parameters(), lr=0.1, momentum=0.9)
    xt, yt = torch.tensor(X), torch.tensor(y).reshape(-1, 1)
    for _ in range(20):
        opt.zero_grad()
        torch.nn.functional.mse_loss(tnet(xt), yt).backward()
        opt.step()
    np.testing.assert_allclose(reg.predict(X), tnet(xt).detach().numpy().ravel(), rtol=1e-10,
                               atol=1e-12)
