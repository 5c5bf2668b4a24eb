"""Transformer layers as PyTorch's: encoder and decoder layers, their stacks, and ``Transformer``.

Each layer is attention and a feed-forward block, each wrapped in a residual connection and a
LayerNorm: post-norm  x = LN(x + Block(x))  (the original paper, the default) or pre-norm
x = x + Block(LN(x))  (``norm_first=True``). Parameter names follow PyTorch (``self_attn``,
``linear1``, ``norm1`` ...), so a PyTorch state_dict loads as is.
"""
import copy

from chainrule.backend import namespace_for
from chainrule.errors import ConfigError, ShapeError
from chainrule.nn import init
from chainrule.nn.functional.activation import gelu, relu
from chainrule.nn.modules.attention import MultiheadAttention, float_dtype, positive_int
from chainrule.nn.modules.container import ModuleList
from chainrule.nn.modules.dropout import Dropout
from chainrule.nn.modules.linear import Linear
from chainrule.nn.modules.module import Module
from chainrule.nn.modules.normalization import LayerNorm
from chainrule.tensor import Tensor

_ACTIVATIONS = {"relu": relu, "gelu": gelu}


def _activation(activation, where):
    if isinstance(activation, str):
        if activation not in _ACTIVATIONS:
            raise ConfigError(f"{where}: activation should be relu/gelu, not {activation!r}")
        return _ACTIVATIONS[activation]
    if not callable(activation):
        raise ConfigError(f"{where}: activation must be 'relu', 'gelu' or a callable, got "
                          f"{activation!r}")
    return activation


def _check_d_model(x, d_model, name, where):
    if not isinstance(x, Tensor) or x.ndim not in (2, 3) or x.shape[-1] != d_model:
        shape = x.shape if isinstance(x, Tensor) else type(x).__name__
        raise ShapeError(f"{where}: expected {name} of shape (S, N, {d_model}), (N, S, "
                         f"{d_model}) with batch_first, or unbatched (S, {d_model}); got {shape}")


def _clones(layer, num_layers, where, arg):
    """*num_layers* deep copies of *layer* (the ``layers`` of a TransformerEncoder/Decoder)."""
    positive_int(num_layers, "num_layers", where)
    if not isinstance(layer, Module):
        raise ConfigError(f"{where}: {arg} must be a module such as cr.nn.{where}Layer, got "
                          f"{type(layer).__name__}")
    return ModuleList([copy.deepcopy(layer) for _ in range(num_layers)])


class _TransformerLayer(Module):
    """What the encoder and decoder layers share: PyTorch's constructor, self-attention, the
    feed-forward block linear2(dropout(activation(linear1(x)))), a LayerNorm and a Dropout per
    residual branch, and the residual step. Attributes are made in PyTorch's order (so are the
    state_dict's keys); the decoder's ``_branches = 3`` adds ``multihead_attn``, norm3, dropout3.
    """

    _branches = 2

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu",
                 layer_norm_eps=1e-5, batch_first=False, norm_first=False, bias=True,
                 device=None, dtype=None):
        super().__init__()
        where, branches = type(self).__name__, self._branches
        positive_int(dim_feedforward, "dim_feedforward", where)
        dtype = float_dtype(dtype, where)

        def attention():
            return MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                      batch_first=batch_first, dtype=dtype)
        self.self_attn = attention()
        if branches == 3:
            self.multihead_attn = attention()
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, dtype=dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, dtype=dtype)
        self.norm_first = bool(norm_first)
        for i in range(1, branches + 1):
            setattr(self, f"norm{i}", LayerNorm(d_model, eps=layer_norm_eps, bias=bias,
                                                dtype=dtype))
        for i in range(1, branches + 1):
            setattr(self, f"dropout{i}", Dropout(dropout))
        self.activation = _activation(activation, where)
        self.d_model = d_model

    def _residual(self, x, norm, block, *args):
        """Pre-norm x + block(norm(x)) with ``norm_first``, else post-norm norm(x + block(x))."""
        if self.norm_first:
            return x + block(norm(x), *args)
        return norm(x + block(x, *args))

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal):
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                           need_weights=False, is_causal=is_causal)[0]
        return self.dropout1(x)

    def _ff_block(self, x):
        x = self.linear2(self.dropout(self.activation(self.linear1(x))))
        return getattr(self, f"dropout{self._branches}")(x)


