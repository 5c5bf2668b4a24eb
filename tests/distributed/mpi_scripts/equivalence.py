"""N ranks with DistributedOptimizer train the weights one process trains on the global batches.

Cases: SGD with momentum and weight decay, Adam, a Keras-style SGD with global_clipnorm (clipping
must see the averaged gradient), a model with a parameter that never gets a gradient, tiny buckets
(many Allreduces), uneven shards and an empty shard (weighted by set_sample_count), and a
BatchNorm model, whose statistics are per rank as in plain DDP: its single-process reference runs
every global batch as N "ghost" batches, one per shard, through N replicas sharing the weights.
"""
import copy

import numpy as np

import chainrule as cr
from _common import assert_same_on_every_rank, dist, say

cr.set_default_dtype(cr.float64)
dist.init()
RANK, SIZE = dist.rank(), dist.size()
RTOL = 1e-6

rng = np.random.default_rng(0)
X = rng.standard_normal((48, 5))
Y = X @ rng.standard_normal((5, 2)) + 0.1 * rng.standard_normal((48, 2))


class WithUnused(cr.nn.Module):
    def __init__(self):
        super().__init__()
        self.body = cr.nn.Sequential(cr.nn.Linear(5, 8), cr.nn.Tanh(), cr.nn.Linear(8, 2))
        self.unused = cr.nn.Linear(3, 3)        # no gradient ever: must stay untouched

    def forward(self, x):
        return self.body(x)


def mlp():
    return cr.nn.Sequential(cr.nn.Linear(5, 8), cr.nn.Tanh(), cr.nn.Linear(8, 2))


def bn_net():
    return cr.nn.Sequential(cr.nn.Linear(5, 8), cr.nn.BatchNorm1d(8), cr.nn.ReLU(),
                            cr.nn.Linear(8, 2))


def batches(sizes, seed):
    order = np.random.default_rng(seed).permutation(len(X))
    out, start = [], 0
    for s in sizes:
        out.append(order[start:start + s])
        start += s
    return out


def loss_of(model, rows):
    return cr.nn.functional.mse_loss(model(cr.tensor(X[rows])), cr.tensor(Y[rows]))


def reference(make_model, make_opt, steps):
    """One process, whole global batches."""
    cr.manual_seed(1)
    model = make_model()
    opt = make_opt(model)
    for rows in steps:
        opt.zero_grad()
        loss_of(model, rows).backward()
        opt.step()
    return model


def distributed(make_model, make_opt, steps, **kw):
    """Every rank its shard of each global batch; differently initialised, then broadcast."""
    cr.manual_seed(1 if RANK == 0 else 100 + RANK)     # rank 0 starts as the reference
    model = make_model()
    dist.broadcast_parameters(model.state_dict(), root_rank=0)
    opt = dist.DistributedOptimizer(make_opt(model), model.named_parameters(), **kw)
    for rows in steps:
        start, stop = dist.shard_range(len(rows))
        mine = rows[start:stop]
        opt.zero_grad()
        opt.set_sample_count(len(mine))
        if len(mine):
            loss_of(model, mine).backward()
        opt.step()
    return model


def compare(name, ref, got):
    for (k, a), b in zip(ref.state_dict().items(), got.state_dict().values()):
        np.testing.assert_allclose(b._data, a._data, rtol=RTOL, atol=1e-12, err_msg=f"{name}: {k}")
    assert_same_on_every_rank(np.concatenate([p._data.reshape(-1) for p in got.parameters()]),
                              name)
    say(f"ok {name}")


sgd = lambda m: cr.optim.SGD(m.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-3)
adam = lambda m: cr.optim.Adam(m.parameters(), lr=0.01)
even = batches([8] * 6, seed=1) + batches([8] * 6, seed=2)
uneven = batches([8, 7, 5, 1, 13, 1], seed=3)

compare("sgd_momentum", reference(mlp, sgd, even), distributed(mlp, sgd, even))
compare("adam", reference(mlp, adam, even), distributed(mlp, adam, even))
compare("adam_uneven_and_empty_shards", reference(mlp, adam, uneven),
        distributed(mlp, adam, uneven))
compare("tiny_buckets", reference(mlp, adam, even),
        distributed(mlp, adam, even, bucket_cap_mb=1e-4))


def keras_sgd(m):
    opt = cr.keras.optimizers.SGD(learning_rate=0.05, momentum=0.9, global_clipnorm=0.5)
    return opt.build(m.parameters())


compare("keras_sgd_global_clipnorm", reference(mlp, keras_sgd, even),
        distributed(mlp, keras_sgd, even))

ref_u = reference(WithUnused, adam, even)
got_u = distributed(WithUnused, adam, even)
assert got_u.unused.weight.grad is None, "a parameter without gradients got one"
compare("unused_parameter", ref_u, got_u)


# ---- BatchNorm: per-rank statistics, as plain DDP -------------------------------------------
def bn_reference(steps):
    """One process: each global batch as SIZE ghost batches (the shards), through SIZE replicas
    that share the weights but keep their own running statistics, gradients averaged."""
    cr.manual_seed(1)
    master = bn_net()
    replicas = [copy.deepcopy(master) for _ in range(SIZE)]
    opt = adam(master)
    for rows in steps:
        grads = None
        for r, rep in enumerate(replicas):
            for p, q in zip(master.parameters(), rep.parameters()):
                q._data[...] = p._data
            rep.zero_grad()
            a, b = dist.shard_range(len(rows), r, SIZE)
            loss_of(rep, rows[a:b]).backward()
            g = [p.grad._data.copy() for p in rep.parameters()]
            grads = g if grads is None else [x + y for x, y in zip(grads, g)]
        for p, g in zip(master.parameters(), grads):
            p.grad = cr.tensor(g / SIZE)
        opt.step()
    for p, q in zip(master.parameters(), replicas[RANK].parameters()):
        q._data[...] = p._data
    return replicas[RANK]                 # the weights, with this rank's statistics


bn_model = distributed(bn_net, adam, even)
compare("batchnorm_per_rank_statistics", bn_reference(even), bn_model)
stats = [cr.zeros(8) for _ in range(SIZE)]
dist.all_gather(stats, bn_model[1].running_mean)
assert not np.array_equal(stats[0]._data, stats[1]._data), "running statistics should be per rank"
say("done equivalence")
