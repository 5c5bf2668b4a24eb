"""Keras-style Attention and MultiHeadAttention against an independent NumPy implementation of
Keras 3's equations (einsum kernel layouts, 1/√key_dim scaling, -1e9 masking, propagated masks,
causal masks), in eager calls and functional models; gradients; errors."""
import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd import gradcheck
from chainrule.keras.layers.masking import get_keras_mask

layers = cr.layers


def _rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def _np(t):
    return t.detach().numpy() if isinstance(t, cr.Tensor) else [_np(x) for x in t]


def _softmax(s):
    e = np.exp(s - s.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def keras_attention(q, v, k=None, q_mask=None, v_mask=None, causal=False, scale=None,
                    concat_weight=None):
    """keras.layers.Attention: dot (or concat) scores, -1e9 at padded values, query mask."""
    k = v if k is None else k
    if concat_weight is None:
        scores = q @ k.transpose(0, 2, 1) * (1.0 if scale is None else scale)
    else:
        summed = q[:, :, None, :] + k[:, None, :, :]
        scores = concat_weight * np.tanh(summed * (1.0 if scale is None else scale)).sum(-1)
    keep = np.ones(scores.shape, dtype=bool)
    if v_mask is not None:
        keep &= v_mask[:, None, :]
    if causal:
        keep &= np.tril(np.ones(scores.shape[1:], dtype=bool))[None]
    weights = _softmax(np.where(keep, scores, scores - 1e9))
    out = weights @ v
    if q_mask is not None:
        out = out * q_mask[..., None]
    return out, weights


def keras_mha(q, v, weights, heads, key_dim, mask=None, zero_masked_rows=True):
    """keras.layers.MultiHeadAttention: einsum projections, masked softmax, output einsum."""
    qk, qb, kk, kb, vk, vb, ok, ob = weights
    Q = np.einsum("abc,cde->abde", q, qk) + qb
    K = np.einsum("abc,cde->abde", v, kk) + kb
    V = np.einsum("abc,cde->abde", v, vk) + vb
    scores = np.einsum("aecd,abcd->acbe", K, Q / np.sqrt(key_dim))     # (B, N, T, S)
    if mask is not None:
        m = mask[:, None]
        w = _softmax(np.where(m, scores, -1e9))
        if zero_masked_rows:
            w = np.where(m, w, 0.0)
    else:
        w = _softmax(scores)
    heads_out = np.einsum("acbe,aecd->abcd", w, V)
    return np.einsum("abcd,cde->abe", heads_out, ok) + ob, w


Q_MASK = np.array([[1, 1, 1, 0], [1, 1, 0, 0]], dtype=bool)
V_MASK = np.array([[1, 1, 1, 1, 0, 0], [1, 0, 1, 1, 1, 1]], dtype=bool)


@pytest.mark.parametrize("kwargs", [{}, {"use_scale": True},
                                    {"score_mode": "concat", "use_scale": True}],
                         ids=["dot", "dot-scaled", "concat"])
@pytest.mark.parametrize("causal", [False, True])
def test_attention_follows_keras_equations(kwargs, causal):
    q, v = _rand(2, 4, 3), _rand(2, 6, 3, seed=1)
    layer = layers.Attention(**kwargs)
    layer.build([q.shape, v.shape])
    if layer.get_weights():
        layer.set_weights([np.asarray(1.5)] * len(layer.get_weights()))
    out, w = layer([cr.tensor(q), cr.tensor(v)], mask=[cr.tensor(Q_MASK), cr.tensor(V_MASK)],
                   return_attention_scores=True, use_causal_mask=causal)
    want, want_w = keras_attention(q, v, q_mask=Q_MASK, v_mask=V_MASK, causal=causal,
                                   scale=1.5 if kwargs.get("use_scale") else None,
                                   concat_weight=1.5 if kwargs.get("score_mode") else None)
    np.testing.assert_allclose(_np(out), want, atol=1e-5)
    np.testing.assert_allclose(_np(w), want_w, atol=1e-6)


def test_attention_with_separate_key_and_no_mask():
    q, v, k = _rand(2, 4, 3), _rand(2, 6, 5, seed=1), _rand(2, 6, 3, seed=2)
    got = layers.Attention()([cr.tensor(q), cr.tensor(v), cr.tensor(k)])
    np.testing.assert_allclose(_np(got), keras_attention(q, v, k)[0], atol=1e-5)
    assert got.shape == (2, 4, 5)


@pytest.mark.parametrize("kwargs", [{}, {"value_dim": 3, "output_shape": 9}],
                         ids=["default", "value_dim-output_shape"])
@pytest.mark.parametrize("scores", [False, True])
def test_mha_follows_keras_equations(kwargs, scores):
    q, v = _rand(2, 4, 5), _rand(2, 6, 7, seed=1)
    layer = layers.MultiHeadAttention(2, 4, **kwargs)
    layer.build([q.shape, v.shape])
    ws = [_rand(*w.shape, seed=i) * 0.5 for i, w in enumerate(layer.get_weights())]
    layer.set_weights(ws)
    am = np.random.default_rng(7).random((2, 4, 6)) > 0.3
    am[0, 0] = False                      # a query that may attend nowhere
    got = layer(cr.tensor(q), cr.tensor(v), attention_mask=cr.tensor(am), use_causal_mask=True,
                return_attention_scores=scores)
    mask = am & np.tril(np.ones((4, 6), dtype=bool))[None]
    want, want_w = keras_mha(q, v, ws, 2, 4, mask, zero_masked_rows=scores)
    out = got[0] if scores else got
    np.testing.assert_allclose(_np(out), want, atol=1e-5)
    if scores:
        assert got[1].shape == (2, 2, 4, 6)
        np.testing.assert_allclose(_np(got[1]), want_w, atol=1e-6)
    assert [w.shape for w in layer.get_weights()] == [w.shape for w in ws]


def test_mha_uses_the_masks_an_embedding_propagates():
    ids = np.array([[3, 4, 2, 0], [1, 2, 0, 0]])
    emb = layers.Embedding(6, 4, mask_zero=True)
    mha = layers.MultiHeadAttention(2, 3)
    x = emb(cr.tensor(ids))
    out = mha(x, x)
    ws = mha.get_weights()
    keep = (ids != 0)[:, :, None] & (ids != 0)[:, None, :]
    want, _ = keras_mha(_np(x), _np(x), ws, 2, 3, keep, zero_masked_rows=False)
    np.testing.assert_allclose(_np(out), want, atol=1e-5)
    np.testing.assert_array_equal(get_keras_mask(out).numpy(), ids != 0)


def test_mha_in_a_functional_model_with_scores():
    inputs = layers.Input((5, 8))
    out, scores = layers.MultiHeadAttention(2, 4, name="mha")(inputs, inputs,
                                                               return_attention_scores=True)
    assert out.shape == (None, 5, 8) and scores.shape == (None, 2, 5, 5)
    model = cr.Model(inputs, [out, scores])
    a, b = model(np.ones((3, 5, 8), dtype=np.float32))
    assert a.shape == (3, 5, 8) and b.shape == (3, 2, 5, 5)
    np.testing.assert_allclose(_np(b).sum(-1), 1.0, atol=1e-5)


def test_attention_in_a_functional_model_and_gradients():
    q_in, v_in = layers.Input((4, 3)), layers.Input((6, 3))
    model = cr.Model([q_in, v_in], layers.Attention(use_scale=True)([q_in, v_in]))
    assert model([np.ones((2, 4, 3), np.float32), np.ones((2, 6, 3), np.float32)]).shape == \
        (2, 4, 3)
    mha = layers.MultiHeadAttention(2, 2, dtype="float64")
    x = cr.tensor(_rand(2, 3, 4), requires_grad=True)
    mha.build([x.shape, x.shape])
    assert gradcheck(lambda x, w: mha(x, x), (x, mha.query_kernel))


def test_errors_name_the_layer_and_shapes():
    mha = layers.MultiHeadAttention(2, 4, name="att")
    q = cr.randn(2, 4, 5)
    with pytest.raises(cr.errors.ArgumentTypeError, match="att.*missing the value input"):
        mha(q)
    mha(q, q)
    with pytest.raises(cr.ShapeError, match=r"att.*expected query of shape \(batch, steps, 5\), "
                                            r"received \(2, 4, 6\)"):
        mha(cr.randn(2, 4, 6), q)
    with pytest.raises(cr.ShapeError, match=r"attention_mask must have shape \(batch, T, S\) = "
                                            r"\(2, 4, 4\), received \(2, 3, 4\)"):
        mha(q, q, attention_mask=cr.ones(2, 3, 4, dtype=cr.bool))
    with pytest.raises(cr.DTypeError, match="attention_mask must be a bool"):
        mha(q, q, attention_mask=cr.ones(2, 4, 4))
    with pytest.raises(cr.ShapeError, match=r"query_mask must have shape \(2, 4\)"):
        mha(q, q, query_mask=cr.ones(2, 5, dtype=cr.bool))
    with pytest.raises(cr.ConfigError, match="num_heads"):
        layers.MultiHeadAttention(0, 4)
    att = layers.Attention()
    with pytest.raises(cr.errors.ArgumentTypeError,
                       match=r"inputs must be a list \[query, value\]"):
        att(q)
    with pytest.raises(cr.ShapeError, match="value_mask must have shape"):
        att([q, q], mask=[None, cr.ones(2, 3, dtype=cr.bool)])
