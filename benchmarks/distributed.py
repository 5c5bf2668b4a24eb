"""Data parallelism, measured and projected: MPI Allreduce of 1 KiB–256 MiB, and a full
data-parallel training step of the five benchmark networks at 1 and 2 ranks.

    python benchmarks/distributed.py                 # ~1-2 min on 2 cores; prints Markdown tables
    python benchmarks/distributed.py --quick         # fewer repetitions, up to 64 MiB
    python benchmarks/distributed.py --json out.json # everything, for docs/distributed.md

It launches itself under ``mpiexec -n 1`` and ``mpiexec -n 2`` (``--worker``), one BLAS thread per
rank so that the 1-rank run is one core's compute. From the 2-rank Allreduce times it fits the
ring-allreduce constants, T(bytes) = 2(N−1)/N · bytes / B + 2(N−1) · α, and projects the step time
at 8, 64 and 512 ranks, each rank keeping the configuration's batch (weak scaling):

    T_step(N) = T_compute + Σ_buckets [2(N−1)/N · bucket_bytes / B + 2(N−1) · α]

(the projection assumes no overlap of communication with compute). The 2-rank steps alternate,
in blocks, between buckets started during backward (post-accumulate-grad hooks, the default) and
buckets started at ``step`` (the averaging after backward), and report both: the measured effect
of the overlap. Needs mpi4py and an mpiexec (``pip install chainrule[mpi]``).
"""
import argparse
import json
import os
import pathlib
import shutil
import subprocess
import sys
import time

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

SIZES_FULL = [1 << k for k in range(10, 29, 2)]     # 1 KiB, 4 KiB, ..., 256 MiB
BUCKET_MB = 4.0
OVERLAP_BLOCK = 1        # steps per block, alternating buckets during backward / at step


# ---- the worker: runs under mpiexec ------------------------------------------------------------
def _median_time(fn, reps, warmup=1):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def bench_allreduce(cr, sizes, budget_s):
    """Median seconds of one in-place float32 Allreduce (MPI SUM) per buffer size."""
    dist = cr.distributed
    comm, MPI = dist.comm(), dist.mpi()
    out = {}
    for nbytes in sizes:
        buf = np.ones(nbytes // 4, np.float32)
        one = _median_time(lambda: comm.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM), 1, warmup=1)
        reps = int(max(3, min(200, budget_s / max(one, 1e-6))))
        reps = comm.bcast(reps, root=0)                  # every rank runs the same count
        comm.Barrier()
        out[nbytes] = _median_time(lambda: comm.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM), reps)
    return out


