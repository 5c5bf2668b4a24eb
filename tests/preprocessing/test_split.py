import math

import numpy as np
import pytest

from chainrule import random as cr_random
from chainrule.datasets import load_heart_disease
from chainrule.preprocessing import train_test_split
from chainrule.random import Generator
from chainrule.tensor import Tensor


def gen(seed=0):
    return Generator().manual_seed(seed)


def test_default_quarter_is_rounded_up_and_rows_partition():
    idx = np.arange(10)
    train, test = train_test_split(idx, generator=gen())
    assert len(test) == math.ceil(0.25 * 10) == 3 and len(train) == 7
    assert sorted(np.concatenate([train, test]).tolist()) == list(range(10))


def test_int_test_size_is_a_count():
    train, test = train_test_split(np.arange(10), test_size=4, generator=gen())
    assert len(train) == 6 and len(test) == 4


def test_all_arrays_are_split_with_the_same_rows_and_keep_their_type():
    X = np.arange(20).reshape(10, 2)
    y = list(range(10))
    t = Tensor(np.arange(10.0))
    Xtr, Xte, ytr, yte, ttr, tte = train_test_split(X, y, t, test_size=0.3, generator=gen(1))
    assert isinstance(Xtr, np.ndarray) and isinstance(ytr, list) and isinstance(ttr, Tensor)
    np.testing.assert_array_equal(Xtr[:, 0] // 2, ytr)
    np.testing.assert_array_equal(Xte[:, 0] // 2, yte)
    np.testing.assert_array_equal(ttr.data, ytr)
    assert tte.data.dtype == np.float64


def test_same_seed_same_split_different_seed_different():
    a = train_test_split(np.arange(50), generator=gen(3))
    b = train_test_split(np.arange(50), generator=gen(3))
    c = train_test_split(np.arange(50), generator=gen(4))
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[1], c[1])


def test_default_generator_is_used_and_reproducible_after_manual_seed():
    cr_random.manual_seed(7)
    a = train_test_split(np.arange(30))
    cr_random.manual_seed(7)
    b = train_test_split(np.arange(30))
    np.testing.assert_array_equal(a[1], b[1])


def test_no_shuffle_takes_the_last_rows_for_test():
    train, test = train_test_split(np.arange(8), test_size=0.25, shuffle=False)
    assert train.tolist() == [0, 1, 2, 3, 4, 5] and test.tolist() == [6, 7]


def test_stratified_split_keeps_heart_class_balance():
    X, y = load_heart_disease(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.2, stratify=y, generator=gen())
    assert len(yte) == 61 and len(ytr) == 242
    # 139/303 of 61 is 27.98 -> 28 present in test, 33 absent
    assert int(yte.sum()) == 28 and int(ytr.sum()) == 139 - 28
    assert abs(yte.mean() - y.mean()) < 1 / 61 and abs(ytr.mean() - y.mean()) < 1 / 242
    rows = {tuple(np.nan_to_num(r)) for r in np.vstack([Xtr, Xte])}
    assert len(rows) == len({tuple(np.nan_to_num(r)) for r in X})


@pytest.mark.parametrize("seed", range(5))
def test_stratified_allocation_is_proportional_for_three_classes(seed):
    y = np.array([0] * 50 + [1] * 30 + [2] * 20)
    _, yte = train_test_split(y, test_size=0.25, stratify=y, generator=gen(seed))
    counts = np.bincount(yte, minlength=3)
    assert counts.tolist() == [13, 7, 5]  # 12.5, 7.5, 5.0: remainders tie, the larger class wins
    assert len(yte) == 25


def test_stratified_split_reproducible_and_shuffled():
    y = np.array([0, 1] * 20)
    a = train_test_split(np.arange(40), stratify=y, generator=gen(2))
    b = train_test_split(np.arange(40), stratify=y, generator=gen(2))
    np.testing.assert_array_equal(a[0], b[0])
    assert a[0].tolist() != sorted(a[0].tolist())


def test_stratify_accepts_string_labels_and_tensors():
    y = np.array(["a", "b"] * 10)
    _, yte = train_test_split(y, test_size=0.5, stratify=y, generator=gen())
    assert sorted(yte.tolist()) == ["a"] * 5 + ["b"] * 5
    t = Tensor(np.array([0, 1] * 10))
    _, tte = train_test_split(t, test_size=0.5, stratify=t, generator=gen())
    assert int(tte.data.sum()) == 5


@pytest.mark.parametrize("args, kw, err, pattern", [
    ((), {}, ValueError, "expected at least one array to split, got none"),
    ((np.arange(5), np.arange(6)), {}, ValueError, r"same number of rows; got lengths \[5, 6\]"),
    ((np.arange(5),), {"test_size": 1.5}, ValueError, r"test_size=1.5 as a fraction must be in \(0, 1\)"),
    ((np.arange(5),), {"test_size": 0.0}, ValueError, r"must be in \(0, 1\)"),
    ((np.arange(5),), {"test_size": 5}, ValueError, "test_size=5 must be between 1 and 4 for 5 samples"),
    ((np.arange(5),), {"test_size": 0}, ValueError, "between 1 and 4"),
    ((np.arange(5),), {"test_size": "half"}, TypeError, "test_size must be a float in"),
    ((np.arange(5),), {"test_size": True}, TypeError, "test_size must be a float in"),
    ((np.arange(4),), {"stratify": [0, 0, 1, 1], "shuffle": False}, ValueError,
     "stratify needs shuffle=True"),
    ((np.arange(4),), {"stratify": [0, 0, 0, 1]}, ValueError,
     "least populated class 1 has only 1 member"),
    ((np.arange(6),), {"stratify": [0, 0, 1, 1, 2, 2], "test_size": 2}, ValueError,
     r"test part \(2\) and the training part \(4\) must each hold at least one row of each of the 3"),
    ((np.arange(4),), {"stratify": [0, 1]}, ValueError, r"one label per row \(4\), got shape \(2,\)"),
    ((5,), {}, TypeError, "array 0 is a int, which has no length"),
    ((np.array(1.0),), {}, ValueError, r"array 0 is a scalar"),
])
def test_errors(args, kw, err, pattern):
    with pytest.raises(err, match=pattern):
        train_test_split(*args, **kw)


def test_tiny_fraction_rounds_up_to_one_test_row():
    train, test = train_test_split(np.arange(3), test_size=0.01, generator=gen())
    assert len(test) == 1 and len(train) == 2
