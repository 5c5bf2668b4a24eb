"""compile / fit / evaluate / predict: Keras semantics, on a stand-in Module and on cr.Model."""
import numpy as np
import pytest

import chainrule as cr
from chainrule import keras, nn, optim
from chainrule.keras import callbacks as C
from chainrule.keras import losses, metrics
from chainrule.keras.training import Trainer
from chainrule.tensor import Tensor

torch = pytest.importorskip("torch")


class Net(nn.Module, Trainer):
    """A test stand-in for cr.Model: an nn.Sequential with the Trainer mixed in."""

    def __init__(self, n_in=3, hidden=8, penalty=0.0, dropout=0.0):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(n_in, hidden), nn.Tanh(), nn.Dropout(dropout),
                                  nn.Linear(hidden, 1), nn.Sigmoid())
        self.penalty = penalty

    def forward(self, x):
        return self.body(x)

    @property
    def losses(self):
        """An L2 penalty on the first layer's weights, as a regulariser would add."""
        if not self.penalty:
            return []
        return [self.penalty * (self.body[0].weight ** 2).sum()]


class TwoHeads(nn.Module, Trainer):
    """Two inputs (a dict or a list), two outputs: a probability and a regression value."""

    input_names = ["a", "b"]
    output_names = ["prob", "value"]

    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Linear(2, 4), nn.Linear(1, 4)
        self.prob, self.value = nn.Linear(4, 1), nn.Linear(4, 1)

    def forward(self, x):
        a, b = (x["a"], x["b"]) if isinstance(x, dict) else x
        h = (self.a(a) + self.b(b)).tanh()
        return [self.prob(h).sigmoid(), self.value(h)]


def blobs(n=200, seed=0, positives=0.5):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < positives).astype(float)
    x = rng.normal(size=(n, 3)) + y[:, None] * np.array([2.0, 1.0, 0.0])
    return x, y


def net(optimizer="adam", loss="binary_crossentropy", metrics_=("accuracy",), seed=0, **kw):
    cr.manual_seed(seed)
    model = Net(**kw)
    model.compile(optimizer, loss, list(metrics_))
    return model


# ---- fit basics ---------------------------------------------------------------------------------
def test_fit_reduces_the_loss_and_returns_a_history():
    x, y = blobs()
    model = net(optimizer=keras.optimizers.Adam(learning_rate=0.05), metrics_=["accuracy", "auc"])
    h = model.fit(x, y, epochs=15, validation_split=0.25, verbose=0)
    assert isinstance(h, C.History) and model.history is h
    assert list(h.history) == ["accuracy", "auc", "loss", "val_accuracy", "val_auc", "val_loss"]
    assert h.epoch == list(range(15)) and h.params == {"verbose": 0, "epochs": 15, "steps": 5}
    assert all(len(v) == 15 for v in h.history.values())
    assert h.history["loss"][-1] < 0.7 * h.history["loss"][0]
    assert h.history["val_accuracy"][-1] > 0.7 and h.history["auc"][-1] > 0.8
    assert all(isinstance(v, float) for vs in h.history.values() for v in vs)


def test_logs_are_the_epoch_values():
    x, y = blobs(64)
    model = net()
    h = model.fit(x, y, batch_size=64, epochs=1, shuffle=False, verbose=0)
    # one batch: the logged loss and accuracy are those of the batch before the step
    cr.manual_seed(0)
    fresh = Net()
    p = fresh(Tensor(x.astype(np.float32))).detach().numpy()[:, 0]
    expected = losses.BinaryCrossentropy()(y[:, None], Tensor(p[:, None])).item()
    assert h.history["loss"][0] == pytest.approx(expected, rel=1e-5)
    assert h.history["accuracy"][0] == pytest.approx(np.mean((p > 0.5) == y))


def test_epoch_loss_is_the_batch_size_weighted_mean():
    x, y = blobs(50)
    batch_losses = []
    record = C.LambdaCallback(on_train_batch_end=lambda b, logs: batch_losses.append(logs["loss"]))
    model = net(optimizer=keras.optimizers.SGD(learning_rate=0.0))   # weights stay put
    h = model.fit(x, y, batch_size=20, epochs=1, shuffle=False, verbose=0, callbacks=[record])
    assert h.history["loss"][0] == pytest.approx(batch_losses[-1])
    assert h.history["loss"][0] == pytest.approx(model.evaluate(x, y, verbose=0)[0], rel=1e-6)