def bench_step(cr, cfg, steps, bucket_mb=None):
    """Seconds per data-parallel step (each rank its shard of cfg.batch): (compute, averaging,
    whole step, averaging alone with no compute between the calls, whole step with the buckets
    started at step, averaging with the buckets started at step); each the median over the steps
    of the slowest rank's time. Blocks of OVERLAP_BLOCK steps alternate between the buckets
    started during backward (the first four numbers) and at step (the last two)."""
    import configs
    from chainrule_step import build
    dist = cr.distributed
    size, rank = dist.size(), dist.rank()
    model = build(cfg, configs.init_weights(cfg))
    dist.broadcast_parameters(model.state_dict())
    opt = dist.DistributedOptimizer(cr.optim.Adam(model.parameters(), lr=configs.LR),
                                    bucket_cap_mb=BUCKET_MB if bucket_mb is None else bucket_mb)
    loss_fn = cr.nn.BCEWithLogitsLoss() if cfg.loss == "bce" else cr.nn.CrossEntropyLoss()
    batches = []
    for x, y in configs.make_batches(cfg):
        a, b = dist.shard_range(len(x), rank, size)
        batches.append((cr.tensor(x[a:b]), cr.tensor(y[a:b])))
    compute, sync, total, total_late, sync_late = [], [], [], [], []
    for i in range(2 * steps + 3):
        x, y = batches[i % len(batches)]
        overlap = i < 3 or (i - 3) // OVERLAP_BLOCK % 2 == 0
        opt._sync.overlap = overlap
        dist.barrier()
        t0 = time.perf_counter()
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        t1 = time.perf_counter()
        opt.synchronize()
        t2 = time.perf_counter()
        with opt.skip_synchronize():
            opt.step()
        t3 = time.perf_counter()
        if i >= 3 and overlap:
            compute.append((t1 - t0) + (t3 - t2))
            sync.append(t2 - t1)
            total.append(t3 - t0)
        elif i >= 3:
            total_late.append(t3 - t0)
            sync_late.append(t2 - t1)
    opt._sync.overlap = True
    # the slowest rank sets the pace: take each step's maximum over the ranks
    alone = []                                     # the averaging without compute in between
    for _ in range(max(5, steps // 2)):
        dist.barrier()
        t0 = time.perf_counter()
        opt.synchronize()
        alone.append(time.perf_counter() - t0)
    stats = []
    for v in (compute, sync, total, alone, total_late, sync_late):
        t = cr.tensor(np.array(v))
        dist.all_reduce(t, "max")
        stats.append(float(np.median(t.data)))
    return stats


def worker(args):
    import chainrule as cr
    import configs
    cr.distributed.init()
    sizes = [s for s in SIZES_FULL if s <= args.max_bytes]
    result = {"size": cr.distributed.size(), "allreduce": {}, "steps": {}}
    if cr.distributed.size() > 1:
        result["allreduce"] = {str(k): v for k, v in
                               bench_allreduce(cr, sizes, args.allreduce_budget).items()}
    for name in args.configs.split(","):
        cfg = configs.CONFIGS[name]
        steps = max(3, args.steps // 10) if name == "wide" else args.steps
        result["steps"][name] = bench_step(cr, cfg, steps, args.bucket_mb)
    if cr.distributed.is_main_process():
        print("RESULT " + json.dumps(result), flush=True)


# ---- the launcher: runs the workers, fits the model, prints ------------------------------------
def find_mpiexec():
    here = pathlib.Path(sys.executable).parent / "mpiexec"
    return str(here) if here.exists() else shutil.which("mpiexec")


def launch(n, args):
    mpiexec = find_mpiexec()
    if mpiexec is None:
        sys.exit("no mpiexec found: pip install chainrule[mpi]")
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    cmd = [mpiexec, "-n", str(n), sys.executable, __file__, "--worker",
           "--configs", args.configs, "--steps", str(args.steps),
           "--max-bytes", str(args.max_bytes), "--allreduce-budget", str(args.allreduce_budget)]
    if args.bucket_mb is not None:
        cmd += ["--bucket-mb", str(args.bucket_mb)]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
    if out.returncode != 0:
        sys.exit(f"mpiexec -n {n} failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    line = next(ln for ln in out.stdout.splitlines() if ln.startswith("RESULT "))
    return json.loads(line[len("RESULT "):])


def fit_ring(allreduce, n):
    """(α seconds, B bytes/s) of T = 2(n−1)/n · bytes / B + 2(n−1) · α fitted to n-rank times:
    α from the smallest buffer (latency-bound), B by least squares in relative error over the
    buffers of 64 KiB and more (bandwidth-bound), so every size counts alike."""
    sizes = np.array(sorted(int(k) for k in allreduce), dtype=float)
    times = np.array([allreduce[str(int(s))] for s in sizes])
    alpha = times[0] / (2 * (n - 1))
    big = sizes >= 64 * 1024
    x = 2 * (n - 1) / n * sizes[big]
    y = times[big] - 2 * (n - 1) * alpha
    w = 1.0 / times[big] ** 2                       # minimise Σ ((model − t) / t)²
    inv_b = float(np.sum(w * x * y) / np.sum(w * x * x))
    return alpha, 1.0 / inv_b


def buckets_of(n_params, itemsize=4, cap_mb=BUCKET_MB):
    total = n_params * itemsize
    cap = cap_mb * (1 << 20)
    full = int(total // cap)
    sizes = [cap] * full + ([total - full * cap] if total - full * cap > 0 else [])
    return sizes


def project(compute, n_params, alpha, bandwidth, n):
    comm = sum(2 * (n - 1) / n * b / bandwidth + 2 * (n - 1) * alpha for b in buckets_of(n_params))
    return compute + comm, comm


def report(one, two, args):
    import configs
    alpha, bandwidth = fit_ring(two["allreduce"], 2)
    lines = ["## Allreduce (2 ranks, float32, in place, MPI SUM)", "",
             "| bytes | time (µs) | algorithm bandwidth (GB/s) | ring model (µs) |",
             "|---|---|---|---|"]
    for k in sorted(two["allreduce"], key=int):
        b, t = int(k), two["allreduce"][k]
        model = (b / bandwidth + 2 * alpha) * 1e6
        lines.append(f"| {_bytes(b)} | {t * 1e6:,.1f} | {b / t / 1e9:.2f} | {model:,.1f} |")
    lines += ["", f"Fitted ring constants (2 ranks): α = {alpha * 1e6:.2f} µs per step, "
              f"B = {bandwidth / 1e9:.2f} GB/s.", "",
              "## Data-parallel step (global batch = the config's; 2 ranks take half each)", "",
              "| config | params | 1 rank: step (µs) | 2 ranks: compute (µs) | 2 ranks: "
              "averaging, in the step (µs) | 2 ranks: step (µs) | speedup | averaging alone (µs) |",
              "|---|---|---|---|---|---|---|---|"]
    for name in args.configs.split(","):
        n_params = configs.CONFIGS[name].n_params
        t1 = one["steps"][name][2]
        c2, s2, t2 = two["steps"][name][:3]
        alone = (f"{two['steps'][name][3] * 1e6:,.0f}" if len(two["steps"][name]) > 3 else "")
        lines.append(f"| {name} | {n_params:,} | {t1 * 1e6:,.0f} | {c2 * 1e6:,.0f} | "
                     f"{s2 * 1e6:,.0f} | {t2 * 1e6:,.0f} | {t1 / t2:.2f} | {alone} |")
    lines += ["", "## Overlap (2 ranks): buckets started during backward vs at step, alternating "
              f"blocks of {OVERLAP_BLOCK} steps", "",
              "| config | step, buckets at step (µs) | step, during backward (µs) | ratio | "
              "wait in step: at step (µs) | wait in step: during backward (µs) |",
              "|---|---|---|---|---|---|"]
    for name in args.configs.split(","):
        st = two["steps"][name]
        if len(st) < 6:
            continue
        lines.append(f"| {name} | {st[4] * 1e6:,.0f} | {st[2] * 1e6:,.0f} | {st[2] / st[4]:.2f} | "
                     f"{st[5] * 1e6:,.0f} | {st[1] * 1e6:,.0f} |")
    lines += ["", "## Projection (each rank keeps the config's batch; ring Allreduce, "
                  f"{BUCKET_MB:g} MiB buckets, no overlap)", "",
              "| config | compute (µs) | N = 8 (µs) | N = 64 (µs) | N = 512 (µs) "
              "| comm > compute from N |",
              "|---|---|---|---|---|---|"]
    for name in args.configs.split(","):
        n_params = configs.CONFIGS[name].n_params
        compute = one["steps"][name][2]
        row = [f"| {name} | {compute * 1e6:,.0f}"]
        for n in (8, 64, 512):
            total, comm = project(compute, n_params, alpha, bandwidth, n)
            row.append(f"{total * 1e6:,.0f} ({comm / total:.0%} comm)")
        cross = _crossing(compute, n_params, alpha, bandwidth)
        row.append(f"{cross:,}" if cross else "beyond 10⁷")
        lines.append(" | ".join(row) + " |")
    return "\n".join(lines), {"alpha_s": alpha, "bandwidth_Bps": bandwidth}


def _crossing(compute, n_params, alpha, bandwidth):
    """The smallest N whose projected communication exceeds the compute (None beyond 1e7)."""
    comm = lambda n: project(compute, n_params, alpha, bandwidth, n)[1]
    hi = 2
    while comm(hi) <= compute:
        hi *= 2
        if hi > 10 ** 7:
            return None
    lo = hi // 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if comm(mid) <= compute else (lo, mid)
    return hi


def _bytes(b):
    for unit, k in (("MiB", 20), ("KiB", 10)):
        if b >= 1 << k:
            return f"{b / (1 << k):g} {unit}"
    return f"{b} B"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--configs", default="heart,small,medium,wide,deep")
    p.add_argument("--steps", type=int, default=60, help="timed steps per config (wide: a tenth)")
    p.add_argument("--max-bytes", type=int, default=SIZES_FULL[-1])
    p.add_argument("--allreduce-budget", type=float, default=1.0,
                   help="seconds of repetitions per Allreduce size (at least 3)")
    p.add_argument("--bucket-mb", type=float, default=None,
                   help=f"gradient bucket size of the timed steps (default {BUCKET_MB:g} MiB; the "
                        f"projection keeps {BUCKET_MB:g})")
    p.add_argument("--quick", action="store_true", help="--steps 20, up to 64 MiB, 0.3 s per size")
    p.add_argument("--json", help="write the raw results and the fit here")
    p.add_argument("--from-json", help="print the tables of a run saved with --json, run nothing")
    args = p.parse_args(argv)
    if args.from_json:
        with open(args.from_json) as f:
            saved = json.load(f)
        args.configs = ",".join(saved["one_rank"]["steps"])
        print(report(saved["one_rank"], saved["two_ranks"], args)[0])
        return 0
    if args.quick:
        args.steps, args.max_bytes, args.allreduce_budget = 20, min(args.max_bytes, 64 << 20), 0.3
    if args.worker:
        return worker(args)
    start = time.perf_counter()
    one, two = launch(1, args), launch(2, args)
    text, fit = report(one, two, args)
    print(text)
    print(f"\n({time.perf_counter() - start:.0f} s; {os.cpu_count()} CPUs; one BLAS thread per "
          f"rank; load average {os.getloadavg()[0]:.1f})")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"one_rank": one, "two_ranks": two, "fit": fit}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
