"""Fixtures for the nn tests: ``torch_parity`` runs one chainrule function beside PyTorch's on
the same arrays and compares values and gradients (float64 tight, float32 to rounding)."""
import numpy as np
import pytest

import chainrule as cr

TOL = {np.float64: dict(rtol=1e-10, atol=1e-12), np.float32: dict(rtol=2e-5, atol=2e-6)}


def compare_with_torch(ours, theirs, arrays, grads=None, dtype=np.float64, tol=None, seed=0):
    """``ours(*tensors)`` against ``theirs(*torch_tensors)``: values, then the gradient of
    Σ out · v (v random) for each input index in *grads* (default: every float input)."""
    torch = pytest.importorskip("torch")
    tol = tol or TOL[dtype]
    arrays = [np.asarray(a).astype(dtype) if np.asarray(a).dtype.kind == "f" else np.asarray(a)
              for a in arrays]
    if grads is None:
        grads = [i for i, a in enumerate(arrays) if a.dtype.kind == "f"]
    xs = [cr.tensor(a.copy(), requires_grad=i in grads) for i, a in enumerate(arrays)]
    ts = [torch.tensor(a.copy(), requires_grad=i in grads) for i, a in enumerate(arrays)]
    y, ref = ours(*xs), theirs(*ts)
    assert tuple(y.shape) == tuple(ref.shape), (y.shape, ref.shape)
    assert y.data.dtype == ref.detach().numpy().dtype
    np.testing.assert_allclose(y.detach().numpy(), ref.detach().numpy(), **tol)
    if not grads:
        return y
    v = np.random.default_rng(seed).standard_normal(tuple(ref.shape)).astype(dtype)
    (y * cr.tensor(v)).sum().backward()
    (ref * torch.tensor(v)).sum().backward()
    for i in grads:
        assert xs[i].grad is not None, f"no gradient for input {i}"
        np.testing.assert_allclose(xs[i].grad.numpy(), ts[i].grad.numpy(),
                                   err_msg=f"gradient of input {i}", **tol)
    return y


@pytest.fixture
def torch_parity():
    """``torch_parity(ours, theirs, arrays, grads=None, dtype=np.float64, tol=None)``."""
    pytest.importorskip("torch")
    return compare_with_torch
