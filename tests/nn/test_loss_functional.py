"""The functional losses: gradients checked against finite differences (first and second order),
values and input gradients checked against PyTorch for every option, and the reductions."""
import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd import gradcheck, gradgradcheck
from chainrule.nn.functional import loss as F

REDUCTIONS = ["mean", "sum", "none"]
SHAPES = [(5,), (3, 4), (2, 3, 2)]


def rng(seed=0):
    return np.random.default_rng(seed)


def t64(a, grad=True):
    return cr.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


def away_from_kinks(d, kinks, gap=0.05):
    """Offsets *d* kept *gap* away from 0 and from every kink (finite differences jump there)."""
    d = np.where(np.abs(d) < gap, np.sign(d + 1e-12) * gap * 2, d)
    for k in kinks:
        d = np.where(np.abs(np.abs(d) - k) < gap, d + np.sign(d) * 2 * gap, d)
    return d


def regression_pair(shape, kinks=(), seed=0):
    g = rng(seed)
    x = g.standard_normal(shape)
    d = away_from_kinks(g.uniform(-3, 3, shape), kinks)
    return x, x - d


# ---- the table of cases: (id, loss function, arrays, which get gradients, kwargs) ---------------
def _regression_cases():
    cases = []
    losses = [("mse", F.mse_loss, {}, ()),
              ("l1", F.l1_loss, {}, ()),
              ("huber", F.huber_loss, {"delta": 1.0}, (1.0,)),
              ("huber_d0.4", F.huber_loss, {"delta": 0.4}, (0.4,)),
              ("huber_d2", F.huber_loss, {"delta": 2.0}, (2.0,)),
              ("smooth_l1", F.smooth_l1_loss, {}, (1.0,)),
              ("smooth_l1_b0.5", F.smooth_l1_loss, {"beta": 0.5}, (0.5,)),
              ("smooth_l1_b0", F.smooth_l1_loss, {"beta": 0.0}, ()),
              ("pinball_q0.1", F.pinball_loss, {"quantile": 0.1}, ()),
              ("pinball_q0.5", F.pinball_loss, {"quantile": 0.5}, ()),
              ("pinball_q0.9", F.pinball_loss, {"quantile": 0.9}, ())]
    for name, fn, kw, kinks in losses:
        for shape in SHAPES:
            for red in REDUCTIONS:
                x, t = regression_pair(shape, kinks, seed=len(shape))
                cases.append((f"{name}-{shape}-{red}", fn, [x, t], (True, True),
                              dict(kw, reduction=red)))
    for name, fn in [("mse_w", F.mse_loss), ("l1_w", F.l1_loss), ("huber_w", F.huber_loss)]:
        for red in REDUCTIONS:
            x, t = regression_pair((3, 4), (1.0,), seed=7)
            w = rng(8).uniform(0.1, 2, (3, 4))
            cases.append((f"{name}-{red}", fn, [x, t], (True, True),
                          dict(reduction=red, weight=cr.tensor(w))))
    return cases


def _bce_cases():
    cases = []
    for shape in SHAPES:
        for red in REDUCTIONS:
            g = rng(len(shape))
            p = g.uniform(0.05, 0.95, shape)
            y = g.uniform(0, 1, shape)
            cases.append((f"bce-{shape}-{red}", F.binary_cross_entropy, [p, y], (True, True),
                          dict(reduction=red)))
            w = g.uniform(0.2, 2, shape[-1:])
            cases.append((f"bce_w-{shape}-{red}", F.binary_cross_entropy, [p, y], (True, False),
                          dict(reduction=red, weight=cr.tensor(w))))
            x = 3 * g.standard_normal(shape)
            cases.append((f"bcel-{shape}-{red}", F.binary_cross_entropy_with_logits, [x, y],
                          (True, True), dict(reduction=red)))
            pw = g.uniform(0.5, 4, shape[-1:])
            cases.append((f"bcel_pw-{shape}-{red}", F.binary_cross_entropy_with_logits, [x, y],
                          (True, True), dict(reduction=red, pos_weight=cr.tensor(pw))))
            cases.append((f"bcel_w_pw-{shape}-{red}", F.binary_cross_entropy_with_logits,
                          [x, y], (True, True), dict(reduction=red, weight=cr.tensor(w),
                                                     pos_weight=cr.tensor(pw))))
    return cases


