"""Benchmark sequence models: LSTM, GRU, RNN and TransformerEncoderLayer steps, chainrule vs PyTorch.

    python benchmarks/sequences.py                      # lstm and encoder, timing (interleaved)
    python benchmarks/sequences.py --config gru,rnn
    python benchmarks/sequences.py --config lstm --rounds 10 --steps 5
    python benchmarks/sequences.py --memory             # peak RSS, one process per framework
    python benchmarks/sequences.py --config lstm --phases  # forward/loss/backward/optimiser split

A step is forward, loss (the mean square of the output against a fixed target), backward,
``Adam(lr=1e-3).step()`` and ``zero_grad()`` on a fixed batch:

* ``lstm``: ``nn.LSTM(128, 128, batch_first=True)``, batch 32, 50 time steps (``gru`` and
  ``rnn``: ``nn.GRU`` / ``nn.RNN`` (tanh) of the same sizes);
* ``encoder``: ``nn.TransformerEncoderLayer(d_model=128, nhead=4, batch_first=True,
  dropout=0.0)`` (dim_feedforward 2048, PyTorch's default), batch 32, length 64.

Both frameworks start from the same weights (PyTorch's initialisation, copied into chainrule
through ``load_state_dict``) and their first losses must agree to 1e-4 relative before anything
is timed. Timing runs interleaved rounds: each round times a block of steps of each framework in
turn (order alternating), after warm-up steps; reported are medians and the 10th-90th
percentiles of all timed steps, and the ratio chainrule/PyTorch. PyTorch uses ``--threads``
threads (default: as many as NumPy's BLAS uses, read as ``run.py`` does).
"""
import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import child_peak, in_children, interleaved  # noqa: E402

CONFIGS = {"lstm": {"batch": 32, "steps": 50, "features": 128},
           "gru": {"batch": 32, "steps": 50, "features": 128},
           "rnn": {"batch": 32, "steps": 50, "features": 128},
           "encoder": {"batch": 32, "steps": 64, "features": 128}}
RECURRENT = {"lstm": "LSTM", "gru": "GRU", "rnn": "RNN"}


def _blas_threads():
    """The threads of NumPy's BLAS (what chainrule computes with), as run.py reads them."""
    from run import blas_info
    return blas_info()["threads"] or 1


def _data(config):
    c = CONFIGS[config]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((c["batch"], c["steps"], c["features"])).astype(np.float32)
    y = rng.standard_normal((c["batch"], c["steps"], c["features"])).astype(np.float32)
    return x, y


def torch_model(config):
    import torch
    torch.manual_seed(0)
    if config in RECURRENT:
        return getattr(torch.nn, RECURRENT[config])(128, 128, batch_first=True)
    return torch.nn.TransformerEncoderLayer(128, 4, batch_first=True, dropout=0.0)


def chainrule_model(config, state):
    import chainrule as cr
    if config in RECURRENT:
        m = getattr(cr.nn, RECURRENT[config])(128, 128, batch_first=True)
    else:
        m = cr.nn.TransformerEncoderLayer(128, 4, batch_first=True, dropout=0.0)
    m.load_state_dict(state)
    return m


PHASES = ("forward", "loss", "backward", "optimizer")


def _mark(marks):
    """Note the time at a phase boundary (when a step is asked for its phases)."""
    if marks is not None:
        marks.append(time.perf_counter())


def make_steps(config, frameworks, state=None):
    """{framework: step function returning the loss as a float}, from one set of weights
    (PyTorch's initialisation, or *state*, a dict of arrays, which spares importing torch).
    ``step(marks)`` also appends the times of the phase boundaries to the list *marks*:
    zero_grad and forward | loss | backward | optimiser step and ``loss.item()``."""
    x, y = _data(config)
    if state is None or "torch" in frameworks:
        theirs = torch_model(config)
        if state is None:
            state = {k: v.detach().numpy().copy() for k, v in theirs.state_dict().items()}
    steps = {}
    if "torch" in frameworks:
        import torch
        tx, ty = torch.tensor(x), torch.tensor(y)
        topt = torch.optim.Adam(theirs.parameters(), lr=1e-3)

        def torch_step(marks=None):
            _mark(marks)
            topt.zero_grad()
            out = theirs(tx)
            out = out[0] if isinstance(out, tuple) else out
            _mark(marks)
            loss = ((out - ty) ** 2).mean()
            _mark(marks)
            loss.backward()
            _mark(marks)
            topt.step()
            value = loss.item()
            _mark(marks)
            return value
        steps["torch"] = torch_step
    if "chainrule" in frameworks:
        import chainrule as cr
        ours = chainrule_model(config, state)
        cx, cy = cr.tensor(x), cr.tensor(y)
        opt = cr.optim.Adam(ours.parameters(), lr=1e-3)

        def chainrule_step(marks=None):
            _mark(marks)
            opt.zero_grad()
            out = ours(cx)
            out = out[0] if isinstance(out, tuple) else out
            _mark(marks)
            loss = ((out - cy) ** 2).mean()
            _mark(marks)
            loss.backward()
            _mark(marks)
            opt.step()
            value = loss.item()
            _mark(marks)
            return value
        steps["chainrule"] = chainrule_step
    return steps


