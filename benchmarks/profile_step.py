"""Where does chainrule's training step spend its time?  Profile it per phase and per function.

    python benchmarks/profile_step.py                    # heart and deep
    python benchmarks/profile_step.py --config small --steps 500 --top 30
    python benchmarks/profile_step.py --lines            # + line-level timing (needs line_profiler)

For each configuration it prints:

1. a phase breakdown without any profiler (medians of perf_counter around forward, loss,
   backward, optimizer step and zero_grad), interleaved block by block with the NumPy
   reference step and its matmuls;
2. cProfile of many steps: the top functions by own time and by cumulative time, in µs per
   training step, with call counts per step;
3. a per-op overhead estimate: (chainrule step - NumPy reference step) divided by the number of
   graph nodes (``Function.apply`` calls) and optimiser parameter updates per step;
4. with ``--lines`` and line_profiler installed, line-level timings of the hottest functions.
"""
import argparse
import cProfile
import io
import os
import pstats
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from configs import CONFIGS, init_weights, make_batches  # noqa: E402
import chainrule_step  # noqa: E402
import numpy_reference  # noqa: E402


def _setup(cfg):
    cr = chainrule_step._cr()
    weights = init_weights(cfg)
    batches = make_batches(cfg)
    model = chainrule_step.build(cfg, weights)
    loss_fn = cr.nn.BCEWithLogitsLoss() if cfg.loss == "bce" else cr.nn.CrossEntropyLoss()
    opt = cr.optim.Adam(model.parameters(), lr=1e-3)
    data = chainrule_step.convert_batches(batches)
    return cr, model, loss_fn, opt, data, weights, batches