def test_same_seed_same_history():
    x, y = blobs()
    runs = [net(seed=3).fit(x, y, epochs=4, validation_split=0.2, verbose=0).history
            for _ in range(2)]
    assert runs[0] == runs[1]
    other = net(seed=4).fit(x, y, epochs=4, validation_split=0.2, verbose=0).history
    assert other != runs[0]


def test_shuffle_uses_the_default_generator():
    x, y = blobs()
    cr.manual_seed(0)
    model = Net()
    model.compile("sgd", "binary_crossentropy")
    start = {k: v.clone() for k, v in model.state_dict().items()}

    def run(seed, shuffle):
        model.load_state_dict(start)
        model.compile("sgd", "binary_crossentropy")
        cr.manual_seed(seed)
        return model.fit(x, y, epochs=2, shuffle=shuffle, verbose=0).history["loss"]

    assert run(1, True) == run(1, True) != run(2, True)
    assert run(1, False) == run(2, False)
    assert run(1, "batch") != run(1, False)


def test_validation_split_takes_the_last_rows_before_shuffling():
    x, y = blobs(100)
    model = net()
    h = model.fit(x, y, epochs=2, validation_split=0.3, verbose=0)
    loss, acc = model.evaluate(x[70:], y[70:], verbose=0)
    assert h.history["val_loss"][-1] == pytest.approx(loss, rel=1e-6)
    assert h.history["val_accuracy"][-1] == pytest.approx(acc)
    assert h.params["steps"] == 3                       # 70 training rows in batches of 32


def test_validation_data_with_weights_and_frequency():
    x, y = blobs(100)
    w = np.linspace(0.5, 2.0, 30)
    model = net()
    h = model.fit(x[:70], y[:70], epochs=4, validation_data=(x[70:], y[70:], w),
                  validation_freq=2, verbose=0)
    assert len(h.history["val_loss"]) == 2 and len(h.history["loss"]) == 4
    loss = model.evaluate(x[70:], y[70:], sample_weight=w, verbose=0)[0]
    assert h.history["val_loss"][-1] == pytest.approx(loss, rel=1e-6)


def test_initial_epoch_and_steps_per_epoch():
    x, y = blobs(100)
    model = net()
    h = model.fit(x, y, epochs=5, initial_epoch=3, verbose=0)
    assert h.epoch == [3, 4]
    seen = []
    h = model.fit(x, y, batch_size=10, epochs=3, steps_per_epoch=4, verbose=0,
                  callbacks=[C.LambdaCallback(on_train_batch_end=lambda b, l: seen.append(b))])
    assert seen == [0, 1, 2, 3] * 3 and h.params["steps"] == 4


# ---- weights --------------------------------------------------------------------------------------
def test_class_weight_raises_recall_on_imbalanced_data():
    x, y = blobs(400, seed=1, positives=0.15)
    recall = {}
    for name, cw in (("plain", None), ("weighted", {0: 1.0, 1: 6.0})):
        model = net(optimizer=keras.optimizers.Adam(learning_rate=0.02),
                    metrics_=[metrics.Recall()])
        h = model.fit(x, y, epochs=30, class_weight=cw, verbose=0)
        recall[name] = h.history["recall"][-1]
    assert recall["weighted"] > recall["plain"] + 0.2


def test_class_weight_equals_the_matching_sample_weight():
    x, y = blobs(60)
    cw = {0: 0.5, 1: 3.0}
    a = net(optimizer="sgd").fit(x, y, epochs=2, class_weight=cw, verbose=0).history
    b = net(optimizer="sgd").fit(x, y, epochs=2, sample_weight=np.where(y == 1, 3.0, 0.5),
                                 verbose=0).history
    assert a == b


