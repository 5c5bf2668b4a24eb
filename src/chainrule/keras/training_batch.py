"""The one-batch API of the Keras trainer: ``train_on_batch``, ``test_on_batch``, ``predict_on_batch``.

Each runs the trainer's own step on the data it is given, as one batch, with Keras 3's return
values (the loss and metrics in ``metrics_names`` order, or a dict with ``return_dict``).
``Trainer`` inherits these methods.

Example::

    >>> x, y = np.random.rand(64, 4), np.random.randint(0, 2, (64, 1))
    >>> model = cr.Sequential([cr.layers.Input((4,)), cr.layers.Dense(1, activation="sigmoid")])
    >>> model.compile("adam", "binary_crossentropy", ["accuracy"])
    >>> loss, acc = model.train_on_batch(x[:32], y[:32])
    >>> model.predict_on_batch(x[:8]).shape
    (8, 1)
"""
import contextlib

from chainrule.errors import ConfigError
from chainrule.training.loop import predict


class BatchMethods:
    """Mixin of :class:`~chainrule.keras.training.Trainer`: one optimisation or evaluation step
    on one batch, with the trainer's data adapter, step and metrics."""

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        """One optimisation step on one batch (in training mode); returns its loss and metrics.

        The metrics are reset first, and the values are those of the batch before the step, as
        ``evaluate`` orders them (or a dict with *return_dict*).

        Example: ``loss, acc = model.train_on_batch(xb, yb)``.
        """
        self._before_data(x)
        self._require_compiled("train_on_batch")
        if class_weight is not None and sample_weight is not None:
            raise ConfigError("train_on_batch: you cannot use class_weight and sample_weight at "
                              "the same time")
        data = self._adapt("train_on_batch", x, y, sample_weight, targets=True)
        if class_weight is not None:
            data.apply_class_weight(class_weight)
        self._preflight(data, data.n)
        self.reset_metrics()
        with keep_mode(self):
            self.train()
            logs = self._train_batch(*data.batch(slice(None)))
        return logs if return_dict else self._in_order(logs)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        """The loss and metrics on one batch, without a step (metrics reset first).

        Example: ``loss, acc = model.test_on_batch(xb, yb)``.
        """
        self._before_data(x)
        self._require_compiled("test_on_batch")
        data = self._adapt("test_on_batch", x, y, sample_weight, targets=True)
        self.reset_metrics()
        with keep_mode(self):
            logs = self._test_batch(*data.batch(slice(None)))
        return logs if return_dict else self._in_order(logs)

    def predict_on_batch(self, x):
        """The model's outputs on one batch as NumPy arrays.

        Example: ``model.predict_on_batch(x[:8])``.
        """
        self._before_data(x)
        x = self._adapt("predict_on_batch", x).batch(slice(None))[0]
        with keep_mode(self):
            outputs = [t._data for t in as_list(predict(self, x))]
        return outputs[0] if len(outputs) == 1 else outputs


@contextlib.contextmanager
def keep_mode(model):
    """Restore the model's training/evaluation mode afterwards (evaluation switches it)."""
    was_training = model.training
    try:
        yield
    finally:
        model.train(was_training)


def as_list(output):
    """A model's output as a list (one tensor becomes a list of one)."""
    return list(output) if isinstance(output, (list, tuple)) else [output]
