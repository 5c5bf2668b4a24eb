"""The DataLoader: iterate over a dataset in (shuffled) mini-batches, as ``torch.utils.data.DataLoader``.

Fast path: when the dataset is a :class:`TensorDataset` (or a :class:`Subset` of one, as
``random_split`` makes) and the default collate is used, each batch is cut from every tensor with
one fancy-index (``t.data[idx]``) instead of reading and stacking the samples one by one in Python.
The batches are the same either way.
"""
import numbers

import numpy as np

from chainrule import random as _random
from chainrule.data.collate import default_collate, default_convert
from chainrule.data.dataset import Subset, TensorDataset
from chainrule.data.sampler import BatchSampler, RandomSampler, SequentialSampler
from chainrule.errors import ConfigError, DTypeError
from chainrule.tensor import Tensor


def _tensor_source(dataset):
    """``(tensors, index_map)`` when *dataset* reads rows straight from tensors, else None."""
    index_map = None
    while type(dataset).__getitem__ is Subset.__getitem__:
        ind = np.asarray(dataset.indices)
        if ind.ndim != 1 or (ind.size and ind.dtype.kind not in "iu"):
            return None
        ind = ind.astype(np.intp)
        index_map = ind if index_map is None else ind[index_map]
        dataset = dataset.dataset
    if type(dataset).__getitem__ is not TensorDataset.__getitem__:
        return None
    return dataset.tensors, index_map


def _check_flag(name, value):
    if not isinstance(value, (bool, np.bool_)):
        raise DTypeError(f"DataLoader: {name} must be True or False, got {name}={value!r}")
    return bool(value)


class DataLoader:
    """Iterate over *dataset* in mini-batches of *batch_size*, reshuffled every epoch when *shuffle*.

    Follows PyTorch: each batch is ``collate_fn([dataset[i] for i in batch_indices])`` (by default
    the samples stacked into tensors along a new first dimension); ``drop_last`` drops a final
    short batch; ``batch_size=None`` turns batching off and yields single samples; ``len(loader)``
    is the number of batches. With ``shuffle=True`` every epoch draws a new order from *generator*
    (a ``cr.Generator``; default: chainrule's default generator), so the same seed gives the same
    sequence of epochs. ``sampler`` (an iterable of indices) or ``batch_sampler`` (an iterable of
    lists of indices) replace the built-in order. ``num_workers`` and ``pin_memory`` are accepted
    for PyTorch compatibility; loading always happens in the calling process.

    Example::

        >>> import chainrule as cr
        >>> ds = TensorDataset(cr.randn(10, 3), cr.arange(10))
        >>> loader = DataLoader(ds, batch_size=4, shuffle=True, generator=cr.Generator().manual_seed(0))
        >>> len(loader), [x.shape[0] for x, y in loader]
        (3, [4, 4, 2])
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False, generator=None,
                 collate_fn=None, sampler=None, batch_sampler=None, num_workers=0, pin_memory=False):
        if not (hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")):
            raise DTypeError(f"DataLoader: dataset must define __len__ and __getitem__ (a Dataset, "
                             f"TensorDataset, list, ...), got {type(dataset).__name__}")
        if batch_size is not None and (isinstance(batch_size, bool) or
                                       not isinstance(batch_size, numbers.Integral) or batch_size <= 0):
            raise ConfigError(f"DataLoader: batch_size must be a positive int (or None to turn "
                              f"batching off), got batch_size={batch_size!r}")
        shuffle = _check_flag("shuffle", False if shuffle is None else shuffle)  # None: torch's default
        drop_last = _check_flag("drop_last", drop_last)
        if isinstance(num_workers, bool) or not isinstance(num_workers, numbers.Integral) or num_workers < 0:
            raise ConfigError(f"DataLoader: num_workers must be a non-negative int, got "
                              f"num_workers={num_workers!r}")
        if collate_fn is not None and not callable(collate_fn):
            raise DTypeError("DataLoader: collate_fn must be callable, got "
                             f"{type(collate_fn).__name__}")
        if sampler is not None and shuffle:
            raise ConfigError("DataLoader: sampler and shuffle=True cannot be combined (the "
                              "sampler "
                              "sets the order); shuffle inside the sampler instead")
        if batch_sampler is not None and (batch_size != 1 or shuffle or sampler is not None or drop_last):
            raise ConfigError("DataLoader: batch_sampler cannot be combined with batch_size, "
                              "shuffle, "
                              "sampler or drop_last (it sets the batches itself); leave those at "
                              "their defaults")
        if batch_size is None and drop_last:
            raise ConfigError("DataLoader: batch_size=None turns batching off, so drop_last=True "
                              "has "
                              "no batch to drop; use one or the other")
        _random.rng(generator)  # a wrong generator fails here, not in the middle of an epoch
        if sampler is None:
            sampler = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
        if batch_sampler is not None:
            batch_size = None  # as PyTorch: the batch sampler decides the batch sizes
        elif batch_size is not None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.dataset = dataset
        self.batch_size = None if batch_size is None else int(batch_size)
        self.drop_last = drop_last
        self.generator = generator
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.num_workers = int(num_workers)
        self.pin_memory = pin_memory
        self._default_collate = collate_fn is None
        self.collate_fn = collate_fn if collate_fn is not None else (
            default_collate if batch_sampler is not None else default_convert)

    def _index_batches(self):
        if isinstance(self.batch_sampler, BatchSampler):
            return self.batch_sampler._index_batches()
        return iter(self.batch_sampler)

    def __iter__(self):
        if self.batch_sampler is None:
            for i in self.sampler:
                yield self.collate_fn(self.dataset[i])
            return
        source = _tensor_source(self.dataset) if self._default_collate else None
        if source is None:
            for idx in self._index_batches():
                idx = idx.tolist() if isinstance(idx, np.ndarray) else idx
                yield self.collate_fn([self.dataset[i] for i in idx])
            return
        tensors, index_map = source
        for idx in self._index_batches():
            idx = np.asarray(idx, dtype=np.intp)
            if index_map is not None:
                idx = index_map[idx]
            yield [Tensor(t.data[idx]) for t in tensors]

    def __len__(self):
        return len(self.batch_sampler) if self.batch_sampler is not None else len(self.sampler)

    def __repr__(self):
        return (f"DataLoader({type(self.dataset).__name__} of {len(self.dataset)}, "
                f"batch_size={self.batch_size}, drop_last={self.drop_last}, {len(self)} batches)")
