"""scaled_dot_product_attention and MultiheadAttention: against torch (values, gradients, masks,
kdim/vdim, bias_kv, zero_attn, batch_first, unbatched), gradchecks, and clear errors."""
import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn
from chainrule.autograd import gradcheck, gradgradcheck


def _rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def _np(t):
    return t.detach().numpy()


# ---- scaled_dot_product_attention ------------------------------------------------------------
@pytest.mark.parametrize("kwargs", [{}, {"is_causal": True}, {"scale": 0.3}],
                         ids=["plain", "causal", "scale"])
def test_sdpa_matches_torch(kwargs):
    torch = pytest.importorskip("torch")
    q, k, v = _rand(2, 3, 5, 4), _rand(2, 3, 7, 4, seed=1), _rand(2, 3, 7, 6, seed=2)
    tq, tk, tv = (torch.tensor(a, requires_grad=True) for a in (q, k, v))
    cq, ck, cv = (cr.tensor(a, requires_grad=True) for a in (q, k, v))
    want = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, **kwargs)
    got = F.scaled_dot_product_attention(cq, ck, cv, **kwargs)
    np.testing.assert_allclose(_np(got), want.detach().numpy(), atol=1e-12)
    g = _rand(*got.shape, seed=3)
    want.backward(torch.tensor(g))
    got.backward(cr.tensor(g))
    for a, b in ((cq, tq), (ck, tk), (cv, tv)):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), atol=1e-12)


@pytest.mark.parametrize("kind", ["bool", "float"])
def test_sdpa_masks_match_torch_including_fully_masked_rows(kind):
    torch = pytest.importorskip("torch")
    q, k, v = _rand(2, 5, 4), _rand(2, 7, 4, seed=1), _rand(2, 7, 3, seed=2)
    keep = np.random.default_rng(4).random((5, 7)) > 0.4
    keep[0] = False                               # one query sees no key at all
    mask = keep if kind == "bool" else np.where(keep, 0.0, -np.inf) + _rand(5, 7, seed=5)
    want = torch.nn.functional.scaled_dot_product_attention(
        torch.tensor(q), torch.tensor(k), torch.tensor(v), attn_mask=torch.tensor(mask))
    cq = cr.tensor(q, requires_grad=True)
    got = F.scaled_dot_product_attention(cq, cr.tensor(k), cr.tensor(v), attn_mask=cr.tensor(mask))
    np.testing.assert_allclose(_np(got), want.numpy(), atol=1e-12)
    assert np.all(_np(got)[:, 0] == 0)
    got.sum().backward()
    assert np.isfinite(cq.grad.numpy()).all()


def test_sdpa_dropout_and_gqa():
    cr.manual_seed(0)
    q = cr.randn(1, 4, 3, 2)
    k = cr.randn(1, 2, 5, 2)
    out = F.scaled_dot_product_attention(q, k, k, enable_gqa=True)
    kk = cr.cat([k[:, :1], k[:, :1], k[:, 1:], k[:, 1:]], 1)   # query heads 0, 1 use kv head 0
    ref = F.scaled_dot_product_attention(q, kk, kk)
    np.testing.assert_allclose(out.numpy(), ref.numpy(), atol=1e-6)
    dropped = F.scaled_dot_product_attention(q, q, q, dropout_p=1.0)
    assert np.all(dropped.numpy() == 0)


def test_sdpa_gradcheck_and_second_order():
    q = cr.tensor(_rand(2, 3, 2), requires_grad=True)
    k = cr.tensor(_rand(2, 4, 2, seed=1), requires_grad=True)
    v = cr.tensor(_rand(2, 4, 3, seed=2), requires_grad=True)
    mask = cr.tensor(np.random.default_rng(3).random((3, 4)) > 0.3)
    assert gradcheck(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=mask),
                     (q, k, v))
    assert gradgradcheck(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
                         (q, k, v))


def test_sdpa_errors():
    q = cr.randn(2, 3, 4)
    with pytest.raises(cr.ShapeError, match=r"query and key must have the same last dimension"):
        F.scaled_dot_product_attention(q, cr.randn(2, 5, 3), cr.randn(2, 5, 3))
    with pytest.raises(cr.ShapeError, match=r"attn_mask of shape \(4, 4\) does not broadcast"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=cr.ones(4, 4, dtype=cr.bool))
    with pytest.raises(cr.ConfigError, match="should not be set when is_causal=True"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=cr.ones(3, 3), is_causal=True)
    with pytest.raises(cr.DTypeError, match="only bool and floating types of attn_mask"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=cr.ones(3, 3, dtype=cr.int64))


# ---- MultiheadAttention ----------------------------------------------------------------------
MHA_CONFIGS = [{}, {"batch_first": True}, {"kdim": 5, "vdim": 7},
               {"add_bias_kv": True, "add_zero_attn": True}, {"bias": False}]


def _mha_pair(kwargs, torch, heads=2):
    theirs = torch.nn.MultiheadAttention(8, heads, **kwargs).double()
    ours = nn.MultiheadAttention(8, heads, **kwargs).to(cr.float64)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


@pytest.mark.parametrize("kwargs", MHA_CONFIGS,
                         ids=lambda k: ",".join(f"{a}={b}" for a, b in k.items()) or "default")
