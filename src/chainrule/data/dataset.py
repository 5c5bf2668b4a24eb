"""Datasets, as in ``torch.utils.data``: anything with ``__len__`` and ``__getitem__``.

A sample is read with ``dataset[i]``. :class:`TensorDataset` wraps tensors that share their first
dimension, :class:`Subset` views some indices of another dataset, and :func:`random_split` cuts a
dataset into random non-overlapping subsets.
"""
import math
import numbers
import warnings

import numpy as np

from chainrule import random as _random
from chainrule.errors import ConfigError, DataError, DTypeError, ShapeError
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
                raise DTypeError(f"TensorDataset: argument {i} is a {type(t).__name__}; expected a "
                                 f"Tensor or a NumPy array")
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
        return tuple(Tensor(t.data[index]) for t in self.tensors)

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
        if isinstance(index, list):
            return self.dataset[[self.indices[i] for i in index]]
        return self.dataset[self.indices[index]]

    def __len__(self):
        return len(self.indices)


def _split_lengths(lengths, n):
    """*lengths* as ints summing to *n*: ints as given, or fractions summing to 1 (as PyTorch)."""
    lengths = list(lengths)
    if not lengths:
        raise ConfigError("random_split: lengths is empty; give split sizes or fractions")
    for i, x in enumerate(lengths):
        if isinstance(x, bool) or not isinstance(x, numbers.Real):
            raise DTypeError(f"random_split: lengths[{i}] = {x!r}; expected an int or a float "
                             "fraction")
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
