"""Datasets, as in ``torch.utils.data``: anything with ``__len__`` and ``__getitem__``.

A sample is read with ``dataset[i]``. :class:`TensorDataset` wraps tensors that share their first
dimension, :class:`Subset` views some indices of another dataset, and :func:`random_split` cuts a
dataset into random non-overlapping subsets. :class:`ConcatDataset` (``a + b``) puts datasets end
to end and :class:`StackDataset` pairs them sample by sample. An :class:`IterableDataset` is a
stream, read with ``iter``; :class:`ChainDataset` (``a + b``) reads streams one after another.
"""
import bisect
import math
import numbers
import warnings

import numpy as np

from chainrule import random as _random
from chainrule.errors import (ArgumentTypeError, ConfigError, DataError, IndexOutOfRangeError,
                              ShapeError)
from chainrule.tensor import Tensor


class Dataset:
    """The base class of map-style datasets: subclasses define ``__getitem__`` and ``__len__``.

    Example::

        >>> class Squares(Dataset):
        ...     def __len__(self):
        ...         return 10
        ...     def __getitem__(self, i):
        ...         return i, i * i
        >>> Squares()[3]
        (3, 9)
    """

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__(self, index)")

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __len__(self)")

    def __add__(self, other):
        return ConcatDataset([self, other])


class TensorDataset(Dataset):
    """A dataset of tensors that share their first dimension; sample ``i`` is ``(t[i] for t in tensors)``.

    NumPy arrays are accepted and wrapped as tensors (without a copy). Samples are views on the
    stored values and are not recorded by autograd.

    Example::

        >>> import chainrule as cr
        >>> ds = TensorDataset(cr.randn(100, 3), cr.zeros(100))
        >>> x, y = ds[0]
        >>> len(ds), x.shape
        (100, (3,))
    """

    def __init__(self, *tensors):
        if not tensors:
            raise ConfigError("TensorDataset: expected at least one tensor, got none")
        wrapped = []
        for i, t in enumerate(tensors):
            if isinstance(t, np.ndarray):
                t = Tensor(t)
            if not isinstance(t, Tensor):
                raise ArgumentTypeError(f"TensorDataset: argument {i} is a {type(t).__name__}; "
                                        "expected a Tensor or a NumPy array")
            if t.ndim == 0:
                raise ShapeError(f"TensorDataset: argument {i} is a 0-d tensor; every tensor needs "
                                 "a "
                                 f"first dimension indexing the samples")
            wrapped.append(t)
        sizes = [t.shape[0] for t in wrapped]
        if len(set(sizes)) != 1:
            raise DataError(f"TensorDataset: all tensors must have the same size in the first "
                            f"dimension; got sizes {sizes}")
        self.tensors = tuple(wrapped)

    def __getitem__(self, index):
        try:
            return tuple(Tensor(t._data[index]) for t in self.tensors)
        except IndexError as e:
            raise IndexOutOfRangeError(f"TensorDataset: index {index!r} is out of range for a "
                                       f"dataset of {len(self)} samples ({e})") from None

    def __len__(self):
        return self.tensors[0].shape[0]


class Subset(Dataset):
    """The samples of *dataset* at *indices*, in that order: ``Subset(ds, [4, 2])[0] is ds[4]``.

    Example::

        >>> import chainrule as cr
        >>> sub = Subset(TensorDataset(cr.arange(10)), [7, 3])
        >>> len(sub), sub[0][0].item()
        (2, 7)
    """

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = indices

    def __getitem__(self, index):
        try:
            picked = [self.indices[i] for i in index] if isinstance(index, list) \
                else self.indices[index]
        except IndexError:
            raise IndexOutOfRangeError(f"Subset: index {index!r} is out of range for a subset of "
                                       f"{len(self)} samples") from None
        return self.dataset[picked]

    def __len__(self):
        return len(self.indices)


def _split_lengths(lengths, n):
    """*lengths* as ints summing to *n*: ints as given, or fractions summing to 1 (as PyTorch)."""
    lengths = list(lengths)
    if not lengths:
        raise ConfigError("random_split: lengths is empty; give split sizes or fractions")
    for i, x in enumerate(lengths):
        if isinstance(x, bool) or not isinstance(x, numbers.Real):
            raise ArgumentTypeError(f"random_split: lengths[{i}] = {x!r}; expected an int or a "
                                    "float fraction")
    total = sum(lengths)
    if not all(isinstance(x, numbers.Integral) for x in lengths) and math.isclose(total, 1.0):
        for i, frac in enumerate(lengths):
            if not 0 <= frac <= 1:
                raise ConfigError(f"random_split: fraction lengths[{i}] = {frac} is not between 0 "
                                  "and 1")
        sizes = [math.floor(n * frac) for frac in lengths]
        for i in range(n - sum(sizes)):  # the remainder, one each, round-robin from the first
            sizes[i % len(sizes)] += 1
        for i, size in enumerate(sizes):
            if size == 0:
                warnings.warn(f"random_split: split {i} has length 0; it will be an empty dataset",
                              stacklevel=3)
        return sizes
    for i, x in enumerate(lengths):
        if not isinstance(x, numbers.Integral) or x < 0:
            raise ConfigError(f"random_split: lengths[{i}] = {x!r}; give non-negative ints that "
                              "sum "
                              f"to the dataset's length ({n}) or fractions that sum to 1")
    if total != n:
        raise ConfigError(f"random_split: lengths sum to {total}, but the dataset has {n} samples; "
                          f"give ints that sum to {n} or fractions that sum to 1")
    return [int(x) for x in lengths]


