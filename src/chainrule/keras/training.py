"""``Trainer``: Keras's ``compile`` / ``fit`` / ``evaluate`` / ``predict``, mixed into ``Model``.

``Model(Trainer, Layer)`` gets the Keras training API; every batch goes through the one training
loop of :mod:`chainrule.training.loop` (``train_step``: forward, loss, ``zero_grad``,
``backward``, ``step``), the same five lines a PyTorch-style script runs. The data side (arrays,
validation split, per-output targets, batches) is :mod:`~chainrule.keras.data_adapter`'s; the
compiled loss and metrics are :mod:`~chainrule.keras.compile_utils`'s.

What ``fit`` does, as Keras 3:

* data: ``x`` is an array (a list, a tensor), a list of arrays in input order or a dict keyed
  by input name; ``y`` an array, or a list/dict per output.  ``validation_split`` takes the
  *last* fraction of the rows, before shuffling; ``shuffle`` draws a new order every epoch
  from ``cr.manual_seed``'s generator, so a seeded run repeats exactly.
* the loss of a batch is Σ wᵢ·lᵢ / n (Keras's "sum_over_batch_size"), with wᵢ from
  ``sample_weight`` or from ``class_weight`` (``{1: 3.0}`` counts each positive three times),
  summed over outputs (times ``loss_weights``), plus the regularisation penalties in
  ``model.losses``.
* ``logs``: ``loss`` is the mean over the epoch's batches weighted by batch size; metrics
  accumulate over the epoch; validation values come with a ``val_`` prefix; keys are sorted
  (``accuracy, loss, val_accuracy, val_loss``), and ``learning_rate`` is added when a callback
  changes it.
* progress is printed by a ``ProgbarLogger`` that :func:`make_callbacks` adds, on the main
  process only (rank 0 under ``mpiexec``).

Example::

    >>> x, y = np.random.rand(100, 4), np.random.randint(0, 2, (100, 1))
    >>> model = cr.Sequential([cr.layers.Dense(8, activation="relu"),
    ...                        cr.layers.Dense(1, activation="sigmoid")])
    >>> model.compile("adam", "binary_crossentropy", ["accuracy"])
    >>> history = model.fit(x, y, batch_size=32, epochs=20, validation_split=0.2, verbose=0)
    >>> len(history.history["val_accuracy"])
    20
"""
import numpy as np

from chainrule import distributed
from chainrule.errors import ConfigError
from chainrule.grad_mode import no_grad
from chainrule.keras import callbacks as callbacks_module
from chainrule.keras import metrics as metrics_module
from chainrule.keras import optimizers as optimizers_module
from chainrule.keras.compile_utils import CompiledLoss, CompiledMetrics
from chainrule.keras.data_adapter import ArrayData, unpack_validation
from chainrule.keras.progress import resolve_verbose
from chainrule.keras.training_batch import BatchMethods, as_list, keep_mode
from chainrule.keras.utils import non_negative_int, positive_int
from chainrule.compile import compile as compile_step
from chainrule.keras.losses.loss import as_float_tensor
from chainrule.training.loop import evaluate_loss, predict, train_step


