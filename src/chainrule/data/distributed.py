"""``DistributedSampler``: each rank's share of a dataset, as PyTorch's ``DistributedSampler``.

With N replicas, the dataset's indices (in order, or a permutation drawn from ``seed + epoch``,
the same on every rank) are padded by repeating the first ones to a multiple of N (or cut to one,
``drop_last=True``), and rank r takes every N-th index starting at r: the ranks' shards have equal
length, are disjoint up to the padding and together cover the data. With ``shuffle=False`` the
indices are exactly PyTorch's; with ``shuffle=True`` the rule is PyTorch's, over chainrule's
permutation (a ``cr.Generator`` seeded with ``seed + epoch``), since the random streams differ.

``num_replicas`` and ``rank`` default to ``MPI.COMM_WORLD``'s (after ``cr.distributed.init()``):
this module reads them from mpi4py when, and only when, MPI is already running.
"""
import math
import numbers
import sys

import numpy as np

from chainrule.data.sampler import Sampler
from chainrule.errors import ConfigError
from chainrule.random import Generator


def _world():
    """(size, rank) of the running MPI world, or None when MPI has not been started."""
    MPI = sys.modules.get("mpi4py.MPI")
    if MPI is None or not MPI.Is_initialized() or MPI.Is_finalized():
        return None
    return MPI.COMM_WORLD.Get_size(), MPI.COMM_WORLD.Get_rank()


def _int(name, value, lowest):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < lowest:
        raise ConfigError(f"DistributedSampler: {name} must be an int >= {lowest}, got "
                          f"{name}={value!r}")
    return int(value)


class DistributedSampler(Sampler):
    """The indices of *dataset* that this rank (of *num_replicas*) visits in an epoch.

    Args:
        dataset: anything with ``len``.
        num_replicas: the number of ranks (default: the MPI world size).
        rank: this rank (default: the MPI rank).
        shuffle: draw a new order every epoch (seeded by ``seed + epoch``: call :meth:`set_epoch`).
        seed: the same on every rank.
        drop_last: cut the data to a multiple of *num_replicas* instead of padding it.

    Example::

        >>> list(DistributedSampler(range(5), num_replicas=2, rank=1, shuffle=False))
        [1, 3, 0]
    """

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0,
                 drop_last=False):
        if num_replicas is None or rank is None:
            world = _world()
            if world is None:
                raise ConfigError("DistributedSampler: num_replicas and rank default to the MPI "
                                  "world's, but it is not initialized; call "
                                  "cr.distributed.init() first or pass num_replicas= and rank=")
            num_replicas = world[0] if num_replicas is None else num_replicas
            rank = world[1] if rank is None else rank
        num_replicas = _int("num_replicas", num_replicas, 1)
        rank = _int("rank", rank, 0)
        if rank >= num_replicas:
            raise ConfigError(f"Invalid rank {rank}, rank should be in the interval "
                              f"[0, {num_replicas - 1}]")
        for name, flag in (("shuffle", shuffle), ("drop_last", drop_last)):
            if not isinstance(flag, (bool, np.bool_)):
                raise ConfigError(f"DistributedSampler: {name} must be True or False, got "
                                  f"{name}={flag!r}")
        self.dataset = dataset
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0
        self.shuffle = bool(shuffle)
        self.seed = _int("seed", seed, -(1 << 63))
        self.drop_last = bool(drop_last)
        n = len(dataset)
        if self.drop_last and n % num_replicas != 0:
            self.num_samples = math.ceil((n - num_replicas) / num_replicas)
        else:
            self.num_samples = math.ceil(n / num_replicas)
        self.total_size = self.num_samples * num_replicas

    def _epoch_indices(self):
        n = len(self.dataset)
        if self.shuffle:
            indices = Generator().manual_seed(self.seed + self.epoch).rng.permutation(n)
        else:
            indices = np.arange(n)
        if not self.drop_last:
            padding = self.total_size - n
            if padding > 0:
                indices = np.concatenate([indices, np.resize(indices, padding)])
        else:
            indices = indices[:self.total_size]
        return indices[self.rank:self.total_size:self.num_replicas]

    def __iter__(self):
        return iter(self._epoch_indices().tolist())

    def __len__(self):
        return self.num_samples

    def set_epoch(self, epoch):
        """Set the epoch, which seeds the next shuffle: call it before each epoch's loader loop."""
        self.epoch = _int("epoch", epoch, 0)
