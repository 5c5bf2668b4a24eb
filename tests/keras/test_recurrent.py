"""Keras-style SimpleRNN, LSTM, GRU, Bidirectional, TimeDistributed and Embedding masks, checked
against an independent NumPy implementation of Keras 3's equations (gate orders, kernel layouts,
reset_after, go_backwards, return_state, masking); gradients by gradcheck; saving; errors."""
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


# ---- the reference: Keras 3's equations in NumPy ---------------------------------------------
def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def keras_cell(kind, x, states, kernel, recurrent, bias, units, reset_after=True):
    """One step of Keras's SimpleRNNCell / LSTMCell / GRUCell (implementation 2)."""
    u = units
    if kind == "SimpleRNN":
        h = np.tanh(x @ kernel + states[0] @ recurrent + bias)
        return h, [h]
    if kind == "LSTM":
        h, c = states
        z = x @ kernel + h @ recurrent + bias
        i, f, g, o = z[:, :u], z[:, u:2 * u], z[:, 2 * u:3 * u], z[:, 3 * u:]
        c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
        h = _sigmoid(o) * np.tanh(c)
        return h, [h, c]
    h = states[0]
    if reset_after:
        xz = x @ kernel + bias[0]
        inner = h @ recurrent + bias[1]
        z = _sigmoid(xz[:, :u] + inner[:, :u])
        r = _sigmoid(xz[:, u:2 * u] + inner[:, u:2 * u])
        hh = np.tanh(xz[:, 2 * u:] + r * inner[:, 2 * u:])
    else:
        xz = x @ kernel + bias
        inner = h @ recurrent[:, :2 * u]
        z = _sigmoid(xz[:, :u] + inner[:, :u])
        r = _sigmoid(xz[:, u:2 * u] + inner[:, u:])
        hh = np.tanh(xz[:, 2 * u:] + (r * h) @ recurrent[:, 2 * u:])
    h = z * h + (1 - z) * hh
    return h, [h]


def keras_rnn(kind, x, weights, units, mask=None, go_backwards=False, reset_after=True,
              zero_output_for_mask=False):
    """keras.src.backend.numpy.rnn (unroll=False): masked steps keep the previous state and
    output the previous h (or zeros); with go_backwards the outputs stay in processing order."""
    kernel, recurrent, bias = weights
    batch, steps, _ = x.shape
    states = [np.zeros((batch, units))] * (2 if kind == "LSTM" else 1)
    order = range(steps - 1, -1, -1) if go_backwards else range(steps)
    outputs = []
    for t in order:
        out, new = keras_cell(kind, x[:, t], states, kernel, recurrent, bias, units, reset_after)
        if mask is not None:
            m = mask[:, t][:, None]
            out = np.where(m, out, 0.0 if zero_output_for_mask else states[0])
            new = [np.where(m, n, s) for n, s in zip(new, states)]
        states = new
        outputs.append(out)
    return np.stack(outputs, 1), outputs[-1], states


KINDS = {"SimpleRNN": layers.SimpleRNN, "LSTM": layers.LSTM, "GRU": layers.GRU}
MASK = np.array([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1], [0, 1, 1, 0, 1, 0]], dtype=bool)


def _randomised(layer, shape, seed=1):
    layer.build(shape)
    layer.set_weights([_rand(*w.shape, seed=seed + i) * 0.5
                       for i, w in enumerate(layer.get_weights())])
    return layer


@pytest.mark.parametrize("kind,extra", [("SimpleRNN", {}), ("LSTM", {}), ("GRU", {}),
                                        ("GRU", {"reset_after": False})],
                         ids=["SimpleRNN", "LSTM", "GRU", "GRU-reset_before"])
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("masked", [False, True])
def test_layers_follow_keras_equations(kind, extra, go_backwards, masked):
    x = _rand(3, 6, 4)
    layer = _randomised(KINDS[kind](5, return_sequences=True, return_state=True,
                                    go_backwards=go_backwards, **extra), x.shape)
    seq, *states = layer(cr.tensor(x), mask=cr.tensor(MASK) if masked else None)
    want_seq, want_last, want_states = keras_rnn(
        kind, x, layer.get_weights(), 5, MASK if masked else None, go_backwards,
        extra.get("reset_after", True))
    np.testing.assert_allclose(_np(seq), want_seq, atol=1e-5)
    for got, want in zip(states, want_states):
        np.testing.assert_allclose(_np(got), want, atol=1e-5)
    last = KINDS[kind](5, go_backwards=go_backwards, **extra)
    last.build(x.shape)
    last.set_weights(layer.get_weights())
    np.testing.assert_allclose(_np(last(cr.tensor(x), mask=cr.tensor(MASK) if masked else None)),
                               want_last, atol=1e-5)


