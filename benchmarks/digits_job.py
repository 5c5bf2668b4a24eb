"""The whole digits training job: chainrule (compiled and eager) vs hand-written NumPy vs scikit-learn.

    OPENBLAS_NUM_THREADS=1 python benchmarks/digits_job.py              # 200 epochs, 3 rounds
    python benchmarks/digits_job.py --epochs 1 --rounds 1                 # a smoke run
    python benchmarks/digits_job.py --parts --profile        # + per-batch pieces, cProfile of the job

The job: ``cr.datasets.load_digits()``, a seeded stratified 80/20 split (1,437 train, 360 test
images), the inputs standardised with the training part's mean and deviation, a 64→64(ReLU)→10
MLP trained with cross-entropy and Adam(lr=1e-3) on mini-batches of 32 (the last of each epoch
29), shuffled every epoch, for 200 epochs; then its accuracy on the test part. Float32 throughout.
The forms, all in one process:

* ``compiled`` / ``eager``: chainrule as a user writes it: a ``DataLoader`` over a
  ``TensorDataset`` with ``shuffle=True`` and a seeded ``cr.Generator``, ``nn.Sequential``,
  ``nn.CrossEntropyLoss``, ``optim.Adam``, the step (zero_grad, forward, loss, backward, step)
  under ``cr.compile`` or not, and ``loss.item()`` summed per epoch;
* ``numpy``: the same job written by hand in NumPy, as fast as NumPy allows (the technique of
  ``numpy_reference.py``: preallocated buffers per batch size, ``out=`` everywhere, flat
  parameter/gradient/moment buffers, Adam with pre-scaled moments), the same initial weights and
  the same batches in the same order (the epoch permutations come from the same PCG64 seed);
* ``sklearn``: ``MLPClassifier(hidden_layer_sizes=(64,), batch_size=32, max_iter=200,
  solver="adam", learning_rate_init=1e-3, alpha=0, tol=0, n_iter_no_change=200, shuffle=True,
  random_state=0)`` fitted on the float32 arrays (so it trains in float32 too; it draws its own
  initial weights and order). Skipped when scikit-learn is not installed.

Before timing, two epochs of chainrule (eager and compiled) are checked against the NumPy job:
the per-epoch mean losses agree to 1e-4 (relative), and compiled is bit-identical to eager
(exit status 2 otherwise). Then each round runs every form's whole job (model construction and
training; the test accuracy is measured afterwards, untimed) in turn, the order rotating each
round; the table gives the median wall time, the test accuracy, and the ratios to NumPy and to
scikit-learn.
"""
import argparse
import cProfile
import math
import os
import pstats
import statistics
import sys
import time
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import chainrule_step  # noqa: E402
from configs import BETAS, DTYPE, EPS, LR, Config, init_weights  # noqa: E402

import chainrule as cr  # noqa: E402
from chainrule.preprocessing import train_test_split  # noqa: E402

CFG = Config("digits", (64, 64, 10), 32, "ce", steps=0, rounds=0)
BATCH = CFG.batch


def load(seed=0):
    """``(X_train, X_test, y_train, y_test)``: float32 standardised pixels, int64 labels."""
    X, y = cr.datasets.load_digits(return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.2, stratify=y,
                                              generator=cr.Generator().manual_seed(seed))
    mean, std = X_tr.mean(axis=0), X_tr.std(axis=0)
    std[std == 0] = 1.0
    scale = lambda a: np.ascontiguousarray((a - mean) / std, dtype=DTYPE)  # noqa: E731
    return scale(X_tr), scale(X_te), np.ascontiguousarray(y_tr, np.int64), np.ascontiguousarray(y_te, np.int64)


# ---- chainrule, as a user writes it ---------------------------------------------------------------
def training_step(weights, compiled=True):
    """``(model, step)``: the 64→64→10 network from *weights* and its training step ``step(x, y)
    -> loss`` (zero_grad, cross-entropy, backward, Adam), under ``cr.compile`` or eager."""
    model = chainrule_step.build(CFG, weights)
    loss_fn = cr.nn.CrossEntropyLoss()
    opt = cr.optim.Adam(model.parameters(), lr=LR)

    def step(x, y):
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss.detach()

    return model, (cr.compile(step) if compiled else step)


