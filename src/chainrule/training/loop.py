"""One training step, one epoch, and batched inference: backprop's loop written once.

A training step is the whole story of the lectures in five lines: forward pass, loss,
``zero_grad``, ``backward`` (the chain rule from the loss back to every weight) and the
optimiser's ``step`` (move each weight against its gradient).
"""
import numpy as np

from chainrule.errors import DataError
from chainrule.grad_mode import no_grad
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
    parts = [model(x[i:i + batch_size]).data for i in range(0, len(x), batch_size)]
    return Tensor(np.concatenate(parts))