class TransformerEncoderLayer(_TransformerLayer):
    """Self-attention then a feed-forward block (linear1 → activation → linear2), each residual.

    Post-norm (default): x = norm1(x + SA(x)); x = norm2(x + FF(x)). With ``norm_first``:
    x = x + SA(norm1(x)); x = x + FF(norm2(x)). Arguments and defaults as PyTorch's
    (dim_feedforward=2048, dropout=0.1, activation="relu", layer_norm_eps=1e-5).

    >>> layer = cr.nn.TransformerEncoderLayer(d_model=16, nhead=4, batch_first=True)
    >>> layer(cr.randn(2, 7, 16)).shape
    (2, 7, 16)
    """

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal=False):
        _check_d_model(src, self.d_model, "src", "TransformerEncoderLayer")
        x = self._residual(src, self.norm1, self._sa_block, src_mask, src_key_padding_mask,
                           is_causal)
        return self._residual(x, self.norm2, self._ff_block)


class TransformerDecoderLayer(_TransformerLayer):
    """Masked self-attention, attention over the encoder's memory, and a feed-forward block.

    Post-norm (default): x = norm1(x + SA(x)); x = norm2(x + MHA(x, memory)); x = norm3(x + FF(x));
    ``norm_first`` puts each norm inside its residual branch. Arguments as PyTorch's.

    >>> layer = cr.nn.TransformerDecoderLayer(d_model=16, nhead=4, batch_first=True)
    >>> layer(cr.randn(2, 5, 16), cr.randn(2, 7, 16)).shape
    (2, 5, 16)
    """

    _branches = 3

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=False, memory_is_causal=False):
        where = "TransformerDecoderLayer"
        _check_d_model(tgt, self.d_model, "tgt", where)
        _check_d_model(memory, self.d_model, "memory", where)
        x = self._residual(tgt, self.norm1, self._sa_block, tgt_mask, tgt_key_padding_mask,
                           tgt_is_causal)
        x = self._residual(x, self.norm2, self._mha_block, memory, memory_mask,
                           memory_key_padding_mask, memory_is_causal)
        return self._residual(x, self.norm3, self._ff_block)

    def _mha_block(self, x, mem, attn_mask, key_padding_mask, is_causal):
        x = self.multihead_attn(x, mem, mem, attn_mask=attn_mask,
                                key_padding_mask=key_padding_mask, is_causal=is_causal,
                                need_weights=False)[0]
        return self.dropout2(x)


class TransformerEncoder(Module):
    """*num_layers* copies of *encoder_layer* (``layers.0`` …), then an optional *norm*.

    >>> enc = cr.nn.TransformerEncoder(cr.nn.TransformerEncoderLayer(16, 4), num_layers=2)
    >>> enc(cr.randn(7, 2, 16)).shape
    (7, 2, 16)
    """

    def __init__(self, encoder_layer, num_layers, norm=None, enable_nested_tensor=True,
                 mask_check=True):
        super().__init__()
        self.layers = _clones(encoder_layer, num_layers, "TransformerEncoder", "encoder_layer")
        self.num_layers = num_layers
        self.norm = norm
        self.enable_nested_tensor, self.mask_check = enable_nested_tensor, mask_check

    def forward(self, src, mask=None, src_key_padding_mask=None, is_causal=None):
        out = src
        for layer in self.layers:
            out = layer(out, src_mask=mask, src_key_padding_mask=src_key_padding_mask,
                        is_causal=bool(is_causal))
        return out if self.norm is None else self.norm(out)