def test_keras_defaults_shapes_and_initialisation():
    lstm = layers.LSTM(8)
    lstm.build((None, 5, 3))
    kernel, recurrent, bias = lstm.get_weights()
    assert kernel.shape == (3, 32) and recurrent.shape == (8, 32) and bias.shape == (32,)
    np.testing.assert_array_equal(bias, np.r_[np.zeros(8), np.ones(8), np.zeros(16)])
    np.testing.assert_allclose(recurrent @ recurrent.T, np.eye(8), atol=1e-5)   # orthogonal
    gru = layers.GRU(4)
    gru.build((None, 5, 3))
    assert gru.reset_after and gru.get_weights()[2].shape == (2, 12)
    assert lstm.name.startswith("lstm") and gru.name.startswith("gru")
    assert layers.SimpleRNN(2).name.startswith("simple_rnn")


def test_bidirectional_matches_reference_and_merge_modes():
    x = _rand(3, 6, 4)
    for merge in ("concat", "sum", "ave", "mul", None):
        bi = layers.Bidirectional(layers.LSTM(5, return_sequences=True), merge_mode=merge)
        bi.build(x.shape)
        bi.set_weights([_rand(*w.shape, seed=i) * 0.5 for i, w in enumerate(bi.get_weights())])
        w = bi.get_weights()
        fwd, _, _ = keras_rnn("LSTM", x, w[:3], 5, MASK, zero_output_for_mask=True)
        bwd, _, _ = keras_rnn("LSTM", x, w[3:], 5, MASK, go_backwards=True,
                              zero_output_for_mask=True)
        bwd = bwd[:, ::-1]
        want = {"concat": np.concatenate([fwd, bwd], -1), "sum": fwd + bwd,
                "ave": (fwd + bwd) / 2, "mul": fwd * bwd, None: [fwd, bwd]}[merge]
        got = bi(cr.tensor(x), mask=cr.tensor(MASK))
        if merge is None:
            for g, wv in zip(got, want):
                np.testing.assert_allclose(_np(g), wv, atol=1e-5)
        else:
            np.testing.assert_allclose(_np(got), want, atol=1e-5)
    assert bi.forward_layer.name.startswith("forward_") and bi.backward_layer.go_backwards


def test_bidirectional_return_state_lists_forward_then_backward_states():
    bi = layers.Bidirectional(layers.LSTM(4, return_state=True))
    out, h_f, c_f, h_b, c_b = bi(cr.randn(2, 5, 3))
    assert out.shape == (2, 8) and h_b.shape == (2, 4)
    np.testing.assert_allclose(_np(out)[:, :4], _np(h_f), atol=1e-6)
    np.testing.assert_allclose(_np(out)[:, 4:], _np(h_b), atol=1e-6)


def test_bidirectional_with_a_backward_layer_of_other_units():
    """The symbolic shapes are the computed ones: concat gives 3 + 2 units, the states are each
    layer's own, and a merge that needs equal shapes says which two it got."""
    x = layers.Input((4, 5))
    bi = layers.Bidirectional(layers.GRU(3, return_state=True),
                              backward_layer=layers.GRU(2, go_backwards=True, return_state=True))
    out, h_f, h_b = bi(x)
    assert (out.shape, h_f.shape, h_b.shape) == ((None, 5), (None, 3), (None, 2))
    model = cr.Model(x, layers.Dense(1)(out))
    y, s_f, s_b = bi(cr.randn(2, 4, 5))
    assert y.shape == (2, 5) and model(cr.randn(2, 4, 5)).shape == (2, 1)
    with pytest.raises(cr.errors.ShapeError, match=r"forward layer gives \(None, 3\)"):
        layers.Bidirectional(layers.GRU(3), merge_mode="sum",
                             backward_layer=layers.GRU(2, go_backwards=True))(x)


