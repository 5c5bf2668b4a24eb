"""cr.distributed without an MPI job: what runs in one process, and the error without mpi4py."""
import os
import subprocess
import sys

import numpy as np
import pytest

import chainrule as cr
from chainrule.distributed.buckets import GradientBuckets
from chainrule.distributed.agreement import first_difference, signature

dist = cr.distributed
SRC = os.path.join(os.path.dirname(__file__), os.pardir, os.pardir, "src")


def _python(code):
    env = dict(os.environ, PYTHONPATH=os.path.abspath(SRC))
    for name in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE", "PMIX_SIZE"):
        env.pop(name, None)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          timeout=60)


def test_import_chainrule_does_not_import_mpi4py():
    out = _python("import sys, chainrule as cr; print('mpi4py' in sys.modules, "
                  "cr.distributed.is_initialized(), cr.distributed.is_main_process())")
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "False", "True"]


def test_init_without_mpi4py_says_what_to_install():
    out = _python("import sys; sys.modules['mpi4py'] = None\n"
                  "import chainrule as cr\n"
                  "try:\n    cr.distributed.init()\n"
                  "except ImportError as e:\n    print(e)\n")
    assert out.returncode == 0, out.stderr
    assert "pip install chainrule[mpi]" in out.stdout


def test_before_init_the_world_questions_raise_and_main_process_is_true():
    assert dist.is_main_process() and not dist.is_initialized() and not dist.is_distributed()
    for fn in (dist.rank, dist.size, dist.get_rank, dist.get_world_size, dist.local_rank,
               dist.barrier):
        with pytest.raises(cr.ConfigError, match=r"call cr\.distributed\.init\(\) first"):
            fn()
    with pytest.raises(cr.ConfigError, match="init"):
        dist.all_reduce(cr.ones(2))


def test_launched_size_reads_the_launchers_variables():
    assert dist.launched_size({}) == 1
    assert dist.launched_size({"PMI_SIZE": "4"}) == 4
    assert dist.launched_size({"OMPI_COMM_WORLD_SIZE": "8"}) == 8
    assert dist.launched_size({"PMI_SIZE": "", "MV2_COMM_WORLD_SIZE": "2"}) == 2
    assert dist.launched_size({"PMI_SIZE": "x"}) == 1


@pytest.mark.parametrize("n,size", [(0, 2), (1, 2), (7, 2), (8, 2), (10, 3), (5, 8)])
def test_shard_range_partitions_rows_rank0_first(n, size):
    ranges = [dist.shard_range(n, r, size) for r in range(size)]
    assert ranges[0][0] == 0 and ranges[-1][1] == n
    assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))
    lengths = [b - a for a, b in ranges]
    assert max(lengths) - min(lengths) <= 1 and lengths == sorted(lengths, reverse=True)
    assert [len(p) for p in np.array_split(np.arange(n), size)] == lengths


def test_shard_cuts_nested_batches_and_one_process_keeps_all():
    x, y = cr.arange(10).reshape(5, 2), np.arange(5)
    xs, (ys, label) = dist.shard((x, (y, "label")), rank=1, size=2)
    assert xs.tolist() == [[6, 7], [8, 9]] and ys.tolist() == [3, 4] and label == "label"
    assert dist.shard({"a": x}, rank=0, size=1)["a"].shape == (5, 2)
    assert dist.shard((x, y))[0].shape == (5, 2)       # not initialized: one rank, every row
    with pytest.raises(cr.ConfigError, match="rank"):
        dist.shard_range(4, 2, 2)


def test_bucket_plan_reverse_order_dtype_and_cap():
    f64 = dict(dtype=cr.float64, requires_grad=True)
    params = [cr.zeros(256, **f64), cr.zeros(10, 10, **f64),
              cr.zeros(256, dtype=cr.float32, requires_grad=True), cr.zeros(1000, **f64),
              cr.zeros(3, **f64)]
    plan = GradientBuckets(params, cap_bytes=4096)
    layout = [(b.dtype, [next(i for i, q in enumerate(params) if q is p) for p in b.params])
              for b in plan.buckets]
    # last first: [3 elements]; 1000 (8000 bytes) would pass the cap, so alone; the float32 one
    # in a bucket of its dtype; then 100 and 256 elements together (2848 bytes)
    assert layout == [(np.float64, [4]), (np.float64, [3]), (np.float32, [2]),
                      (np.float64, [1, 0])]
    assert [b.nbytes for b in plan.buckets] == [24, 8000, 1024, 2848]
    assert plan.matches(params) and not plan.matches(params[:-1])
    half = GradientBuckets([cr.zeros(4, dtype=cr.float16, requires_grad=True)], 1 << 20)
    assert half.buckets[0].dtype == np.float32                  # MPI has no float16 sum


def test_layout_differences_are_named():
    a = signature([("fc.weight", np.zeros((16, 28))), ("fc.bias", np.zeros(16))])
    b = signature([("fc.weight", np.zeros((16, 13))), ("fc.bias", np.zeros(16))])
    assert first_difference(a, a, 0) is None
    assert first_difference(b, a, 0) == ("parameter 'fc.weight' has shape (16, 13), but on "
                                         "rank 0 (16, 28)")
    assert "entries" in first_difference(a[:1], a, 0)
    assert "'fc.bias'" in first_difference(a[:1], a, 0)
    c = signature([("fc.weight", np.zeros((16, 28), np.float32)), ("fc.bias", np.zeros(16))])
    assert "dtype float32" in first_difference(c, a, 0)


def test_distributed_optimizer_needs_init():
    opt = cr.optim.SGD([cr.zeros(2, requires_grad=True)], lr=0.1)
    with pytest.raises(cr.ConfigError, match="init"):
        dist.DistributedOptimizer(opt)
