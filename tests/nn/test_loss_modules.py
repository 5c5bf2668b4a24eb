"""The loss modules: same numbers as their functions and as torch.nn, weights as buffers, options
checked when the module is built, and usable in a training loop."""
import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd import gradcheck
from chainrule.nn.functional import loss as F
from chainrule.nn.modules import loss as L
from chainrule.nn.modules.module import Module
from chainrule.nn.parameter import Parameter

REDUCTIONS = ["mean", "sum", "none"]


def rng(seed=0):
    return np.random.default_rng(seed)


def data(kind, seed=0):
    """(input, target) arrays for a loss of *kind*, with the input in float64."""
    g = rng(seed)
    if kind == "regression":
        return g.standard_normal((6, 3)), g.standard_normal((6, 3))
    if kind == "probability":
        return g.uniform(0.05, 0.95, (6, 3)), g.uniform(0, 1, (6, 3))
    if kind == "logits":
        return 3 * g.standard_normal((6, 3)), g.uniform(0, 1, (6, 3))
    if kind == "classes":
        return 2 * g.standard_normal((6, 4)), g.integers(0, 4, 6)
    if kind == "log_probs":
        x = 2 * g.standard_normal((6, 4))
        return x - np.log(np.exp(x).sum(1, keepdims=True)), g.integers(0, 4, 6)
    if kind == "class_probs":
        p = g.uniform(0.1, 1, (6, 4))
        return 2 * g.standard_normal((6, 4)), p / p.sum(1, keepdims=True)
    raise ValueError(kind)


W4 = [0.5, 2.0, 1.0, 1.5]
W3 = [0.5, 2.0, 1.0]

# (module class, kwargs, torch name or None, matching function and its kwargs, data kind)
MODULES = [
    (L.MSELoss, {}, "MSELoss", F.mse_loss, {}, "regression"),
    (L.L1Loss, {}, "L1Loss", F.l1_loss, {}, "regression"),
    (L.HuberLoss, {"delta": 0.5}, "HuberLoss", F.huber_loss, {"delta": 0.5}, "regression"),
    (L.SmoothL1Loss, {"beta": 0.5}, "SmoothL1Loss", F.smooth_l1_loss, {"beta": 0.5}, "regression"),
    (L.BCELoss, {}, "BCELoss", F.binary_cross_entropy, {}, "probability"),
    (L.BCELoss, {"weight": W3}, "BCELoss", F.binary_cross_entropy, {"weight": W3}, "probability"),
    (L.BCEWithLogitsLoss, {}, "BCEWithLogitsLoss", F.binary_cross_entropy_with_logits, {},
     "logits"),
    (L.BCEWithLogitsLoss, {"weight": W3, "pos_weight": [3.0, 0.5, 1.0]}, "BCEWithLogitsLoss",
     F.binary_cross_entropy_with_logits, {"weight": W3, "pos_weight": [3.0, 0.5, 1.0]}, "logits"),
    (L.CrossEntropyLoss, {}, "CrossEntropyLoss", F.cross_entropy, {}, "classes"),
    (L.CrossEntropyLoss, {"weight": W4, "ignore_index": 2, "label_smoothing": 0.2},
     "CrossEntropyLoss", F.cross_entropy,
     {"weight": W4, "ignore_index": 2, "label_smoothing": 0.2}, "classes"),
    (L.CrossEntropyLoss, {"label_smoothing": 0.1}, "CrossEntropyLoss", F.cross_entropy,
     {"label_smoothing": 0.1}, "class_probs"),
    (L.NLLLoss, {}, "NLLLoss", F.nll_loss, {}, "log_probs"),
    (L.NLLLoss, {"weight": W4, "ignore_index": 1}, "NLLLoss", F.nll_loss,
     {"weight": W4, "ignore_index": 1}, "log_probs"),
    (L.PinballLoss, {"quantile": 0.2}, None, F.pinball_loss, {"quantile": 0.2}, "regression"),
    (L.PinballLoss, {}, None, F.pinball_loss, {}, "regression"),
]
IDS = [f"{m[0].__name__}-{'-'.join(m[1]) or 'default'}-{m[5]}" for m in MODULES]


