"""The catalogue's losses (F. forms and modules) against PyTorch: values and gradients (input,
and target or variance where they are differentiable) in float64 and float32, each reduction,
the hinges and edges PyTorch's way; gradcheck and gradgradcheck in float64; argument errors."""
import warnings

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn
from chainrule.autograd import gradcheck, gradgradcheck

RNG = np.random.default_rng(0)
N, C = 6, 4
X = RNG.normal(size=(N, C))
X2 = RNG.normal(size=(N, C))
X3 = RNG.normal(size=(N, C))
LOGP = X - np.log(np.exp(X).sum(1, keepdims=True))
P = RNG.dirichlet(np.ones(C), size=N)
P[0, 1] = 0.0                                             # a zero target probability
COUNTS = RNG.poisson(2.0, size=(N, C)).astype(float)
SIGNS = np.where(RNG.random(N) < 0.5, -1.0, 1.0)
SIGNS4 = np.where(RNG.random((N, C)) < 0.5, -1.0, 1.0)
LABELS01 = (RNG.random((N, C)) < 0.5).astype(float)
CLASSES = RNG.integers(0, C, size=N)
VAR = RNG.uniform(0.1, 2.0, size=(N, C))
VAR[0, 0] = 1e-8                                          # clamped to eps


def f64(a, grad=True):
    return cr.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