CE_SHAPES = [(4,), (5, 4), (3, 4, 2), (2, 3, 2, 2)]


def class_targets(shape, seed=0, ignore=False):
    """Integer targets for an input of *shape* (C,) / (N, C, *S), some set to -100 if *ignore*."""
    g = rng(seed)
    c = shape[0] if len(shape) == 1 else shape[1]
    tshape = () if len(shape) == 1 else (shape[0],) + shape[2:]
    y = g.integers(0, c, tshape)
    if ignore and y.ndim:
        y.reshape(-1)[:: 3] = -100
    return cr.tensor(y)


def prob_targets(shape, seed=0):
    g = rng(seed)
    e = g.uniform(0.1, 1, shape)
    axis = 0 if len(shape) == 1 else 1
    return e / e.sum(axis=axis, keepdims=True)


def _ce_cases():
    cases = []
    for shape in CE_SHAPES:
        c = shape[0] if len(shape) == 1 else shape[1]
        w = cr.tensor(rng(5).uniform(0.2, 2, c))
        x = 2 * rng(len(shape)).standard_normal(shape)
        for red in REDUCTIONS:
            for opts in [{}, {"weight": w}, {"ignore": True}, {"label_smoothing": 0.2},
                         {"weight": w, "ignore": True},
                         {"weight": w, "ignore": True, "label_smoothing": 0.3}]:
                kw = {k: v for k, v in opts.items() if k != "ignore"}
                y = class_targets(shape, seed=len(shape), ignore=opts.get("ignore", False))
                tag = "-".join(sorted(opts)) or "plain"
                cases.append((f"ce-{shape}-{red}-{tag}", F.cross_entropy, [x, y], (True, False),
                              dict(kw, reduction=red)))
                if "label_smoothing" not in kw:
                    cases.append((f"nll-{shape}-{red}-{tag}", F.nll_loss, [x, y], (True, False),
                                  dict(kw, reduction=red)))
            for opts in [{}, {"weight": w}, {"label_smoothing": 0.25},
                         {"weight": w, "label_smoothing": 0.1}]:
                tag = "-".join(sorted(opts)) or "plain"
                cases.append((f"ce_probs-{shape}-{red}-{tag}", F.cross_entropy,
                              [x, prob_targets(shape, seed=3)], (True, True),
                              dict(opts, reduction=red)))
    return cases


CASES = _regression_cases() + _bce_cases() + _ce_cases()


def build(arrays, grads):
    out = []
    for a, g in zip(arrays, grads):
        if isinstance(a, cr.Tensor):
            out.append(a)
        else:
            out.append(t64(a, g))
    return out


@pytest.mark.parametrize("name,fn,arrays,grads,kw", CASES, ids=[c[0] for c in CASES])
def test_gradcheck(name, fn, arrays, grads, kw):
    inputs = build(arrays, grads)
    assert gradcheck(lambda *a: fn(*a, **kw), inputs)


SECOND_ORDER = [c for c in CASES if c[0] in {
    "mse-(3, 4)-mean", "huber_d0.4-(3, 4)-sum", "smooth_l1_b0.5-(2, 3, 2)-none",
    "pinball_q0.9-(3, 4)-mean", "mse_w-mean",
    "bce-(3, 4)-mean", "bce_w-(2, 3, 2)-none", "bcel-(3, 4)-sum", "bcel_w_pw-(3, 4)-mean",
    "ce-(5, 4)-mean-plain", "ce-(5, 4)-none-ignore-label_smoothing-weight",
    "ce-(3, 4, 2)-mean-ignore-label_smoothing-weight", "ce-(4,)-sum-label_smoothing",
    "ce_probs-(5, 4)-mean-label_smoothing-weight", "ce_probs-(3, 4, 2)-none-plain",
    "nll-(5, 4)-mean-ignore-weight", "nll-(3, 4, 2)-none-plain"}]