def test_sample_weight_two_is_a_duplicated_row():
    x, y = blobs(9)
    model = net()
    w = np.ones(9)
    w[0] = 2.0
    weighted = model.evaluate(x, y, sample_weight=w, verbose=0)[0]
    duplicated = model.evaluate(np.r_[x, x[:1]], np.r_[y, y[:1]], verbose=0)[0]
    assert weighted * 9 == pytest.approx(duplicated * 10, rel=1e-6)   # Σw·l/n: n is 9 vs 10
    # with a summed loss a step on the weighted batch equals one on the duplicated batch
    steps = []
    for xs, ys, sw in ((x, y, w), (np.r_[x, x[:1]], np.r_[y, y[:1]], None)):
        model = net(optimizer="sgd", loss=losses.BinaryCrossentropy(reduction="sum"))
        model.train_on_batch(xs, ys, sample_weight=sw)
        steps.append([p.detach().numpy() for p in model.parameters()])
    for a, b in zip(*steps):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_weighted_metrics_use_the_weights_and_plain_ones_do_not():
    x, y = blobs(40)
    model = Net()
    model.compile("sgd", "binary_crossentropy", metrics=["accuracy"],
                  weighted_metrics=["accuracy"])
    w = np.where(y == 1, 5.0, 1.0)
    logs = model.evaluate(x, y, sample_weight=w, verbose=0, return_dict=True)
    p = model.predict(x, verbose=0)[:, 0]
    right = ((p > 0.5) == y).astype(float)
    assert logs["accuracy"] == pytest.approx(right.mean())
    assert logs["weighted_accuracy"] == pytest.approx((w * right).sum() / w.sum())


def test_regularisation_penalty_is_added_to_the_loss():
    x, y = blobs(40)
    plain, reg = net(penalty=0.0), net(penalty=0.1)          # same seed: same weights
    penalty = reg.losses[0].item()
    assert reg.evaluate(x, y, verbose=0)[0] == pytest.approx(
        plain.evaluate(x, y, verbose=0)[0] + penalty, rel=1e-6)
    # the logged training loss includes it, as Keras's does
    frozen = dict(optimizer=keras.optimizers.SGD(learning_rate=0.0))
    gap = (net(penalty=0.1, **frozen).fit(x, y, epochs=1, verbose=0).history["loss"][0]
           - net(**frozen).fit(x, y, epochs=1, verbose=0).history["loss"][0])
    assert gap == pytest.approx(penalty, rel=1e-5)
    # and its gradient 2·0.1·W joins the step
    plain, reg = (net(optimizer=keras.optimizers.SGD(learning_rate=0.5), penalty=c)
                  for c in (0.0, 0.1))
    w0 = reg.body[0].weight.detach().numpy().copy()
    plain.train_on_batch(x, y)
    reg.train_on_batch(x, y)
    np.testing.assert_allclose(reg.body[0].weight.detach().numpy(),
                               plain.body[0].weight.detach().numpy() - 0.5 * 0.2 * w0,
                               rtol=1e-5, atol=1e-6)


# ---- evaluate, predict, on_batch ------------------------------------------------------------------
def test_evaluate_returns_loss_then_metrics_in_compile_order():
    x, y = blobs(50)
    model = net(metrics_=["auc", "accuracy"])
    out = model.evaluate(x, y, verbose=0)
    d = model.evaluate(x, y, verbose=0, return_dict=True)
    assert model.metrics_names == ["loss", "auc", "accuracy"]
    assert out == [d["loss"], d["auc"], d["accuracy"]]
    p = model.predict(x, verbose=0)
    assert d["auc"] == pytest.approx(metrics.AUC()(y, p))
    bare = net(metrics_=())
    assert isinstance(bare.evaluate(x, y, verbose=0), float)


def test_predict_batches_in_eval_mode_and_keeps_the_mode():
    x, _ = blobs(70)
    model = net(dropout=0.5)
    model.train()
    full = model.predict(x, batch_size=70, verbose=0)
    assert full.shape == (70, 1) and isinstance(full, np.ndarray)
    np.testing.assert_allclose(model.predict(x, batch_size=8, verbose=0), full, rtol=1e-6)
    np.testing.assert_allclose(model.predict_on_batch(x[:5]), full[:5], rtol=1e-6)
    assert model.training                       # dropout was off for predict, mode restored
    model.eval()
    model.fit(x, np.zeros(70), epochs=1, verbose=0)
    assert not model.training


