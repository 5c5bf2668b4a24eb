import warnings

import numpy as np
import pytest

from chainrule import random as cr_random
from chainrule.data import Dataset, Subset, TensorDataset, random_split
from chainrule.random import Generator
from chainrule.tensor import Tensor


def gen(seed=0):
    return Generator().manual_seed(seed)


def make(n=10):
    return TensorDataset(Tensor(np.arange(n * 2, dtype=np.float32).reshape(n, 2)),
                         Tensor(np.arange(n)))


# ---- Dataset ----------------------------------------------------------------------------------
def test_base_dataset_must_be_subclassed():
    with pytest.raises(NotImplementedError, match="Dataset must define __getitem__"):
        Dataset()[0]
    with pytest.raises(NotImplementedError, match="Dataset must define __len__"):
        len(Dataset())


def test_subclass_dataset():
    class Squares(Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            return i, i * i

    assert Squares()[3] == (3, 9) and len(Squares()) == 4


# ---- TensorDataset ----------------------------------------------------------------------------
def test_tensor_dataset_items_and_length():
    ds = make()
    x, y = ds[3]
    assert len(ds) == 10
    assert isinstance(x, Tensor) and x._data.tolist() == [6.0, 7.0] and x.dtype == np.float32
    assert isinstance(y, Tensor) and y.item() == 3 and y.shape == ()


def test_tensor_dataset_slices_and_index_arrays():
    ds = make()
    x, y = ds[2:5]
    assert x.shape == (3, 2) and y._data.tolist() == [2, 3, 4]
    x, y = ds[np.array([9, 0])]
    assert y._data.tolist() == [9, 0]


def test_tensor_dataset_wraps_arrays_without_copy():
    a = np.zeros((4, 3))
    ds = TensorDataset(a)
    assert isinstance(ds.tensors[0], Tensor) and ds.tensors[0]._data is a


def test_tensor_dataset_index_out_of_range():
    with pytest.raises(IndexError):
        make(3)[3]


def test_tensor_dataset_errors():
    with pytest.raises(ValueError, match=r"same size in the first dimension; got sizes \[10, 9\]"):
        TensorDataset(Tensor(np.zeros((10, 2))), Tensor(np.zeros(9)))
    with pytest.raises(ValueError, match="expected at least one tensor, got none"):
        TensorDataset()
    with pytest.raises(TypeError, match="argument 1 is a list; expected a Tensor or a NumPy array"):
        TensorDataset(Tensor(np.zeros(2)), [1, 2])
    with pytest.raises(ValueError, match="argument 0 is a 0-d tensor"):
        TensorDataset(Tensor(np.float32(1.0)))


# ---- Subset -----------------------------------------------------------------------------------
def test_subset_reads_through_its_indices():
    ds = make()
    sub = Subset(ds, [7, 3, 3])
    assert len(sub) == 3 and sub[0][1].item() == 7 and sub[2][1].item() == 3
    x, y = sub[[0, 1]]
    assert y._data.tolist() == [7, 3]


def test_subset_of_a_list():
    assert Subset(["a", "b", "c"], [2, 0])[0] == "c"


# ---- random_split -----------------------------------------------------------------------------
def _labels(subset):
    return [subset[i][1].item() for i in range(len(subset))]


def test_random_split_int_lengths_partition_the_dataset():
    parts = random_split(make(10), [3, 7], generator=gen())
    assert [len(p) for p in parts] == [3, 7]
    assert all(isinstance(p, Subset) for p in parts)
    assert sorted(_labels(parts[0]) + _labels(parts[1])) == list(range(10))


@pytest.mark.parametrize("n, fractions, expected", [
    (10, [0.33, 0.33, 0.34], [4, 3, 3]),      # floors 3, 3, 3; one left over goes to the first
    (11, [0.5, 0.5], [6, 5]),
    (303, [0.7, 0.15, 0.15], [213, 45, 45]),  # floors 212, 45, 45
    (7, [0.25, 0.25, 0.25, 0.25], [2, 2, 2, 1]),
    (10, [0.7, 0.2, 0.1], [7, 2, 1]),         # sums to 0.9999999999999999
])
def test_random_split_fractions_floor_then_round_robin(n, fractions, expected):
    parts = random_split(range(n), fractions, generator=gen())
    assert [len(p) for p in parts] == expected
    assert sorted(i for p in parts for i in p.indices) == list(range(n))


def test_random_split_is_reproducible():
    a = random_split(range(20), [0.5, 0.5], generator=gen(5))
    b = random_split(range(20), [0.5, 0.5], generator=gen(5))
    c = random_split(range(20), [0.5, 0.5], generator=gen(6))
    assert a[0].indices == b[0].indices and a[0].indices != c[0].indices
    cr_random.manual_seed(1)
    d = random_split(range(20), [10, 10])
    cr_random.manual_seed(1)
    e = random_split(range(20), [10, 10])
    assert d[1].indices == e[1].indices


def test_random_split_zero_length_fraction_warns():
    with pytest.warns(UserWarning, match="split 1 has length 0"):
        parts = random_split(range(2), [0.9, 0.1], generator=gen())
    assert [len(p) for p in parts] == [2, 0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        random_split(range(2), [2, 0], generator=gen())  # explicit ints: no warning


@pytest.mark.parametrize("lengths, err, pattern", [
    ([3, 3], ValueError, r"lengths sum to 6, but the dataset has 10 samples; give ints that sum to 10"),
    ([12, -2], ValueError, r"lengths\[1\] = -2; give non-negative ints"),
    ([1.5, -0.5], ValueError, r"fraction lengths\[0\] = 1.5 is not between 0 and 1"),
    ([0.5, 0.3], ValueError, r"lengths\[0\] = 0.5; give non-negative ints"),
    ([], ValueError, "lengths is empty"),
    (["a", 10], TypeError, r"lengths\[0\] = 'a'; expected an int or a float fraction"),
])
def test_random_split_errors(lengths, err, pattern):
    with pytest.raises(err, match=pattern):
        random_split(range(10), lengths, generator=gen())


def test_random_split_bad_generator():
    with pytest.raises(TypeError, match="expected a cr.Generator"):
        random_split(range(4), [2, 2], generator=42)


def test_random_split_lengths_match_torch():
    torch = pytest.importorskip("torch")
    cases = [(10, [0.33, 0.33, 0.34]), (303, [0.7, 0.15, 0.15]), (7, [0.25] * 4), (11, [0.5, 0.5]),
             (1000, [0.8, 0.2]), (5, [0.1, 0.9]), (97, [0.6, 0.2, 0.2]), (10, [0.7, 0.2, 0.1])]
    for n, fractions in cases:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ours = [len(p) for p in random_split(range(n), fractions, generator=gen())]
            theirs = [len(p) for p in torch.utils.data.random_split(range(n), fractions)]
        assert ours == theirs, (n, fractions)
