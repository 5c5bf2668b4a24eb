"""Determinism: the same seed gives bit-identical training runs on one machine.

The heart job (``chainrule train heart``, Keras-style ``fit``) and a PyTorch-style loop (shuffled
DataLoader with its own generator, dropout on the default generator, Adam, a schedule) are each
run twice with one seed, in this process and in two fresh processes with the thread counts
pinned as docs/determinism.md advises; weights and histories must be equal bit for bit.
"""
import hashlib
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import chainrule as cr
from chainrule.cli.main import main
from chainrule.data import DataLoader, TensorDataset


def _heart(out, seed="0"):
    assert main(["train", "heart", "--epochs", "5", "--quiet", "--seed", seed,
                 "--out", str(out)]) == 0
    saved = cr.load(out / "model.chainrule")
    weights = [a for arrays in saved["model"]["weights"].values() for a in arrays]
    history = json.loads((out / "history.json").read_text())
    return weights, history


def test_heart_job_twice_with_one_seed_is_bit_identical(tmp_path, capsys):
    w1, h1 = _heart(tmp_path / "a")
    report1 = capsys.readouterr().out
    w2, h2 = _heart(tmp_path / "b")
    report2 = capsys.readouterr().out
    assert len(w1) == 4 and all(np.array_equal(a, b) for a, b in zip(w1, w2))
    assert h1 == h2                                   # every loss and metric, every epoch
    assert _numbers(report1) == _numbers(report2)    # the printed report (timing aside)
    w3, _ = _heart(tmp_path / "c", seed="1")
    assert not all(np.array_equal(a, b) for a, b in zip(w1, w3))   # the seed matters


def _numbers(report):
    return [line for line in report.splitlines() if " s)" not in line and "saved" not in line]


def _pytorch_style_run(seed, epochs=4):
    cr.manual_seed(seed)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 6)).astype(np.float32)
    y = (x @ rng.normal(size=(6, 1)) > 0).astype(np.float32)
    model = cr.nn.Sequential(cr.nn.Linear(6, 32), cr.nn.ReLU(), cr.nn.Dropout(0.25),
                             cr.nn.Linear(32, 1))
    opt = cr.optim.Adam(model.parameters(), lr=0.01)
    sched = cr.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    loader = DataLoader(TensorDataset(cr.tensor(x), cr.tensor(y)), batch_size=16, shuffle=True,
                        generator=cr.Generator().manual_seed(seed))
    loss_fn = cr.nn.BCEWithLogitsLoss()
    history = []
    for _ in range(epochs):
        model.train()
        for xb, yb in loader:
            opt.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
            history.append(loss.item())
        sched.step()
    return [p.detach().numpy().copy() for p in model.parameters()], history


def test_pytorch_style_loop_twice_with_one_seed_is_bit_identical():
    w1, h1 = _pytorch_style_run(7)
    cr.randn(1000)                                    # whatever ran in between does not matter
    w2, h2 = _pytorch_style_run(7)
    assert h1 == h2
    assert all(np.array_equal(a, b) for a, b in zip(w1, w2))
    w3, h3 = _pytorch_style_run(8)
    assert h1 != h3


CHILD = r"""
import hashlib, sys
sys.path.insert(0, sys.argv[1])
from test_determinism import _pytorch_style_run
weights, history = _pytorch_style_run(3)
h = hashlib.sha256()
for w in weights:
    h.update(w.tobytes())
h.update(repr(history).encode())
print(h.hexdigest())
"""


def test_fresh_processes_with_pinned_threads_agree():
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
               PYTHONHASHSEED="0")
    here = os.path.dirname(os.path.abspath(__file__))
    digests = [subprocess.run([sys.executable, "-c", CHILD, here], env=env, capture_output=True,
                              text=True, check=True, timeout=120).stdout.strip()
               for _ in range(2)]
    assert len(digests[0]) == 64 and digests[0] == digests[1]


@pytest.mark.parametrize("threads", ["1", "2"])
def test_the_documented_pinning_variables_are_honoured(threads):
    pytest.importorskip("threadpoolctl")
    code = ("import chainrule, threadpoolctl;"
            "print(sorted({i['num_threads'] for i in threadpoolctl.threadpool_info()"
            " if i['user_api'] == 'blas'}))")
    env = dict(os.environ, OMP_NUM_THREADS=threads, OPENBLAS_NUM_THREADS=threads,
               MKL_NUM_THREADS=threads)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True, timeout=120).stdout.strip()
    assert out in (f"[{threads}]", "[]")