def test_mha_matches_torch_with_both_masks(kwargs):
    torch = pytest.importorskip("torch")
    ours, theirs = _mha_pair(kwargs, torch)
    bf = kwargs.get("batch_first", False)

    def shape(steps, dim):
        return (3, steps, dim) if bf else (steps, 3, dim)

    arrays = (_rand(*shape(4, 8)), _rand(*shape(6, kwargs.get("kdim", 8)), seed=1),
              _rand(*shape(6, kwargs.get("vdim", 8)), seed=2))
    tq, tk, tv = (torch.tensor(a, requires_grad=True) for a in arrays)
    cq, ck, cv = (cr.tensor(a, requires_grad=True) for a in arrays)
    kpm = np.zeros((3, 6), dtype=bool)
    kpm[0, -2:] = True
    am = _rand(4, 6, seed=3)
    to, tw = theirs(tq, tk, tv, key_padding_mask=torch.tensor(kpm).double().masked_fill(
        torch.tensor(kpm), float("-inf")), attn_mask=torch.tensor(am))
    co, cw = ours(cq, ck, cv, key_padding_mask=cr.tensor(np.where(kpm, -np.inf, 0.0)),
                  attn_mask=cr.tensor(am))
    np.testing.assert_allclose(_np(co), to.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(_np(cw), tw.detach().numpy(), atol=1e-12)
    (to.sum() + tw.square().sum()).backward()
    (co.sum() + (cw * cw).sum()).backward()
    for a, b in ((cq, tq), (ck, tk), (cv, tv)):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), atol=1e-12)
    theirs_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), theirs_params[name].grad.numpy(),
                                   atol=1e-11, err_msg=name)


@pytest.mark.filterwarnings("ignore:invalid value encountered")   # a fully masked row: NaN
@pytest.mark.parametrize("need_weights,average", [(True, False), (False, True)])
def test_mha_self_attention_bool_masks_and_weight_options(need_weights, average):
    torch = pytest.importorskip("torch")
    ours, theirs = _mha_pair({"batch_first": True}, torch, heads=4)
    x = _rand(2, 5, 8)
    causal = np.triu(np.ones((5, 5), dtype=bool), 1)
    kpm = np.zeros((2, 5), dtype=bool)
    kpm[1, 0] = True
    to, tw = theirs(*(torch.tensor(x),) * 3, attn_mask=torch.tensor(causal),
                    key_padding_mask=torch.tensor(kpm), need_weights=need_weights,
                    average_attn_weights=average)
    cx = cr.tensor(x)
    co, cw = ours(cx, cx, cx, attn_mask=cr.tensor(causal), key_padding_mask=cr.tensor(kpm),
                  need_weights=need_weights, average_attn_weights=average)
    np.testing.assert_allclose(_np(co), to.detach().numpy(), atol=1e-12, equal_nan=True)
    if need_weights:
        assert cw.shape == (2, 4, 5, 5)
        np.testing.assert_allclose(_np(cw), tw.detach().numpy(), atol=1e-12, equal_nan=True)
    else:
        assert cw is None and tw is None


def test_mha_unbatched_matches_torch():
    torch = pytest.importorskip("torch")
    ours, theirs = _mha_pair({}, torch)
    x = _rand(5, 8)
    to, tw = theirs(*(torch.tensor(x),) * 3)
    co, cw = ours(*(cr.tensor(x),) * 3)
    assert co.shape == (5, 8) and cw.shape == (5, 5)
    np.testing.assert_allclose(_np(co), to.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(_np(cw), tw.detach().numpy(), atol=1e-12)


def test_mha_init_as_torch():
    m = nn.MultiheadAttention(16, 4, add_bias_kv=True)
    assert np.all(m.in_proj_bias._data == 0) and np.all(m.out_proj.bias._data == 0)
    bound = np.sqrt(6 / (16 + 48))                # xavier_uniform on (3E, E)
    assert np.abs(m.in_proj_weight._data).max() <= bound
    assert m.bias_k.shape == (1, 1, 16)
    sep = nn.MultiheadAttention(16, 4, kdim=3, vdim=5)
    assert sep.in_proj_weight is None and sep.k_proj_weight.shape == (16, 3)
    assert sep.v_proj_weight.shape == (16, 5)


def test_mha_gradcheck():
    cr.manual_seed(0)
    m = nn.MultiheadAttention(4, 2, batch_first=True).to(cr.float64)
    x = cr.tensor(_rand(2, 3, 4), requires_grad=True)
    assert gradcheck(lambda x, w: m(x, x, x)[0], (x, m.in_proj_weight))


def test_mha_errors_name_the_layer_argument_and_shapes():
    with pytest.raises(cr.ConfigError, match=r"embed_dim must be divisible by num_heads, got "
                                             r"embed_dim=10 and num_heads=3"):
        nn.MultiheadAttention(10, 3)
    m = nn.MultiheadAttention(8, 2)
    x = cr.randn(4, 2, 8)
    with pytest.raises(cr.ShapeError, match=r"MultiheadAttention\(embed_dim=8, num_heads=2\): "
                                            r"expected key with 8 features.*\(4, 2, 6\)"):
        m(x, cr.randn(4, 2, 6), x)
    with pytest.raises(cr.ShapeError, match=r"key_padding_mask of shape \(N, S\) = \(2, 4\), but "
                                            r"got \(4, 2\)"):
        m(x, x, x, key_padding_mask=cr.zeros(4, 2, dtype=cr.bool))
    with pytest.raises(cr.ShapeError, match=r"2D attn_mask is \(3, 4\), but should be \(L, S\) = "
                                            r"\(4, 4\)"):
        m(x, x, x, attn_mask=cr.zeros(3, 4, dtype=cr.bool))
    with pytest.raises(cr.DTypeError, match=r"only bool and floating types of key_padding_mask.*"
                                            r"int64"):
        m(x, x, x, key_padding_mask=cr.zeros(2, 4, dtype=cr.int64))
    with pytest.raises(cr.ConfigError, match="is_causal is a hint: it needs attn_mask"):
        m(x, x, x, is_causal=True)
