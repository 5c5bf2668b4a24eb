"""Loading in worker processes: what a DataLoader with ``num_workers > 0`` runs, as PyTorch's.

The main process keeps the sampler: it draws each epoch's order from the loader's generator
exactly as with ``num_workers=0`` and hands the index batches to the workers round robin
(*prefetch_factor* per worker in flight); each worker reads and collates its batches
(:mod:`~chainrule.data.fetch`) and sends them back; the main process yields them in the sampler's
order.  So the batches, and their order, are those of ``num_workers=0`` for the same generator.
For an :class:`~chainrule.data.IterableDataset` every worker iterates its own copy of the stream
(shard it with :func:`get_worker_info`) and the batches come from the workers in turn.

Each worker seeds Python's ``random``, chainrule's default generator and NumPy's global generator
with ``base_seed + id`` (``base_seed`` is derived from the loader's generator and the epoch without
drawing from it, so the sampler's stream is the same as in a single process); random
transformations inside a dataset therefore differ from a single-process run, as in PyTorch.

An exception in a worker (in the dataset, collate_fn or worker_init_fn) is raised again in the
main process, with the worker's traceback in its message, after the workers are shut down; a
worker that dies, or a batch that takes longer than ``timeout`` seconds, raises RuntimeError.
Workers exit when the epoch ends (unless ``persistent_workers``), when the loader or its iterator
is deleted, at interpreter exit, or by themselves when the main process is gone.
"""
import atexit
import itertools
import multiprocessing
import pickle
import queue
import random
import sys
import time
import traceback
import weakref

import numpy as np

from chainrule import random as _random
from chainrule.errors import UsageError

POLL_S = 0.1            # the main process checks its workers this often while it waits
WORKER_POLL_S = 1.0     # a worker checks that the main process is alive this often when idle
JOIN_S = 5.0            # how long shutdown waits for a worker before terminating it


class WorkerInfo:
    """What a worker knows about itself: ``id``, ``num_workers``, ``seed`` and its ``dataset``
    copy (read-only, as PyTorch's)."""

    __slots__ = ("id", "num_workers", "seed", "dataset", "_frozen")

    def __init__(self, **kwargs):
        for k, v in kwargs.items():
            object.__setattr__(self, k, v)
        object.__setattr__(self, "_frozen", True)

    def __setattr__(self, key, value):
        raise UsageError(f"Cannot assign attributes to {type(self).__name__} objects")

    def __repr__(self):
        return (f"WorkerInfo(id={self.id}, num_workers={self.num_workers}, seed={self.seed}, "
                f"dataset={self.dataset!r})")


_info = None


def get_worker_info():
    """In a DataLoader worker process, its :class:`WorkerInfo`; in the main process, None.

    Example (an IterableDataset that shards its stream among the workers)::

        >>> class Shards(cr.data.IterableDataset):
        ...     def __iter__(self):
        ...         info = cr.data.get_worker_info()
        ...         k, n = (0, 1) if info is None else (info.id, info.num_workers)
        ...         return iter(range(k, 10, n))
        >>> cr.data.get_worker_info() is None
        True
    """
    return _info


class Failure:
    """An exception raised in a worker, carried to the main process and raised there again."""

    def __init__(self, where):
        exc_type, exc, tb = sys.exc_info()
        self.where = where
        self.text = "".join(traceback.format_exception(exc_type, exc, tb))
        try:
            pickle.dumps(exc_type)
            self.exc_type = exc_type
        except Exception:                       # a class the main process cannot import
            self.exc_type = RuntimeError

    def reraise(self):
        msg = f"Caught {self.exc_type.__name__} {self.where}.\nOriginal {self.text}"
        try:
            err = self.exc_type(msg)
        except Exception:
            err = RuntimeError(msg)
        raise err


class End:
    """A worker's stream is exhausted (IterableDataset)."""

    def __init__(self, worker_id):
        self.worker_id = worker_id


def base_seed(generator, epoch):
    """The epoch's worker seed: a function of *generator*'s state and *epoch*, drawn without
    consuming the generator (so the sampler's stream is the single-process one)."""
    state = int(_random.rng(generator).bit_generator.state["state"]["state"])
    words = [state & 0xFFFF_FFFF_FFFF_FFFF, state >> 64, int(epoch)]
    return int(np.random.SeedSequence(words).generate_state(1, np.uint64)[0] >> 1)


def _seed(seed, worker_id, base):
    random.seed(seed)
    _random.manual_seed(seed)
    np.random.seed(np.random.SeedSequence([worker_id, base]).generate_state(4))