def test_second_order_table_is_complete():
    assert len(SECOND_ORDER) == 17


@pytest.mark.parametrize("name,fn,arrays,grads,kw", SECOND_ORDER, ids=[c[0] for c in SECOND_ORDER])
def test_gradgradcheck(name, fn, arrays, grads, kw):
    inputs = build(arrays, grads)
    assert gradgradcheck(lambda *a: fn(*a, **kw), inputs)


@pytest.mark.parametrize("name,fn,arrays,grads,kw", CASES, ids=[c[0] for c in CASES])
def test_create_graph_gives_the_same_gradient(name, fn, arrays, grads, kw):
    """Each loss has one backward rule: run on arrays (first order) and recorded with tensor ops
    (create_graph) it gives the same gradient."""
    inputs = build(arrays, grads)
    diff = [t for t in inputs if t.requires_grad]
    out = fn(*inputs, **kw)
    v = cr.tensor(rng(1).standard_normal(out.shape))
    fast = cr.autograd.grad(out, diff, grad_outputs=v, retain_graph=True)
    slow = cr.autograd.grad(out, diff, grad_outputs=v, create_graph=True)
    for a, b in zip(fast, slow):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-12, atol=1e-14)


# ---- parity with PyTorch: values and gradients ------------------------------------------------
def _torch_kwargs(torch, kw):
    out = {}
    for k, v in kw.items():
        out[k] = torch.tensor(v.numpy()) if isinstance(v, cr.Tensor) else v
    return out


TORCH_NAMES = {F.mse_loss: "mse_loss", F.l1_loss: "l1_loss", F.huber_loss: "huber_loss",
               F.smooth_l1_loss: "smooth_l1_loss", F.binary_cross_entropy: "binary_cross_entropy",
               F.binary_cross_entropy_with_logits: "binary_cross_entropy_with_logits",
               F.cross_entropy: "cross_entropy", F.nll_loss: "nll_loss"}
TORCH_CASES = [c for c in CASES if c[1] in TORCH_NAMES]


@pytest.mark.parametrize("name,fn,arrays,grads,kw", TORCH_CASES, ids=[c[0] for c in TORCH_CASES])
def test_matches_torch(name, fn, arrays, grads, kw):
    torch = pytest.importorskip("torch")
    tfn = getattr(torch.nn.functional, TORCH_NAMES[fn])
    ours = build(arrays, grads)
    theirs = [torch.tensor(t.numpy() if not t.requires_grad else t.detach().numpy(),
                           requires_grad=t.requires_grad) for t in ours]
    out = fn(*ours, **kw)
    ref = tfn(*theirs, **_torch_kwargs(torch, kw))
    assert out.shape == tuple(ref.shape)
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-10, atol=1e-12)
    v = rng(2).standard_normal(out.shape)
    out.backward(cr.tensor(v))
    ref.backward(torch.tensor(v))
    for a, b in zip(ours, theirs):
        if b.requires_grad:
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("fn,tname", [(F.cross_entropy, "cross_entropy"),
                                      (F.binary_cross_entropy_with_logits,
                                       "binary_cross_entropy_with_logits"),
                                      (F.mse_loss, "mse_loss")])
def test_float32_matches_torch(fn, tname):
    torch = pytest.importorskip("torch")
    g = rng(4)
    x = g.standard_normal((64, 10)).astype(np.float32) * 3
    if fn is F.cross_entropy:
        y = g.integers(0, 10, 64)
    else:
        y = g.uniform(0, 1, (64, 10)).astype(np.float32)
    a = cr.tensor(x, requires_grad=True)
    b = torch.tensor(x, requires_grad=True)
    out = fn(a, cr.tensor(y))
    ref = getattr(torch.nn.functional, tname)(b, torch.tensor(y))
    out.backward()
    ref.backward()
    assert out.dtype == cr.float32 and a.grad.dtype == cr.float32
    np.testing.assert_allclose(out.item(), ref.item(), rtol=1e-5)
    np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-4, atol=1e-7)


