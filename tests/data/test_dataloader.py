import collections
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chainrule import random as cr_random
from chainrule.data import (BatchSampler, DataLoader, Dataset, RandomSampler, SequentialSampler,
                            TensorDataset, default_collate, default_convert, random_split)
from chainrule.data import dataset as dataset_module
from chainrule.random import Generator
from chainrule.tensor import Tensor


def gen(seed=0):
    return Generator().manual_seed(seed)


def make(n=10):
    return TensorDataset(Tensor(np.arange(n * 2, dtype=np.float32).reshape(n, 2)),
                         Tensor(np.arange(n)))


def labels(loader):
    return [y.data.tolist() for _, y in loader]


class Slow(TensorDataset):
    """A TensorDataset read sample by sample (it overrides __getitem__), so no fast path."""

    def __getitem__(self, i):
        return super().__getitem__(i)


# ---- coverage and order -----------------------------------------------------------------------
def test_sequential_batches():
    loader = DataLoader(make(10), batch_size=4)
    assert len(loader) == 3
    assert labels(loader) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    x, y = next(iter(loader))
    assert x.shape == (4, 2) and x.dtype == np.float32 and y.dtype == np.int64


def test_drop_last_drops_the_short_batch():
    loader = DataLoader(make(10), batch_size=4, drop_last=True)
    assert len(loader) == 2 and labels(loader) == [[0, 1, 2, 3], [4, 5, 6, 7]]


def test_shuffled_epoch_visits_each_sample_once():
    loader = DataLoader(make(23), batch_size=5, shuffle=True, generator=gen())
    seen = sum(labels(loader), [])
    assert sorted(seen) == list(range(23)) and seen != list(range(23))
    assert [len(b) for b in labels(loader)] == [5, 5, 5, 5, 3]


def test_shuffle_with_drop_last_gives_distinct_samples():
    loader = DataLoader(make(23), batch_size=5, shuffle=True, drop_last=True, generator=gen())
    seen = sum(labels(loader), [])
    assert len(seen) == 20 and len(set(seen)) == 20 and len(loader) == 4


def test_same_seed_same_order_new_order_each_epoch():
    a = DataLoader(make(30), batch_size=7, shuffle=True, generator=gen(3))
    b = DataLoader(make(30), batch_size=7, shuffle=True, generator=gen(3))
    first, second = labels(a), labels(a)
    assert first == labels(b) and second == labels(b)
    assert first != second


def test_default_generator_reproducible_after_manual_seed():
    loader = DataLoader(make(30), batch_size=7, shuffle=True)
    cr_random.manual_seed(11)
    a = labels(loader)
    cr_random.manual_seed(11)
    assert labels(loader) == a


@settings(max_examples=200, deadline=None)
@given(n=st.integers(0, 60), batch_size=st.integers(1, 12), shuffle=st.booleans(),
       drop_last=st.booleans(), seed=st.integers(0, 2 ** 32), subset=st.booleans())
