"""``Trainer``: Keras's ``compile`` / ``fit`` / ``evaluate`` / ``predict``, mixed into ``Model``.

``Model(nn.Module, Trainer)`` gets the Keras training API; every batch goes through the one
training loop of :mod:`chainrule.training.loop` (``train_step``: forward, loss, ``zero_grad``,
``backward``, ``step``), the same five lines a PyTorch-style script runs.

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

Example::

    >>> x, y = np.random.rand(100, 4), np.random.randint(0, 2, (100, 1))
    >>> model = cr.Sequential([cr.layers.Dense(8, activation="relu"),
    ...                        cr.layers.Dense(1, activation="sigmoid")])
    >>> model.compile("adam", "binary_crossentropy", ["accuracy"])
    >>> history = model.fit(x, y, batch_size=32, epochs=20, validation_split=0.2, verbose=0)
    >>> len(history.history["val_accuracy"])
    20
"""
import contextlib
import copy
import math

import numpy as np

from chainrule import dtypes
from chainrule.errors import ChainruleError, ConfigError, DataError, DTypeError, ShapeError
from chainrule.grad_mode import no_grad
from chainrule.keras import callbacks as callbacks_module
from chainrule.keras import losses as losses_module
from chainrule.keras import metrics as metrics_module
from chainrule.keras import optimizers as optimizers_module
from chainrule.keras.layers.base import positive_int
from chainrule.keras.progress import resolve_verbose
from chainrule.keras.symbolic import shape_repr
from chainrule.nn import Module
from chainrule.random import default_generator
from chainrule.tensor import Tensor
from chainrule.training.loop import evaluate_loss, predict, train_step


