"""Data-parallel training on MPI: ``mpiexec -n N python train.py``, from a laptop to a cluster.

Every rank (process) holds a copy of the model and takes its shard of each global batch; before each
update the gradients are averaged over the ranks, so all copies stay identical and train the
weights one process would on the whole batch. Horovod's and torch.distributed's names:

* the world: :func:`init`, :func:`is_initialized`, :func:`rank` / :func:`get_rank`,
  :func:`size` / :func:`get_world_size`, :func:`local_rank`, :func:`local_size`,
  :func:`barrier`, :func:`is_main_process` (rank 0, or no ``init``: the one that prints and
  writes files), :func:`abort`;
* collectives on tensors: :func:`all_reduce` (in place; "sum", "avg", "max", "min"),
  :func:`broadcast`, :func:`all_gather`;
* training: :class:`DistributedOptimizer` (bucketed gradient averaging, started during
  backward), ``cr.nn.SyncBatchNorm`` (batch statistics over all ranks; its default
  :class:`ProcessGroup` is the world of :func:`init`),
  :func:`broadcast_parameters`, :func:`broadcast_optimizer_state`, :func:`shard` (this rank's rows of a batch),
  :func:`shard_for_step` (a trainer's hook, used by ``Model.fit``); and
  ``cr.data.DistributedSampler`` for a DataLoader.

MPI comes from mpi4py (``pip install chainrule[mpi]`` brings it and the ``mpich`` wheel, whose
``mpiexec`` needs no system packages; a system MPI works too). Nothing here imports mpi4py until
:func:`init` is called, so a script that never calls it runs unchanged as one process.

Example (``mpiexec -n 2 python train.py``)::

    import chainrule as cr
    dist = cr.distributed
    dist.init()
    cr.manual_seed(0)
    model = cr.nn.Linear(10, 1)
    dist.broadcast_parameters(model.state_dict(), root_rank=0)
    opt = dist.DistributedOptimizer(cr.optim.Adam(model.parameters(), lr=1e-3))
    sampler = cr.data.DistributedSampler(dataset, shuffle=True, seed=0)
    loader = cr.data.DataLoader(dataset, batch_size=32 // dist.size(), sampler=sampler)
    for epoch in range(10):
        sampler.set_epoch(epoch)
        for x, y in loader:
            opt.zero_grad()
            cr.nn.functional.mse_loss(model(x), y).backward()
            opt.step()
    if dist.is_main_process():
        cr.save(model.state_dict(), "model.cr")
"""
from chainrule.distributed.world import (abort, barrier, comm, get_rank, get_world_size, init,
                                         is_distributed, is_initialized, is_main_process,
                                         launched_size, local_rank, local_size, mpi, rank, size)
from chainrule.distributed.collectives import ReduceOp, all_gather, all_reduce, broadcast
from chainrule.distributed.optimizer import DistributedOptimizer
from chainrule.distributed.state_broadcast import broadcast_optimizer_state, broadcast_parameters
from chainrule.distributed.sharding import shard, shard_range
from chainrule.distributed.data_parallel import shard_for_step
from chainrule.distributed.process_group import ProcessGroup, world_group
from chainrule.nn.modules import sync_batchnorm as _sync_batchnorm

_sync_batchnorm.default_process_group = world_group    # cr.nn.SyncBatchNorm's world (see there)

__all__ = ["init", "is_initialized", "is_distributed", "is_main_process", "launched_size", "rank",
           "size", "local_rank", "local_size", "get_rank", "get_world_size", "barrier", "abort",
           "comm", "mpi", "ReduceOp", "all_reduce", "broadcast", "all_gather",
           "DistributedOptimizer", "broadcast_parameters", "broadcast_optimizer_state", "shard",
           "shard_range", "shard_for_step", "ProcessGroup"]