def chainrule_job(data, weights, epochs, compiled=True, seed=0):
    """Train with a DataLoader and the step under ``cr.compile`` (or eagerly); returns
    ``(model, per-epoch mean losses)``."""
    X_tr, _, y_tr, _ = data
    ds = cr.data.TensorDataset(cr.from_numpy(X_tr), cr.from_numpy(y_tr))
    loader = cr.data.DataLoader(ds, batch_size=BATCH, shuffle=True,
                                generator=cr.Generator().manual_seed(seed))
    model, step = training_step(weights, compiled)
    losses = []
    for _ in range(epochs):
        total = 0.0
        for x, y in loader:
            total += step(x, y).item()
        losses.append(total / len(loader))
    return model, losses


def chainrule_accuracy(model, data):
    _, X_te, _, y_te = data
    with cr.no_grad():
        pred = model(cr.from_numpy(X_te)).numpy().argmax(axis=1)
    return float((pred == y_te).mean())


# ---- the hand-written NumPy job --------------------------------------------------------------------
class NumpyDigits:
    """The MLP and Adam in plain NumPy; ``step(X, y, idx)`` trains on rows *idx* and returns the loss.

    The rows are cut with ``X.take(idx, 0)`` and ``y[idx]`` (faster here than ``take`` into a
    preallocated buffer, whose ``out=`` path costs more than the 8 KiB it saves allocating)."""

    def __init__(self, weights, lr=LR, betas=BETAS, eps=EPS):
        self.lr, (self.beta1, self.beta2), self.eps, self.t = lr, betas, eps, 0
        n = sum(W.size + b.size for W, b in weights)
        self.p, self.g = np.empty(n, DTYPE), np.empty(n, DTYPE)
        self.n, self.u, self.tmp = np.zeros(n, DTYPE), np.zeros(n, DTYPE), np.empty(n, DTYPE)
        self.W, self.WT, self.b, self.dW, self.db = [], [], [], [], []
        off = 0
        for Wi, bi in weights:
            fo, fi = Wi.shape
            self.W.append(self.p[off:off + fo * fi].reshape(fo, fi))
            self.dW.append(self.g[off:off + fo * fi].reshape(fo, fi))
            self.W[-1][...] = Wi
            self.WT.append(self.W[-1].T)
            off += fo * fi
            self.b.append(self.p[off:off + fo])
            self.db.append(self.g[off:off + fo])
            self.b[-1][...] = bi
            off += fo
        self.sizes = [weights[0][0].shape[1]] + [W.shape[0] for W, _ in weights]
        self._bufs = {}

    def _buffers(self, B):
        buf = self._bufs.get(B)
        if buf is None:
            outs = self.sizes[1:]
            buf = self._bufs[B] = dict(
                Z=[np.empty((B, o), DTYPE) for o in outs], zeros=[np.zeros((B, o), DTYPE) for o in outs],
                mask=[np.empty((B, o), np.bool_) for o in outs], D=[np.empty((B, o), DTYPE) for o in outs],
                mx=np.empty(B, DTYPE), s=np.empty(B, DTYPE), ls=np.empty(B, DTYPE), rows=np.arange(B),
                invB=DTYPE(1.0 / B))
        return buf

    def step(self, X, Y, idx):
        return self.train(X.take(idx, 0), Y[idx])

    def train(self, x, y):
        """One step on the batch ``(x, y)``; returns the loss."""
        B = len(x)
        bf = self._buffers(B)
        Z, zeros, mask, D = bf["Z"], bf["zeros"], bf["mask"], bf["D"]
        L = len(Z)
        h = x
        for i in range(L):
            z = Z[i]
            np.matmul(h, self.WT[i], out=z)
            z += self.b[i]
            if i < L - 1:
                np.maximum(z, zeros[i], out=z)
            h = z
        # softmax cross-entropy, mean over the batch; D[-1] = (softmax - onehot) / B
        mx, s, ls, E, rows, invB = bf["mx"], bf["s"], bf["ls"], D[-1], bf["rows"], bf["invB"]
        np.max(h, axis=1, out=mx)
        np.subtract(h, mx[:, None], out=E)
        np.exp(E, out=E)
        np.sum(E, axis=1, out=s)
        np.log(s, out=ls)
        ls += mx
        ls -= h[rows, y]
        loss = np.add.reduce(ls) * invB
        s *= B
        np.divide(E, s[:, None], out=E)
        E[rows, y] -= invB
        for i in range(L - 1, -1, -1):
            d = D[i]
            np.matmul(d.T, Z[i - 1] if i else x, out=self.dW[i])
            np.add.reduce(d, axis=0, out=self.db[i])
            if i:
                dp = D[i - 1]
                np.matmul(d, self.W[i], out=dp)
                np.greater(Z[i - 1], zeros[i - 1], out=mask[i - 1])
                np.multiply(dp, mask[i - 1], out=dp)
        self._adam()
        return loss

    def _adam(self):
        """``torch.optim.Adam`` with the moments kept pre-scaled (see ``numpy_reference.py``)."""
        self.t += 1
        b1, b2 = self.beta1, self.beta2
        bc1 = 1.0 - b1 ** self.t
        k = math.sqrt((1.0 - b2 ** self.t) / (1.0 - b2))
        e, scale = self.eps * k, -self.lr * (1.0 - b1) / bc1 * k
        P, G, M, V, T = self.p, self.g, self.n, self.u, self.tmp
        np.multiply(M, b1, out=M)
        np.add(M, G, out=M)
        np.multiply(V, b2, out=V)
        np.multiply(G, G, out=T)
        np.add(V, T, out=V)
        np.sqrt(V, out=T)
        np.add(T, e, out=T)
        np.divide(M, T, out=T)
        np.multiply(T, scale, out=T)
        np.add(P, T, out=P)

    def predict(self, X):
        h = X
        for i, (W, b) in enumerate(zip(self.W, self.b)):
            h = h @ W.T + b
            if i < len(self.W) - 1:
                h = np.maximum(h, 0)
        return h.argmax(axis=1)