def test_property_each_sample_once_per_epoch(n, batch_size, shuffle, drop_last, seed, subset):
    shuffle = shuffle and n > 0
    ds, ids = make(n), list(range(n))  # ids: the labels in the dataset's own order
    if subset and n:
        ds, _ = random_split(ds, [n, 0], generator=gen(seed))
        ids = ds.indices
    loader = DataLoader(ds, batch_size=batch_size, shuffle=shuffle, drop_last=drop_last,
                        generator=gen(seed))
    for _ in range(2):
        batches = labels(loader)
        assert len(batches) == len(loader)
        assert len(loader) == (n // batch_size if drop_last else math.ceil(n / batch_size))
        assert all(len(b) == batch_size for b in batches[:-1])
        assert all(0 < len(b) <= batch_size for b in batches)
        seen = sum(batches, [])
        assert len(seen) == len(set(seen))
        kept = n - n % batch_size if drop_last else n
        assert len(seen) == kept and set(seen) <= set(ids)
        if not shuffle:
            assert seen == ids[:kept]


# ---- fast path --------------------------------------------------------------------------------
def test_fast_path_equals_the_per_sample_path():
    fast = DataLoader(make(17), batch_size=4, shuffle=True, generator=gen(2))
    slow_ds = Slow(*make(17).tensors)
    slow = DataLoader(slow_ds, batch_size=4, shuffle=True, generator=gen(2))
    for (xf, yf), (xs, ys) in zip(fast, slow):
        np.testing.assert_array_equal(xf.data, xs.data)
        np.testing.assert_array_equal(yf.data, ys.data)
        assert xf.dtype == xs.dtype and yf.dtype == ys.dtype


def test_fast_path_does_not_read_samples_one_by_one(monkeypatch):
    def refuse(self, i):
        raise AssertionError("per-sample read")

    ds = make(9)
    monkeypatch.setattr(dataset_module.TensorDataset, "__getitem__", refuse)
    batch = list(DataLoader(ds, batch_size=4, shuffle=True, generator=gen()))
    assert isinstance(batch[0], list) and len(batch) == 3
    parts = random_split(ds, [6, 3], generator=gen())   # a Subset of a TensorDataset too
    assert sorted(sum((y.data.tolist() for _, y in DataLoader(parts[0], batch_size=4)), [])) == \
        sorted(parts[0].indices)


def test_fast_path_through_nested_subsets():
    ds = make(20)
    outer, _ = random_split(ds, [12, 8], generator=gen(1))
    inner, _ = random_split(outer, [5, 7], generator=gen(2))
    got = sum(labels(DataLoader(inner, batch_size=2)), [])
    assert got == [outer.indices[i] for i in inner.indices]


def test_custom_collate_fn_gets_the_samples():
    loader = DataLoader(make(5), batch_size=2, collate_fn=lambda samples: len(samples))
    assert list(loader) == [2, 2, 1]


def test_custom_sampler_sets_the_order():
    loader = DataLoader(make(5), batch_size=2, sampler=[4, 3, 2, 1, 0])
    assert labels(loader) == [[4, 3], [2, 1], [0]] and len(loader) == 3


def test_batch_sampler_sets_the_batches():
    loader = DataLoader(make(6), batch_sampler=[[0, 5], [1, 2, 3]])
    assert labels(loader) == [[0, 5], [1, 2, 3]] and loader.batch_size is None and len(loader) == 2


def test_batch_size_none_yields_single_converted_samples():
    loader = DataLoader([np.zeros(2), np.ones(2)], batch_size=None)
    items = list(loader)
    assert len(loader) == 2 and all(isinstance(t, Tensor) and t.shape == (2,) for t in items)
    x, y = next(iter(DataLoader(make(3), batch_size=None)))
    assert x.shape == (2,) and y.item() == 0


def test_plain_list_dataset_is_collated():
    loader = DataLoader([(1.5, 1), (2.5, 2), (3.5, 3)], batch_size=2)
    (x, y), _ = list(loader)
    assert x.dtype == np.float64 and y.dtype == np.int64 and x.data.tolist() == [1.5, 2.5]


def test_repr():
    assert repr(DataLoader(make(10), batch_size=4)) == \
        "DataLoader(TensorDataset of 10, batch_size=4, drop_last=False, 3 batches)"


# ---- errors -----------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "8"])
def test_batch_size_must_be_a_positive_int(bad):
    with pytest.raises(ValueError, match=f"batch_size must be a positive int.*got batch_size={bad!r}"):
        DataLoader(make(4), batch_size=bad)


def test_empty_dataset_cannot_be_shuffled():
    with pytest.raises(ValueError, match=r"cannot shuffle an empty dataset \(length 0\)"):
        DataLoader(make(0), shuffle=True)
    assert list(DataLoader(make(0), batch_size=3)) == [] and len(DataLoader(make(0))) == 0


@pytest.mark.parametrize("kw, err, pattern", [
    ({"sampler": [0, 1], "shuffle": True}, ValueError, "sampler and shuffle=True cannot be combined"),
    ({"batch_sampler": [[0]], "batch_size": 2}, ValueError, "batch_sampler cannot be combined"),
    ({"batch_sampler": [[0]], "drop_last": True}, ValueError, "batch_sampler cannot be combined"),
    ({"batch_size": None, "drop_last": True}, ValueError, "batch_size=None turns batching off"),
    ({"shuffle": 1}, TypeError, "shuffle must be True or False, got shuffle=1"),
    ({"drop_last": "yes"}, TypeError, "drop_last must be True or False"),
    ({"num_workers": -1}, ValueError, "num_workers must be a non-negative int, got num_workers=-1"),
    ({"collate_fn": 3}, TypeError, "collate_fn must be callable, got int"),
    ({"generator": 0, "shuffle": True}, TypeError, "expected a cr.Generator, got int"),
])
def test_argument_errors(kw, err, pattern):
    with pytest.raises(err, match=pattern):
        DataLoader(make(4), **kw)


def test_dataset_must_be_indexable():
    with pytest.raises(TypeError, match="dataset must define __len__ and __getitem__.*got int"):
        DataLoader(5)


def test_shuffle_none_means_no_shuffle_as_torch():
    assert labels(DataLoader(make(4), batch_size=2, shuffle=None)) == [[0, 1], [2, 3]]


def test_num_workers_is_accepted_for_compatibility():
    assert labels(DataLoader(make(4), batch_size=2, num_workers=2, pin_memory=True)) == [[0, 1], [2, 3]]


# ---- default_collate and default_convert ------------------------------------------------------
def test_collate_tensors_arrays_and_numbers():
    out = default_collate([Tensor(np.ones(3, np.float32)), Tensor(np.zeros(3, np.float32))])
    assert isinstance(out, Tensor) and out.shape == (2, 3) and out.dtype == np.float32
    out = default_collate([np.ones((2, 2)), np.zeros((2, 2))])
    assert out.shape == (2, 2, 2) and out.dtype == np.float64
    assert default_collate([1.0, 2.0]).dtype == np.float64
    assert default_collate([1, 2]).dtype == np.int64
    assert default_collate([True, False]).dtype == np.bool_
    assert default_collate([np.float32(1), np.float32(2)]).dtype == np.float32


def test_collate_recurses_into_containers():
    Point = collections.namedtuple("Point", "x y")
    out = default_collate([{"a": 1, "b": (1.0, "s")}, {"a": 2, "b": (2.0, "t")}])
    assert out["a"].data.tolist() == [1, 2]
    assert isinstance(out["b"], list) and out["b"][1] == ["s", "t"]
    p = default_collate([Point(1, 2.0), Point(3, 4.0)])
    assert isinstance(p, Point) and p.x.data.tolist() == [1, 3]
    lst = default_collate([[1, 2], [3, 4]])
    assert [t.data.tolist() for t in lst] == [[1, 3], [2, 4]]


def test_collate_errors():
    with pytest.raises(ValueError, match=r"different shapes: sample 0 has shape \(3,\), sample 1 has "
                                         r"shape \(4,\)"):
        default_collate([np.zeros(3), np.zeros(4)])
    with pytest.raises(ValueError, match=r"same number of fields; got sizes \[2, 3\]"):
        default_collate([[1, 2], [1, 2, 3]])
    with pytest.raises(TypeError, match="batch must contain tensors.*found object; pass a collate_fn"):
        default_collate([object(), object()])
    with pytest.raises(TypeError, match="found a numpy array of dtype <U1"):
        default_collate([np.array(["a"]), np.array(["b"])])


def test_default_convert():
    x, n = default_convert((np.zeros(2), 1))
    assert isinstance(x, Tensor) and n == 1
    d = default_convert({"a": np.int64(3), "b": "s"})
    assert isinstance(d["a"], Tensor) and d["b"] == "s"
    t = Tensor(np.zeros(1))
    assert default_convert(t) is t
    text = np.array(["a"])
    assert default_convert(text) is text


# ---- samplers ---------------------------------------------------------------------------------
def test_sequential_sampler():
    s = SequentialSampler(range(4))
    assert list(s) == [0, 1, 2, 3] and len(s) == 4


def test_random_sampler_permutes_and_redraws():
    s = RandomSampler(range(10), generator=gen())
    a, b = list(s), list(s)
    assert sorted(a) == list(range(10)) and a != b and len(s) == 10
    assert list(RandomSampler(range(10), generator=gen())) == a


def test_random_sampler_num_samples_and_replacement():
    s = RandomSampler(range(4), num_samples=10, generator=gen())
    out = list(s)
    assert len(out) == 10 and sorted(out[:4]) == [0, 1, 2, 3] and sorted(out[4:8]) == [0, 1, 2, 3]
    r = RandomSampler(range(3), replacement=True, num_samples=50, generator=gen())
    out = list(r)
    assert len(out) == 50 and set(out) == {0, 1, 2}


def test_random_sampler_errors():
    with pytest.raises(ValueError, match="num_samples must be a positive int, got num_samples=0"):
        RandomSampler(range(3), num_samples=0)
    with pytest.raises(TypeError, match="replacement must be a bool"):
        RandomSampler(range(3), replacement=1)
    with pytest.raises(ValueError, match="cannot shuffle an empty dataset"):
        RandomSampler([])


def test_batch_sampler():
    bs = BatchSampler(SequentialSampler(range(5)), batch_size=2, drop_last=False)
    assert list(bs) == [[0, 1], [2, 3], [4]] and len(bs) == 3
    bs = BatchSampler([4, 3, 2, 1, 0], batch_size=2, drop_last=True)
    assert list(bs) == [[4, 3], [2, 1]] and len(bs) == 2
    assert all(isinstance(i, int) for b in BatchSampler(RandomSampler(range(5)), 2, False) for i in b)
    with pytest.raises(ValueError, match="batch_size must be a positive int, got batch_size=0"):
        BatchSampler(range(3), 0, False)
    with pytest.raises(ValueError, match="drop_last must be a bool, got drop_last=None"):
        BatchSampler(range(3), 1, None)


def test_sampler_over_a_custom_dataset():
    class Letters(Dataset):
        def __len__(self):
            return 3

        def __getitem__(self, i):
            return {"x": np.full(2, i, np.float32), "label": "abc"[i]}

    batch = next(iter(DataLoader(Letters(), batch_size=3)))
    assert batch["x"].shape == (3, 2) and batch["label"] == ["a", "b", "c"]


# ---- PyTorch parity ---------------------------------------------------------------------------
def test_len_matches_torch():
    torch = pytest.importorskip("torch")
    for n in (0, 1, 5, 10, 31, 100, 303):
        for batch_size in (1, 3, 7, 32, 64, 500):
            for drop_last in (False, True):
                ours = DataLoader(range(n), batch_size=batch_size, drop_last=drop_last)
                theirs = torch.utils.data.DataLoader(range(n), batch_size=batch_size,
                                                     drop_last=drop_last)
                assert len(ours) == len(theirs), (n, batch_size, drop_last)
                assert [len(b) for b in ours] == [len(b) for b in theirs]
