"""The losses at the edges of their domain, against PyTorch, and the errors they raise.

Saturated logits (±1000, ±88), tiny ones (±1e-8), probabilities of exactly 0 and 1 and huge
cross-entropy logits: the loss and its gradient must be finite wherever PyTorch's are, and equal.
"""
import itertools

import numpy as np
import pytest

import chainrule as cr
from chainrule.nn.functional import loss as F

DTYPES = [np.float32, np.float64]
# like PyTorch, an overflowing loss is inf (or nan) in the value, without NumPy warnings
pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")
LOGITS = [1000.0, -1000.0, 88.0, -88.0, 30.0, -30.0, 1e-8, -1e-8, 0.0, 17.5, -3.0]


def tol(dtype):
    return dict(rtol=2e-6, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-14)


def assert_same(ours, theirs, dtype, what):
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    np.testing.assert_array_equal(np.isfinite(ours), np.isfinite(theirs),
                                  err_msg=f"{what}: finite where torch is finite")
    np.testing.assert_allclose(ours, theirs, equal_nan=True, err_msg=what, **tol(dtype))


def run_both(torch, fn, tname, arrays, grads, kw=None, tkw=None):
    kw = kw or {}
    ours = [cr.tensor(a, requires_grad=g) for a, g in zip(arrays, grads)]
    theirs = [torch.tensor(a, requires_grad=g) for a, g in zip(arrays, grads)]
    out = fn(*ours, reduction="none", **kw)
    ref = getattr(torch.nn.functional, tname)(*theirs, reduction="none", **(tkw or kw))
    out.sum().backward()
    ref.sum().backward()
    return out, ref, ours, theirs


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("pos_weight", [None, 3.0, 0.25])
def test_bce_with_logits_extremes_match_torch(dtype, pos_weight):
    torch = pytest.importorskip("torch")
    x, y = zip(*itertools.product(LOGITS, [0.0, 1.0, 0.5]))
    x, y = np.array(x, dtype=dtype), np.array(y, dtype=dtype)
    kw = {} if pos_weight is None else {"pos_weight": np.full(1, pos_weight, dtype=dtype)}
    ckw = {k: cr.tensor(v) for k, v in kw.items()}
    tkw = {k: torch.tensor(v) for k, v in kw.items()}
    out, ref, ours, theirs = run_both(torch, F.binary_cross_entropy_with_logits,
                                      "binary_cross_entropy_with_logits", [x, y], [True, True],
                                      ckw, tkw)
    assert np.isfinite(out.detach().numpy()).all()
    assert_same(out.detach().numpy(), ref.detach().numpy(), dtype, "loss")
    assert_same(ours[0].grad.numpy(), theirs[0].grad.numpy(), dtype, "input gradient")
    assert_same(ours[1].grad.numpy(), theirs[1].grad.numpy(), dtype, "target gradient")


@pytest.mark.parametrize("dtype", DTYPES)
def test_bce_with_logits_saturated_values_are_exact(dtype):
    x = cr.tensor(np.array([1000, -1000, 1000, -1000], dtype=dtype))
    y = cr.tensor(np.array([1, 0, 0, 1], dtype=dtype))
    out = F.binary_cross_entropy_with_logits(x, y, reduction="none").numpy()
    np.testing.assert_array_equal(out, [0, 0, 1000, 1000])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("weighted", [False, True])
def test_bce_on_probabilities_zero_and_one_match_torch(dtype, weighted):
    torch = pytest.importorskip("torch")
    probs = [0.0, 1.0, 1e-8, 1 - 1e-8, 1e-30, 0.5, 0.999]
    p, y = zip(*itertools.product(probs, [0.0, 1.0, 0.3]))
    p, y = np.array(p, dtype=dtype), np.array(y, dtype=dtype)
    kw = {}
    if weighted:
        kw = {"weight": np.linspace(0.5, 2, p.size).astype(dtype)}
    out, ref, ours, theirs = run_both(
        torch, F.binary_cross_entropy, "binary_cross_entropy", [p, y], [True, True],
        {k: cr.tensor(v) for k, v in kw.items()}, {k: torch.tensor(v) for k, v in kw.items()})
    assert np.isfinite(out.detach().numpy()).all()           # each log is clamped at -100
    assert out.detach().numpy().max() <= 100 * (2 if weighted else 1)
    assert_same(out.detach().numpy(), ref.detach().numpy(), dtype, "loss")
    assert_same(ours[0].grad.numpy(), theirs[0].grad.numpy(), dtype, "input gradient")
    assert_same(ours[1].grad.numpy(), theirs[1].grad.numpy(), dtype, "target gradient")


