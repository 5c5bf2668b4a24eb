"""``BackupAndRestore``: an interrupted ``fit`` picks up where it stopped, bit for bit.

At the end of every epoch (or every ``save_freq`` batches) the callback writes the whole training
state to ``backup_dir/latest.cr``: the weights and non-trainable state, the optimizer's state
(moments, learning rate, step count), the random streams (``cr.manual_seed``'s, and those of
layers with their own seed), and, in the middle of an epoch, the epoch's running metrics and the
random state the epoch began with. It is a ``cr.save_checkpoint`` file: written atomically, so a
crash while saving leaves the previous backup whole, and checked entry by entry when read back.

When ``fit`` starts and a backup exists, the callback restores it and training resumes at the
saved epoch (and batch): the resumed run takes exactly the steps the uninterrupted one would
have, with the same shuffling and dropout, and ends with bit-identical weights. At the end of a
completed ``fit`` the backup is deleted (unless ``delete_checkpoint=False``).

Run the same model, compiled the same way, with the same ``fit`` arguments when resuming. With
``steps_per_epoch`` (batches drawn from a stream that runs across epochs) the weights and
optimizer are restored, but the order of the remaining batches is not that of the first run.

Example::

    >>> class PowerCut(Callback):
    ...     def on_epoch_begin(self, epoch, logs=None):
    ...         if epoch == 2:
    ...             raise KeyboardInterrupt("the machine went away")
    >>> x, y = np.random.rand(32, 3), np.random.randint(0, 2, (32, 1))
    >>> model = cr.Sequential([cr.layers.Input((3,)), cr.layers.Dense(1, activation="sigmoid")])
    >>> model.compile("adam", "binary_crossentropy")
    >>> backup = BackupAndRestore(backup_dir="backup")
    >>> try:
    ...     model.fit(x, y, epochs=5, callbacks=[backup, PowerCut()], verbose=0)
    ... except KeyboardInterrupt:
    ...     pass
    >>> history = model.fit(x, y, epochs=5, callbacks=[backup], verbose=0)   # epochs 2 to 4
    >>> len(history.history["loss"])
    3
"""
import os

from chainrule import distributed
from chainrule import random as _random
from chainrule.checkpoint import load_checkpoint, save_checkpoint
from chainrule.errors import ConfigError, SerializationError
from chainrule.keras.callbacks.callback import Callback
from chainrule.keras.utils import generators_of, positive_int


