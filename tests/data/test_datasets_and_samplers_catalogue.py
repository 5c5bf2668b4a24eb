"""The catalogue's datasets and samplers: ConcatDataset, StackDataset, IterableDataset, ChainDataset,
Subset, SubsetRandomSampler, WeightedRandomSampler; index streams equal PyTorch's where no random
numbers are involved, and the random ones follow PyTorch's rules (their streams differ: chainrule
draws from its own PCG64 generator)."""
import numpy as np
import pytest

import chainrule as cr
from chainrule.data import (BatchSampler, ChainDataset, ConcatDataset, DataLoader, Dataset,
                            IterableDataset, RandomSampler, SequentialSampler, StackDataset,
                            Subset, SubsetRandomSampler, TensorDataset, WeightedRandomSampler)


def gen(seed=0):
    return cr.Generator().manual_seed(seed)


class Range(IterableDataset):
    def __init__(self, start, stop):
        self.start, self.stop = start, stop

    def __iter__(self):
        return iter(range(self.start, self.stop))


class SizedRange(Range):
    def __len__(self):
        return self.stop - self.start


def test_concat_dataset_indexes_like_torch():
    torch = pytest.importorskip("torch")
    parts = [list(range(3)), list(range(10, 15)), [], list(range(20, 22))]
    ours, theirs = ConcatDataset(parts), torch.utils.data.ConcatDataset(parts)
    assert len(ours) == len(theirs) == 10 and ours.cumulative_sizes == theirs.cumulative_sizes
    assert [ours[i] for i in range(-10, 10)] == [theirs[i] for i in range(-10, 10)]
    a = TensorDataset(cr.arange(4))
    both = a + TensorDataset(cr.arange(10, 12))
    assert isinstance(both, ConcatDataset) and [int(both[i][0]) for i in range(6)] == \
        [0, 1, 2, 3, 10, 11]
    with pytest.raises(IndexError):
        ours[10]
    with pytest.raises(ValueError, match="absolute value of index should not exceed"):
        ours[-11]
    with pytest.raises(ValueError, match="should not be an empty iterable"):
        ConcatDataset([])
    with pytest.raises(TypeError, match="does not support IterableDataset"):
        ConcatDataset([Range(0, 2)])


def test_concat_dataset_batches_through_the_loader():
    ds = ConcatDataset([TensorDataset(cr.arange(5)), TensorDataset(cr.arange(100, 103))])
    got = [b[0].tolist() for b in DataLoader(ds, batch_size=3)]
    assert got == [[0, 1, 2], [3, 4, 100], [101, 102]]


def test_stack_dataset_pairs_samples_like_torch():
    torch = pytest.importorskip("torch")
    a, b = list(range(4)), list("abcd")
    assert StackDataset(a, b)[2] == torch.utils.data.StackDataset(a, b)[2] == (2, "c")
    assert StackDataset(x=a, y=b)[1] == torch.utils.data.StackDataset(x=a, y=b)[1]
    assert len(StackDataset(x=a, y=b)) == 4
    batch = next(iter(DataLoader(StackDataset(x=np.eye(4), y=a), batch_size=2)))
    assert batch["x"].shape == (2, 4) and batch["y"].tolist() == [0, 1]
    with pytest.raises(ValueError, match="Size mismatch between datasets"):
        StackDataset(a, b[:3])
    with pytest.raises(ValueError, match="both types are given"):
        StackDataset(a, y=b)
    with pytest.raises(ValueError, match="At least one dataset should be passed"):
        StackDataset()


def test_iterable_and_chain_datasets():
    chained = Range(0, 3) + Range(10, 12)
    assert isinstance(chained, ChainDataset) and list(chained) == [0, 1, 2, 10, 11]
    assert len(ChainDataset([SizedRange(0, 3), SizedRange(5, 7)])) == 5
    with pytest.raises(TypeError, match="has no len"):
        len(Range(0, 3))
    with pytest.raises(TypeError, match="only supports IterableDataset"):
        list(ChainDataset([[1, 2]]))
    with pytest.raises(NotImplementedError):
        iter(IterableDataset())
    assert isinstance(Range(0, 1), Dataset)


@pytest.mark.parametrize("batch_size, drop_last", [(None, False), (1, False), (4, False),
                                                   (4, True), (20, False)])
def test_loader_over_a_stream_matches_torch(batch_size, drop_last):
    torch = pytest.importorskip("torch")

    class TorchRange(torch.utils.data.IterableDataset):
        def __iter__(self):
            return iter(range(10))

    ours = DataLoader(SizedRange(0, 10), batch_size=batch_size, drop_last=drop_last)
    theirs = torch.utils.data.DataLoader(TorchRange(), batch_size=batch_size, drop_last=drop_last)
    got = [b.tolist() if hasattr(b, "tolist") else b for b in ours]
    want = [b.tolist() if hasattr(b, "tolist") else b for b in theirs]
    assert got == want
    assert len(ours) == len(got)
    with pytest.raises(TypeError):
        len(DataLoader(Range(0, 3)))
    assert "DataLoader(Range, batch_size=1" in repr(DataLoader(Range(0, 3)))