def test_on_batch_methods():
    x, y = blobs(32)
    model = net(optimizer="sgd")
    before = model.test_on_batch(x, y)
    model.reset_metrics()
    logs = model.train_on_batch(x, y, return_dict=True)
    assert logs["loss"] == pytest.approx(before[0], rel=1e-6)   # the loss before the step
    after = model.test_on_batch(x, y, return_dict=True)
    assert after["loss"] < logs["loss"]


def test_inputs_as_lists_tensors_and_dicts_and_several_outputs():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(60, 2)), rng.normal(size=(60, 1))
    prob = (a[:, 0] > 0).astype(float)
    value = a[:, 1] + b[:, 0]
    cr.manual_seed(0)
    model = TwoHeads()
    model.compile("adam", ["binary_crossentropy", "mse"], metrics={"prob": ["accuracy"]},
                  loss_weights=[1.0, 0.5])
    h = model.fit({"a": a, "b": b}, {"prob": prob, "value": value}, epochs=3, verbose=0,
                  validation_split=0.2)
    assert list(h.history) == sorted(["loss", "prob_accuracy", "prob_loss", "value_loss",
                                      "val_loss", "val_prob_accuracy", "val_prob_loss",
                                      "val_value_loss"])
    logs = model.evaluate([a, b], [prob, value], verbose=0, return_dict=True)
    assert logs["loss"] == pytest.approx(logs["prob_loss"] + 0.5 * logs["value_loss"],
                                         rel=1e-5)
    p, v = model.predict([Tensor(a), Tensor(b)], verbose=0)
    assert p.shape == v.shape == (60, 1)
    assert model.evaluate([a, b], [prob, value], verbose=0)[0] == logs["loss"]


def test_single_input_forms_agree():
    x, y = blobs(40)
    model = net(optimizer=keras.optimizers.SGD(learning_rate=0.0))
    expected = model.evaluate(x, y, verbose=0)
    for xs, ys in ((x.tolist(), y.tolist()), ([x], [y]), (Tensor(x), Tensor(y[:, None])),
                   (x.astype(np.float32), y.astype(int)), (x, y[:, None])):
        assert model.evaluate(xs, ys, verbose=0) == pytest.approx(expected, rel=1e-6)


def test_loss_for_some_outputs_only_and_bad_loss_weights():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(20, 2)), rng.normal(size=(20, 1))
    model = TwoHeads()
    model.compile("sgd", {"value": "mse"})
    logs = model.evaluate([a, b], {"prob": np.zeros(20), "value": np.zeros(20)}, verbose=0,
                          return_dict=True)
    assert list(logs) == ["loss", "value_loss"] and logs["loss"] == logs["value_loss"]
    with pytest.raises(ValueError, match="loss_weights must be numbers"):
        model.compile("sgd", "mse", loss_weights={"prob": "high"})
    with pytest.raises(ValueError, match="loss has 3 entries but the model has 2 outputs"):
        model.compile("sgd", ["mse"] * 3)


def test_optimizer_and_loss_objects():
    x, y = blobs(64)
    cr.manual_seed(0)
    model = Net()
    model.compile(optim.SGD(model.parameters(), lr=0.5), nn.BCELoss(), ["accuracy"])
    h = model.fit(x, y, epochs=5, verbose=0)
    assert h.history["loss"][-1] < h.history["loss"][0]
    assert model.optimizer.learning_rate == 0.5
    with pytest.raises(ValueError, match="cannot weight samples"):
        model.fit(x, y, sample_weight=np.ones(64), verbose=0)
    model.compile(optim.Adam, losses.BinaryCrossentropy(label_smoothing=0.1))
    assert type(model.optimizer.optimizer) is optim.Adam
    model.fit(x, y, verbose=0)