def phase_breakdown(cfg, steps, rounds=10):
    """Median µs of each phase of chainrule's step, interleaved (block by block) with the NumPy
    reference step and its matmuls, so that machine noise hits all three alike."""
    cr, model, loss_fn, opt, data, weights, batches = _setup(cfg)
    ref = numpy_reference.NumpyMLP(cfg, weights)
    mm = numpy_reference.NumpyMLP(cfg, weights)
    mm.step(*batches[0])
    perf = time.perf_counter
    phases = {k: [] for k in ("forward", "loss", "backward", "opt.step", "zero_grad", "total")}
    tr, tm = [], []
    block = max(1, steps // rounds)
    warm = 3 if cfg.name != "wide" else 1
    i = 0
    for _ in range(rounds):
        for k in range(block + warm):
            x, y = data[i % len(data)]
            i += 1
            t0 = perf()
            out = model(x)
            t1 = perf()
            loss = loss_fn(out, y)
            t2 = perf()
            loss.backward()
            t3 = perf()
            opt.step()
            t4 = perf()
            opt.zero_grad()
            t5 = perf()
            if k >= warm:
                for name, a, b in (("forward", t0, t1), ("loss", t1, t2), ("backward", t2, t3),
                                   ("opt.step", t3, t4), ("zero_grad", t4, t5), ("total", t0, t5)):
                    phases[name].append(b - a)
        for k in range(block + warm):
            x, y = batches[k % len(batches)]
            t0 = perf()
            ref.step(x, y)
            t1 = perf()
            if k >= warm:
                tr.append(t1 - t0)
        for k in range(block + warm):
            x, y = batches[k % len(batches)]
            t0 = perf()
            mm.matmul_only(x)
            t1 = perf()
            if k >= warm:
                tm.append(t1 - t0)
    med = {k: float(np.median(v)) * 1e6 for k, v in phases.items()}
    med["numpy_ref"] = float(np.median(tr)) * 1e6
    med["matmul"] = float(np.median(tm)) * 1e6
    return med


def count_ops(cfg):
    """Graph nodes recorded by one step's forward+loss, and parameters the optimiser updates."""
    cr, model, loss_fn, opt, data, _, _ = _setup(cfg)
    from chainrule.autograd.function import Function
    x, y = data[0]
    loss = loss_fn(model(x), y)
    seen, stack, kinds = set(), [loss.grad_fn], {}
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen or not isinstance(node, Function):
            continue
        seen.add(id(node))
        kinds[type(node).__name__] = kinds.get(type(node).__name__, 0) + 1
        for e in node.next_functions:
            if e is not None:
                stack.append(e[0])
    n_params = sum(1 for _ in model.parameters())
    return len(seen), kinds, n_params


def cprofile_steps(cfg, steps, top, sort_keys=("tottime", "cumulative")):
    cr, model, loss_fn, opt, data, _, _ = _setup(cfg)

    def run(n):
        for i in range(n):
            x, y = data[i % len(data)]
            loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()
            opt.zero_grad()

    run(20)
    prof = cProfile.Profile()
    prof.enable()
    run(steps)
    prof.disable()
    reports = {}
    for key in sort_keys:
        s = io.StringIO()
        st = pstats.Stats(prof, stream=s)
        st.sort_stats(key)
        reports[key] = _table(st, key, steps, top)
    return reports


def _table(st, key, steps, top):
    rows = []
    for func, (cc, nc, tt, ct, callers) in st.stats.items():
        rows.append((func, nc, tt, ct))
    idx = 2 if key == "tottime" else 3
    rows.sort(key=lambda r: r[idx], reverse=True)
    total = sum(r[2] for r in rows)
    lines = [f"  {'own µs/step':>11} {'cum µs/step':>11} {'calls/step':>10}  function",
             f"  {'-' * 11} {'-' * 11} {'-' * 10}  {'-' * 40}"]
    for func, nc, tt, ct in rows[:top]:
        filename, line, name = func
        where = _short(filename)
        label = f"{where}:{line}({name})" if line else name
        lines.append(f"  {tt / steps * 1e6:11.1f} {ct / steps * 1e6:11.1f} {nc / steps:10.1f}  {label}")
    lines.append(f"  total profiled: {total / steps * 1e6:.1f} µs/step (with cProfile's own overhead)")
    return "\n".join(lines)


def _short(filename):
    for marker in ("chainrule" + os.sep, "site-packages" + os.sep, "lib" + os.sep + "python3"):
        if marker in filename:
            return filename.split(marker, 1)[1] if marker != "chainrule" + os.sep else \
                "chainrule/" + filename.split(marker, 1)[1]
    return os.path.basename(filename) if filename != "~" else ""


def line_profile(cfg, steps):
    try:
        from line_profiler import LineProfiler
    except ImportError:
        print("  (line_profiler is not installed: pip install line_profiler for --lines)")
        return
    import importlib
    engine = importlib.import_module("chainrule.autograd.engine")
    function = importlib.import_module("chainrule.autograd.function")
    flinear = importlib.import_module("chainrule.nn.functional.linear")   # the package's `linear`
    cr, model, loss_fn, opt, data, _, _ = _setup(cfg)
    lp = LineProfiler()
    for f in (engine._run, function.Function.apply, flinear.Linear.forward, flinear.Linear.backward,
              type(opt).step):
        lp.add_function(getattr(f, "__wrapped__", f))
    for i in range(20):
        x, y = data[i % len(data)]
        loss_fn(model(x), y).backward()
        opt.step()
        opt.zero_grad()

    def run():
        for i in range(steps):
            x, y = data[i % len(data)]
            loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()
            opt.zero_grad()
    lp.runcall(run)
    lp.print_stats(output_unit=1e-6, stripzeros=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", default="heart,deep")
    ap.add_argument("--steps", type=int, default=1000, help="steps per measurement (default 1000)")
    ap.add_argument("--top", type=int, default=25, help="functions listed (default 25)")
    ap.add_argument("--lines", action="store_true", help="line-level timing (line_profiler)")
    args = ap.parse_args(argv)
    ok, why = chainrule_step.available()
    if not ok:
        print(f"chainrule's nn/optim are not usable: {why}", file=sys.stderr)
        return 1
    for name in args.config.split(","):
        cfg = CONFIGS[name.strip()]
        steps = args.steps if name != "wide" else min(args.steps, 20)
        print(f"\n==== {cfg.name}: {cfg.describe()} ({cfg.n_params:,} parameters)")
        med = phase_breakdown(cfg, steps, rounds=10 if cfg.name != "wide" else 5)
        print("phase medians (µs, no profiler):")
        for k in ("forward", "loss", "backward", "opt.step", "zero_grad", "total"):
            print(f"  {k:<10} {med[k]:10.1f}")
        print(f"  {'NumPy ref':<10} {med['numpy_ref']:10.1f}   (the same step, hand-written)")
        print(f"  {'matmuls':<10} {med['matmul']:10.1f}")
        n_nodes, kinds, n_params = count_ops(cfg)
        gap = med["total"] - med["numpy_ref"]
        print(f"graph: {n_nodes} nodes per step ({', '.join(f'{k} {v}' for k, v in sorted(kinds.items()))}); "
              f"{n_params} parameter tensors")
        print(f"overhead over the NumPy reference: {gap:.1f} µs/step = "
              f"{gap / max(n_nodes, 1):.1f} µs per graph node (forward+backward, all phases), or "
              f"fwd+loss {(med['forward'] + med['loss']) / max(n_nodes, 1):.1f} µs/node, "
              f"backward {med['backward'] / max(n_nodes, 1):.1f} µs/node, "
              f"opt.step {med['opt.step'] / max(n_params, 1):.1f} µs/parameter tensor")
        reports = cprofile_steps(cfg, steps, args.top)
        print(f"\ncProfile, top {args.top} by own time (µs per training step):")
        print(reports["tottime"])
        print(f"\ncProfile, top {args.top} by cumulative time (µs per training step):")
        print(reports["cumulative"])
        if args.lines:
            print("\nline-level timing:")
            line_profile(cfg, min(steps, 300))
    return 0


if __name__ == "__main__":
    sys.exit(main())