def tensors(kw):
    return {k: cr.tensor(v, dtype=cr.float64) if isinstance(v, list) else v for k, v in kw.items()}


@pytest.mark.parametrize("red", REDUCTIONS)
@pytest.mark.parametrize("cls,kw,tname,fn,fkw,kind", MODULES, ids=IDS)
def test_module_equals_its_function(cls, kw, tname, fn, fkw, kind, red):
    x, t = data(kind)
    module = cls(**tensors(kw), reduction=red)
    assert isinstance(module, Module)
    out = module(cr.tensor(x), cr.tensor(t))
    ref = fn(cr.tensor(x), cr.tensor(t), reduction=red, **tensors(fkw))
    np.testing.assert_array_equal(out.numpy(), ref.numpy())


@pytest.mark.parametrize("red", REDUCTIONS)
@pytest.mark.parametrize("cls,kw,tname,fn,fkw,kind", [m for m in MODULES if m[2]],
                         ids=[i for i, m in zip(IDS, MODULES) if m[2]])
def test_module_matches_torch(cls, kw, tname, fn, fkw, kind, red):
    torch = pytest.importorskip("torch")
    x, t = data(kind, seed=3)
    tkw = {k: torch.tensor(v, dtype=torch.float64) if isinstance(v, list) else v
           for k, v in kw.items()}
    ours = cr.tensor(x, requires_grad=True)
    theirs = torch.tensor(x, requires_grad=True)
    out = cls(**tensors(kw), reduction=red)(ours, cr.tensor(t))
    ref = getattr(torch.nn, tname)(**tkw, reduction=red)(theirs, torch.tensor(t))
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-10, atol=1e-13)
    v = rng(1).standard_normal(out.shape)
    out.backward(cr.tensor(v))
    ref.backward(torch.tensor(v))
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-9, atol=1e-13)


@pytest.mark.parametrize("cls,kw,tname,fn,fkw,kind", MODULES, ids=IDS)
def test_module_gradcheck(cls, kw, tname, fn, fkw, kind):
    x, t = data(kind, seed=5)
    if kind == "regression":     # keep the error away from the kinks at 0 and at delta/beta
        d = x - t
        d = np.where(np.abs(d) < 0.05, 0.3, d)
        d = np.where(np.abs(np.abs(d) - 0.5) < 0.05, d * 1.3, d)
        t = x - d
    module = cls(**tensors(kw))
    assert gradcheck(lambda a: module(a, cr.tensor(t)), (cr.tensor(x, requires_grad=True),))


def test_pinball_loss_formula_at_several_quantiles():
    g = rng(7)
    x, t = g.standard_normal(50), g.standard_normal(50)
    for q in [0.01, 0.1, 0.3, 0.5, 0.7, 0.9, 0.99]:
        u = t - x
        want = np.maximum(q * u, (q - 1) * u)
        module = L.PinballLoss(quantile=q)
        np.testing.assert_allclose(module(cr.tensor(x), cr.tensor(t)).item(), want.mean(),
                                   rtol=1e-12)
        np.testing.assert_allclose(L.PinballLoss(q, reduction="none")(cr.tensor(x), cr.tensor(t))
                                   .numpy(), want, rtol=1e-12)


# ---- weights are buffers -------------------------------------------------------------------
@pytest.mark.parametrize("cls", [L.CrossEntropyLoss, L.NLLLoss, L.BCELoss, L.BCEWithLogitsLoss])
def test_weight_is_a_buffer(cls):
    w = cr.tensor([1.0, 2.0, 3.0])
    module = cls(weight=w)
    assert module.weight is w
    buffers = list(module.buffers())
    assert buffers[0] is w and all(b is not w for b in buffers[1:])
    assert list(module.parameters()) == []
    assert "weight" in module.state_dict()
    assert "weight" not in cls().state_dict()        # a None buffer is not saved, as in torch
    assert cls().weight is None