# (id, our call, torch call (same signature), arrays, indices of the inputs to differentiate)
def _cases():
    import torch.nn.functional as TF     # noqa: F401 - only the names are needed below

    return [
        ("kl_div.batchmean", lambda a, t: F.kl_div(a, t, reduction="batchmean"),
         lambda a, t: TF.kl_div(a, t, reduction="batchmean"), [LOGP, P], [0]),
        ("kl_div.sum.target_grad", lambda a, t: F.kl_div(a, t, reduction="sum"),
         lambda a, t: TF.kl_div(a, t, reduction="sum"), [LOGP, P + 0.01], [0, 1]),
        ("kl_div.log_target", lambda a, t: F.kl_div(a, t, reduction="none", log_target=True),
         lambda a, t: TF.kl_div(a, t, reduction="none", log_target=True), [LOGP, np.log(P + .1)],
         [0, 1]),
        ("kl_div.broadcast", lambda a, t: F.kl_div(a, t, reduction="sum"),
         lambda a, t: TF.kl_div(a, t, reduction="sum"), [LOGP, P[0]], [0]),
        ("poisson_nll", F.poisson_nll_loss, TF.poisson_nll_loss, [X, COUNTS], [0, 1]),
        ("poisson_nll.full", lambda a, t: F.poisson_nll_loss(a, t, full=True, reduction="none"),
         lambda a, t: TF.poisson_nll_loss(a, t, full=True, reduction="none"), [X, COUNTS], [0]),
        ("poisson_nll.rates", lambda a, t: F.poisson_nll_loss(a, t, log_input=False,
                                                               reduction="sum"),
         lambda a, t: TF.poisson_nll_loss(a, t, log_input=False, reduction="sum"),
         [np.exp(X), COUNTS], [0]),
        ("gaussian_nll", F.gaussian_nll_loss, TF.gaussian_nll_loss, [X, X2, VAR], [0, 1, 2]),
        ("gaussian_nll.full_none", lambda a, t, v: F.gaussian_nll_loss(a, t, v, full=True,
                                                                       reduction="none"),
         lambda a, t, v: TF.gaussian_nll_loss(a, t, v, full=True, reduction="none"),
         [X, X2, VAR], [0, 2]),
        ("gaussian_nll.homoscedastic", lambda a, t, v: F.gaussian_nll_loss(a, t, v, eps=0.2),
         lambda a, t, v: TF.gaussian_nll_loss(a, t, v, eps=0.2), [X, X2, VAR[:, 0]], [0, 2]),
        ("gaussian_nll.unit_dim", lambda a, t, v: F.gaussian_nll_loss(a, t, v, reduction="sum"),
         lambda a, t, v: TF.gaussian_nll_loss(a, t, v, reduction="sum"),
         [X, X2, VAR[:, :1]], [0, 2]),
        ("margin_ranking", lambda a, b, y: F.margin_ranking_loss(a, b, y, margin=0.3),
         lambda a, b, y: TF.margin_ranking_loss(a, b, y, margin=0.3), [X[:, 0], X2[:, 0], SIGNS],
         [0, 1]),
        ("margin_ranking.tie", lambda a, b, y: F.margin_ranking_loss(a, b, y, reduction="none"),
         lambda a, b, y: TF.margin_ranking_loss(a, b, y, reduction="none"),
         [X[:, 0], X[:, 0], SIGNS], [0, 1]),
        ("hinge_embedding", lambda a, y: F.hinge_embedding_loss(a, y, margin=0.5),
         lambda a, y: TF.hinge_embedding_loss(a, y, margin=0.5), [np.abs(X), SIGNS4], [0]),
        ("hinge_embedding.other_targets", lambda a, y: F.hinge_embedding_loss(a, y,
                                                                              reduction="none"),
         lambda a, y: TF.hinge_embedding_loss(a, y, reduction="none"),
         [np.array([0.0, 1.0, 2.0, 0.5]), np.array([0.0, 1.0, -1.0, 2.0])], [0]),
        ("cosine_embedding", lambda a, b, y: F.cosine_embedding_loss(a, b, y, margin=0.1),
         lambda a, b, y: TF.cosine_embedding_loss(a, b, y, margin=0.1), [X, X2, SIGNS], [0, 1]),
        ("cosine_embedding.1d", lambda a, b, y: F.cosine_embedding_loss(a, b, y),
         lambda a, b, y: TF.cosine_embedding_loss(a, b, y), [X[0], X2[0], np.array(-1.0)],
         [0, 1]),
        ("triplet", F.triplet_margin_loss, TF.triplet_margin_loss, [X, X2, X3], [0, 1, 2]),
        ("triplet.swap_p1", lambda a, p, n: F.triplet_margin_loss(a, p, n, margin=2.0, p=1,
                                                                  swap=True, reduction="none"),
         lambda a, p, n: TF.triplet_margin_loss(a, p, n, margin=2.0, p=1, swap=True,
                                                reduction="none"), [X, X2, X3], [0, 1, 2]),
        ("soft_margin", F.soft_margin_loss, TF.soft_margin_loss, [X, SIGNS4], [0]),
        ("soft_margin.none", lambda a, y: F.soft_margin_loss(a, y, reduction="none"),
         lambda a, y: TF.soft_margin_loss(a, y, reduction="none"), [X * 30, SIGNS4], [0]),
        ("multilabel_soft_margin", F.multilabel_soft_margin_loss, TF.multilabel_soft_margin_loss,
         [X, LABELS01], [0]),
        ("multilabel_soft_margin.weight_none",
         lambda a, y: F.multilabel_soft_margin_loss(a, y, weight=cr.tensor(VAR[0]).to(a.dtype),
                                                    reduction="none"),
         lambda a, y: TF.multilabel_soft_margin_loss(a, y, weight=__import__("torch").tensor(
             VAR[0]).to(a.dtype), reduction="none"), [X, LABELS01], [0]),
        ("multi_margin", F.multi_margin_loss, TF.multi_margin_loss, [X, CLASSES], [0]),
        ("multi_margin.p2_weight", lambda a, y: F.multi_margin_loss(
            a, y, p=2, margin=0.7, weight=cr.tensor(VAR[1]).to(a.dtype), reduction="none"),
         lambda a, y: TF.multi_margin_loss(a, y, p=2, margin=0.7,
                                           weight=__import__("torch").tensor(VAR[1]).to(a.dtype),
                                           reduction="none"), [X, CLASSES], [0]),
        ("multi_margin.1d", lambda a, y: F.multi_margin_loss(a, y, reduction="sum"),
         lambda a, y: TF.multi_margin_loss(a, y, reduction="sum"), [X[0], np.array(2)], [0]),
        ("multi_margin.hinge_at_zero", lambda a, y: F.multi_margin_loss(a, y),
         lambda a, y: TF.multi_margin_loss(a, y), [np.array([[0.0, 1.0, 0.0]]), np.array([1])],
         [0]),
    ]


