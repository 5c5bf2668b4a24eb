"""Keras callbacks: hooks that ``fit``, ``evaluate`` and ``predict`` call as training goes.

A callback subclasses :class:`Callback` and overrides the hooks it needs, with Keras's names::

    on_train_begin(logs)      on_epoch_begin(epoch, logs)   on_train_batch_begin(batch, logs)
    on_train_end(logs)        on_epoch_end(epoch, logs)     on_train_batch_end(batch, logs)
    on_test_begin/end(logs)   on_test_batch_begin/end(batch, logs)
    on_predict_begin/end(logs)  on_predict_batch_begin/end(batch, logs)

``self.model`` is the model being trained (set ``self.model.stop_training = True`` to stop after
the current batch or epoch) and ``self.params`` holds ``verbose``, ``epochs`` and ``steps``.
Epochs and batches are counted from 0.  ``logs`` at a batch's end hold the running means over
the epoch so far; at an epoch's end, the epoch's values and the ``val_`` ones.

Example::

    >>> class Print(Callback):
    ...     def on_epoch_end(self, epoch, logs=None):
    ...         print(f"epoch {epoch}: loss {logs['loss']:.2f}")
    >>> x, y = np.random.rand(64, 4), np.random.randint(0, 2, (64, 1))
    >>> model = cr.Sequential([cr.layers.Dense(1, activation="sigmoid")])
    >>> model.compile("adam", "binary_crossentropy")
    >>> history = model.fit(x, y, epochs=3, verbose=0,
    ...                     callbacks=[Print(), EarlyStopping(monitor="loss", patience=2)])
    epoch 0: loss ...
    epoch 1: loss ...
    epoch 2: loss ...
"""
import collections
import csv
import math
import os
import warnings

import numpy as np

from chainrule.errors import ConfigError, DTypeError
from chainrule.keras.progress import Progbar, resolve_verbose
from chainrule.serialization import save


class Callback:
    """Base class of callbacks: every hook does nothing until overridden.

    ``on_train_batch_begin``/``_end`` call the older ``on_batch_begin``/``_end``, as in Keras.

    Example::

        >>> class StopAt(Callback):
        ...     def on_epoch_end(self, epoch, logs=None):
        ...         if logs["loss"] < 0.1:
        ...             self.model.stop_training = True
    """

    def __init__(self):
        self.params = None
        self.model = None

    def set_params(self, params):
        self.params = params

    def set_model(self, model):
        self.model = model

    def on_batch_begin(self, batch, logs=None):
        """A training batch begins (kept for Keras 2 code; prefer on_train_batch_begin)."""

    def on_batch_end(self, batch, logs=None):
        """A training batch ended (kept for Keras 2 code; prefer on_train_batch_end)."""

    def on_epoch_begin(self, epoch, logs=None):
        """Epoch *epoch* (from 0) begins."""

    def on_epoch_end(self, epoch, logs=None):
        """Epoch *epoch* ended; *logs* has its metrics and the validation ones (``val_...``)."""

    def on_train_batch_begin(self, batch, logs=None):
        """Training batch *batch* (from 0 in each epoch) begins."""
        self.on_batch_begin(batch, logs=logs)

    def on_train_batch_end(self, batch, logs=None):
        """Training batch *batch* ended; *logs* has the running metrics of the epoch."""
        self.on_batch_end(batch, logs=logs)

    def on_test_batch_begin(self, batch, logs=None):
        """An evaluation batch begins (in ``evaluate`` and in ``fit``'s validation)."""

    def on_test_batch_end(self, batch, logs=None):
        """An evaluation batch ended."""

    def on_predict_batch_begin(self, batch, logs=None):
        """A prediction batch begins."""

    def on_predict_batch_end(self, batch, logs=None):
        """A prediction batch ended; *logs* has ``outputs``."""

    def on_train_begin(self, logs=None):
        """``fit`` begins."""

    def on_train_end(self, logs=None):
        """``fit`` ends; *logs* has the last epoch's values."""

    def on_test_begin(self, logs=None):
        """An evaluation begins."""

    def on_test_end(self, logs=None):
        """An evaluation ended; *logs* has its results."""

    def on_predict_begin(self, logs=None):
        """``predict`` begins."""

    def on_predict_end(self, logs=None):
        """``predict`` ended."""


