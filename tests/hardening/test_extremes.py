"""Activations, softmax, log-softmax, logsumexp and the classification losses at extreme inputs,
against PyTorch: finite wherever PyTorch's value (and gradient) is finite, and equal to it.

One table of cases; each runs in float32 and float64 and compares the value and the gradient
(of the sum of the output) elementwise. NumPy warnings (overflow in exp, log of 0) are errors:
a stable op never computes an infinity it then throws away. The losses' own edge cases (BCE at
probabilities 0 and 1 clamped as PyTorch clamps, huge cross-entropy logits) are covered in more
detail in tests/nn/test_loss_extremes.py.
"""
import numpy as np
import pytest

import chainrule as cr
from chainrule.keras.layers import activations as keras_act
from chainrule.nn import functional as F

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")
DTYPES = [np.float32, np.float64]
# logits at ±1000 saturate every squashing function; ±88.7 / ±709.8 sit at the edge of float32 /
# float64 exp; 1e-30 and denormal-sized values test the other end
EXTREME = [-1000.0, -710.0, -100.0, -88.8, -30.0, -1.0, -1e-30, 0.0, 1e-30, 1e-8, 1.0, 30.0,
           88.8, 100.0, 710.0, 1000.0]
ROWS = [[1000.0, 0.0, -1000.0], [-1000.0, -1000.0, -1000.0], [1000.0, 1000.0, 999.0],
        [-1e4, 0.0, 1e4], [0.0, 0.0, 0.0], [88.8, -88.8, 1e-30], [-710.0, -720.0, -730.0]]


# float64 atol: PyTorch's fused kernels leave ~1e-16 of rounding where the exact answer is 0 (and
# lose the 1e-44 tail of softplus(-100)); chainrule's values are at least as accurate there
SIGMOID_SAFE = [-1000.0, -710.0, -30.0, -1.0, -1e-30, 0.0, 1e-8, 1.0, 30.0, 88.8, 100.0, 710.0,
                1000.0]   # float32 sigmoid of -88.8 / -100 is a denormal here, 0 in PyTorch


def tol(dtype):
    return dict(rtol=3e-6, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-14)


