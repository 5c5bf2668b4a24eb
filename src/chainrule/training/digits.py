"""The digits job's library part: a small convolutional network for the 8×8 handwritten digits,
its training loop, scoring and saving.

``DigitsNet``: conv 3×3 (1 → 16) → ReLU → max-pool 2 → conv 3×3 (16 → 32) → ReLU → max-pool 2
→ linear (128 → 10), the lectures' convnet in PyTorch's style.  ``train_digits`` runs the whole
job: a seeded stratified train/validation/test split of ``load_digits``, Adam on cross-entropy
(label smoothing 0.1, a cosine-decayed learning rate), and the test accuracy and confusion
matrix.  Two runs with the same seed give identical numbers.

Example::

    >>> result = train_digits(epochs=2, seed=0)
    >>> result["parameters"], result["test_accuracy"] > 0.5
    (6090, True)
"""
import contextlib
import math
import time

import numpy as np

from chainrule.datasets.digits import load_digits
from chainrule.errors import CheckpointError, ConfigError, DataError
from chainrule.grad_mode import no_grad
from chainrule.nn import functional as F
from chainrule.nn.modules.activation import ReLU
from chainrule.nn.modules.container import Sequential
from chainrule.nn.modules.dropout import Dropout
from chainrule.nn.modules.conv import Conv2d
from chainrule.nn.modules.linear import Flatten, Linear
from chainrule.nn.modules.module import Module
from chainrule.nn.modules.pooling import MaxPool2d
from chainrule.optim import Adam
from chainrule.preprocessing import train_test_split
from chainrule.random import Generator, manual_seed
from chainrule.serialization import save
from chainrule.tensor import Tensor
from chainrule.training import model_file
from chainrule.training.loop import cosine_lr, fit_epochs

MODEL_FORMAT = "chainrule.digits-model"
MODEL_VERSION = 1
PIXEL_MAX = 16.0
"""The largest pixel value: each 8×8 pixel counts the "on" bits of a 4×4 block."""


class DigitsNet(Module):
    """conv(1 → c₁, 3×3, same) → ReLU → max-pool 2 → conv(c₁ → c₂, 3×3, same) → ReLU →
    max-pool 2 → flatten → linear(4·c₂ → 10): logits of the ten digits for (N, 1, 8, 8) images.

    >>> DigitsNet()(cr.zeros(5, 1, 8, 8)).shape
    (5, 10)
    """

    def __init__(self, channels=(16, 32), dropout=0.0):
        super().__init__()
        c1, c2 = _channels(channels)
        self.config = {"channels": [c1, c2], "dropout": float(dropout)}
        self.features = Sequential(Conv2d(1, c1, 3, padding=1), ReLU(), MaxPool2d(2),
                                   Conv2d(c1, c2, 3, padding=1), ReLU(), MaxPool2d(2))
        self.classifier = Sequential(Flatten(), Dropout(dropout), Linear(4 * c2, 10))

    def forward(self, x):
        return self.classifier(self.features(x))


def _channels(channels):
    try:
        c1, c2 = channels
    except (TypeError, ValueError):
        raise ConfigError(f"DigitsNet: channels must be two positive ints, got {channels!r}") \
            from None
    for c in (c1, c2):
        if isinstance(c, bool) or not isinstance(c, (int, np.integer)) or not 0 < c <= 4096:
            raise ConfigError(f"DigitsNet: channels must be two positive ints (at most 4096), "
                              f"got {channels!r}")
    return int(c1), int(c2)


