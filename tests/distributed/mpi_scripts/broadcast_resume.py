"""broadcast_parameters makes differently initialised ranks equal (parameters and buffers);
broadcast_optimizer_state copies the optimiser's state; a run resumed on N ranks from a checkpoint
written by rank 0 alone continues bit for bit as the uninterrupted run.

argv[1]: a scratch folder shared by the ranks.
"""
import os
import sys

import numpy as np

import chainrule as cr
from _common import assert_same_on_every_rank, dist, flat_params, say

cr.set_default_dtype(cr.float64)
dist.init()
R, N = dist.rank(), dist.size()
folder = sys.argv[1]


def net():
    return cr.nn.Sequential(cr.nn.Linear(4, 6), cr.nn.BatchNorm1d(6), cr.nn.Tanh(),
                            cr.nn.Linear(6, 1))


# ---- broadcast_parameters -------------------------------------------------------------------
cr.manual_seed(10 + R)
model = net()
model.train()
model(cr.randn(5, 4))                            # running statistics differ per rank too
before = flat_params(model)
dist.broadcast_parameters(model.state_dict(), root_rank=N - 1)
assert_same_on_every_rank(flat_params(model), "broadcast_parameters(state_dict)")
if R == N - 1:
    assert np.array_equal(flat_params(model), before), "the root's model must not change"

cr.manual_seed(20 + R)
other = net()
dist.broadcast_parameters(other.named_parameters())          # parameters only
assert_same_on_every_rank(np.concatenate([p._data.ravel() for p in other.parameters()]),
                          "broadcast_parameters(named_parameters())")
say("ok broadcast_parameters")

# ---- broadcast_optimizer_state --------------------------------------------------------------
cr.manual_seed(1)
m = net()
opt = cr.optim.Adam(m.parameters(), lr=0.01 * (R + 1))
if R == 0:                                      # only the root has stepped: state exists there
    for _ in range(3):
        opt.zero_grad()
        m(cr.randn(8, 4)).pow(2).mean().backward()
        opt.step()
dist.broadcast_parameters(m.state_dict())
dist.broadcast_optimizer_state(opt, root_rank=0)
sd = opt.state_dict()
assert sd["param_groups"][0]["lr"] == 0.01
assert float(sd["state"][0]["step"]) == 3.0
moments = [sd["state"][i][k]._data.ravel() for i in sorted(sd["state"])
           for k in ("exp_avg", "exp_avg_sq")]
assert_same_on_every_rank(np.concatenate(moments), "broadcast_optimizer_state")
say("ok broadcast_optimizer_state")

# ---- resume from a checkpoint ----------------------------------------------------------------
rng = np.random.default_rng(5)
X, Y = rng.standard_normal((64, 4)), rng.standard_normal((64, 1))
STEPS = 8


def train(model, opt, steps):
    for t in steps:
        rows = np.arange(8 * t, 8 * t + 8) % 64
        a, b = dist.shard_range(len(rows))
        opt.zero_grad()
        mine = rows[a:b]
        cr.nn.functional.mse_loss(model(cr.tensor(X[mine])), cr.tensor(Y[mine])).backward()
        opt.step()


def fresh(seed):
    cr.manual_seed(seed)
    model = net()
    dist.broadcast_parameters(model.state_dict())
    return model, dist.DistributedOptimizer(cr.optim.Adam(model.parameters(), lr=0.01))


model, opt = fresh(3)
train(model, opt, range(STEPS))
uninterrupted = flat_params(model)
assert_same_on_every_rank(np.concatenate([p._data.ravel() for p in model.parameters()]),
                          "uninterrupted run")

model, opt = fresh(3)
train(model, opt, range(STEPS // 2))
path = os.path.join(folder, "ckpt.cr")
if dist.is_main_process():                      # one writer, atomically
    cr.save_checkpoint(path, model, opt, epoch=STEPS // 2)
dist.barrier()
model, opt = fresh(99)                          # a new process's state, on every rank
if R == 0:
    epoch, _ = cr.load_checkpoint(path, model, opt)
    assert epoch == STEPS // 2
dist.broadcast_parameters(model.state_dict())
dist.broadcast_optimizer_state(opt)
train(model, opt, range(STEPS // 2, STEPS))
resumed = flat_params(model)
# the weights resume bit for bit on every rank; BatchNorm's running statistics are per rank, and
# the checkpoint holds rank 0's, so they resume exactly on rank 0 only
n_weights = sum(p.numel() for p in model.parameters())
weights = np.concatenate([p._data.ravel() for p in model.parameters()])
assert n_weights < len(resumed)
if R == 0:
    assert np.array_equal(resumed, uninterrupted), \
        f"resumed run differs by up to {np.abs(resumed - uninterrupted).max():.3g}"
assert_same_on_every_rank(weights, "resumed run")
assert sorted(os.listdir(folder)) == ["ckpt.cr"], os.listdir(folder)   # no half-written leftovers
say("ok resume_bit_identical")
