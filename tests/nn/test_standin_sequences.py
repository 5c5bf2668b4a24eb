"""Recurrent, attention and transformer layers (PyTorch- and Keras-style) on the "cuda" device
played by the CPU stand-in for CuPy: values and gradients equal the CPU's, and a training step
makes no host↔device copy."""
import numpy as np
import pytest

import chainrule as cr
from chainrule.backend import cuda as cuda_backend, standin


@pytest.fixture(scope="module")
def ns():
    with cuda_backend.use_standin() as namespace:
        yield namespace


def _x(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def _run(build, inputs, device, call=None):
    """Output and input/parameter gradients of a fresh model (seeded) on *device*."""
    cr.manual_seed(0)
    model = build()
    if isinstance(model, cr.layers.Layer) and not model.built:   # Keras: weights first, then move
        shape = inputs[0].shape
        model.build([shape, shape] if isinstance(model, cr.layers.MultiHeadAttention) else shape)
    model = model.to(cr.float64).to(device)
    xs = [cr.tensor(a).to(device).requires_grad_() if a.dtype.kind == "f" else
          cr.tensor(a).to(device) for a in inputs]
    out = call(model, *xs) if call else model(*xs)
    out = out[0] if isinstance(out, (tuple, list)) else out
    (out * out).sum().backward()
    grads = [x.grad.cpu().numpy() for x in xs if x.requires_grad]
    grads += [p.grad.cpu().numpy() for p in model.parameters()]
    return out.detach().cpu().numpy(), grads


def _mask_call(model, x, m):
    return model(x, x, x, key_padding_mask=m)[0]


CASES = [
    ("lstm", lambda: cr.nn.LSTM(3, 4, num_layers=2, bidirectional=True), [_x(5, 2, 3)], None),
    ("gru", lambda: cr.nn.GRU(3, 4, batch_first=True), [_x(2, 5, 3)], None),
    ("rnn_cell", lambda: cr.nn.RNNCell(3, 4), [_x(2, 3)], None),
    ("mha", lambda: cr.nn.MultiheadAttention(8, 2), [_x(5, 2, 8), np.eye(2, 5, dtype=bool)],
     _mask_call),
    ("encoder", lambda: cr.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0), [_x(5, 2, 8)],
     lambda m, x: m(x, src_mask=cr.nn.Transformer.generate_square_subsequent_mask(
         5, device=x.device, dtype=cr.float64))),
    ("transformer", lambda: cr.nn.Transformer(8, 2, 1, 1, 16, dropout=0.0),
     [_x(5, 2, 8), _x(4, 2, 8, seed=1)], None),
    ("keras_lstm", lambda: cr.layers.LSTM(4, return_sequences=True, dtype="float64"),
     [_x(2, 5, 3), np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], dtype=bool)],
     lambda m, x, mask: m(x, mask=mask)),
    ("keras_mha", lambda: cr.layers.MultiHeadAttention(2, 3, dtype="float64"), [_x(2, 4, 5)],
     lambda m, x: m(x, x, use_causal_mask=True)),
]


@pytest.mark.parametrize("name,build,inputs,call", CASES, ids=[c[0] for c in CASES])
def test_values_and_gradients_equal_the_cpus(ns, name, build, inputs, call):
    cpu_out, cpu_grads = _run(build, inputs, "cpu", call)
    dev_out, dev_grads = _run(build, inputs, "cuda", call)
    np.testing.assert_allclose(dev_out, cpu_out, atol=1e-12)
    assert len(dev_grads) == len(cpu_grads)
    for a, b in zip(dev_grads, cpu_grads):
        np.testing.assert_allclose(a, b, atol=1e-11)


def test_training_steps_make_no_host_device_copy(ns):
    x = cr.tensor(_x(6, 3, 4).astype(np.float32)).to("cuda")
    for model in (cr.nn.LSTM(4, 5), cr.nn.TransformerEncoderLayer(4, 2, 8, dropout=0.0)):
        model.to("cuda")
        opt = cr.optim.Adam(model.parameters(), lr=1e-3)
        for _ in range(2):
            standin.reset_transfers()
            opt.zero_grad()
            out = model(x)
            out = out[0] if isinstance(out, tuple) else out
            (out * out).mean().backward()
            opt.step()
            assert standin.transfers == {"to_device": 0, "to_host": 0}, type(model).__name__
