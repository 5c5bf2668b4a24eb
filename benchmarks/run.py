"""Benchmark a full training step of chainrule against PyTorch CPU and a hand-written NumPy step.

    python benchmarks/run.py                         # all five configurations, timing mode
    python benchmarks/run.py --config heart,deep --steps 500
    python benchmarks/run.py --memory                # peak RSS of a 200-step run, one process each
    python benchmarks/run.py --markdown --json out.json

Timing mode runs everything in one process. For each configuration it builds, from one seeded
NumPy draw of the weights, a chainrule model, a PyTorch model (when torch is installed) and the
NumPy reference (``numpy_reference.py``), checks that their losses agree over the first steps
(to 1e-4 relative; a mismatch stops the run with exit status 2), then times single steps in
interleaved rounds: each round runs a block of steps of every framework in turn (the order
rotating from round to round), the first few steps of each block discarded as warm-up. It reports
the median and the 10th-90th percentile spread of all timed steps, the ratios
chainrule/PyTorch, chainrule/NumPy-reference and chainrule/matrix-multiplies (``matmul`` is the
step's matrix multiplies alone, through NumPy's BLAS) and the issue's targets.

A step is forward, loss, ``loss.backward()``, ``Adam.step()`` and ``zero_grad()`` on a batch that
is already a tensor of the framework (the batch pool is converted once, before timing).

PyTorch runs with ``torch.set_num_threads`` equal to NumPy's BLAS thread count (read through
threadpoolctl when installed, else from the OpenBLAS library NumPy loaded), float32 throughout.
"""
import argparse
import gc
import json
import os
import platform
import resource
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from configs import CONFIGS, init_weights, make_batches  # noqa: E402
import numpy_reference  # noqa: E402
import chainrule_step  # noqa: E402
import torch_step  # noqa: E402

# (chainrule/PyTorch, chainrule/NumPy-reference) upper bounds on the medians, from the issue
TARGETS = {
    "heart": (0.25, 2.5),
    "small": (0.70, 1.3),
    "medium": (0.95, 1.10),
    "wide": (0.90, 1.05),
    "deep": (0.30, 2.5),
}
CHECK_STEPS = 6          # losses of steps 1..6 compared: the last one is after 5 updates
CHECK_RTOL = 1e-4
ENV_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_CORETYPE",
            "OPENBLAS_L2_SIZE", "OPENBLAS_VERBOSE", "KMP_BLOCKTIME", "OMP_WAIT_POLICY")


# ---- machine ---------------------------------------------------------------------------------
def blas_info():
    """NumPy's BLAS: ``{"name", "version", "threads", "corename", "source"}`` (best effort)."""
    info = {"name": None, "version": None, "threads": None, "corename": None, "source": None}
    try:
        cfg = np.show_config(mode="dicts")
        blas = cfg["Build Dependencies"]["blas"]
        info["name"], info["version"] = blas.get("name"), blas.get("version")
    except Exception:  # noqa: BLE001 - older NumPy: no dict mode
        pass
    try:
        import threadpoolctl
        for pool in threadpoolctl.threadpool_info():
            if pool.get("user_api") == "blas" and "numpy" in (pool.get("filepath") or ""):
                info.update(threads=pool["num_threads"], corename=pool.get("architecture"),
                            source="threadpoolctl")
                return info
    except ImportError:
        pass
    import ctypes
    import glob
    libdir = os.path.join(os.path.dirname(os.path.dirname(np.__file__)), "numpy.libs")
    for path in sorted(glob.glob(os.path.join(libdir, "*openblas*.so*"))):
        try:
            lib = ctypes.CDLL(path)      # the copy NumPy already loaded: same handle
        except OSError:
            continue
        for prefix, suffix in (("scipy_openblas_", "64_"), ("scipy_openblas_", ""),
                               ("openblas_", "64_"), ("openblas_", "")):
            fn = getattr(lib, f"{prefix}get_num_threads{suffix}", None)
            if fn is None:
                continue
            fn.restype = ctypes.c_int
            info["threads"] = fn()
            core = getattr(lib, f"{prefix}get_corename{suffix}", None)
            if core is not None:
                core.restype = ctypes.c_char_p
                info["corename"] = core().decode()
            info["source"] = f"ctypes {os.path.basename(path)}"
            return info
    return info