def _case_ids():
    return ["kl_div.batchmean", "kl_div.sum.target_grad", "kl_div.log_target",
            "kl_div.broadcast", "poisson_nll", "poisson_nll.full", "poisson_nll.rates",
            "gaussian_nll", "gaussian_nll.full_none", "gaussian_nll.homoscedastic",
            "gaussian_nll.unit_dim", "margin_ranking", "margin_ranking.tie", "hinge_embedding",
            "hinge_embedding.other_targets", "cosine_embedding", "cosine_embedding.1d", "triplet",
            "triplet.swap_p1", "soft_margin", "soft_margin.none", "multilabel_soft_margin",
            "multilabel_soft_margin.weight_none", "multi_margin", "multi_margin.p2_weight",
            "multi_margin.1d", "multi_margin.hinge_at_zero"]


def _case(name):
    pytest.importorskip("torch")
    return next(c for c in _cases() if c[0] == name)


@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides")
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", _case_ids())
def test_loss_matches_torch(torch_parity, name, dtype):
    _, ours, theirs, arrays, grads = _case(name)
    torch_parity(ours, theirs, arrays, grads=grads, dtype=dtype)


KINKED = ("margin_ranking.tie", "multi_margin.hinge_at_zero")   # finite differences straddle a kink


@pytest.mark.parametrize("name", [n for n in _case_ids() if n not in KINKED])
def test_loss_gradcheck_and_second_order(name):
    _, ours, _, arrays, grads = _case(name)
    if name.startswith("gaussian"):     # keep the variance above eps: PyTorch's clamp passes the
        arrays = arrays[:2] + [np.maximum(arrays[2], 0.25)]   # gradient through where it acts
    xs = [f64(a + (0.013 * (i + 1) if i in grads else 0), i in grads)
          if np.asarray(a).dtype.kind == "f" else cr.tensor(a) for i, a in enumerate(arrays)]
    assert gradcheck(ours, xs)
    assert gradgradcheck(ours, xs)


MODULES = [
    ("KLDivLoss", dict(reduction="batchmean"), [LOGP, P]),
    ("KLDivLoss", dict(reduction="sum", log_target=True), [LOGP, LOGP[::-1].copy()]),
    ("PoissonNLLLoss", dict(full=True, eps=1e-6), [X, COUNTS]),
    ("GaussianNLLLoss", dict(full=True, eps=1e-3, reduction="sum"), [X, X2, VAR]),
    ("MarginRankingLoss", dict(margin=0.2), [X[:, 1], X2[:, 1], SIGNS]),
    ("HingeEmbeddingLoss", dict(margin=2.0, reduction="none"), [np.abs(X), SIGNS4]),
    ("CosineEmbeddingLoss", dict(margin=-0.2), [X, X2, SIGNS]),
    ("TripletMarginLoss", dict(margin=0.5, p=3.0, swap=True), [X, X2, X3]),
    ("SoftMarginLoss", dict(reduction="sum"), [X, SIGNS4]),
    ("MultiLabelSoftMarginLoss", {}, [X, LABELS01]),
    ("MultiMarginLoss", dict(p=2, margin=0.5), [X, CLASSES]),
]


@pytest.mark.parametrize("name, kwargs, arrays", MODULES, ids=[m[0] for m in MODULES])
def test_loss_modules_match_torch(torch_parity, name, kwargs, arrays):
    torch = pytest.importorskip("torch")
    m, tm = getattr(nn, name)(**kwargs), getattr(torch.nn, name)(**kwargs)
    assert isinstance(m, nn.Module)
    torch_parity(m, tm, arrays, grads=[0])
    assert m.reduction == tm.reduction