def test_matches_a_plain_pytorch_loop():
    """A whole fit equals the same steps taken in PyTorch (SGD, batch size 16, no shuffle)."""
    x, y = blobs(48)
    model = net(optimizer=keras.optimizers.SGD(learning_rate=0.1), metrics_=())
    ref = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1),
                              torch.nn.Sigmoid())
    with torch.no_grad():
        for ours, theirs in zip(model.parameters(), ref.parameters()):
            theirs.copy_(torch.tensor(ours.detach().numpy()))
    h = model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    opt = torch.optim.SGD(ref.parameters(), lr=0.1)
    xt, yt = torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.float32)[:, None]
    epoch_losses = []
    for _ in range(2):
        total = 0.0
        for i in range(0, 48, 16):
            opt.zero_grad()
            p = ref(xt[i:i + 16]).clamp(1e-7, 1 - 1e-7)
            loss = -(yt[i:i + 16] * p.log() + (1 - yt[i:i + 16]) * (1 - p).log()).mean()
            loss.backward()
            opt.step()
            total += loss.item() * 16
        epoch_losses.append(total / 48)
    assert h.history["loss"] == pytest.approx(epoch_losses, rel=1e-5)
    for ours, theirs in zip(model.parameters(), ref.parameters()):
        np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-4, atol=1e-6)


# ---- errors -------------------------------------------------------------------------------------------
def test_fit_before_compile():
    with pytest.raises(ValueError, match=r"You must call compile\(\)"):
        Net().fit(np.zeros((4, 3)), np.zeros(4))
    with pytest.raises(ValueError, match=r"compile\(\)"):
        Net().evaluate(np.zeros((4, 3)), np.zeros(4))


@pytest.mark.parametrize("kwargs, message", [
    (dict(x=np.zeros((10, 3)), y=np.zeros(9)), "x has 10 and y has 9"),
    (dict(x=np.zeros((10, 3)), y=np.zeros(10), sample_weight=np.ones(8)),
     "x has 10 and sample_weight has 8"),
    (dict(x=np.zeros((0, 3)), y=np.zeros(0)), "empty"),
    (dict(y=np.zeros(10)), "x is required"),
    (dict(x=np.zeros((10, 3))), "y is required"),
    (dict(x=np.zeros((10, 3)), y=np.zeros(10), batch_size=0), "batch_size=0"),
    (dict(x=np.zeros((10, 3)), y=np.zeros(10), batch_size=2.5), "expected a positive int for batch_size"),
    (dict(x=np.zeros((10, 3)), y=np.zeros(10), epochs=0), "epochs=0"),
    (dict(x=np.zeros((10, 3)), y=np.zeros(10), validation_split=1.0), "validation_split"),
    (dict(x=np.zeros((1, 3)), y=np.zeros(1), validation_split=0.5), "not sufficient"),
    (dict(x=np.zeros((10, 3)), y=np.zeros(10), validation_data=(np.zeros((2, 3)),)),
     "validation_data must be a tuple"),
    (dict(x=np.zeros((10, 3)), y=np.zeros(10), class_weight={1: 2.0},
          sample_weight=np.ones(10)), "class_weight and sample_weight"),
    (dict(x=np.zeros((10, 3)), y=np.zeros(10), class_weight={"a": 2.0}), "integer class"),
    (dict(x=np.zeros((10, 3)), y=np.zeros(10), shuffle="rows"), "shuffle"),
    (dict(x=[["a", "b", "c"]] * 10, y=np.zeros(10)), "must hold numbers"),
])
def test_fit_argument_errors(kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message):
        net().fit(verbose=0, **kwargs)


def test_nan_in_x_names_its_place():
    x = np.zeros((10, 3))
    x[4, 2] = np.nan
    with pytest.raises(ValueError, match=r"x contains NaN \(first at row 4, column 2\)"):
        net().fit(x, np.zeros(10), verbose=0)
    with pytest.raises(ValueError, match="y contains an infinite value"):
        net().fit(np.zeros((10, 3)), np.full(10, np.inf), verbose=0)
    with pytest.raises(ValueError, match="NaN"):
        net().predict(x, verbose=0)


def test_y_shape_incompatible_with_the_output_leaves_the_weights_alone():
    model = net()
    before = [p.detach().numpy().copy() for p in model.parameters()]
    with pytest.raises(ValueError, match=r"y_true.shape=\(32, 2\) and y_pred.shape=\(32, 1\)"):
        model.fit(np.zeros((40, 3)), np.zeros((40, 2)), verbose=0)
    assert all(np.array_equal(a, p.detach().numpy()) for a, p in zip(before, model.parameters()))


