"""Turning what a sampler yields into a batch: the one piece of a DataLoader that also runs inside
its worker processes.

:class:`MapFetcher` reads a map-style dataset at a batch of indices (or one index when batching is
off) and collates; when the dataset is a :class:`TensorDataset` (or a :class:`Subset` of one, as
``random_split`` makes) and the default collate is used, the batch is cut from every tensor with
one ``take`` of its rows instead of reading and stacking samples one by one (the batches are the
same).
:class:`IterableFetcher` reads the next *batch_size* samples of a stream.
"""
from itertools import islice

import numpy as np

from chainrule.data.dataset import Subset, TensorDataset
from chainrule.tensor import Tensor


def tensor_source(dataset):
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


def rows(a, idx):
    """``a[idx]`` for a 1-d array of row indices: ``a.take(idx, 0)`` on a NumPy array of 2 or more
    dimensions (the same values and layout, about 3x faster than fancy indexing for small batches).

    Example: ``rows(np.arange(6).reshape(3, 2), np.array([2, 0]))`` is ``[[4, 5], [0, 1]]``.
    """
    return a.take(idx, 0) if type(a) is np.ndarray and a.ndim > 1 else a[idx]


class MapFetcher:
    """``fetch(indices)``: the collated samples of a map-style dataset (``fetch(i)``: one sample,
    converted, when *batched* is False)."""

    def __init__(self, dataset, collate_fn, batched, fast):
        self.dataset, self.collate_fn, self.batched = dataset, collate_fn, batched
        self.source = tensor_source(dataset) if fast and batched else None

    def reset(self):
        """Nothing to restart: a map-style dataset is read at the indices given."""

    def fetch(self, index):
        if not self.batched:
            return self.collate_fn(self.dataset[index])
        if self.source is not None:
            tensors, index_map = self.source
            idx = index if type(index) is np.ndarray and index.dtype == np.intp \
                else np.asarray(index, dtype=np.intp)
            if index_map is not None:
                idx = index_map[idx]
            return [Tensor(rows(t._data, idx)) for t in tensors]
        idx = index.tolist() if isinstance(index, np.ndarray) else index
        return self.collate_fn([self.dataset[i] for i in idx])


class IterableFetcher:
    """``fetch()``: the next batch of a stream (StopIteration at its end; with *drop_last* a short
    final batch is dropped); with ``batch_size=None`` the next sample, converted."""

    def __init__(self, dataset, collate_fn, batch_size, drop_last):
        self.dataset, self.collate_fn = dataset, collate_fn
        self.batch_size, self.drop_last = batch_size, drop_last
        self.iterator = None

    def reset(self):
        """Start the stream again (a new epoch)."""
        self.iterator = iter(self.dataset)

    def fetch(self, index=None):
        if self.iterator is None:
            self.reset()
        if self.batch_size is None:
            return self.collate_fn(next(self.iterator))
        batch = list(islice(self.iterator, self.batch_size))
        if not batch or (self.drop_last and len(batch) < self.batch_size):
            raise StopIteration
        return self.collate_fn(batch)