def test_cross_entropy_on_a_large_batch_matches_torch():
    torch = pytest.importorskip("torch")
    g = rng(9)
    x = g.standard_normal((256, 1000))
    y = g.integers(0, 1000, 256)
    a, b = t64(x), torch.tensor(x, requires_grad=True)
    F.cross_entropy(a, cr.tensor(y), label_smoothing=0.1).backward()
    torch.nn.functional.cross_entropy(b, torch.tensor(y), label_smoothing=0.1).backward()
    np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-9, atol=1e-15)


def test_everything_ignored_gives_nan_mean_and_zero_gradient_as_torch():
    torch = pytest.importorskip("torch")
    x = rng(0).standard_normal((3, 4))
    y = np.full(3, -100)
    for fn, tfn in [(F.cross_entropy, torch.nn.functional.cross_entropy),
                    (F.nll_loss, torch.nn.functional.nll_loss)]:
        a, b = t64(x), torch.tensor(x, requires_grad=True)
        out, ref = fn(a, cr.tensor(y)), tfn(b, torch.tensor(y))
        assert np.isnan(out.item()) and np.isnan(ref.item())
        out.backward()
        ref.backward()
        np.testing.assert_array_equal(a.grad.numpy(), b.grad.numpy())
        assert fn(t64(x), cr.tensor(y), reduction="sum").item() == 0.0


def test_empty_batch_as_torch():
    torch = pytest.importorskip("torch")
    x = np.zeros((0, 4))
    y = np.zeros(0, dtype=np.int64)
    for red in REDUCTIONS:
        out = F.cross_entropy(t64(x), cr.tensor(y), reduction=red)
        ref = torch.nn.functional.cross_entropy(torch.tensor(x), torch.tensor(y), reduction=red)
        assert out.shape == tuple(ref.shape)
        np.testing.assert_array_equal(out.detach().numpy(), ref.numpy())


def test_ignore_index_inside_the_class_range():
    torch = pytest.importorskip("torch")
    x = rng(3).standard_normal((6, 3))
    y = np.array([0, 1, 2, 1, 0, 1])
    a, b = t64(x), torch.tensor(x, requires_grad=True)
    out = F.cross_entropy(a, cr.tensor(y), ignore_index=1, label_smoothing=0.1)
    ref = torch.nn.functional.cross_entropy(b, torch.tensor(y), ignore_index=1, label_smoothing=0.1)
    out.backward()
    ref.backward()
    np.testing.assert_allclose(out.item(), ref.item(), rtol=1e-12)
    np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-10, atol=1e-15)


def test_cross_entropy_equals_nll_of_log_softmax():
    x = t64(rng(0).standard_normal((5, 3)))
    y = cr.tensor([0, 2, 1, 1, 0])
    a = F.cross_entropy(x, y)
    b = F.nll_loss(cr.log_softmax(x, 1), y)
    np.testing.assert_allclose(a.item(), b.item(), rtol=1e-12)


def test_cross_entropy_gradient_is_softmax_minus_onehot():
    x = t64(rng(0).standard_normal((5, 3)))
    y = np.array([0, 2, 1, 1, 0])
    F.cross_entropy(x, cr.tensor(y), reduction="sum").backward()
    p = np.exp(x.detach().numpy())
    p /= p.sum(1, keepdims=True)
    np.testing.assert_allclose(x.grad.numpy(), p - np.eye(3)[y], rtol=1e-12, atol=1e-15)


def test_one_hot_probabilities_equal_class_indices():
    x = rng(0).standard_normal((5, 3))
    y = np.array([0, 2, 1, 1, 0])
    a = F.cross_entropy(t64(x), cr.tensor(y), label_smoothing=0.2)
    b = F.cross_entropy(t64(x), cr.tensor(np.eye(3)[y]), label_smoothing=0.2)
    np.testing.assert_allclose(a.item(), b.item(), rtol=1e-12)


