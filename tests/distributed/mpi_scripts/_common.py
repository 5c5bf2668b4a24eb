"""Helpers shared by the scripts that tests/distributed/test_mpi.py runs under ``mpiexec -n 2``.

Each script checks its own results and raises on a mismatch: with the abort hook that
``cr.distributed.init()`` installs, that ends the whole job with a non-zero status, which the
test reports together with the traceback.
"""
import numpy as np

import chainrule as cr

dist = cr.distributed


def flat_params(model):
    """Every parameter and buffer of *model*, flattened into one float64 array."""
    return np.concatenate([np.asarray(t._data, np.float64).reshape(-1)
                           for t in model.state_dict().values()])


def assert_same_on_every_rank(values, what):
    """All ranks hold bit-identical *values* (a float64 array)."""
    mine = cr.tensor(np.ascontiguousarray(values, np.float64))
    parts = [cr.zeros_like(mine) for _ in range(dist.size())]
    dist.all_gather(parts, mine)
    for r, p in enumerate(parts):
        if not np.array_equal(p._data, parts[0]._data):
            raise AssertionError(f"{what}: rank {r} differs from rank 0 by up to "
                                 f"{np.abs(p._data - parts[0]._data).max():.3g}")


def say(*args):
    """Print from rank 0 only."""
    if dist.is_main_process():
        print(*args, flush=True)
