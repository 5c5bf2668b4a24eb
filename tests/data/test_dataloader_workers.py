"""DataLoader with num_workers > 0: batches really read in worker processes, the same batches in
the same order as num_workers=0 for the same generator, get_worker_info and worker_init_fn,
IterableDataset sharding (PyTorch's interleaving), errors re-raised with the worker's traceback,
dead and slow workers, persistent workers, and clean shutdown (on error, at exit, parent killed)."""
import os
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import chainrule as cr
from chainrule.data import (DataLoader, Dataset, IterableDataset, TensorDataset,
                            get_worker_info)


def gen(seed=0):
    return cr.Generator().manual_seed(seed)


def make(n=23):
    return TensorDataset(cr.tensor(np.arange(n * 2, dtype=np.float32).reshape(n, 2)),
                         cr.arange(n))


class Samples(Dataset):
    """Read sample by sample (no fast path); each sample says which process read it."""

    def __init__(self, n=23, fail_at=None, exit_at=None, sleep_at=None):
        self.n, self.fail_at, self.exit_at, self.sleep_at = n, fail_at, exit_at, sleep_at

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if i == self.fail_at:
            raise ValueError(f"bad sample {i}")
        if i == self.exit_at:
            os._exit(3)
        if i == self.sleep_at:
            time.sleep(1.5)
        info = get_worker_info()
        return {"x": np.full(2, i, np.float32), "y": i, "pid": os.getpid(),
                "worker": -1 if info is None else info.id}


def _same(a, b):
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a if k not in
                                            ("pid", "worker"))
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, cr.Tensor):
        return a.dtype == b.dtype and np.array_equal(a.numpy(), b.numpy())
    return a == b


def _epochs(loader, n=2):
    return [list(loader) for _ in range(n)]


@pytest.mark.parametrize("kwargs", [dict(batch_size=4, shuffle=True),
                                    dict(batch_size=5, shuffle=True, drop_last=True),
                                    dict(batch_size=None), dict(batch_size=3)],
                         ids=["shuffle", "drop_last", "unbatched", "sequential"])
@pytest.mark.parametrize("dataset", [make, Samples], ids=["tensors", "samples"])
def test_workers_give_the_single_process_batches_in_order(dataset, kwargs):
    single = _epochs(DataLoader(dataset(), num_workers=0, generator=gen(5), **kwargs))
    multi = _epochs(DataLoader(dataset(), num_workers=3, generator=gen(5), **kwargs))
    assert len(single[0]) == len(multi[0]) > 0 and _same(single, multi)
    assert not _same(single[0], single[1]) or not kwargs.get("shuffle")


def test_batches_are_read_in_the_worker_processes():
    seen_workers, pids = set(), set()
    for batch in DataLoader(Samples(), batch_size=2, num_workers=2, prefetch_factor=1):
        pids.update(batch["pid"].tolist())
        seen_workers.update(batch["worker"].tolist())
    assert os.getpid() not in pids and len(pids) == 2 and seen_workers == {0, 1}
    assert get_worker_info() is None