def test_bce_with_logits_gradient_is_sigmoid_minus_target():
    x = t64(rng(0).standard_normal(6) * 4)
    y = rng(1).uniform(0, 1, 6)
    F.binary_cross_entropy_with_logits(x, cr.tensor(y), reduction="sum").backward()
    np.testing.assert_allclose(x.grad.numpy(), 1 / (1 + np.exp(-x.detach().numpy())) - y,
                               rtol=1e-12)


# ---- pinball: no PyTorch equivalent, so the formula itself ------------------------------------
@pytest.mark.parametrize("q", [0.05, 0.25, 0.5, 0.75, 0.95])
@pytest.mark.parametrize("red", REDUCTIONS)
def test_pinball_formula(q, red):
    g = rng(int(q * 100))
    x, t = g.standard_normal(20), g.standard_normal(20)
    u = t - x
    want = np.maximum(q * u, (q - 1) * u)
    want = {"mean": want.mean(), "sum": want.sum(), "none": want}[red]
    out = F.pinball_loss(t64(x, False), cr.tensor(t), quantile=q, reduction=red)
    np.testing.assert_allclose(out.numpy(), want, rtol=1e-12)


@pytest.mark.parametrize("q", [0.1, 0.5, 0.9])
def test_pinball_gradient_and_its_kink(q):
    x = t64([0.0, 1.0, -1.0, 2.0])
    t = cr.tensor([0.0, 0.0, 0.0, 2.0], dtype=cr.float64)
    F.pinball_loss(x, t, quantile=q, reduction="sum").backward()
    # over-prediction (x > t) costs 1 - q per unit; under-prediction q; at x == t the slope is -q
    np.testing.assert_allclose(x.grad.numpy(), [-q, 1 - q, -q, -q])


def test_pinball_at_the_median_is_half_the_l1_loss():
    x, t = t64(rng(0).standard_normal(9), False), cr.tensor(rng(1).standard_normal(9))
    np.testing.assert_allclose(F.pinball_loss(x, t).item(), 0.5 * F.l1_loss(x, t).item(),
                               rtol=1e-12)


def test_pinball_minimiser_is_the_quantile():
    t = rng(0).standard_normal(2001)
    grid = np.linspace(-3, 3, 601)
    losses = [F.pinball_loss(cr.full((2001,), float(c), dtype=cr.float64),
                             cr.tensor(t), quantile=0.8).item() for c in grid]
    assert abs(grid[int(np.argmin(losses))] - np.quantile(t, 0.8)) < 0.02


# ---- reductions, dtypes, legacy flags ---------------------------------------------------------
@pytest.mark.parametrize("fn", [F.mse_loss, F.l1_loss, F.huber_loss, F.smooth_l1_loss,
                                F.pinball_loss, F.binary_cross_entropy_with_logits])
def test_reductions_are_consistent(fn):
    x, t = rng(0).uniform(0.1, 0.9, (3, 4)), rng(1).uniform(0, 1, (3, 4))
    none = fn(t64(x, False), cr.tensor(t), reduction="none").numpy()
    assert none.shape == (3, 4)
    np.testing.assert_allclose(fn(t64(x, False), cr.tensor(t), reduction="sum").item(), none.sum())
    np.testing.assert_allclose(fn(t64(x, False), cr.tensor(t)).item(), none.mean())


def test_float32_in_float32_out():
    x = cr.randn(4, 3, requires_grad=True)
    for out in [F.mse_loss(x, cr.zeros(4, 3)), F.cross_entropy(x, cr.tensor([0, 1, 2, 0])),
                F.binary_cross_entropy_with_logits(x, cr.ones(4, 3)),
                F.huber_loss(x, cr.zeros(4, 3), reduction="none")]:
        assert out.dtype == cr.float32
        out.sum().backward()
        assert x.grad.dtype == cr.float32
        x.grad = None