CE_ROWS = [[1e4, 0.0, -1e4], [1000.0, 1000.0, -1000.0], [-1000.0, -1000.0, -1000.0],
           [88.0, -88.0, 0.0], [1e-8, -1e-8, 0.0], [1e30, -1e30, 0.0], [-1e30, 5.0, 5.0],
           [3e38, 0.0, -3e38], [0.0, 0.0, 0.0]]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kw", [{}, {"label_smoothing": 0.1}, {"weight": [0.5, 2.0, 1.0]},
                                {"weight": [0.5, 2.0, 1.0], "label_smoothing": 0.3}],
                         ids=["plain", "smoothing", "weight", "weight-smoothing"])
@pytest.mark.parametrize("targets", ["index", "probs"])
def test_cross_entropy_huge_logits_match_torch(dtype, kw, targets):
    torch = pytest.importorskip("torch")
    x = np.repeat(np.array(CE_ROWS, dtype=dtype), 3, axis=0)
    if targets == "index":
        y = np.tile([0, 1, 2], len(CE_ROWS))
    else:
        rows = np.array([[1, 0, 0], [0.2, 0.3, 0.5], [0, 0, 1]], dtype=dtype)
        y = np.tile(rows, (len(CE_ROWS), 1))
    ckw = {k: (cr.tensor(np.array(v, dtype=dtype)) if k == "weight" else v) for k, v in kw.items()}
    tkw = {k: (torch.tensor(np.array(v, dtype=dtype)) if k == "weight" else v)
           for k, v in kw.items()}
    out, ref, ours, theirs = run_both(torch, F.cross_entropy, "cross_entropy", [x, y],
                                      [True, targets == "probs"], ckw, tkw)
    assert_same(out.detach().numpy(), ref.detach().numpy(), dtype, "loss")
    assert_same(ours[0].grad.numpy(), theirs[0].grad.numpy(), dtype, "input gradient")
    if targets == "probs":
        assert_same(ours[1].grad.numpy(), theirs[1].grad.numpy(), dtype, "target gradient")


@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_saturated_values_are_exact(dtype):
    x = cr.tensor(np.array([[1000, 0, -1000], [1000, 0, -1000]], dtype=dtype), requires_grad=True)
    out = F.cross_entropy(x, cr.tensor([0, 2]), reduction="none")
    np.testing.assert_array_equal(out.detach().numpy(), [0, 2000])
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 0, 0], [1, 0, -1]])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "huber_loss", "smooth_l1_loss"])
def test_regression_losses_at_large_errors_match_torch(dtype, name):
    torch = pytest.importorskip("torch")
    x = np.array([1e20, -1e20, 1e-8, 3e38, 0.0, 1e5], dtype=dtype)
    y = np.array([0.0, 1e20, -1e-8, -3e38, 0.0, -1e5], dtype=dtype)
    out, ref, ours, theirs = run_both(torch, getattr(F, name), name, [x, y], [True, True])
    assert_same(out.detach().numpy(), ref.detach().numpy(), dtype, "loss")
    assert_same(ours[0].grad.numpy(), theirs[0].grad.numpy(), dtype, "input gradient")
    assert_same(ours[1].grad.numpy(), theirs[1].grad.numpy(), dtype, "target gradient")


def test_nll_loss_of_minus_inf_log_probability_matches_torch():
    torch = pytest.importorskip("torch")
    x = np.array([[-np.inf, 0.0], [-1e30, -1e-30]])
    y = np.array([1, 0])
    out = F.nll_loss(cr.tensor(x), cr.tensor(y), reduction="none").numpy()
    ref = torch.nn.functional.nll_loss(torch.tensor(x), torch.tensor(y), reduction="none").numpy()
    np.testing.assert_array_equal(out, ref)


