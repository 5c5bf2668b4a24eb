"""Forward-mode AD (``cr.autograd.forward_ad``): each op's jvp against torch.autograd.forward_ad
and against reverse mode (J v from the full Jacobian), plus the dual-level API."""
import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd import forward_ad as fwAD
from chainrule.errors import ChainruleError

F = cr.nn.functional
R = np.random.default_rng(0)


def _pos(*s):
    return R.uniform(0.5, 2.0, s)


def _any(*s):
    return R.normal(size=s)


# name, function of (library, *inputs), input arrays (float64)
CASES = [
    ("add", lambda m, a, b: a + b, [_any(3, 4), _any(4)]),
    ("sub", lambda m, a, b: a - b, [_any(3, 4), _any(3, 1)]),
    ("mul", lambda m, a, b: a * b, [_any(3, 4), _any(3, 4)]),
    ("mul_scalar", lambda m, a: 2.5 * a, [_any(5)]),
    ("div", lambda m, a, b: a / b, [_any(3, 4), _pos(4)]),
    ("rdiv", lambda m, a: 1.5 / a, [_pos(4)]),
    ("neg", lambda m, a: -a, [_any(2, 3)]),
    ("pow", lambda m, a, b: a ** b, [_pos(3, 2), _any(3, 2)]),
    ("pow_scalar", lambda m, a: a ** 3, [_any(4)]),
    ("rpow", lambda m, a: 2.0 ** a, [_any(4)]),
    ("matmul", lambda m, a, b: a @ b, [_any(3, 4), _any(4, 2)]),
    ("matmul_vec", lambda m, a, b: a @ b, [_any(4), _any(2, 4, 3)]),
    ("matmul_batched", lambda m, a, b: m.matmul(a, b), [_any(2, 3, 4), _any(4, 5)]),
    ("exp", lambda m, a: m.exp(a), [_any(3, 2)]),
    ("log", lambda m, a: m.log(a), [_pos(3, 2)]),
    ("log1p", lambda m, a: m.log1p(a), [_pos(5)]),
    ("sqrt", lambda m, a: m.sqrt(a), [_pos(5)]),
    ("sin", lambda m, a: m.sin(a), [_any(5)]),
    ("cos", lambda m, a: m.cos(a), [_any(5)]),
    ("tanh", lambda m, a: m.tanh(a), [_any(5)]),
    ("sigmoid", lambda m, a: m.sigmoid(a), [_any(5)]),
    ("relu", lambda m, a: m.relu(a), [_any(6)]),
    ("abs", lambda m, a: m.abs(a), [_any(6)]),
    ("clamp", lambda m, a: m.clamp(a, -0.5, 0.5), [_any(8)]),
    ("clamp_tensors", lambda m, a, lo, hi: m.clamp(a, lo, hi),
     [_any(8), _any(8) - 1, _any(8) + 1]),
    ("maximum", lambda m, a, b: m.maximum(a, b), [_any(6), _any(6)]),
    ("minimum", lambda m, a, b: m.minimum(a, b), [_any(6), _any(6)]),
    ("where", lambda m, a, b: m.where(a > 0, a, b), [_any(6), _any(6)]),
    ("sign", lambda m, a: m.sign(a) * a, [_any(6)]),
    ("sum", lambda m, a: a.sum(), [_any(3, 4)]),
    ("sum_dim", lambda m, a: a.sum(dim=1, keepdim=True), [_any(3, 4)]),
    ("mean", lambda m, a: a.mean(0), [_any(3, 4)]),
    ("std", lambda m, a: a.std(1), [_any(3, 4)]),
    ("prod", lambda m, a: a.prod(1), [_any(3, 4)]),
    ("amax", lambda m, a: m.amax(a, dim=0), [_any(3, 4)]),
    ("max_dim", lambda m, a: m.max(a, dim=1)[0], [_any(3, 4)]),
    ("logsumexp", lambda m, a: m.logsumexp(a, dim=1), [_any(3, 4)]),
    ("norm", lambda m, a: m.norm(a), [_any(3, 4)]),
    ("gather", lambda m, a: m.gather(a, 1, m.tensor([[0, 2], [1, 1], [3, 0]])), [_any(3, 4)]),
    ("reshape", lambda m, a: a.reshape(4, 3), [_any(3, 4)]),
    ("view_flatten", lambda m, a: a.flatten(), [_any(3, 4)]),
    ("transpose", lambda m, a: a.transpose(0, 1), [_any(3, 4)]),
    ("permute", lambda m, a: a.permute(2, 0, 1), [_any(2, 3, 4)]),
    ("expand", lambda m, a: a.expand(3, 4), [_any(1, 4)]),
    ("unsqueeze", lambda m, a: a.unsqueeze(1), [_any(3, 4)]),
    ("cat", lambda m, a, b: m.cat([a, b], 1), [_any(3, 4), _any(3, 2)]),
    ("stack", lambda m, a, b: m.stack([a, b]), [_any(3), _any(3)]),
    ("getitem", lambda m, a: a[1:, ::2], [_any(3, 4)]),
    ("getitem_adv", lambda m, a: a[m.tensor([0, 2, 2])], [_any(3, 4)]),
    ("softmax", lambda m, a: m.softmax(a, dim=1), [_any(3, 4)]),
    ("log_softmax", lambda m, a: m.log_softmax(a, dim=0), [_any(3, 4)]),
    ("clone", lambda m, a: a.clone(), [_any(3)]),
    ("to_float32", lambda m, a: a.to(m.float32).sum().to(m.float64), [_any(3)]),
    ("linear", lambda m, x, w, b: m.nn.functional.linear(x, w, b),
     [_any(5, 3), _any(4, 3), _any(4)]),
    ("linear_3d", lambda m, x, w: m.nn.functional.linear(x, w), [_any(2, 5, 3), _any(4, 3)]),
    ("mlp", lambda m, x, w1, w2: m.tanh(x @ w1).relu() @ w2, [_any(4, 3), _any(3, 5), _any(5, 2)]),
]


