"""One training step, one epoch, and batched inference: backprop's loop written once.

A training step is the whole story of the lectures in five lines: forward pass, loss,
``zero_grad``, ``backward`` (the chain rule from the loss back to every weight) and the
optimiser's ``step`` (move each weight against its gradient).  :func:`fit_epochs` is the
shuffled mini-batch loop of the ``train digits`` and ``train addition`` jobs.
"""
import math

import numpy as np

from chainrule.errors import DataError
from chainrule.grad_mode import no_grad
from chainrule.nn.utils import clip_grad_norm_
from chainrule.tensor import Tensor


def _loss(loss_fn, output, y, sample_weight):
    return loss_fn(output, y) if sample_weight is None else loss_fn(output, y, sample_weight)


def train_step(model, loss_fn, optimizer, x, y, penalty=None, *, sample_weight=None,
               return_output=False):
    """Forward, loss (+ an optional penalty such as L1/L2 regularisation), backward, step.

    Returns the loss as a Python float (the data loss, without the penalty), and the model's
    output too with *return_output* (``Model.fit`` computes its metrics from it).  With
    *sample_weight* the loss is ``loss_fn(output, y, sample_weight)``.
    """
    optimizer.zero_grad()
    output = model(x)
    loss = _loss(loss_fn, output, y, sample_weight)
    total = loss if penalty is None else loss + penalty()
    total.backward()
    optimizer.step()
    return (loss.item(), output) if return_output else loss.item()


def train_epoch(model, loss_fn, optimizer, loader, penalty=None, on_batch=None):
    """One pass over *loader* in training mode; returns the sample-weighted mean loss.

    *on_batch(index, loss)* is called after every step (progress displays use it).
    """
    model.train()
    total, count = 0.0, 0
    for i, (x, y) in enumerate(loader):
        loss = train_step(model, loss_fn, optimizer, x, y, penalty)
        n = len(x)
        total += loss * n
        count += n
        if on_batch is not None:
            on_batch(i, loss)
    if count == 0:
        raise DataError("train_epoch: the data loader yielded no batches (is the dataset empty, "
                        "or drop_last=True with fewer samples than batch_size?)")
    return total / count


@no_grad()
def evaluate_loss(model, loss_fn, x, y, *, sample_weight=None, return_output=False):
    """The loss on (x, y) in evaluation mode, without building a graph.

    *sample_weight* and *return_output* work as in :func:`train_step`.
    """
    model.eval()
    output = model(x)
    loss = _loss(loss_fn, output, y, sample_weight).item()
    return (loss, output) if return_output else loss


@no_grad()
def predict(model, x, batch_size=None):
    """The model's outputs on *x* in evaluation mode, without a graph (batched if asked)."""
    model.eval()
    if batch_size is None or len(x) <= batch_size:
        return model(x)
    parts = [model(x[i:i + batch_size])._data for i in range(0, len(x), batch_size)]
    return Tensor(np.concatenate(parts))


def cosine_lr(lr, t, total):
    """The learning rate *lr* decayed by a half cosine: lr · ½(1 + cos(π t / total)).

    >>> cosine_lr(0.1, 0, 10), cosine_lr(0.1, 10, 10)
    (0.1, 0.0)
    """
    return lr * 0.5 * (1 + math.cos(math.pi * t / total))


def fit_epochs(model, optimizer, n, epochs, batch_size, rng, lr_at, batch_loss, end_epoch,
               on_step=None, clip_norm=None):
    """Mini-batch training: each epoch reshuffles the *n* rows with *rng* (a NumPy Generator);
    each batch of row indices ``idx`` sets every group's lr to ``lr_at(epoch, step)``, then
    zero_grad, ``batch_loss(idx).backward()``, clips the gradients' norm to *clip_norm* (if
    given) and steps; ``on_step(loss_value, idx)`` follows.  After each epoch
    ``end_epoch(epoch)`` (counted from 0) returns True to stop.

    Example: ``fit_epochs(net, opt, len(x), 5, 32, rng, lambda e, s: 1e-3, loss_of, done)``.
    """
    step = 0
    for epoch in range(epochs):
        model.train()
        order = rng.permutation(n)
        for i in range(0, n, batch_size):
            idx = order[i:i + batch_size]
            for group in optimizer.param_groups:
                group["lr"] = lr_at(epoch, step)
            optimizer.zero_grad()
            loss = batch_loss(idx)
            loss.backward()
            if clip_norm is not None:
                clip_grad_norm_(model.parameters(), clip_norm)
            optimizer.step()
            if on_step is not None:
                on_step(loss.item(), idx)
            step += 1
        if end_epoch(epoch):
            break