def check(config):
    """The first three losses of both frameworks, from the same weights, agree to 1e-4."""
    steps = make_steps(config, ("torch", "chainrule"))
    a = [steps["torch"]() for _ in range(3)]
    b = [steps["chainrule"]() for _ in range(3)]
    ok = np.allclose(a, b, rtol=1e-4)
    return ok, a, b


def time_config(config, rounds, per_round, warmup):
    out = interleaved(make_steps(config, ("torch", "chainrule")), rounds, per_round, warmup)
    out["ratio"] = out["chainrule"]["ratio_to_torch"]
    return out


def phases(config, rounds, per_round):
    """{framework: {phase: median ms}}: the steps' phases (PHASES), timed as ``time_config``
    times whole steps (interleaved rounds, one warm-up step per round)."""
    steps = make_steps(config, ("torch", "chainrule"))
    times = {name: {p: [] for p in PHASES} for name in steps}
    names = list(steps)
    for r in range(rounds):
        for name in names[r % 2:] + names[:r % 2]:
            steps[name]()
            for _ in range(per_round):
                marks = []
                steps[name](marks)
                for p, t0, t1 in zip(PHASES, marks, marks[1:]):
                    times[name][p].append((t1 - t0) * 1000)
    return {name: {p: float(np.median(ts)) for p, ts in ph.items()} for name, ph in times.items()}


def memory_child(config, framework, n, weights):
    """Run *n* steps in this process; print the peak RSS and the RSS before the first step."""
    if framework == "torch":
        import torch
        torch.set_num_threads(1)
    child_peak(make_steps(config, (framework,), dict(np.load(weights)))[framework], n)


def memory(config, n):
    """Peak RSS of each framework in its own process (chainrule's never imports torch), and
    the growth over the RSS before the first step (the training step's own memory)."""
    state = {k: v.detach().numpy() for k, v in torch_model(config).state_dict().items()}
    out = in_children(__file__, config, ("torch", "chainrule"), state, n)
    out["ratio"] = out["chainrule"]["peak_mb"] / out["torch"]["peak_mb"]
    out["growth_ratio"] = ((out["chainrule"]["peak_mb"] - out["chainrule"]["before_mb"])
                           / (out["torch"]["peak_mb"] - out["torch"]["before_mb"]))
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default="lstm,encoder")
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--steps", type=int, default=5, help="timed steps per framework per round")
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--memory", action="store_true")
    p.add_argument("--phases", action="store_true",
                   help="median ms of forward, loss, backward and optimiser step per framework")
    p.add_argument("--memory-steps", type=int, default=20)
    p.add_argument("--json", default=None)
    p.add_argument("--child", nargs=4, default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        memory_child(args.child[0], args.child[1], int(args.child[2]), args.child[3])
        return 0
    threads = args.threads or _blas_threads()
    import torch
    torch.set_num_threads(threads)
    results = {"threads": threads}
    for config in args.config.split(","):
        ok, a, b = check(config)
        if not ok:
            print(f"{config}: losses disagree: torch {a}, chainrule {b}", file=sys.stderr)
            return 2
        if args.phases:
            r = phases(config, args.rounds, args.steps)
            for name in ("torch", "chainrule"):
                parts = "  ".join(f"{p} {r[name][p]:6.2f}" for p in PHASES)
                print(f"{config:8s} {name:9s} {parts} ms", flush=True)
        elif args.memory:
            r = memory(config, args.memory_steps)
            t, c = r["torch"], r["chainrule"]
            print(f"{config:8s} peak RSS  torch {t['peak_mb']:7.1f} MB (+{t['peak_mb'] - t['before_mb']:.1f} "
                  f"over setup)   chainrule {c['peak_mb']:7.1f} MB (+{c['peak_mb'] - c['before_mb']:.1f})"
                  f"   ratio {r['ratio']:.2f}, growth ratio {r['growth_ratio']:.2f}")
        else:
            r = time_config(config, args.rounds, args.steps, args.warmup)
            print(f"{config:8s} torch {r['torch']['median_ms']:8.2f} ms "
                  f"[{r['torch']['p10_ms']:.1f}-{r['torch']['p90_ms']:.1f}]   chainrule "
                  f"{r['chainrule']['median_ms']:8.2f} ms [{r['chainrule']['p10_ms']:.1f}-"
                  f"{r['chainrule']['p90_ms']:.1f}]   chainrule/torch {r['ratio']:.2f}",
                  flush=True)
        results[config] = r
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
