"""Resuming training exactly: BackupAndRestore after an interruption (at an epoch's end and in the
middle of one), and model.save / cr.load_model keeping the compiled optimizer and its state so that
fit(initial_epoch=k) continues as the uninterrupted run."""
import os

import numpy as np
import pytest

import chainrule as cr
from chainrule.keras import callbacks as C
from chainrule.keras import optimizers
from chainrule.keras.optimizers import schedules

RNG = np.random.default_rng(0)
X = RNG.normal(size=(40, 4))
Y = (X[:, :1] + 0.3 * X[:, 1:2] > 0).astype(float)
FIT = dict(batch_size=8, epochs=5, validation_split=0.2, verbose=0)


def make_model(optimizer=None):
    """Dropout from the default stream and from a seeded layer stream, a schedule, metrics that
    accumulate arrays: everything a bit-identical resume has to restore."""
    inputs = cr.layers.Input((4,))
    h = cr.layers.Dense(8, activation="relu")(inputs)
    h = cr.layers.Dropout(0.3)(h)
    h = cr.layers.Dropout(0.2, seed=7)(h)
    model = cr.Model(inputs, cr.layers.Dense(1, activation="sigmoid")(h))
    opt = optimizer or optimizers.Nadam(
        learning_rate=schedules.ExponentialDecay(0.02, decay_steps=4, decay_rate=0.9))
    model.compile(opt, "binary_crossentropy", ["accuracy", "auc",
                                               cr.keras.metrics.F1Score(threshold=0.5)])
    return model


def uninterrupted():
    cr.manual_seed(0)
    model = make_model()
    return model, model.fit(X, Y, **FIT).history


class Interrupt(C.Callback):
    def __init__(self, epoch, batch=None):
        super().__init__()
        self.epoch, self.batch, self.current = epoch, batch, None

    def on_epoch_begin(self, epoch, logs=None):
        self.current = epoch
        if self.batch is None and epoch == self.epoch:
            raise KeyboardInterrupt("the machine went away")

    def on_train_batch_end(self, batch, logs=None):
        if self.batch is not None and (self.current, batch) == (self.epoch, self.batch):
            raise KeyboardInterrupt("the machine went away")


def same_weights(a, b):
    return all(np.array_equal(u, v) for u, v in zip(a.get_weights(), b.get_weights()))


@pytest.mark.parametrize("save_freq, interrupt", [("epoch", Interrupt(3)),
                                                  (2, Interrupt(2, batch=2)),
                                                  (1, Interrupt(1, batch=0))])
def test_backup_and_restore_resumes_bit_identically(tmp_path, save_freq, interrupt):
    reference, full = uninterrupted()
    backup_dir = tmp_path / "backup"
    cr.manual_seed(0)
    first = make_model()
    with pytest.raises(KeyboardInterrupt):
        first.fit(X, Y, callbacks=[C.BackupAndRestore(backup_dir, save_freq=save_freq),
                                   interrupt], **FIT)
    assert os.listdir(backup_dir) == ["latest.cr"]

    cr.manual_seed(123)                     # a new process: other seed, other weights
    second = make_model()
    rest = second.fit(X, Y, callbacks=[C.BackupAndRestore(backup_dir, save_freq=save_freq)],
                      **FIT).history
    assert same_weights(second, reference)
    n = len(rest["loss"])
    assert n == 5 - interrupt.epoch
    assert {k: v[-n:] for k, v in full.items()} == rest      # logs too, mid-epoch metrics included
    assert not backup_dir.exists()                           # deleted once fit completes


def test_backup_keeps_the_previous_file_and_falls_back_to_it(tmp_path):
    backup_dir = tmp_path / "backup"
    cr.manual_seed(0)
    model = make_model()
    keep = C.BackupAndRestore(backup_dir, double_checkpoint=True, delete_checkpoint=False)
    model.fit(X, Y, callbacks=[keep], **{**FIT, "epochs": 2})
    assert sorted(os.listdir(backup_dir)) == ["latest.cr", "previous.cr"]
    (backup_dir / "latest.cr").write_bytes(b"damaged")
    cr.manual_seed(0)
    again = make_model()
    history = again.fit(X, Y, callbacks=[C.BackupAndRestore(backup_dir)], **FIT).history
    assert len(history["loss"]) == 4          # resumed after epoch 0, from previous.cr


def test_backup_arguments():
    with pytest.raises(ValueError, match="Empty `backup_dir`"):
        C.BackupAndRestore("")
    with pytest.raises(ValueError, match="save_freq"):
        C.BackupAndRestore("b", save_freq="batch")
    with pytest.raises(ValueError, match="save_freq"):
        C.BackupAndRestore("b", save_freq=0)


@pytest.mark.parametrize("optimizer", [
    lambda: optimizers.Adam(learning_rate=0.01),
    lambda: optimizers.SGD(learning_rate=schedules.PiecewiseConstantDecay([6], [0.1, 0.01]),
                           momentum=0.9),
    lambda: optimizers.Lion(learning_rate=0.003, weight_decay=0.01),
    lambda: optimizers.RMSprop(learning_rate=schedules.CosineDecayRestarts(0.01, 3)),
])
def test_save_load_and_fit_initial_epoch_continue_exactly(tmp_path, optimizer):
    cr.manual_seed(0)
    reference = make_model(optimizer())
    full = reference.fit(X, Y, **FIT).history
    cr.manual_seed(0)
    first = make_model(optimizer())
    first.fit(X, Y, **{**FIT, "epochs": 2})
    first.save(tmp_path / "m.keras")
    loaded = cr.load_model(tmp_path / "m.keras")        # loading draws no random numbers
    assert loaded.optimizer.iterations == first.optimizer.iterations == 8
    assert type(loaded.optimizer) is type(first.optimizer)
    rest = loaded.fit(X, Y, **{**FIT, "initial_epoch": 2}).history
    assert same_weights(loaded, reference)
    assert {k: v[2:] for k, v in full.items()} == rest


def test_optimizer_state_entry_is_checked(tmp_path):
    model = make_model(optimizers.Adam())
    model.fit(X, Y, epochs=1, verbose=0)
    model.save(tmp_path / "m.keras")
    data = cr.load(tmp_path / "m.keras")
    data["optimizer"]["state"]["state"][0]["exp_avg"] = np.zeros((3, 3), np.float32)
    cr.save(data, tmp_path / "bad.keras")
    with pytest.raises(cr.SerializationError, match=r"'optimizer'\['state'\].*shape"):
        cr.load_model(tmp_path / "bad.keras")
    data = cr.load(tmp_path / "m.keras")
    data["optimizer"] = {"state": {"state": {}, "param_groups": []}}
    cr.save(data, tmp_path / "bad2.keras")
    with pytest.raises(cr.SerializationError, match="parameter groups"):
        cr.load_model(tmp_path / "bad2.keras")
