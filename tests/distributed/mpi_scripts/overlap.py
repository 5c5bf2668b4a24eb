"""Gradient buckets start during backward (post-accumulate-grad hooks), and nothing else changes.

* From the second step on (the first compares the ranks' layouts), the buckets of the last layers
  are on the wire before backward reaches the first layer: the hook on the first hidden activation
  sees buckets started, and when backward returns every bucket has started.
* The weights are bit for bit those of the same run with the buckets started at ``step`` (how
  the averaging worked before the hooks), on even, uneven and empty shards with tiny buckets,
  and equal to one process on the global batches (rtol 1e-6).
* Gradient accumulation (``backward_passes_per_step=2``) starts the buckets during the second
  pass and equals one process accumulating the two global micro-batches; one pass too many
  raises UsageError on every rank (and ``zero_grad`` recovers); ``zero_grad`` between passes
  drops the first; ``set_sample_count`` after the buckets went out raises. With a single bucket
  there is nothing to overlap: no hooks, and any number of passes adds up.
* Collectives of the user's between backward and step (an ``all_reduce`` of the loss) come
  after the buckets on one rank and before them on a rank with an empty shard: the buckets have a
  communicator of their own, so MPI's rule (the same collectives in the same order on every rank,
  per communicator) holds.
"""
import numpy as np

import chainrule as cr
from _common import assert_same_on_every_rank, dist, say

cr.set_default_dtype(cr.float64)
dist.init()
RANK, SIZE = dist.rank(), dist.size()
UsageError = cr.errors.UsageError

rng = np.random.default_rng(0)
X = rng.standard_normal((64, 6))
Y = X @ rng.standard_normal((6, 3)) + 0.1 * rng.standard_normal((64, 3))


def mlp():
    cr.manual_seed(3)
    return cr.nn.Sequential(cr.nn.Linear(6, 16), cr.nn.Tanh(), cr.nn.Linear(16, 16),
                            cr.nn.Tanh(), cr.nn.Linear(16, 16), cr.nn.Tanh(), cr.nn.Linear(16, 3))


def batches(sizes, seed):
    order = np.random.default_rng(seed).permutation(len(X))
    out, start = [], 0
    for s in sizes:
        out.append(order[start:start + s])
        start += s
    return out


def loss_of(model, rows, events=None):
    """The MSE of *model* on *rows*; with *events*, the number of buckets started when
    backward reaches the first hidden activation (before layer 0's backward) is recorded."""
    h = model[1](model[0](cr.tensor(X[rows])))
    if events is not None:
        h.register_hook(lambda g: events.append(("first layer", started(model.opt))))
    out = h
    for layer in list(model)[2:]:
        out = layer(out)
    return cr.nn.functional.mse_loss(out, cr.tensor(Y[rows]))


def started(opt):
    return len(opt._sync.buckets.requests)


def train(steps, overlap=True, passes=1, events=None, **kw):
    """Every rank its shard of each global batch (a step: a list of micro-batches)."""
    model = mlp()
    opt = dist.DistributedOptimizer(cr.optim.SGD(model.parameters(), lr=0.05, momentum=0.9),
                                    model.named_parameters(), backward_passes_per_step=passes,
                                    **kw)
    opt._sync.overlap = overlap
    model.opt = opt
    for micro in steps:
        opt.zero_grad()
        mine = []
        for rows in micro:
            a, b = dist.shard_range(len(rows))
            mine.append(rows[a:b])
        opt.set_sample_count(len(mine[0]))
        for rows in mine:
            if len(rows):
                loss_of(model, rows, events).backward()
                if events is not None:
                    events.append(("backward returned", started(opt)))
        opt.step()
    return model


def reference(steps):
    """One process: the global micro-batches' gradients accumulated, then one step."""
    model = mlp()
    opt = cr.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    for micro in steps:
        opt.zero_grad()
        for rows in micro:
            loss_of(model, rows).backward()
        opt.step()
    return model


def flat(model):
    return np.concatenate([p._data.reshape(-1) for p in model.parameters()])


def check(name, got, want_bits=None, ref=None):
    if want_bits is not None and not np.array_equal(flat(got), flat(want_bits)):
        raise AssertionError(f"{name}: overlapped run differs from the run reduced at step() by "
                             f"{np.abs(flat(got) - flat(want_bits)).max():.3g}")
    if ref is not None:
        np.testing.assert_allclose(flat(got), flat(ref), rtol=1e-6, atol=1e-12, err_msg=name)
    assert_same_on_every_rank(flat(got), name)
    say(f"ok {name}")


# ---- the buckets start before backward ends ------------------------------------------------
even = [[rows] for rows in batches([16] * 4, seed=1)]
events = []
model = train(even, events=events, bucket_cap_mb=1e-4)      # a bucket per parameter
n_buckets = len(model.opt._sync.buckets.buckets)
assert n_buckets == 8, n_buckets
first, later = events[:2], events[2:]
assert first == [("first layer", 0), ("backward returned", 0)], first   # step 1: layouts checked
for i in range(0, len(later), 2):
    (what, at_first_layer), (_, at_return) = later[i], later[i + 1]
    # the six buckets of layers 3, 2 and 1 are out before layer 0's backward has run
    assert what == "first layer" and at_first_layer >= 6, later
    assert at_return == n_buckets, later
