"""DistributedSampler takes num_replicas and rank from the MPI world; the ranks' shards are
disjoint, equally long and cover the data; a DataLoader over it gives each rank its rows."""
import numpy as np

import chainrule as cr
from _common import dist, say

dist.init()
R, N = dist.rank(), dist.size()
data = cr.data.TensorDataset(cr.arange(20).reshape(20, 1).double())
sampler = cr.data.DistributedSampler(data, shuffle=True, seed=3)
assert (sampler.num_replicas, sampler.rank) == (N, R)
for epoch in range(2):
    sampler.set_epoch(epoch)
    mine = cr.tensor(list(sampler))
    everyone = [cr.zeros_like(mine) for _ in range(N)]
    dist.all_gather(everyone, mine)
    joined = np.concatenate([t._data for t in everyone])
    assert sorted(joined.tolist()) == list(range(20)), joined
    loader = cr.data.DataLoader(data, batch_size=4, sampler=sampler)
    rows = np.concatenate([x._data[:, 0] for (x,) in loader]).astype(np.int64)
    assert rows.tolist() == mine.tolist()
say("ok sampler_world")