# ---- errors: each names the loss, what it expected and what it got ------------------------------
def test_regression_shape_mismatch_explains_the_broadcasting_pitfall():
    with pytest.raises(ValueError) as e:
        F.mse_loss(cr.randn(4, 1), cr.randn(4))
    msg = str(e.value)
    for part in ["mse_loss", "(4, 1)", "(4,)", "(4, 4)", "target.view(-1, 1)", "input.squeeze(1)"]:
        assert part in msg, part


def test_shape_mismatch_the_other_way_round():
    with pytest.raises(ValueError, match=r"l1_loss: input has shape \(4,\) but target has shape "
                                         r"\(4, 1\).*target\.squeeze\(1\)"):
        F.l1_loss(cr.randn(4), cr.randn(4, 1))


def test_shape_mismatch_that_does_not_broadcast():
    with pytest.raises(ValueError, match="huber_loss: input has shape \\(3,\\) but target has "
                                         "shape \\(4,\\)"):
        F.huber_loss(cr.randn(3), cr.randn(4))


@pytest.mark.parametrize("fn", [F.mse_loss, F.l1_loss, F.huber_loss, F.smooth_l1_loss,
                                F.pinball_loss, F.binary_cross_entropy,
                                F.binary_cross_entropy_with_logits])
def test_every_elementwise_loss_rejects_mismatched_shapes(fn):
    with pytest.raises(ValueError, match=fn.__name__ + r": input has shape \(5, 1\)"):
        fn(cr.rand(5, 1), cr.rand(5))


def test_class_index_out_of_range_names_value_place_and_range():
    with pytest.raises(IndexError) as e:
        F.cross_entropy(cr.randn(4, 5), cr.tensor([0, 4, 7, 1]))
    msg = str(e.value)
    for part in ["cross_entropy", "7", "target[2]", "5 classes", "[0, 4]"]:
        assert part in msg, part


def test_negative_class_index_that_is_not_ignore_index():
    with pytest.raises(IndexError, match=r"class index -1 at target\[1\].*ignore_index=-100"):
        F.nll_loss(cr.randn(3, 2), cr.tensor([0, -1, 1]))


def test_class_index_out_of_range_in_a_segmentation_map():
    y = np.zeros((2, 3, 3), dtype=np.int64)
    y[1, 0, 2] = 9
    with pytest.raises(IndexError, match=r"class index 9 at target\[1, 0, 2\]"):
        F.cross_entropy(cr.randn(2, 4, 3, 3), cr.tensor(y))


def test_class_index_out_of_range_unbatched():
    with pytest.raises(IndexError, match=r"class index 3 at target is out of range"):
        F.cross_entropy(cr.randn(3), cr.tensor(3))


def test_float_class_indices_ask_for_long():
    with pytest.raises(TypeError, match=r"cross_entropy: .*class indices must be integers: "
                                        r"pass target\.long\(\)"):
        F.cross_entropy(cr.randn(4, 3), cr.tensor([0.0, 1.0, 2.0, 1.0]))
    with pytest.raises(TypeError, match=r"nll_loss: .*target\.long\(\)"):
        F.nll_loss(cr.randn(4, 3), cr.tensor([0.0, 1.0, 2.0, 1.0]))


@pytest.mark.parametrize("fn", [F.binary_cross_entropy, F.binary_cross_entropy_with_logits])
def test_integer_bce_targets_ask_for_float(fn):
    with pytest.raises(TypeError, match=fn.__name__ + r": target must be a floating-point "
                                                      r"tensor.*target\.float\(\)"):
        fn(cr.rand(4), cr.tensor([0, 1, 1, 0]))


def test_column_of_class_indices_asks_for_squeeze():
    with pytest.raises(ValueError, match=r"cross_entropy: .*shape \(4,\).*got an integer target "
                                         r"of shape \(4, 1\).*target\.squeeze\(1\)"):
        F.cross_entropy(cr.randn(4, 3), cr.tensor([[0], [1], [2], [1]]))


def test_integer_one_hot_target_asks_for_float():
    with pytest.raises(ValueError, match=r"one-hot target.*target\.float\(\)"):
        F.cross_entropy(cr.randn(2, 3), cr.tensor([[1, 0, 0], [0, 0, 1]]))


