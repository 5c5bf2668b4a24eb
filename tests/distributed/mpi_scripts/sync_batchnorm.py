"""cr.nn.SyncBatchNorm on 2 ranks equals BatchNorm on the global batch in one process.

* (N, C, H, W) input: each rank's output rows, its input gradient and the summed parameter
  gradients equal BatchNorm2d's on the whole batch; the running statistics too, on every rank.
* Training: Linear → SyncBatchNorm → ReLU → Linear with DistributedOptimizer (Adam) on equal
  shards ends with the weights and running statistics of one process with BatchNorm1d on the
  global batches (float64, rtol 1e-6), identical on every rank; eval() uses them alike.
* convert_sync_batchnorm keeps the parameters; an explicit ProcessGroup of the world works alike.
"""
import numpy as np

import chainrule as cr
from _common import assert_same_on_every_rank, dist, say

cr.set_default_dtype(cr.float64)
dist.init()
RANK, SIZE = dist.rank(), dist.size()
RTOL = 1e-6


def close(got, want, what):
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=1e-12, err_msg=what)


# ---- one layer, 4-D input: forward, backward, running statistics ---------------------------
rng = np.random.default_rng(0)
X = rng.standard_normal((8, 3, 4, 5)) * 2 + 1
W = rng.standard_normal((8, 3, 4, 5))
a, b = dist.shard_range(len(X))
for group in (None, dist.ProcessGroup()):
    ref = cr.nn.BatchNorm2d(3)
    ref.weight.data.copy_(cr.tensor([0.5, 2.0, -1.0]))
    sync = cr.nn.SyncBatchNorm.convert_sync_batchnorm(ref.__class__(3), group)
    sync.weight.data.copy_(ref.weight)
    xg = cr.tensor(X, requires_grad=True)
    yref = ref(xg)
    (yref * cr.tensor(W)).sum().backward()
    xs = cr.tensor(X[a:b], requires_grad=True)
    ys = sync(xs)
    (ys * cr.tensor(W[a:b])).sum().backward()            # the ranks' losses add up to one's
    close(ys._data, yref._data[a:b], "output")
    close(xs.grad._data, xg.grad._data[a:b], "input gradient")
    for p, q in ((sync.weight, ref.weight), (sync.bias, ref.bias)):
        g = p.grad.detach().clone()
        dist.all_reduce(g)                                # the shards' shares sum to the whole
        close(g._data, q.grad._data, "parameter gradient")
    close(sync.running_mean._data, ref.running_mean._data, "running mean")
    close(sync.running_var._data, ref.running_var._data, "running var")
    assert_same_on_every_rank(sync.running_var._data, "running var")
say("ok sync_batchnorm_4d")


# ---- training with DistributedOptimizer ------------------------------------------------------
X2 = rng.standard_normal((48, 5)) * 3
Y2 = X2 @ rng.standard_normal((5, 2))


def net(bn):
    cr.manual_seed(1)
    return cr.nn.Sequential(cr.nn.Linear(5, 8), bn(8), cr.nn.ReLU(), cr.nn.Linear(8, 2))


def loss_of(model, rows):
    return cr.nn.functional.mse_loss(model(cr.tensor(X2[rows])), cr.tensor(Y2[rows]))


order = np.random.default_rng(1).permutation(48)
steps = [order[i:i + 8] for i in range(0, 48, 8)] * 2

ref = net(cr.nn.BatchNorm1d)
ref_opt = cr.optim.Adam(ref.parameters(), lr=0.01)
for rows in steps:
    ref_opt.zero_grad()
    loss_of(ref, rows).backward()
    ref_opt.step()

model = cr.nn.SyncBatchNorm.convert_sync_batchnorm(net(cr.nn.BatchNorm1d))
assert isinstance(model[1], cr.nn.SyncBatchNorm)
dist.broadcast_parameters(model.state_dict())
opt = dist.DistributedOptimizer(cr.optim.Adam(model.parameters(), lr=0.01))
for rows in steps:
    lo, hi = dist.shard_range(len(rows))
    opt.zero_grad()
    loss_of(model, rows[lo:hi]).backward()
    opt.step()
for (k, want), got in zip(ref.state_dict().items(), model.state_dict().values()):
    close(got._data, want._data, k)
    assert_same_on_every_rank(np.asarray(got._data, np.float64).reshape(-1), k)
model.eval()
ref.eval()
close(model(cr.tensor(X2))._data, ref(cr.tensor(X2))._data, "eval output")
say("ok sync_batchnorm_training")
say("done sync_batchnorm")