class Trainer:
    """The Keras training API for a model that is an ``nn.Module``.

    The model provides ``__call__`` (a tensor, a list or a dict of tensors in; a tensor or a
    list of tensors out), ``parameters``, ``state_dict``/``load_state_dict`` and optionally
    ``input_names``, ``output_names`` and ``losses`` (regularisation penalties).

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

    # ---- compile ---------------------------------------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, metrics=None, loss_weights=None,
                weighted_metrics=None, *, run_eagerly=False, steps_per_execution=1,
                jit_compile="auto", auto_scale_loss=True):
        """Configure training: the optimizer, the loss and the metrics.

        Args:
            optimizer: a name (``"adam"``, ``"sgd"``, ``"rmsprop"``...), a Keras-style optimizer
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

        The remaining keyword arguments exist for Keras compatibility and change nothing.

        Example: ``model.compile(optimizer="adam", loss="binary_crossentropy",
        metrics=["accuracy", "auc"])``.
        """
        optimizer, compiled_loss, compiled_metrics = self._resolve_compile(
            optimizer, loss, metrics, loss_weights, weighted_metrics)
        optimizer = optimizer.build(self.parameters())
        # everything is checked and built: only now does the model change
        self.optimizer = optimizer
        self._compiled_loss, self._compiled_metrics = compiled_loss, compiled_metrics
        self._loss_tracker = metrics_module.Mean(name="loss")
        self.compiled = True

    def _resolve_compile(self, optimizer, loss, metrics, loss_weights=None, weighted_metrics=None):
        """``(optimizer, compiled loss, compiled metrics)`` for ``compile``'s arguments, every name
        looked up (an unknown one raises ``ConfigError`` with a "did you mean"); nothing is
        changed."""
        names = self._output_names()
        return (optimizers_module.get(optimizer), _CompiledLoss(loss, loss_weights, names),
                _CompiledMetrics(metrics, weighted_metrics, names))

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
        self._require_compiled("fit")
        batch_size = positive_int(32 if batch_size is None else batch_size, "batch_size",
                                  "fit")
        epochs = positive_int(epochs, "epochs", "fit")
        if isinstance(initial_epoch, bool) or not isinstance(initial_epoch, (int, np.integer)) \
                or initial_epoch < 0:
            raise ConfigError(f"fit: expected a non-negative int for initial_epoch. Received: "
                              f"initial_epoch={initial_epoch!r}")
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
            val = self._adapt("fit (validation_data)", *_unpack_validation(validation_data),
                              targets=True)
        elif validation_split:
            data, val = data.split(validation_split)
        if class_weight is not None:
            data.apply_class_weight(class_weight)
        self._preflight(data, batch_size)
        if val is not None:
            self._preflight(val, validation_batch_size or batch_size)

        verbose = resolve_verbose(verbose)
        steps = steps_per_epoch or data.num_batches(batch_size)
        callbacks = _callback_list(callbacks, self, verbose, epochs=epochs, steps=steps,
                                   add_history=True)
        self.stop_training = False
        batches = data.batch_stream(batch_size, shuffle) if steps_per_epoch else None
        training_logs = {}
        callbacks.on_train_begin()
        with _keep_mode(self):
            for epoch in range(initial_epoch, epochs):
                self.reset_metrics()
                callbacks.on_epoch_begin(epoch)
                self.train()
                epoch_batches = (data.epoch_batches(batch_size, shuffle) if batches is None
                                 else (next(batches) for _ in range(steps_per_epoch)))
                for step, batch in enumerate(epoch_batches):
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

    # ---- evaluate / predict ---------------------------------------------------------------------
    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None,
                 steps=None, callbacks=None, return_dict=False):
        """The loss and metrics on (x, y), in evaluation mode and without gradients.

        Returns the loss alone when no metrics were compiled, else ``[loss, metric...]`` in
        ``metrics_names`` order, or a dict with *return_dict*.

        Example: ``loss, acc = model.evaluate(x_test, y_test, verbose=0)``.
        """
        self._require_compiled("evaluate")
        batch_size = positive_int(32 if batch_size is None else batch_size, "batch_size",
                                  "evaluate")
        data = self._adapt("evaluate", x, y, sample_weight, targets=True)
        self._preflight(data, batch_size)
        verbose = resolve_verbose(verbose)
        num = data.num_batches(batch_size)
        callbacks = _callback_list(callbacks, self, verbose, epochs=1,
                                   steps=min(num, steps or num))
        logs = self._run_evaluation(data, batch_size, callbacks, steps)
        return logs if return_dict else self._in_order(logs)

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """The model's outputs on *x* as NumPy arrays (a list of them for several outputs).

        Runs in evaluation mode (dropout off), without gradients, *batch_size* rows at a time.

        Example: ``probs = model.predict(x_test, verbose=0)[:, 0]``.
        """
        batch_size = positive_int(32 if batch_size is None else batch_size, "batch_size",
                                  "predict")
        data = self._adapt("predict", x)
        self._preflight(data, batch_size)
        verbose = resolve_verbose(verbose)
        num = data.num_batches(batch_size)
        num = min(num, steps or num)
        callbacks = _callback_list(callbacks, self, verbose, epochs=1, steps=num)
        callbacks.on_predict_begin()
        parts = []
        with _keep_mode(self):
            for step, (xb, _, _) in enumerate(data.epoch_batches(batch_size, False)):
                if step == num:
                    break
                callbacks.on_predict_batch_begin(step)
                parts.append([t.data for t in _as_list(predict(self, xb))])
                callbacks.on_predict_batch_end(step, {"outputs": parts[-1]})
        callbacks.on_predict_end()
        result = [np.concatenate(chunks) for chunks in zip(*parts)]
        return result[0] if len(result) == 1 else result

    # ---- one batch ----------------------------------------------------------------------------
    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        """One optimisation step on one batch (in training mode); returns its loss and metrics.

        The metrics are reset first, and the values are those of the batch before the step, as
        ``evaluate`` orders them (or a dict with *return_dict*).

        Example: ``loss, acc = model.train_on_batch(xb, yb)``.
        """
        self._require_compiled("train_on_batch")
        if class_weight is not None and sample_weight is not None:
            raise ConfigError("train_on_batch: you cannot use class_weight and sample_weight at "
                              "the same time")
        data = self._adapt("train_on_batch", x, y, sample_weight, targets=True)
        if class_weight is not None:
            data.apply_class_weight(class_weight)
        self._preflight(data, data.n)
        self.reset_metrics()
        with _keep_mode(self):
            self.train()
            logs = self._train_batch(*data.batch(slice(None)))
        return logs if return_dict else self._in_order(logs)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        """The loss and metrics on one batch, without a step (metrics reset first).

        Example: ``loss, acc = model.test_on_batch(xb, yb)``.
        """
        self._require_compiled("test_on_batch")
        data = self._adapt("test_on_batch", x, y, sample_weight, targets=True)
        self.reset_metrics()
        with _keep_mode(self):
            logs = self._test_batch(*data.batch(slice(None)))
        return logs if return_dict else self._in_order(logs)

    def predict_on_batch(self, x):
        """The model's outputs on one batch as NumPy arrays.

        Example: ``model.predict_on_batch(x[:8])``.
        """
        x = self._adapt("predict_on_batch", x).batch(slice(None))[0]
        with _keep_mode(self):
            outputs = [t.data for t in _as_list(predict(self, x))]
        return outputs[0] if len(outputs) == 1 else outputs

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
        data = _ArrayData(where, x, y, sample_weight, getattr(self, "input_names", None),
                          self._output_names())
        if targets and data.ys is None and self._compiled_loss.active:
            raise ConfigError(f"{where}: y is required (the targets the loss compares the "
                              f"model's outputs with)")
        return data

    def _preflight(self, data, batch_size):
        """Check *data* against the model before anything changes (weights, optimizer, metrics,
        RNG): a forward pass on the first row, in evaluation mode and without a graph, shows
        inputs of the wrong shape; each compiled loss, on every target row against that output
        repeated, shows targets of the wrong shape and labels outside the class range. Skipped
        for a model not built yet (its first batch builds it; a bad shape fails there, before
        any step). The targets are checked *batch_size* rows at a time, as training reads them."""
        if getattr(self, "built", True) is False:
            return
        self._check_input_shapes(data)
        with _keep_mode(self), no_grad():
            self.eval()
            outputs = [t.data for t in _as_list(self(data.batch(slice(0, 1))[0]))]
            if data.ys is None or not self.compiled:
                return
            if len(outputs) != len(self._compiled_loss.fns):
                raise ShapeError(f"the model returned {len(outputs)} outputs, but "
                                 f"{len(self._compiled_loss.fns)} were expected (its "
                                 f"output_names)")
            for fn, out, y in zip(self._compiled_loss.fns, outputs, data.ys):
                if fn is None:
                    continue
                # the first batch as training reads it (so a shape error shows the batch's
                # shape), the rest in large chunks (a label out of range shows wherever it is)
                bounds = [0] + list(range(min(batch_size, data.n), data.n,
                                          max(batch_size, 8192))) + [data.n]
                for start, stop in zip(bounds[:-1], bounds[1:]):
                    rows = y[start:stop]
                    try:
                        fn(rows, Tensor(np.broadcast_to(out, (len(rows),) + out.shape[1:])), None)
                    except (ChainruleError, ValueError, TypeError, IndexError) as e:
                        raise _with_context(e, f"{data.where}: y[{start}:{stop}] (rows {start} to "
                                               f"{stop - 1}) against the model's output") from None

    def _check_input_shapes(self, data):
        """Each input array against its ``Input``'s shape (a functional or Sequential model)."""
        inputs, names = getattr(self, "inputs", None) or [], getattr(self, "input_names", None)
        if not inputs or not names or len(inputs) != len(data.xs):
            return
        for t, name in zip(inputs, names):
            if data.keys is None:
                k = names.index(name)
                what = "x" if len(data.xs) == 1 else f"x[{k}]"
            elif name in data.keys:
                k = data.keys.index(name)
                what = f"x[{name!r}]"
            else:
                continue
            arr, want = data.xs[k], tuple(t.shape)
            if arr.ndim != len(want) or any(d is not None and d != s
                                            for d, s in zip(want[1:], arr.shape[1:])):
                raise ShapeError(f"{data.where}: input '{name}' expects shape {shape_repr(want)}, "
                                 f"received {what} of shape {arr.shape}")

    def _objective(self, output, ys, sample_weights=None):
        """The training loss: the compiled loss(es) plus the regularisation penalties."""
        outputs = _as_list(output)
        total = self._compiled_loss(ys, outputs, sample_weights)
        for penalty in getattr(self, "losses", None) or ():
            total = penalty if total is None else total + penalty
        if total is None:
            raise ConfigError("No loss to compute. Provide a `loss` argument in `compile()`.")
        return total

    def _train_batch(self, x, ys, sample_weights):
        loss, output = train_step(self, self._objective, self.optimizer, x, ys,
                                  sample_weight=sample_weights, return_output=True)
        return self._record(loss, output, ys, sample_weights)

    def _test_batch(self, x, ys, sample_weights):
        loss, output = evaluate_loss(self, self._objective, x, ys, sample_weight=sample_weights,
                                     return_output=True)
        return self._record(loss, output, ys, sample_weights)

    def _record(self, loss, output, ys, sample_weights):
        outputs = [t.data for t in _as_list(output)]
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
        with _keep_mode(self):
            for step, batch in enumerate(data.epoch_batches(batch_size, False)):
                if steps is not None and step >= steps:
                    break
                callbacks.on_test_batch_begin(step)
                logs = self._test_batch(*batch)
                callbacks.on_test_batch_end(step, logs)
        callbacks.on_test_end(logs)
        return logs


