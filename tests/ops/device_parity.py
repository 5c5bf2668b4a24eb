"""The op table run on a second device: every case's forward and first-order backward on "cuda"
must equal the CPU's.  Used by tests/ops/test_device_parity.py (on the CPU stand-in for CuPy) and by
benchmarks/gpu.py (on a real GPU)."""
import numpy as np

import chainrule as cr

try:
    from .op_table import CASES
except ImportError:            # imported as a top-level module by benchmarks/gpu.py
    from op_table import CASES


def _inputs(args, device):
    out = []
    for a in args:
        if a.dtype.kind == "f":
            out.append(cr.tensor(a, device=device, requires_grad=True))
        else:
            out.append(cr.tensor(a, device=device))
    return out


def _host(t):
    return t.detach().cpu().numpy()


def check_case(op, sample, device="cuda", rtol=1e-7, atol=1e-10):
    """Raise AssertionError if *op* on *sample* differs between the CPU and *device*."""
    xs_c, xs_d = _inputs(sample.args, "cpu"), _inputs(sample.args, device)
    got_c, got_d = op.fn(cr, *xs_c), op.fn(cr, *xs_d)
    got_c = tuple(got_c) if isinstance(got_c, (tuple, list)) else (got_c,)
    got_d = tuple(got_d) if isinstance(got_d, (tuple, list)) else (got_d,)
    for k, (a, b) in enumerate(zip(got_c, got_d)):
        assert b.device == cr.device(device), f"{op.name}: output {k} on {b.device}"
        np.testing.assert_allclose(_host(b), _host(a), rtol=rtol, atol=atol,
                                   err_msg=f"{op.name} output {k}")
    rng = np.random.default_rng(0)
    ups = [rng.standard_normal(a.shape) for a in got_c]
    diff = [i for i, a in enumerate(got_c) if a.requires_grad]
    if not diff:
        return
    cr.autograd.backward([got_c[i] for i in diff],
                         [cr.tensor(ups[i]).to(got_c[i].dtype) for i in diff])
    cr.autograd.backward([got_d[i] for i in diff],
                         [cr.tensor(ups[i], device=device).to(got_d[i].dtype) for i in diff])
    for i, (c, d) in enumerate(zip(xs_c, xs_d)):
        if not c.requires_grad:
            continue
        assert (c.grad is None) == (d.grad is None), f"{op.name}: gradient of input {i}"
        if c.grad is not None:
            assert d.grad.device == cr.device(device)
            np.testing.assert_allclose(_host(d.grad), _host(c.grad), rtol=rtol, atol=atol,
                                       err_msg=f"{op.name} gradient of input {i}")


def run_all(device="cuda"):
    """Check every case; return (number checked, [(case id, error), ...])."""
    failures, n = [], 0
    for op, sample in CASES:
        try:
            check_case(op, sample, device)
            n += 1
        except Exception as e:   # noqa: BLE001 - report every case, then go on
            failures.append((f"{op.name}-{sample.name}", f"{type(e).__name__}: {e}"))
    return n, failures
