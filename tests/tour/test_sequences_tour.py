"""The sequence steps of the tour (vanishing gradients, attention map): the numbers they draw are
measured as they claim, and each writes its PNG."""
import numpy as np
import pytest

from chainrule.tour import attention_map, vanishing_gradients
from chainrule.training.addition import train_addition


def test_gradient_vanishes_faster_in_a_plain_rnn_than_in_an_lstm_with_open_forget_gates():
    curves = vanishing_gradients.measure(seeds=(0,), steps=40)
    factor = {name: vanishing_gradients.per_step_factor(n) for name, n in curves.items()}
    rnn, lstm_default, lstm_bias1, lstm_bias3 = (factor[name] for name, _ in
                                                 vanishing_gradients.CASES)
    assert rnn < 0.8 and lstm_default < 0.8          # both vanish at PyTorch's init
    assert lstm_bias1 > lstm_default and lstm_bias3 > lstm_bias1
    assert lstm_bias3 > 0.95                          # the cell carries the gradient back
    for norms in curves.values():
        assert norms.shape == (40,) and np.all(norms > 0)


def test_gradient_norms_are_those_of_backprop():
    from chainrule.nn import RNN
    from chainrule.random import manual_seed
    manual_seed(0)
    model = RNN(vanishing_gradients.FEATURES, 8)
    norms = vanishing_gradients.gradient_norms(model, seed=0, steps=5)
    assert norms.shape == (5,) and norms[-1] > norms[0]


def test_cross_attention_rows_are_distributions_over_the_question():
    model, _, _ = train_addition("transformer", n_train=300, n_test=10, epochs=1, d_model=16,
                                 nhead=2, layers=1, dim_feedforward=16)
    weights, chars, rows = attention_map.cross_attention(model, "535+68")
    assert chars == list("535+68")
    assert weights.shape == (2, len(rows), 6) and rows[-1] == "end"
    np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-5)


def test_steps_write_their_pngs(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    monkeypatch.setattr(vanishing_gradients, "STEPS", 30)
    path = vanishing_gradients.make(str(tmp_path))
    assert path.endswith(vanishing_gradients.FILENAME)
    model, _, _ = train_addition("transformer", n_train=300, n_test=10, epochs=1, d_model=16,
                                 nhead=2, layers=1, dim_feedforward=16)
    path = attention_map.make(str(tmp_path), model=model)
    assert path.endswith(attention_map.FILENAME)
    for name in (vanishing_gradients.FILENAME, attention_map.FILENAME):
        data = (tmp_path / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    assert vanishing_gradients.__doc__.startswith("Step 13 ")
    assert attention_map.__doc__.startswith("Step 14 ")
