"""Keras 3's attention layers: ``Attention`` (Luong dot-product) and ``MultiHeadAttention``.

Masks follow Keras: a mask marks the steps that are real (True = attend); the masks that
``Embedding(mask_zero=True)`` attaches to the query and value reach these layers by themselves.
Masked scores are replaced by −10⁹ before the softmax, as Keras does (MultiHeadAttention also
zeroes the weights of rows masked entirely). Example::

    >>> mha = cr.layers.MultiHeadAttention(num_heads=2, key_dim=4)
    >>> x = cr.randn(3, 5, 8)
    >>> out, scores = mha(x, x, return_attention_scores=True)
    >>> out.shape, scores.shape
    ((3, 5, 8), (3, 2, 5, 5))
"""
import math

import numpy as np

from chainrule.backend import namespace_of
from chainrule.errors import ArgumentTypeError, ConfigError, DTypeError, ShapeError
from chainrule.keras import regularizers
from chainrule.keras.layers import initializers
from chainrule.keras.layers.base import Layer
from chainrule.keras.layers.masking import MaskedLayer, get_keras_mask, set_keras_mask
from chainrule.keras.layers.registry import serializable
from chainrule.keras.symbolic import is_symbolic, shape_repr
from chainrule.keras.utils import check_choice, check_float, positive_int
from chainrule.nn.functional.dropout import dropout as _dropout
from chainrule.ops.elementwise import where as select
from chainrule.ops.softmax import softmax
from chainrule.random import Generator
from chainrule.tensor import Tensor

_LARGE_NEGATIVE = 1.0e9   # Keras's mask value for float32/float64 scores (65504 for float16)


def _large(dtype):
    return 65504.0 if np.dtype(dtype) == np.float16 else _LARGE_NEGATIVE


def _bool_mask(mask, shape, name, where, ns):
    """A bool array (of namespace *ns*) of *shape* from a Tensor/array mask, or a clear error."""
    if mask is None:
        return None
    data = mask._data if isinstance(mask, Tensor) else ns.asarray(np.asarray(mask))
    if data.dtype.kind not in "biu":
        raise DTypeError(f"{where}: {name} must be a bool (or 0/1 integer) tensor, received "
                         f"dtype {data.dtype}")
    if tuple(data.shape) != tuple(shape):
        raise ShapeError(f"{where}: {name} must have shape {shape}, received a mask of shape "
                         f"{tuple(data.shape)}")
    return data.astype(bool)


def _causal(tq, tv, ns):
    return ns.tril(ns.ones((tq, tv), dtype=bool))


def _generator(seed, where):
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
        raise ConfigError(f"{where}: expected an int or None for seed. Received: seed={seed!r}")
    return None if seed is None else int(seed)


