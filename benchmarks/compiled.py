"""Compiled (``cr.compile``) vs eager chainrule training steps, with the NumPy reference as floor.

    python benchmarks/compiled.py                        # heart, small, deep
    python benchmarks/compiled.py --config heart --steps 200 --rounds 5
    python benchmarks/compiled.py --config wide --steps 4 --rounds 12 --warmup 1
    python benchmarks/compiled.py --config heart --plan --profile    # the plan, and where it spends
    python benchmarks/compiled.py --shares             # a replay's time by part (cProfile)
    python benchmarks/compiled.py --config medium --split   # fwd+bwd and Adam apart, vs NumPy

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


def run(cfg, steps, rounds, opaque=False, warmup=WARMUP):
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
            for i in range(steps + warmup):
                x, y = data[i % len(data)]
                t0 = time.perf_counter()
                fn(x, y)
                t1 = time.perf_counter()
                if i >= warmup:
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
         "guards and the plan cache": ("compile/compiled.py", "compile/guards.py",
                                       "compile/plan.py", "compile/flat_plan.py",
                                       "optim_trace.py:holds"),
         "optimiser step + zero_grad (opaque) or its scalar function": ("optim/", "_scalars"),
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


def _optimiser_start(body):
    """The first line of the optimiser's part of a generated function: its first scalar
    function call, after the loads of its buffers and the step count's ``+= 1`` before it."""
    first = min(i for i, line in enumerate(body) if "_scalars_0(" in line)
    while first and (body[first - 1].endswith(" += 1") or
                     body[first - 1].split(" = ")[-1].startswith("ndarray_")):
        first -= 1
    return first


def split(cfg, compiled, steps, rounds):
    """Forward + backward and the optimiser's update timed apart, compiled against the NumPy
    reference, interleaved: the flat plan's generated function is compiled again with a clock
    read where its optimiser part begins (the step count of its first traced group), the
    reference's ``_adam`` wrapped to read the clock on entry.  Returns medians in µs:
    ``{"compiled fwd+bwd", "compiled optimiser", "NumPy fwd+bwd", "NumPy optimiser"}``."""
    plan = compiled.plans()[0]
    if plan.kind != "flat" or not plan.optims:
        raise SystemExit(f"{cfg.name}: --split needs a flat plan with a traced optimiser")
    body = plan.source.splitlines()[1:]
    first = _optimiser_start(body)
    scope = dict(plan._fn.__globals__, _clock=time.perf_counter, _mark=[0.0])
    text = "\n".join(["def replay(inputs):", *body[:first], "    _mark[0] = _clock()",
                      *body[first:]]) + "\n"
    exec(compile(text, "<split plan>", "exec"), scope)  # noqa: S102 - the plan's own text
    fn, mark = scope["replay"], scope["_mark"]
    weights = init_weights(cfg)
    np_batches = make_batches(cfg)
    batches = chainrule_step.convert_batches(np_batches)
    ref = numpy_reference.NumpyMLP(cfg, weights)
    adam, ref_mark = ref._adam, [0.0]

    def timed_adam():
        ref_mark[0] = time.perf_counter()
        adam()
    ref._adam = timed_adam
    from chainrule.grad_mode import state as grad_mode
    times = {k: [] for k in ("compiled fwd+bwd", "compiled optimiser", "NumPy fwd+bwd",
                             "NumPy optimiser")}
    for _ in range(rounds):
        for i in range(steps):
            x, y = batches[i % len(batches)]
            grad_mode.enabled = False
            t0 = time.perf_counter()
            fn([x, y])
            t1 = time.perf_counter()
            grad_mode.enabled = True
            times["compiled fwd+bwd"].append(mark[0] - t0)
            times["compiled optimiser"].append(t1 - mark[0])
        for i in range(steps):
            x, y = np_batches[i % len(np_batches)]
            t0 = time.perf_counter()
            ref.step(x, y)
            t1 = time.perf_counter()
            times["NumPy fwd+bwd"].append(ref_mark[0] - t0)
            times["NumPy optimiser"].append(t1 - ref_mark[0])
    return {k: statistics.median(v) * 1e6 for k, v in times.items()}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="heart,small,deep")
    ap.add_argument("--steps", type=int, default=200, help="timed steps per block")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=WARMUP,
                    help=f"untimed steps at the start of every block (default {WARMUP}; "
                         f"1 suits wide, whose steps take 0.1 s)")
    ap.add_argument("--plan", action="store_true", help="print each configuration's plan")
    ap.add_argument("--profile", action="store_true", help="profile each configuration's replay")
    ap.add_argument("--shares", action="store_true", help="a replay's time by part")
    ap.add_argument("--split", action="store_true",
                    help="time forward+backward and the optimiser apart (compiled vs NumPy)")
    ap.add_argument("--opaque", action="store_true",
                    help="also time the compiled step with the optimiser as one opaque call")
    args = ap.parse_args(argv)
    extra = f" {'opaque µs':>10} {'opaque/NumPy':>13}" if args.opaque else ""
    print(f"{'config':8} {'eager µs':>9} {'compiled µs':>12} {'NumPy µs':>9} "
          f"{'compiled/eager':>15} {'compiled/NumPy':>15}{extra}")
    for name in args.config.split(","):
        cfg = CONFIGS[name]
        med, plan, (compiled, batches) = run(cfg, args.steps, args.rounds, args.opaque,
                                             args.warmup)
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
        if args.split:
            parts = split(cfg, compiled, max(args.steps // 2, 1), args.rounds)
            print("    " + "   ".join(f"{k} {v:.1f} µs" for k, v in parts.items()))
            print(f"    fwd+bwd compiled/NumPy "
                  f"{parts['compiled fwd+bwd'] / parts['NumPy fwd+bwd']:.3f}   optimiser "
                  f"{parts['compiled optimiser'] / parts['NumPy optimiser']:.3f}")
        if args.shares:
            for part, share in shares(compiled, batches, args.steps * args.rounds).items():
                print(f"    {share:6.1%}  {part}")


if __name__ == "__main__":
    main()
