"""Attention: ``scaled_dot_product_attention`` and ``multi_head_attention_forward``, as PyTorch's.

Both are written in chainrule's public tensor ops (matmul, softmax, where, linear, dropout), so
they run on whatever array namespace the tensors use and are differentiable to any order.

    Attention(Q, K, V) = softmax(Q Kᵀ · scale + mask) V
"""
import math

import numpy as np

from chainrule.backend import namespace_of
from chainrule.errors import ArgumentTypeError, ConfigError, DTypeError, ShapeError
from chainrule.nn.functional.dropout import dropout
from chainrule.nn.functional.linear import linear
from chainrule.ops.elementwise import where
from chainrule.ops.shape import cat
from chainrule.ops.softmax import softmax
from chainrule.tensor import Tensor

_NEG_INF = float("-inf")


def _check_tensor(x, name, where_):
    if not isinstance(x, Tensor):
        raise ArgumentTypeError(f"{where_}: expected {name} to be a cr.Tensor, got "
                                f"{type(x).__name__}")
    return x


def causal_mask(L, S=None, like=None):
    """The bool mask of causal attention, True on and below the diagonal: query i sees keys ≤ i
    (on the device of the tensor *like*, else the CPU).

    >>> causal_mask(3).numpy().astype(int)
    array([[1, 0, 0],
           [1, 1, 0],
           [1, 1, 1]])
    """
    S = L if S is None else S
    ns = namespace_of(like._data) if like is not None else namespace_of(np.empty(0))
    return Tensor(ns.tril(ns.ones((L, S), dtype=bool)))


def _as_tensor(mask, like):
    """A mask given as an array or list, as a tensor on the device of *like*."""
    if mask is None or isinstance(mask, Tensor):
        return mask
    return Tensor(namespace_of(like._data).asarray(np.asarray(mask)))


def _additive(mask, dtype, where_, name, true_means_masked):
    """A float mask to add to the scores: a bool mask becomes 0 / -inf, a float one is kept."""
    if mask is None:
        return None
    kind = mask._data.dtype.kind
    if kind == "b":
        hide = mask._data if true_means_masked else ~mask._data
        return Tensor(namespace_of(hide).where(hide, _NEG_INF, 0.0).astype(dtype))
    if kind != "f":
        raise DTypeError(f"{where_}: only bool and floating types of {name} are supported, got "
                         f"dtype {mask.dtype}")
    return mask if mask._data.dtype == dtype else mask.to(dtype)


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0,
                                 is_causal=False, scale=None, enable_gqa=False):
    """softmax(Q Kᵀ · scale + M) V over the last two dims (``torch.nn.functional`` semantics).

    query (…, L, E), key (…, S, E), value (…, S, Ev) → (…, L, Ev). *scale* defaults to 1/√E.
    A bool *attn_mask* marks the pairs that may attend (True = take part); a float one is added
    to the scores. *is_causal* masks keys after each query. *dropout_p* drops attention weights
    (always, as PyTorch's functional form: pass 0.0 in evaluation).

    >>> q = cr.randn(2, 4, 5, 8)
    >>> F.scaled_dot_product_attention(q, q, q, is_causal=True).shape
    (2, 4, 5, 8)
    """
    where_ = "scaled_dot_product_attention"
    for name, t in (("query", query), ("key", key), ("value", value)):
        _check_tensor(t, name, where_)
        if t.ndim < 2:
            raise ShapeError(f"{where_}: {name} must have at least 2 dimensions (…, seq, dim), "
                             f"got shape {t.shape}")
    if query.shape[-1] != key.shape[-1]:
        raise ShapeError(f"{where_}: query and key must have the same last dimension (embedding "
                         f"size), got query {query.shape} and key {key.shape}")
    if key.shape[-2] != value.shape[-2]:
        raise ShapeError(f"{where_}: key and value must have the same sequence length, got key "
                         f"{key.shape} and value {value.shape}")
    if enable_gqa and query.ndim >= 3 and key.shape[-3] != query.shape[-3]:
        key, value = _repeat_heads(key, query.shape[-3], where_), \
            _repeat_heads(value, query.shape[-3], where_)
    L, S = query.shape[-2], key.shape[-2]
    if is_causal and attn_mask is not None:
        raise ConfigError(f"{where_}: explicit attn_mask should not be set when is_causal=True")
    if not 0.0 <= dropout_p <= 1.0:
        raise ConfigError(f"{where_}: dropout_p must be in [0, 1], got {dropout_p!r}")
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else float(scale)
    scores = (query @ key.transpose(-2, -1)) * scale
    if is_causal:
        scores = where(causal_mask(L, S, like=scores), scores, _NEG_INF)
    elif attn_mask is not None:
        attn_mask = _as_tensor(attn_mask, query)
        try:
            np.broadcast_shapes(attn_mask.shape, scores.shape)
        except ValueError:
            raise ShapeError(f"{where_}: attn_mask of shape {attn_mask.shape} does not broadcast "
                             f"to the attention scores of shape {scores.shape} (…, L={L}, "
                             f"S={S})") from None
        if attn_mask._data.dtype.kind == "b":
            scores = where(attn_mask, scores, _NEG_INF)
        else:
            scores = scores + _additive(attn_mask, scores._data.dtype, where_, "attn_mask", False)
    masked = is_causal and L > S or attn_mask is not None
    weights = safe_softmax(scores) if masked else softmax(scores, -1)
    if dropout_p > 0.0:
        weights = dropout(weights, dropout_p, True)
    return weights @ value