def _wide(*s):
    """Across every piece of the piecewise activations (breaks at ±0.5, ±1, ±3, 0, 6)."""
    return R.uniform(-7.0, 8.0, s)


def _unit(*s):
    return R.uniform(-0.9, 0.9, s)


# the activations (torch.nn.functional's names) and the elementwise functions of
# ops/elementwise_more.py: each op's jvp beside its backward
ACTIVATION_CASES = [
    ("gelu", lambda m, a: m.nn.functional.gelu(a), [_any(3, 4)]),
    ("gelu_tanh", lambda m, a: m.nn.functional.gelu(a, approximate="tanh"), [_any(3, 4)]),
    ("elu", lambda m, a: m.nn.functional.elu(a, alpha=0.7), [_any(3, 4)]),
    ("selu", lambda m, a: m.nn.functional.selu(a), [_any(3, 4)]),
    ("celu", lambda m, a: m.nn.functional.celu(a, alpha=1.5), [_any(3, 4)]),
    ("celu_alpha_1", lambda m, a: m.nn.functional.celu(a), [_any(6)]),
    ("leaky_relu", lambda m, a: m.nn.functional.leaky_relu(a, 0.1), [_any(3, 4)]),
    ("softplus", lambda m, a: m.nn.functional.softplus(a), [_wide(3, 4)]),
    ("softplus_beta_threshold", lambda m, a: m.nn.functional.softplus(a, beta=2.0, threshold=1.0),
     [_any(3, 4)]),
    ("logsigmoid", lambda m, a: m.nn.functional.logsigmoid(a), [_wide(3, 4)]),
    ("mish", lambda m, a: m.nn.functional.mish(a), [_any(3, 4)]),
    ("silu", lambda m, a: m.nn.functional.silu(a), [_any(3, 4)]),
    ("hardswish", lambda m, a: m.nn.functional.hardswish(a), [_wide(3, 4)]),
    ("hardsigmoid", lambda m, a: m.nn.functional.hardsigmoid(a), [_wide(3, 4)]),
    ("softsign", lambda m, a: m.nn.functional.softsign(a), [_any(3, 4)]),
    ("tanhshrink", lambda m, a: m.nn.functional.tanhshrink(a), [_any(3, 4)]),
    ("hardtanh", lambda m, a: m.nn.functional.hardtanh(a, -0.5, 1.0), [_any(3, 4)]),
    ("relu6", lambda m, a: m.nn.functional.relu6(a), [_wide(3, 4)]),
    ("threshold", lambda m, a: m.nn.functional.threshold(a, 0.5, -1.0), [_any(3, 4)]),
    ("softshrink", lambda m, a: m.nn.functional.softshrink(a, 0.5), [_any(3, 4)]),
    ("hardshrink", lambda m, a: m.nn.functional.hardshrink(a, 0.5), [_any(3, 4)]),
    ("glu", lambda m, a: m.nn.functional.glu(a, dim=0), [_any(4, 3)]),
    ("softmin", lambda m, a: m.nn.functional.softmin(a, dim=1), [_any(3, 4)]),
    ("prelu", lambda m, a, w: m.nn.functional.prelu(a, w), [_any(2, 3, 4), _pos(3)]),
    ("erf", lambda m, a: m.erf(a), [_any(3, 4)]),
    ("expm1", lambda m, a: m.expm1(a), [_any(3, 4)]),
    ("log2", lambda m, a: m.log2(a), [_pos(3, 4)]),
    ("log10", lambda m, a: m.log10(a), [_pos(3, 4)]),
    ("rsqrt", lambda m, a: m.rsqrt(a), [_pos(3, 4)]),
    ("tan", lambda m, a: m.tan(a), [_unit(3, 4)]),
    ("asin", lambda m, a: m.asin(a), [_unit(3, 4)]),
    ("acos", lambda m, a: m.acos(a), [_unit(3, 4)]),
    ("atan", lambda m, a: m.atan(a), [_any(3, 4)]),
    ("sinh", lambda m, a: m.sinh(a), [_any(3, 4)]),
    ("cosh", lambda m, a: m.cosh(a), [_any(3, 4)]),
    ("atan2", lambda m, a, b: m.atan2(a, b), [_any(3, 4), _any(4)]),
    ("nan_to_num", lambda m, a: m.nan_to_num(a), [_any(3, 4)]),
    ("square_reciprocal", lambda m, a: m.reciprocal(m.square(a)), [_pos(3, 4)]),
]
CASES += ACTIVATION_CASES


def _prob(*s):
    return R.uniform(0.1, 0.9, s)


def _simplex(*s):
    e = np.exp(R.normal(size=s))
    return e / e.sum(axis=1, keepdims=True)