def random_split(dataset, lengths, generator=None):
    """Split *dataset* at random into non-overlapping :class:`Subset` s of the given *lengths*.

    *lengths* are ints that sum to ``len(dataset)``, or fractions that sum to 1: then each split
    gets ``floor(frac * len(dataset))`` samples and the remainder is handed out one at a time,
    round-robin from the first split, as in PyTorch. *generator* (a ``cr.Generator``) makes the
    split reproducible; by default chainrule's default generator is used.

    Example::

        >>> import chainrule as cr
        >>> train, val = random_split(range(10), [0.8, 0.2], generator=cr.Generator().manual_seed(0))
        >>> len(train), len(val)
        (8, 2)
    """
    n = len(dataset)
    sizes = _split_lengths(lengths, n)
    perm = _random.rng(generator).permutation(n).tolist()
    bounds = np.cumsum([0] + sizes).tolist()
    return [Subset(dataset, perm[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]


class IterableDataset(Dataset):
    """The base class of stream datasets: subclasses define ``__iter__``, yielding samples.

    With ``num_workers > 0`` every worker process iterates its own copy: shard the stream in
    ``__iter__`` with :func:`~chainrule.data.get_worker_info` (or each sample comes once per worker).

    Example::

        >>> class Count(IterableDataset):
        ...     def __iter__(self):
        ...         return iter(range(3))
        >>> list(Count() + Count())
        [0, 1, 2, 0, 1, 2]
    """

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __iter__(self)")

    def __len__(self):
        # a stream has no length unless its class gives one; TypeError, as for len() of any
        # object without one (``list(ds)`` then simply iterates)
        raise ArgumentTypeError(f"object of type {type(self).__name__!r} has no len()")

    def __add__(self, other):
        return ChainDataset([self, other])


def _check_iterable(ds):
    if not isinstance(ds, IterableDataset):
        raise ArgumentTypeError(f"ChainDataset only supports IterableDataset, got {type(ds).__name__}")
    return ds


class ChainDataset(IterableDataset):
    """The streams of *datasets* one after another (``len`` is the sum of theirs).

    Example: ``list(ChainDataset([a, b]))`` is ``list(a) + list(b)``.
    """

    def __init__(self, datasets):
        self.datasets = datasets

    def __iter__(self):
        for d in self.datasets:
            yield from _check_iterable(d)

    def __len__(self):
        return sum(len(_check_iterable(d)) for d in self.datasets)


class ConcatDataset(Dataset):
    """Map-style *datasets* end to end: index i reads the dataset whose range holds it.

    Example::

        >>> ds = ConcatDataset([range(3), range(10, 12)])
        >>> len(ds), ds[3], ds[-1], ds.cumulative_sizes
        (5, 10, 11, [3, 5])
    """

    @staticmethod
    def cumsum(sequence):
        """The running totals of the lengths of *sequence*'s datasets."""
        out, total = [], 0
        for d in sequence:
            total += len(d)
            out.append(total)
        return out

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ConfigError("ConcatDataset: datasets should not be an empty iterable")
        for i, d in enumerate(self.datasets):
            if isinstance(d, IterableDataset):
                raise ArgumentTypeError(f"ConcatDataset does not support IterableDataset (datasets[{i}] "
                                 f"is a {type(d).__name__}); use ChainDataset")
        self.cumulative_sizes = self.cumsum(self.datasets)

    def __len__(self):
        return self.cumulative_sizes[-1]

    def __getitem__(self, idx):
        n = len(self)
        if idx < 0:
            if -idx > n:
                raise ConfigError("absolute value of index should not exceed dataset length")
            idx += n
        if idx >= n:
            raise IndexOutOfRangeError(f"ConcatDataset: index {idx} is out of range for "
                                       f"{n} samples")
        d = bisect.bisect_right(self.cumulative_sizes, idx)
        return self.datasets[d][idx if d == 0 else idx - self.cumulative_sizes[d - 1]]


class StackDataset(Dataset):
    """Datasets of one length read together: sample i is ``(a[i], b[i])`` (positional datasets)
    or ``{"x": a[i], "y": b[i]}`` (keyword datasets).

    Example::

        >>> StackDataset(x=range(3), y=range(10, 13))[1]
        {'x': 1, 'y': 11}
    """

    def __init__(self, *args, **kwargs):
        if args and kwargs:
            raise ConfigError("Supported either ``tuple``- (via ``args``) or``dict``- (via "
                              "``kwargs``) like input/output, but both types are given.")
        if not args and not kwargs:
            raise ConfigError("At least one dataset should be passed")
        datasets = args or kwargs
        lengths = [len(d) for d in (args or kwargs.values())]
        if len(set(lengths)) != 1:
            raise DataError(f"Size mismatch between datasets: lengths {lengths}")
        self._length = lengths[0]
        self.datasets = datasets

    def __getitem__(self, index):
        if isinstance(self.datasets, dict):
            return {k: d[index] for k, d in self.datasets.items()}
        return tuple(d[index] for d in self.datasets)

    def __len__(self):
        return self._length