def test_time_distributed_applies_one_layer_to_every_step():
    x = _rand(2, 5, 3)
    td = layers.TimeDistributed(layers.Dense(4))
    y = td(cr.tensor(x))
    kernel, bias = td.get_weights()
    np.testing.assert_allclose(_np(y), x @ kernel + bias, atol=1e-5)
    assert td.compute_output_shape((None, 5, 3)) == (None, 5, 4)


def test_embedding_mask_reaches_recurrent_layers_in_a_functional_model():
    ids = np.array([[3, 4, 0, 0], [1, 2, 5, 0]])
    inputs = layers.Input((4,), dtype="int64")
    emb = layers.Embedding(8, 3, mask_zero=True)
    lstm = layers.LSTM(5, return_sequences=True)
    model = cr.Model(inputs, lstm(emb(inputs)))
    got = _np(model(ids))
    vectors = emb.get_weights()[0][ids]
    want, _, _ = keras_rnn("LSTM", vectors, lstm.get_weights(), 5, ids != 0)
    np.testing.assert_allclose(got, want, atol=1e-5)
    # steps after the padding repeat the last real output, as Keras
    np.testing.assert_allclose(got[0, 3], got[0, 1], atol=1e-6)
    e = emb(cr.tensor(ids))
    np.testing.assert_array_equal(get_keras_mask(e).numpy(), ids != 0)
    assert get_keras_mask(lstm(e)) is not None
    assert get_keras_mask(layers.LSTM(2)(e)) is None      # no sequence out: no mask


def test_stateful_layer_keeps_its_states_between_calls():
    x = cr.randn(2, 3, 4)
    layer = layers.GRU(3, stateful=True)
    a = _np(layer(x))
    b = _np(layer(x))
    assert not np.allclose(a, b)
    layer.reset_states()
    np.testing.assert_allclose(_np(layer(x)), a, atol=1e-6)


def test_dropout_only_in_training_and_gradients():
    cr.manual_seed(0)
    layer = layers.LSTM(4, dropout=0.5, recurrent_dropout=0.5, seed=1)
    x = cr.randn(2, 5, 3)
    np.testing.assert_array_equal(_np(layer(x, training=False)), _np(layer(x, training=False)))
    assert not np.allclose(_np(layer(x, training=True)), _np(layer(x, training=True)))
    layer.eval()         # modes follow PyTorch: eval() switches dropout off
    np.testing.assert_array_equal(_np(layer(x)), _np(layer(x, training=False)))
    g = layers.GRU(3, dtype="float64", return_sequences=True)
    xx = cr.tensor(_rand(2, 4, 2), requires_grad=True)
    g.build(xx.shape)
    assert gradcheck(lambda xx, k: g(xx, mask=cr.tensor(MASK[:2, :4])), (xx, g.kernel))