def test_worker_init_fn_and_worker_info():
    def init(worker_id):
        info = get_worker_info()
        assert info.id == worker_id and info.num_workers == 2
        np.random.seed(100 + worker_id)          # visible to the dataset below

    class Draw(Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            info = get_worker_info()
            return np.array([info.id, info.seed, np.random.randint(1000)])

    rows = np.concatenate([b.numpy() for b in DataLoader(Draw(), batch_size=1, num_workers=2,
                                                         worker_init_fn=init)])
    assert rows[:, 0].tolist() == [0, 1, 0, 1]                       # round robin
    assert rows[0, 1] + 1 == rows[1, 1]                             # seeds base + id
    expected = [np.random.RandomState(100 + w).randint(1000) for w in (0, 1)]
    assert rows[:2, 2].tolist() == expected


class Shards(IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        info = get_worker_info()
        k, m = (0, 1) if info is None else (info.id, info.num_workers)
        return iter(range(k, self.n, m))


@pytest.mark.parametrize("batch_size", [None, 2, 3])
def test_iterable_dataset_in_workers_interleaves_like_torch(batch_size):
    torch = pytest.importorskip("torch")

    class TorchShards(torch.utils.data.IterableDataset):
        def __iter__(self):
            info = torch.utils.data.get_worker_info()
            return iter(range(info.id, 11, info.num_workers))

    ours = [b.tolist() if hasattr(b, "tolist") else b
            for b in DataLoader(Shards(11), batch_size=batch_size, num_workers=2)]
    theirs = [b.tolist() if hasattr(b, "tolist") else b
              for b in torch.utils.data.DataLoader(TorchShards(), batch_size=batch_size,
                                                   num_workers=2)]
    assert ours == theirs
    single = [b.tolist() if hasattr(b, "tolist") else b
              for b in DataLoader(Shards(11), batch_size=batch_size)]
    flat = [v for b in ours for v in (b if isinstance(b, list) else [b])]
    assert sorted(flat) == list(range(11)) and single   # every sample once, in shards


def _assert_stopped(pool):
    assert pool.closed and not any(p.is_alive() for p in pool.procs)


def test_a_worker_error_is_raised_with_its_traceback_and_workers_stop():
    it = iter(DataLoader(Samples(fail_at=9), batch_size=4, num_workers=2))
    with pytest.raises(ValueError, match="Caught ValueError in DataLoader worker process 0") as e:
        list(it)
    assert "bad sample 9" in str(e.value) and "Traceback" in str(e.value)
    _assert_stopped(it.pool)

    def broken_init(worker_id):
        raise KeyError("no init")

    it = iter(DataLoader(make(), batch_size=4, num_workers=2, worker_init_fn=broken_init))
    with pytest.raises(KeyError, match="no init"):
        next(it)
    _assert_stopped(it.pool)


def test_a_dead_worker_and_a_slow_batch_raise_runtime_errors():
    it = iter(DataLoader(Samples(exit_at=5), batch_size=2, num_workers=2))
    with pytest.raises(RuntimeError, match=r"DataLoader worker \(pid\(s\) \d+\) exited "
                                           r"unexpectedly"):
        list(it)
    _assert_stopped(it.pool)
    it = iter(DataLoader(Samples(sleep_at=0), batch_size=2, num_workers=1, timeout=0.3))
    with pytest.raises(RuntimeError, match="DataLoader timed out after 0.3 seconds"):
        next(it)
    _assert_stopped(it.pool)


def test_workers_stop_after_the_epoch_unless_persistent():
    loader = DataLoader(make(), batch_size=4, shuffle=True, num_workers=2, generator=gen(1))
    it = iter(loader)
    list(it)
    _assert_stopped(it.pool)

    single = _epochs(DataLoader(Samples(), batch_size=4, shuffle=True, generator=gen(2)), 3)
    loader = DataLoader(Samples(), batch_size=4, shuffle=True, generator=gen(2), num_workers=2,
                        persistent_workers=True)
    first = iter(loader)
    epochs = [list(first)]
    pids = set(p.pid for p in first.pool.procs)
    partial = iter(loader)                              # an epoch abandoned half way
    epochs.append([next(partial), next(partial)])
    third = iter(loader)
    epochs.append(list(third))
    assert third.pool is first.pool and set(p.pid for p in third.pool.procs) == pids
    assert _same(epochs[0], single[0]) and _same(epochs[1], single[1][:2])
    assert _same(epochs[2], single[2])
    pool = loader._pool
    del loader, first, partial, third
    import gc
    gc.collect()
    _assert_stopped(pool)


def _run_script(body, timeout=30):
    src = os.path.join(os.path.dirname(cr.__file__), os.pardir)
    env = dict(os.environ, PYTHONPATH=os.path.abspath(src))
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(body)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _gone(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:                                     # a zombie not yet reaped by init counts as gone
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] == "Z"
    except OSError:
        return True


def _wait_gone(pids, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not all(_gone(p) for p in pids):
        time.sleep(0.05)
    return all(_gone(p) for p in pids)


SCRIPT = """
    import sys, numpy as np, chainrule as cr
    from chainrule.data import DataLoader, TensorDataset
    loader = DataLoader(TensorDataset(cr.arange(40)), batch_size=2, num_workers=2,
                        persistent_workers={persistent})
    it = iter(loader)
    next(it)
    print(" ".join(str(p.pid) for p in it.pool.procs), flush=True)
    {end}
"""


@pytest.mark.parametrize("persistent", [False, True])
def test_workers_exit_with_the_interpreter(persistent):
    proc = _run_script(SCRIPT.format(persistent=persistent, end="sys.exit(0)"))
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    pids = [int(p) for p in out.split()]
    assert len(pids) == 2 and _wait_gone(pids, 5)


def test_workers_exit_when_the_main_process_is_killed():
    proc = _run_script(SCRIPT.format(persistent=True, end="import time; time.sleep(60)"))
    pids = [int(p) for p in proc.stdout.readline().split()]
    proc.kill()
    proc.wait(timeout=10)
    assert len(pids) == 2 and _wait_gone(pids, 10)


def test_spawn_context_gives_the_same_batches():
    ds = make(10)
    single = list(DataLoader(ds, batch_size=3, shuffle=True, generator=gen(3)))
    spawned = list(DataLoader(ds, batch_size=3, shuffle=True, generator=gen(3), num_workers=1,
                              multiprocessing_context="spawn"))
    assert _same(single, spawned)


@pytest.mark.parametrize("kwargs, err, match", [
    (dict(prefetch_factor=2), ValueError, "prefetch_factor option could only be specified"),
    (dict(persistent_workers=True), ValueError, "persistent_workers option needs num_workers > 0"),
    (dict(num_workers=1, timeout=-1), ValueError, "timeout option should be non-negative"),
    (dict(num_workers=1, worker_init_fn=3), TypeError, "worker_init_fn must be callable"),
    (dict(num_workers=1, multiprocessing_context="nope"), ValueError, "valid start method"),
    (dict(multiprocessing_context="fork"), ValueError, "can only be used with multi-process"),
    (dict(num_workers=1, prefetch_factor=0), ValueError, "prefetch_factor must be a positive"),
])
def test_worker_argument_errors(kwargs, err, match):
    with pytest.raises(err, match=match):
        DataLoader(make(), **kwargs)
