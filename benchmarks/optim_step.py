"""Time one optimiser step here and in PyTorch (a script, not a test).

    .venv/bin/python tests/optim/bench_step.py

Prints microseconds per ``step()`` for the parameters of a tiny model (shapes (16, 29), (16,),
(1, 16), (1,)) and of a 784-512-512-10 MLP, with gradients already in place; PyTorch on one
thread, as NumPy's elementwise kernels are. Each figure is the best of 10 timed blocks.
"""
import time

import numpy as np

import chainrule.optim as co
from chainrule.tensor import Tensor

SMALL = [(16, 29), (16,), (1, 16), (1,)]
MLP = [(512, 784), (512,), (512, 512), (512,), (10, 512), (10,)]


def _time(step, repeat):
    for _ in range(5):
        step()
    best = float("inf")
    for _ in range(10):           # best of 10 blocks: the least disturbed by other processes
        t = time.perf_counter()
        for _ in range(repeat):
            step()
        best = min(best, (time.perf_counter() - t) / repeat)
    return best * 1e6


def ours(shapes, name, repeat, **kw):
    rng = np.random.default_rng(0)
    params = [Tensor(rng.standard_normal(s).astype(np.float32), requires_grad=True) for s in shapes]
    for p in params:
        p.grad = Tensor(rng.standard_normal(p.shape).astype(np.float32))
    opt = getattr(co, name)(params, **kw)
    return _time(opt.step, repeat)


def theirs(shapes, name, repeat, **kw):
    import torch
    torch.set_num_threads(1)          # NumPy runs on one core: compare like with like
    torch.manual_seed(0)
    params = [torch.randn(*s, requires_grad=True) for s in shapes]
    for p in params:
        p.grad = torch.randn_like(p)
    opt = getattr(torch.optim, name)(params, **kw)
    return _time(opt.step, repeat)


def main():
    try:
        import torch  # noqa: F401
        have_torch = True
    except ImportError:
        have_torch = False
    cases = [("Adam", {"lr": 1e-3}), ("AdamW", {"lr": 1e-3}),
             ("SGD", {"lr": 0.1, "momentum": 0.9}), ("RMSprop", {"lr": 1e-3}),
             ("Adagrad", {"lr": 1e-2}), ("Adamax", {"lr": 1e-3})]
    print("µs per step: ours (default: flat buffer for small params), ours (foreach=False: per parameter),")
    print("torch foreach=False (single-tensor), torch default")
    print(f"{'':28s}{'default':>10s}{'per-param':>11s}{'torch-1t':>11s}{'torch-def':>11s}")
    for label, shapes, repeat in [("4 small params", SMALL, 1000), ("MLP 784-512-512-10", MLP, 20)]:
        for name, kw in cases:
            row = [ours(shapes, name, repeat, **kw), ours(shapes, name, repeat, foreach=False, **kw)]
            if have_torch:
                row += [theirs(shapes, name, repeat, foreach=False, **kw),
                        theirs(shapes, name, repeat, **kw)]
            print(f"{label + ' ' + name:28s}" + "".join(f"{v:11.1f}" for v in row))


if __name__ == "__main__":
    main()
