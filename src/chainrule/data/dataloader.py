"""The DataLoader: iterate over a dataset in (shuffled) mini-batches, as ``torch.utils.data.DataLoader``.

With ``num_workers=0`` the batches are read in the calling process; with ``num_workers > 0`` in
worker processes (:mod:`~chainrule.data.worker`), giving the same batches in the same order.
Fast path: when the dataset is a :class:`TensorDataset` (or a :class:`Subset` of one, as
``random_split`` makes) and the default collate is used, each batch is cut from every tensor with
one ``take`` of its rows instead of reading and stacking the samples one by one in Python
(:mod:`~chainrule.data.fetch`), and with a built-in sampler an epoch's batches are sliced from its
whole order in one loop. The batches are the same either way.
"""
import multiprocessing
import numbers

import numpy as np

from chainrule import random as _random
from chainrule.data.collate import default_collate, default_convert
from chainrule.data.dataset import IterableDataset
from chainrule.data.fetch import IterableFetcher, MapFetcher
from chainrule.data.sampler import BatchSampler, RandomSampler, SequentialSampler
from chainrule.data.worker import MultiProcessIter, WorkerPool, base_seed
from chainrule.errors import ArgumentTypeError, ConfigError


def _check_flag(name, value):
    if not isinstance(value, (bool, np.bool_)):
        raise ArgumentTypeError(f"DataLoader: {name} must be True or False, got {name}={value!r}")
    return bool(value)


def _context(value, num_workers):
    """The multiprocessing context the workers start in (the platform's default for None)."""
    if value is None:
        return multiprocessing.get_context()
    if num_workers == 0:
        raise ConfigError(f"multiprocessing_context can only be used with multi-process loading "
                          f"(num_workers > 0), but got num_workers={num_workers}")
    if isinstance(value, str):
        if value not in multiprocessing.get_all_start_methods():
            raise ConfigError(f"multiprocessing_context option should specify a valid start "
                              f"method in {multiprocessing.get_all_start_methods()!r}, but got "
                              f"multiprocessing_context={value!r}")
        return multiprocessing.get_context(value)
    if not isinstance(value, multiprocessing.context.BaseContext):
        raise ArgumentTypeError(f"multiprocessing_context option should be a valid context object or a "
                         f"string specifying the start method, but got "
                         f"multiprocessing_context={value!r}")
    return value


