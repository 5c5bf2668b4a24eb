"""Compiled (``cr.compile``) vs eager chainrule training steps, with the NumPy reference as floor.

    python benchmarks/compiled.py                        # heart, small, deep
    python benchmarks/compiled.py --config heart --steps 200 --rounds 5
    python benchmarks/compiled.py --config heart --plan --profile    # the plan, and where it spends
    python benchmarks/compiled.py --shares             # a replay's time by part (cProfile)

One process. For each configuration: the eager step, the same step under ``cr.compile`` and the
hand-written NumPy step (``numpy_reference.py``), built from one weight draw. It first checks
that the compiled step's losses and weights are bit-identical to eager's over 30 steps, then times
interleaved blocks (the order rotating every round, the first steps of each block discarded) and
prints medians and the ratios compiled/eager and compiled/NumPy-reference.
"""
import argparse
import cProfile
import os
import pstats
import statistics
import sys
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import chainrule_step
import numpy_reference
from configs import CONFIGS, init_weights, make_batches

import chainrule as cr
from chainrule.compile import optim_trace

WARMUP = 5


def _check_identical(cfg, weights, batches):
    m1, eager = chainrule_step.make(cfg, weights)
    m2, step = chainrule_step.make(cfg, weights)
    compiled = cr.compile(step)
    with warnings.catch_warnings():
        warnings.simplefilter("error", cr.CompileWarning)
        for i in range(30):
            a, b = eager(*batches[i % len(batches)]), compiled(*batches[i % len(batches)])
            if a.data.numpy().tobytes() != b.data.numpy().tobytes():
                raise SystemExit(f"{cfg.name}: compiled loss differs from eager at step {i}")
    for (w1, b1), (w2, b2) in zip(chainrule_step.weights(m1), chainrule_step.weights(m2)):
        if w1.tobytes() != w2.tobytes() or b1.tobytes() != b2.tobytes():
            raise SystemExit(f"{cfg.name}: compiled weights differ from eager after 30 steps")
    return compiled


def _opaque(cfg, weights, batches):
    """The compiled step with the optimiser's step and zero_grad kept as one call each (as
    before they were traced): traced under ``optim_trace.TRACE_OPTIMIZERS = False``."""
    _, step = chainrule_step.make(cfg, weights)
    compiled = cr.compile(step)
    optim_trace.TRACE_OPTIMIZERS = False
    try:
        for i in range(4):
            compiled(*batches[i % len(batches)])
    finally:
        optim_trace.TRACE_OPTIMIZERS = True
    return compiled


def run(cfg, steps, rounds, opaque=False):
    weights = init_weights(cfg)
    np_batches = make_batches(cfg)
    batches = chainrule_step.convert_batches(np_batches)
    compiled_check = _check_identical(cfg, weights, batches)
    _, eager = chainrule_step.make(cfg, weights)
    _, step = chainrule_step.make(cfg, weights)
    compiled = cr.compile(step)
    _, reference = numpy_reference.make(cfg, weights)
    runners = {"eager": (eager, batches), "compiled": (compiled, batches),
               "numpy": (reference, np_batches)}
    if opaque:
        runners["opaque"] = (_opaque(cfg, weights, batches), batches)
    times = {k: [] for k in runners}
    names = list(runners)
    for r in range(rounds):
        for k in names[r % len(names):] + names[:r % len(names)]:
            fn, data = runners[k]
            for i in range(steps + WARMUP):
                x, y = data[i % len(data)]
                t0 = time.perf_counter()
                fn(x, y)
                t1 = time.perf_counter()
                if i >= WARMUP:
                    times[k].append(t1 - t0)
    med = {k: statistics.median(v) * 1e6 for k, v in times.items()}
    return med, compiled_check.plans()[0], (compiled, batches)


def profile(compiled, batches, steps, top=18):
    """cProfile of *steps* replays: the functions that take the time, by own time."""
    prof = cProfile.Profile()
    prof.enable()
    for i in range(steps):
        compiled(*batches[i % len(batches)])
    prof.disable()
    pstats.Stats(prof).sort_stats("tottime").print_stats(top)


PARTS = {"the generated function's NumPy calls and lines": ("<cr.compile", "numpy/", "~:<"),
         "optimiser step + zero_grad (opaque) or its scalars": ("optim/", "optim_trace"),
         "guards and the plan cache": ("compile/compiled.py", "compile/guards.py",
                                       "compile/plan.py", "layout_holds"),
         "leaf .grad tensors, result, detach": ("tensor.py", "grad_mode", "autograd/")}


def shares(compiled, batches, steps):
    """A replay's time by part: cProfile's own time of each function, summed by where it is."""
    prof = cProfile.Profile()
    prof.enable()
    for i in range(steps):
        compiled(*batches[i % len(batches)])
    prof.disable()
    totals, whole = dict.fromkeys(PARTS, 0.0), 0.0
    for (file, _, name), (_, _, own, _, _) in pstats.Stats(prof).stats.items():
        whole += own
        where = f"{file}:{name}"
        for part, keys in PARTS.items():
            if any(k in where for k in keys):
                totals[part] += own
                break
        else:
            totals.setdefault("other", 0.0)
            totals["other"] += own
    return {k: v / whole for k, v in totals.items()}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="heart,small,deep")
    ap.add_argument("--steps", type=int, default=200, help="timed steps per block")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--plan", action="store_true", help="print each configuration's plan")
    ap.add_argument("--profile", action="store_true", help="profile each configuration's replay")
    ap.add_argument("--shares", action="store_true", help="a replay's time by part")
    ap.add_argument("--opaque", action="store_true",
                    help="also time the compiled step with the optimiser as one opaque call")
    args = ap.parse_args(argv)
    extra = f" {'opaque µs':>10} {'opaque/NumPy':>13}" if args.opaque else ""
    print(f"{'config':8} {'eager µs':>9} {'compiled µs':>12} {'NumPy µs':>9} "
          f"{'compiled/eager':>15} {'compiled/NumPy':>15}{extra}")
    for name in args.config.split(","):
        cfg = CONFIGS[name]
        med, plan, (compiled, batches) = run(cfg, args.steps, args.rounds, args.opaque)
        extra = f" {med['opaque']:10.1f} {med['opaque'] / med['numpy']:13.3f}" \
            if args.opaque else ""
        print(f"{name:8} {med['eager']:9.1f} {med['compiled']:12.1f} {med['numpy']:9.1f} "
              f"{med['compiled'] / med['eager']:15.3f} {med['compiled'] / med['numpy']:15.3f}"
              f"{extra}   ({plan.kind} plan)")
        if args.plan:
            print(plan.describe())
            if plan.kind == "flat":
                print(plan.source)
        if args.profile:
            profile(compiled, batches, args.steps * args.rounds)
        if args.shares:
            for part, share in shares(compiled, batches, args.steps * args.rounds).items():
                print(f"    {share:6.1%}  {part}")


if __name__ == "__main__":
    main()