def test_bool_target_for_cross_entropy():
    with pytest.raises(TypeError, match="cross_entropy: target must be integer class indices"):
        F.cross_entropy(cr.randn(2, 3), cr.tensor([True, False]))


def test_bce_input_outside_zero_one_points_to_the_logits_version():
    with pytest.raises(ValueError, match=r"binary_cross_entropy: input must hold probabilities "
                                         r"in \[0, 1\].*binary_cross_entropy_with_logits"):
        F.binary_cross_entropy(cr.tensor([0.5, 1.5, -0.2]), cr.tensor([1.0, 0.0, 1.0]))
    with pytest.raises(ValueError, match="must hold probabilities"):
        F.binary_cross_entropy(cr.tensor([0.5, float("nan")]), cr.tensor([1.0, 0.0]))


def test_bad_reduction_suggests_the_close_name():
    with pytest.raises(ValueError, match=r"mse_loss: reduction must be one of 'mean', 'sum' or "
                                         r"'none', got 'sun'; did you mean 'sum'\?"):
        F.mse_loss(cr.randn(2), cr.randn(2), reduction="sun")
    with pytest.raises(ValueError, match="got 'average'$"):
        F.cross_entropy(cr.randn(2, 3), cr.tensor([0, 1]), reduction="average")


def test_class_weight_of_the_wrong_size():
    with pytest.raises(ValueError, match=r"cross_entropy: weight must hold one value per class, "
                                         r"shape \(3,\).*got shape \(4,\)"):
        F.cross_entropy(cr.randn(2, 3), cr.tensor([0, 1]), weight=cr.ones(4))


def test_elementwise_weight_of_the_wrong_shape():
    with pytest.raises(ValueError, match=r"mse_loss: weight of shape \(3,\) does not match"):
        F.mse_loss(cr.randn(2, 3), cr.randn(2, 3), weight=cr.ones(3))
    with pytest.raises(ValueError, match=r"binary_cross_entropy_with_logits: pos_weight of shape "
                                         r"\(4,\) does not broadcast"):
        F.binary_cross_entropy_with_logits(cr.randn(2, 3), cr.rand(2, 3), pos_weight=cr.ones(4))


def test_ignore_index_with_probability_targets():
    with pytest.raises(ValueError, match="ignore_index=0 cannot be used with class probability"):
        F.cross_entropy(cr.randn(2, 3), cr.rand(2, 3), ignore_index=0)


@pytest.mark.parametrize("bad", [-0.1, 1.5])
def test_label_smoothing_range(bad):
    with pytest.raises(ValueError, match="label_smoothing must be between 0.0 and 1.0"):
        F.cross_entropy(cr.randn(2, 3), cr.tensor([0, 1]), label_smoothing=bad)


def test_input_must_be_a_float_tensor():
    with pytest.raises(TypeError, match="mse_loss: input must be a Tensor"):
        F.mse_loss([1.0, 2.0], cr.randn(2))
    with pytest.raises(TypeError, match=r"cross_entropy: input must be a floating-point tensor.*"
                                        r"input\.float\(\)"):
        F.cross_entropy(cr.tensor([[1, 2]]), cr.tensor([0]))
    with pytest.raises(ValueError, match="cross_entropy: input must have a class dimension"):
        F.cross_entropy(cr.tensor(1.0), cr.tensor(0))


@pytest.mark.parametrize("q", [0, 1, -0.5, 1.5, "0.5", True, None])
def test_pinball_quantile_must_lie_strictly_between_0_and_1(q):
    with pytest.raises(ValueError, match="pinball_loss: quantile must be a number strictly "
                                         "between 0 and 1"):
        F.pinball_loss(cr.randn(3), cr.randn(3), quantile=q)


def test_huber_delta_and_smooth_l1_beta():
    with pytest.raises(ValueError, match="huber_loss: delta must be positive, got delta=0"):
        F.huber_loss(cr.randn(3), cr.randn(3), delta=0)
    with pytest.raises(ValueError, match="smooth_l1_loss: beta must be non-negative"):
        F.smooth_l1_loss(cr.randn(3), cr.randn(3), beta=-1.0)
