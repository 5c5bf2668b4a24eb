"""chainrule on a GPU: op parity on "cuda", then a full training step against PyTorch.

    python benchmarks/gpu.py                      # parity + timing of the five networks
    python benchmarks/gpu.py --standin            # the same script on the CPU stand-in (no GPU)
    python benchmarks/gpu.py --config wide --rounds 5 --markdown

1. Parity: every entry of the op table (tests/ops/op_table.py) runs forward and first-order
   backward on "cuda" and on the CPU in float64; outputs and gradients must agree (rtol 1e-6).
2. Timing: for each network of benchmarks/configs.py, a step (forward, loss, backward, Adam step,
   zero_grad) of chainrule on "cuda", PyTorch on CUDA and PyTorch on the CPU, from the same
   weights, interleaved in rounds (the order rotating), each GPU step closed by a device
   synchronisation.  It prints medians and the ratios chainrule-cuda / torch-cuda and
   chainrule-cuda / chainrule-cpu, with the issue's targets (wide ≤ 1.1x PyTorch CUDA, heart and
   deep ≤ 1.5x; wide and medium faster than chainrule's own CPU step).
3. Fused kernels: each elementwise chain that ``xp.fuse`` makes one kernel (Adam's update,
   BCE-with-logits forward and backward, ReLU's backward) timed on "cuda" against the same
   function run op by op (one kernel per operation); medians, float32, --kernel-size elements.
"""
import argparse
import os
import statistics
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
for p in (HERE, os.path.join(ROOT, "tests", "ops")):
    if p not in sys.path:
        sys.path.insert(0, p)

import chainrule as cr  # noqa: E402
from chainrule.backend import cuda as cuda_backend  # noqa: E402
from chainrule.nn.functional.loss_binary import (  # noqa: E402
    _make_bce_logits_backward, _make_bce_logits_forward)
from chainrule.ops.elementwise import _make_relu_backward  # noqa: E402
from chainrule.optim._kernels import make_adam_kernel  # noqa: E402
from configs import CONFIGS, init_weights, make_batches  # noqa: E402
import chainrule_step  # noqa: E402

TARGETS = {"wide": 1.1, "heart": 1.5, "deep": 1.5}


# ---- 1. parity of the op table on the device --------------------------------------------------
def op_parity():
    """Run every op-table case on CPU and "cuda"; return (checked, failures)."""
    import device_parity
    return device_parity.run_all("cuda")


# ---- 2. timing ---------------------------------------------------------------------------------
def _runner(lib, build, cfg, weights, batches, device):
    """One timed step of *lib* (chainrule or torch, the same names) on *device*: the model from
    *build*, moved there, then an Adam built on the moved parameters, as one does in PyTorch."""
    model = build(cfg, weights)
    model.to(device)
    loss_fn = lib.nn.BCEWithLogitsLoss() if cfg.loss == "bce" else lib.nn.CrossEntropyLoss()
    opt = lib.optim.Adam(model.parameters(), lr=1e-3)
    data = [(lib.tensor(x, device=device), lib.tensor(y, device=device)) for x, y in batches]
    sync = lib.cuda.synchronize if device == "cuda" else (lambda: None)

    def run(i):
        x, y = data[i % len(data)]
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        opt.zero_grad()
        sync()
    return run


def _chainrule_runner(cfg, weights, batches, device):
    return _runner(cr, chainrule_step.build, cfg, weights, batches, device)


def _torch_runner(cfg, weights, batches, device):
    import torch
    import torch_step
    return _runner(torch, torch_step.build, cfg, weights, batches, device)


def time_configs(names, rounds, steps, warmup):
    try:
        import torch
        have_torch_cuda = torch.cuda.is_available()
    except ImportError:
        torch, have_torch_cuda = None, False
    results = {}
    for name in names:
        cfg = CONFIGS[name]
        weights, batches = init_weights(cfg), make_batches(cfg)
        runners = {"chainrule-cuda": _chainrule_runner(cfg, weights, batches, "cuda"),
                   "chainrule-cpu": _chainrule_runner(cfg, weights, batches, "cpu")}
        if torch is not None:
            runners["torch-cpu"] = _torch_runner(cfg, weights, batches, "cpu")
            if have_torch_cuda:
                runners["torch-cuda"] = _torch_runner(cfg, weights, batches, "cuda")
        times = {k: [] for k in runners}
        order = list(runners)
        for r in range(rounds):
            for k in order[r % len(order):] + order[:r % len(order)]:
                run = runners[k]
                for i in range(warmup):
                    run(i)
                for i in range(steps):
                    t0 = time.perf_counter()
                    run(i)
                    times[k].append(time.perf_counter() - t0)
        results[name] = {k: statistics.median(v) for k, v in times.items()}
    return results