def test_pos_weight_is_a_buffer():
    module = L.BCEWithLogitsLoss(pos_weight=cr.tensor([3.0]))
    assert set(module.state_dict()) == {"pos_weight"}
    np.testing.assert_array_equal(module.pos_weight.numpy(), [3.0])


def test_weight_given_as_a_list_becomes_a_float_tensor():
    module = L.CrossEntropyLoss(weight=[1, 2, 3])
    assert isinstance(module.weight, cr.Tensor) and module.weight.dtype == cr.float32


def test_weight_buffer_follows_the_module():
    module = L.CrossEntropyLoss(weight=cr.tensor([1.0, 2.0, 3.0]))
    module.double()
    assert module.weight.dtype == cr.float64
    module.load_state_dict({"weight": cr.tensor([3.0, 2.0, 1.0], dtype=cr.float64)})
    x = cr.randn(4, 3, dtype=cr.float64)
    y = cr.tensor([0, 1, 2, 0])
    np.testing.assert_allclose(module(x, y).item(),
                               F.cross_entropy(x, y, weight=cr.tensor([3.0, 2.0, 1.0])).item())


def test_float64_weight_on_float32_input_gives_float32_loss():
    module = L.CrossEntropyLoss(weight=cr.tensor([1.0, 2.0, 3.0], dtype=cr.float64))
    assert module(cr.randn(4, 3), cr.tensor([0, 1, 2, 0])).dtype == cr.float32


def test_reduction_can_be_changed_after_construction():
    module = L.MSELoss()
    x, t = cr.tensor([1.0, 2.0]), cr.tensor([0.0, 0.0])
    assert module(x, t).item() == 2.5
    module.reduction = "sum"
    assert module(x, t).item() == 5.0


def test_legacy_flags_set_the_reduction():
    with pytest.warns(UserWarning, match="reduction='sum'"):
        assert L.CrossEntropyLoss(size_average=False).reduction == "sum"
    with pytest.warns(UserWarning, match="reduction='none'"):
        assert L.MSELoss(reduce=False).reduction == "none"


def test_positional_arguments_follow_torch():
    module = L.CrossEntropyLoss(None, None, 3, None, "sum", 0.1)
    assert (module.ignore_index, module.reduction, module.label_smoothing) == (3, "sum", 0.1)
    module = L.HuberLoss("sum", 2.0)
    assert (module.reduction, module.delta) == ("sum", 2.0)
    module = L.PinballLoss(0.9, "none")
    assert (module.quantile, module.reduction) == (0.9, "none")


def test_repr():
    assert repr(L.MSELoss()) == "MSELoss()"
    assert repr(L.PinballLoss(0.9)) == "PinballLoss(quantile=0.9)"
    assert repr(L.CrossEntropyLoss(label_smoothing=0.1, reduction="sum")) == \
        "CrossEntropyLoss(reduction='sum', label_smoothing=0.1)"
    assert repr(L.HuberLoss(delta=2)) == "HuberLoss(delta=2.0)"


# ---- options are checked when the module is built ----------------------------------------------
@pytest.mark.parametrize("q", [0, 1, 0.0, 1.0, -0.2, 1.2, "0.5", None, True, float("nan")])
def test_pinball_quantile_must_be_in_the_open_unit_interval(q):
    with pytest.raises(ValueError, match=r"PinballLoss: quantile must be a number strictly "
                                         r"between 0 and 1, got quantile="):
        L.PinballLoss(quantile=q)


@pytest.mark.parametrize("cls", [L.MSELoss, L.L1Loss, L.HuberLoss, L.SmoothL1Loss, L.BCELoss,
                                 L.BCEWithLogitsLoss, L.CrossEntropyLoss, L.NLLLoss,
                                 L.PinballLoss])
def test_reduction_is_checked_with_a_did_you_mean(cls):
    with pytest.raises(ValueError, match=cls.__name__ + r": reduction must be one of 'mean', "
                                                        r"'sum' or 'none', got 'Mean'; did you "
                                                        r"mean 'mean'\?"):
        cls(reduction="Mean")
    with pytest.raises(ValueError, match="did you mean 'none'"):
        cls(reduction="non")


