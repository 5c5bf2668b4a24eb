"""benchmarks/gpu.py, the one-command GPU check, runs end to end on the CPU stand-in for CuPy
(its op-parity half is the same check as tests/ops/test_device_parity.py, so it is skipped here)."""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "benchmarks", "gpu.py")


def test_gpu_script_runs_on_the_standin():
    pytest.importorskip("torch")        # the timing compares with PyTorch on the CPU
    out = subprocess.run([sys.executable, SCRIPT, "--standin", "--config", "heart", "--rounds", "1",
                          "--steps", "2", "--warmup", "1", "--skip-parity"], capture_output=True, text=True,
                         timeout=600, cwd=ROOT)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "CPU stand-in" in out.stdout
    assert "heart" in out.stdout
    for kernel in ("adam_step", "bce_logits_forward", "bce_logits_backward", "relu_backward"):
        assert kernel in out.stdout           # the fused-kernel section ran
