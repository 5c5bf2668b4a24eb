"""cr.data.DistributedSampler: PyTorch's index assignment (shuffle=False: exactly torch's), and with
shuffle=True disjoint, covering, equally long shards that change with set_epoch. No MPI needed."""
import numpy as np
import pytest

import chainrule as cr
from chainrule.data import DistributedSampler


@pytest.mark.parametrize("n", [0, 1, 7, 10, 13])
@pytest.mark.parametrize("replicas", [1, 2, 3, 4])
@pytest.mark.parametrize("drop_last", [False, True])
def test_shuffle_false_equals_torch(n, replicas, drop_last):
    torch = pytest.importorskip("torch")
    from torch.utils.data.distributed import DistributedSampler as TorchSampler
    for rank in range(replicas):
        ours = DistributedSampler(range(n), num_replicas=replicas, rank=rank, shuffle=False,
                                  drop_last=drop_last)
        theirs = TorchSampler(range(n), num_replicas=replicas, rank=rank, shuffle=False,
                              drop_last=drop_last)
        assert list(ours) == list(theirs)
        assert len(ours) == len(theirs) and ours.total_size == theirs.total_size


def _shards(n, replicas, epoch=0, seed=0, drop_last=False):
    out = []
    for rank in range(replicas):
        s = DistributedSampler(range(n), num_replicas=replicas, rank=rank, seed=seed,
                               drop_last=drop_last)
        s.set_epoch(epoch)
        out.append(list(s))
    return out


@pytest.mark.parametrize("n,replicas", [(12, 2), (12, 3), (100, 4), (9, 3)])
def test_shuffle_true_shards_are_disjoint_cover_and_equal(n, replicas):
    shards = _shards(n, replicas)
    assert len({len(s) for s in shards}) == 1
    joined = sum(shards, [])
    assert sorted(joined) == list(range(n))               # disjoint and covering
    assert joined != list(range(n)) or n < 3


def test_shuffle_true_pads_by_repeating_to_equal_lengths():
    shards = _shards(10, 4)                                # 10 -> 12: two indices repeated
    assert [len(s) for s in shards] == [3, 3, 3, 3]
    joined = sum(shards, [])
    assert set(joined) == set(range(10)) and len(joined) == 12
    dropped = _shards(10, 4, drop_last=True)               # 10 -> 8: two indices left out
    joined = sum(dropped, [])
    assert [len(s) for s in dropped] == [2] * 4 and len(set(joined)) == 8


def test_set_epoch_changes_the_order_and_seed_repeats_it():
    a, b = _shards(40, 2, epoch=0), _shards(40, 2, epoch=1)
    assert a != b and sorted(sum(a, [])) == sorted(sum(b, []))
    assert _shards(40, 2, epoch=1) == b                    # the same on every rank, every time
    assert _shards(40, 2, seed=1) != a


def test_works_with_dataloader_batches():
    ds = cr.data.TensorDataset(cr.arange(10).reshape(10, 1))
    sampler = DistributedSampler(ds, num_replicas=2, rank=1, shuffle=False)
    loader = cr.data.DataLoader(ds, batch_size=2, sampler=sampler)
    assert [x.data[:, 0].tolist() for (x,) in loader] == [[1, 3], [5, 7], [9]]


def test_bad_arguments_raise_naming_them():
    with pytest.raises(cr.ConfigError, match="Invalid rank 2"):
        DistributedSampler(range(4), num_replicas=2, rank=2)
    with pytest.raises(cr.ConfigError, match="num_replicas"):
        DistributedSampler(range(4), num_replicas=0, rank=0)
    with pytest.raises(cr.ConfigError, match="shuffle"):
        DistributedSampler(range(4), num_replicas=2, rank=0, shuffle="yes")
    with pytest.raises(cr.ConfigError, match="epoch"):
        DistributedSampler(range(4), num_replicas=2, rank=0).set_epoch(-1)


def test_defaults_need_the_mpi_world():
    with pytest.raises(cr.ConfigError, match=r"cr\.distributed\.init\(\)"):
        DistributedSampler(range(4))
