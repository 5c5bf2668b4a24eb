"""Each rank's share of a global batch: contiguous rows, as even as the batch size allows.

For the weights to match one process on the whole batch, the ranks together must see every row of
it exactly once: rank r takes rows ``[start, stop)`` of :func:`shard_range`, the first ``n % size``
ranks one row more than the others (``numpy.array_split``'s rule), so rank 0 is never the one
left empty when the batch has fewer rows than there are ranks.
"""
from collections.abc import Mapping

import numpy as np

from chainrule.distributed import world
from chainrule.errors import ConfigError
from chainrule.tensor import Tensor


def shard_range(n, rank=None, size=None):
    """``(start, stop)``: the rows of a batch of *n* that rank *rank* of *size* takes.

    Defaults: this process's rank and the world size (one rank, all rows, before ``init``).

    Example: ``[shard_range(5, r, 2) for r in range(2)]`` is ``[(0, 3), (3, 5)]``.
    """
    if size is None:
        size = world.size() if world.is_initialized() else 1
    if rank is None:
        rank = world.rank() if world.is_initialized() else 0
    for name, value in (("n", n), ("size", size), ("rank", rank)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ConfigError(f"shard_range: {name} must be a non-negative int, got "
                              f"{name}={value!r}")
    if not 0 <= rank < size:
        raise ConfigError(f"shard_range: rank must be in [0, {size - 1}], got rank={rank}")
    base, extra = divmod(int(n), int(size))
    start = rank * base + min(rank, extra)
    return start, start + base + (rank < extra)


def shard(batch, rank=None, size=None):
    """This rank's rows of *batch*: every tensor or array in it (nested in lists, tuples, dicts)
    cut to the rows of :func:`shard_range` along its first axis; other values are kept.

    Example: ``x_mine, y_mine = shard((x, y))`` on each of the ranks of the job.
    """
    n = batch_rows(batch)
    if n is None:
        return batch
    start, stop = shard_range(n, rank, size)
    return _cut(batch, start, stop)


def batch_rows(value):
    """The length of the first tensor or array (with a first axis) in *value*; None if none."""
    if isinstance(value, (Tensor, np.ndarray)):
        return len(value) if value.ndim else None
    items = value.values() if isinstance(value, Mapping) else \
        value if isinstance(value, (list, tuple)) else ()
    for v in items:
        n = batch_rows(v)
        if n is not None:
            return n
    return None


def _cut(value, start, stop):
    if isinstance(value, (Tensor, np.ndarray)):
        return value[start:stop] if value.ndim else value
    if isinstance(value, Mapping):
        return {k: _cut(v, start, stop) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        parts = [_cut(v, start, stop) for v in value]
        return type(value)(*parts) if hasattr(value, "_fields") else type(value)(parts)
    return value
