"""Benchmark convolutional networks: chainrule vs PyTorch CPU vs a hand-written NumPy im2col floor.

    python benchmarks/conv.py                         # both configurations, timing
    python benchmarks/conv.py --config digits --rounds 10 --steps 20
    python benchmarks/conv.py --memory                # peak RSS, one process per framework

* ``digits``: the ``chainrule train digits`` network (conv 3×3 1→16, ReLU, max-pool 2, conv 3×3
  16→32, ReLU, max-pool 2, linear 128→10) on a batch of 64 8×8 images; a step is forward,
  cross-entropy, backward, ``Adam(lr=1e-3).step()`` and ``zero_grad()``.
* ``resblock``: a ResNet basic block, 64 channels, 32×32, batch 32: conv 3×3–BN–ReLU–conv 3×3–BN,
  plus the input, ReLU; a step is forward and backward of the output's mean square.

All three start from the same weights (PyTorch's initialisation) and must agree on the first
losses (to 1e-4 relative) before anything is timed.  Timing runs interleaved rounds: each round
times a block of steps of each framework in turn (order rotating), after warm-up steps; reported
are medians, the 10th–90th percentiles and the ratios to PyTorch.  PyTorch uses ``--threads``
threads (default: NumPy's BLAS threads, read with threadpoolctl when installed, else 1); with
threadpoolctl, ``--threads`` sets NumPy's BLAS threads too.

The NumPy floor is the textbook im2col: ``as_strided`` windows copied to an (N, C·k·k, H·W)
column array, one batched GEMM, ``col2im`` as a loop over the kernel taps, max-pooling by
reshape, batch norm and Adam written out.
"""
import argparse
import json
import os
import sys

import numpy as np
from numpy.lib.stride_tricks import as_strided

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import child_peak, in_children, interleaved  # noqa: E402

CONFIGS = ("digits", "resblock")
FRAMEWORKS = ("torch", "chainrule", "numpy")


def _blas_threads(n=None):
    try:
        import threadpoolctl
        if n is not None:
            threadpoolctl.threadpool_limits(n, user_api="blas")
        for info in threadpoolctl.threadpool_info():
            if info.get("user_api") == "blas":
                return int(info["num_threads"])
    except ImportError:
        pass
    env = os.environ.get("OPENBLAS_NUM_THREADS") or os.environ.get("OMP_NUM_THREADS")
    return int(env) if env else 1


# ---- data and the reference weights (PyTorch's initialisation) --------------------------------
def _data(config):
    rng = np.random.default_rng(0)
    if config == "digits":
        return (rng.uniform(0, 1, (64, 1, 8, 8)).astype(np.float32),
                rng.integers(0, 10, 64))
    return rng.standard_normal((32, 64, 32, 32)).astype(np.float32), None