# ---- 3. the fused kernels -----------------------------------------------------------------------
def kernel_timings(n, reps=20, rounds=5):
    """{kernel: (fused seconds, op-by-op seconds)}: medians over *rounds* of *reps* calls on n
    float32 elements of "cuda", the two forms interleaved, each timing closed by a synchronise."""
    xp = cuda_backend.namespace()
    rng = np.random.default_rng(0)
    f32 = np.float32

    def arr(positive=False):
        a = rng.standard_normal(n).astype(f32)
        return xp.asarray(np.abs(a) if positive else a)
    p, g, m, v, x, t, y = arr(), arr(), arr(), arr(True), arr(), arr(True), arr(True)
    z = xp.exp(-xp.abs(x))
    cases = {   # name: (make, variant, arguments)
        "adam_step": (make_adam_kernel, (False, False),
                      (p, g, m, v, f32(0.1), f32(0.999), f32(0.001), f32(1e-8), f32(-1e-3))),
        "bce_logits_forward": (_make_bce_logits_forward, (), (x, t, f32(0))),
        "bce_logits_backward": (_make_bce_logits_backward, (), (x, z, t, f32(1 / n), f32(1))),
        "relu_backward": (_make_relu_backward, (), (y, g, f32(0))),
    }
    out = {}
    for name, (make, variant, args) in cases.items():
        forms = (xp.fused(make, *variant), make(xp, *variant))
        times = ([], [])
        for r in range(rounds):
            for k in ((0, 1) if r % 2 == 0 else (1, 0)):
                fn = forms[k]
                fn(*args)
                cr.cuda.synchronize()
                t0 = time.perf_counter()
                for _ in range(reps):
                    fn(*args)
                cr.cuda.synchronize()
                times[k].append((time.perf_counter() - t0) / reps)
        out[name] = (statistics.median(times[0]), statistics.median(times[1]))
    return out


def kernel_report(timings, n):
    lines = [f"fused kernels on cuda, {n} float32 elements (median per call):"]
    for name, (fused, plain) in timings.items():
        lines.append(f"  {name:>20}  fused {fused * 1e6:9.1f} µs   op by op {plain * 1e6:9.1f} µs"
                     f"   ratio {fused / plain:.2f}")
    return "\n".join(lines)


def report(results, markdown=False):
    lines = []
    head = ["config", "chainrule cuda", "torch cuda", "torch cpu", "chainrule cpu",
            "cr-cuda / torch-cuda", "cr-cuda / cr-cpu", "target"]
    lines.append("| " + " | ".join(head) + " |" if markdown else "  ".join(f"{h:>14}" for h in head))
    if markdown:
        lines.append("|" + "---|" * len(head))
    for name, r in results.items():
        def us(k):
            return f"{r[k] * 1e6:.0f} µs" if k in r else "–"
        ratio_t = r["chainrule-cuda"] / r["torch-cuda"] if "torch-cuda" in r else None
        ratio_c = r["chainrule-cuda"] / r["chainrule-cpu"]
        target = TARGETS.get(name)
        row = [name, us("chainrule-cuda"), us("torch-cuda"), us("torch-cpu"), us("chainrule-cpu"),
               "–" if ratio_t is None else f"{ratio_t:.2f}", f"{ratio_c:.2f}",
               f"≤ {target}" if target else ("< 1 vs cpu" if name in ("wide", "medium") else "")]
        lines.append("| " + " | ".join(row) + " |" if markdown else "  ".join(f"{c:>14}" for c in row))
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--standin", action="store_true", help="run on the CPU stand-in for CuPy")
    ap.add_argument("--config", default=",".join(CONFIGS), help="comma-separated network names")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--skip-parity", action="store_true")
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--kernel-size", type=int, default=None,
                    help="elements per fused-kernel timing (default 2048², 10⁴ on the stand-in)")
    ap.add_argument("--skip-kernels", action="store_true")
    args = ap.parse_args(argv)
    names = [n for n in args.config.split(",") if n]
    unknown = [n for n in names if n not in CONFIGS]
    if unknown:
        ap.error(f"unknown config(s) {unknown}; choose from {sorted(CONFIGS)}")
    ctx = cuda_backend.use_standin() if args.standin else _real_gpu()
    with ctx:
        print(f"device: {'CPU stand-in for CuPy' if args.standin else _gpu_name()}")
        status = 0
        if not args.skip_parity:
            checked, failures = op_parity()
            print(f"op parity on cuda: {checked} cases agree, {len(failures)} differ")
            for name, why in failures[:20]:
                print(f"  {name}: {why}")
            status = 1 if failures else 0
        if not args.skip_kernels:
            n = args.kernel_size or (10_000 if args.standin else 2048 * 2048)
            print(kernel_report(kernel_timings(n), n))
        results = time_configs(names, args.rounds, args.steps, args.warmup)
        print(report(results, args.markdown))
    return status


class _real_gpu:
    def __enter__(self):
        if not cr.cuda.is_available():
            sys.exit("no GPU: CuPy is missing or sees no device (run with --standin to test the "
                     "script on the CPU)")

    def __exit__(self, *exc):
        return False


def _gpu_name():
    import cupy
    props = cupy.cuda.runtime.getDeviceProperties(0)
    return props["name"].decode() if isinstance(props["name"], bytes) else str(props["name"])


if __name__ == "__main__":
    sys.exit(main())