_CLASSES = [[0, 2, 1, 2], [1, 1, 0, 2]]
# the losses and the other elementwise ops with a jvp beside their backward
LOSS_CASES = [
    ("mse_mean", lambda m, a, b: m.nn.functional.mse_loss(a, b), [_any(3, 4), _any(3, 4)]),
    ("mse_sum_broadcast", lambda m, a, b: m.nn.functional.mse_loss(a, b.expand(3, 4),
                                                                   reduction="sum"),
     [_any(3, 4), _any(4)]),
    ("mse_none", lambda m, a, b: m.nn.functional.mse_loss(a, b, reduction="none"),
     [_any(3, 4), _any(3, 4)]),
    ("l1", lambda m, a, b: m.nn.functional.l1_loss(a, b), [_any(3, 4), _any(3, 4)]),
    ("huber_none", lambda m, a, b: m.nn.functional.huber_loss(a, b, reduction="none", delta=0.6),
     [_any(3, 4), _any(3, 4)]),
    ("smooth_l1", lambda m, a, b: m.nn.functional.smooth_l1_loss(a, b, beta=0.5),
     [_any(3, 4), _any(3, 4)]),
    ("bce", lambda m, a, b: m.nn.functional.binary_cross_entropy(a, b), [_prob(3, 4), _prob(3, 4)]),
    ("bce_none", lambda m, a, b: m.nn.functional.binary_cross_entropy(a, b, reduction="none"),
     [_prob(3, 4), _prob(3, 4)]),
    ("bce_logits", lambda m, a, b: m.nn.functional.binary_cross_entropy_with_logits(a, b),
     [_any(3, 4), _prob(3, 4)]),
    ("bce_logits_pos_weight", lambda m, a, b: m.nn.functional.binary_cross_entropy_with_logits(
        a, b, pos_weight=m.tensor([1.0, 2.0, 0.5, 3.0], dtype=m.float64), reduction="sum"),
     [_any(3, 4), _prob(3, 4)]),
    ("cross_entropy", lambda m, a: m.nn.functional.cross_entropy(a, m.tensor([0, 2, 1, 2])),
     [_any(4, 3)]),
    ("cross_entropy_none_spatial", lambda m, a: m.nn.functional.cross_entropy(
        a, m.tensor(_CLASSES), reduction="none"), [_any(2, 3, 4)]),
    ("cross_entropy_weight_ignore_smooth", lambda m, a: m.nn.functional.cross_entropy(
        a, m.tensor([0, 2, 1, 2]), weight=m.tensor([0.5, 2.0, 1.0], dtype=m.float64),
        ignore_index=1, label_smoothing=0.1), [_any(4, 3)]),
    ("cross_entropy_probs", lambda m, a, t: m.nn.functional.cross_entropy(a, t, label_smoothing=0.2),
     [_any(4, 3), _simplex(4, 3)]),
    ("nll_loss", lambda m, a: m.nn.functional.nll_loss(
        m.log_softmax(a, dim=1), m.tensor([0, 2, 1, 2]),
        weight=m.tensor([0.5, 2.0, 1.0], dtype=m.float64)), [_any(4, 3)]),
    ("nll_loss_none", lambda m, a: m.nn.functional.nll_loss(
        a, m.tensor(_CLASSES), reduction="none"), [_any(2, 3, 4)]),
    ("remainder", lambda m, a, b: m.remainder(a, b), [_any(3, 4) * 3, _pos(4)]),
    ("fmod", lambda m, a, b: m.fmod(a, b), [_any(3, 4) * 3, _pos(3, 4)]),
    ("div_floor", lambda m, a, b: m.div(a, b, rounding_mode="floor") + a,
     [_any(3, 4) * 3, _pos(4)]),
]
CASES += LOSS_CASES


# the convolutions, normalisations, pooling, indexing, scans and linear algebra: each op's jvp
# beside its backward (conv is bilinear, pooling and the scans linear in x)
LAYER_CASES = [
    ("conv1d", lambda m, x, w, b: m.nn.functional.conv1d(x, w, b, stride=2, padding=1),
     [_any(2, 3, 7), _any(4, 3, 3), _any(4)]),
    ("conv2d", lambda m, x, w, b: m.nn.functional.conv2d(x, w, b, padding=1),
     [_any(2, 2, 4, 4), _any(3, 2, 3, 3), _any(3)]),
    ("conv2d_groups_dilation", lambda m, x, w: m.nn.functional.conv2d(x, w, stride=(2, 1),
                                                                      dilation=2, groups=2),
     [_any(1, 4, 6, 5), _any(4, 2, 2, 2)]),
    ("conv_transpose1d", lambda m, x, w, b: m.nn.functional.conv_transpose1d(
        x, w, b, stride=2, padding=1, output_padding=1), [_any(2, 3, 4), _any(3, 2, 3), _any(2)]),
    ("conv_transpose2d", lambda m, x, w: m.nn.functional.conv_transpose2d(x, w, stride=2,
                                                                          groups=2),
     [_any(1, 4, 3, 3), _any(4, 1, 2, 2)]),
    ("unfold", lambda m, x: m.nn.functional.unfold(x, 2, padding=1, stride=2), [_any(2, 2, 4, 3)]),
    ("fold", lambda m, c: m.nn.functional.fold(c, (4, 3), 2, padding=1), [_any(2, 8, 20)]),
    ("embedding", lambda m, w: m.nn.functional.embedding(m.tensor([[0, 2], [3, 0]]), w),
     [_any(4, 3)]),
    ("batch_norm", lambda m, x, w, b: m.nn.functional.batch_norm(x, None, None, w, b,
                                                                 training=True),
     [_any(4, 3, 2), _pos(3), _any(3)]),
    ("batch_norm_x_only", lambda m, x: m.nn.functional.batch_norm(x, None, None, training=True),
     [_any(5, 2)]),
    ("layer_norm", lambda m, x, w, b: m.nn.functional.layer_norm(x, (4,), w, b),
     [_any(3, 4), _pos(4), _any(4)]),
    ("group_norm", lambda m, x, w, b: m.nn.functional.group_norm(x, 2, w, b),
     [_any(2, 4, 3), _pos(4), _any(4)]),
    ("instance_norm", lambda m, x: m.nn.functional.instance_norm(x), [_any(2, 3, 4)]),
    ("pad_constant", lambda m, x: m.nn.functional.pad(x, (1, 2, -1, 1), value=0.5),
     [_any(2, 3, 4)]),
    ("max_pool2d", lambda m, x: m.nn.functional.max_pool2d(x, 2, stride=1, padding=1),
     [_any(2, 2, 4, 3)]),
    ("max_pool1d_indices", lambda m, x: m.nn.functional.max_pool1d(x, 3, stride=2,
                                                                   return_indices=True)[0],
     [_any(2, 3, 7)]),
    ("avg_pool2d", lambda m, x: m.nn.functional.avg_pool2d(x, 3, stride=2, padding=1,
                                                           count_include_pad=False),
     [_any(1, 2, 5, 5)]),
    ("avg_pool1d", lambda m, x: m.nn.functional.avg_pool1d(x, 2), [_any(2, 3, 6)]),
    ("adaptive_avg_pool2d", lambda m, x: m.nn.functional.adaptive_avg_pool2d(x, (2, 3)),
     [_any(1, 2, 5, 4)]),
    ("einsum", lambda m, a, b: m.einsum("bij,jk->bik", a, b), [_any(2, 3, 4), _any(4, 2)]),
    ("einsum_trace_outer", lambda m, a, b: m.einsum("ii,j->j", a, b), [_any(3, 3), _any(4)]),
    ("flip", lambda m, a: m.flip(a, (0, 2)), [_any(2, 3, 4)]),
    ("roll", lambda m, a: m.roll(a, (1, -2), (0, 1)), [_any(3, 4)]),
    ("cumsum", lambda m, a: m.cumsum(a, 1), [_any(3, 4)]),
    ("cumprod", lambda m, a: m.cumprod(a, 0), [_any(4, 3)]),
    ("cumprod_zeros", lambda m, a: m.cumprod(a * m.tensor([1.0, 0.0, 1.0, 0.0, 1.0],
                                                          dtype=m.float64), 0),
     [_any(5)]),
    ("scatter", lambda m, a, s: m.scatter(a, 1, m.tensor([[2, 0], [1, 3], [0, 1]]), s),
     [_any(3, 4), _any(3, 3)]),
    ("scatter_value", lambda m, a: m.scatter(a, 0, m.tensor([[2, 0, 1, 1]]), 0.5), [_any(3, 4)]),
    ("median", lambda m, a: m.median(a), [_any(3, 5)]),
]
CASES += LAYER_CASES


