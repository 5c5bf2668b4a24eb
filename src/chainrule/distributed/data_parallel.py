"""One data-parallel training step inside a trainer loop (the Keras-style ``fit`` uses it).

Under ``mpiexec -n N`` after ``cr.distributed.init()``, a trainer that has a whole global batch in
hand calls :func:`shard_for_step` before its usual forward / backward / ``step``: the optimiser
becomes a :class:`~chainrule.distributed.DistributedOptimizer` (once; the ranks then start from
rank 0's weights), the batch is cut to this rank's rows, and the rank's row count weights its
gradient in the average, so the N ranks together take the step one process would take on the
whole batch.
"""
from chainrule.distributed import world
from chainrule.distributed.optimizer import DistributedOptimizer
from chainrule.distributed.sharding import batch_rows, shard
from chainrule.distributed.state_broadcast import broadcast_parameters


def shard_for_step(optimizer, batch):
    """``(optimizer, my_batch)`` for this rank's part of a data-parallel step.

    *optimizer* is wrapped in a DistributedOptimizer the first time (its parameters are then
    broadcast from rank 0, so every rank starts alike); *batch* (tensors or arrays, nested in
    tuples, lists or dicts, one row per sample) is cut to this rank's rows (:func:`shard`), whose
    number is passed to ``set_sample_count``. When this rank's share is empty, it takes part in
    the averaging step right here, contributing nothing, and *my_batch* is None: skip the
    forward pass and the step.

    Example (what ``Model.fit`` does with each batch)::

        if cr.distributed.is_distributed():
            opt, batch = cr.distributed.shard_for_step(opt, (x, y))
            if batch is None:
                continue
            x, y = batch
        train_step(model, loss_fn, opt, x, y)
    """
    if not isinstance(optimizer, DistributedOptimizer):
        world.comm()                                   # a clear error before init()
        optimizer = DistributedOptimizer(optimizer)
        params = [p for group in optimizer.param_groups for p in group["params"]]
        broadcast_parameters(params, root_rank=0)
    mine = shard(batch)
    rows = batch_rows(mine) or 0
    optimizer.set_sample_count(rows)
    if rows == 0:
        optimizer.zero_grad()
        optimizer.step()
        return optimizer, None
    return optimizer, mine
