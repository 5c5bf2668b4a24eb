"""Callbacks that watch a logged quantity: ``EarlyStopping`` and ``ModelCheckpoint``.

:class:`MonitorCallback` decides whether a value improves on the best so far (its direction from
the metric, or ``mode``); :class:`EarlyStopping` stops training when it stops improving, and
:class:`ModelCheckpoint` saves the model every epoch or when it improves.

Example::

    >>> stop = EarlyStopping(monitor="val_loss", patience=5, restore_best_weights=True)
"""
import errno
import os
import warnings

import numpy as np

from chainrule.errors import ConfigError, DirectoryPathError, KeyNameError
from chainrule.keras.callbacks.callback import Callback
from chainrule.serialization import save


class MonitorCallback(Callback):
    """Base of callbacks that watch one logged quantity and judge improvements (Keras 3's).

    ``mode="auto"`` takes the direction from the model's metric of that name (``_direction``:
    accuracy, AUC, precision, recall go up; losses and errors go down); ``loss``/``val_loss`` go
    down; otherwise a ValueError asks for ``mode="min"`` or ``"max"``.  A value improves on the
    reference when it beats it by more than *min_delta*.

    Example: ``EarlyStopping(monitor="val_auc")`` maximises, since AUC's direction is "up".
    """

    def __init__(self, monitor="val_loss", mode="auto", baseline=None, min_delta=0):
        super().__init__()
        if mode not in ("auto", "min", "max"):
            warnings.warn(f"{type(self).__name__} mode {mode!r} is unknown, fallback to auto mode.",
                          stacklevel=2)
            mode = "auto"
        self.monitor, self.mode = monitor, mode
        self.best = baseline
        self.min_delta = abs(min_delta)
        self.monitor_op = None

    def _set_monitor_op(self):
        direction = {"min": "down", "max": "up"}.get(self.mode)
        name = self.monitor.removeprefix("val_")
        if direction is None:
            direction = "down" if name == "loss" else None
            for m in getattr(self.model, "metrics", None) or ():
                if m.name == name and getattr(m, "_direction", None):
                    direction = m._direction
        if direction is None:
            raise ConfigError(f"{type(self).__name__} callback received monitor={self.monitor}, "
                              "but "
                              f"it can't tell whether that metric should be maximized or "
                              f"minimized. Pass mode='max' to monitor the highest value, or "
                              f"mode='min' to use the lowest value.")
        self.monitor_op = np.greater if direction == "up" else np.less
        if self.monitor_op is np.less:
            self.min_delta = -abs(self.min_delta)

    def _is_improvement(self, value, reference):
        if reference is None:
            return True
        return bool(self.monitor_op(value - self.min_delta, reference))

    def _current(self, logs, what):
        value = (logs or {}).get(self.monitor)
        if value is None:
            warnings.warn(f"{what} conditioned on metric `{self.monitor}` which is not available. "
                          f"Available metrics are: {','.join(logs or {})}", stacklevel=3)
        return value


class EarlyStopping(MonitorCallback):
    """Stop training when the monitored quantity has stopped improving (Keras 3 semantics).

    After each epoch (from *start_from_epoch* on) the value is compared with the best so far;
    ``wait`` counts epochs without an improvement larger than *min_delta*, and training stops
    once ``wait >= patience`` (never on the first epoch).  With *baseline*, ``wait`` only resets
    on values that also beat the baseline.  With *restore_best_weights*, the weights of the best
    epoch are put back at the end of training, whether or not it stopped early.

    Example::

        >>> x, y = np.random.rand(64, 4), np.random.randint(0, 2, (64, 1))
        >>> model = cr.Sequential([cr.layers.Dense(1, activation="sigmoid")])
        >>> model.compile("adam", "binary_crossentropy", metrics=["accuracy"])
        >>> stop = EarlyStopping(monitor="val_loss", min_delta=0.1, patience=3,
        ...                      restore_best_weights=True)   # gains under 0.1 do not count
        >>> h = model.fit(x, y, validation_split=0.2, epochs=100, callbacks=[stop], verbose=0)
        >>> len(h.history["loss"]), stop.best_epoch, stop.stopped_epoch
        (4, 0, 3)
    """

    def __init__(self, monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto",
                 baseline=None, restore_best_weights=False, start_from_epoch=0):
        super().__init__(monitor, mode, min_delta=min_delta)
        self.patience, self.verbose, self.baseline = patience, verbose, baseline
        self.restore_best_weights, self.start_from_epoch = restore_best_weights, start_from_epoch
        self.wait = self.stopped_epoch = self.best_epoch = 0
        self.best_weights = None

    def on_train_begin(self, logs=None):
        self.wait = self.stopped_epoch = self.best_epoch = 0
        self.best = None
        self.best_weights = None

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self._set_monitor_op()
        current = self._current(logs, "Early stopping")
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights, self.best_epoch = snapshot(self.model), epoch
        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best, self.best_epoch = current, epoch
            if self.restore_best_weights:
                self.best_weights = snapshot(self.model)
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print(f"Restoring model weights from the end of the best epoch: "
                      f"{self.best_epoch + 1}.")
            self.model.load_state_dict(self.best_weights)