def test_loader_refuses_order_options_for_a_stream():
    for kw, name in [({"shuffle": True}, "shuffle"), ({"sampler": [0]}, "sampler"),
                     ({"batch_sampler": [[0]]}, "batch_sampler")]:
        with pytest.raises(ValueError, match=f"expected unspecified {name} option"):
            DataLoader(Range(0, 3), **kw)


def test_subset_and_deterministic_samplers_match_torch():
    torch = pytest.importorskip("torch")
    data = list(range(100, 110))
    sub, tsub = Subset(data, [3, 1, 8]), torch.utils.data.Subset(data, [3, 1, 8])
    assert [sub[i] for i in range(3)] == [tsub[i] for i in range(3)] and len(sub) == len(tsub)
    TD = torch.utils.data
    for n, bs, drop in [(10, 3, False), (10, 3, True), (7, 7, False), (0, 2, False)]:
        ours = list(BatchSampler(SequentialSampler(range(n)), bs, drop))
        theirs = list(TD.BatchSampler(TD.SequentialSampler(range(n)), bs, drop))
        assert ours == theirs
        assert list(BatchSampler([5, 3, 9, 1], 3, drop)) == list(TD.BatchSampler([5, 3, 9, 1], 3,
                                                                                  drop))


def test_subset_random_sampler_permutes_its_indices_each_epoch():
    torch = pytest.importorskip("torch")
    idx = [7, 3, 11, 5, 0]
    s = SubsetRandomSampler(idx, generator=gen(1))
    first, second = list(s), list(s)
    assert sorted(first) == sorted(second) == sorted(idx) and len(s) == 5
    assert first != second or list(s) != first                  # redrawn each epoch
    again = SubsetRandomSampler(idx, generator=gen(1))
    assert list(again) == first                                 # the same seed, the same order
    tlen = len(torch.utils.data.SubsetRandomSampler(idx))
    assert len(s) == tlen
    loader = DataLoader(TensorDataset(cr.arange(12)), batch_size=2,
                        sampler=SubsetRandomSampler(idx, generator=gen(4)))
    assert sorted(sum((b[0].tolist() for b in loader), [])) == sorted(idx)
    assert sorted(SubsetRandomSampler(["a", "b"], generator=gen())) == ["a", "b"]


def test_weighted_random_sampler_follows_the_weights():
    w = np.array([0.1, 0.0, 0.6, 0.3])
    s = WeightedRandomSampler(w, 20000, generator=gen(2))
    counts = np.bincount(list(s), minlength=4) / 20000
    np.testing.assert_allclose(counts, w, atol=0.015)
    assert counts[1] == 0 and len(s) == 20000
    no_rep = list(WeightedRandomSampler(w, 3, replacement=False, generator=gen(3)))
    assert sorted(no_rep) == [0, 2, 3]
    assert list(WeightedRandomSampler(cr.tensor([0.0, 2.0]), 3, generator=gen())) == [1, 1, 1]


@pytest.mark.parametrize("kwargs, err, match", [
    (dict(weights=[1.0, 2.0], num_samples=0), ValueError, "num_samples should be a positive"),
    (dict(weights=[1.0, 2.0], num_samples=2, replacement=1), ValueError, "replacement should be"),
    (dict(weights=[[1.0, 2.0]], num_samples=2), ValueError, "weights should be a 1d sequence"),
    (dict(weights=[1.0, -2.0], num_samples=2), ValueError, "non-negative"),
    (dict(weights=[0.0, 0.0], num_samples=2), ValueError, "sum of probabilities <= 0"),
    (dict(weights=[1.0, 0.0], num_samples=2, replacement=False), ValueError,
     "cannot draw 2 samples without replacement"),
])
def test_weighted_random_sampler_errors(kwargs, err, match):
    with pytest.raises(err, match=match):
        WeightedRandomSampler(**kwargs)


def test_random_sampler_follows_torch_rules():
    torch = pytest.importorskip("torch")
    for n, k in [(5, None), (5, 12), (5, 3)]:
        ours = list(RandomSampler(range(n), num_samples=k, generator=gen()))
        theirs = list(torch.utils.data.RandomSampler(range(n), num_samples=k))
        assert len(ours) == len(theirs)
        if k is None or k % n == 0:
            assert sorted(ours) == sorted(theirs)
