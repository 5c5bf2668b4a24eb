"""Run as a plain `python single_process.py CKPT` (no mpiexec): init() makes a world of one rank, a
DistributedOptimizer steps exactly as the optimiser it wraps, and schedulers and checkpoints take
it as the optimiser it is."""
import sys

import numpy as np

import chainrule as cr

dist = cr.distributed
assert dist.launched_size() == 1 and not dist.is_initialized() and dist.is_main_process()
dist.init()
assert (dist.rank(), dist.size(), dist.local_rank()) == (0, 1, 0)
assert dist.is_main_process() and not dist.is_distributed()
t = cr.tensor([2.0, 3.0])
dist.all_reduce(t, "avg")
assert t.tolist() == [2.0, 3.0]
results = []
for wrap in (False, True):
    cr.manual_seed(0)
    model = cr.nn.Linear(3, 1)
    opt = cr.optim.Adam(model.parameters(), lr=0.1)
    if wrap:
        dist.broadcast_parameters(model.state_dict())
        opt = dist.DistributedOptimizer(opt)
    for _ in range(3):
        opt.zero_grad()
        model(cr.ones(4, 3)).pow(2).mean().backward()
        opt.step()
    results.append(np.concatenate([p._data.ravel() for p in model.parameters()]))
assert np.array_equal(results[0], results[1])

# the wrapped optimiser is still an Adam: schedulers and checkpoints take it as one
assert isinstance(opt, cr.optim.Adam) and isinstance(opt, dist.DistributedOptimizer)
sched = cr.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
sched.step()
assert opt.param_groups[0]["lr"] == 0.05
path = sys.argv[1] if len(sys.argv) > 1 else "ckpt.cr"
cr.save_checkpoint(path, model, opt, sched, epoch=1)
model2 = cr.nn.Linear(3, 1)
opt2 = dist.DistributedOptimizer(cr.optim.Adam(model2.parameters(), lr=0.1))
sched2 = cr.optim.lr_scheduler.StepLR(opt2, step_size=1, gamma=0.5)
assert cr.load_checkpoint(path, model2, opt2, sched2).epoch == 1
assert opt2.param_groups[0]["lr"] == 0.05
assert float(opt2.state_dict()["state"][0]["step"]) == 3.0
print("ok single_process")