@serializable()
class Attention(MaskedLayer):
    """Dot-product attention: softmax(scores) · value with scores = query · keyᵀ (``"dot"``) or
    Σ tanh(query + key) (``"concat"``), times a learned scalar with ``use_scale``.

    Called on ``[query, value]`` or ``[query, value, key]`` (key defaults to value); *mask* is
    ``[query_mask, value_mask]``; ``return_attention_scores=True`` also returns the weights
    (batch, Tq, Tv); ``use_causal_mask=True`` hides later value steps from each query step.

    >>> q, v = cr.randn(2, 3, 4), cr.randn(2, 5, 4)
    >>> cr.layers.Attention()([q, v]).shape
    (2, 3, 4)
    """

    def __init__(self, use_scale=False, score_mode="dot", dropout=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        where = f"Attention '{self.name}'"
        self.use_scale = bool(use_scale)
        self.score_mode = check_choice(score_mode, "score_mode", where, ("dot", "concat"))
        self.dropout = check_float(dropout, "dropout", where, 0, 1)
        self.seed = _generator(seed, where)
        self._gen = None if self.seed is None else Generator().manual_seed(self.seed)
        self._scores_requested = False

    def __call__(self, inputs, *args, **kwargs):
        self._scores_requested = bool(kwargs.get("return_attention_scores", False))
        return super().__call__(inputs, *args, **kwargs)

    def _split(self, inputs, where):
        if not isinstance(inputs, (list, tuple)) or len(inputs) not in (2, 3) \
                or not all(isinstance(t, (tuple, Tensor)) for t in inputs):
            raise ArgumentTypeError(f"{where}: the inputs must be a list [query, value] or [query, "
                                    f"value, key]. Received: {type(inputs).__name__}")
        return inputs[0], inputs[1], inputs[2] if len(inputs) == 3 else inputs[1]

    def build(self, input_shape):
        where = f"Attention '{self.name}'"
        q, v, k = self._split(input_shape, where)
        if q[-1] is not None and k[-1] is not None and q[-1] != k[-1]:
            raise ShapeError(f"{where}: query and key must have the same last dimension. "
                             f"Received: query_shape={shape_repr(q)}, key_shape={shape_repr(k)}")
        if self.use_scale:
            self.add_weight("scale", (), "ones")
        if self.score_mode == "concat":
            self.add_weight("concat_score_weight", (), "ones")

    def forward(self, inputs, mask=None, training=None, return_attention_scores=False,
                use_causal_mask=False):
        where = f"Attention '{self.name}'"
        q, v, k = self._split(inputs, where)
        for name, t in (("query", q), ("value", v), ("key", k)):
            if t.ndim != 3:
                raise ShapeError(f"{where}: {name} must be 3-D (batch, steps, dim), received "
                                 f"shape {tuple(t.shape)}")
        if k.shape[:2] != v.shape[:2]:
            raise ShapeError(f"{where}: key and value must have the same batch and steps, "
                             f"received {tuple(k.shape)} and {tuple(v.shape)}")
        q_mask = v_mask = None
        ns = namespace_of(q._data)
        if mask is not None:
            if not isinstance(mask, (list, tuple)) or len(mask) not in (2, 3):
                raise ArgumentTypeError(f"{where}: mask must be a list [query_mask, value_mask]. "
                                        f"Received: {type(mask).__name__}")
            q_mask = _bool_mask(mask[0], q.shape[:2], "query_mask", where, ns)
            v_mask = _bool_mask(mask[1], v.shape[:2], "value_mask", where, ns)
        if self.score_mode == "dot":
            scores = q @ k.transpose(1, 2)
            if self.use_scale:
                scores = scores * self.scale
        else:
            summed = (q.unsqueeze(2) + k.unsqueeze(1))
            if self.use_scale:
                summed = summed * self.scale
            scores = self.concat_score_weight * summed.tanh().sum(-1)
        keep = None if v_mask is None else v_mask[:, None, :]
        if use_causal_mask:
            causal = _causal(q.shape[1], v.shape[1], ns)[None]
            keep = causal if keep is None else keep & causal
        if keep is not None:
            scores = scores - Tensor((~keep).astype(scores._data.dtype)
                                     * _large(scores._data.dtype))
        weights = softmax(scores, -1)
        training = self.training if training is None else bool(training)
        dropped = _dropout(weights, self.dropout, True, generator=self._gen) \
            if training and self.dropout > 0 else weights
        result = dropped @ v
        if q_mask is not None:
            result = result * Tensor(q_mask[..., None].astype(result._data.dtype))
        return [result, weights] if return_attention_scores else result

    def compute_output_shape(self, input_shape):
        q, v, _ = self._split(input_shape, f"Attention '{self.name}'")
        out = tuple(q[:-1]) + (v[-1],)
        return [out, (q[0], q[1], v[1])] if self._scores_requested else out

    def compute_mask(self, inputs, mask=None):
        q_mask = mask[0] if isinstance(mask, (list, tuple)) and mask else None
        return [q_mask, None] if self._scores_requested else q_mask

    def get_config(self):
        return {**super().get_config(), "use_scale": self.use_scale,
                "score_mode": self.score_mode, "dropout": self.dropout, "seed": self.seed}


@serializable()
class MultiHeadAttention(Layer):
    """Keras 3's multi-head attention: ``layer(query, value, key=None, ...)``.

    Projections are einsum kernels as Keras's: query (dim, heads, key_dim), key (dim, heads,
    key_dim), value (dim, heads, value_dim), output (heads, value_dim, out); biases (heads, ·)
    and (out,). Each head: softmax(Q Kᵀ / √key_dim + mask) V. The masks of query, value and key
    (from an Embedding with mask_zero, or query_mask=…) and *attention_mask* (batch, T, S), True
    where attention is allowed, are combined with ``use_causal_mask``.
    ``return_attention_scores=True`` also returns the weights (batch, heads, T, S).

    >>> mha = cr.layers.MultiHeadAttention(num_heads=2, key_dim=3)
    >>> mha(cr.randn(2, 4, 6), cr.randn(2, 7, 5)).shape
    (2, 4, 6)
    """

    def __init__(self, num_heads, key_dim, value_dim=None, dropout=0.0, use_bias=True,
                 output_shape=None, attention_axes=None, flash_attention=None,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        where = f"MultiHeadAttention '{self.name}'"
        self.num_heads = positive_int(num_heads, "num_heads", where)
        self.key_dim = positive_int(key_dim, "key_dim", where)
        self.value_dim = self.key_dim if value_dim is None else \
            positive_int(value_dim, "value_dim", where)
        self.dropout = check_float(dropout, "dropout", where, 0, 1)
        self.use_bias = bool(use_bias)
        if isinstance(output_shape, (list, tuple)):
            if len(output_shape) != 1:
                raise ConfigError(f"{where}: only a single output dimension is supported for "
                                  f"output_shape. Received: output_shape={output_shape!r}")
            output_shape = output_shape[0]
        self.output_shape = None if output_shape is None else \
            positive_int(output_shape, "output_shape", where)
        if attention_axes not in (None, 1, (1,), [1]):
            raise ConfigError(f"{where}: only attention over the time axis of 3-D inputs is "
                              f"supported (attention_axes=None). Received: "
                              f"attention_axes={attention_axes!r}")
        self.attention_axes = None
        self.flash_attention = flash_attention
        if activity_regularizer is not None or kernel_constraint is not None \
                or bias_constraint is not None:
            raise ConfigError(f"{where}: activity_regularizer and weight constraints are not "
                              f"supported; leave them None")
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.seed = _generator(seed, where)
        self._gen = None if self.seed is None else Generator().manual_seed(self.seed)
        self._scores_requested = False

    def _where(self):
        return f"MultiHeadAttention '{self.name}'"

    def __call__(self, query, value=None, key=None, **kwargs):
        if isinstance(query, (list, tuple)) and value is None:
            tensors = list(query)        # a recorded graph node calls with the list
        else:
            if value is None:
                raise ArgumentTypeError(f"{self._where()}: missing the value input; call "
                                        f"layer(query, value) or layer(query, value, key)")
            tensors = [query, value] + ([key] if key is not None else [])
        self._scores_requested = bool(kwargs.get("return_attention_scores", False))
        if is_symbolic(tensors):
            return super().__call__(tensors, **kwargs)
        names = ("query_mask", "value_mask", "key_mask")
        for i, (name, t) in enumerate(zip(names, tensors)):
            if kwargs.get(name) is None and not (i == 2 and t is tensors[1]):
                m = get_keras_mask(t)
                if m is not None:
                    kwargs[name] = m
        out = super().__call__(tensors, **kwargs)
        q_mask = kwargs.get("query_mask")
        if q_mask is not None:
            set_keras_mask(out[0] if isinstance(out, list) else out,
                           q_mask if isinstance(q_mask, Tensor) else Tensor(np.asarray(q_mask)))
        return out

    def build(self, input_shape):
        where = self._where()
        if not isinstance(input_shape, list) or len(input_shape) not in (2, 3):
            raise ShapeError(f"{where}: expected the shapes of [query, value(, key)], received "
                             f"{input_shape!r}")
        q, v = input_shape[0], input_shape[1]
        k = input_shape[2] if len(input_shape) == 3 else v
        for name, s in (("query", q), ("value", v), ("key", k)):
            if len(s) != 3 or s[-1] is None:
                raise ShapeError(f"{where}: {name} must be 3-D (batch, steps, dim) with a known "
                                 f"dim, received shape {shape_repr(tuple(s))}")
        if tuple(v[1:-1]) != tuple(k[1:-1]):
            raise ShapeError(f"{where}: All dimensions of `value` and `key`, except the last "
                             f"one, must be equal. Received: value_shape={shape_repr(v)} and "
                             f"key_shape={shape_repr(k)}")
        h, kd, vd = self.num_heads, self.key_dim, self.value_dim
        out_dim = self.output_shape or q[-1]
        for name, shape, bias in (("query", (q[-1], h, kd), (h, kd)),
                                  ("key", (k[-1], h, kd), (h, kd)),
                                  ("value", (v[-1], h, vd), (h, vd)),
                                  ("attention_output", (h, vd, out_dim), (out_dim,))):
            self.add_weight(f"{name}_kernel", shape, self.kernel_initializer,
                            regularizer=self.kernel_regularizer)
            if self.use_bias:
                self.add_weight(f"{name}_bias", bias, self.bias_initializer,
                                regularizer=self.bias_regularizer)

    def _project(self, x, name):
        kernel = getattr(self, f"{name}_kernel")
        d, h, e = kernel.shape
        y = (x @ kernel.reshape(d, h * e)).reshape(x.shape[0], x.shape[1], h, e)
        return y + getattr(self, f"{name}_bias") if self.use_bias else y

    def _attention_mask(self, q, v, query_mask, value_mask, key_mask, attention_mask,
                        use_causal_mask):
        where = self._where()
        ns = namespace_of(q._data)
        b, t, s = q.shape[0], q.shape[1], v.shape[1]
        masks = [_bool_mask(query_mask, (b, t), "query_mask", where, ns),
                 _bool_mask(value_mask, (b, s), "value_mask", where, ns),
                 _bool_mask(key_mask, (b, s), "key_mask", where, ns)]
        auto = None
        if masks[0] is not None:
            auto = masks[0][:, :, None]
        for m in masks[1:]:
            if m is not None:
                auto = m[:, None, :] if auto is None else auto & m[:, None, :]
        if use_causal_mask:
            causal = _causal(t, s, ns)[None]
            auto = causal if auto is None else auto & causal
        if attention_mask is not None:
            data = attention_mask._data if isinstance(attention_mask, Tensor) \
                else ns.asarray(np.asarray(attention_mask))
            if data.dtype.kind not in "biu":
                raise DTypeError(f"{where}: attention_mask must be a bool (or 0/1 integer) "
                                 f"tensor, received dtype {data.dtype}")
            try:
                np.broadcast_shapes(data.shape, (b, t, s))
            except ValueError:
                raise ShapeError(f"{where}: attention_mask must have shape (batch, T, S) = "
                                 f"{(b, t, s)}, received {tuple(data.shape)}") from None
            data = data.astype(bool)
            auto = data if auto is None else auto & data
        return None if auto is None else ns.broadcast_to(auto, (b, t, s))

    def forward(self, inputs, query_mask=None, value_mask=None, key_mask=None,
                attention_mask=None, return_attention_scores=False, training=None,
                use_causal_mask=False):
        where = self._where()
        q, v = inputs[0], inputs[1]
        k = inputs[2] if len(inputs) == 3 else v
        for name, t, dim in (("query", q, self.query_kernel.shape[0]),
                             ("value", v, self.value_kernel.shape[0]),
                             ("key", k, self.key_kernel.shape[0])):
            if t.ndim != 3 or t.shape[-1] != dim:
                raise ShapeError(f"{where}: expected {name} of shape (batch, steps, {dim}), "
                                 f"received {tuple(t.shape)}")
        if q.shape[0] != v.shape[0] or k.shape[:2] != v.shape[:2]:
            raise ShapeError(f"{where}: query, value and key must share the batch size and "
                             f"key/value the steps; received query {tuple(q.shape)}, value "
                             f"{tuple(v.shape)}, key {tuple(k.shape)}")
        mask = self._attention_mask(q, v, query_mask, value_mask, key_mask, attention_mask,
                                    use_causal_mask)
        query = self._project(q, "query") * (1.0 / math.sqrt(self.key_dim))
        key = self._project(k, "key")
        value = self._project(v, "value")
        scores = query.permute(0, 2, 1, 3) @ key.permute(0, 2, 3, 1)     # (B, N, T, S)
        training = self.training if training is None else bool(training)
        if mask is None:
            weights = softmax(scores, -1)
        else:   # -1e9 where masked; Keras's masked Softmax (used when the weights are returned
            # or dropped out) also zeroes rows masked entirely, its fused path leaves them uniform
            keep = Tensor(namespace_of(mask).ascontiguousarray(mask[:, None]))
            weights = softmax(select(keep, scores, -_large(scores._data.dtype)), -1)
            if return_attention_scores or (training and self.dropout > 0):
                weights = select(keep, weights, 0.0)
        dropped = _dropout(weights, self.dropout, True, generator=self._gen) \
            if training and self.dropout > 0 else weights
        heads = (dropped @ value.permute(0, 2, 1, 3)).permute(0, 2, 1, 3)  # (B, T, N, Hv)
        b, t = heads.shape[0], heads.shape[1]
        kernel = self.attention_output_kernel
        out = heads.reshape(b, t, -1) @ kernel.reshape(-1, kernel.shape[-1])
        if self.use_bias:
            out = out + self.attention_output_bias
        return [out, weights] if return_attention_scores else out

    def compute_output_shape(self, input_shape):
        q, v = input_shape[0], input_shape[1]
        out = tuple(q[:-1]) + (self.output_shape or q[-1],)
        if self._scores_requested:
            return [out, (q[0], self.num_heads, q[1], v[1])]
        return out

    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads, "key_dim": self.key_dim,
                "value_dim": self.value_dim, "dropout": self.dropout, "use_bias": self.use_bias,
                "output_shape": self.output_shape, "attention_axes": self.attention_axes,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
                "bias_regularizer": regularizers.serialize(self.bias_regularizer),
                "seed": self.seed}