def cpu_model():
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        fields = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
        fields = {k.strip(): v.strip() for k, v in fields.items()}
        return {k: fields.get(k) for k in ("Model name", "CPU(s)", "Thread(s) per core",
                                            "Core(s) per socket", "L2 cache", "L3 cache",
                                            "Hypervisor vendor")}
    except Exception:  # noqa: BLE001
        return {"Model name": platform.processor() or platform.machine(), "CPU(s)": os.cpu_count()}


def _dist_version(name):
    from importlib import metadata
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def machine_info(threads, light=False):
    """Machine and library details; *light* imports neither torch nor chainrule (memory mode:
    a child process inherits its parent's peak RSS through exec, so the parent must stay small)."""
    info = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "numpy": np.__version__,
        "blas": blas_info(),
        "env": {k: os.environ[k] for k in ENV_VARS if k in os.environ},
        "threads": threads,
        "torch": _dist_version("torch"),
        "chainrule": _dist_version("chainrule"),
    }
    if not light:
        if torch_step.available():
            import torch
            info["torch"] = torch.__version__
            info["torch_threads"] = torch.get_num_threads()
        ok, why = chainrule_step.available()
        info["chainrule"] = chainrule_step.version() if ok else f"unavailable ({why})"
    return info


# ---- frameworks --------------------------------------------------------------------------------
class Runner:
    """One framework on one configuration: ``step(i)`` runs training step *i* on batch ``i % 8``."""

    def __init__(self, name, cfg, weights, batches):
        self.name = name
        if name == "chainrule":
            self.model, fn = chainrule_step.make(cfg, weights)
            self.batches = chainrule_step.convert_batches(batches)
            self.loss_value = chainrule_step.loss_value
        elif name == "torch":
            self.model, fn = torch_step.make(cfg, weights)
            self.batches = torch_step.convert_batches(batches)
            self.loss_value = torch_step.loss_value
        elif name == "numpy":
            self.model, fn = numpy_reference.make(cfg, weights)
            self.batches = batches
            self.loss_value = float
        elif name == "matmul":
            self.model = numpy_reference.NumpyMLP(cfg, weights)
            self.model.step(*batches[0])           # fill the buffers with real values
            mm = self.model.matmul_only

            def fn(x, y):
                mm(x)
            self.batches = batches
            self.loss_value = float
        else:
            raise ValueError(name)
        self.fn = fn
        self.times = []          # seconds, every timed step
        self.rounds = []         # per-round median

    def step(self, i):
        x, y = self.batches[i % len(self.batches)]
        return self.fn(x, y)


def check_losses(cfg, names, weights, batches):
    """Train fresh models CHECK_STEPS steps; return per-framework loss lists or raise on mismatch."""
    losses = {}
    for name in names:
        r = Runner(name, cfg, weights, batches)
        losses[name] = [r.loss_value(r.step(i)) for i in range(CHECK_STEPS)]
    ref = losses["numpy"]
    bad = []
    for name, ls in losses.items():
        for i, (a, b) in enumerate(zip(ls, ref)):
            if not np.isfinite(a) or abs(a - b) > CHECK_RTOL * abs(b):
                bad.append(f"{name} step {i + 1}: loss {a!r} vs NumPy reference {b!r} "
                           f"(rel. diff {abs(a - b) / abs(b):.2e} > {CHECK_RTOL})")
    return losses, bad