def test_fit_learns_and_save_load_round_trips(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(1, 6, size=(64, 5))
    x[:, 3:] = np.where(rng.random((64, 2)) < 0.5, 0, x[:, 3:])
    y = (x[:, 0] > 3).astype(np.float32)[:, None]
    model = cr.Sequential([layers.Input((5,), dtype="int64"),
                           layers.Embedding(6, 4, mask_zero=True),
                           layers.Bidirectional(layers.GRU(6)),
                           layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    hist = model.fit(x, y, epochs=15, batch_size=16, verbose=0)
    assert hist.history["loss"][-1] < hist.history["loss"][0]
    path = tmp_path / "m.keras"
    model.save(str(path))
    again = cr.load_model(str(path))
    np.testing.assert_allclose(again.predict(x, verbose=0), model.predict(x, verbose=0),
                               atol=1e-6)


# ---- errors ------------------------------------------------------------------------------------
def test_wrong_input_rank_and_size_name_the_layer():
    layer = layers.LSTM(4, name="enc")
    with pytest.raises(cr.ShapeError, match=r'layer "enc" is incompatible.*expected ndim=3, '
                                            r'found ndim=2'):
        layer(cr.randn(2, 3))
    layer(cr.randn(2, 3, 5))
    with pytest.raises(cr.ShapeError, match=r"expected axis -1 of input shape to have value 5, "
                                            r"but received input with shape \(2, 3, 6\)"):
        layer(cr.randn(2, 3, 6))


def test_bad_masks_and_states_are_refused():
    layer = layers.GRU(4, name="g")
    x = cr.randn(2, 3, 5)
    with pytest.raises(cr.ShapeError, match=r"GRU 'g': mask must have shape \(batch, timesteps\) "
                                            r"= \(2, 3\).*\(3, 2\)"):
        layer(x, mask=cr.ones(3, 2, dtype=cr.bool))
    with pytest.raises(cr.DTypeError, match=r"GRU 'g': mask must be a bool"):
        layer(x, mask=cr.ones(2, 3))
    with pytest.raises(cr.ShapeError, match=r"initial_state\[0\] must have shape \(batch, units\) "
                                            r"= \(2, 4\); received shape \(2, 3\)"):
        layer(x, initial_state=[cr.zeros(2, 3)])
    with pytest.raises(cr.ShapeError, match="initial_state must be a list of 2 tensors"):
        layers.LSTM(4)(x, initial_state=[cr.zeros(2, 4)])


def test_bad_constructor_arguments():
    with pytest.raises(cr.ConfigError, match="units"):
        layers.LSTM(0)
    with pytest.raises(cr.ConfigError, match="dropout"):
        layers.GRU(3, dropout=1.5)
    with pytest.raises(cr.ConfigError, match="Invalid merge mode"):
        layers.Bidirectional(layers.LSTM(3), merge_mode="max")
    with pytest.raises(cr.errors.ArgumentTypeError, match="Bidirectional"):
        layers.Bidirectional(cr.nn.LSTM(3, 3))
    with pytest.raises(cr.DTypeError, match="expected integer ids"):
        layers.Embedding(5, 2)(cr.tensor([[0.5, 1.0]]))
    with pytest.raises(IndexError, match=r"Embedding 'emb' \(input_dim=5\).*index 7"):
        layers.Embedding(5, 2, name="emb")(cr.tensor([[1, 7]]))


def test_encoder_decoder_with_initial_state_in_a_functional_model(tmp_path):
    enc_in, dec_in = layers.Input((5,), dtype="int64"), layers.Input((4,), dtype="int64")
    emb = layers.Embedding(10, 6, mask_zero=True)
    _, h, c = layers.LSTM(8, return_state=True)(emb(enc_in))
    dec = layers.LSTM(8, return_sequences=True)(emb(dec_in), initial_state=[h, c])
    model = cr.Model([enc_in, dec_in], layers.TimeDistributed(layers.Dense(10))(dec))
    x1, x2 = np.array([[1, 2, 3, 0, 0]]), np.array([[4, 5, 0, 0]])
    got = _np(model([x1, x2]))
    enc, dec_layer = model.layers[3], model.layers[4]
    table = emb.get_weights()[0]
    _, _, (h0, c0) = keras_rnn("LSTM", table[x1], enc.get_weights(), 8, x1 != 0)
    kernel, recurrent, bias = dec_layer.get_weights()
    states, seq = [h0, c0], []
    for t in range(4):        # the decoder's reference, started from the encoder's states
        out, new = keras_cell("LSTM", table[x2][:, t], states, kernel, recurrent, bias, 8)
        keep = (x2 != 0)[:, t][:, None]
        states = [np.where(keep, n, s) for n, s in zip(new, states)]
        seq.append(states[0])
    dense_k, dense_b = model.layers[-1].get_weights()
    np.testing.assert_allclose(got, np.stack(seq, 1) @ dense_k + dense_b, atol=1e-5)
    path = tmp_path / "s2s.keras"
    model.save(str(path))
    np.testing.assert_allclose(_np(cr.load_model(str(path))([x1, x2])), got, atol=1e-6)
