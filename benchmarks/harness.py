"""The timing and peak-memory harness that the framework comparisons (conv.py, sequences.py) share.

* ``interleaved(steps, rounds, per_round, warmup)``: every framework's step timed in interleaved
  rounds, so a load change on a shared machine hits all of them alike;
* ``child_peak(fn, n)`` / ``in_children(...)``: peak RSS of *n* steps, one process per framework
  (the parent hands the weights over in an ``.npz`` file, so a child never imports the others).
"""
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np


def interleaved(steps, rounds, per_round, warmup=1):
    """Time ``steps`` ({name: step function}): each round runs every step *warmup* times untimed,
    then *per_round* times timed, in turn, the order rotating by one each round (with two
    frameworks: alternating).  Returns {name: {median_ms, p10_ms, p90_ms, n, ratio_to_torch}}
    (the ratio where "torch" is among them)."""
    times = {k: [] for k in steps}
    names = list(steps)
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            fn = steps[name]
            for _ in range(warmup):
                fn()
            for _ in range(per_round):
                t = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t)
    out = {}
    for name, ts in times.items():
        ts = np.array(ts) * 1000
        out[name] = {"median_ms": float(np.median(ts)), "p10_ms": float(np.percentile(ts, 10)),
                     "p90_ms": float(np.percentile(ts, 90)), "n": int(len(ts))}
    if "torch" in out:
        for name in names:
            out[name]["ratio_to_torch"] = out[name]["median_ms"] / out["torch"]["median_ms"]
    return out


def child_peak(fn, n):
    """In a child process: run *fn* n times and print {"peak_mb", "before_mb"} as JSON, the peak
    RSS of this process (VmHWM: ``ru_maxrss`` would include the parent's at fork) and the RSS
    before the first step."""
    with open("/proc/self/statm") as f:
        before = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20
    for _ in range(n):
        fn()
    with open("/proc/self/status") as f:
        peak = next(int(line.split()[1]) for line in f if line.startswith("VmHWM")) / 1024
    print(json.dumps({"peak_mb": peak, "before_mb": before}))


def in_children(script, config, frameworks, state, n, extra=()):
    """{framework: what ``script --child config framework n weights *extra`` printed last (JSON)},
    one process per framework, the weights *state* ({name: array}) passed in a temporary file."""
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        weights = os.path.join(tmp, "weights.npz")
        np.savez(weights, **state)
        for fw in frameworks:
            env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
            res = subprocess.run([sys.executable, script, "--child", config, fw, str(n), weights,
                                  *map(str, extra)], capture_output=True, text=True, env=env,
                                 check=True)
            out[fw] = json.loads(res.stdout.strip().splitlines()[-1])
    return out
