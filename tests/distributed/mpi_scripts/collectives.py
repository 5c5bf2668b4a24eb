"""all_reduce (sum, avg, max, min; float64, float32, float16, int64, bool, non-contiguous),
broadcast, all_gather, barrier, the world's numbers, and the errors of bad arguments."""
import numpy as np

import chainrule as cr
from _common import dist, say

dist.init()
dist.init()                                   # a second call does nothing
R, N = dist.rank(), dist.size()
assert dist.is_initialized() and dist.is_distributed()
assert (R, N) == (dist.get_rank(), dist.get_world_size())
assert dist.is_main_process() == (R == 0)
assert 0 <= dist.local_rank() < dist.local_size() <= N
assert dist.launched_size() == N

ranks = np.arange(N, dtype=np.float64) + 1            # rank r contributes r + 1
for dtype in (cr.float64, cr.float32, cr.float16):
    for op, want in (("sum", ranks.sum()), ("avg", ranks.mean()), ("max", ranks.max()),
                     ("min", ranks.min()), (dist.ReduceOp.SUM, ranks.sum())):
        t = cr.full((2, 3), float(R + 1), dtype=dtype)
        version = t._version
        assert dist.all_reduce(t, op=op) is None
        assert t.dtype == dtype and t._version > version
        np.testing.assert_array_equal(t._data, np.full((2, 3), want, dtype=t._data.dtype), err_msg=op)

t = cr.tensor([R + 1, 10 * (R + 1)])
dist.all_reduce(t, "max")
assert t.tolist() == [N, 10 * N] and t.dtype == cr.int64
b = cr.tensor([R == 0, True])
dist.all_reduce(b, "min")
assert b.tolist() == [N == 1, True]

base = cr.arange(12, dtype=cr.float64).reshape(3, 4) * (R + 1)
col = base.t()                                 # a non-contiguous view
dist.all_reduce(col, "sum")
np.testing.assert_array_equal(col._data, np.arange(12.).reshape(3, 4).T * ranks.sum())

x = cr.full((4,), float(R))
dist.broadcast(x, src=N - 1)
assert x.tolist() == [float(N - 1)] * 4
w = cr.randn(3, 2, dtype=cr.float32) if R == 0 else cr.zeros(3, 2, dtype=cr.float32)
dist.broadcast(w, src=0)
ws = [cr.zeros(3, 2, dtype=cr.float32) for _ in range(N)]
dist.all_gather(ws, w)
assert all(np.array_equal(v._data, ws[0]._data) for v in ws)

parts = [cr.zeros(2, dtype=cr.int64) for _ in range(N)]
dist.all_gather(parts, cr.tensor([R, -R]))
assert [p.tolist() for p in parts] == [[r, -r] for r in range(N)]
dist.barrier()

for call, kind, words in (
        (lambda: dist.all_reduce(cr.tensor([1, 2]), "avg"), cr.DTypeError, "op='avg'"),
        (lambda: dist.all_reduce(cr.tensor([1.0]), "prod"), cr.ConfigError, "op must be one of"),
        (lambda: dist.all_reduce(np.ones(2)), cr.errors.ArgumentTypeError, "must be a cr.Tensor"),
        (lambda: dist.broadcast(cr.ones(2), src=N), cr.ConfigError, "src must be a rank"),
        (lambda: dist.all_gather([cr.ones(2)] * (N + 1), cr.ones(2)), cr.ShapeError,
         f"{N} tensors"),
        (lambda: dist.all_gather([cr.ones(3)] * N, cr.ones(2)), cr.ShapeError, "tensor_list[0]"),
        (lambda: dist.DistributedOptimizer(object()), cr.errors.ArgumentTypeError,
         "expected a cr.optim"),
        (lambda: dist.broadcast_parameters([cr.ones(2)], root_rank=N), cr.ConfigError,
         "root_rank")):
    try:
        call()
    except kind as e:
        assert words in str(e), (words, str(e))
    else:
        raise AssertionError(f"no {kind.__name__} raised ({words})")
opt = dist.DistributedOptimizer(cr.optim.SGD([cr.zeros(2, requires_grad=True)], lr=0.1))
try:
    dist.DistributedOptimizer(opt)
except cr.ConfigError as e:
    assert "already" in str(e)
else:
    raise AssertionError("wrapping twice should raise")
say("ok collectives")