def safe_softmax(scores):
    """softmax over the last dim, with rows whose scores are all -inf (every key masked) set to
    zero instead of NaN, as PyTorch's scaled_dot_product_attention; their gradient is zero.
    (No host synchronisation: the rows are found and replaced on the scores' device.)"""
    full = namespace_of(scores._data).isneginf(scores._data).all(-1, keepdims=True)
    full = Tensor(full)
    return where(full, 0.0, softmax(where(full, 0.0, scores), -1))


def _repeat_heads(x, heads, where_):
    """Grouped-query attention: repeat each of x's heads so there are *heads* of them."""
    h = x.shape[-3]
    if heads % h:
        raise ShapeError(f"{where_}: with enable_gqa, query heads ({heads}) must be a multiple of "
                         f"key/value heads ({h})")
    r = heads // h
    lead = x.shape[:-3]
    y = x.unsqueeze(-3).expand(*lead, h, r, *x.shape[-2:])
    return y.reshape(*lead, heads, *x.shape[-2:])


def _check_masks(key_padding_mask, attn_mask, bsz, num_heads, tgt_len, src_len, batched, where_):
    """PyTorch's shape checks of the two masks of multi-head attention."""
    if key_padding_mask is not None:
        want = (bsz, src_len) if batched else (src_len,)
        if tuple(key_padding_mask.shape) != want:
            raise ShapeError(f"{where_}: expecting key_padding_mask of shape "
                             f"{'(N, S)' if batched else '(S,)'} = {want}, but got "
                             f"{tuple(key_padding_mask.shape)}")
    if attn_mask is not None:
        shape = tuple(attn_mask.shape)
        if len(shape) == 2:
            if shape != (tgt_len, src_len):
                raise ShapeError(f"{where_}: the shape of the 2D attn_mask is {shape}, but "
                                 f"should be (L, S) = {(tgt_len, src_len)}")
        elif len(shape) == 3:
            if shape != (bsz * num_heads, tgt_len, src_len):
                raise ShapeError(f"{where_}: the shape of the 3D attn_mask is {shape}, but "
                                 f"should be (N*num_heads, L, S) = "
                                 f"{(bsz * num_heads, tgt_len, src_len)}")
        else:
            raise ShapeError(f"{where_}: attn_mask's dimension {len(shape)} is not supported "
                             f"(expected 2-D (L, S) or 3-D (N*num_heads, L, S))")