class CallbackList(Callback):
    """Calls each hook on every callback in turn; adds a History and a ProgbarLogger as Keras does.

    Epoch-end logs are handed on sorted by key, so callbacks (and the History) see
    ``accuracy, loss, val_accuracy, val_loss``, then keys added by callbacks (``learning_rate``).

    Example: ``CallbackList([EarlyStopping()], add_history=True, model=model, epochs=5, steps=10,
    verbose=2)``.
    """

    def __init__(self, callbacks=None, add_history=False, add_progbar=False, model=None,
                 **params):
        super().__init__()
        self.callbacks = list(callbacks or [])
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise DTypeError(f"callbacks must be keras Callback instances, got "
                                 f"{type(cb).__name__}: {cb!r}")
        self.history = next((cb for cb in self.callbacks if isinstance(cb, History)), None)
        if self.history is None and add_history:
            self.history = History()
            self.callbacks.append(self.history)
        if add_progbar and not any(isinstance(cb, ProgbarLogger) for cb in self.callbacks):
            self.callbacks.append(ProgbarLogger())
        if model is not None:
            self.set_model(model)
        if params:
            self.set_params(params)

    def set_params(self, params):
        self.params = params
        for cb in self.callbacks:
            cb.set_params(params)

    def set_model(self, model):
        self.model = model
        if self.history is not None:
            model.history = self.history
        for cb in self.callbacks:
            cb.set_model(model)

    def on_epoch_end(self, epoch, logs=None):
        """Call ``on_epoch_end`` on every callback with the logs sorted by key (as Keras 3)."""
        logs = dict(sorted((logs or {}).items()))
        for cb in self.callbacks:
            cb.on_epoch_end(epoch, logs)


def _dispatch(hook):
    """A CallbackList method that calls *hook* on every callback in turn, logs always given."""
    if "batch" in hook or "epoch" in hook:
        def call(self, index, logs=None):
            for cb in self.callbacks:
                getattr(cb, hook)(index, logs)
    else:
        def call(self, logs=None):
            for cb in self.callbacks:
                getattr(cb, hook)(logs)
    call.__name__ = call.__qualname__ = hook
    call.__doc__ = f"Call ``{hook}`` on every callback."
    return call


for _hook in [n for n in vars(Callback) if n.startswith("on_") and n not in vars(CallbackList)]:
    setattr(CallbackList, _hook, _dispatch(_hook))


class History(Callback):
    """Records every epoch's logs: ``history.history["loss"]`` is the list of epoch losses.

    ``fit`` returns it (and sets ``model.history``); ``history.epoch`` lists the epoch indices.

    Example::

        >>> x, y = np.random.rand(64, 4), np.random.randint(0, 2, (64, 1))
        >>> model = cr.Sequential([cr.layers.Dense(1, activation="sigmoid")])
        >>> model.compile("adam", "binary_crossentropy", metrics=["accuracy"])
        >>> h = model.fit(x, y, epochs=3, validation_split=0.2, verbose=0)
        >>> sorted(h.history)
        ['accuracy', 'loss', 'val_accuracy', 'val_loss']
    """

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)
        self.model.history = self


