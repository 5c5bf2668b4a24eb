"""``Callback``, the ``CallbackList`` that fit/evaluate/predict call, ``History`` and the progress bar.

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
"""
from chainrule.errors import ArgumentTypeError
from chainrule.keras.progress import Progbar, resolve_verbose


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
                raise ArgumentTypeError(f"callbacks must be keras Callback instances, got "
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