def _well(*s):
    """Batches of well-conditioned square matrices (3 on the diagonal)."""
    return R.normal(size=s) + 3 * np.eye(s[-1])


def _singular(n):
    a = R.normal(size=(n, n))
    a[-1] = a[0] + a[1]
    return a


def _spd(m, a):
    """A symmetric positive-definite matrix from a: the tangent reaching the op is symmetric."""
    return a @ a.transpose(-1, -2) + 2 * m.eye(a.shape[-1], dtype=m.float64)


def _cols_signed(m, u):
    """Columns with the sign fixed by their first row: the same for any LAPACK's choice."""
    return u * m.sign(u[..., :1, :])


def _qr(m, a):
    q, r = m.linalg.qr(a)
    d = m.sign(m.diagonal(r, 0, -2, -1))
    return m.cat([(q * d.unsqueeze(-2)).flatten(), (r * d.unsqueeze(-1)).flatten()])


def _svd(m, a):
    u, s, vh = m.linalg.svd(a, full_matrices=False)
    return m.cat([_cols_signed(m, u).flatten(), s.flatten(),
                  _cols_signed(m, vh.transpose(-1, -2)).flatten()])


def _eigh(m, a):
    w, v = m.linalg.eigh(a + a.transpose(-1, -2))
    return m.cat([w.flatten(), _cols_signed(m, v).flatten()])


LINALG_CASES = [
    ("inv", lambda m, a: m.linalg.inv(a), [_well(2, 3, 3)]),
    ("solve", lambda m, a, b: m.linalg.solve(a, b), [_well(3, 3), _any(2, 3, 2)]),
    ("solve_vector", lambda m, a, b: m.linalg.solve(a, b), [_well(3, 3), _any(3)]),
    ("det", lambda m, a: m.linalg.det(a), [_well(2, 3, 3)]),
    ("det_singular", lambda m, a: m.linalg.det(a), [_singular(3)]),
    ("cholesky", lambda m, a: m.linalg.cholesky(_spd(m, a)), [_any(2, 3, 3)]),
    ("cholesky_upper", lambda m, a: m.linalg.cholesky(_spd(m, a), upper=True), [_any(3, 3)]),
    ("qr_tall", _qr, [_any(4, 3)]),
    ("qr_square_batched", _qr, [_any(2, 3, 3)]),
    ("qr_wide", _qr, [_any(2, 4)]),
    ("svd_tall", _svd, [_any(4, 3)]),
    ("svd_wide_batched", _svd, [_any(2, 2, 4)]),
    ("svdvals", lambda m, a: m.linalg.svdvals(a), [_any(3, 4)]),
    ("eigh", _eigh, [_any(2, 3, 3)]),
    ("vector_norm_half", lambda m, a: m.linalg.vector_norm(a, 0.5, dim=1), [_any(3, 4)]),
    ("vector_norm_negative", lambda m, a: m.linalg.vector_norm(a, -1.5), [_any(3, 4)]),
    ("vector_norm_zero", lambda m, a: m.linalg.vector_norm(a, 0, dim=0) + a.sum(0), [_any(3, 4)]),
]
CASES += LINALG_CASES


def _cr_jvp(fn, arrays, tangents):
    with fwAD.dual_level():
        duals = [fwAD.make_dual(cr.tensor(a), cr.tensor(t)) for a, t in zip(arrays, tangents)]
        out = fn(cr, *duals)
        primal, tangent = fwAD.unpack_dual(out)
    return primal.numpy(), None if tangent is None else tangent.numpy()