# (name, our function, torch function (given the torch module), inputs)
CASES = [
    ("relu", F.relu, lambda t: t.nn.functional.relu, EXTREME),
    ("leaky_relu", lambda x: F.leaky_relu(x, 0.01), lambda t: lambda x: t.nn.functional.leaky_relu(x, 0.01), EXTREME),
    ("gelu", F.gelu, lambda t: t.nn.functional.gelu, EXTREME),
    ("gelu_tanh", lambda x: F.gelu(x, approximate="tanh"),
     lambda t: lambda x: t.nn.functional.gelu(x, approximate="tanh"), EXTREME),
    ("sigmoid", F.sigmoid, lambda t: t.sigmoid, EXTREME),
    ("tensor.sigmoid", lambda x: x.sigmoid(), lambda t: t.sigmoid, EXTREME),
    ("tanh", F.tanh, lambda t: t.tanh, EXTREME),
    ("softplus", F.softplus, lambda t: t.nn.functional.softplus, EXTREME),
    ("softplus_beta", lambda x: F.softplus(x, beta=2.0, threshold=10.0),
     lambda t: lambda x: t.nn.functional.softplus(x, beta=2.0, threshold=10.0), EXTREME),
    ("elu", F.elu, lambda t: t.nn.functional.elu, EXTREME),
    ("silu", F.silu, lambda t: t.nn.functional.silu, EXTREME),
    ("keras.softsign", keras_act.get("softsign"),
     lambda t: t.nn.functional.softsign, EXTREME),
    ("keras.selu", keras_act.get("selu"), lambda t: t.nn.functional.selu, EXTREME),
    ("keras.mish", keras_act.get("mish"), lambda t: t.nn.functional.mish, EXTREME),
    ("keras.relu6", keras_act.get("relu6"), lambda t: t.nn.functional.relu6,
     EXTREME + [6.0, 3.0]),
    ("keras.hard_sigmoid", keras_act.get("hard_sigmoid"),
     lambda t: lambda x: t.nn.functional.relu6(x + 3.0) / 6.0, EXTREME + [-3.0, 3.0]),
    ("softmax", lambda x: F.softmax(x, dim=-1), lambda t: lambda x: t.softmax(x, -1), ROWS),
    ("cr.softmax_dim0", lambda x: cr.softmax(x, dim=0), lambda t: lambda x: t.softmax(x, 0), ROWS),
    ("log_softmax", lambda x: F.log_softmax(x, dim=-1),
     lambda t: lambda x: t.log_softmax(x, -1), ROWS),
    ("logsumexp", lambda x: cr.logsumexp(x, dim=-1), lambda t: lambda x: t.logsumexp(x, -1), ROWS),
    ("logsumexp_keepdim", lambda x: x.logsumexp(0, keepdim=True),
     lambda t: lambda x: t.logsumexp(x, 0, keepdim=True), ROWS),
    ("log_of_softmax_underflow", lambda x: F.log_softmax(x, dim=-1)[:, -1],
     lambda t: lambda x: t.log_softmax(x, -1)[:, -1], ROWS),
    ("exp", cr.exp, lambda t: t.exp, [-1000.0, -100.0, 0.0, 80.0]),
    ("log1p", cr.log1p, lambda t: t.log1p, [-1.0 + 1e-7, -0.5, 0.0, 1e-30, 1e30]),
    ("cross_entropy", lambda x: F.cross_entropy(x, cr.tensor([0, 1, 2, 0, 1, 2, 0]),
                                                reduction="none"),
     lambda t: lambda x: t.nn.functional.cross_entropy(x, t.tensor([0, 1, 2, 0, 1, 2, 0]),
                                                       reduction="none"), ROWS),
    ("cross_entropy_smoothed", lambda x: F.cross_entropy(x, cr.tensor([2, 2, 2, 2, 2, 2, 2]),
                                                         label_smoothing=0.1, reduction="none"),
     lambda t: lambda x: t.nn.functional.cross_entropy(x, t.tensor([2] * 7), label_smoothing=0.1,
                                                       reduction="none"), ROWS),
    ("bce_with_logits_y1", lambda x: F.binary_cross_entropy_with_logits(
        x, cr.ones_like(x), reduction="none"),
     lambda t: lambda x: t.nn.functional.binary_cross_entropy_with_logits(
         x, t.ones_like(x), reduction="none"), EXTREME),
    ("bce_with_logits_y0", lambda x: F.binary_cross_entropy_with_logits(
        x, cr.zeros_like(x), reduction="none"),
     lambda t: lambda x: t.nn.functional.binary_cross_entropy_with_logits(
         x, t.zeros_like(x), reduction="none"), EXTREME),
    ("bce_of_sigmoid", lambda x: F.binary_cross_entropy(x.sigmoid(), cr.ones_like(x),
                                                        reduction="none"),
     lambda t: lambda x: t.nn.functional.binary_cross_entropy(x.sigmoid(), t.ones_like(x),
                                                              reduction="none"), SIGMOID_SAFE),
    ("bce_probabilities_0_1", lambda p: F.binary_cross_entropy(
        p, cr.tensor([1.0, 0.0, 1.0, 0.0, 0.5, 0.5], dtype=p.dtype), reduction="none"),
     lambda t: lambda p: t.nn.functional.binary_cross_entropy(
         p, t.tensor([1.0, 0.0, 1.0, 0.0, 0.5, 0.5], dtype=p.dtype), reduction="none"),
     [0.0, 1.0, 1.0, 0.0, 0.0, 1.0]),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("name, ours, theirs, values", CASES, ids=[c[0] for c in CASES])
def test_extreme_inputs_match_torch(name, ours, theirs, values, dtype):
    torch = pytest.importorskip("torch")
    data = np.array(values, dtype=dtype)
    x = cr.tensor(data, requires_grad=True)
    tx = torch.tensor(data, requires_grad=True)
    out = ours(x)
    ref = theirs(torch)(tx)
    out.sum().backward()
    ref.sum().backward()
    _same(out.detach().numpy(), ref.detach().numpy(), dtype, f"{name} value")
    _same(x.grad.numpy(), tx.grad.numpy(), dtype, f"{name} gradient")


def _same(ours, theirs, dtype, what):
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    assert ours.dtype == theirs.dtype, f"{what}: dtype {ours.dtype}, torch {theirs.dtype}"
    np.testing.assert_array_equal(np.isfinite(ours), np.isfinite(theirs),
                                  err_msg=f"{what}: finite exactly where torch is finite")
    np.testing.assert_allclose(ours, theirs, equal_nan=True, err_msg=what, **tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
def test_softmax_of_large_inputs_sums_to_one_and_is_finite(dtype):
    x = cr.tensor(np.array([[1e30, 1e30 - 1e25, -1e30], [3e38 if dtype == np.float32 else 1e300,
                                                       0.0, 0.0]], dtype=dtype))
    p = F.softmax(x, dim=1).numpy()
    assert np.isfinite(p).all()
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-6)
    assert np.isfinite(F.log_softmax(x, dim=1).numpy()).all()


def test_cross_entropy_at_logits_of_1000_is_finite_and_exact():
    logits = cr.tensor([[1000.0, -1000.0], [-1000.0, 1000.0]], requires_grad=True)
    loss = F.cross_entropy(logits, cr.tensor([1, 1]))
    loss.backward()
    assert loss.item() == 1000.0               # (2000 + 0) / 2
    assert np.isfinite(logits.grad.numpy()).all()


def test_keras_losses_stay_finite_at_probabilities_0_and_1():
    from chainrule.keras import losses
    y_true = np.array([[1.0], [0.0], [1.0], [0.0]])
    y_pred = cr.tensor([[0.0], [1.0], [1.0], [0.0]], requires_grad=True)
    loss = losses.BinaryCrossentropy()(y_true, y_pred)
    loss.backward()
    assert np.isfinite(loss.item()) and np.isfinite(y_pred.grad.numpy()).all()
    probs = cr.tensor([[0.0, 1.0, 0.0]], requires_grad=True)
    cce = losses.CategoricalCrossentropy()(np.array([[1.0, 0.0, 0.0]]), probs)
    cce.backward()
    assert np.isfinite(cce.item()) and np.isfinite(probs.grad.numpy()).all()
    logits = cr.tensor([[1000.0, -1000.0, 0.0]], requires_grad=True)
    scce = losses.SparseCategoricalCrossentropy(from_logits=True)(np.array([1]), logits)
    scce.backward()
    assert scce.item() == pytest.approx(2000.0) and np.isfinite(logits.grad.numpy()).all()
