"""Keras callbacks: stopping, checkpoints, learning-rate control, CSV logs, hook order."""
import csv
import math

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.keras import callbacks as C
from chainrule.keras.metrics import AUC
from chainrule.keras.training import Trainer
from chainrule.serialization import load, save


class Net(nn.Module, Trainer):
    """A test stand-in for cr.Model: an nn.Sequential with the Trainer mixed in."""

    output_names = ["out"]

    def __init__(self, n_in=3):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(n_in, 4), nn.Tanh(), nn.Linear(4, 1), nn.Sigmoid())

    def forward(self, x):
        return self.body(x)

    def save(self, path):
        save(self.state_dict(), path)


def xy(n=40, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    return x, (x[:, 0] > 0).astype(float)


def net(optimizer="sgd", metrics=("accuracy",)):
    cr.manual_seed(0)
    model = Net()
    model.compile(optimizer, "binary_crossentropy", list(metrics))
    return model


class Script(C.Callback):
    """Overwrites a logged value with a scripted one at each epoch's end (runs before the rest)."""

    def __init__(self, values, key="val_loss"):
        super().__init__()
        self.values, self.key = values, key

    def on_epoch_end(self, epoch, logs=None):
        logs[self.key] = self.values[epoch]


class Weights(C.Callback):
    """Keeps a copy of the weights at every epoch's end."""

    def on_train_begin(self, logs=None):
        self.seen = []

    def on_epoch_end(self, epoch, logs=None):
        self.seen.append({k: v.numpy().copy() for k, v in self.model.state_dict().items()})


def same_weights(model, arrays):
    return all(np.array_equal(v.numpy(), arrays[k]) for k, v in model.state_dict().items())


# ---- EarlyStopping ------------------------------------------------------------------------------
def test_early_stopping_stops_at_the_right_epoch_and_restores_the_best_weights():
    x, y = xy()
    model, weights = net(), Weights()
    stop = C.EarlyStopping(patience=2, restore_best_weights=True)
    script = Script([1.0, 0.8, 0.9, 0.85, 0.7, 0.6])
    h = model.fit(x, y, epochs=6, validation_split=0.25, verbose=0,
                  callbacks=[script, weights, stop])
    # best at epoch 1; epochs 2 and 3 do not improve: with patience 2 it stops after epoch 3
    assert h.epoch == [0, 1, 2, 3] and stop.stopped_epoch == 3 and stop.best_epoch == 1
    assert h.history["val_loss"] == [1.0, 0.8, 0.9, 0.85]
    assert same_weights(model, weights.seen[1]) and not same_weights(model, weights.seen[3])


def test_early_stopping_restores_even_without_stopping_early():
    x, y = xy()
    model, weights = net(), Weights()
    stop = C.EarlyStopping(patience=5, restore_best_weights=True)
    model.fit(x, y, epochs=4, validation_split=0.25, verbose=0,
              callbacks=[Script([1.0, 0.5, 0.7, 0.8]), weights, stop])
    assert stop.stopped_epoch == 0 and same_weights(model, weights.seen[1])


class Fake:
    """Just enough of a model for a callback driven by hand."""

    def __init__(self, metrics=()):
        self.metrics, self.stop_training = list(metrics), False


def drive(callback, values, key="val_loss", model=None):
    """Feed scripted epoch logs; return the epoch after which training was stopped (or None)."""
    callback.set_model(model or Fake())
    callback.on_train_begin()
    for epoch, v in enumerate(values):
        callback.on_epoch_end(epoch, {key: v})
        if callback.model.stop_training:
            return epoch
    return None


@pytest.mark.parametrize("values, kwargs, stopped", [
    ([1.0, 0.9, 0.95], dict(patience=0), 2),
    ([1.0, 1.0], dict(patience=0), 1),
    ([1.0, 0.95, 0.92, 0.91], dict(patience=1, min_delta=0.04), 2),     # 0.03 is not enough
    ([0.9, 0.8, 0.85], dict(patience=2), None),
    ([0.9, 0.8, 0.85], dict(patience=2, baseline=0.5), 2),      # never beat the baseline
    ([5.0, 4.0, 9.0, 9.0, 9.0], dict(patience=1, start_from_epoch=2), 3),
    ([5.0, 4.0, 9.0, 9.0, 9.0], dict(patience=1), 2),
])
def test_early_stopping_follows_keras(values, kwargs, stopped):
    assert drive(C.EarlyStopping(**kwargs), values) == stopped


def test_early_stopping_direction_from_the_metric():
    values = [0.7, 0.8, 0.75, 0.74]
    assert drive(C.EarlyStopping(monitor="val_auc", patience=1), values, key="val_auc",
                 model=Fake([AUC()])) == 2       # AUC goes up: 0.8 is an improvement
    assert drive(C.EarlyStopping(monitor="val_auc", patience=1, mode="min"), values,
                 key="val_auc") == 1
    assert drive(C.EarlyStopping(monitor="val_thing", mode="max", patience=0), [1, 2, 1],
                 key="val_thing") == 2
    with pytest.raises(ValueError, match="mode='max'"):
        drive(C.EarlyStopping(monitor="val_thing"), [1.0], key="val_thing")
    with pytest.warns(UserWarning, match="not available"):
        assert drive(C.EarlyStopping(monitor="val_loss"), [1.0, 2.0], key="loss") is None


# ---- ModelCheckpoint -----------------------------------------------------------------------------
def test_model_checkpoint_save_best_only_writes_only_on_improvement(tmp_path):
    x, y = xy()
    ckpt = C.ModelCheckpoint(str(tmp_path / "m-{epoch:02d}-{val_loss:.2f}.cr"),
                             save_best_only=True)
    net().fit(x, y, epochs=5, validation_split=0.25, verbose=0,
              callbacks=[Script([1.0, 0.9, 0.95, 0.8, 0.85]), ckpt])
    assert sorted(p.name for p in tmp_path.iterdir()) == \
        ["m-01-1.00.cr", "m-02-0.90.cr", "m-04-0.80.cr"]
    assert ckpt.best == 0.8


def test_model_checkpoint_overwrites_one_file_with_the_best_weights(tmp_path):
    x, y = xy()
    path = tmp_path / "best.cr"
    model, weights = net(), Weights()
    model.fit(x, y, epochs=4, validation_split=0.25, verbose=0,
              callbacks=[Script([1.0, 0.7, 0.9, 0.8]), weights,
                         C.ModelCheckpoint(path, save_best_only=True, save_weights_only=True)])
    saved = load(path)
    assert all(np.array_equal(saved[k].numpy(), weights.seen[1][k]) for k in saved)
    fresh = Net()
    fresh.load_state_dict(saved)


def test_model_checkpoint_every_epoch_and_formatting_errors(tmp_path):
    x, y = xy()
    net().fit(x, y, epochs=2, verbose=0,
              callbacks=[C.ModelCheckpoint(tmp_path / "sub" / "e{epoch}.cr", monitor="loss")])
    assert sorted(p.name for p in (tmp_path / "sub").iterdir()) == ["e1.cr", "e2.cr"]
    with pytest.raises(KeyError, match="val_auc"):
        net().fit(x, y, epochs=1, verbose=0,
                  callbacks=[C.ModelCheckpoint(tmp_path / "{val_auc}.cr", monitor="loss")])


# ---- learning rate -------------------------------------------------------------------------------
def test_learning_rate_scheduler_sets_param_groups_lr():
    x, y = xy()
    model = net(optimizer="sgd")
    seen = []
    record = C.LambdaCallback(on_epoch_begin=lambda epoch, logs: seen.append(
        model.optimizer.param_groups[0]["lr"]))
    h = model.fit(x, y, epochs=3, verbose=0,
                  callbacks=[C.LearningRateScheduler(lambda epoch, lr: lr * 0.5), record])
    assert seen == pytest.approx([0.005, 0.0025, 0.00125])
    assert h.history["learning_rate"] == pytest.approx(seen)
    assert list(h.history) == ["accuracy", "loss", "learning_rate"]
    model.fit(x, y, epochs=2, verbose=0,
              callbacks=[C.LearningRateScheduler(lambda epoch: 0.1 / (epoch + 1))])
    assert model.optimizer.param_groups[0]["lr"] == pytest.approx(0.05)
    with pytest.raises(ValueError, match="should be a float"):
        model.fit(x, y, epochs=1, verbose=0,
                  callbacks=[C.LearningRateScheduler(lambda epoch, lr: "fast")])


def test_reduce_lr_on_plateau_on_a_scripted_plateau():
    x, y = xy()
    model = net(optimizer="sgd")
    model.optimizer.learning_rate = 0.1
    reduce = C.ReduceLROnPlateau(factor=0.5, patience=2, cooldown=1, min_lr=0.02)
    h = model.fit(x, y, epochs=9, validation_split=0.25, verbose=0,
                  callbacks=[Script([1.0, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9]), reduce])
    # reduced after epochs 3, 5 and 7 (patience 2, one epoch of cooldown), the last to min_lr
    # (the values keras 3 logs for the same sequence)
    assert h.history["learning_rate"] == pytest.approx(
        [0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.025, 0.025, 0.02])
    assert model.optimizer.learning_rate == pytest.approx(0.02)
    with pytest.raises(ValueError, match="factor >= 1.0"):
        C.ReduceLROnPlateau(factor=1.5)


def test_reduce_lr_on_plateau_min_delta():
    model = net(optimizer="sgd")
    reduce = C.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=1, min_delta=0.1)
    reduce.set_model(model)
    reduce.on_train_begin()
    for epoch, v in enumerate([1.0, 0.95, 0.5]):     # 0.05 is within min_delta: a plateau
        reduce.on_epoch_end(epoch, {"val_loss": v})
    assert model.optimizer.learning_rate == pytest.approx(0.005)