@pytest.mark.parametrize("name,fn,arrays", CASES, ids=[c[0] for c in CASES])
def test_jvp_matches_reverse_mode_jacobian(name, fn, arrays):
    """J v from forward mode equals J v assembled from reverse-mode rows."""
    tangents = [R.normal(size=a.shape) for a in arrays]
    primal, tangent = _cr_jvp(fn, arrays, tangents)
    xs = [cr.tensor(a) for a in arrays]
    jac = cr.autograd.functional.jacobian(lambda *z: fn(cr, *z), tuple(xs))
    jac = jac if isinstance(jac, tuple) else (jac,)
    expect = sum(np.tensordot(j.numpy(), t, axes=t.ndim) for j, t in zip(jac, tangents))
    np.testing.assert_allclose(primal, fn(cr, *xs).numpy())
    tol = 1e-6 if "float32" in name else 1e-10      # the tangent is rounded to float32 there
    np.testing.assert_allclose(tangent, expect, rtol=tol, atol=1e-12)


@pytest.mark.parametrize("name,fn,arrays", CASES, ids=[c[0] for c in CASES])
def test_jvp_matches_torch(name, fn, arrays):
    torch = pytest.importorskip("torch")
    import torch.autograd.forward_ad as tfw
    tangents = [R.normal(size=a.shape) for a in arrays]
    _, tangent = _cr_jvp(fn, arrays, tangents)
    with tfw.dual_level():
        duals = [tfw.make_dual(torch.tensor(a), torch.tensor(t)) for a, t in zip(arrays, tangents)]
        expect = tfw.unpack_dual(fn(torch, *duals)).tangent
    tol = 1e-6 if "float32" in name else 1e-10
    np.testing.assert_allclose(tangent, expect.numpy(), rtol=tol, atol=1e-12)


FLOAT64_CASES = [c for c in CASES if "float32" not in c[0]]