class DataLoader:
    """Iterate over *dataset* in mini-batches of *batch_size*, reshuffled every epoch when *shuffle*.

    Follows PyTorch: each batch is ``collate_fn([dataset[i] for i in batch_indices])`` (by default
    the samples stacked into tensors along a new first dimension); ``drop_last`` drops a final
    short batch; ``batch_size=None`` turns batching off and yields single samples; ``len(loader)``
    is the number of batches. With ``shuffle=True`` every epoch draws a new order from *generator*
    (a ``cr.Generator``; default: chainrule's default generator), so the same seed gives the same
    sequence of epochs. ``sampler`` (an iterable of indices) or ``batch_sampler`` (an iterable of
    lists of indices) replace the built-in order. An :class:`IterableDataset` is read as a stream,
    *batch_size* samples at a time.

    ``num_workers > 0`` reads and collates the batches in that many worker processes (started with
    *multiprocessing_context*, by default the platform's; *worker_init_fn(worker_id)* runs first in
    each; *prefetch_factor* batches per worker are in flight, 2 by default; *timeout* > 0 bounds
    the wait for a batch; *persistent_workers* keeps them across epochs): the same batches in the
    same order as ``num_workers=0``. ``pin_memory`` is accepted and has no effect. The first five
    arguments are positional in this order (chainrule's API); pass the others by name.

    Example::

        >>> import chainrule as cr
        >>> ds = cr.data.TensorDataset(cr.randn(10, 3), cr.arange(10))
        >>> loader = DataLoader(ds, batch_size=4, shuffle=True, generator=cr.Generator().manual_seed(0))
        >>> len(loader), [x.shape[0] for x, y in loader]
        (3, [4, 4, 2])
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False, generator=None,
                 collate_fn=None, sampler=None, batch_sampler=None, num_workers=0, pin_memory=False,
                 timeout=0, worker_init_fn=None, multiprocessing_context=None, *,
                 prefetch_factor=None, persistent_workers=False, pin_memory_device="",
                 in_order=True):
        iterable = isinstance(dataset, IterableDataset)
        if not iterable and not (hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")):
            raise ArgumentTypeError("DataLoader: dataset must define __len__ and __getitem__ (a "
                                    "Dataset, TensorDataset, list, ...) or be an IterableDataset, "
                                    f"got {type(dataset).__name__}")
        if batch_size is not None and (isinstance(batch_size, bool) or
                                       not isinstance(batch_size, numbers.Integral) or batch_size <= 0):
            raise ConfigError(f"DataLoader: batch_size must be a positive int (or None to turn "
                              f"batching off), got batch_size={batch_size!r}")
        shuffle = _check_flag("shuffle", False if shuffle is None else shuffle)  # None: torch's default
        drop_last = _check_flag("drop_last", drop_last)
        self._check_workers(num_workers, timeout, worker_init_fn, prefetch_factor,
                            persistent_workers, in_order)
        if collate_fn is not None and not callable(collate_fn):
            raise ArgumentTypeError("DataLoader: collate_fn must be callable, got "
                                    f"{type(collate_fn).__name__}")
        if iterable:
            for name, value in (("shuffle", shuffle or None), ("sampler", sampler),
                                ("batch_sampler", batch_sampler)):
                if value is not None:
                    raise ConfigError(f"DataLoader with IterableDataset: expected unspecified "
                                      f"{name} option, but got {name}={value!r}")
        if sampler is not None and shuffle:
            raise ConfigError("DataLoader: sampler and shuffle=True cannot be combined (the "
                              "sampler sets the order); shuffle inside the sampler instead")
        if batch_sampler is not None and (batch_size != 1 or shuffle or sampler is not None or drop_last):
            raise ConfigError("DataLoader: batch_sampler cannot be combined with batch_size, "
                              "shuffle, sampler or drop_last (it sets the batches itself); leave "
                              "those at their defaults")
        if batch_size is None and drop_last:
            raise ConfigError("DataLoader: batch_size=None turns batching off, so drop_last=True "
                              "has no batch to drop; use one or the other")
        _random.rng(generator)  # a wrong generator fails here, not in the middle of an epoch
        self._context = _context(multiprocessing_context, num_workers)
        if not iterable and sampler is None:
            sampler = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
        if batch_sampler is not None:
            batch_size = None  # as PyTorch: the batch sampler decides the batch sizes
        elif batch_size is not None and not iterable:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.dataset = dataset
        self.batch_size = None if batch_size is None else int(batch_size)
        self.drop_last = drop_last
        self.generator = generator
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.num_workers = int(num_workers)
        self.pin_memory, self.pin_memory_device, self.in_order = pin_memory, pin_memory_device, in_order
        self.timeout, self.worker_init_fn = timeout, worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.prefetch_factor = (2 if prefetch_factor is None else int(prefetch_factor)) \
            if num_workers else None
        self.persistent_workers = bool(persistent_workers)
        self._iterable = iterable
        self._default_collate = collate_fn is None
        batched = batch_sampler is not None or (iterable and batch_size is not None)
        self.collate_fn = collate_fn if collate_fn is not None else (
            default_collate if batched else default_convert)
        self._pool, self._epochs = None, 0

    @staticmethod
    def _check_workers(num_workers, timeout, worker_init_fn, prefetch_factor, persistent, in_order):
        if isinstance(num_workers, bool) or not isinstance(num_workers, numbers.Integral) or num_workers < 0:
            raise ConfigError(f"DataLoader: num_workers must be a non-negative int, got "
                              f"num_workers={num_workers!r}")
        if isinstance(timeout, bool) or not isinstance(timeout, numbers.Real) or timeout < 0:
            raise ConfigError(f"DataLoader: timeout option should be non-negative, got "
                              f"timeout={timeout!r}")
        if worker_init_fn is not None and not callable(worker_init_fn):
            raise ArgumentTypeError(f"DataLoader: worker_init_fn must be callable, got "
                             f"{type(worker_init_fn).__name__}")
        if prefetch_factor is not None:
            if num_workers == 0:
                raise ConfigError("prefetch_factor option could only be specified in "
                                  "multiprocessing.let num_workers > 0 to enable multiprocessing, "
                                  "otherwise set prefetch_factor to None.")
            if isinstance(prefetch_factor, bool) or not isinstance(prefetch_factor, numbers.Integral) \
                    or prefetch_factor <= 0:
                raise ConfigError(f"DataLoader: prefetch_factor must be a positive int, got "
                                  f"prefetch_factor={prefetch_factor!r}")
        if persistent and num_workers == 0:
            raise ConfigError("persistent_workers option needs num_workers > 0")
        if not in_order:
            raise ConfigError("DataLoader: in_order=False is not supported: batches always come "
                              "in the sampler's order")

    def _index_batches(self):
        if isinstance(self.batch_sampler, BatchSampler):
            return self.batch_sampler._index_batches()
        return iter(self.batch_sampler)

    def _fetcher(self):
        if self._iterable:
            return IterableFetcher(self.dataset, self.collate_fn, self.batch_size, self.drop_last)
        return MapFetcher(self.dataset, self.collate_fn, self.batch_sampler is not None,
                          self._default_collate)

    def _tasks(self):
        """What the sampler yields this epoch: index batches, or single indices unbatched."""
        return iter(self.sampler) if self.batch_sampler is None else self._index_batches()

    def __iter__(self):
        if self.num_workers == 0:
            return self._single_process()
        epoch = self._epochs
        self._epochs += 1
        pool = self._pool
        if pool is None or pool.closed:
            pool = WorkerPool(self._fetcher(), self.num_workers, self.worker_init_fn,
                              self._context, base_seed(self.generator, epoch))
            self._pool = pool if self.persistent_workers else None
        return MultiProcessIter(pool, epoch, None if self._iterable else self._tasks(),
                                self.prefetch_factor, self.timeout, self.persistent_workers)

    def _single_process(self):
        fetcher = self._fetcher()
        if self._iterable:
            fetcher.reset()
            while True:
                try:
                    batch = fetcher.fetch()
                except StopIteration:
                    return
                yield batch
        bs = self.batch_sampler
        if type(bs) is BatchSampler and hasattr(bs.sampler, "_epoch_indices"):
            tasks = bs._cut(bs.sampler._epoch_indices())   # the epoch's order, cut in one loop
        else:
            tasks = self._tasks()
        for task in tasks:
            yield fetcher.fetch(task)

    def __len__(self):
        if self._iterable:
            n = len(self.dataset)         # TypeError for a stream without a length, as PyTorch
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        return len(self.batch_sampler) if self.batch_sampler is not None else len(self.sampler)

    def __repr__(self):
        try:
            size, batches = f" of {len(self.dataset)}", f", {len(self)} batches"
        except TypeError:
            size = batches = ""
        return (f"DataLoader({type(self.dataset).__name__}{size}, batch_size={self.batch_size}, "
                f"drop_last={self.drop_last}{batches})")

    def __del__(self):
        pool = getattr(self, "_pool", None)
        if pool is not None:
            pool.shutdown()