# ---- CSVLogger ----------------------------------------------------------------------------------
def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))


def test_csv_logger_writes_the_history(tmp_path):
    x, y = xy()
    path = tmp_path / "log.csv"
    h = net().fit(x, y, epochs=3, validation_split=0.25, verbose=0,
                  callbacks=[C.CSVLogger(path)])
    rows = read_csv(path)
    assert rows[0] == ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"]
    assert [r[0] for r in rows[1:]] == ["0", "1", "2"]
    np.testing.assert_allclose([float(r[2]) for r in rows[1:]], h.history["loss"])
    np.testing.assert_allclose([float(r[4]) for r in rows[1:]], h.history["val_loss"])


def test_csv_logger_without_validation_and_appending(tmp_path):
    x, y = xy()
    path = tmp_path / "log.csv"
    model = net()
    model.fit(x, y, epochs=1, verbose=0, callbacks=[C.CSVLogger(path, separator=";")])
    model.fit(x, y, epochs=2, verbose=0, callbacks=[C.CSVLogger(path, ";", append=True)])
    lines = path.read_text().splitlines()
    assert lines[0] == "epoch;accuracy;loss;val_accuracy;val_loss"
    assert len(lines) == 4 and lines[1].endswith(";NA;NA") and lines[2].startswith("0;")


