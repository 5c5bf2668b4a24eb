"""Learning curves of several optimisers on the heart-disease network: same start, same batches.

The problem is the lectures' one: the Cleveland heart-disease data (303 patients), a seeded
stratified split, the preprocessing fitted on the training rows, and inputs → 16 ReLU → 1 logit
trained on binary cross-entropy.  Every optimiser starts from the same initial weights and sees
the same mini-batches in the same order, so the curves differ by the update rule alone.
"""

import numpy as np

from chainrule import dtypes
from chainrule.data import DataLoader, TensorDataset
from chainrule.datasets import load_heart_disease
from chainrule.errors import ConfigError
from chainrule.factories import tensor
from chainrule.nn import BCEWithLogitsLoss, Linear, ReLU, Sequential
from chainrule.optim import SGD, Adagrad, Adam, RMSprop
from chainrule.plot.figure import require_matplotlib, save_figure
from chainrule.preprocessing import TabularPreprocessor, train_test_split
from chainrule.random import Generator, manual_seed
from chainrule.training import evaluate_loss, train_epoch

OPTIMIZERS = (("SGD (lr 0.05)", SGD, {"lr": 0.05}),
              ("SGD + momentum 0.9 (lr 0.01)", SGD, {"lr": 0.01, "momentum": 0.9}),
              ("Adagrad (lr 0.05)", Adagrad, {"lr": 0.05}),
              ("RMSprop (lr 0.001)", RMSprop, {"lr": 1e-3}),
              ("Adam (lr 0.001)", Adam, {"lr": 1e-3}))


class HeartProblem:
    """The heart-disease data ready for training: float32 tensors and the input width."""

    def __init__(self, seed=0, test_size=0.25):
        data = load_heart_disease()
        X_train, X_test, y_train, y_test = train_test_split(
            data.data, data.target, test_size=test_size, stratify=data.target,
            generator=Generator().manual_seed(seed))
        pre = TabularPreprocessor(data.feature_names, data.feature_kinds,
                                  categories=data.categories).fit(X_train)
        self.n_features = pre.n_features_out_
        self.x_train, self.y_train = self._tensors(pre, X_train, y_train)
        self.x_test, self.y_test = self._tensors(pre, X_test, y_test)

    @staticmethod
    def _tensors(pre, X, y):
        return (tensor(pre.transform(X), dtype=dtypes.float32),
                tensor(np.asarray(y).reshape(-1, 1), dtype=dtypes.float32))

    def network(self, hidden=16):
        """inputs → *hidden* ReLU units → 1 logit (the sigmoid is fused into the loss)."""
        return Sequential(Linear(self.n_features, hidden), ReLU(), Linear(hidden, 1))


def compare_optimizers(optimizers=OPTIMIZERS, epochs=30, batch_size=32, hidden=16, seed=0,
                       problem=None):
    """Train the heart-disease network once per optimiser; returns {label: {"loss", "val_loss"}}.

    *optimizers* is a sequence of (label, class, kwargs).  Each list has ``epochs + 1`` values:
    the mean binary cross-entropy on the training rows (during each epoch; entry 0 is the initial
    loss) and on the held-out rows after each epoch.  Seeds the global generator with *seed*.

    >>> curves = compare_optimizers(epochs=5)
    """
    if not isinstance(epochs, (int, np.integer)) or epochs < 1:
        raise ConfigError(f"compare_optimizers: epochs must be a positive integer, got {epochs!r}")
    if not optimizers:
        raise ConfigError("compare_optimizers: expected at least one (label, class, kwargs)")
    problem = problem or HeartProblem(seed)
    manual_seed(seed)
    init = {k: v._data.copy() for k, v in problem.network(hidden).state_dict().items()}
    loss_fn = BCEWithLogitsLoss()
    curves = {}
    for label, cls, kwargs in optimizers:
        model = problem.network(hidden)
        model.load_state_dict({k: tensor(v) for k, v in init.items()})
        opt = cls(model.parameters(), **kwargs)
        loader = DataLoader(TensorDataset(problem.x_train, problem.y_train),
                            batch_size=batch_size, shuffle=True,
                            generator=Generator().manual_seed(seed))
        loss = [evaluate_loss(model, loss_fn, problem.x_train, problem.y_train)]
        val = [evaluate_loss(model, loss_fn, problem.x_test, problem.y_test)]
        for _ in range(epochs):
            loss.append(train_epoch(model, loss_fn, opt, loader))
            val.append(evaluate_loss(model, loss_fn, problem.x_test, problem.y_test))
        curves[label] = {"loss": loss, "val_loss": val}
    return curves


def optimizer_curves(path, optimizers=OPTIMIZERS, epochs=30, batch_size=32, hidden=16, seed=0):
    """Draw the training and held-out loss per epoch of several optimisers on the heart model.

    Runs :func:`compare_optimizers` (same arguments) and writes a PNG with two panels.  Returns
    *path*.

    >>> cr.plot.optimizer_curves("optimizer-curves.png", epochs=3)
    'optimizer-curves.png'
    """
    plt = require_matplotlib()
    curves = compare_optimizers(optimizers, epochs, batch_size, hidden, seed)
    fig, axes = plt.subplots(1, 2, figsize=(10.5, 4.0), sharey=True)
    for label, c in curves.items():
        line, = axes[0].plot(range(len(c["loss"])), c["loss"], "-", lw=1.5, label=label)
        axes[1].plot(range(len(c["val_loss"])), c["val_loss"], "-", lw=1.5,
                     color=line.get_color())
    for ax, name in zip(axes, ("training loss", "held-out loss")):
        ax.set_xlabel("epoch")
        ax.set_title(name, fontsize=10)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("binary cross-entropy")
    axes[0].legend(fontsize=8)
    fig.suptitle(f"heart disease, inputs → {hidden} ReLU → 1: same start, same batches "
                 f"(batch {batch_size})", fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)