class Trainer(BatchMethods):
    """The Keras training API for a model that is an ``nn.Module``.

    The model provides ``__call__`` (a tensor, a list or a dict of tensors in; a tensor or a
    list of tensors out), ``parameters``, ``state_dict``/``load_state_dict`` and optionally
    ``output_names``, ``losses`` (regularisation penalties) and ``_graph`` (a functional model's
    graph, which matches data to the inputs).

    Example::

        >>> class Net(cr.nn.Module, Trainer):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.body = cr.nn.Sequential(cr.nn.Linear(4, 1), cr.nn.Sigmoid())
        ...     def forward(self, x):
        ...         return self.body(x)
        >>> net = Net()
        >>> net.compile("adam", "binary_crossentropy", ["accuracy"])
        >>> h = net.fit(np.random.rand(64, 4), np.random.randint(0, 2, (64, 1)), epochs=2, verbose=0)
    """

    compiled = False
    optimizer = None
    stop_training = False
    history = None
    _compiled_loss = None
    _compiled_metrics = None
    _loss_tracker = None
    _compile_args = None
    _pending_compile = None
    _initial_epoch = None       # set by a callback's on_train_begin to resume (BackupAndRestore)
    _resume_in_epoch = None     # (epoch, steps done, restore()) to resume in the middle of one

    # ---- compile ---------------------------------------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, metrics=None, loss_weights=None,
                weighted_metrics=None, run_eagerly=False, steps_per_execution=1,
                jit_compile="auto", auto_scale_loss=True):
        """Configure training: the optimizer, the loss and the metrics.

        Args:
            optimizer: a name (``"adam"``, ``"sgd"``, ``"nadam"``...), a Keras-style optimizer
                from :mod:`chainrule.keras.optimizers`, or a ``cr.optim`` optimizer or class.
            loss: a name (``"binary_crossentropy"``, ``"mse"``...), a ``Loss``, a function
                ``fn(y_true, y_pred)`` returning per-sample values, or a ``cr.nn`` loss module;
                for several outputs, a list or a dict by output name.
            metrics: a list of names or ``Metric`` objects (``["accuracy", "auc"]``); for several
                outputs, a list of lists or a dict by output name.  ``"accuracy"`` picks binary,
                categorical or sparse-categorical accuracy from the shapes, as Keras.
            loss_weights: per-output multipliers of the losses (a list or a dict).
            weighted_metrics: metrics that are weighted by ``sample_weight``/``class_weight``
                (plain ``metrics`` are not).

        The remaining arguments exist for Keras compatibility and change nothing. Every name is
        checked now; a model whose weights are not made yet (a ``Sequential`` without an input
        shape) finishes compiling at its first data. Built-in settings are saved with the model.

        Example: ``model.compile(optimizer="adam", loss="binary_crossentropy",
        metrics=["accuracy", "auc"])``.
        """
        args = dict(optimizer=optimizer, loss=loss, metrics=metrics, loss_weights=loss_weights,
                    weighted_metrics=weighted_metrics)
        resolved = self._resolve_compile(**args)
        self._compile_args = args
        self._jit_compile = jit_compile is True     # fit's step recorded once, then replayed
        self._jit_step = None
        if getattr(self, "built", True) is False:     # its weights appear with the first data
            self._pending_compile = args
            return
        self._pending_compile = None
        self._finish_compile(*resolved)

    def _resolve_compile(self, optimizer, loss, metrics, loss_weights=None, weighted_metrics=None):
        """``(optimizer, compiled loss, compiled metrics)`` for ``compile``'s arguments, every name
        looked up (an unknown one raises ``ConfigError`` with a "did you mean"); nothing is
        changed."""
        names = self._output_names()
        return (optimizers_module.get(optimizer), CompiledLoss(loss, loss_weights, names),
                CompiledMetrics(metrics, weighted_metrics, names))

    def _finish_compile(self, optimizer, compiled_loss, compiled_metrics):
        optimizer = optimizer.build(self.parameters())
        # everything is checked and built: only now does the model change
        self.optimizer = optimizer
        self._compiled_loss, self._compiled_metrics = compiled_loss, compiled_metrics
        self._loss_tracker = metrics_module.Mean(name="loss")
        self.compiled = True

    def _before_data(self, x):
        """Called with the data of every fit/evaluate/predict before anything else: a lazily
        built model builds itself here (see ``Model``); then a waiting compile completes."""
        if self._pending_compile is not None and getattr(self, "built", True):
            args, self._pending_compile = self._pending_compile, None
            self._finish_compile(*self._resolve_compile(**args))

    # ---- fit ---------------------------------------------------------------------------------
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
            sample_weight=None, initial_epoch=0, steps_per_epoch=None, validation_steps=None,
            validation_batch_size=None, validation_freq=1):
        """Train for *epochs* passes over (x, y); return the :class:`History`.

        Args:
            x: the inputs (see the module docstring).
            y: the targets; may be omitted only for a model trained on its regularisation
                losses alone.
            batch_size: samples per step (default 32).
            epochs: the index of the last epoch (training runs epochs ``initial_epoch`` to
                ``epochs - 1``).
            verbose: 0 silent, 1 progress bar, 2 one line per epoch, "auto" 1 on a terminal
                else 2.
            callbacks: a list of ``chainrule.keras.callbacks.Callback``.
            validation_split: the fraction of rows, taken from the end, held out for validation.
            validation_data: ``(x_val, y_val)`` or ``(x_val, y_val, sample_weight_val)``
                (overrides *validation_split*).
            shuffle: reshuffle the rows every epoch (True), keep their order (False), or
                shuffle whole batches ("batch").
            class_weight: ``{class: weight}``; each sample's loss is multiplied by its class's
                weight (missing classes 1.0).  Labels are rounded 0/1 values, class indices or
                one-hot rows.
            sample_weight: one weight per training row.
            initial_epoch: the epoch to start from (to resume training).
            steps_per_epoch: batches per epoch (the data is cycled, reshuffled at each pass).
            validation_steps: at most this many validation batches.
            validation_batch_size: the validation batch size (default *batch_size*).
            validation_freq: validate every this many epochs.

        Example::

            >>> from chainrule.keras.callbacks import EarlyStopping
            >>> x, y = np.random.rand(100, 4), np.random.randint(0, 2, (100, 1))
            >>> model = cr.Sequential([cr.layers.Dense(1, activation="sigmoid")])
            >>> model.compile("adam", "binary_crossentropy", ["accuracy"])
            >>> h = model.fit(x, y, epochs=50, validation_split=0.2, verbose=0,
            ...               class_weight={0: 1.0, 1: 3.0},
            ...               callbacks=[EarlyStopping(patience=5, restore_best_weights=True)])
            >>> sorted(h.history)
            ['accuracy', 'loss', 'val_accuracy', 'val_loss']
        """
        self._before_data(x)
        self._require_compiled("fit")
        batch_size = positive_int(32 if batch_size is None else batch_size, "batch_size", "fit")
        epochs = positive_int(epochs, "epochs", "fit")
        initial_epoch = non_negative_int(initial_epoch, "initial_epoch", "fit")
        validation_freq = positive_int(validation_freq, "validation_freq", "fit")
        if steps_per_epoch is not None:
            steps_per_epoch = positive_int(steps_per_epoch, "steps_per_epoch", "fit")
        if not (isinstance(validation_split, (int, float)) and 0.0 <= validation_split < 1.0):
            raise ConfigError(f"fit: validation_split must be a float in [0, 1), got "
                              f"{validation_split!r}")
        if shuffle not in (True, False, "batch"):
            raise ConfigError(f"fit: shuffle must be True, False or 'batch', got {shuffle!r}")
        if class_weight is not None and sample_weight is not None:
            raise ConfigError("fit: you cannot use class_weight and sample_weight at the same "
                              "time; fold the class weights into sample_weight instead")
        data = self._adapt("fit", x, y, sample_weight, targets=True)
        val = None
        if validation_data is not None:
            val = self._adapt("fit (validation_data)", *unpack_validation(validation_data),
                              targets=True)
        elif validation_split:
            data, val = data.split(validation_split)
        if class_weight is not None:
            data.apply_class_weight(class_weight)
        self._preflight(data, batch_size)
        if val is not None:
            self._preflight(val, validation_batch_size or batch_size)

        steps = steps_per_epoch or data.num_batches(batch_size)
        callbacks = make_callbacks(callbacks, self, verbose, epochs=epochs, steps=steps,
                                   add_history=True)
        self.stop_training = False
        self._initial_epoch = self._resume_in_epoch = None
        batches = data.batch_stream(batch_size, shuffle) if steps_per_epoch else None
        training_logs = {}
        callbacks.on_train_begin()
        if self._initial_epoch is not None:       # a callback restored an interrupted run
            initial_epoch, self._initial_epoch = self._initial_epoch, None
        with keep_mode(self):
            for epoch in range(initial_epoch, epochs):
                self.reset_metrics()
                callbacks.on_epoch_begin(epoch)
                self.train()
                epoch_batches = (data.epoch_batches(batch_size, shuffle) if batches is None
                                 else (next(batches) for _ in range(steps_per_epoch)))
                done = self._steps_done_in(epoch)
                for step, batch in enumerate(epoch_batches):
                    if step < done:
                        continue
                    callbacks.on_train_batch_begin(step)
                    logs = self._train_batch(*batch)
                    callbacks.on_train_batch_end(step, logs)
                    if self.stop_training:
                        break
                epoch_logs = self._results()
                if val is not None and (epoch + 1) % validation_freq == 0:
                    val_logs = self._run_evaluation(val, validation_batch_size or batch_size,
                                                    callbacks, validation_steps)
                    epoch_logs.update({"val_" + k: v for k, v in val_logs.items()})
                callbacks.on_epoch_end(epoch, epoch_logs)
                training_logs = epoch_logs
                if self.stop_training:
                    break
        callbacks.on_train_end(training_logs)
        return self.history

    def _steps_done_in(self, epoch):
        """Steps of *epoch* already taken before an interruption (restoring the state the run
        had after them, once this epoch's order is drawn); 0 normally."""
        resume, self._resume_in_epoch = self._resume_in_epoch, None
        if resume is None or resume[0] != epoch:
            return 0
        _, done, restore = resume
        restore()
        return done

    # ---- evaluate / predict ---------------------------------------------------------------------
    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None,
                 steps=None, callbacks=None, return_dict=False):
        """The loss and metrics on (x, y), in evaluation mode and without gradients.

        Returns the loss alone when no metrics were compiled, else ``[loss, metric...]`` in
        ``metrics_names`` order, or a dict with *return_dict*.

        Example: ``loss, acc = model.evaluate(x_test, y_test, verbose=0)``.
        """
        self._before_data(x)
        self._require_compiled("evaluate")
        batch_size = positive_int(32 if batch_size is None else batch_size, "batch_size",
                                  "evaluate")
        data = self._adapt("evaluate", x, y, sample_weight, targets=True)
        self._preflight(data, batch_size)
        num = data.num_batches(batch_size)
        callbacks = make_callbacks(callbacks, self, verbose, epochs=1,
                                   steps=min(num, steps or num))
        logs = self._run_evaluation(data, batch_size, callbacks, steps)
        return logs if return_dict else self._in_order(logs)

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """The model's outputs on *x* as NumPy arrays (a list of them for several outputs).

        Runs in evaluation mode (dropout off), without gradients, *batch_size* rows at a time.

        Example: ``probs = model.predict(x_test, verbose=0)[:, 0]``.
        """
        self._before_data(x)
        batch_size = positive_int(32 if batch_size is None else batch_size, "batch_size",
                                  "predict")
        data = self._adapt("predict", x)
        self._preflight(data, batch_size)
        num = data.num_batches(batch_size)
        num = min(num, steps or num)
        callbacks = make_callbacks(callbacks, self, verbose, epochs=1, steps=num)
        callbacks.on_predict_begin()
        parts = []
        with keep_mode(self):
            for step, (xb, _, _) in enumerate(data.epoch_batches(batch_size, False)):
                if step == num:
                    break
                callbacks.on_predict_batch_begin(step)
                parts.append([t._data for t in as_list(predict(self, xb))])
                callbacks.on_predict_batch_end(step, {"outputs": parts[-1]})
        callbacks.on_predict_end()
        result = [np.concatenate(chunks) for chunks in zip(*parts)]
        return result[0] if len(result) == 1 else result

    @property
    def loss(self):
        """The loss given to ``compile`` (None before), as Keras's ``model.loss``."""
        return self._compiled_loss.spec if self.compiled else None

    # ---- metrics --------------------------------------------------------------------------------
    @property
    def metrics(self):
        """The metric objects: the loss tracker, the compiled metrics, the per-output losses."""
        if not self.compiled:
            return []
        return [self._loss_tracker, *self._compiled_metrics.metrics,
                *self._compiled_loss.trackers]

    @property
    def metrics_names(self):
        """The names of :attr:`metrics` (``["loss", "accuracy"]``)."""
        return [m.name for m in self.metrics]

    def reset_metrics(self):
        """Reset every metric's state (``fit`` does it at each epoch's start)."""
        for m in self.metrics:
            m.reset_state()

    # ---- internals -------------------------------------------------------------------------------
    def _require_compiled(self, what):
        if not self.compiled:
            raise ConfigError(f"You must call compile() before using the model: {what} needs an "
                              f"optimizer and a loss, e.g. model.compile('adam', "
                              f"'binary_crossentropy', ['accuracy'])")

    def _output_names(self):
        return list(getattr(self, "output_names", None) or ["output"])

    def _adapt(self, where, x, y=None, sample_weight=None, targets=False):
        data = ArrayData(where, x, y, sample_weight, getattr(self, "_graph", None),
                         self._output_names(), getattr(self, "input_names", None))
        if targets and data.ys is None and self._compiled_loss.active:
            raise ConfigError(f"{where}: y is required (the targets the loss compares the "
                              f"model's outputs with)")
        return data

    def _preflight(self, data, batch_size):
        """Check *data* against the model before anything changes (weights, optimizer, metrics,
        RNG): a forward pass on the first row, in evaluation mode and without a graph, shows
        inputs the model cannot take; the compiled loss checks every target row against that
        output (shapes, label ranges). Skipped for a model not built yet (its first batch
        builds it; a bad shape fails there, before any step)."""
        if getattr(self, "built", True) is False:
            return
        with keep_mode(self), no_grad():
            self.eval()
            outputs = [t._data for t in as_list(self(data.batch(slice(0, 1))[0]))]
        if data.ys is not None and self.compiled:
            self._compiled_loss.check_targets(data, outputs, batch_size)
            self._compiled_metrics.ensure_built([y[:1] for y in data.ys], outputs)

    def _objective(self, output, ys, sample_weights=None):
        """The training loss: the compiled loss(es) plus the regularisation penalties."""
        total = self._compiled_loss(ys, as_list(output), sample_weights)
        for penalty in getattr(self, "losses", None) or ():
            total = penalty if total is None else total + penalty
        if total is None:
            raise ConfigError("No loss to compute. Provide a `loss` argument in `compile()`.")
        return total

    def _train_batch(self, x, ys, sample_weights):
        if distributed.is_distributed():    # mpiexec -n N: this rank's rows, gradients averaged
            self.optimizer, batch = distributed.shard_for_step(self.optimizer,
                                                               (x, ys, sample_weights))
            if batch is None:               # no rows here: the step was taken with the others
                return self._results()
            x, ys, sample_weights = batch
        if getattr(self, "_jit_compile", False) and not distributed.is_distributed():
            self._jit_step = self._jit_step or compile_step(self._step_tensors)
            targets = None if ys is None else [as_float_tensor(y) for y in ys]
            loss, output = self._jit_step(x, targets, sample_weights)
            return self._record(loss.item(), output, ys, sample_weights)
        loss, output = train_step(self, self._objective, self.optimizer, x, ys,
                                  sample_weight=sample_weights, return_output=True)
        return self._record(loss, output, ys, sample_weights)

    def _step_tensors(self, x, ys, sample_weights):
        """One training step returning tensors (the data loss and the output): what
        ``jit_compile=True`` records with ``cr.compile`` and replays."""
        self.optimizer.zero_grad()
        output = self(x)
        loss = self._objective(output, ys, sample_weights)
        loss.backward()
        self.optimizer.step()
        return loss, output

    def _test_batch(self, x, ys, sample_weights):
        loss, output = evaluate_loss(self, self._objective, x, ys, sample_weight=sample_weights,
                                     return_output=True)
        return self._record(loss, output, ys, sample_weights)

    def _record(self, loss, output, ys, sample_weights):
        outputs = [t._data for t in as_list(output)]
        self._loss_tracker.update_state(loss, sample_weight=len(outputs[0]))
        if ys is not None:
            self._compiled_metrics.update_state(ys, outputs, sample_weights)
        return self._results()

    def _results(self):
        logs = {m_key: m.result() for m_key, m in self._compiled_metrics.items()}
        logs.update({t.name: t.result() for t in self._compiled_loss.trackers})
        logs["loss"] = self._loss_tracker.result()
        return dict(sorted(logs.items()))

    def _in_order(self, logs):
        order = ["loss", *(k for k, _ in self._compiled_metrics.items()),
                 *(t.name for t in self._compiled_loss.trackers)]
        values = [logs[k] for k in order if k in logs]
        values += [logs[k] for k in sorted(logs) if k not in order]
        return values[0] if len(values) == 1 else values

    def _run_evaluation(self, data, batch_size, callbacks, steps=None):
        self.reset_metrics()
        callbacks.on_test_begin()
        logs = {}
        with keep_mode(self):
            for step, batch in enumerate(data.epoch_batches(batch_size, False)):
                if steps is not None and step >= steps:
                    break
                callbacks.on_test_batch_begin(step)
                logs = self._test_batch(*batch)
                callbacks.on_test_batch_end(step, logs)
        callbacks.on_test_end(logs)
        return logs


def make_callbacks(callbacks, model, verbose, add_history=False, **params):
    """The CallbackList of a fit/evaluate/predict: the user's callbacks, a History (fit) and the
    progress bar. The one place that decides what prints: nothing with ``verbose=0``, and only on
    the main process (rank 0 under ``mpiexec``)."""
    if isinstance(callbacks, callbacks_module.CallbackList):
        return callbacks
    verbose = resolve_verbose(verbose) if distributed.is_main_process() else 0
    return callbacks_module.CallbackList(callbacks, add_history=add_history,
                                         add_progbar=verbose != 0, model=model, verbose=verbose,
                                         **params)
