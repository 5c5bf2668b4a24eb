"""Transformer encoder/decoder layers, their stacks and nn.Transformer against torch: parameter
names, values and gradients with torch's weights loaded (post- and pre-norm, relu and gelu,
batch_first, masks), gradcheck, and clear errors."""
import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.autograd import gradcheck


def _rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def _np(t):
    return t.detach().numpy()


def _load(ours, theirs):
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})


def _grads_match(ours, theirs):
    theirs_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), theirs_params[name].grad.numpy(), atol=1e-10,
                                   err_msg=name)


CONFIGS = [{}, {"norm_first": True, "activation": "gelu", "batch_first": True}]


@pytest.mark.parametrize("kwargs", CONFIGS, ids=["post-norm", "pre-norm-gelu-batch-first"])
def test_encoder_layer_matches_torch(kwargs):
    torch = pytest.importorskip("torch")
    theirs = torch.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, **kwargs).double()
    ours = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, **kwargs).to(cr.float64)
    _load(ours, theirs)
    bf = kwargs.get("batch_first", False)
    x = _rand(3, 5, 8) if bf else _rand(5, 3, 8)
    kpm = np.zeros((3, 5), dtype=bool)
    kpm[0, -1] = True
    causal = np.triu(np.ones((5, 5), dtype=bool), 1)
    tx, cx = torch.tensor(x, requires_grad=True), cr.tensor(x, requires_grad=True)
    ty = theirs(tx, src_mask=torch.tensor(causal), src_key_padding_mask=torch.tensor(kpm))
    cy = ours(cx, src_mask=cr.tensor(causal), src_key_padding_mask=cr.tensor(kpm))
    np.testing.assert_allclose(_np(cy), ty.detach().numpy(), atol=1e-12)
    g = _rand(*x.shape, seed=1)
    ty.backward(torch.tensor(g))
    cy.backward(cr.tensor(g))
    np.testing.assert_allclose(cx.grad.numpy(), tx.grad.numpy(), atol=1e-11)
    _grads_match(ours, theirs)


@pytest.mark.parametrize("kwargs", CONFIGS, ids=["post-norm", "pre-norm-gelu-batch-first"])
def test_decoder_layer_matches_torch(kwargs):
    torch = pytest.importorskip("torch")
    theirs = torch.nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0, **kwargs).double()
    ours = nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0, **kwargs).to(cr.float64)
    _load(ours, theirs)
    bf = kwargs.get("batch_first", False)
    tgt = _rand(3, 4, 8) if bf else _rand(4, 3, 8)
    mem = _rand(3, 6, 8, seed=1) if bf else _rand(6, 3, 8, seed=1)
    mask = nn.Transformer.generate_square_subsequent_mask(4).to(cr.float64)
    mkpm = np.zeros((3, 6), dtype=bool)
    mkpm[2, :2] = True
    tt, tm = torch.tensor(tgt, requires_grad=True), torch.tensor(mem, requires_grad=True)
    ct, cm = cr.tensor(tgt, requires_grad=True), cr.tensor(mem, requires_grad=True)
    ty = theirs(tt, tm, tgt_mask=torch.tensor(mask.numpy()),
                memory_key_padding_mask=torch.tensor(mkpm), tgt_is_causal=True)
    cy = ours(ct, cm, tgt_mask=mask, memory_key_padding_mask=cr.tensor(mkpm), tgt_is_causal=True)
    np.testing.assert_allclose(_np(cy), ty.detach().numpy(), atol=1e-12)
    ty.square().sum().backward()
    (cy * cy).sum().backward()
    np.testing.assert_allclose(cm.grad.numpy(), tm.grad.numpy(), atol=1e-10)
    np.testing.assert_allclose(ct.grad.numpy(), tt.grad.numpy(), atol=1e-10)
    _grads_match(ours, theirs)


def test_stacks_and_transformer_match_torch():
    torch = pytest.importorskip("torch")
    theirs = torch.nn.Transformer(8, 2, 2, 2, 16, dropout=0.0).double()
    ours = nn.Transformer(8, 2, 2, 2, 16, dropout=0.0).to(cr.float64)
    _load(ours, theirs)
    assert "encoder.layers.1.self_attn.in_proj_weight" in ours.state_dict()
    src, tgt = _rand(6, 2, 8), _rand(4, 2, 8, seed=1)
    mask = nn.Transformer.generate_square_subsequent_mask(4).to(cr.float64)
    ty = theirs(torch.tensor(src), torch.tensor(tgt), tgt_mask=torch.tensor(mask.numpy()))
    cy = ours(cr.tensor(src), cr.tensor(tgt), tgt_mask=mask)
    np.testing.assert_allclose(_np(cy), ty.detach().numpy(), atol=1e-12)


def test_encoder_layers_are_independent_copies():
    layer = nn.TransformerEncoderLayer(8, 2, 16)
    enc = nn.TransformerEncoder(layer, 3, norm=nn.LayerNorm(8))
    assert len(enc.layers) == 3
    w = [m.linear1.weight for m in enc.layers]
    assert w[0] is not w[1] and np.array_equal(w[0].data, w[1].data)
    with cr.no_grad():
        w[0].data[...] = 0
    assert not np.array_equal(w[0].data, w[1].data)
    assert enc(cr.randn(5, 2, 8)).shape == (5, 2, 8)


def test_dropout_only_in_training_and_gelu_callable():
    cr.manual_seed(0)
    layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.5, activation=cr.nn.functional.gelu)
    x = cr.randn(4, 2, 8)
    layer.eval()
    np.testing.assert_array_equal(_np(layer(x)), _np(layer(x)))
    layer.train()
    assert not np.allclose(_np(layer(x)), _np(layer(x)))


def test_generate_square_subsequent_mask():
    m = nn.Transformer.generate_square_subsequent_mask(3)
    assert m.dtype == cr.float32
    np.testing.assert_array_equal(m.numpy(), [[0, -np.inf, -np.inf], [0, 0, -np.inf], [0, 0, 0]])


def test_encoder_layer_gradcheck():
    cr.manual_seed(1)
    layer = nn.TransformerEncoderLayer(4, 2, 6, dropout=0.0, batch_first=True).to(cr.float64)
    x = cr.tensor(_rand(2, 3, 4), requires_grad=True)
    assert gradcheck(lambda x, w: layer(x), (x, layer.linear1.weight))


def test_errors():
    with pytest.raises(cr.ConfigError, match="activation should be relu/gelu, not 'tanh'"):
        nn.TransformerEncoderLayer(8, 2, activation="tanh")
    with pytest.raises(cr.ConfigError, match="embed_dim must be divisible by num_heads"):
        nn.TransformerDecoderLayer(10, 4)
    layer = nn.TransformerEncoderLayer(8, 2, 16)
    with pytest.raises(cr.ShapeError, match=r"TransformerEncoderLayer: expected src of shape "
                                            r"\(S, N, 8\).*got \(5, 2, 6\)"):
        layer(cr.randn(5, 2, 6))
    with pytest.raises(cr.ShapeError, match="batch number of src and tgt must be equal"):
        nn.Transformer(8, 2, 1, 1, 16)(cr.randn(5, 2, 8), cr.randn(4, 3, 8))
