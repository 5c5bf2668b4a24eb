"""Ranks whose models differ: broadcast_parameters raises ShapeError on every rank, naming the
first mismatching parameter; a DistributedOptimizer's first step does the same. Rank 0 prints
every rank's message (one writer: the ranks' output streams would interleave)."""
import chainrule as cr
from _common import dist

dist.init()
R = dist.rank()
hidden = 8 if R == 0 else 9                     # rank 1 built a different model
model = cr.nn.Sequential(cr.nn.Linear(4, hidden), cr.nn.ReLU(), cr.nn.Linear(hidden, 1))
try:
    dist.broadcast_parameters(model.state_dict(), root_rank=0)
except cr.ShapeError as e:
    lines = [f"rank {R} broadcast_parameters: {e}"]
else:
    raise AssertionError("broadcast_parameters should have raised")

opt = dist.DistributedOptimizer(cr.optim.SGD(model.parameters(), lr=0.1), model.named_parameters())
model(cr.ones(2, 4)).sum().backward()
try:
    opt.step()
except cr.ShapeError as e:
    lines.append(f"rank {R} DistributedOptimizer: {e}")
else:
    raise AssertionError("the first step should have raised")
everyone = dist.comm().gather(lines, root=0)
if R == 0:
    print("\n".join(line for part in everyone for line in part), flush=True)