def test_integer_regression_targets_are_cast():
    x = t64([1.0, 2.0])
    out = F.mse_loss(x, cr.tensor([1, 4]))
    assert out.dtype == cr.float64 and out.item() == 2.0


def test_legacy_size_average_and_reduce():
    x, t = t64([1.0, 2.0], False), cr.tensor([0.0, 0.0], dtype=cr.float64)
    with pytest.warns(UserWarning, match="reduction='sum'"):
        assert F.mse_loss(x, t, size_average=False).item() == 5.0
    with pytest.warns(UserWarning, match="reduction='none'"):
        assert F.l1_loss(x, t, reduce=False).shape == (2,)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        F.mse_loss(x, t)


def test_weight_requiring_grad_is_refused_by_name():
    x = t64(rng(0).standard_normal((3, 2)))
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="cross_entropy: weight requires grad"):
        F.cross_entropy(x, cr.tensor([0, 1, 1]), weight=w)
    with cr.no_grad():
        F.cross_entropy(x, cr.tensor([0, 1, 1]), weight=w)


def test_the_graph_is_one_node_per_loss():
    x = cr.randn(8, 5, requires_grad=True)
    out = F.cross_entropy(x, cr.randint(0, 5, (8,)))
    assert out.grad_fn.name() == "CrossEntropyBackward"
    assert out.grad_fn.next_functions[0][0] is x
    out = F.binary_cross_entropy_with_logits(x, cr.rand(8, 5))
    assert out.grad_fn.next_functions[0][0] is x


def test_retain_graph_backward_twice_gives_the_same_gradient():
    x = t64(rng(0).standard_normal((4, 3)))
    out = F.cross_entropy(x, cr.tensor([0, 1, 2, 1]), label_smoothing=0.1)
    out.backward(retain_graph=True)
    first = x.grad.numpy().copy()
    x.grad = None
    out.backward()
    np.testing.assert_array_equal(x.grad.numpy(), first)


# ---- non-contiguous logits (issue 12, item 1): one rule, right for any memory layout ------------
def _layouts(torch):
    """(name, logits shape as stored, how to view them as (N, C, *S), the same view in torch)."""
    return [("t", (5, 6), lambda x: x.t(), lambda x: x.t()),
            ("permute", (2, 4, 5), lambda x: x.permute(0, 2, 1), lambda x: x.permute(0, 2, 1)),
            ("slice", (6, 10), lambda x: x[::2, 1::2], lambda x: x[::2, 1::2])]


def _targets_for(shape, ignore):
    n, c, rest = shape[0], shape[1], shape[2:]
    y = rng(11).integers(0, c, (n,) + rest)
    if ignore:
        y.reshape(-1)[1::3] = -100
    return y


NONCONTIG_OPTIONS = [{}, {"weight": True}, {"ignore_index": -100}, {"label_smoothing": 0.2},
                     {"weight": True, "ignore_index": -100, "label_smoothing": 0.3}]


