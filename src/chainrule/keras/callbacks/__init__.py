"""Keras callbacks: hooks that ``fit``, ``evaluate`` and ``predict`` call as training goes.

A callback subclasses :class:`Callback` and overrides the hooks it needs, with Keras's names
(``on_epoch_end(epoch, logs)``, ``on_train_batch_end(batch, logs)`` ...); ``self.model`` is the
model being trained. Keras 3's callbacks, with its arguments and defaults:

* :class:`History` (``fit`` returns it) and :class:`ProgbarLogger` (the progress bar);
* :class:`EarlyStopping`, :class:`ModelCheckpoint` (watch a logged quantity);
* :class:`LearningRateScheduler`, :class:`ReduceLROnPlateau` (set the learning rate);
* :class:`CSVLogger`, :class:`TerminateOnNaN`, :class:`LambdaCallback`;
* :class:`BackupAndRestore` (an interrupted ``fit`` resumes where it stopped, bit for bit).

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
from chainrule.keras.callbacks.backup_and_restore import BackupAndRestore
from chainrule.keras.callbacks.callback import Callback, CallbackList, History, ProgbarLogger
from chainrule.keras.callbacks.csv_logger import CSVLogger
from chainrule.keras.callbacks.lambda_callback import LambdaCallback, TerminateOnNaN
from chainrule.keras.callbacks.learning_rate import LearningRateScheduler, ReduceLROnPlateau
from chainrule.keras.callbacks.monitor import (EarlyStopping, ModelCheckpoint, MonitorCallback,
                                               snapshot)
from chainrule.keras.registry import CALLBACKS

for _cls in (BackupAndRestore, CSVLogger, EarlyStopping, History, LambdaCallback,
             LearningRateScheduler, ModelCheckpoint, ProgbarLogger, ReduceLROnPlateau,
             TerminateOnNaN):
    CALLBACKS.add(_cls)

__all__ = ["BackupAndRestore", "CSVLogger", "Callback", "CallbackList", "EarlyStopping",
           "History", "LambdaCallback", "LearningRateScheduler", "ModelCheckpoint",
           "MonitorCallback", "ProgbarLogger", "ReduceLROnPlateau", "TerminateOnNaN", "snapshot"]