def _with_context(error, where):
    """*error* again, its message prefixed with *where*; the same type when it can be rebuilt."""
    try:
        return type(error)(f"{where}: {error}")
    except Exception:   # an exception class whose constructor wants other arguments
        return error


@contextlib.contextmanager
def _keep_mode(model):
    """Restore the model's training/evaluation mode afterwards (evaluation switches it)."""
    was_training = model.training
    try:
        yield
    finally:
        model.train(was_training)


def _callback_list(callbacks, model, verbose, add_history=False, **params):
    if isinstance(callbacks, callbacks_module.CallbackList):
        return callbacks
    return callbacks_module.CallbackList(callbacks, add_history=add_history,
                                         add_progbar=verbose != 0, model=model, verbose=verbose,
                                         **params)


def _as_list(output):
    return list(output) if isinstance(output, (list, tuple)) else [output]


def _unpack_validation(validation_data):
    if isinstance(validation_data, (tuple, list)) and len(validation_data) in (2, 3):
        return tuple(validation_data)
    raise ConfigError("fit: validation_data must be a tuple (x_val, y_val) or (x_val, y_val, "
                      f"sample_weight_val), got {type(validation_data).__name__}"
                      + (f" of length {len(validation_data)}"
                         if isinstance(validation_data, (tuple, list)) else ""))


