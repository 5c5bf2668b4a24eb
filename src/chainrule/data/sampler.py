"""Samplers: the order in which a :class:`~chainrule.data.DataLoader` visits a dataset's indices.

Each sampler iterates over indices; :class:`BatchSampler` groups another sampler's indices into
lists. The random ones (:class:`RandomSampler`, :class:`SubsetRandomSampler`,
:class:`WeightedRandomSampler`) draw from a ``cr.Generator`` (NumPy's PCG64), so their streams
differ from PyTorch's for the same seed; their rules (permutations, weighted draws with or without
replacement) are PyTorch's. The built-in samplers also offer ``_epoch_indices()``, the whole epoch's order as one
array, which lets the loader and BatchSampler slice batches without a Python loop per index.
"""
import numbers

import numpy as np

from chainrule import random as _random
from chainrule.errors import ArgumentTypeError, ConfigError, DataError


class Sampler:
    """The base class of samplers: subclasses define ``__iter__`` (indices) and usually ``__len__``."""

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __iter__(self)")


class SequentialSampler(Sampler):
    """Indices ``0, 1, ..., len(data_source) - 1`` in order.

    Example: ``list(SequentialSampler(range(3)))`` is ``[0, 1, 2]``.
    """

    def __init__(self, data_source):
        self.data_source = data_source

    def _epoch_indices(self):
        return np.arange(len(self.data_source))

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self):
        return len(self.data_source)