def worker_loop(fetcher, tasks, results, done, worker_id, num_workers, base, init_fn):
    """The body of a worker process: (epoch, index, payload) tasks in, (epoch, index, batch) out;
    None ends it (once *done* is set, the tasks still queued are skipped)."""
    global _info
    seed = base + worker_id
    _seed(seed, worker_id, base)
    _info = WorkerInfo(id=worker_id, num_workers=num_workers, seed=seed, dataset=fetcher.dataset)
    where = f"in DataLoader worker process {worker_id}"
    failure = None
    try:
        if init_fn is not None:
            init_fn(worker_id)
    except Exception:
        failure = Failure(where)
    parent = multiprocessing.parent_process()
    epoch = None
    try:
        while True:
            try:
                task = tasks.get(timeout=WORKER_POLL_S)
            except queue.Empty:
                if parent is not None and not parent.is_alive():
                    return
                continue
            if task is None:
                return
            if done.is_set():
                continue
            task_epoch, index, payload = task
            if failure is None and task_epoch != epoch:
                epoch = task_epoch
                fetcher.reset()
            if failure is not None:
                data = failure
            else:
                try:
                    data = fetcher.fetch(payload)
                except StopIteration:
                    data = End(worker_id)
                except Exception:
                    data = Failure(where)
            results.put((task_epoch, index, data))
    except KeyboardInterrupt:
        pass
    finally:
        results.cancel_join_thread()


_live_pools = weakref.WeakSet()


@atexit.register
def _shutdown_all():
    for pool in list(_live_pools):
        pool.shutdown()


class WorkerPool:
    """The worker processes of one loader, with a task queue each and one result queue."""

    def __init__(self, fetcher, num_workers, init_fn, context, base):
        self.results = context.Queue()
        self.tasks = [context.Queue() for _ in range(num_workers)]
        self.done = context.Event()
        self.procs = []
        self.closed = False
        _live_pools.add(self)
        for i in range(num_workers):
            p = context.Process(target=worker_loop, daemon=True,
                                args=(fetcher, self.tasks[i], self.results, self.done, i,
                                      num_workers, base, init_fn))
            p.start()
            self.procs.append(p)

    def put(self, worker, task):
        self.tasks[worker].put(task)

    def get(self, timeout=0):
        """The next result; RuntimeError if a worker died or *timeout* seconds (> 0) passed."""
        deadline = time.monotonic() + timeout if timeout else None
        while True:
            wait = POLL_S if deadline is None else max(0.0, min(POLL_S, deadline - time.monotonic()))
            try:
                return self.results.get(timeout=wait)
            except queue.Empty:
                dead = [p for p in self.procs if not p.is_alive()]
                if dead:
                    self.shutdown()
                    pids = ", ".join(str(p.pid) for p in dead)
                    raise UsageError(f"DataLoader worker (pid(s) {pids}) exited unexpectedly "
                                       f"(exit code {dead[0].exitcode})") from None
                if deadline is not None and time.monotonic() >= deadline:
                    self.shutdown()
                    raise UsageError(f"DataLoader timed out after {timeout} seconds") from None

    def shutdown(self):
        """Stop the workers (asking first, terminating those that do not exit) and close queues."""
        if self.closed:
            return
        self.closed = True
        _live_pools.discard(self)
        self.done.set()
        for q in self.tasks:
            try:
                q.put(None)
            except (OSError, ValueError):
                pass
        for p in self.procs:
            p.join(JOIN_S)
        for p in self.procs:
            if p.is_alive():
                p.terminate()
                p.join(JOIN_S)
        for q in self.tasks + [self.results]:
            q.cancel_join_thread()
            q.close()

    def __del__(self):
        self.shutdown()


class MultiProcessIter:
    """One epoch over a :class:`WorkerPool`: sends tasks, yields the results in task order."""

    def __init__(self, pool, epoch, tasks, prefetch, timeout, persistent):
        self.pool, self.epoch, self.tasks = pool, epoch, tasks      # tasks None: a stream
        self.timeout, self.persistent = timeout, persistent
        n = len(pool.procs)
        self.active = [True] * n
        self.cycle = itertools.cycle(range(n))
        self.sent = self.next_index = 0
        self.buffer = {}
        for _ in range(prefetch * n):
            self._send()

    def _send(self):
        if self.tasks is None:                  # a stream: the next active worker reads on
            if not any(self.active):
                return
            worker = next(w for w in self.cycle if self.active[w])
            payload = None
        else:
            try:
                payload = next(self.tasks)
            except StopIteration:
                return
            worker = next(self.cycle)
        self.pool.put(worker, (self.epoch, self.sent, payload))
        self.sent += 1

    def __iter__(self):
        return self

    def __next__(self):
        while self.next_index < self.sent:
            index = self.next_index
            if index in self.buffer:
                data = self.buffer.pop(index)
            else:
                epoch, got, data = self.pool.get(self.timeout)
                if epoch != self.epoch:
                    continue                    # left over from an abandoned epoch
                if got != index:
                    self.buffer[got] = data
                    continue
            self.next_index += 1
            if isinstance(data, Failure):
                self.pool.shutdown()
                data.reraise()
            if isinstance(data, End):
                self.active[data.worker_id] = False
                self._send()
                continue
            self._send()
            return data
        if not self.persistent:
            self.pool.shutdown()
        raise StopIteration

    def __del__(self):
        if not self.persistent:
            self.pool.shutdown()