class ProgbarLogger(Callback):
    """Prints progress (see :mod:`chainrule.keras.progress`); ``fit`` adds one unless verbose=0.

    Prints ``Epoch 3/10`` before each epoch (when there is more than one), then the bar (verbose=1)
    or one line (verbose=2); validation inside ``fit`` is silent, its values join the epoch's line.

    Example: ``model.fit(x, y, epochs=10, verbose=2)`` prints two lines per epoch.
    """

    def __init__(self):
        super().__init__()
        self.progbar = None
        self.seen = 0
        self.target = None
        self.verbose = 1
        self.epochs = 1
        self._called_in_fit = False

    def set_params(self, params):
        self.verbose = resolve_verbose(params.get("verbose", "auto"))
        self.epochs = params.get("epochs", 1)
        self.target = params.get("steps")

    def on_train_begin(self, logs=None):
        self._called_in_fit = True

    def on_epoch_begin(self, epoch, logs=None):
        self._start_bar()
        if self.verbose and self.epochs > 1:
            print(f"Epoch {epoch + 1}/{self.epochs}", flush=True)

    def on_train_batch_end(self, batch, logs=None):
        self._update(batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._finish(logs)

    def on_test_begin(self, logs=None):
        if not self._called_in_fit:
            self._start_bar()

    def on_test_batch_end(self, batch, logs=None):
        if not self._called_in_fit:
            self._update(batch, logs)

    def on_test_end(self, logs=None):
        if not self._called_in_fit:
            self._finish(logs)

    def on_predict_begin(self, logs=None):
        self._start_bar()

    def on_predict_batch_end(self, batch, logs=None):
        self._update(batch, None)

    def on_predict_end(self, logs=None):
        self._finish(None)

    def _start_bar(self):
        self.seen = 0
        self.progbar = Progbar(target=self.target, verbose=self.verbose)

    def _update(self, batch, logs):
        self.seen = batch + 1
        if self.verbose == 1:
            self.progbar.update(self.seen, list((logs or {}).items()), finalize=False)

    def _finish(self, logs):
        if self.target is None:
            self.target = self.progbar.target = self.seen
        self.progbar.update(self.target, list((logs or {}).items()), finalize=True)


# ---- monitoring a quantity -----------------------------------------------------------------------
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
            raise KeyError(f'Failed to format this callback filepath: "{self.filepath}". '
                           f"Reason: {e} is not in the logs ({', '.join(logs)})") from None
        if self._should_save(epoch, logs, path):
            directory = os.path.dirname(path)
            if directory:
                os.makedirs(directory, exist_ok=True)
            if os.path.isdir(path):
                raise IsADirectoryError(f"ModelCheckpoint: the filepath is an existing "
                                        f"directory: {path}; give a file name")
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


class LearningRateScheduler(Callback):
    """Set the learning rate at each epoch's start to ``schedule(epoch, lr)`` (or ``(epoch)``).

    The value is written to every parameter group's ``lr``; the epoch's logs get
    ``learning_rate``, as in Keras 3.

    Example::

        >>> schedule = LearningRateScheduler(lambda epoch, lr: lr if epoch < 10 else lr * 0.9)
    """

    def __init__(self, schedule, verbose=0):
        super().__init__()
        self.schedule, self.verbose = schedule, verbose

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = self.model.optimizer
        try:
            lr = self.schedule(epoch, float(optimizer.learning_rate))
        except TypeError:       # a one-argument schedule, as older Keras allowed
            lr = self.schedule(epoch)
        if isinstance(lr, bool) or not isinstance(lr, (float, int, np.floating, np.integer)):
            raise ConfigError(f"The output of the `schedule` function should be a float. "
                              f"Got: {lr!r}")
        optimizer.learning_rate = float(lr)
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to "
                  f"{float(lr)}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer.learning_rate)


class ReduceLROnPlateau(MonitorCallback):
    """Multiply the learning rate by *factor* after *patience* epochs without improvement.

    An improvement is a change larger than *min_delta*; after a reduction, *cooldown* epochs pass
    before counting again, and the rate never goes below *min_lr*.  The epoch's logs get
    ``learning_rate`` (the rate used during that epoch), as in Keras 3.

    Example::

        >>> reduce = ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=3, min_lr=1e-5)
    """

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto",
                 min_delta=1e-4, cooldown=0, min_lr=0.0):
        super().__init__(monitor, mode, min_delta=min_delta)
        if factor >= 1.0:
            raise ConfigError(f"ReduceLROnPlateau does not support a factor >= 1.0. Received "
                              f"factor={factor}")
        self.factor, self.patience, self.verbose = factor, patience, verbose
        self.cooldown, self.min_lr = cooldown, min_lr
        self.cooldown_counter = self.wait = 0

    def on_train_begin(self, logs=None):
        self.best = None
        self.cooldown_counter = self.wait = 0

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self._set_monitor_op()
        logs = logs if logs is not None else {}
        optimizer = self.model.optimizer
        logs["learning_rate"] = float(optimizer.learning_rate)
        current = self._current(logs, "Learning rate reduction")
        if current is None:
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._is_improvement(current, self.best):
            self.best, self.wait = current, 0
        elif self.cooldown_counter <= 0:
            self.wait += 1
            old_lr = float(optimizer.learning_rate)
            if self.wait >= self.patience and old_lr > np.float32(self.min_lr):
                new_lr = max(old_lr * self.factor, self.min_lr)
                optimizer.learning_rate = new_lr
                if self.verbose > 0:
                    print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to "
                          f"{new_lr}.")
                self.cooldown_counter, self.wait = self.cooldown, 0


