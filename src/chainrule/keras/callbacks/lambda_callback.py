"""Small callbacks: ``TerminateOnNaN`` stops on a NaN loss; ``LambdaCallback`` wraps functions.

Example::

    >>> stop = TerminateOnNaN()
    >>> show = LambdaCallback(on_epoch_end=lambda epoch, logs: print(epoch, logs["loss"]))
"""
import math

from chainrule.errors import ArgumentTypeError, NumericalError
from chainrule.keras.callbacks.callback import Callback


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
                raise NumericalError(f"NaN or Inf loss encountered at batch {batch}. Loss value: "
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
                raise ArgumentTypeError(f"LambdaCallback: {name!r} is not a callback hook")
            if fn is not None:
                setattr(self, name, fn)
