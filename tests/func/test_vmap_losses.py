"""vmap of the losses: one loss per example with reduction none/mean/sum, against
torch.func.vmap and against a per-example loop, and per-example gradients of a loss."""
import numpy as np
import pytest

import chainrule as cr
from chainrule.errors import LabelError

R = np.random.default_rng(3)


def A(*shape):
    return R.normal(size=shape)


def P(*shape):
    return R.uniform(0.05, 0.95, shape)


def probs(*shape, dim=1):
    e = np.exp(R.normal(size=shape))
    return e / e.sum(axis=dim, keepdims=True)


def idx(high, *shape):
    return R.integers(0, high, shape)


W3 = np.array([0.5, 2.0, 1.0])
# name, loss of (library, F, *args), arrays, in_dims
CASES = [
    ("mse", lambda m, F, x, t, r: F.mse_loss(x, t, reduction=r), [A(5, 3, 2), A(5, 3, 2)], (0, 0)),
    ("mse_shared_target", lambda m, F, x, t, r: F.mse_loss(x, t, reduction=r), [A(5, 4), A(4)],
     (0, None)),
    ("l1", lambda m, F, x, t, r: F.l1_loss(x, t, reduction=r), [A(5, 4), A(5, 4)], (0, 0)),
    ("smooth_l1", lambda m, F, x, t, r: F.smooth_l1_loss(x, t, reduction=r, beta=0.5),
     [A(5, 4), A(5, 4)], (0, 0)),
    ("huber", lambda m, F, x, t, r: F.huber_loss(x, t, reduction=r, delta=0.7), [A(5, 4), A(5, 4)],
     (0, 0)),
    ("bce", lambda m, F, x, t, r: F.binary_cross_entropy(x, t, reduction=r), [P(5, 4), P(5, 4)],
     (0, 0)),
    ("bce_weight", lambda m, F, x, t, r: F.binary_cross_entropy(
        x, t, weight=m.tensor([1.0, 2.0, 0.5, 1.0], dtype=m.float64), reduction=r),
     [P(5, 4), P(5, 4)], (0, 0)),
    ("bce_logits", lambda m, F, x, t, r: F.binary_cross_entropy_with_logits(x, t, reduction=r),
     [A(5, 2, 4), P(5, 2, 4)], (0, 0)),
    ("bce_logits_pos_weight", lambda m, F, x, t, r: F.binary_cross_entropy_with_logits(
        x, t, pos_weight=m.tensor([1.0, 3.0, 0.5, 2.0], dtype=m.float64), reduction=r),
     [A(5, 4), P(5, 4)], (0, 0)),
    ("ce_index_unbatched", lambda m, F, x, y, r: F.cross_entropy(x, y, reduction=r),
     [A(6, 3), idx(3, 6)], (0, 0)),
    ("ce_index", lambda m, F, x, y, r: F.cross_entropy(x, y, reduction=r),
     [A(5, 4, 3), idx(3, 5, 4)], (0, 0)),
    ("ce_index_spatial", lambda m, F, x, y, r: F.cross_entropy(x, y, reduction=r),
     [A(5, 2, 3, 4), idx(3, 5, 2, 4)], (0, 0)),
    ("ce_index_weight_ignore_smooth", lambda m, F, x, y, r: F.cross_entropy(
        x, y, weight=m.tensor(W3), ignore_index=1, label_smoothing=0.1, reduction=r),
     [A(5, 4, 3), idx(3, 5, 4)], (0, 0)),
    ("ce_index_shared_logits", lambda m, F, x, y, r: F.cross_entropy(x, y, reduction=r),
     [A(4, 3), idx(3, 5, 4)], (None, 0)),
    ("ce_probs", lambda m, F, x, t, r: F.cross_entropy(x, t, reduction=r),
     [A(5, 4, 3), probs(5, 4, 3, dim=2)], (0, 0)),
    ("ce_probs_weight_smooth", lambda m, F, x, t, r: F.cross_entropy(
        x, t, weight=m.tensor(W3), label_smoothing=0.2, reduction=r),
     [A(5, 4, 3), probs(5, 4, 3, dim=2)], (0, 0)),
    ("nll", lambda m, F, x, y, r: F.nll_loss(F.log_softmax(x, dim=1), y, reduction=r),
     [A(5, 4, 3), idx(3, 5, 4)], (0, 0)),
    ("nll_weight_ignore", lambda m, F, x, y, r: F.nll_loss(
        F.log_softmax(x, dim=1), y, weight=m.tensor(W3), ignore_index=2, reduction=r),
     [A(5, 4, 3), idx(3, 5, 4)], (0, 0)),
    ("kl_div", lambda m, F, x, t, r: F.kl_div(F.log_softmax(x, dim=-1), t,
                                              reduction="batchmean" if r == "mean" else r),
     [A(5, 4, 3), probs(5, 4, 3, dim=2)], (0, 0)),
    ("kl_div_log_target", lambda m, F, x, t, r: F.kl_div(
        F.log_softmax(x, dim=-1), m.log(t), reduction=r, log_target=True),
     [A(5, 4, 3), probs(5, 4, 3, dim=2)], (0, 0)),
]
IDS = [c[0] for c in CASES]