class CSVLogger(Callback):
    """Write each epoch's logs as a CSV row: ``epoch`` (from 0), then the keys in sorted order.

    The columns are fixed at the first epoch; without validation data the ``val_`` columns are
    still written, as ``NA``, as Keras does.  With *append*, rows are added to an existing file
    (the header only if the file is empty).

    Example::

        >>> x, y = np.random.rand(64, 4), np.random.randint(0, 2, (64, 1))
        >>> model = cr.Sequential([cr.layers.Dense(1, activation="sigmoid")])
        >>> model.compile("adam", "binary_crossentropy", metrics=["accuracy"])
        >>> h = model.fit(x, y, epochs=5, callbacks=[CSVLogger("training.csv")], verbose=0)
        >>> print(open("training.csv").readline().strip())
        epoch,accuracy,loss,val_accuracy,val_loss
    """

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.filename, self.sep, self.append = os.fspath(filename), separator, append
        self.keys = self.writer = self.csv_file = None

    def on_train_begin(self, logs=None):
        self.append_header = True
        if self.append and os.path.exists(self.filename):
            with open(self.filename, encoding="utf-8") as f:
                self.append_header = not f.readline()
        if self.csv_file is not None and not self.csv_file.closed:
            self.csv_file.close()
        self.csv_file = open(self.filename, "a" if self.append else "w", newline="",
                             encoding="utf-8")
        self.keys = self.writer = None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
            if self.keys and not any(k.startswith("val_") for k in self.keys):
                self.keys += [f"val_{k}" for k in self.keys]
        if self.writer is None:
            self.writer = csv.DictWriter(self.csv_file, fieldnames=["epoch"] + self.keys,
                                         delimiter=self.sep, lineterminator="\n")
            if self.append_header:
                self.writer.writeheader()
        row = collections.OrderedDict(epoch=epoch)
        row.update((k, _csv_value(logs.get(k, "NA"))) for k in self.keys)
        self.writer.writerow(row)
        self.csv_file.flush()

    def on_train_end(self, logs=None):
        if self.csv_file is not None and not self.csv_file.closed:
            self.csv_file.close()
        self.writer = None


def _csv_value(v):
    if isinstance(v, str) or np.ndim(v) == 0:
        return v
    return f"[{', '.join(map(str, v))}]"


class TerminateOnNaN(Callback):
    """Stop training as soon as the loss becomes NaN or infinite (or raise, with *raise_error*).

    Example: ``model.fit(x, y, callbacks=[TerminateOnNaN()])``.
    """

    def __init__(self, raise_error=False):
        super().__init__()
        self.raise_error = raise_error

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            if self.raise_error:
                raise RuntimeError(f"NaN or Inf loss encountered at batch {batch}. Loss value: "
                                   f"{loss}. Terminating training immediately.")
            print(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True


class LambdaCallback(Callback):
    """A callback from plain functions, one per hook: ``LambdaCallback(on_epoch_end=fn)``.

    Epoch hooks take ``(epoch, logs)``, batch hooks ``(batch, logs)``, train hooks ``(logs)``.

    Example::

        >>> show = LambdaCallback(on_epoch_end=lambda epoch, logs: print(epoch, logs["loss"] > 0))
        >>> x, y = np.random.rand(64, 4), np.random.randint(0, 2, (64, 1))
        >>> model = cr.Sequential([cr.layers.Dense(1, activation="sigmoid")])
        >>> model.compile("adam", "binary_crossentropy")
        >>> h = model.fit(x, y, epochs=2, callbacks=[show], verbose=0)
        0 True
        1 True
    """

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None,
                 on_train_end=None, on_train_batch_begin=None, on_train_batch_end=None,
                 **kwargs):
        super().__init__()
        hooks = dict(on_epoch_begin=on_epoch_begin, on_epoch_end=on_epoch_end,
                     on_train_begin=on_train_begin, on_train_end=on_train_end,
                     on_train_batch_begin=on_train_batch_begin,
                     on_train_batch_end=on_train_batch_end, **kwargs)
        for name, fn in hooks.items():
            if not hasattr(Callback, name):
                raise TypeError(f"LambdaCallback: {name!r} is not a callback hook")
            if fn is not None:
                setattr(self, name, fn)