def numpy_job(data, weights, epochs, seed=0):
    """The same job by hand: the epoch orders are PCG64(seed) permutations, as the DataLoader's."""
    X_tr, _, y_tr, _ = data
    net = NumpyDigits(weights)
    rng = np.random.Generator(np.random.PCG64(seed))
    n = len(X_tr)
    n_batches = -(-n // BATCH)
    losses = []
    for _ in range(epochs):
        perm = rng.permutation(n)
        total = 0.0
        for s in range(0, n, BATCH):
            total += float(net.step(X_tr, y_tr, perm[s:s + BATCH]))
        losses.append(total / n_batches)
    return net, losses


def numpy_accuracy(net, data):
    _, X_te, _, y_te = data
    return float((net.predict(X_te) == y_te).mean())


# ---- scikit-learn ----------------------------------------------------------------------------------
def sklearn_available():
    try:
        import sklearn.neural_network  # noqa: F401
    except ImportError:
        return False
    return True


def sklearn_job(data, epochs):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    X_tr, _, y_tr, _ = data
    clf = MLPClassifier(hidden_layer_sizes=(64,), batch_size=BATCH, max_iter=epochs, solver="adam",
                        learning_rate_init=LR, alpha=0.0, tol=0.0, n_iter_no_change=200,
                        shuffle=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X_tr, y_tr)
    return clf, list(clf.loss_curve_)


def sklearn_accuracy(clf, data):
    _, X_te, _, y_te = data
    return float((clf.predict(X_te) == y_te).mean())


# ---- the run ---------------------------------------------------------------------------------------
def check(data, weights, epochs=2):
    """Chainrule's per-epoch losses against the NumPy job's (1e-4), compiled against eager (bits)."""
    _, eager = chainrule_job(data, weights, epochs, compiled=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", cr.CompileWarning)
        _, comp = chainrule_job(data, weights, epochs, compiled=True)
    _, ref = numpy_job(data, weights, epochs)
    for e, (a, b, r) in enumerate(zip(eager, comp, ref)):
        if a != b:
            raise SystemExit(f"epoch {e}: compiled mean loss {b!r} differs from eager {a!r}")
        if abs(a - r) > 1e-4 * abs(r):
            raise SystemExit(f"epoch {e}: chainrule mean loss {a!r} differs from NumPy's {r!r}")
    return eager, ref


def forms(data, weights, epochs, names):
    jobs = {"compiled": (lambda: chainrule_job(data, weights, epochs, True), chainrule_accuracy),
            "eager": (lambda: chainrule_job(data, weights, epochs, False), chainrule_accuracy),
            "numpy": (lambda: numpy_job(data, weights, epochs), numpy_accuracy),
            "sklearn": (lambda: sklearn_job(data, epochs), sklearn_accuracy)}
    return {k: jobs[k] for k in names}


def run(data, weights, epochs, rounds, names):
    """Every form's median wall seconds, median CPU seconds (this process's, which other
    processes on a shared machine disturb less) and test accuracy (of the last round), interleaved;
    and the per-round wall times."""
    jobs = forms(data, weights, epochs, names)
    times, cpu, acc = {k: [] for k in jobs}, {k: [] for k in jobs}, {}
    order = list(jobs)
    for r in range(rounds):
        for k in order[r % len(order):] + order[:r % len(order)]:
            job, accuracy = jobs[k]
            t0, c0 = time.perf_counter(), time.process_time()
            model, _ = job()
            times[k].append(time.perf_counter() - t0)
            cpu[k].append(time.process_time() - c0)
            acc[k] = accuracy(model, data)
    med = lambda d: {k: statistics.median(v) for k, v in d.items()}  # noqa: E731
    return med(times), med(cpu), acc, times


def round_ratios(times, a, b):
    """The per-round ratios a/b (a stability check on the ratio of medians)."""
    return [x / y for x, y in zip(times[a], times[b])]


PARTS = {"DataLoader (sampler, batching, collate)": ("chainrule/data/",),
         "compiled step: the generated function's NumPy calls": ("<cr.compile", "numpy/", "~:<"),
         "compiled step: guards, plan cache, optimiser scalars": ("chainrule/compile/", "chainrule/optim/"),
         "tensors, .item(), autograd glue": ("chainrule/tensor", "chainrule/autograd/", "grad_mode"),
         "the job's own lines": ("digits_job.py",)}


def profile(data, weights, epochs, top=20):
    """cProfile of the compiled chainrule job: the functions by own time, and shares by part."""
    prof = cProfile.Profile()
    prof.enable()
    chainrule_job(data, weights, epochs, True)
    prof.disable()
    stats = pstats.Stats(prof)
    stats.sort_stats("tottime").print_stats(top)
    totals, whole = {}, 0.0
    for (file, _, name), (_, _, own, _, _) in stats.stats.items():
        whole += own
        where = f"{file}:{name}"
        part = next((p for p, keys in PARTS.items() if any(k in where for k in keys)), "other")
        totals[part] = totals.get(part, 0.0) + own
    print("own time by part (cProfile, so Python-heavy parts are inflated):")
    for part, t in sorted(totals.items(), key=lambda kv: -kv[1]):
        print(f"  {part:55} {t:7.3f} s  {100 * t / whole:5.1f}%")


def parts(data, weights, epochs=20, rounds=5):
    """Per-batch µs of the job's pieces timed apart, interleaved, medians: chainrule's DataLoader
    alone, its compiled step alone (on the loader's batches, cut beforehand), the step with
    ``.item()``; NumPy's row gather alone and its step alone."""
    X_tr, _, y_tr, _ = data
    ds = cr.data.TensorDataset(cr.from_numpy(X_tr), cr.from_numpy(y_tr))
    new_loader = lambda: cr.data.DataLoader(ds, batch_size=BATCH, shuffle=True,  # noqa: E731
                                            generator=cr.Generator().manual_seed(0))
    batches = [b for _ in range(epochs) for b in new_loader()]
    rng = np.random.Generator(np.random.PCG64(0))
    idxs = [p[s:s + BATCH] for p in (rng.permutation(len(X_tr)) for _ in range(epochs))
            for s in range(0, len(X_tr), BATCH)]
    np_batches = [(X_tr.take(i, 0), y_tr[i]) for i in idxs]

    def compiled_step():
        _, step = training_step(weights, compiled=True)
        for x, y in batches[:8] + batches[44:46]:     # record both batch shapes first
            step(x, y)
        return step

    def loader_alone():
        loader = new_loader()
        for _ in range(epochs):
            for x, y in loader:
                pass

    def step_alone(step=compiled_step()):
        for x, y in batches:
            step(x, y)

    def step_item(step=compiled_step()):
        for x, y in batches:
            step(x, y).item()

    def gather_alone():
        for i in idxs:
            X_tr.take(i, 0), y_tr[i]

    def numpy_step(net=NumpyDigits(weights)):
        for x, y in np_batches:
            float(net.train(x, y))

    pieces = {"chainrule DataLoader alone": loader_alone, "chainrule compiled step alone": step_alone,
              "chainrule compiled step + .item()": step_item, "NumPy gather alone": gather_alone,
              "NumPy step alone (+ float(loss))": numpy_step}
    times = {k: [] for k in pieces}
    names = list(pieces)
    for r in range(rounds):
        for k in names[r % len(names):] + names[:r % len(names)]:
            t0 = time.perf_counter()
            pieces[k]()
            times[k].append((time.perf_counter() - t0) / len(batches) * 1e6)
    print(f"per-batch pieces ({epochs} epochs, {rounds} interleaved rounds, medians):")
    for k in names:
        print(f"  {k:36} {statistics.median(times[k]):7.2f} µs")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--forms", default="compiled,eager,numpy,sklearn")
    ap.add_argument("--profile", action="store_true", help="also profile the compiled job")
    ap.add_argument("--parts", action="store_true", help="also time the job's pieces apart")
    args = ap.parse_args(argv)
    names = [f for f in args.forms.split(",") if f]
    if "sklearn" in names and not sklearn_available():
        print("scikit-learn is not installed: skipping the sklearn column")
        names.remove("sklearn")
    data = load()
    weights = init_weights(CFG)
    print(f"digits job: 64→64(ReLU)→10, Adam lr {LR}, batch {BATCH}, {args.epochs} epochs, "
          f"{len(data[0])} train / {len(data[1])} test, float32 (sklearn fitted on float32 input); "
          f"{args.rounds} interleaved round(s), medians; "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}, "
          f"load average {os.getloadavg()[0]:.2f}")
    eager_losses, ref_losses = check(data, weights)
    print(f"check: 2 epochs, mean losses chainrule {eager_losses[-1]:.6f} vs NumPy "
          f"{ref_losses[-1]:.6f}; compiled bit-identical to eager")
    med, cpu, acc, times = run(data, weights, args.epochs, args.rounds, names)
    print(f"\n{'form':10} {'wall s':>8} {'test acc':>9} {'÷ NumPy':>8} {'÷ sklearn':>10} "
          f"{'cpu s':>8} {'cpu ÷ NumPy':>12}")
    for k in names:
        r_np = f"{med[k] / med['numpy']:8.2f}" if "numpy" in med else f"{'-':>8}"
        r_sk = f"{med[k] / med['sklearn']:10.2f}" if "sklearn" in med else f"{'-':>10}"
        c_np = f"{cpu[k] / cpu['numpy']:12.2f}" if "numpy" in cpu else f"{'-':>12}"
        print(f"{k:10} {med[k]:8.3f} {acc[k]:9.4f} {r_np} {r_sk} {cpu[k]:8.3f} {c_np}")
    if "compiled" in med and "numpy" in med:
        ratio = med["compiled"] / med["numpy"]
        verdict = "met" if ratio <= 1.3 else f"missed by {100 * (ratio / 1.3 - 1):.1f}%"
        print(f"\ntarget compiled ÷ NumPy ≤ 1.3: {ratio:.3f} ({verdict}); by CPU time "
              f"{cpu['compiled'] / cpu['numpy']:.3f}")
        spread = round_ratios(times, "compiled", "numpy")
        print(f"  per-round compiled ÷ NumPy (wall): {min(spread):.3f}–{max(spread):.3f}")
    if "compiled" in med and "sklearn" in med:
        ratio = med["compiled"] / med["sklearn"]
        print(f"target compiled faster than sklearn: {ratio:.2f} ({'met' if ratio < 1 else 'missed'})")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    if args.parts:
        print()
        parts(data, weights)
    if args.profile:
        print()
        profile(data, weights, args.epochs)


if __name__ == "__main__":
    main()