def _tensors(lib, arrays):
    return [lib.tensor(a) for a in arrays]


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("name,fn,arrays,dims", CASES, ids=IDS)
def test_vmap_loss_matches_torch_and_loop(name, fn, arrays, dims, reduction):
    torch = pytest.importorskip("torch")
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")       # kl_div's 'mean' warning, in both libraries
        got = cr.func.vmap(lambda *z: fn(cr, cr.nn.functional, *z, reduction),
                           in_dims=dims)(*_tensors(cr, arrays))
        try:
            want = torch.func.vmap(lambda *z: fn(torch, torch.nn.functional, *z, reduction),
                                   in_dims=dims)(*_tensors(torch, arrays))
        except RuntimeError as e:      # torch cannot vmap a few (masked_select inside)
            assert "vmap" in str(e)
            want = None
        n = next(a.shape[d] for a, d in zip(arrays, dims) if d is not None)
        loop = np.stack([fn(cr, cr.nn.functional, *[cr.tensor(a if d is None else a[i])
                                                     for a, d in zip(arrays, dims)],
                            reduction).numpy() for i in range(n)])
    if want is not None:
        assert got.shape == tuple(want.shape)
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12, atol=1e-14)
    assert got.shape == loop.shape
    np.testing.assert_allclose(got.numpy(), loop, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", ["mse", "bce_logits_pos_weight", "ce_index",
                                  "ce_index_weight_ignore_smooth", "ce_probs", "nll_weight_ignore",
                                  "huber"])
def test_per_example_gradients_of_a_loss_match_torch(name):
    torch = pytest.importorskip("torch")
    fn, arrays, dims = next((c[1], c[2], c[3]) for c in CASES if c[0] == name)

    def run(lib):
        g = lib.func.grad(lambda *z: fn(lib, lib.nn.functional, *z, "mean"))
        return lib.func.vmap(g, in_dims=dims)(*_tensors(lib, arrays))
    np.testing.assert_allclose(run(cr).numpy(), run(torch).numpy(), rtol=1e-10, atol=1e-12)


def test_vmap_loss_bad_class_index_raises():
    f = cr.func.vmap(lambda x, y: cr.nn.functional.cross_entropy(x, y))
    with pytest.raises(LabelError, match="out of range"):
        f(cr.randn(3, 4), cr.tensor([0, 4, 1]))


@pytest.mark.parametrize("name", ["mse", "bce_logits_pos_weight", "ce_index_weight_ignore_smooth",
                                  "ce_probs", "nll_weight_ignore", "huber"])
def test_vmap_loss_on_the_standin_device_equals_cpu(name):
    from chainrule.backend.cuda import use_standin
    fn, arrays, dims = next((c[1], c[2], c[3]) for c in CASES if c[0] == name)
    for reduction in ("none", "mean", "sum"):
        cpu = cr.func.vmap(lambda *z: fn(cr, cr.nn.functional, *z, reduction),
                           in_dims=dims)(*_tensors(cr, arrays)).numpy()
        with use_standin() as ns:
            class Dev:
                """The library with tensor() making stand-in tensors (the cases' constants)."""
                def __getattr__(self, k):
                    return getattr(cr, k)

                @staticmethod
                def tensor(v, **kw):
                    return cr.tensor(v, **kw).to("cuda")
            got = cr.func.vmap(lambda *z: fn(Dev(), cr.nn.functional, *z, reduction),
                               in_dims=dims)(*[cr.Tensor(ns.asarray(a)) for a in arrays])
            assert got.is_cuda
            np.testing.assert_allclose(got._data.get(), cpu, rtol=1e-12, atol=1e-14)
