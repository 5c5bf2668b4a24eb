"""``MultiheadAttention``: PyTorch's layer, parameter for parameter (in_proj_weight, out_proj)."""

import numpy as np

from chainrule import dtypes
from chainrule.backend import device as _device, xp
from chainrule.errors import ArgumentTypeError, ConfigError, DTypeError, ShapeError
from chainrule.nn import init
from chainrule.nn.functional.attention import multi_head_attention_forward
from chainrule.nn.modules.linear import Linear
from chainrule.nn.modules.module import Module
from chainrule.nn.parameter import Parameter
from chainrule.tensor import Tensor


def positive_int(value, name, where):
    """*value* if it is a positive int, else a ConfigError naming *where* and *name*."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(f"{where}: {name} must be a positive int, got {value!r}")
    return value


def float_dtype(dtype, where):
    """The (floating-point) dtype of new parameters: *dtype* or the default dtype."""
    dtype = dtypes.get_default_dtype() if dtype is None else dtypes.to_dtype(dtype)
    if dtype.kind != "f":
        raise DTypeError(f"{where}: dtype must be a floating-point dtype, got {dtype}")
    return dtype


def check_mask_dtype(mask, name, where):
    """A key_padding_mask or attn_mask must be a bool or float tensor (or None)."""
    if mask is None:
        return None
    dtype = mask._data.dtype if isinstance(mask, Tensor) else np.asarray(mask).dtype
    if dtype.kind not in "bf":
        shape = tuple(mask.shape) if isinstance(mask, Tensor) else np.shape(mask)
        raise DTypeError(f"{where}: only bool and floating types of {name} are supported, got "
                         f"{name} of dtype {dtype} and shape {shape}")
    return mask      # arrays become tensors on the query's device in the function


def _time_major(query, key, value):
    """(N, L, E) → (L, N, E) for each, keeping ``query is key is value`` identities (they pick
    the one-GEMM input projection of self-attention)."""
    q = query.transpose(0, 1)
    k = q if key is query else key.transpose(0, 1)
    v = k if value is key else (q if value is query else value.transpose(0, 1))
    return q, k, v


class MultiheadAttention(Module):
    """MultiHead(Q, K, V) = Concat(head₁, …, head_h) W_O,
    headᵢ = softmax(Q Wᵢ^Q (K Wᵢ^K)ᵀ / √d) V Wᵢ^V.

    Parameters as PyTorch: ``in_proj_weight`` (3E, E) and ``in_proj_bias`` (3E,) when key and
    value have E features, else ``q_proj_weight`` (E, E), ``k_proj_weight`` (E, kdim),
    ``v_proj_weight`` (E, vdim); ``out_proj`` a Linear(E, E); ``bias_k, bias_v`` (1, 1, E) with
    add_bias_kv. Inputs are (L, N, E) (or (N, L, E) with batch_first, or unbatched (L, E)).
    ``forward`` returns (output, weights): weights (N, L, S) averaged over heads, or None with
    need_weights=False. Bool masks mark the pairs that may NOT attend.

    >>> mha = cr.nn.MultiheadAttention(8, 2, batch_first=True)
    >>> x = cr.randn(3, 5, 8)
    >>> out, w = mha(x, x, x)
    >>> out.shape, w.shape
    ((3, 5, 8), (3, 5, 5))
    """

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False,
                 add_zero_attn=False, kdim=None, vdim=None, batch_first=False, device=None,
                 dtype=None):
        super().__init__()
        where = "MultiheadAttention"
        positive_int(embed_dim, "embed_dim", where)
        positive_int(num_heads, "num_heads", where)
        if embed_dim % num_heads:
            raise ConfigError(f"{where}: embed_dim must be divisible by num_heads, got "
                              f"embed_dim={embed_dim} and num_heads={num_heads}")
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) \
                or not 0 <= dropout <= 1:
            raise ConfigError(f"{where}: dropout must be a probability in [0, 1], got "
                              f"{dropout!r}")
        _device(device)
        dtype = float_dtype(dtype, where)
        self.embed_dim, self.num_heads = embed_dim, num_heads
        self.kdim = embed_dim if kdim is None else positive_int(kdim, "kdim", where)
        self.vdim = embed_dim if vdim is None else positive_int(vdim, "vdim", where)
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.dropout, self.batch_first = float(dropout), bool(batch_first)
        self.head_dim = embed_dim // num_heads
        self.add_zero_attn = bool(add_zero_attn)

        def new(*shape):
            return Parameter(Tensor(xp.empty(shape, dtype=dtype)))

        if self._qkv_same_embed_dim:
            self.in_proj_weight = new(3 * embed_dim, embed_dim)
            for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(name, None)
        else:
            self.q_proj_weight = new(embed_dim, embed_dim)
            self.k_proj_weight = new(embed_dim, self.kdim)
            self.v_proj_weight = new(embed_dim, self.vdim)
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = new(3 * embed_dim)
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, dtype=dtype)
        if add_bias_kv:
            self.bias_k, self.bias_v = new(1, 1, embed_dim), new(1, 1, embed_dim)
        else:
            self.bias_k = self.bias_v = None
        self._reset_parameters()

    def _reset_parameters(self):
        """PyTorch's initialisation: Xavier-uniform projections, zero biases, N(0, ·) bias_k/v."""
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            for w in (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
                init.xavier_uniform_(w)
        if self.in_proj_bias is not None:
            init.constant_(self.in_proj_bias, 0.0)
            init.constant_(self.out_proj.bias, 0.0)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
            init.xavier_normal_(self.bias_v)

    def _describe(self):
        return f"MultiheadAttention(embed_dim={self.embed_dim}, num_heads={self.num_heads})"

    def _check_inputs(self, query, key, value):
        where = self._describe()
        for name, x, want in (("query", query, self.embed_dim), ("key", key, self.kdim),
                              ("value", value, self.vdim)):
            if not isinstance(x, Tensor):
                raise ArgumentTypeError(f"{where}: expected {name} to be a cr.Tensor, got "
                                        f"{type(x).__name__}")
            if x.ndim not in (2, 3):
                raise ShapeError(f"{where}: {name} must be 3-D (batched) or 2-D (unbatched), got "
                                 f"shape {x.shape}")
            if x.shape[-1] != want:
                raise ShapeError(f"{where}: expected {name} with {want} features in its last "
                                 f"dimension, got shape {x.shape}")
        if not query.ndim == key.ndim == value.ndim:
            raise ShapeError(f"{where}: query, key and value must all be batched (3-D) or all "
                             f"unbatched (2-D), got {query.shape}, {key.shape}, {value.shape}")

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True,
                attn_mask=None, average_attn_weights=True, is_causal=False):
        self._check_inputs(query, key, value)
        where = self._describe()
        key_padding_mask = check_mask_dtype(key_padding_mask, "key_padding_mask", where)
        attn_mask = check_mask_dtype(attn_mask, "attn_mask", where)
        batched = query.ndim == 3
        if self.batch_first and batched:
            query, key, value = _time_major(query, key, value)
        try:
            out, weights = multi_head_attention_forward(
                query, key, value, self.embed_dim, self.num_heads, self.in_proj_weight,
                self.in_proj_bias, self.bias_k, self.bias_v, self.add_zero_attn, self.dropout,
                self.out_proj.weight, self.out_proj.bias, training=self.training,
                key_padding_mask=key_padding_mask, need_weights=need_weights,
                attn_mask=attn_mask, use_separate_proj_weight=not self._qkv_same_embed_dim,
                q_proj_weight=self.q_proj_weight, k_proj_weight=self.k_proj_weight,
                v_proj_weight=self.v_proj_weight, average_attn_weights=average_attn_weights,
                is_causal=is_causal)
        except (ShapeError, ConfigError) as e:
            raise type(e)(str(e).replace("multi_head_attention_forward", where, 1)) from None
        if self.batch_first and batched:
            out = out.transpose(0, 1)
        return out, weights

    def extra_repr(self):
        return (f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, "
                f"dropout={self.dropout}, batch_first={self.batch_first}")