class TransformerDecoder(Module):
    """*num_layers* copies of *decoder_layer* (``layers.0`` …), then an optional *norm*.

    >>> dec = cr.nn.TransformerDecoder(cr.nn.TransformerDecoderLayer(16, 4), num_layers=2)
    >>> dec(cr.randn(5, 2, 16), cr.randn(7, 2, 16)).shape
    (5, 2, 16)
    """

    def __init__(self, decoder_layer, num_layers, norm=None):
        super().__init__()
        self.layers = _clones(decoder_layer, num_layers, "TransformerDecoder", "decoder_layer")
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=None, memory_is_causal=False):
        out = tgt
        for layer in self.layers:
            out = layer(out, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                        tgt_key_padding_mask=tgt_key_padding_mask,
                        memory_key_padding_mask=memory_key_padding_mask,
                        tgt_is_causal=bool(tgt_is_causal), memory_is_causal=memory_is_causal)
        return out if self.norm is None else self.norm(out)


class Transformer(Module):
    """The encoder–decoder transformer of "Attention Is All You Need", as ``torch.nn.Transformer``.

    ``forward(src, tgt, src_mask, tgt_mask, memory_mask, *_key_padding_mask)`` runs the encoder on
    src and the decoder on tgt attending to the encoder's output; every weight matrix starts
    Xavier-uniform. ``generate_square_subsequent_mask(n)`` makes the causal mask of a decoder.

    >>> model = cr.nn.Transformer(d_model=16, nhead=4, num_encoder_layers=1,
    ...                           num_decoder_layers=1, dim_feedforward=32)
    >>> model(cr.randn(7, 2, 16), cr.randn(5, 2, 16)).shape
    (5, 2, 16)
    """

    def __init__(self, d_model=512, nhead=8, num_encoder_layers=6, num_decoder_layers=6,
                 dim_feedforward=2048, dropout=0.1, activation="relu", custom_encoder=None,
                 custom_decoder=None, layer_norm_eps=1e-5, batch_first=False, norm_first=False,
                 bias=True, device=None, dtype=None):
        super().__init__()
        dtype = float_dtype(dtype, "Transformer")
        kw = dict(dim_feedforward=dim_feedforward, dropout=dropout, activation=activation,
                  layer_norm_eps=layer_norm_eps, batch_first=batch_first, norm_first=norm_first,
                  bias=bias, dtype=dtype)
        if custom_encoder is not None:
            self.encoder = custom_encoder
        else:
            self.encoder = TransformerEncoder(
                TransformerEncoderLayer(d_model, nhead, **kw), num_encoder_layers,
                LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype))
        if custom_decoder is not None:
            self.decoder = custom_decoder
        else:
            self.decoder = TransformerDecoder(
                TransformerDecoderLayer(d_model, nhead, **kw), num_decoder_layers,
                LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype))
        for p in self.parameters():
            if p.ndim > 1:
                init.xavier_uniform_(p)
        self.d_model, self.nhead, self.batch_first = d_model, nhead, batch_first

    def forward(self, src, tgt, src_mask=None, tgt_mask=None, memory_mask=None,
                src_key_padding_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, src_is_causal=None, tgt_is_causal=None,
                memory_is_causal=False):
        batch_dim = 0 if self.batch_first else 1
        if src.ndim == 3 and tgt.ndim == 3 and src.shape[batch_dim] != tgt.shape[batch_dim]:
            raise ShapeError(f"Transformer: the batch number of src and tgt must be equal, got "
                             f"src {src.shape} and tgt {tgt.shape}")
        memory = self.encoder(src, mask=src_mask, src_key_padding_mask=src_key_padding_mask,
                              is_causal=src_is_causal)
        return self.decoder(tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                            tgt_key_padding_mask=tgt_key_padding_mask,
                            memory_key_padding_mask=memory_key_padding_mask,
                            tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)

    @staticmethod
    def generate_square_subsequent_mask(sz, device=None, dtype=None):
        """The (sz, sz) float mask with -inf above the diagonal and 0 elsewhere.

        >>> cr.nn.Transformer.generate_square_subsequent_mask(3)
        tensor([[  0., -inf, -inf],
                [  0.,   0., -inf],
                [  0.,   0.,   0.]])
        """
        dtype = float_dtype(dtype, "generate_square_subsequent_mask")
        ns = namespace_for(device)
        return Tensor(ns.triu(ns.full((sz, sz), float("-inf"), dtype=dtype), 1))