def torch_model(config):
    import torch
    from torch import nn
    torch.manual_seed(0)
    if config == "digits":
        return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Flatten(), nn.Linear(128, 10))

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(64, 64, 3, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(64)
            self.conv2 = nn.Conv2d(64, 64, 3, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(64)

        def forward(self, x):
            y = torch.relu(self.bn1(self.conv1(x)))
            return torch.relu(self.bn2(self.conv2(y)) + x)
    return Block()


def chainrule_model(config, state):
    import chainrule as cr
    from chainrule import nn
    if config == "digits":
        m = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(128, 10))
    else:
        class Block(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv1 = nn.Conv2d(64, 64, 3, padding=1, bias=False)
                self.bn1 = nn.BatchNorm2d(64)
                self.conv2 = nn.Conv2d(64, 64, 3, padding=1, bias=False)
                self.bn2 = nn.BatchNorm2d(64)

            def forward(self, x):
                y = cr.relu(self.bn1(self.conv1(x)))
                return cr.relu(self.bn2(self.conv2(y)) + x)
        m = Block()
    m.load_state_dict({k: np.asarray(v) for k, v in state.items()})
    return m


# ---- the NumPy floor ----------------------------------------------------------------------------
def _im2col(x, k, pad):
    n, c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    s = xp.strides
    win = as_strided(xp, (n, c, k, k, h, w), (s[0], s[1], s[2], s[3], s[2], s[3]))
    return win.reshape(n, c * k * k, h * w)


def _col2im(cols, shape, k, pad):
    n, c, h, w = shape
    gp = np.zeros((n, c, h + 2 * pad, w + 2 * pad), cols.dtype)
    cols = cols.reshape(n, c, k, k, h, w)
    for i in range(k):
        for j in range(k):
            gp[:, :, i:i + h, j:j + w] += cols[:, :, i, j]
    return gp[:, :, pad:pad + h, pad:pad + w]


def _conv(x, w, b=None):
    cols = _im2col(x, w.shape[2], w.shape[2] // 2)
    y = np.matmul(w.reshape(w.shape[0], -1), cols)
    y = y.reshape(x.shape[0], w.shape[0], x.shape[2], x.shape[3])
    return (y if b is None else y + b[:, None, None]), cols


def _conv_back(g, x_shape, w, cols, need_x=True):
    g2 = g.reshape(g.shape[0], g.shape[1], -1)
    gw = np.tensordot(g2, cols, axes=([0, 2], [0, 2])).reshape(w.shape)
    gx = None
    if need_x:
        gcols = np.matmul(w.reshape(w.shape[0], -1).T, g2)
        gx = _col2im(gcols, x_shape, w.shape[2], w.shape[2] // 2)
    return gx, gw, g2.sum(axis=(0, 2))


def _bn(x, gamma, beta, eps=1e-5):
    mu = x.mean(axis=(0, 2, 3), keepdims=True)
    xc = x - mu
    rstd = 1 / np.sqrt((xc * xc).mean(axis=(0, 2, 3), keepdims=True) + eps)
    xh = xc * rstd
    return xh * gamma[:, None, None] + beta[:, None, None], (xh, rstd)


def _bn_back(g, gamma, cache):
    xh, rstd = cache
    gg = g * gamma[:, None, None]
    gx = rstd * (gg - gg.mean(axis=(0, 2, 3), keepdims=True)
                 - xh * (gg * xh).mean(axis=(0, 2, 3), keepdims=True))
    return gx, (g * xh).sum(axis=(0, 2, 3)), g.sum(axis=(0, 2, 3))


def _pool(x):
    n, c, h, w = x.shape
    v = x.reshape(n, c, h // 2, 2, w // 2, 2)
    y = v.max(axis=(3, 5))
    return y, (v == y[:, :, :, None, :, None])


def _pool_back(g, mask, shape):
    return (mask * g[:, :, :, None, :, None]).reshape(shape)


class NumpyAdam:
    """Adam (PyTorch's defaults) over a dict of arrays, in place."""

    def __init__(self, params, lr=1e-3, b1=0.9, b2=0.999, eps=1e-8):
        self.p, self.lr, self.b1, self.b2, self.eps, self.t = params, lr, b1, b2, eps, 0
        self.m = {k: np.zeros_like(v) for k, v in params.items()}
        self.v = {k: np.zeros_like(v) for k, v in params.items()}

    def step(self, grads):
        self.t += 1
        c1, c2 = 1 - self.b1 ** self.t, 1 - self.b2 ** self.t
        for k, g in grads.items():
            m, v = self.m[k], self.v[k]
            m *= self.b1
            m += (1 - self.b1) * g
            v *= self.b2
            v += (1 - self.b2) * g * g
            self.p[k] -= (self.lr / c1) * m / (np.sqrt(v / c2) + self.eps)


def numpy_steps(config, state):
    p = {k: np.array(v, dtype=np.float32) for k, v in state.items()
         if k.endswith(("weight", "bias"))}
    x, y = _data(config)
    if config == "digits":
        opt = NumpyAdam(p)
        onehot = np.eye(10, dtype=np.float32)[y]

        def step():
            a1, c1 = _conv(x, p["0.weight"], p["0.bias"])
            r1 = np.maximum(a1, 0)
            q1, m1 = _pool(r1)
            a2, c2 = _conv(q1, p["3.weight"], p["3.bias"])
            r2 = np.maximum(a2, 0)
            q2, m2 = _pool(r2)
            f = q2.reshape(len(x), -1)
            z = f @ p["7.weight"].T + p["7.bias"]
            z = z - z.max(axis=1, keepdims=True)
            e = np.exp(z)
            prob = e / e.sum(axis=1, keepdims=True)
            loss = -np.log(prob[np.arange(len(y)), y]).mean()
            gz = (prob - onehot) / len(y)
            g = {"7.weight": gz.T @ f, "7.bias": gz.sum(0)}
            gq2 = (gz @ p["7.weight"]).reshape(q2.shape)
            ga2 = _pool_back(gq2, m2, r2.shape) * (a2 > 0)
            gq1, g["3.weight"], g["3.bias"] = _conv_back(ga2, q1.shape, p["3.weight"], c2)
            ga1 = _pool_back(gq1, m1, r1.shape) * (a1 > 0)
            _, g["0.weight"], g["0.bias"] = _conv_back(ga1, x.shape, p["0.weight"], c1, False)
            opt.step(g)
            return float(loss)
        return step

    def step():
        a1, c1 = _conv(x, p["conv1.weight"])
        b1, k1 = _bn(a1, p["bn1.weight"], p["bn1.bias"])
        r1 = np.maximum(b1, 0)
        a2, c2 = _conv(r1, p["conv2.weight"])
        b2, k2 = _bn(a2, p["bn2.weight"], p["bn2.bias"])
        s = b2 + x
        out = np.maximum(s, 0)
        loss = float((out * out).mean())
        gs = (2 / out.size) * out * (s > 0)
        gb2, _, _ = _bn_back(gs, p["bn2.weight"], k2)
        gr1, _, _ = _conv_back(gb2, r1.shape, p["conv2.weight"], c2)
        ga1, _, _ = _bn_back(gr1 * (b1 > 0), p["bn1.weight"], k1)
        gx, _, _ = _conv_back(ga1, x.shape, p["conv1.weight"], c1)
        return loss
    return step


# ---- the steps ----------------------------------------------------------------------------------
def make_steps(config, frameworks, state=None):
    """{framework: step function returning the loss as a float}, from one set of weights."""
    x, y = _data(config)
    if state is None:
        state = {k: v.detach().numpy().copy() for k, v in torch_model(config).state_dict().items()}
    steps = {}
    if "torch" in frameworks:
        import torch
        theirs = torch_model(config)
        theirs.load_state_dict({k: torch.tensor(v) for k, v in state.items()})
        tx = torch.tensor(x, requires_grad=config == "resblock")
        if config == "digits":
            ty, topt = torch.tensor(y), torch.optim.Adam(theirs.parameters(), lr=1e-3)

            def torch_step():
                topt.zero_grad()
                loss = torch.nn.functional.cross_entropy(theirs(tx), ty)
                loss.backward()
                topt.step()
                return loss.item()
        else:
            def torch_step():
                theirs.zero_grad()
                tx.grad = None
                loss = (theirs(tx) ** 2).mean()
                loss.backward()
                return loss.item()
        steps["torch"] = torch_step
    if "chainrule" in frameworks:
        import chainrule as cr
        ours = chainrule_model(config, state)
        cx = cr.tensor(x, requires_grad=config == "resblock")
        if config == "digits":
            cy, opt = cr.tensor(y), cr.optim.Adam(ours.parameters(), lr=1e-3)

            def chainrule_step():
                opt.zero_grad()
                loss = cr.nn.functional.cross_entropy(ours(cx), cy)
                loss.backward()
                opt.step()
                return loss.item()
        else:
            def chainrule_step():
                ours.zero_grad()
                cx.grad = None
                loss = (ours(cx) ** 2).mean()
                loss.backward()
                return loss.item()
        steps["chainrule"] = chainrule_step
    if "numpy" in frameworks:
        steps["numpy"] = numpy_steps(config, state)
    return steps


def check(config, frameworks):
    """The first three losses of every framework, from the same weights, agree to 1e-4."""
    steps = make_steps(config, frameworks)
    losses = {k: [fn() for _ in range(3)] for k, fn in steps.items()}
    ref = losses[frameworks[0]]
    ok = all(np.allclose(v, ref, rtol=1e-4) for v in losses.values())
    return ok, losses


def time_config(config, frameworks, rounds, per_round, warmup):
    return interleaved(make_steps(config, frameworks), rounds, per_round, warmup)


# ---- peak memory, one process per framework ---------------------------------------------------
def memory_child(config, framework, n, weights, threads):
    _blas_threads(threads)
    if framework == "torch":
        import torch
        torch.set_num_threads(threads)
    child_peak(make_steps(config, (framework,), dict(np.load(weights)))[framework], n)


def memory(config, frameworks, n, threads):
    state = {k: v.detach().numpy() for k, v in torch_model(config).state_dict().items()}
    return in_children(__file__, config, frameworks, state, n, (threads,))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default=",".join(CONFIGS))
    p.add_argument("--frameworks", default=",".join(FRAMEWORKS))
    p.add_argument("--rounds", type=int, default=None, help="interleaved rounds (10; 5 resblock)")
    p.add_argument("--steps", type=int, default=None,
                   help="timed steps per framework per round (20 digits, 2 resblock)")
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--memory", action="store_true")
    p.add_argument("--memory-steps", type=int, default=5)
    p.add_argument("--json", default=None)
    p.add_argument("--child", nargs=5, default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        c = args.child
        memory_child(c[0], c[1], int(c[2]), c[3], int(c[4]))
        return 0
    threads = _blas_threads(args.threads)
    import torch
    torch.set_num_threads(threads)
    frameworks = tuple(args.frameworks.split(","))
    results = {"threads": threads}
    for config in args.config.split(","):
        ok, losses = check(config, frameworks)
        if not ok:
            print(f"{config}: losses disagree: {losses}", file=sys.stderr)
            return 2
        if args.memory:
            r = memory(config, frameworks, args.memory_steps, threads)
            print(f"{config:9s} peak RSS " + "   ".join(
                f"{fw} {v['peak_mb']:.0f} MB (+{v['peak_mb'] - v['before_mb']:.0f})"
                for fw, v in r.items()), flush=True)
        else:
            rounds = args.rounds or (10 if config == "digits" else 5)
            per = args.steps or (20 if config == "digits" else 2)
            r = time_config(config, frameworks, rounds, per, args.warmup)
            print(f"{config:9s} " + "   ".join(
                f"{fw} {v['median_ms']:.2f} ms [{v['p10_ms']:.2f}-{v['p90_ms']:.2f}]"
                + (f" ({v['ratio_to_torch']:.2f}x torch)" if fw != "torch" else "")
                for fw, v in r.items()), flush=True)
        results[config] = r
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
