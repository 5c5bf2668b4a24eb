"""Split arrays into a training and a test part, optionally keeping the class balance (stratified)."""
import math
import numbers

import numpy as np

from chainrule import random as _random
from chainrule.errors import ArgumentTypeError, ConfigError, DataError, ShapeError
from chainrule.tensor import Tensor


def _length(a, i):
    if isinstance(a, (Tensor, np.ndarray)):
        if a.ndim == 0:
            raise ShapeError(f"train_test_split: array {i} is a scalar (shape ()); expected an array "
                             f"with one entry per sample")
        return a.shape[0]
    try:
        return len(a)
    except TypeError:
        raise ArgumentTypeError(f"train_test_split: array {i} is a {type(a).__name__}, which has no length; "
                                f"expected an array, tensor or list") from None


def _take(a, idx):
    """Rows *idx* of *a*, keeping its type (array, tensor or list)."""
    if isinstance(a, Tensor):
        return Tensor(a._data[idx])
    if isinstance(a, np.ndarray):
        return a[idx]
    return [a[i] for i in idx.tolist()]


def _n_test(test_size, n):
    if isinstance(test_size, bool) or not isinstance(test_size, numbers.Real):
        raise ArgumentTypeError(f"train_test_split: test_size must be a float in (0, 1) or an int count, "
                                f"got {test_size!r}")
    if isinstance(test_size, numbers.Integral):
        if not 1 <= test_size < n:
            raise ConfigError(f"train_test_split: test_size={test_size} must be between 1 and "
                              f"{n - 1} for {n} samples, so both parts are non-empty")
        return int(test_size)
    if not 0.0 < test_size < 1.0:
        raise ConfigError(f"train_test_split: test_size={test_size} as a fraction must be in (0, 1); "
                          f"give an int for a count")
    n_test = math.ceil(test_size * n)  # as scikit-learn
    if not 1 <= n_test < n:
        raise ConfigError(f"train_test_split: test_size={test_size} of {n} samples leaves "
                         f"{n - n_test} for training and {n_test} for test; both must be non-empty")
    return n_test


def _allocate(counts, n_test):
    """Test samples per class, proportional to *counts* (largest remainder; ties to larger classes)."""
    exact = counts * n_test / counts.sum()
    alloc = np.floor(exact).astype(np.int64)
    order = np.lexsort((-counts, -(exact - alloc)))  # largest remainder first, then larger class
    alloc[order[: n_test - alloc.sum()]] += 1
    return alloc


def train_test_split(*arrays, test_size=0.25, stratify=None, shuffle=True, generator=None):
    """Split arrays into random train and test parts, as scikit-learn's ``train_test_split``.

    All *arrays* (NumPy arrays, chainrule tensors or lists) are split with the same rows and
    returned as ``[a_train, a_test, b_train, b_test, ...]``, each keeping its type.

    Args:
        test_size: a float in (0, 1), the fraction of rows for test (rounded up), or an int count.
        stratify: optional class labels (one per row); each class is split in proportion, so
            the class balance of both parts matches the whole (largest-remainder allocation).
        shuffle: when False, the last ``n_test`` rows are the test part (no stratification).
        generator: a ``cr.Generator`` for a reproducible split (default: chainrule's default generator).

    Example::

        >>> import chainrule as cr
        >>> from chainrule.datasets import load_heart_disease
        >>> X, y = load_heart_disease(return_X_y=True)
        >>> g = cr.Generator().manual_seed(0)
        >>> X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.2, stratify=y, generator=g)
        >>> X_tr.shape, X_te.shape, int(y_te.sum())
        ((242, 13), (61, 13), 28)
    """
    if not arrays:
        raise ConfigError("train_test_split: expected at least one array to split, got none")
    lengths = [_length(a, i) for i, a in enumerate(arrays)]
    if len(set(lengths)) != 1:
        raise DataError(f"train_test_split: all arrays must have the same number of rows; got "
                        f"lengths {lengths}")
    n = lengths[0]
    n_test = _n_test(test_size, n)
    if not shuffle:
        if stratify is not None:
            raise ConfigError("train_test_split: stratify needs shuffle=True (a stratified split "
                              "picks rows at random); pass shuffle=True or stratify=None")
        train, test = np.arange(n - n_test), np.arange(n - n_test, n)
    elif stratify is None:
        perm = _random.rng(generator).permutation(n)
        train, test = perm[n_test:], perm[:n_test]
    else:
        train, test = _stratified(stratify, n, n_test, _random.rng(generator))
    return [part for a in arrays for part in (_take(a, train), _take(a, test))]


def _stratified(stratify, n, n_test, rng):
    labels = np.asarray(stratify._data if isinstance(stratify, Tensor) else stratify)
    if labels.shape[:1] != (n,):
        raise DataError(f"train_test_split: stratify must have one label per row ({n}), got "
                        f"shape {labels.shape}")
    axis = 0 if labels.ndim > 1 else None  # rows of a 2-D label array (one-hot) are the classes
    classes, y, counts = np.unique(labels, axis=axis, return_inverse=True, return_counts=True)
    y = y.reshape(-1)
    if counts.min() < 2:
        raise DataError(f"train_test_split: the least populated class {classes[counts.argmin()].tolist()!r} "
                        f"has only 1 member; every class needs at least 2 to appear in both parts")
    if n_test < len(classes) or n - n_test < len(classes):
        raise ConfigError(f"train_test_split: the test part ({n_test}) and the training part "
                          f"({n - n_test}) must each hold at least one row of each of the "
                          f"{len(classes)} classes; change test_size")
    train, test = [], []
    for c, k in enumerate(_allocate(counts, n_test)):
        members = rng.permutation(np.flatnonzero(y == c))
        test.append(members[:k])
        train.append(members[k:])
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))