def test_compile_errors_suggest_names():
    model = Net()
    with pytest.raises(ValueError, match="Did you mean 'adam'"):
        model.compile("adamm", "mse")
    with pytest.raises(ValueError, match="Did you mean 'binary_crossentropy'"):
        model.compile("adam", "binary_crossentropi")
    with pytest.raises(ValueError, match="Did you mean 'accuracy'"):  # at compile, not mid-fit
        model.compile("adam", "mse", ["acuracy"])
    with pytest.raises(ValueError, match="No loss to compute"):
        model.compile("adam")
        model.fit(np.zeros((4, 3)), np.zeros(4), verbose=0)


def test_several_outputs_need_matching_structures():
    model = TwoHeads()
    with pytest.raises(ValueError, match="2 outputs"):
        model.compile("adam", "mse", ["mae"])
    model.compile("adam", {"prob": "bce", "value": "mse"})
    a, b = np.zeros((4, 2)), np.zeros((4, 1))
    with pytest.raises(ValueError, match="y must be a list of 2 arrays"):
        model.fit([a, b], np.zeros(4), verbose=0)
    with pytest.raises(ValueError, match="not an output name"):
        model.fit([a, b], {"prob": np.zeros(4), "val": np.zeros(4)}, verbose=0)
    with pytest.raises(ValueError, match="single output"):
        model.fit([a, b], [np.zeros(4), np.zeros(4)], class_weight={0: 1.0}, verbose=0)


# ---- the real cr.Model ------------------------------------------------------------------------------
def lecture_model():
    inputs = keras.Input(shape=(29,), name="input")
    h = keras.layers.Dense(16, activation="relu")(inputs)
    outputs = keras.layers.Dense(1, activation="sigmoid")(h)
    return keras.Model(inputs, outputs)


def test_lecture_model_trains_with_compile_and_fit():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 29))
    y = (x[:, :3].sum(axis=1) > 0).astype(float)
    cr.manual_seed(0)
    model = lecture_model()
    model.compile("adam", "binary_crossentropy", ["accuracy"])
    h = model.fit(x, y, batch_size=32, epochs=30, validation_split=0.2, verbose=0)
    assert list(h.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert h.history["loss"][-1] < 0.5 * h.history["loss"][0]
    assert h.history["val_accuracy"][-1] > 0.75 > h.history["val_accuracy"][0]
    loss, acc = model.evaluate(x[240:], y[240:], verbose=0)
    assert loss == pytest.approx(h.history["val_loss"][-1], rel=1e-5)
    assert model.predict(x, verbose=0).shape == (300, 1)


def test_real_model_with_regulariser_callbacks_and_sequential(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(120, 4))
    y = (x[:, 0] > 0).astype(float)
    cr.manual_seed(0)
    model = keras.Sequential([
        keras.Input((4,)),
        keras.layers.Dense(8, activation="relu",
                           kernel_regularizer=keras.regularizers.L2(0.01)),
        keras.layers.Dense(1, activation="sigmoid")])
    model.compile(keras.optimizers.Adam(learning_rate=0.01), "binary_crossentropy",
                  ["accuracy", "auc"])
    data_loss = losses.BinaryCrossentropy()(y, Tensor(model.predict(x, verbose=0))).item()
    penalty = sum(p.item() for p in model.losses)
    assert model.evaluate(x, y, verbose=0)[0] == pytest.approx(data_loss + penalty, rel=1e-5)
    stop = C.EarlyStopping(monitor="val_auc", patience=3, restore_best_weights=True)
    h = model.fit(x, y, epochs=40, validation_split=0.25, verbose=0,
                  callbacks=[stop, C.ModelCheckpoint(tmp_path / "best.keras",
                                                     monitor="val_auc", save_best_only=True)])
    assert max(h.history["val_auc"]) > 0.9
    assert (tmp_path / "best.keras").exists()
    restored = keras.load_model(tmp_path / "best.keras")
    assert restored.predict(x, verbose=0).shape == (120, 1)