class BackupAndRestore(Callback):
    """Back up the training state as training goes, and restore it when ``fit`` starts again.

    Args:
        backup_dir: the folder for the backup files (made if missing). Give each training run
            its own: the files in it are this callback's.
        save_freq: ``"epoch"`` (default) saves at the end of every epoch; an int ``n`` saves
            every ``n`` batches (so little work is lost when epochs are long).
        double_checkpoint: also keep the backup before the latest as ``previous.cr``, used if
            the latest cannot be read.
        delete_checkpoint: delete the backup files when ``fit`` completes (default True).

    Example: ``model.fit(x, y, epochs=100, callbacks=[BackupAndRestore("runs/backup")])``.
    """

    LATEST, PREVIOUS = "latest.cr", "previous.cr"

    def __init__(self, backup_dir, save_freq="epoch", double_checkpoint=False,
                 delete_checkpoint=True):
        super().__init__()
        if not backup_dir:
            raise ConfigError("Empty `backup_dir` argument passed")
        if save_freq != "epoch":
            save_freq = positive_int(save_freq, "save_freq", "BackupAndRestore") \
                if not isinstance(save_freq, str) else None
            if save_freq is None:
                raise ConfigError(f"BackupAndRestore: invalid value for argument `save_freq`. "
                                  f"Expected either 'epoch' or an integer value. Received: "
                                  f"save_freq={save_freq!r}")
        self.backup_dir = os.fspath(backup_dir)
        self.save_freq = save_freq
        self.double_checkpoint = bool(double_checkpoint)
        self.delete_checkpoint = bool(delete_checkpoint)
        self._latest = os.path.join(self.backup_dir, self.LATEST)
        self._previous = os.path.join(self.backup_dir, self.PREVIOUS)
        self._epoch = 0
        self._epoch_rng = None
        self._since_save = 0

    # ---- restoring -------------------------------------------------------------------------
    def on_train_begin(self, logs=None):
        if getattr(self.model, "built", True) is False:
            raise ConfigError(f"To use the BackupAndRestore callback, your model must be built "
                              f"before you call `fit()`. Model {self.model} is unbuilt. You can "
                              f"build it beforehand by calling it on a batch of data.")
        self._since_save = 0
        paths = [p for p in (self._latest, self._previous) if os.path.exists(p)]
        for i, path in enumerate(paths):
            try:
                self._restore(path)
                return
            except SerializationError:
                if i == len(paths) - 1:     # no older backup to fall back on
                    raise

    def _restore(self, path):
        epoch, extra = load_checkpoint(path, _ByPosition(self.model), self.model.optimizer,
                                       generators=generators_of(self.model))
        if not isinstance(extra, dict) or set(extra) != {"step", "epoch_rng", "metrics"} \
                or not isinstance(epoch, int) or epoch < 0:
            raise SerializationError(f"{path}: not a BackupAndRestore file (extra={extra!r})"[:300])
        self._epoch = epoch
        self.model._initial_epoch = epoch
        step = extra["step"]
        if step:                                    # saved in the middle of an epoch
            now = _random.get_rng_state()
            _random.set_rng_state(extra["epoch_rng"])    # the epoch's order is drawn from here

            def restore():                          # called once the order is drawn
                _random.set_rng_state(now)
                _set_metric_states(self.model, extra["metrics"])

            self.model._resume_in_epoch = (epoch, step, restore)

    # ---- saving ------------------------------------------------------------------------------
    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._epoch_rng = _random.get_rng_state()

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq == "epoch":
            return
        self._since_save += 1
        if self._since_save >= self.save_freq:
            self._since_save = 0
            self._save(self._epoch, batch + 1)

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._save(epoch + 1, 0)

    def _save(self, epoch, step):
        """Write the state after *step* batches of *epoch* (step 0: before the epoch begins)."""
        if not distributed.is_main_process():
            return
        os.makedirs(self.backup_dir, exist_ok=True)
        if self.double_checkpoint and os.path.exists(self._latest):
            os.replace(self._latest, self._previous)
        extra = {"step": int(step), "epoch_rng": self._epoch_rng if step else None,
                 "metrics": _metric_states(self.model) if step else None}
        save_checkpoint(self._latest, _ByPosition(self.model), self.model.optimizer, epoch=epoch,
                        extra=extra, generators=generators_of(self.model))

    def on_train_end(self, logs=None):
        if not self.delete_checkpoint or not distributed.is_main_process():
            return
        for path in (self._latest, self._previous):
            if os.path.exists(path):
                os.remove(path)
        try:
            os.rmdir(self.backup_dir)        # only if nothing else is in it
        except OSError:
            pass


class _ByPosition:
    """The model's state dict keyed by position (``"0"``, ``"1"`` ...), so that a backup fits the
    same architecture rebuilt in a new process even where automatic layer names differ."""

    def __init__(self, model):
        self.model = model

    def state_dict(self):
        return {str(i): t for i, t in enumerate(self.model.state_dict().values())}

    def load_state_dict(self, state_dict):
        names = list(self.model.state_dict())
        self.model.load_state_dict({names[int(k)]: v for k, v in state_dict.items()})


def _metric_states(model):
    """The accumulators of every metric the model logs (the loss tracker included), in order."""
    return [m.get_state() for m in model.metrics]


def _set_metric_states(model, states):
    metrics = model.metrics
    if not isinstance(states, list) or len(states) != len(metrics):
        raise SerializationError(f"BackupAndRestore: the backup holds {len(states or [])} metric "
                                 f"states, the model has {len(metrics)} metrics; was it compiled "
                                 f"the same way?")
    for m, state in zip(metrics, states):
        m.set_state(state)


__all__ = ["BackupAndRestore"]