# ---- data ---------------------------------------------------------------------------------------
def _array(value, where, what, as_float):
    """*value* (array-like or tensor) as a NumPy array with at least one axis, checked."""
    arr = value.data if isinstance(value, Tensor) else np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise DTypeError(f"{where}: {what} must hold numbers, got an array of dtype {arr.dtype}")
    if arr.ndim == 0:
        raise ShapeError(f"{where}: {what} must have one row per sample, got a scalar")
    if as_float:
        arr = arr.astype(dtypes.get_default_dtype(), copy=False)
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        bad = np.argwhere(~np.isfinite(arr))[0]
        kind = "NaN" if np.isnan(arr[tuple(bad)]) else "an infinite value"
        raise DataError(f"{where}: {what} contains {kind} (first at row {bad[0]}"
                        + (f", column {', '.join(map(str, bad[1:]))}" if len(bad) > 1 else "")
                        + "); fill in or drop missing values before training (for tables, "
                          "cr.preprocessing.TabularPreprocessor imputes them)")
    return arr


def _per_output(value, names, where, what):
    """Data (y or sample weights) split per output: from a list in output order, a dict by
    output name, or, for one output, one array."""
    if isinstance(value, dict):
        parts = _spec_per_output(value, names, where, what)
        missing = [k for k in names if k not in value]
        if missing:
            raise ConfigError(f"{where}: {what} has no entry for output {missing[0]!r}")
        return parts
    if len(names) == 1:
        return list(value) if _is_list_of_arrays(value, 1) else [value]
    if not isinstance(value, (list, tuple)) or len(value) != len(names):
        raise ConfigError(f"{where}: the model has {len(names)} outputs {names}, so {what} must "
                          f"be a list of {len(names)} arrays or a dict keyed by output name; got "
                          f"{type(value).__name__}" + (f" of length {len(value)}" if
                                                       isinstance(value, (list, tuple)) else ""))
    return list(value)