class RandomSampler(Sampler):
    """Indices in a random order, drawn afresh from *generator* at the start of every epoch.

    Without replacement each epoch is a permutation (``num_samples`` larger than the data repeats
    whole permutations, as PyTorch); with ``replacement=True`` indices are drawn independently.
    The default generator is chainrule's default generator.

    Example::

        >>> import chainrule as cr
        >>> s = RandomSampler(range(5), generator=cr.Generator().manual_seed(0))
        >>> sorted(s)
        [0, 1, 2, 3, 4]
    """

    def __init__(self, data_source, replacement=False, num_samples=None, generator=None):
        if not isinstance(replacement, bool):
            raise ArgumentTypeError("RandomSampler: replacement must be a bool, got "
                                    f"{replacement!r}")
        if num_samples is None and len(data_source) == 0:
            raise DataError("RandomSampler: cannot shuffle an empty dataset (length 0); give a "
                            "dataset with at least one sample, or use shuffle=False")
        if num_samples is not None and (isinstance(num_samples, bool) or
                                        not isinstance(num_samples, numbers.Integral) or num_samples <= 0):
            raise ConfigError(f"RandomSampler: num_samples must be a positive int, got "
                              f"num_samples={num_samples!r}")
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        _random.rng(generator)  # checks the generator's type now rather than at the first epoch

    @property
    def num_samples(self):
        """How many indices an epoch yields (``len(data_source)`` unless given)."""
        return len(self.data_source) if self._num_samples is None else int(self._num_samples)

    def _epoch_indices(self):
        n, k, rng = len(self.data_source), self.num_samples, _random.rng(self.generator)
        if n == 0:
            raise DataError("RandomSampler: cannot draw from an empty dataset (length 0)")
        if self.replacement:
            return rng.integers(0, n, size=k)
        parts = [rng.permutation(n) for _ in range(k // n)]
        if k % n:
            parts.append(rng.permutation(n)[: k % n])
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def __iter__(self):
        return iter(self._epoch_indices().tolist())

    def __len__(self):
        return self.num_samples


class BatchSampler(Sampler):
    """Group the indices of *sampler* into lists of *batch_size*; the last may be short unless *drop_last*.

    Example::

        >>> list(BatchSampler(SequentialSampler(range(5)), batch_size=2, drop_last=False))
        [[0, 1], [2, 3], [4]]
    """

    def __init__(self, sampler, batch_size, drop_last):
        if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size <= 0:
            raise ConfigError(f"BatchSampler: batch_size must be a positive int, got "
                              f"batch_size={batch_size!r}")
        if not isinstance(drop_last, bool):
            raise ConfigError("BatchSampler: drop_last must be a bool, got "
                              f"drop_last={drop_last!r}")
        self.sampler = sampler
        self.batch_size = int(batch_size)
        self.drop_last = drop_last

    def _index_batches(self):
        """The epoch's batches: integer array slices for the built-in samplers, else lists."""
        bs = self.batch_size
        if hasattr(self.sampler, "_epoch_indices"):
            yield from self._cut(self.sampler._epoch_indices())
            return
        batch = []
        for i in self.sampler:
            batch.append(i)
            if len(batch) == bs:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def _cut(self, order):
        """The batches of one epoch whose whole order is *order*: its slices of ``batch_size``."""
        bs = self.batch_size
        stop = len(order) - len(order) % bs if self.drop_last else len(order)
        for start in range(0, stop, bs):
            yield order[start:start + bs]

    def __iter__(self):
        for idx in self._index_batches():
            yield idx.tolist() if isinstance(idx, np.ndarray) else idx

    def __len__(self):
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)


class SubsetRandomSampler(Sampler):
    """The given *indices* in a random order, drawn afresh from *generator* every epoch.

    Example::

        >>> import chainrule as cr
        >>> sorted(SubsetRandomSampler([7, 3, 5], generator=cr.Generator().manual_seed(0)))
        [3, 5, 7]
    """

    def __init__(self, indices, generator=None):
        self.indices = indices
        self.generator = generator
        _random.rng(generator)

    def _epoch_indices(self):
        perm = _random.rng(self.generator).permutation(len(self.indices))
        ind = np.asarray(self.indices)
        if ind.ndim == 1 and ind.dtype.kind in "iu":
            return ind[perm]
        return [self.indices[i] for i in perm.tolist()]     # indices of any kind, as given

    def __iter__(self):
        order = self._epoch_indices()
        return iter(order.tolist() if isinstance(order, np.ndarray) else order)

    def __len__(self):
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """*num_samples* indices drawn with probabilities proportional to *weights* (with
    replacement by default; without it, each index at most once), as PyTorch's.

    Example::

        >>> import chainrule as cr
        >>> s = WeightedRandomSampler([0.0, 1.0, 0.0], 4, generator=cr.Generator().manual_seed(0))
        >>> list(s)
        [1, 1, 1, 1]
    """

    def __init__(self, weights, num_samples, replacement=True, generator=None):
        if isinstance(num_samples, bool) or not isinstance(num_samples, numbers.Integral) \
                or num_samples <= 0:
            raise ConfigError(f"num_samples should be a positive integer value, but got "
                              f"num_samples={num_samples!r}")
        if not isinstance(replacement, bool):
            raise ConfigError(f"replacement should be a boolean value, but got "
                              f"replacement={replacement!r}")
        w = np.asarray(weights.data if hasattr(weights, "data") and not isinstance(
            weights, np.ndarray) else weights, dtype=np.float64)
        if w.ndim != 1:
            raise ConfigError(f"weights should be a 1d sequence but given weights have shape "
                              f"{tuple(w.shape)}")
        if not np.all(np.isfinite(w)) or (w < 0).any():
            raise DataError("WeightedRandomSampler: invalid multinomial distribution: weights "
                            "must be finite and non-negative")
        if not w.sum() > 0:
            raise DataError("WeightedRandomSampler: invalid multinomial distribution (sum of "
                            "probabilities <= 0)")
        if not replacement and num_samples > int((w > 0).sum()):
            raise DataError(f"WeightedRandomSampler: cannot draw {num_samples} samples without "
                            f"replacement from {int((w > 0).sum())} indices of non-zero weight")
        _random.rng(generator)
        self.weights = w
        self.num_samples = int(num_samples)
        self.replacement = replacement
        self.generator = generator

    def _epoch_indices(self):
        w = self.weights
        return _random.rng(self.generator).choice(len(w), size=self.num_samples,
                                                  replace=self.replacement, p=w / w.sum())

    def __iter__(self):
        return iter(self._epoch_indices().tolist())

    def __len__(self):
        return self.num_samples
