"""benchmarks/digits_job.py, the whole digits training job in three forms, runs end to end (1 epoch,
1 round) and prints its table; its NumPy job trains the same network as chainrule."""
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "benchmarks", "digits_job.py")


def test_digits_job_prints_the_table():
    out = subprocess.run([sys.executable, SCRIPT, "--epochs", "1", "--rounds", "1"],
                         capture_output=True, text=True, timeout=600, cwd=ROOT,
                         env=dict(os.environ, OPENBLAS_NUM_THREADS="1"))
    assert out.returncode == 0, out.stdout + out.stderr
    text = out.stdout
    assert "compiled bit-identical to eager" in text
    assert re.search(r"form\s+wall s\s+test acc\s+÷ NumPy\s+÷ sklearn", text)
    forms = ["compiled", "eager", "numpy"]
    try:
        import sklearn  # noqa: F401
        forms.append("sklearn")
    except ImportError:
        assert "skipping the sklearn column" in text
    for form in forms:
        row = re.search(rf"^{form}\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)", text, re.M)
        assert row, f"no row for {form}:\n{text}"
        assert float(row.group(1)) > 0 and 0.5 < float(row.group(2)) <= 1.0   # one epoch learns
    assert re.search(r"^numpy\s+[\d.]+\s+[\d.]+\s+1\.00\b", text, re.M)
    assert "target compiled ÷ NumPy ≤ 1.3:" in text


def test_numpy_job_matches_chainrule_loss_for_loss():
    sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
    try:
        import digits_job as dj
    finally:
        sys.path.pop(0)
    data, weights = dj.load(), dj.init_weights(dj.CFG)
    model, losses = dj.chainrule_job(data, weights, 3, compiled=False)
    net, ref = dj.numpy_job(data, weights, 3)
    assert losses == pytest.approx(ref, rel=1e-5)
    assert dj.chainrule_accuracy(model, data) == pytest.approx(dj.numpy_accuracy(net, data), abs=0.01)
    for lin, W, b in zip([m for m in model if hasattr(m, "weight")], net.W, net.b):
        assert lin.weight.detach().numpy() == pytest.approx(W, abs=1e-5)
        assert lin.bias.detach().numpy() == pytest.approx(b, abs=1e-5)
