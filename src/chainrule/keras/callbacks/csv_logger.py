"""``CSVLogger``: each epoch's logs as one row of a CSV file.

Example::

    >>> logger = CSVLogger("training.csv", append=True)
"""
import collections
import csv
import os

import numpy as np

from chainrule.keras.callbacks.callback import Callback


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
