"""Compile utilities: the compiled loss and the compiled metrics of a model's outputs.

``compile(loss=..., metrics=...)`` accepts one setting for every output, a list in output order or
a dict by output name (:func:`~chainrule.keras.data_adapter.spec_per_output`); these classes hold
the resolved objects:

* :class:`CompiledLoss`: Σₖ loss_weightₖ · lossₖ(yₖ, ŷₖ, wₖ) over the outputs, as Keras's
  ``CompileLoss``; with several outputs each one's loss is also tracked as ``{output}_loss``.
* :class:`CompiledMetrics`: the metrics of every output, built at the first batch (when the
  shapes tell which accuracy ``"accuracy"`` means), keyed ``{output}_{metric}`` when there are
  several outputs.

Example::

    >>> loss = CompiledLoss("binary_crossentropy", None, ["output"])
    >>> float(loss([np.ones((2, 1))], [cr.tensor([[0.9], [0.8]])], None).item()) > 0
    True
"""
import numpy as np

from chainrule.errors import ChainruleError, ConfigError, ShapeError
from chainrule.keras import losses as losses_module
from chainrule.keras import metrics as metrics_module
from chainrule.keras.data_adapter import spec_per_output
from chainrule.nn import Module
from chainrule.tensor import Tensor


class ModuleLoss(losses_module.Loss):
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
            target = Tensor(target.reshape(y_pred.shape).astype(y_pred._data.dtype))
        else:                                   # one class index per sample
            target = Tensor(target.reshape(-1).astype(np.int64))
        return self.module(y_pred, target)


def resolve_loss(identifier):
    loss = losses_module.get(identifier)
    if loss is None or isinstance(loss, losses_module.Loss):
        return loss
    if isinstance(loss, Module):
        return ModuleLoss(loss)
    return losses_module.LossFunctionWrapper(loss)


class CompiledLoss:
    """The losses of all outputs: Σ_k loss_weight_k · loss_k(y_k, ŷ_k, w_k), as Keras's CompileLoss.

    With several outputs each one's unweighted loss is also tracked as ``{output}_loss``.
    """

    def __init__(self, loss, loss_weights, names):
        self.spec = loss
        if is_serialized(loss):        # one loss saved as {"class_name", "config"}
            loss = losses_module.get(loss)
        self.fns = [resolve_loss(s) for s in spec_per_output(loss, names, "compile", "loss")]
        self.weights = spec_per_output(loss_weights, names, "compile", "loss_weights")
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

    def check_targets(self, data, outputs, batch_size):
        """Each loss on every target row of *data* against the model's output for one row
        (*outputs*, repeated): shows targets of the wrong shape and labels outside the class
        range before training starts. The first batch is checked as training reads it (so a
        shape error shows the batch's shape), the rest in large chunks."""
        if len(outputs) != len(self.fns):
            raise ShapeError(f"the model returned {len(outputs)} outputs, but {len(self.fns)} "
                             f"were expected (its output_names)")
        for fn, out, y in zip(self.fns, outputs, data.ys):
            if fn is None:
                continue
            bounds = [0] + list(range(min(batch_size, data.n), data.n,
                                      max(batch_size, 8192))) + [data.n]
            for start, stop in zip(bounds[:-1], bounds[1:]):
                rows = y[start:stop]
                try:
                    fn(rows, Tensor(np.broadcast_to(out, (len(rows),) + out.shape[1:])), None)
                except (ChainruleError, ValueError, TypeError, IndexError) as e:
                    raise _with_context(e, f"{data.where}: y[{start}:{stop}] (rows {start} to "
                                           f"{stop - 1}) against the model's output") from None


def is_serialized(spec):
    """Whether *spec* is one saved object, ``{"class_name": ..., "config": ...}``."""
    return isinstance(spec, dict) and "class_name" in spec and set(spec) <= {"class_name",
                                                                              "config"}


def _with_context(error, where):
    """*error* again, its message prefixed with *where*; the same type when it can be rebuilt."""
    try:
        return type(error)(f"{where}: {error}")
    except Exception:   # an exception class whose constructor wants other arguments
        return error


class CompiledMetrics:
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
            parts = spec_per_output(spec, self.names, "compile", what)
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

    def ensure_built(self, ys, y_preds):
        """Make the metric objects now, from one row of targets and outputs, if not made yet."""
        if self._entries is None:
            self.build(ys, y_preds)

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