def _spec_per_output(spec, names, where, what):
    """A compile setting per output: a list in output order, a dict by output name (missing
    outputs get None), or one setting for every output."""
    if isinstance(spec, dict):
        unknown = [k for k in spec if k not in names]
        if unknown:
            raise ConfigError(f"{where}: {what} has key {unknown[0]!r}, which is not an output "
                              f"name; the outputs are {names}")
        return [spec.get(n) for n in names]
    if isinstance(spec, (list, tuple)):
        if len(spec) != len(names):
            raise ConfigError(f"{where}: {what} has {len(spec)} entries but the model has "
                              f"{len(names)} output{'s' if len(names) > 1 else ''} {names}; give "
                              f"one per output (a list in output order or a dict by name)")
        return list(spec)
    return [spec] * len(names)


def _is_list_of_arrays(value, expected):
    """Whether *value* is a list with one array per input (or output) rather than one array's rows.

    A list is per input when the model has several inputs, or when it holds a single array or
    tensor (``[x]``); a list of numbers or of rows is one array.
    """
    return isinstance(value, (list, tuple)) and (
        expected > 1 or (len(value) == 1 and isinstance(value[0], (np.ndarray, Tensor))))


class _ArrayData:
    """Inputs, targets and sample weights as NumPy arrays with one row per sample, in batches."""

    def __init__(self, where, x, y, sample_weight, input_names, output_names):
        if x is None:
            raise ConfigError(f"{where}: x is required (the input data)")
        self.where = where
        if isinstance(x, dict):
            self.keys = list(x)
            xs = [x[k] for k in self.keys]
        elif _is_list_of_arrays(x, len(input_names or ())):
            self.keys, xs = None, list(x)
            if input_names and len(xs) != len(input_names):
                raise ShapeError(f"{where}: the model has {len(input_names)} inputs "
                                 f"{input_names}; x is a list of {len(xs)}")
        else:
            self.keys, xs = None, [x]
        self.xs = [_array(v, where, "x" if len(xs) == 1 else f"x[{k!r}]", True)
                   for k, v in zip(self.keys or range(len(xs)), xs)]
        self.ys = None if y is None else [
            _array(v, where, "y" if len(output_names) == 1 else f"y for output {name!r}", True)
            for v, name in zip(_per_output(y, output_names, where, "y"), output_names)]
        self.sws = None
        if sample_weight is not None:
            if len(output_names) > 1 and isinstance(sample_weight, (list, tuple, dict)):
                parts = _per_output(sample_weight, output_names, where, "sample_weight")
            else:
                parts = [sample_weight] * len(output_names)
            self.sws = [_array(w, where, "sample_weight", True) for w in parts]
            if any(w.ndim > 2 or (w.ndim == 2 and w.shape[1] != 1) for w in self.sws):
                raise ShapeError(f"{where}: sample_weight must hold one weight per sample, got "
                                 f"shape {self.sws[0].shape}")
        self.n = self._check_lengths()

    def _check_lengths(self):
        lengths = [len(a) for a in self.xs]
        if len(set(lengths)) > 1:
            raise DataError(f"{self.where}: all inputs must have the same number of samples, "
                            f"got {lengths}")
        n = lengths[0]
        for name, arrays in (("y", self.ys), ("sample_weight", self.sws)):
            for a in arrays or ():
                if len(a) != n:
                    raise DataError(f"{self.where}: x and {name} must have the same number of "
                                    f"samples, but x has {n} and {name} has {len(a)}")
        if n == 0:
            raise DataError(f"{self.where}: the data is empty (0 samples)")
        return n

    # ---- splitting and weighting ---------------------------------------------------------------
    def split(self, fraction):
        """(training, validation): the validation part is the last *fraction* of the rows."""
        split_at = int(math.floor(self.n * (1.0 - fraction)))
        if split_at == 0 or split_at == self.n:
            raise DataError(f"fit: training data contains {self.n} samples, which is not "
                            f"sufficient to split it into a validation and training set as "
                            f"specified by validation_split={fraction}; provide more data or "
                            f"a different validation_split")
        return self._take(slice(0, split_at)), self._take(slice(split_at, None))

    def _take(self, rows):
        part = copy.copy(self)
        part.xs = [a[rows] for a in self.xs]
        part.ys = None if self.ys is None else [a[rows] for a in self.ys]
        part.sws = None if self.sws is None else [a[rows] for a in self.sws]
        part.n = len(part.xs[0])
        return part

    def apply_class_weight(self, class_weight):
        """Set sample weights from *class_weight* ``{class: weight}`` and the labels (Keras 3)."""
        if not isinstance(class_weight, dict):
            raise ConfigError(f"fit: class_weight must be a dict {{class: weight}}, got "
                              f"{type(class_weight).__name__}")
        if self.ys is None or len(self.ys) != 1:
            raise ConfigError("fit: class_weight is only supported for models with a single "
                              "output (use sample_weight per output instead)")
        weights = {}
        for k, w in class_weight.items():
            if isinstance(k, bool) or not (isinstance(k, (int, np.integer)) or
                                           isinstance(k, float) and k.is_integer()):
                raise ConfigError(f"fit: class_weight keys must be integer class indices, got "
                                  f"{k!r}")
            if isinstance(w, bool) or not isinstance(w, (int, float, np.number)) or w < 0:
                raise ConfigError(f"fit: class_weight values must be non-negative numbers, got "
                                  f"{w!r} for class {k}")
            weights[int(k)] = float(w)
        y = self.ys[0]
        if y.ndim > 1:
            y = y.argmax(axis=-1) if y.shape[-1] != 1 else y[..., 0]
        labels = np.round(y).astype(np.int64).reshape(len(y), -1)[:, 0]
        sw = np.ones(len(labels), dtype=dtypes.get_default_dtype())
        for c, w in weights.items():
            sw[labels == c] = w
        self.sws = [sw]

    # ---- batches ----------------------------------------------------------------------------
    def num_batches(self, batch_size):
        return -(-self.n // batch_size)

    def epoch_batches(self, batch_size, shuffle):
        """The batches of one pass: (x structure of tensors, y arrays or None, weights or None)."""
        starts = range(0, self.n, batch_size)
        if shuffle is True:
            order = default_generator.rng.permutation(self.n)
            return (self.batch(order[i:i + batch_size]) for i in starts)
        if shuffle == "batch":
            starts = [starts[i] for i in default_generator.rng.permutation(len(starts))]
        return (self.batch(slice(i, i + batch_size)) for i in starts)

    def batch_stream(self, batch_size, shuffle):
        """Batches without end, a fresh pass (reshuffled) each time the data is used up."""
        while True:
            yield from self.epoch_batches(batch_size, shuffle)

    def batch(self, rows):
        xs = [Tensor(a[rows]) for a in self.xs]
        if self.keys is not None:
            x = dict(zip(self.keys, xs))
        else:
            x = xs if len(xs) > 1 else xs[0]
        ys = None if self.ys is None else [a[rows] for a in self.ys]
        sws = None if self.sws is None else [a[rows] for a in self.sws]
        return x, ys, sws


# ---- compiled loss and metrics -------------------------------------------------------------------
class _ModuleLoss(losses_module.Loss):
    """A ``cr.nn`` loss module (PyTorch's argument order, a scalar) used as a Keras loss."""

    def __init__(self, module):
        super().__init__(name=type(module).__name__)
        self.module = module

    def __call__(self, y_true, y_pred, sample_weight=None):
        if sample_weight is not None:
            raise ConfigError(f"{self.name} is a cr.nn loss, which cannot weight samples; use a "
                              f"Keras loss (e.g. 'binary_crossentropy') with sample_weight or "
                              f"class_weight")
        target = np.asarray(y_true)
        if target.size == y_pred.numel():       # same values as the output: reshape to match
            target = Tensor(target.reshape(y_pred.shape).astype(y_pred.data.dtype))
        else:                                   # one class index per sample
            target = Tensor(target.reshape(-1).astype(np.int64))
        return self.module(y_pred, target)


def _resolve_loss(identifier):
    loss = losses_module.get(identifier)
    if loss is None or isinstance(loss, losses_module.Loss):
        return loss
    if isinstance(loss, Module):
        return _ModuleLoss(loss)
    return losses_module.LossFunctionWrapper(loss)


class _CompiledLoss:
    """The losses of all outputs: Σ_k loss_weight_k · loss_k(y_k, ŷ_k, w_k), as Keras's CompileLoss.

    With several outputs each one's unweighted loss is also tracked as ``{output}_loss``.
    """

    def __init__(self, loss, loss_weights, names):
        self.spec = loss
        self.fns = [_resolve_loss(s) for s in _spec_per_output(loss, names, "compile", "loss")]
        self.weights = _spec_per_output(loss_weights, names, "compile", "loss_weights")
        for w in self.weights:
            if w is not None and (isinstance(w, bool) or not isinstance(w, (int, float))):
                raise ConfigError(f"compile: loss_weights must be numbers, got {w!r}")
        self.active = any(fn is not None for fn in self.fns)
        self.trackers = [metrics_module.Mean(name=f"{n}_loss") for n, fn in zip(names, self.fns)
                         if fn is not None] if len(names) > 1 else []

    def __call__(self, ys, outputs, sample_weights):
        if len(outputs) != len(self.fns):
            raise ShapeError(f"the model returned {len(outputs)} outputs, but {len(self.fns)} "
                             f"were expected (its output_names)")
        if not self.active:
            return None
        total, trackers = None, iter(self.trackers)
        for k, (fn, weight, y_pred) in enumerate(zip(self.fns, self.weights, outputs)):
            if fn is None:
                continue
            value = fn(ys[k], y_pred, None if sample_weights is None else sample_weights[k])
            if self.trackers:
                next(trackers).update_state(value.item(), sample_weight=len(ys[k]))
            if weight is not None:
                value = value * weight
            total = value if total is None else total + value
        return total


class _CompiledMetrics:
    """The compiled metrics of all outputs, built at the first batch (when shapes are known).

    Log keys are the metric names, prefixed by the output name when there are several outputs;
    a weighted metric whose name is taken becomes ``weighted_<name>``, as Keras.
    """

    def __init__(self, metrics, weighted_metrics, names):
        self.names = names
        self.specs = [self._specs_per_output(metrics, "metrics"),
                      self._specs_per_output(weighted_metrics, "weighted_metrics")]
        for per_output in self.specs:   # an unknown name fails now, not after the first step
            for specs in per_output:
                for spec in specs:
                    if not (isinstance(spec, str) and spec.lower() in ("accuracy", "acc")):
                        metrics_module.get(spec)
        self._entries = None     # [(key, metric, weighted, output index)]

    def _specs_per_output(self, spec, what):
        """*spec* as one list of metric identifiers per output (Keras 3's rules)."""
        if spec is not None and not isinstance(spec, (list, tuple, dict)):
            raise ConfigError(f"compile: {what} must be a list (or a dict by output name), got "
                              f"{type(spec).__name__}: {spec!r}")
        if len(self.names) == 1 and not isinstance(spec, dict):
            parts = [spec]
        elif isinstance(spec, (list, tuple)) and len(spec) != len(self.names):
            raise ConfigError(f"compile: the model has {len(self.names)} outputs {self.names}; "
                              f"give {what} as a list of {len(self.names)} lists (one per "
                              f"output) or a dict keyed by output name, got {spec!r}")
        else:
            parts = _spec_per_output(spec, self.names, "compile", what)
        return [[] if p is None else list(p) if isinstance(p, (list, tuple)) else [p]
                for p in parts]

    def build(self, ys, y_preds):
        entries, taken = [], set()
        for weighted, per_output in enumerate(self.specs):
            for k, specs in enumerate(per_output):
                for spec in specs:
                    m = metrics_module.for_output(spec, ys[k], y_preds[k])
                    prefix = f"{self.names[k]}_" if len(self.names) > 1 else ""
                    key = prefix + m.name
                    if key in taken and weighted:
                        key = f"{prefix}weighted_{m.name}"
                    base, i = key, 1
                    while key in taken:
                        key, i = f"{base}_{i}", i + 1
                    taken.add(key)
                    entries.append((key, m, bool(weighted), k))
        self._entries = entries

    @property
    def metrics(self):
        return [m for _, m, _, _ in self._entries or ()]

    def items(self):
        return [(key, m) for key, m, _, _ in self._entries or ()]

    def update_state(self, ys, y_preds, sample_weights):
        if self._entries is None:
            self.build(ys, y_preds)
        for _, m, weighted, k in self._entries:
            w = sample_weights[k] if weighted and sample_weights is not None else None
            m.update_state(ys[k], y_preds[k], sample_weight=w)