@pytest.mark.parametrize("name,fn,arrays", FLOAT64_CASES, ids=[c[0] for c in FLOAT64_CASES])
def test_jvp_matches_finite_differences(name, fn, arrays):
    """J v against the central difference (f(x + h v) - f(x - h v)) / 2h, in float64."""
    tangents = [R.normal(size=a.shape) for a in arrays]
    _, tangent = _cr_jvp(fn, arrays, tangents)
    h = 1e-6

    def f(sign):
        return fn(cr, *[cr.tensor(a + sign * h * t) for a, t in zip(arrays, tangents)]).numpy()
    expect = (f(1) - f(-1)) / (2 * h)
    np.testing.assert_allclose(tangent, expect, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name,fn,arrays", ACTIVATION_CASES, ids=[c[0] for c in ACTIVATION_CASES])
def test_func_jvp_matches_torch_func_jvp(name, fn, arrays):
    torch = pytest.importorskip("torch")
    tangents = [R.normal(size=a.shape) for a in arrays]
    out, t = cr.func.jvp(lambda *z: fn(cr, *z), tuple(cr.tensor(a) for a in arrays),
                         tuple(cr.tensor(v) for v in tangents))
    t_out, t_t = torch.func.jvp(lambda *z: fn(torch, *z), tuple(torch.tensor(a) for a in arrays),
                                tuple(torch.tensor(v) for v in tangents))
    np.testing.assert_allclose(out.numpy(), t_out.numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(t.numpy(), t_t.numpy(), rtol=1e-10, atol=1e-12)


HVP_CASES = ["gelu", "gelu_tanh", "elu", "softplus_beta_threshold", "mish", "hardswish", "erf",
             "expm1", "rsqrt", "tan", "asin", "sinh", "cosh", "atan2", "log10", "mse_mean",
             "bce", "bce_logits", "bce_logits_pos_weight", "cross_entropy",
             "cross_entropy_weight_ignore_smooth", "cross_entropy_probs", "nll_loss", "remainder",
             # the ops of the layers and linear algebra: their backward ops' jvps (conv_w,
             # conv_t, _Rstd and _Xhat, tap scatter, revcumsum, ...) carry the tangent
             "conv2d", "conv_transpose1d", "unfold", "batch_norm", "layer_norm", "group_norm",
             "max_pool2d", "avg_pool2d", "pad_constant", "embedding", "einsum", "cumsum",
             "cumprod", "cumprod_zeros", "flip", "roll", "median", "inv", "solve", "det",
             "cholesky", "qr_tall", "svd_tall", "eigh", "vector_norm_half"]
# torch.func's jvp of jvp disagrees with its own finite differences for these (torch 2.13): the
# second level is checked against the central difference of the first-level tangent instead
JVP2_TORCH_DIFFERS = {"batch_norm", "layer_norm", "solve", "det"}


@pytest.mark.parametrize("name", HVP_CASES)
def test_forward_over_reverse_matches_torch(name):
    """The jvp of a gradient (tangents through the create_graph backward: the Hessian-vector
    product), and the second level of dual tensors (jvp of jvp), as torch.func."""
    torch = pytest.importorskip("torch")
    fn, arrays = next((c[1], c[2]) for c in CASES if c[0] == name)
    tangents = [R.normal(size=a.shape) for a in arrays]
    argnums = tuple(range(len(arrays)))

    def hvp(lib, func, xs, vs):
        grad = lib.func.grad(lambda *z: func(*z).sum(), argnums=argnums)
        return lib.func.jvp(grad, xs, vs)[1]

    def jvp2(lib, func, xs, vs):
        return lib.func.jvp(lambda *z: lib.func.jvp(func, z, vs)[1], xs, vs)[1]

    def first(sign, h=1e-6):
        """The first-level tangent at x + sign·h·v (for the central difference)."""
        return cr.func.jvp(lambda *z: fn(cr, *z),
                           tuple(cr.tensor(a + sign * h * v) for a, v in zip(arrays, tangents)),
                           tuple(cr.tensor(v) for v in tangents))[1].numpy()

    for how in (hvp, jvp2):
        got = how(cr, lambda *z: fn(cr, *z), tuple(cr.tensor(a) for a in arrays),
                  tuple(cr.tensor(v) for v in tangents))
        if how is jvp2 and name in JVP2_TORCH_DIFFERS:
            np.testing.assert_allclose(got.numpy(), (first(1) - first(-1)) / 2e-6, rtol=1e-5,
                                       atol=1e-6)
            continue
        expect = how(torch, lambda *z: fn(torch, *z), tuple(torch.tensor(a) for a in arrays),
                     tuple(torch.tensor(v) for v in tangents))
        for g, e in zip(got if isinstance(got, tuple) else (got,),
                        expect if isinstance(expect, tuple) else (expect,)):
            np.testing.assert_allclose(g.numpy(), e.numpy(), rtol=1e-9, atol=1e-12,
                                       err_msg=how.__name__)


def test_activation_kinks_follow_torch():
    """At the breaks (elu and leaky_relu at 0, hardtanh/relu6 at their bounds, hardswish and
    hardsigmoid at ±3, threshold and the shrinks at λ, softplus at its threshold) the tangent is
    PyTorch's."""
    torch = pytest.importorskip("torch")
    import torch.autograd.forward_ad as tfw
    breaks = np.array([-3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0, 6.0, 10.0])
    fns = [lambda m, a: m.nn.functional.elu(a), lambda m, a: m.nn.functional.leaky_relu(a, 0.2),
           lambda m, a: m.nn.functional.hardtanh(a), lambda m, a: m.nn.functional.relu6(a),
           lambda m, a: m.nn.functional.hardswish(a), lambda m, a: m.nn.functional.hardsigmoid(a),
           lambda m, a: m.nn.functional.threshold(a, 0.5, 2.0),
           lambda m, a: m.nn.functional.softshrink(a, 0.5),
           lambda m, a: m.nn.functional.hardshrink(a, 0.5),
           lambda m, a: m.nn.functional.softplus(a, beta=2.0, threshold=20.0),
           lambda m, a: m.nn.functional.celu(a, 2.0), lambda m, a: m.nn.functional.selu(a)]
    v = np.arange(1.0, breaks.size + 1)
    for i, fn in enumerate(fns):
        _, t = _cr_jvp(fn, [breaks], [v])
        with tfw.dual_level():
            d = tfw.make_dual(torch.tensor(breaks), torch.tensor(v))
            expect = tfw.unpack_dual(fn(torch, d)).tangent.numpy()
        np.testing.assert_allclose(t, expect, err_msg=f"activation {i}")


def test_prelu_kink_tangent_agrees_with_its_gradient():
    """prelu at x = 0: ẏ = a ẋ, the slope its backward uses (PyTorch's reverse-mode choice;
    PyTorch's own forward AD gives ẋ there, disagreeing with its backward)."""
    x, w = cr.tensor([0.0, -1.0, 2.0]), cr.tensor([0.25])
    _, t = cr.func.jvp(lambda z: F.prelu(z, w), (x,), (cr.ones(3),))
    j = cr.func.jacrev(lambda z: F.prelu(z, w))(x)
    np.testing.assert_allclose(t.numpy(), [0.25, 0.25, 1.0])
    np.testing.assert_allclose(j.numpy().sum(0), t.numpy())


def test_dropout_tangent_is_the_masked_tangent():
    x, v = R.normal(size=(4, 5)), R.normal(size=(4, 5))
    cr.manual_seed(0)
    y, t = _cr_jvp(lambda m, a: F.dropout(a, 0.4), [x], [v])
    mask = y / x
    assert set(np.round(np.unique(mask), 12)) <= {0.0, round(1 / 0.6, 12)}
    np.testing.assert_allclose(t, v * mask, rtol=1e-12)


def test_every_activation_and_elementwise_op_has_a_jvp():
    """No op of the activation and elementwise files defines a backward without a jvp."""
    from chainrule.function import Function, Op
    from chainrule.linalg import decompositions, norms
    from chainrule.nn.functional import (
        activation,
        activation_more,
        conv,
        embedding,
        normalization,
        padding,
        pooling,
    )
    from chainrule.ops import (
        device,
        einsum,
        elementwise,
        elementwise_more,
        rearrange,
        scan,
        scatter,
        sorting,
    )
    missing = [f"{mod.__name__}.{name}" for mod in (activation, activation_more, elementwise,
                                                    elementwise_more, conv, embedding,
                                                    normalization, padding, pooling, device,
                                                    einsum, rearrange, scan, scatter, sorting,
                                                    decompositions, norms)
               for name, c in vars(mod).items()
               if isinstance(c, type) and issubclass(c, Op) and c.backward is not Function.backward
               and c.jvp is Function.jvp]
    assert missing == []


def test_ties_and_kinks_follow_torch():
    torch = pytest.importorskip("torch")
    import torch.autograd.forward_ad as tfw
    cases = [(lambda m, a, b: m.maximum(a, b), [np.array([1., 2., 3.]), np.array([1., 0., 3.])]),
             (lambda m, a: m.relu(a), [np.array([-1., 0., 2.])]),
             (lambda m, a: m.abs(a), [np.array([-1., 0., 2.])]),
             (lambda m, a: m.clamp(a, 0., 1.), [np.array([-1., 0., 0.5, 1., 2.])]),
             (lambda m, a: m.amax(a), [np.array([1., 3., 3.])])]
    for fn, arrays in cases:
        tangents = [np.arange(1., a.size + 1) for a in arrays]
        _, t = _cr_jvp(fn, arrays, tangents)
        with tfw.dual_level():
            duals = [tfw.make_dual(torch.tensor(a), torch.tensor(v))
                     for a, v in zip(arrays, tangents)]
            expect = tfw.unpack_dual(fn(torch, *duals)).tangent.numpy()
        np.testing.assert_allclose(t, expect)


def test_float32_tangents_keep_dtype():
    with fwAD.dual_level():
        x = fwAD.make_dual(cr.ones(3), cr.full((3,), 2.0))
        y = fwAD.unpack_dual(cr.exp(x) * 3)
    assert y.tangent.dtype == cr.float32 and y.primal.dtype == cr.float32
    np.testing.assert_allclose(y.tangent.numpy(), 6 * np.e * np.ones(3), rtol=1e-6)


def test_unpack_dual_of_plain_tensor_and_outside_level():
    x = cr.ones(2)
    p, t = fwAD.unpack_dual(x)
    assert p is x and t is None
    with fwAD.dual_level():
        assert fwAD.unpack_dual(x).tangent is None
        d = fwAD.make_dual(x, cr.ones(2))
        primal = fwAD.unpack_dual(d).primal
        assert fwAD.unpack_dual(primal).tangent is None      # the primal carries no tangent
        assert fwAD.unpack_dual(d * 2).tangent.tolist() == [2.0, 2.0]
    assert fwAD.unpack_dual(d).tangent is None               # dropped when the level exits


def test_make_dual_errors():
    with pytest.raises(RuntimeError, match="dual_level"):
        fwAD.make_dual(cr.ones(2), cr.ones(2))
    with fwAD.dual_level():
        with pytest.raises(ValueError, match="shape"):
            fwAD.make_dual(cr.ones(2), cr.ones(3))
        with pytest.raises(TypeError, match="dtype"):
            fwAD.make_dual(cr.ones(2), cr.ones(2, dtype=cr.float64))
        with pytest.raises(TypeError, match="floating-point"):
            fwAD.make_dual(cr.ones(2, dtype=cr.int64), cr.ones(2))


def test_op_without_jvp_names_itself():
    class Square(cr.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * x

        @staticmethod
        def backward(ctx, g):
            return g

    with fwAD.dual_level():
        x = fwAD.make_dual(cr.ones(2), cr.ones(2))
        with pytest.raises(NotImplementedError, match="Square defines no jvp") as e:
            Square.apply(x)
    assert isinstance(e.value, ChainruleError)


def test_custom_function_jvp():
    class Cube(cr.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * x * x

        @staticmethod
        def backward(ctx, g):
            x, = ctx.saved_tensors
            return 3 * x * x * g

        @staticmethod
        def jvp(ctx, tx):
            x, = ctx.primals
            return 3 * x * x * tx

    with fwAD.dual_level():
        x = fwAD.make_dual(cr.tensor([1., 2.]), cr.tensor([1., 1.]))
        assert fwAD.unpack_dual(Cube.apply(x)).tangent.tolist() == [3.0, 12.0]


def test_reverse_mode_through_tangent():
    """The tangent is differentiable: d/dx of (d/dt sin(x + t·1)) = -sin(x)."""
    x = cr.tensor([0.3, 1.2], dtype=cr.float64, requires_grad=True)
    with fwAD.dual_level():
        d = fwAD.make_dual(x, cr.ones(2, dtype=cr.float64))
        t = fwAD.unpack_dual(cr.sin(d)).tangent
    t.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), -np.sin([0.3, 1.2]))


def test_forward_over_reverse_hessian_vector_product():
    """The tangent of a gradient (create_graph) is the Hessian-vector product, saved outputs
    included (exp keeps its output for backward)."""
    a = np.array([0.2, -0.4, 0.9])
    v = np.array([1.0, 2.0, -1.0])
    with fwAD.dual_level():
        x = fwAD.make_dual(cr.tensor(a, requires_grad=True), cr.tensor(v))
        y = (cr.exp(x) * cr.sin(x)).sum()
        g, = cr.autograd.grad(y, x, create_graph=True)
        hv = fwAD.unpack_dual(g).tangent.detach().numpy()
    h = np.diag(np.exp(a) * (np.sin(a) + 2 * np.cos(a) - np.sin(a)))   # (eˣ sin x)'' = 2eˣcos x
    np.testing.assert_allclose(hv, h @ v, rtol=1e-6)


def test_nested_levels_give_second_derivative():
    with fwAD.dual_level():
        x1 = fwAD.make_dual(cr.tensor([0.5], dtype=cr.float64), cr.ones(1, dtype=cr.float64))
        with fwAD.dual_level():
            x2 = fwAD.make_dual(x1, cr.ones(1, dtype=cr.float64))
            y = x2 ** 3
            t2 = fwAD.unpack_dual(y).tangent          # 3x², still dual at the outer level
        assert fwAD.unpack_dual(t2).tangent.item() == pytest.approx(6 * 0.5)


def test_no_dispatch_left_after_levels():
    from chainrule import function
    from chainrule.grad_mode import state
    with fwAD.dual_level():
        pass
    assert function.dispatch_levels == 0 and state.dispatch is None


STANDIN = ["add", "mul", "div", "pow", "matmul", "exp", "log", "tanh", "sigmoid", "relu", "clamp",
           "maximum", "where", "sum_dim", "mean", "amax", "logsumexp", "reshape", "permute",
           "expand", "cat", "getitem", "getitem_adv", "softmax", "log_softmax", "to_float32",
           "linear", "mlp", "gather", "max_dim", "gelu", "gelu_tanh", "elu", "softplus",
           "leaky_relu", "mish", "hardswish", "erf", "expm1", "rsqrt", "asin", "sinh", "atan2",
           "log2", "nan_to_num", "mse_mean", "bce_logits_pos_weight", "cross_entropy",
           "cross_entropy_probs", "nll_loss_none", "remainder", "conv1d", "conv2d",
           "conv2d_groups_dilation", "conv_transpose1d", "conv_transpose2d", "unfold", "fold",
           "embedding", "batch_norm", "layer_norm", "group_norm", "pad_constant", "max_pool2d",
           "max_pool1d_indices", "avg_pool2d", "adaptive_avg_pool2d", "einsum", "flip", "roll",
           "cumsum", "cumprod", "cumprod_zeros", "scatter", "scatter_value", "median", "inv",
           "solve", "det", "det_singular", "qr_tall", "qr_wide", "svd_tall", "eigh",
           "vector_norm_half", "vector_norm_zero"]


@pytest.mark.parametrize("name", STANDIN)
def test_jvp_on_the_standin_device_equals_cpu(name):
    from chainrule.backend.cuda import use_standin
    fn, arrays = next((c[1], c[2]) for c in CASES if c[0] == name)
    tangents = [R.normal(size=a.shape) for a in arrays]
    _, cpu = _cr_jvp(fn, arrays, tangents)
    with use_standin() as ns:
        class Dev:
            """The library with tensor() making stand-in tensors (for the cases' constants)."""
            def __getattr__(self, k):
                return getattr(cr, k)

            @staticmethod
            def tensor(v, **kw):
                return cr.tensor(v, **kw).to("cuda")
        dev = Dev()
        with fwAD.dual_level():
            duals = [fwAD.make_dual(cr.Tensor(ns.asarray(a)), cr.Tensor(ns.asarray(t)))
                     for a, t in zip(arrays, tangents)]
            t = fwAD.unpack_dual(fn(dev, *duals)).tangent
        assert t.is_cuda
        np.testing.assert_allclose(t._data.get(), cpu, rtol=1e-6, atol=1e-12)


def test_to_device_carries_the_tangent():
    """x.to("cuda") (the stand-in) and back: the tangent moves with the value."""
    from chainrule.backend.cuda import use_standin
    x, v = R.normal(size=(2, 3)), R.normal(size=(2, 3))
    with use_standin():
        with fwAD.dual_level():
            d = fwAD.make_dual(cr.tensor(x), cr.tensor(v))
            on_dev = d.to("cuda") * 2.0
            t_dev = fwAD.unpack_dual(on_dev).tangent
            t_back = fwAD.unpack_dual(on_dev.cpu()).tangent
        assert t_dev.is_cuda and not t_back.is_cuda
        np.testing.assert_allclose(t_dev._data.get(), 2 * v)
        np.testing.assert_allclose(t_back.numpy(), 2 * v)


def test_embedding_padding_row_tangent_follows_torch():
    """The padding row gets no gradient, but its value still moves with W: ẏ = Ẇ[idx] there too,
    as torch.func.jvp."""
    torch = pytest.importorskip("torch")
    w, v = R.normal(size=(4, 3)), R.normal(size=(4, 3))
    idx = [[0, 3], [3, 1]]
    _, t = cr.func.jvp(lambda z: F.embedding(cr.tensor(idx), z, padding_idx=3), (cr.tensor(w),),
                       (cr.tensor(v),))
    _, e = torch.func.jvp(lambda z: torch.nn.functional.embedding(torch.tensor(idx), z,
                                                                  padding_idx=3),
                          (torch.tensor(w),), (torch.tensor(v),))
    np.testing.assert_allclose(t.numpy(), e.numpy())


def test_factorisation_tangents_of_a_full_dA_follow_torch():
    """cholesky and eigh read one triangle of A; for a non-symmetric Ȧ their jvps use the whole
    of it, as PyTorch's cholesky_jvp and eigh's jvp."""
    torch = pytest.importorskip("torch")
    a = R.normal(size=(3, 3))
    a = a @ a.T + 3 * np.eye(3)
    v = R.normal(size=(3, 3))
    for fn in (lambda m, z: m.linalg.cholesky(z), lambda m, z: m.linalg.eigvalsh(z)):
        _, t = cr.func.jvp(lambda z, f=fn: f(cr, z), (cr.tensor(a),), (cr.tensor(v),))
        _, e = torch.func.jvp(lambda z, f=fn: f(torch, z), (torch.tensor(a),),
                              (torch.tensor(v),))
        np.testing.assert_allclose(t.numpy(), e.numpy(), rtol=1e-10, atol=1e-12)


def test_factorisations_without_a_unique_tangent_refuse():
    a = cr.tensor(R.normal(size=(4, 2)))
    v = cr.tensor(R.normal(size=(4, 2)))
    with pytest.raises(cr.errors.AutogradError, match="full_matrices"):
        cr.func.jvp(lambda z: cr.linalg.svd(z).U, (a,), (v,))
    with pytest.raises(cr.errors.AutogradError, match="mode='complete'"):
        cr.func.jvp(lambda z: cr.linalg.qr(z, mode="complete").Q, (a,), (v,))
    _, t = cr.func.jvp(lambda z: cr.linalg.svd(z[:2]).S, (a,), (v,))     # square: full is fine
    assert t.shape == (2,)


def test_hessian_of_a_small_convnet_matches_torch():
    """cr.func.hessian (forward over reverse) through conv, batch norm and both poolings."""
    torch = pytest.importorskip("torch")
    x, w = R.normal(size=(2, 1, 5, 5)), R.normal(size=(2, 1, 3, 3)) * 0.5

    def net(m, w):
        h = m.nn.functional.conv2d(m.tensor(x), w, padding=1)
        h = m.nn.functional.batch_norm(h, None, None, training=True)
        h = m.nn.functional.max_pool2d(m.tanh(h), 2)
        return (h * h).sum() + m.nn.functional.avg_pool2d(h, 2).sum()

    got = cr.func.hessian(lambda z: net(cr, z))(cr.tensor(w)).numpy()
    expect = torch.func.hessian(lambda z: net(torch, z))(torch.tensor(w)).numpy()
    np.testing.assert_allclose(got, expect, rtol=1e-10, atol=1e-12)