def test_weighted_loss_modules_hold_their_weight_as_a_buffer():
    torch = pytest.importorskip("torch")
    w = VAR[2]
    for name in ("MultiLabelSoftMarginLoss", "MultiMarginLoss"):
        m = getattr(nn, name)(weight=cr.tensor(w))
        tm = getattr(torch.nn, name)(weight=torch.tensor(w))
        assert list(m.state_dict()) == list(tm.state_dict()) == ["weight"]
        arrays = [X, LABELS01 if name.startswith("MultiLabel") else CLASSES]
        xo, xt = f64(arrays[0]), torch.tensor(arrays[0])
        y, ref = m(xo, cr.tensor(arrays[1])), tm(xt, torch.tensor(arrays[1]))
        np.testing.assert_allclose(float(y), ref.item(), rtol=1e-12)


def test_kl_div_mean_warns_like_torch_and_legacy_flags_work():
    torch = pytest.importorskip("torch")
    with pytest.warns(UserWarning, match="'batchmean' divides only by the batch size"):
        y = F.kl_div(f64(LOGP), cr.tensor(P))
    with pytest.warns(UserWarning):
        ref = torch.nn.functional.kl_div(torch.tensor(LOGP), torch.tensor(P))
    np.testing.assert_allclose(float(y), float(ref), rtol=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        F.kl_div(f64(LOGP), cr.tensor(P), reduction="batchmean")
    with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated"):
        s = F.kl_div(f64(LOGP), cr.tensor(P), size_average=False)
    np.testing.assert_allclose(float(s), float(F.kl_div(f64(LOGP), cr.tensor(P),
                                                        reduction="sum")), rtol=1e-15)


def test_soft_margin_is_finite_where_torch_overflows():
    y = F.soft_margin_loss(f64([-800.0, 800.0]), cr.tensor([1.0, -1.0]), reduction="none")
    assert y.tolist() == [800.0, 800.0]


def test_loss_errors_name_the_problem():
    x = f64(X)
    with pytest.raises(ValueError, match="reduction must be one of"):
        F.kl_div(x, cr.tensor(P), reduction="batch")
    with pytest.raises(ValueError, match="reduction must be one of"):
        F.poisson_nll_loss(x, cr.tensor(COUNTS), reduction="batchmean")
    with pytest.raises(ValueError, match="var has negative entry"):
        F.gaussian_nll_loss(x, cr.tensor(X2), cr.tensor(-VAR))
    with pytest.raises(ValueError, match="var is of incorrect size"):
        F.gaussian_nll_loss(x, cr.tensor(X2), cr.tensor(VAR[:2]))
    with pytest.raises((RuntimeError, ValueError), match="All input tensors should have same "
                                                         "dimension"):
        F.margin_ranking_loss(x[:, 0], x[:, 1], cr.tensor(1.0))
    with pytest.raises(ValueError, match="margin must be greater than 0"):
        F.triplet_margin_loss(x, x, x, margin=0.0)
    with pytest.raises(ValueError, match="margin to be greater than 0"):
        nn.TripletMarginLoss(margin=-1.0)
    with pytest.raises((RuntimeError, ValueError), match="same number of dimensions"):
        F.triplet_margin_loss(x, x[0], x)
    with pytest.raises(ValueError, match="1D target tensor expects 2D input tensors"):
        F.cosine_embedding_loss(x[0], x[1], cr.tensor(SIGNS))
    with pytest.raises(ValueError, match="only p == 1 and p == 2 supported"):
        F.multi_margin_loss(x, cr.tensor(CLASSES), p=3)
    with pytest.raises(ValueError, match="only p == 1 and p == 2 supported"):
        nn.MultiMarginLoss(p=3)
    with pytest.raises(IndexError, match="target out of range"):
        F.multi_margin_loss(x, cr.tensor(CLASSES + C))
    with pytest.raises(ValueError, match="inconsistent target size, expected 6"):
        F.multi_margin_loss(x, cr.tensor(CLASSES[:3]))
    with pytest.raises(ValueError, match="inconsistent weight size, expected 4"):
        F.multi_margin_loss(x, cr.tensor(CLASSES), weight=cr.ones(3))
    with pytest.raises(TypeError, match="floating-point"):
        F.soft_margin_loss(cr.tensor([1, 2]), cr.tensor([1, -1]))