say("ok buckets_start_during_backward")

# ---- bit for bit the run reduced at step(), and one process --------------------------------
for name, sizes in (("even", [16] * 4), ("uneven_and_empty", [16, 7, 1, 13, 1, 9])):
    steps = [[rows] for rows in batches(sizes, seed=2)]
    for cap in (4.0, 1e-4):
        check(f"bit_identical_{name}_cap{cap:g}", train(steps, bucket_cap_mb=cap),
              want_bits=train(steps, overlap=False, bucket_cap_mb=cap), ref=reference(steps))

# ---- gradient accumulation -----------------------------------------------------------------
micro = batches([8] * 8, seed=4)
acc_steps = [micro[i:i + 2] for i in range(0, 8, 2)]
events = []
got = train(acc_steps, passes=2, events=events, bucket_cap_mb=1e-4)
passes = [e for e in events if e[0] == "backward returned"]
# step 1 compares the layouts; then nothing goes out in the first pass, everything in the second
assert [n for _, n in passes] == [0, 0, 0, 8, 0, 8, 0, 8], passes
check("backward_passes_per_step_2", got, want_bits=train(acc_steps, passes=2, overlap=False),
      ref=reference(acc_steps))

model = mlp()
opt = dist.DistributedOptimizer(cr.optim.SGD(model.parameters(), lr=0.05), bucket_cap_mb=1e-3)
assert len(opt._sync.buckets.buckets) > 1 and len(opt._sync.handles) == 8
rows = batches([16], seed=5)[0]
a, b = dist.shard_range(len(rows))
for step in range(2):
    opt.zero_grad()
    loss_of(model, rows[a:b]).backward()
    opt.step()
opt.zero_grad()
loss_of(model, rows[a:b]).backward()
try:
    loss_of(model, rows[a:b]).backward()          # a second pass, with one declared
    raise AssertionError("a second backward pass before step() should raise")
except UsageError as e:
    assert "backward_passes_per_step=1" in str(e), e
opt.zero_grad()                                   # drops both passes (and the sent buckets)
loss_of(model, rows[:1]).backward()               # a pass to drop
opt.zero_grad()
loss_of(model, rows[a:b]).backward()
before = flat(model)
opt.step()
ref = mlp()
ref_opt = cr.optim.SGD(ref.parameters(), lr=0.05)
for step in range(3):
    ref_opt.zero_grad()
    loss_of(ref, rows).backward()
    ref_opt.step()
check("zero_grad_drops_passes", model, ref=ref)

opt.zero_grad()
loss_of(model, rows[a:b]).backward()              # buckets out with weight 1
try:
    opt.set_sample_count(b - a)
    raise AssertionError("set_sample_count after the buckets went out should raise")
except UsageError as e:
    assert "before backward" in str(e), e
opt.step()
say("ok usage_errors")

# ---- one bucket: nothing to overlap, no hooks, any number of backward passes adds up -----------
one = dist.DistributedOptimizer(cr.optim.SGD(mlp().parameters(), lr=0.05))
assert len(one._sync.buckets.buckets) == 1 and one._sync.handles == []
check("one_bucket_accumulates_freely", train(acc_steps), ref=reference(acc_steps))

# ---- hooks go with their optimiser ---------------------------------------------------------
from chainrule.tensor import _post_acc_hooks                                 # noqa: E402
model = mlp()
plain = cr.optim.SGD(model.parameters(), lr=0.05)
first = dist.DistributedOptimizer(plain, bucket_cap_mb=1e-4)
assert all(len(_post_acc_hooks[id(p)][1]) == 1 for p in model.parameters())
again = dist.DistributedOptimizer(plain, bucket_cap_mb=1e-4)        # wrapped again: one set
assert all(len(_post_acc_hooks[id(p)][1]) == 1 for p in model.parameters())
del first, again, plain
assert not any(id(p) in _post_acc_hooks for p in model.parameters())   # gone with the optimiser
say("ok hooks_follow_the_optimizer")

# ---- the user's collectives between backward and step, with an empty shard ------------------
model = mlp()
opt = dist.DistributedOptimizer(cr.optim.SGD(model.parameters(), lr=0.05), bucket_cap_mb=1e-4)
ref = mlp()
ref_opt = cr.optim.SGD(ref.parameters(), lr=0.05)
for step, rows in enumerate(batches([16, 1, 16, 1], seed=6)):
    a, b = dist.shard_range(len(rows))
    opt.zero_grad()
    opt.set_sample_count(b - a)
    loss = cr.zeros(())
    if b > a:
        loss = loss_of(model, rows[a:b])
        loss.backward()
        assert step == 0 or started(opt) == len(opt._sync.buckets.buckets)   # all on the wire
    total = loss.detach() * (b - a)
    dist.all_reduce(total)                        # between backward and step, on every rank
    opt.step()
    ref_opt.zero_grad()
    ref_loss = loss_of(ref, rows)
    ref_loss.backward()
    ref_opt.step()
    np.testing.assert_allclose(total.item() / len(rows), ref_loss.item(), rtol=1e-9)
check("user_collectives_between_backward_and_step", model, ref=ref)
say("done overlap")