def count_parameters(model):
    """The number of trainable numbers (weights and biases) of *model*."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def images_tensor(pixels):
    """Pixel rows (n, 64) or images (n, 8, 8) of values 0..16 as the network's float32 input
    (n, 1, 8, 8), scaled to 0..1."""
    a = np.asarray(pixels, dtype=np.float32)
    if a.ndim == 2 and a.shape[1] == 64:
        a = a.reshape(-1, 8, 8)
    if a.ndim != 3 or a.shape[1:] != (8, 8):
        raise DataError(f"digits: expected pixel rows (n, 64) or images (n, 8, 8), got shape "
                        f"{a.shape}")
    return Tensor(a[:, None] / np.float32(PIXEL_MAX))


def split(data, target, seed=0, test_size=0.2, val_size=0.1):
    """Seeded stratified split: (X_train, X_val, X_test, y_train, y_val, y_test), where
    *val_size* is a fraction of the rows left after the test rows are taken."""
    gen = Generator().manual_seed(seed)
    X_rest, X_test, y_rest, y_test = train_test_split(data, target, test_size=test_size,
                                                      stratify=target, generator=gen)
    X_train, X_val, y_train, y_val = train_test_split(X_rest, y_rest, test_size=val_size,
                                                      stratify=y_rest, generator=gen)
    return X_train, X_val, X_test, y_train, y_val, y_test


@no_grad()
def predict_proba(model, x, batch_size=512):
    """Class probabilities (n, 10) of images *x* (a tensor (n, 1, 8, 8)), in evaluation mode."""
    model.eval()
    parts = [F.softmax(model(x[i:i + batch_size]), dim=1).numpy()
             for i in range(0, x.shape[0], batch_size)]
    return np.concatenate(parts) if parts else np.zeros((0, 10), np.float32)


@no_grad()
def _evaluate(model, x, y, label_smoothing=0.0):
    model.eval()
    logits = model(x)
    loss = F.cross_entropy(logits, Tensor(y), label_smoothing=label_smoothing).item()
    return loss, float((logits.numpy().argmax(1) == y).mean())


def shift_images(x, rng, max_shift=1):
    """Each image of *x* (n, 1, 8, 8, NumPy) moved by a random whole number of pixels, at most
    *max_shift* each way (zeros come in at the edge): the augmentation ``fit`` trains with."""
    n, m = x.shape[0], max_shift
    padded = np.pad(x, ((0, 0), (0, 0), (m, m), (m, m)))
    dy, dx = rng.integers(0, 2 * m + 1, n), rng.integers(0, 2 * m + 1, n)
    rows = (dy[:, None] + np.arange(8))[:, :, None]
    cols = (dx[:, None] + np.arange(8))[:, None, :]
    return padded[np.arange(n)[:, None, None], 0, rows, cols][:, None]


def fit(model, x_train, y_train, x_val=None, y_val=None, epochs=40, batch_size=32, lr=1e-2,
        seed=0, shift=0, label_smoothing=0.1, on_epoch=None):
    """Train *model* with Adam on cross-entropy (with *label_smoothing*), mini-batches reshuffled
    every epoch (seeded), each image shifted by up to *shift* pixels (0: none), the learning rate
    decayed by a cosine over the epochs.

    *on_epoch(epoch, logs)* is called with logs {"loss", "accuracy", "val_loss",
    "val_accuracy", "seconds"}.  Returns the history, a dict of lists (one entry per epoch).
    """
    n = x_train.shape[0]
    rng = np.random.default_rng(seed)
    x_host = x_train.numpy()
    y_train = np.asarray(y_train, dtype=np.int64)
    history = {"loss": [], "accuracy": []}
    if x_val is not None:
        history.update(val_loss=[], val_accuracy=[])
    sums = {"loss": 0.0, "correct": 0.0, "batch": 0}
    start = time.perf_counter()

    def batch_loss(idx):
        xb, yb = x_host[idx], y_train[idx]
        if shift:
            xb = shift_images(xb, rng, shift)
        logits = model(Tensor(xb))
        sums["correct"] += float((logits.detach().numpy().argmax(1) == yb).sum())
        return F.cross_entropy(logits, Tensor(yb), label_smoothing=label_smoothing)

    def on_step(value, idx):
        sums["batch"] += 1
        if not math.isfinite(value):
            raise ConfigError(f"training diverged: the loss became {value} at epoch "
                              f"{len(history['loss']) + 1}, batch {sums['batch']}; nothing was "
                              f"saved; try a smaller learning rate than {lr:g}")
        sums["loss"] += value * len(idx)

    def end_epoch(epoch):
        history["loss"].append(sums["loss"] / n)
        history["accuracy"].append(sums["correct"] / n)
        sums.update(loss=0.0, correct=0.0, batch=0)
        if x_val is not None:
            vl, va = _evaluate(model, x_val, np.asarray(y_val, dtype=np.int64), label_smoothing)
            history["val_loss"].append(vl)
            history["val_accuracy"].append(va)
        if on_epoch is not None:
            logs = {k: v[-1] for k, v in history.items()}
            on_epoch(epoch, dict(logs, seconds=time.perf_counter() - start))
        return False

    fit_epochs(model, Adam(model.parameters(), lr=lr), n, epochs, batch_size, rng,
               lambda epoch, step: cosine_lr(lr, epoch, epochs), batch_loss, end_epoch, on_step)
    return history


def one_blas_thread():
    """A context in which NumPy's BLAS uses one thread, when threadpoolctl is installed (else
    nothing changes).  The digits network's matrices are small: one thread computes them faster
    than several, which mostly wait for each other (by far so on a busy machine)."""
    try:
        from threadpoolctl import threadpool_limits     # optional: not a dependency
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(1, user_api="blas")


def train_digits(epochs=40, batch_size=32, lr=1e-2, channels=(16, 32), seed=0, test_size=0.2,
                 val_size=0.1, shift=0, dropout=0.0, label_smoothing=0.1, on_epoch=None):
    """The whole job: load, split, build, train, score.  Returns a dict with the model, the
    history, the test set and its predictions, accuracy, confusion matrix and timings."""
    _check(epochs=epochs, batch_size=batch_size, lr=lr, test_size=test_size, val_size=val_size)
    data = load_digits()
    X_train, X_val, X_test, y_train, y_val, y_test = split(data.data, data.target, seed,
                                                           test_size, val_size)
    manual_seed(seed)                           # the initial weights
    model = DigitsNet(channels, dropout)
    start = time.perf_counter()
    with one_blas_thread():
        history = fit(model, images_tensor(X_train), y_train, images_tensor(X_val), y_val,
                      epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, shift=shift,
                      label_smoothing=label_smoothing, on_epoch=on_epoch)
        seconds = time.perf_counter() - start
        proba = predict_proba(model, images_tensor(X_test))
    if not np.isfinite(proba).all():
        raise ConfigError("training diverged: the network predicts non-finite probabilities; "
                          "nothing was saved; try a smaller learning rate")
    pred = proba.argmax(1)
    return {"model": model, "history": history, "seconds": seconds,
            "sizes": (len(y_train), len(y_val), len(y_test)),
            "X_test": X_test, "y_test": y_test, "proba": proba, "pred": pred,
            "test_accuracy": float((pred == y_test).mean()),
            "confusion": confusion(y_test, pred), "parameters": count_parameters(model)}


def confusion(y_true, y_pred, k=10):
    """The k × k confusion matrix: rows the true digit, columns the predicted one."""
    m = np.zeros((k, k), dtype=np.int64)
    np.add.at(m, (np.asarray(y_true), np.asarray(y_pred)), 1)
    return m


def _check(**kw):
    for name in ("epochs", "batch_size"):
        v = kw[name]
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v <= 0:
            raise ConfigError(f"--{name.replace('_', '-')} must be a positive int, got {v!r}")
    lr = kw["lr"]
    if not (isinstance(lr, (int, float)) and math.isfinite(lr) and 0 < lr <= 10):
        raise ConfigError(f"--lr must be a finite learning rate in (0, 10], got {lr!r}")
    for name in ("test_size", "val_size"):
        v = kw[name]
        if not (isinstance(v, float) and 0.0 < v < 1.0):
            raise ConfigError(f"--{name.replace('_', '-')} must be a fraction between 0 and 1 "
                              f"(exclusive), got {v!r}")


# ---- saving ---------------------------------------------------------------------------------
def save_model(path, model, config=None):
    """One file (``cr.save``, no pickle): format tag, version, the job's settings, the network's
    channels and weights."""
    state = {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}
    save({"format": MODEL_FORMAT, "version": MODEL_VERSION,
          "config": {k: v for k, v in (config or {}).items()
                     if isinstance(v, (int, float, str))},
          "model": dict(model.config), "state": state}, path)


def is_model_file(path):
    """True when *path* is a digits model written by :func:`save_model`."""
    return model_file.is_model_file(path, MODEL_FORMAT)


def load_model(path):
    """The network saved at *path*, in evaluation mode."""
    def build(obj):
        model = DigitsNet(tuple(obj["model"]["channels"]), obj["model"].get("dropout", 0.0))
        model.load_state_dict(obj["state"])
        return model
    model = model_file.load_model_file(path, MODEL_FORMAT, MODEL_VERSION, "digits",
                                       "a digits model file", build)
    for name, p in model.named_parameters():
        if not np.isfinite(p.detach().numpy()).all():
            raise CheckpointError(f"{path}: the network's weights {name!r} hold NaN or infinite "
                                  f"values; retrain it")
    return model.eval()
