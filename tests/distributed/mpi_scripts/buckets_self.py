"""GradientBuckets in one process (plain python, MPI's COMM_SELF): buckets start in bucket order as
their gradients complete, passes are counted, and the sums come back into ``.grad``. (A script,
so that the pytest process itself never starts MPI.)"""
import numpy as np
from mpi4py import MPI

import chainrule as cr
from chainrule.distributed.buckets import GradientBuckets
from chainrule.errors import UsageError


def params():
    ps = [cr.tensor(np.full(3, float(i + 1)), requires_grad=True) for i in range(4)]
    for i, p in enumerate(ps):
        p.grad = cr.tensor(np.arange(3.0) + 10 * i)
    return ps


def raises(fn, kind, text):
    try:
        fn()
    except kind as e:
        assert text in str(e), e
        return
    raise AssertionError(f"expected {kind.__name__} saying {text!r}")


# buckets start in order as their gradients complete
ps = params()
plan = GradientBuckets(ps, cap_bytes=1)             # one bucket per parameter, reversed
assert [b.params[0] is p for b, p in zip(plan.buckets, reversed(ps))] == [True] * 4
start = (MPI.COMM_SELF, MPI, 1.0)
plan.grad_ready(ps[1], 1, start)                    # bucket 2 complete, but bucket 0 is not
assert len(plan.requests) == 0
plan.grad_ready(ps[3], 1, start)                    # bucket 0
assert len(plan.requests) == 1
plan.grad_ready(ps[2], 1, start)                    # bucket 1, and then bucket 2 may go too
assert len(plan.requests) == 3
want = [p.grad._data.copy() for p in ps]
plan.reduce(MPI.COMM_SELF, MPI, 1.0, average=True)  # starts bucket 3, waits for all
assert plan.requests == [] and plan.passes == {}
for p, w in zip(ps, want):
    np.testing.assert_array_equal(p.grad._data, w)
print("ok bucket_order")

# passes are counted; one too many raises; the weight must be the one sent
ps = params()
plan = GradientBuckets(ps, cap_bytes=1 << 20)       # one bucket
start = (MPI.COMM_SELF, MPI, 2.0)
for p in ps:
    plan.grad_ready(p, 2, start)                    # the first of two passes: nothing starts
assert plan.requests == []
for p in ps:
    plan.grad_ready(p, 2, start)
assert len(plan.requests) == 1 and plan.weight == 2.0
raises(lambda: plan.grad_ready(ps[0], 2, start), UsageError, "backward_passes_per_step=2")
raises(lambda: plan.reduce(MPI.COMM_SELF, MPI, 1.0), UsageError, "before backward")
plan.discard(MPI)
assert plan.requests == [] and plan.passes == {}
plan.grad_ready(ps[0], 2, None)                     # without start: counted, never started
assert plan.passes == {id(ps[0]): 1} and plan.requests == []
plan.grad_ready(params()[0], 1, start)              # a parameter outside the plan: ignored
assert plan.passes == {id(ps[0]): 1}
print("ok bucket_passes")