def test_other_options_are_checked():
    with pytest.raises(ValueError, match="HuberLoss: delta must be a positive number, got delta=0"):
        L.HuberLoss(delta=0)
    with pytest.raises(ValueError, match="SmoothL1Loss: beta must be a non-negative number"):
        L.SmoothL1Loss(beta=-0.5)
    with pytest.raises(ValueError, match=r"CrossEntropyLoss: label_smoothing must be a number in "
                                         r"\[0, 1\], got label_smoothing=1.5"):
        L.CrossEntropyLoss(label_smoothing=1.5)
    with pytest.raises(TypeError, match="CrossEntropyLoss: ignore_index must be an int, got 1.0"):
        L.CrossEntropyLoss(ignore_index=1.0)
    with pytest.raises(ValueError, match=r"NLLLoss: weight must be a 1-D tensor with one value "
                                         r"per class, got shape \(2, 2\)"):
        L.NLLLoss(weight=cr.ones(2, 2))
    with pytest.raises(TypeError, match="BCELoss: weight must be a tensor of numbers"):
        L.BCELoss(weight=cr.tensor([True, False]))


def test_module_errors_come_from_the_function():
    with pytest.raises(ValueError, match=r"mse_loss: input has shape \(4, 1\).*target\.view"):
        L.MSELoss()(cr.randn(4, 1), cr.randn(4))
    with pytest.raises(IndexError, match=r"class index 5 at target\[0\]"):
        L.CrossEntropyLoss()(cr.randn(2, 3), cr.tensor([5, 0]))


# ---- in a training loop ------------------------------------------------------------------------
def test_logistic_regression_learns_with_bce_with_logits():
    g = rng(0)
    x = cr.tensor(g.standard_normal((200, 2)))
    y = cr.tensor((x.numpy() @ np.array([2.0, -1.0]) > 0).astype(np.float32))
    w = Parameter(cr.zeros(2))
    b = Parameter(cr.zeros(()))
    criterion = L.BCEWithLogitsLoss(pos_weight=cr.tensor(1.0))
    losses = []
    for _ in range(100):
        loss = criterion(x @ w + b, y)
        w.grad = b.grad = None
        loss.backward()
        with cr.no_grad():
            w -= 0.5 * w.grad
            b -= 0.5 * b.grad
        losses.append(loss.item())
    assert losses[-1] < 0.25 * losses[0]
    assert np.mean(((x @ w + b).detach().numpy() > 0) == y.numpy()) > 0.97


def test_softmax_regression_learns_with_cross_entropy():
    g = rng(1)
    centers = np.array([[2.0, 0.0], [-2.0, 0.0], [0.0, 2.5]])
    labels = g.integers(0, 3, 300)
    x = cr.tensor(centers[labels] + 0.5 * g.standard_normal((300, 2)))
    y = cr.tensor(labels)
    w = Parameter(cr.zeros(2, 3))
    criterion = L.CrossEntropyLoss(label_smoothing=0.05)
    for _ in range(60):
        loss = criterion(x @ w, y)
        w.grad = None
        loss.backward()
        with cr.no_grad():
            w -= 0.5 * w.grad
    accuracy = np.mean((x @ w).detach().numpy().argmax(1) == labels)
    assert accuracy > 0.95


@pytest.mark.parametrize("q", [0.1, 0.5, 0.9])
def test_pinball_loss_fits_the_quantile(q):
    t = cr.tensor(rng(2).exponential(size=500))
    c = Parameter(cr.zeros(()))
    criterion = L.PinballLoss(quantile=q)
    for step in range(3000):
        loss = criterion(c.expand(500), t)
        c.grad = None
        loss.backward()
        with cr.no_grad():
            c -= 0.02 * c.grad
    assert abs(c.item() - np.quantile(t.numpy(), q)) < 0.03