@pytest.mark.parametrize("red", REDUCTIONS)
@pytest.mark.parametrize("opts", NONCONTIG_OPTIONS, ids=lambda o: "-".join(sorted(o)) or "plain")
@pytest.mark.parametrize("layout", ["t", "permute", "slice"])
def test_cross_entropy_on_non_contiguous_logits_matches_torch(layout, opts, red):
    """F.cross_entropy / nn.CrossEntropyLoss with class indices on x.t(), x.permute(0, 2, 1) and
    a strided slice: loss and gradient equal PyTorch's (the old rule wrote the target's -1 into a
    reshaped copy and was off by 0.125 on x.t())."""
    torch = pytest.importorskip("torch")
    name, stored, view, tview = next(lay for lay in _layouts(torch) if lay[0] == layout)
    a = rng(5).standard_normal(stored)
    x, tx = t64(a), torch.tensor(a, requires_grad=True)
    xv = view(x)
    assert not xv._data.flags.c_contiguous
    y = _targets_for(tuple(xv.shape), "ignore_index" in opts)
    kw = {k: v for k, v in opts.items() if k != "weight"}
    w = rng(6).uniform(0.2, 2.0, xv.shape[1]) if opts.get("weight") else None
    ours_fns = [lambda v: F.cross_entropy(v, cr.tensor(y), weight=None if w is None else
                                          cr.tensor(w), reduction=red, **kw),
                lambda v: cr.nn.CrossEntropyLoss(weight=None if w is None else cr.tensor(w),
                                                 reduction=red, **kw)(v, cr.tensor(y))]
    ref = torch.nn.functional.cross_entropy(tview(tx), torch.tensor(y), reduction=red,
                                            weight=None if w is None else torch.tensor(w), **kw)
    up = rng(7).standard_normal(tuple(ref.shape))
    ref.backward(torch.tensor(up))
    for fn in ours_fns:
        x.grad = None
        out = fn(view(x))
        np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-12,
                                   atol=1e-14)
        out.backward(cr.tensor(up))
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("layout", ["t", "permute"])
def test_nll_loss_on_non_contiguous_input_matches_torch(layout):
    torch = pytest.importorskip("torch")
    name, stored, view, tview = next(lay for lay in _layouts(torch) if lay[0] == layout)
    a = rng(8).standard_normal(stored)
    x, tx = t64(a), torch.tensor(a, requires_grad=True)
    y = _targets_for(tuple(view(x).shape), True)
    out = F.nll_loss(view(x), cr.tensor(y))
    ref = torch.nn.functional.nll_loss(tview(tx), torch.tensor(y))
    out.backward()
    ref.backward()
    np.testing.assert_allclose(out.item(), ref.item(), rtol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("layout", ["t", "permute"])
def test_cross_entropy_second_order_on_non_contiguous_logits_matches_torch(layout):
    """The Hessian-vector product through the (single) cross-entropy rule, on a transposed view."""
    torch = pytest.importorskip("torch")
    name, stored, view, tview = next(lay for lay in _layouts(torch) if lay[0] == layout)
    a = rng(9).standard_normal(stored)
    x, tx = t64(a), torch.tensor(a, requires_grad=True)
    shape = tuple(view(x).shape)
    y = _targets_for(shape, True)
    w = rng(10).uniform(0.2, 2.0, shape[1])
    v = rng(12).standard_normal(stored)
    kw = dict(label_smoothing=0.1)
    out = F.cross_entropy(view(x), cr.tensor(y), weight=cr.tensor(w), **kw)
    (g,) = cr.autograd.grad(out, x, create_graph=True)
    (g * cr.tensor(v)).sum().backward()
    ref = torch.nn.functional.cross_entropy(tview(tx), torch.tensor(y), weight=torch.tensor(w),
                                            **kw)
    (tg,) = torch.autograd.grad(ref, tx, create_graph=True)
    (tg * torch.tensor(v)).sum().backward()
    np.testing.assert_allclose(g.detach().numpy(), tg.detach().numpy(), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-9, atol=1e-13)


def test_cross_entropy_third_order_matches_torch():
    """Differentiating the rule's own backward again (the kept softmax is a recorded op)."""
    torch = pytest.importorskip("torch")
    a = rng(13).standard_normal((3, 4))
    y = np.array([1, 0, 3])
    x, tx = t64(a), torch.tensor(a, requires_grad=True)
    out = F.cross_entropy(x, cr.tensor(y), label_smoothing=0.2)
    ref = torch.nn.functional.cross_entropy(tx, torch.tensor(y), label_smoothing=0.2)
    (g,) = cr.autograd.grad(out, x, create_graph=True)
    (tg,) = torch.autograd.grad(ref, tx, create_graph=True)
    (h,) = cr.autograd.grad((g * g).sum(), x, create_graph=True)
    (th,) = torch.autograd.grad((tg * tg).sum(), tx, create_graph=True)
    (h ** 2).sum().backward()
    (th ** 2).sum().backward()
    np.testing.assert_allclose(h.detach().numpy(), th.detach().numpy(), rtol=1e-9, atol=1e-14)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-8, atol=1e-13)