# ---- hooks ---------------------------------------------------------------------------------------
HOOKS = sorted(n for n in vars(C.Callback) if n.startswith("on_"))


class Recorder(C.Callback):
    def __init__(self):
        super().__init__()
        self.calls = []


def _recording(name):
    def hook(self, *args, **kwargs):
        self.calls.append(name if not args or isinstance(args[0], dict) or args[0] is None
                          else f"{name}({args[0]})")
        getattr(C.Callback, name)(self, *args, **kwargs)
    return hook


for _name in HOOKS:
    setattr(Recorder, _name, _recording(_name))


def test_hook_order_in_fit_evaluate_and_predict():
    x, y = xy(8)
    model, rec = net(), Recorder()
    model.fit(x, y, batch_size=4, epochs=2, verbose=0, validation_data=(x[:3], y[:3]),
              callbacks=[rec])
    batch = ["on_train_batch_begin({0})", "on_batch_begin({0})", "on_train_batch_end({0})",
             "on_batch_end({0})"]
    epoch = lambda e: ([f"on_epoch_begin({e})"] + [c.format(b) for b in (0, 1) for c in batch]
                       + ["on_test_begin", "on_test_batch_begin(0)", "on_test_batch_end(0)",
                          "on_test_end", f"on_epoch_end({e})"])  # noqa: E731
    assert rec.calls == ["on_train_begin", *epoch(0), *epoch(1), "on_train_end"]
    assert rec.model is model and rec.params == {"verbose": 0, "epochs": 2, "steps": 2}

    rec.calls.clear()
    model.evaluate(x, y, batch_size=5, verbose=0, callbacks=[rec])
    assert rec.calls == ["on_test_begin", "on_test_batch_begin(0)", "on_test_batch_end(0)",
                         "on_test_batch_begin(1)", "on_test_batch_end(1)", "on_test_end"]
    rec.calls.clear()
    model.predict(x, batch_size=8, verbose=0, callbacks=[rec])
    assert rec.calls == ["on_predict_begin", "on_predict_batch_begin(0)",
                         "on_predict_batch_end(0)", "on_predict_end"]


def test_callback_can_stop_training_mid_epoch_and_sees_running_logs():
    x, y = xy(40)
    losses = []

    class StopAfterThree(C.Callback):
        def on_train_batch_end(self, batch, logs=None):
            losses.append(logs["loss"])
            if batch == 2:
                self.model.stop_training = True

    h = net().fit(x, y, batch_size=4, epochs=5, verbose=0, callbacks=[StopAfterThree()])
    assert len(losses) == 3 and h.epoch == [0]
    assert h.history["loss"] == [losses[-1]]     # the epoch's loss is the running mean


def test_terminate_on_nan(capsys):
    x, y = xy(16)
    model = Net()
    model.compile("sgd", lambda y_true, y_pred: (y_pred - y_true) * math.nan)
    h = model.fit(x, y, batch_size=4, epochs=3, verbose=0, callbacks=[C.TerminateOnNaN()])
    assert h.epoch == [0] and math.isnan(h.history["loss"][0])
    assert "Batch 0: Invalid loss, terminating training" in capsys.readouterr().out
    with pytest.raises(RuntimeError, match="NaN or Inf loss"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[C.TerminateOnNaN(raise_error=True)])


def test_lambda_callback_and_history():
    x, y = xy()
    ends = []
    model = net()
    h = model.fit(x, y, epochs=3, verbose=0,
                  callbacks=[C.LambdaCallback(on_epoch_end=lambda e, logs: ends.append(e))])
    assert ends == [0, 1, 2] and model.history is h and isinstance(h, C.History)
    with pytest.raises(TypeError, match="not a callback hook"):
        C.LambdaCallback(on_epoch_finish=print)
    with pytest.raises(TypeError, match="Callback instances"):
        model.fit(x, y, verbose=0, callbacks=[print])
