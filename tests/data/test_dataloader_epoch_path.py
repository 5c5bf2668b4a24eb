"""The single-process loader's epoch fast path (rows cut with ``take`` from the sampler's whole
epoch order) gives exactly the batches of the per-sample path and of the definition: the same
values, dtypes, shapes and layouts, in the same order, from the same seeds, epoch after epoch."""
import numpy as np
import pytest

from chainrule.data import (BatchSampler, DataLoader, DistributedSampler, RandomSampler,
                            SequentialSampler, SubsetRandomSampler, TensorDataset,
                            WeightedRandomSampler, default_collate, random_split)
from chainrule.data.fetch import rows
from chainrule.random import Generator
from chainrule.tensor import Tensor


def gen(seed=0):
    return Generator().manual_seed(seed)


def arrays(n=23):
    rng = np.random.default_rng(5)
    return (rng.standard_normal((n, 4)).astype(np.float32), np.arange(n, dtype=np.int64),
            rng.standard_normal((n, 2, 3)), np.asfortranarray(rng.standard_normal((n, 3))),
            rng.standard_normal((n, 6))[:, ::2])      # F-ordered and strided columns too


def epochs(loader, k=3):
    return [[[t._data for t in batch] for batch in loader] for _ in range(k)]


def same(a, b):
    assert len(a) == len(b)
    for ea, eb in zip(a, b):
        assert len(ea) == len(eb)
        for ba, bb in zip(ea, eb):
            for x, y in zip(ba, bb):
                assert x.dtype == y.dtype and x.shape == y.shape and x.strides == y.strides
                assert x.tobytes() == y.tobytes()


def loaders(ds_of, **kw):
    """The same loader on the fast path and (``collate_fn=default_collate``) the per-sample path,
    each with its own identically seeded generators."""
    def one(collate):
        seeded = {k: (v() if callable(v) else v) for k, v in kw.items()}
        return DataLoader(ds_of(), collate_fn=collate, **seeded)
    return one(None), one(default_collate)


CASES = {
    "sequential": dict(batch_size=5),
    "shuffle": dict(batch_size=4, shuffle=True, generator=lambda: gen(3)),
    "shuffle_drop_last": dict(batch_size=4, shuffle=True, drop_last=True, generator=lambda: gen(4)),
    "batch_larger_than_data": dict(batch_size=100, shuffle=True, generator=lambda: gen(1)),
    "replacement": dict(batch_size=6, sampler=lambda: RandomSampler(
        range(23), replacement=True, num_samples=40, generator=gen(7))),
    "several_permutations": dict(batch_size=7, sampler=lambda: RandomSampler(
        range(23), num_samples=50, generator=gen(8))),
    "subset_random_uint32": dict(batch_size=3, sampler=lambda: SubsetRandomSampler(
        np.array([20, 3, 7, 11, 0, 5, 9], np.uint32), generator=gen(9))),
    "weighted": dict(batch_size=4, sampler=lambda: WeightedRandomSampler(
        np.linspace(0.1, 2, 23), 30, generator=gen(10))),
    "distributed_strided": dict(batch_size=3, sampler=lambda: DistributedSampler(
        range(23), num_replicas=3, rank=1, shuffle=True, seed=2)),
    "sequential_sampler": dict(batch_size=6, drop_last=True, sampler=lambda: SequentialSampler(range(23))),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_epoch_path_equals_the_per_sample_path(case):
    fast, slow = loaders(lambda: TensorDataset(*arrays()), **CASES[case])
    same(epochs(fast), epochs(slow))


@pytest.mark.parametrize("case", ["sequential", "shuffle", "shuffle_drop_last", "replacement"])
def test_epoch_path_through_subsets_equals_the_per_sample_path(case):
    def ds():
        outer, _ = random_split(TensorDataset(*arrays(40)), [30, 10], generator=gen(1))
        inner, _ = random_split(outer, [23, 7], generator=gen(2))
        return inner
    fast, slow = loaders(ds, **CASES[case])
    same(epochs(fast), epochs(slow))


def test_shuffled_batches_are_the_seeded_permutations():
    """The definition: epoch e's batches are rows of PCG64(seed)'s e-th permutation, in slices."""
    X, y = arrays()[:2]
    loader = DataLoader(TensorDataset(X, y), batch_size=5, shuffle=True, generator=gen(11))
    rng = np.random.Generator(np.random.PCG64(11))
    for _ in range(4):
        order = rng.permutation(len(X))
        got = list(loader)
        assert len(got) == 5
        for k, (xb, yb) in enumerate(got):
            idx = order[5 * k:5 * k + 5]
            assert xb.numpy().tobytes() == X[idx].tobytes() and yb.data.tolist() == idx.tolist()


def test_custom_batch_sampler_and_list_orders_keep_their_path():
    X, y = arrays()[:2]
    ds = TensorDataset(X, y)
    batches = [[3, 1], [22, 0, 5], [-1]]
    got = [yb.data.tolist() for _, yb in DataLoader(ds, batch_sampler=batches)]
    assert got == [[3, 1], [22, 0, 5], [22]]
    sampler = SubsetRandomSampler([4, 2, 9], generator=gen(0))        # a list order
    fast = [yb.data.tolist() for _, yb in DataLoader(ds, batch_size=2, sampler=sampler)]
    assert sorted(sum(fast, [])) == [2, 4, 9]


def test_out_of_range_index_fails_at_its_batch():
    ds = TensorDataset(*arrays(5)[:2])
    it = iter(DataLoader(ds, batch_size=2, sampler=SequentialSampler(range(7))))
    assert next(it)[1].data.tolist() == [0, 1]
    next(it)
    with pytest.raises(IndexError, match="out of bounds"):
        next(it)


def test_rows_is_fancy_indexing():
    idx = np.array([4, 0, 4, -1])
    for a in arrays(6):
        r = rows(a, idx)
        assert r.tobytes() == a[idx].tobytes() and r.strides == a[idx].strides and r.dtype == a.dtype
    with pytest.raises(IndexError):
        rows(arrays(6)[0], np.array([6]))
    t = Tensor(np.arange(6.0).reshape(3, 2))
    assert rows(t._data, np.array([2])).tolist() == [[4.0, 5.0]]


def test_random_sampler_epoch_draws_unchanged():
    """One permutation per epoch, drawn straight from the generator (no extra draws)."""
    s = RandomSampler(range(9), generator=gen(6))
    rng = np.random.Generator(np.random.PCG64(6))
    for _ in range(3):
        assert s._epoch_indices().tolist() == rng.permutation(9).tolist()
    b = BatchSampler(s, 4, False)
    assert [len(x) for x in b] == [4, 4, 1]