def time_config(cfg, names, steps, rounds, warmup, log):
    weights = init_weights(cfg)
    batches = make_batches(cfg)
    runners = [Runner(n, cfg, weights, batches) for n in names]
    per_round = max(1, -(-steps // rounds))
    perf = time.perf_counter
    for r in runners:                                       # untimed warm-up
        for i in range(warmup):
            r.step(i)
    counter = {r.name: warmup for r in runners}
    t_start = perf()
    for rnd in range(rounds):
        order = runners[rnd % len(runners):] + runners[:rnd % len(runners)]
        for r in order:
            i0 = counter[r.name]
            block = []
            for k in range(per_round + warmup):
                x, y = r.batches[(i0 + k) % len(r.batches)]
                t0 = perf()
                r.fn(x, y)
                t1 = perf()
                if k >= warmup:                            # first steps of a block: warm-up
                    block.append(t1 - t0)
            counter[r.name] = i0 + per_round + warmup
            r.times.extend(block)
            r.rounds.append(float(np.median(block)))
        log(f"  round {rnd + 1}/{rounds} done ({perf() - t_start:.1f} s)")
    return {r.name: r for r in runners}


def summarise(runners):
    out = {}
    for name, r in runners.items():
        t = np.asarray(r.times) * 1e6
        out[name] = {
            "median_us": float(np.median(t)),
            "p10_us": float(np.percentile(t, 10)),
            "p90_us": float(np.percentile(t, 90)),
            "min_us": float(t.min()),
            "n": int(t.size),
            "round_medians_us": [x * 1e6 for x in r.rounds],
        }
    cr = out.get("chainrule")
    ratios = {}
    if cr is not None:
        for other in ("torch", "numpy", "matmul"):
            if other in out:
                a = np.asarray(cr["round_medians_us"])
                b = np.asarray(out[other]["round_medians_us"])
                rr = a / b
                ratios[other] = {"ratio": cr["median_us"] / out[other]["median_us"],
                                 "round_min": float(rr.min()), "round_max": float(rr.max())}
    return out, ratios


LABEL = {"chainrule": "chainrule", "torch": "PyTorch", "numpy": "NumPy ref", "matmul": "matmuls"}


def print_config(cfg, stats, ratios, steps_done):
    print(f"\n== {cfg.name}: {cfg.describe()} ({cfg.n_params:,} parameters)")
    for name, s in stats.items():
        print(f"  {LABEL[name]:<10} median {s['median_us']:>11,.1f} us   "
              f"p10-p90 {s['p10_us']:>11,.1f} - {s['p90_us']:>11,.1f} us   (n={s['n']})")
    tgt = TARGETS.get(cfg.name, (None, None))
    for other, t in (("torch", tgt[0]), ("numpy", tgt[1]), ("matmul", None)):
        if other not in ratios:
            continue
        r = ratios[other]
        verdict = "" if t is None else (f"  target <= {t:.2f}: " + ("met" if r["ratio"] <= t else "NOT met"))
        print(f"  chainrule/{LABEL[other]:<10} {r['ratio']:7.3f}   "
              f"(per-round {r['round_min']:.3f} - {r['round_max']:.3f}){verdict}")


def markdown_table(results):
    lines = ["| config | chainrule (µs) | PyTorch (µs) | NumPy ref (µs) | matmuls (µs) | "
             "cr/PyTorch (target) | cr/NumPy (target) | cr/matmuls |",
             "|---|---|---|---|---|---|---|---|"]

    def cell(s, name):
        if name not in s:
            return "—"
        x = s[name]
        return f"{x['median_us']:,.0f} [{x['p10_us']:,.0f}–{x['p90_us']:,.0f}]"

    def rcell(ratios, name, target):
        if name not in ratios:
            return "—"
        r = ratios[name]["ratio"]
        if target is None:
            return f"{r:.2f}"
        return f"**{r:.2f}** (≤{target:.2f} {'✓' if r <= target else '✗'})"

    for name, (stats, ratios) in results.items():
        tgt = TARGETS.get(name, (None, None))
        lines.append(f"| {name} | {cell(stats, 'chainrule')} | {cell(stats, 'torch')} | "
                     f"{cell(stats, 'numpy')} | {cell(stats, 'matmul')} | "
                     f"{rcell(ratios, 'torch', tgt[0])} | {rcell(ratios, 'numpy', tgt[1])} | "
                     f"{rcell(ratios, 'matmul', None)} |")
    return "\n".join(lines)


# ---- memory mode -------------------------------------------------------------------------------
def _maxrss_mib():
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss      # KiB on Linux
    return kb / 1024.0


def _vmhwm_mib():
    """Peak RSS of this process's address space (Linux /proc), or None."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def memory_child(framework, cfg_name, steps, threads):
    """Run in its own process: import one framework, train *steps* steps, print peak RSS as JSON."""
    cfg = CONFIGS[cfg_name]
    base0 = _maxrss_mib()
    if framework == "torch":
        import torch
        torch.set_num_threads(threads)
        mod = torch_step
    elif framework == "chainrule":
        import chainrule  # noqa: F401
        import chainrule.nn  # noqa: F401
        import chainrule.optim  # noqa: F401
        mod = chainrule_step
    else:
        mod = None
    weights = init_weights(cfg)
    batches = make_batches(cfg)
    base = _maxrss_mib()
    if mod is None:
        model, fn = numpy_reference.make(cfg, weights)
        conv = batches
    else:
        model, fn = mod.make(cfg, weights)
        conv = mod.convert_batches(batches)
    for i in range(steps):
        x, y = conv[i % len(conv)]
        fn(x, y)
    peak = _maxrss_mib()
    print(json.dumps({"framework": framework, "config": cfg_name, "steps": steps,
                      "interpreter_mib": base0, "after_import_mib": base, "peak_mib": peak,
                      "vmhwm_mib": _vmhwm_mib()}))


def memory_mode(cfg_names, frameworks, steps, threads):
    results = {}
    for cfg_name in cfg_names:
        results[cfg_name] = {}
        for fw in frameworks:
            cmd = [sys.executable, os.path.abspath(__file__), "--_memory-child", fw,
                   "--config", cfg_name, "--memory-steps", str(steps), "--threads", str(threads)]
            p = subprocess.run(cmd, capture_output=True, text=True)
            if p.returncode != 0:
                print(f"memory: {fw} on {cfg_name} failed:\n{p.stderr[-2000:]}", file=sys.stderr)
                continue
            results[cfg_name][fw] = json.loads(p.stdout.strip().splitlines()[-1])
    print(f"\nPeak resident memory (ru_maxrss) of a {steps}-step run, one process per framework "
          f"(MiB; 'before model' = peak after the imports and the shared weights and batches, 'model+run' = peak - before model)")
    print(f"  {'config':<8} {'framework':<10} {'peak':>9} {'before model':>13} {'model+run':>10} {'VmHWM':>9}")
    for cfg_name, res in results.items():
        for fw, r in res.items():
            hwm = r.get("vmhwm_mib")
            print(f"  {cfg_name:<8} {LABEL.get(fw, fw):<10} {r['peak_mib']:9.1f} "
                  f"{r['after_import_mib']:13.1f} {r['peak_mib'] - r['after_import_mib']:10.1f} "
                  f"{hwm if hwm is None else format(hwm, '9.1f')}")
        if "chainrule" in res and "torch" in res:
            c, t = res["chainrule"], res["torch"]
            print(f"  {cfg_name:<8} chainrule/PyTorch peak {c['peak_mib'] / t['peak_mib']:.2f}  "
                  f"({'no more than PyTorch' if c['peak_mib'] <= t['peak_mib'] else 'MORE than PyTorch'}); "
                  f"model+run {((c['peak_mib'] - c['after_import_mib']) / max(t['peak_mib'] - t['after_import_mib'], 1e-9)):.2f}")
    return results


def memory_markdown(results, steps):
    lines = [f"| config | framework | peak RSS (MiB) | before model (MiB) | model + {steps} steps (MiB) |",
             "|---|---|---|---|---|"]
    for cfg_name, res in results.items():
        for fw, r in res.items():
            lines.append(f"| {cfg_name} | {LABEL.get(fw, fw)} | {r['peak_mib']:.1f} | "
                         f"{r['after_import_mib']:.1f} | {r['peak_mib'] - r['after_import_mib']:.1f} |")
    return "\n".join(lines)


# ---- main ----------------------------------------------------------------------------------------
def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default=",".join(CONFIGS),
                    help="comma-separated configurations (default: all: %(default)s)")
    ap.add_argument("--steps", type=int, default=None,
                    help="timed steps per framework and configuration (default: per config, "
                         "1000, 60 for wide)")
    ap.add_argument("--rounds", type=int, default=None,
                    help="interleaved repetition rounds (default: per config)")
    ap.add_argument("--warmup", type=int, default=None,
                    help="untimed steps at the start of every block (default: 3, 1 for wide)")
    ap.add_argument("--frameworks", default="chainrule,torch,numpy,matmul",
                    help="which to run (default: %(default)s); missing ones are skipped")
    ap.add_argument("--threads", type=int, default=None,
                    help="PyTorch thread count (default: NumPy's BLAS thread count)")
    ap.add_argument("--memory", action="store_true",
                    help="measure peak RSS of a --memory-steps run, each framework in its own process")
    ap.add_argument("--memory-steps", type=int, default=200)
    ap.add_argument("--markdown", action="store_true", help="also print Markdown tables")
    ap.add_argument("--json", metavar="PATH", help="write all results (and machine details) as JSON")
    ap.add_argument("--keep-going", action="store_true",
                    help="report a loss mismatch but time the configuration anyway")
    ap.add_argument("--_memory-child", dest="memory_child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    cfg_names = [c.strip() for c in args.config.split(",") if c.strip()]
    unknown = [c for c in cfg_names if c not in CONFIGS]
    if unknown:
        ap.error(f"unknown config(s) {unknown}; choose from {list(CONFIGS)}")

    blas = blas_info()
    threads = args.threads or blas["threads"] or os.cpu_count()

    if args.memory_child:
        memory_child(args.memory_child, cfg_names[0], args.memory_steps, threads)
        return 0

    names = [n.strip() for n in args.frameworks.split(",") if n.strip()]
    if "torch" in names and not (_dist_version("torch") if args.memory else torch_step.available()):
        print("PyTorch is not installed: skipping it", file=sys.stderr)
        names.remove("torch")
    if "chainrule" in names and not args.memory:
        ok, why = chainrule_step.available()
        if not ok:
            print(f"chainrule's nn/optim are not usable ({why}): skipping it", file=sys.stderr)
            names.remove("chainrule")
    if "torch" in names and not args.memory:
        torch_step.set_num_threads(threads)

    info = machine_info(threads, light=args.memory)
    print("machine:", info["cpu"].get("Model name"), f"({info['cpu'].get('CPU(s)')} CPUs),",
          f"Python {info['python']}, NumPy {info['numpy']}, BLAS {blas['name']} {blas['version']}",
          f"(threads {blas['threads']}, core {blas['corename']}),",
          f"torch {info.get('torch', 'not installed')}, chainrule {info['chainrule']}")
    print("threads: NumPy BLAS", blas["threads"], "/ torch", info.get("torch_threads", "-"),
          "| env:", " ".join(f"{k}={v}" for k, v in info["env"].items()) or "(none of the thread vars set)")

    if args.memory:
        fws = [n for n in names if n != "matmul"]
        mem = memory_mode(cfg_names, fws, args.memory_steps, threads)
        if args.markdown:
            print("\n" + memory_markdown(mem, args.memory_steps))
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"machine": info, "memory": mem, "memory_steps": args.memory_steps}, f, indent=1)
        return 0

    results, raw, failures = {}, {}, []
    t_all = time.perf_counter()
    for cfg_name in cfg_names:
        cfg = CONFIGS[cfg_name]
        check_names = [n for n in names if n != "matmul"]
        if "numpy" not in check_names:
            check_names.append("numpy")
        losses, bad = check_losses(cfg, check_names, init_weights(cfg), make_batches(cfg))
        if bad:
            msg = f"LOSS MISMATCH on {cfg_name}:\n  " + "\n  ".join(bad)
            print(msg, file=sys.stderr)
            failures.append(msg)
            if not args.keep_going:
                print("stopping (use --keep-going to time anyway)", file=sys.stderr)
                return 2
        else:
            print(f"\n[{cfg_name}] losses agree over {CHECK_STEPS} steps (rtol {CHECK_RTOL}): "
                  + ", ".join(f"{n} {ls[-1]:.6f}" for n, ls in losses.items()))
        steps = args.steps or cfg.steps
        rounds = args.rounds or min(cfg.rounds, steps)
        warmup = args.warmup if args.warmup is not None else (1 if cfg_name == "wide" else 3)
        gc.collect()
        load0 = os.getloadavg()[0]
        runners = time_config(cfg, names, steps, rounds, warmup,
                              lambda s: print(s, file=sys.stderr, flush=True))
        load1 = os.getloadavg()[0]
        stats, ratios = summarise(runners)
        results[cfg_name] = (stats, ratios)
        raw[cfg_name] = {"stats": stats, "ratios": ratios, "steps": steps, "rounds": rounds,
                         "warmup": warmup, "check_losses": losses, "loadavg": [load0, load1]}
        print_config(cfg, stats, ratios, steps)
        busy = "  (machine busy: other processes compete for the CPUs)" if max(load0, load1) > (os.cpu_count() or 1) else ""
        print(f"  1-min load average {load0:.2f} before, {load1:.2f} after{busy}")
        del runners
        gc.collect()
    print(f"\ntotal time {time.perf_counter() - t_all:.0f} s")
    if args.markdown:
        print("\n" + markdown_table(results))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": info, "results": raw, "failures": failures}, f, indent=1)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