def multi_head_attention_forward(query, key, value, embed_dim_to_check, num_heads, in_proj_weight,
                                 in_proj_bias, bias_k, bias_v, add_zero_attn, dropout_p,
                                 out_proj_weight, out_proj_bias, training=True,
                                 key_padding_mask=None, need_weights=True, attn_mask=None,
                                 use_separate_proj_weight=False, q_proj_weight=None,
                                 k_proj_weight=None, v_proj_weight=None, static_k=None,
                                 static_v=None, average_attn_weights=True, is_causal=False):
    """Multi-head attention on time-major inputs, PyTorch's function and argument for argument.

    query (L, N, E) or (L, E); key, value (S, N, kdim/vdim) or (S, kdim/vdim). Each head h:
    softmax(Q_h K_hᵀ / √d + M) V_h with Q = query W_qᵀ + b_q etc.; the heads are concatenated
    and projected by out_proj. A bool key_padding_mask (N, S) or attn_mask (L, S) /
    (N·heads, L, S) marks the pairs that may NOT attend (True = masked); float masks are added.
    Returns (output (L, N, E), weights (N, L, S) averaged over heads, (N, heads, L, S) without
    averaging, or None when need_weights=False).
    """
    where_ = "multi_head_attention_forward"
    for name, t in (("query", query), ("key", key), ("value", value)):
        _check_tensor(t, name, where_)
    if static_k is not None or static_v is not None:
        raise ConfigError(f"{where_}: static_k and static_v are not supported")
    batched = query.ndim == 3
    if query.ndim not in (2, 3) or key.ndim != query.ndim or value.ndim != query.ndim:
        raise ShapeError(f"{where_}: query, key and value must all be 3-D (seq, batch, feature) "
                         f"or all 2-D (seq, feature); got query {query.shape}, key {key.shape}, "
                         f"value {value.shape}")
    if not batched:
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
    tgt_len, bsz, embed_dim = query.shape
    src_len = key.shape[0]
    if embed_dim != embed_dim_to_check:
        raise ShapeError(f"{where_}: was expecting embedding dimension of {embed_dim_to_check}, "
                         f"but got query of shape {query.shape if batched else query.shape[::2]}")
    if key.shape[:2] != value.shape[:2] or key.shape[1] != bsz:
        raise ShapeError(f"{where_}: key and value must share (S, N) with query's batch N={bsz}; "
                         f"got key {key.shape} and value {value.shape}")
    head_dim = embed_dim // num_heads
    if head_dim * num_heads != embed_dim:
        raise ConfigError(f"{where_}: embed_dim ({embed_dim}) must be divisible by num_heads "
                          f"({num_heads})")
    if is_causal and attn_mask is None:
        raise ConfigError(f"{where_}: is_causal is a hint: it needs attn_mask (e.g. "
                          f"cr.nn.Transformer.generate_square_subsequent_mask(L))")
    kpm = _as_tensor(key_padding_mask, query)
    attn_mask = _as_tensor(attn_mask, query)
    _check_masks(kpm, attn_mask, bsz, num_heads, tgt_len, src_len, batched, where_)
    if kpm is not None and not batched:
        kpm = kpm.unsqueeze(0)
    dtype = query._data.dtype

    # input projections: one GEMM for self-attention, three otherwise
    if not use_separate_proj_weight:
        if in_proj_weight is None:
            raise ConfigError(f"{where_}: use_separate_proj_weight is False but in_proj_weight "
                              f"is None")
        if query is key and key is value:
            q, k, v = linear(query, in_proj_weight, in_proj_bias).chunk(3, -1)
        else:
            w_q, w_k, w_v = in_proj_weight.chunk(3)
            b_q, b_k, b_v = (None,) * 3 if in_proj_bias is None else in_proj_bias.chunk(3)
            q = linear(query, w_q, b_q)
            if key is value:
                k, v = linear(key, cat([w_k, w_v]), None if in_proj_bias is None
                              else cat([b_k, b_v])).chunk(2, -1)
            else:
                k, v = linear(key, w_k, b_k), linear(value, w_v, b_v)
    else:
        b_q, b_k, b_v = (None,) * 3 if in_proj_bias is None else in_proj_bias.chunk(3)
        for name, w, x in (("q_proj_weight", q_proj_weight, query),
                           ("k_proj_weight", k_proj_weight, key),
                           ("v_proj_weight", v_proj_weight, value)):
            if w is None or w.shape[1] != x.shape[-1]:
                raise ShapeError(f"{where_}: {name} of shape {None if w is None else w.shape} "
                                 f"does not fit an input with {x.shape[-1]} features")
        q = linear(query, q_proj_weight, b_q)
        k = linear(key, k_proj_weight, b_k)
        v = linear(value, v_proj_weight, b_v)

    attn_mask = _additive(attn_mask, dtype, where_, "attn_mask", True)
    kpm = _additive(kpm, dtype, where_, "key_padding_mask", True)
    if attn_mask is not None and attn_mask.ndim == 2:
        attn_mask = attn_mask.unsqueeze(0)

    if bias_k is not None and bias_v is not None:
        k = cat([k, bias_k.expand(1, bsz, embed_dim)])
        v = cat([v, bias_v.expand(1, bsz, embed_dim)])
        attn_mask = _pad_last(attn_mask)
        kpm = _pad_last(kpm)
    elif (bias_k is None) != (bias_v is None):
        raise ConfigError(f"{where_}: bias_k and bias_v must both be given or both be None")

    # (L, N, E) -> (N·heads, L, head_dim)
    q = q.reshape(tgt_len, bsz * num_heads, head_dim).transpose(0, 1)
    k = k.reshape(k.shape[0], bsz * num_heads, head_dim).transpose(0, 1)
    v = v.reshape(v.shape[0], bsz * num_heads, head_dim).transpose(0, 1)
    if add_zero_attn:
        zeros = Tensor(namespace_of(q._data).zeros((bsz * num_heads, 1, head_dim), dtype=dtype))
        k, v = cat([k, zeros], 1), cat([v, zeros], 1)
        attn_mask = _pad_last(attn_mask)
        kpm = _pad_last(kpm)
    src_len = k.shape[1]
    if kpm is not None:
        kpm = kpm.reshape(bsz, 1, 1, src_len).expand(bsz, num_heads, 1, src_len) \
            .reshape(bsz * num_heads, 1, src_len)
        attn_mask = kpm if attn_mask is None else attn_mask + kpm
    if not training:
        dropout_p = 0.0

    scores = (q * math.sqrt(1.0 / head_dim)) @ k.transpose(-2, -1)
    if attn_mask is not None:
        scores = scores + attn_mask
    # PyTorch's two paths differ on rows where every key is masked: the explicit softmax that
    # returns the weights gives NaN there, the fused kernel used without weights gives zeros
    weights = softmax(scores, -1) if need_weights else safe_softmax(scores)
    if dropout_p > 0.0:
        weights = dropout(weights, dropout_p, True)
    out = (weights @ v).transpose(0, 1).reshape(tgt_len * bsz, embed_dim)
    out = linear(out, out_proj_weight, out_proj_bias).reshape(tgt_len, bsz, -1)
    if not batched:
        out = out.squeeze(1)
    if not need_weights:
        return out, None
    weights = weights.reshape(bsz, num_heads, tgt_len, src_len)
    if average_attn_weights:
        weights = weights.mean(1)
    if not batched:
        weights = weights.squeeze(0)
    return out, weights


def _pad_last(mask):
    """Append one zero column (an extra key nobody masks) to an additive mask."""
    if mask is None:
        return None
    pad = Tensor(namespace_of(mask._data).zeros(mask.shape[:-1] + (1,), dtype=mask._data.dtype))
    return cat([mask, pad], -1)


__all__ = ["causal_mask", "multi_head_attention_forward", "safe_softmax",
           "scaled_dot_product_attention"]