def snapshot(model):
    """A copy of the model's state dict (parameters and buffers) that later steps cannot change.

    Example: ``best = snapshot(model)`` ... ``model.load_state_dict(best)``.
    """
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


class ModelCheckpoint(MonitorCallback):
    """Save the model (or its weights) after every epoch, or only when the monitored value improves.

    *filepath* may hold ``{epoch:02d}`` (from 1) and any logged value (``{val_loss:.2f}``).  The
    whole model is saved with ``model.save``; weights alone (*save_weights_only*) as the state dict
    with ``cr.save``, readable with ``model.load_state_dict(cr.load(path))``.  Both writes are
    atomic.  With *save_best_only* a file is written only when the value improves on the best so
    far (or on *initial_value_threshold*); if the value is missing, it warns and saves.

    Example::

        >>> x, y = np.random.rand(64, 4), np.random.randint(0, 2, (64, 1))
        >>> model = cr.Sequential([cr.layers.Dense(1, activation="sigmoid")])
        >>> model.compile("adam", "binary_crossentropy", metrics=["accuracy"])
        >>> best = ModelCheckpoint("best.cr", monitor="val_loss", mode="min", save_best_only=True)
        >>> h = model.fit(x, y, validation_split=0.2, epochs=3, callbacks=[best], verbose=0)
        >>> cr.load_model("best.cr").count_params() == model.count_params()
        True
    """

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False,
                 save_weights_only=False, mode="auto", save_freq="epoch",
                 initial_value_threshold=None):
        super().__init__(monitor, mode, initial_value_threshold)
        if save_freq != "epoch":
            raise ConfigError(f"ModelCheckpoint: only save_freq='epoch' is supported, got "
                              f"{save_freq!r}")
        self.filepath = os.fspath(filepath)
        self.verbose, self.save_best_only = verbose, save_best_only
        self.save_weights_only = save_weights_only

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self._set_monitor_op()
        logs = logs or {}
        try:
            path = self.filepath.format(epoch=epoch + 1, **logs)
        except KeyError as e:
            raise KeyNameError(f'Failed to format this callback filepath: "{self.filepath}". '
                               f"Reason: {e} is not in the logs ({', '.join(logs)})") from None
        if self._should_save(epoch, logs, path):
            directory = os.path.dirname(path)
            if directory:
                os.makedirs(directory, exist_ok=True)
            if os.path.isdir(path):
                raise DirectoryPathError(f"ModelCheckpoint: the filepath is an existing "
                                         f"directory: {path}; give a file name", errno.EISDIR, path)
            if self.save_weights_only:
                save(self.model.state_dict(), path)
            else:
                self.model.save(path)

    def _should_save(self, epoch, logs, path):
        if not self.save_best_only:
            if self.verbose > 0:
                print(f"\nEpoch {epoch + 1}: saving model to {path}")
            return True
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(f"Can save best model only with {self.monitor} available.",
                          stacklevel=3)
            return True
        best = "None" if self.best is None else f"{self.best:.5f}"
        if self._is_improvement(current, self.best):
            if self.verbose > 0:
                print(f"\nEpoch {epoch + 1}: {self.monitor} improved from {best} to "
                      f"{current:.5f}, saving model to {path}")
            self.best = current
            return True
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {best}")
        return False
