"""RNN, LSTM, GRU and their cells: PyTorch's names, shapes and init; values and gradients against
torch with torch's weights loaded; gradchecks; long sequences; clear errors."""
import math

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.autograd import gradcheck, gradgradcheck
from chainrule.nn.modules.rnn import time_steps

LAYERS = {"RNN": nn.RNN, "LSTM": nn.LSTM, "GRU": nn.GRU}
CELLS = {"RNNCell": nn.RNNCell, "LSTMCell": nn.LSTMCell, "GRUCell": nn.GRUCell}


def _rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def _pair(name, kwargs, torch):
    """(ours, theirs) in float64 with torch's weights loaded into ours."""
    theirs = getattr(torch.nn, name)(5, 7, **kwargs).double()
    ours = LAYERS[name](5, 7, **kwargs).to(cr.float64)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


CONFIGS = [{}, {"num_layers": 2, "bidirectional": True}, {"batch_first": True, "bias": False},
           {"num_layers": 3}, {"bidirectional": True}]


@pytest.mark.parametrize("name", sorted(LAYERS))
@pytest.mark.parametrize("kwargs", CONFIGS, ids=lambda k: ",".join(f"{a}={b}" for a, b in k.items())
                         or "default")
@pytest.mark.parametrize("with_state", [True, False])
def test_values_and_gradients_match_torch(name, kwargs, with_state):
    torch = pytest.importorskip("torch")
    ours, theirs = _pair(name, kwargs, torch)
    directions = 2 if kwargs.get("bidirectional") else 1
    layers = kwargs.get("num_layers", 1)
    x_np = _rand(3, 6, 5) if kwargs.get("batch_first") else _rand(6, 3, 5)
    h_np, c_np = _rand(directions * layers, 3, 7, seed=1), _rand(directions * layers, 3, 7, seed=2)
    x, tx = cr.tensor(x_np, requires_grad=True), torch.tensor(x_np, requires_grad=True)
    h, th = cr.tensor(h_np, requires_grad=True), torch.tensor(h_np, requires_grad=True)
    c, tc = cr.tensor(c_np, requires_grad=True), torch.tensor(c_np, requires_grad=True)
    lstm = name == "LSTM"
    hx = ((h, c) if lstm else h) if with_state else None
    thx = ((th, tc) if lstm else th) if with_state else None
    out, state = ours(x, hx)
    tout, tstate = theirs(tx, thx)
    np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), atol=1e-12)
    g = _rand(*out.shape, seed=3)
    loss = (out * cr.tensor(g)).sum() + (state[0].sum() + 2 * state[1].sum() if lstm
                                         else state.sum())
    tloss = (tout * torch.tensor(g)).sum() + (tstate[0].sum() + 2 * tstate[1].sum() if lstm
                                              else tstate.sum())
    loss.backward()
    tloss.backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), atol=1e-12)
    if with_state:
        np.testing.assert_allclose(h.grad.numpy(), th.grad.numpy(), atol=1e-12)
    theirs_params = dict(theirs.named_parameters())
    for pname, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), theirs_params[pname].grad.numpy(), atol=1e-11,
                                   err_msg=pname)


@pytest.mark.parametrize("name,kwargs", [("RNN", {"nonlinearity": "relu", "num_layers": 2}),
                                         ("LSTM", {"proj_size": 3, "num_layers": 2,
                                                   "bidirectional": True})])
def test_relu_rnn_and_lstm_projection_match_torch(name, kwargs):
    torch = pytest.importorskip("torch")
    ours, theirs = _pair(name, kwargs, torch)
    x_np = _rand(4, 2, 5)
    x, tx = cr.tensor(x_np, requires_grad=True), torch.tensor(x_np, requires_grad=True)
    out, state = ours(x)
    tout, tstate = theirs(tx)
    np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), atol=1e-12)
    out.sum().backward()
    tout.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), atol=1e-12)
    if name == "LSTM":
        assert state[0].shape == (4, 2, 3) and state[1].shape == (4, 2, 7)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_unbatched_input_matches_torch(name):
    torch = pytest.importorskip("torch")
    ours, theirs = _pair(name, {"num_layers": 2}, torch)
    x_np = _rand(6, 5)
    out, state = ours(cr.tensor(x_np))
    tout, tstate = theirs(torch.tensor(x_np))
    assert out.shape == (6, 7)
    np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), atol=1e-12)
    h = state[0] if name == "LSTM" else state
    assert h.shape == (2, 7)


@pytest.mark.parametrize("name", sorted(CELLS))
@pytest.mark.parametrize("batched", [True, False])
def test_cells_match_torch(name, batched):
    torch = pytest.importorskip("torch")
    theirs = getattr(torch.nn, name)(5, 7).double()
    ours = CELLS[name](5, 7).to(cr.float64)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    x_np = _rand(3, 5) if batched else _rand(5)
    h_np = _rand(3, 7, seed=1) if batched else _rand(7, seed=1)
    x, tx = cr.tensor(x_np, requires_grad=True), torch.tensor(x_np, requires_grad=True)
    h, th = cr.tensor(h_np), torch.tensor(h_np)
    if name == "LSTMCell":
        out, tout = ours(x, (h, h))[1], theirs(tx, (th, th))[1]
    else:
        out, tout = ours(x, h), theirs(tx, th)
    np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), atol=1e-12)
    out.sum().backward()
    tout.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), atol=1e-12)
    default = ours(x)
    assert (default[0] if name == "LSTMCell" else default).shape == out.shape


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_parameter_names_shapes_and_init_as_torch(name):
    torch = pytest.importorskip("torch")
    kwargs = {"num_layers": 2, "bidirectional": True}
    theirs = getattr(torch.nn, name)(5, 16, **kwargs)
    ours = LAYERS[name](5, 16, **kwargs)
    assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in theirs.state_dict().items()]
    bound = 1 / math.sqrt(16)
    for p in ours.parameters():
        assert np.abs(p.data).max() <= bound
        assert np.abs(p.data).max() > 0.5 * bound      # drawn over the whole interval
    assert len(ours.all_weights) == 4 and len(ours.all_weights[0]) == 4


def test_dropout_between_layers_only_in_training():
    cr.manual_seed(0)
    m = nn.LSTM(3, 4, num_layers=2, dropout=0.5)
    x = cr.randn(5, 2, 3)
    m.eval()
    a, b = m(x)[0], m(x)[0]
    np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    m.train()
    c, d = m(x)[0], m(x)[0]
    assert not np.allclose(c.detach().numpy(), d.detach().numpy())
    single = nn.GRU(3, 4, dropout=0.5)        # nothing to drop between layers: deterministic
    np.testing.assert_array_equal(single(x)[0].detach().numpy(), single(x)[0].detach().numpy())


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_gradcheck_float64(name):
    cr.manual_seed(1)
    m = LAYERS[name](2, 3, num_layers=2, bidirectional=True).to(cr.float64)
    x = cr.tensor(_rand(3, 2, 2), requires_grad=True)
    h0 = cr.tensor(_rand(4, 2, 3, seed=4), requires_grad=True)

    def f(x, h0, w):      # w is the parameter itself: gradcheck perturbs it in place
        out, _ = m(x, (h0, h0 * 0.5) if name == "LSTM" else h0)
        return out

    assert gradcheck(f, (x, h0, m.weight_hh_l1_reverse))


@pytest.mark.parametrize("name", sorted(CELLS))
def test_cells_second_order(name):
    cr.manual_seed(2)
    cell = CELLS[name](2, 3).to(cr.float64)
    x = cr.tensor(_rand(2, 2), requires_grad=True)

    def f(x):
        out = cell(x)
        return out[1] if name == "LSTMCell" else out

    assert gradgradcheck(f, (x,))


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_sequence_layers_second_order(name):
    """create_graph through the fused steps, the one-node unbind and stack, both directions."""
    cr.manual_seed(4)
    m = LAYERS[name](2, 2, bidirectional=True).to(cr.float64)
    x = cr.tensor(_rand(3, 1, 2), requires_grad=True)
    assert gradgradcheck(lambda x, w: m(x)[0], (x, m.weight_hh_l0))


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_float32_matches_torch(name):
    torch = pytest.importorskip("torch")
    theirs = getattr(torch.nn, name)(5, 7, batch_first=True)
    ours = LAYERS[name](5, 7, batch_first=True)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    x_np = _rand(4, 9, 5).astype(np.float32) * 3
    x, tx = cr.tensor(x_np, requires_grad=True), torch.tensor(x_np, requires_grad=True)
    out, tout = ours(x)[0], theirs(tx)[0]
    np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), atol=2e-6)
    (out * out).sum().backward()
    (tout * tout).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), atol=2e-5)
    theirs_params = dict(theirs.named_parameters())
    for pname, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), theirs_params[pname].grad.numpy(), rtol=1e-4,
                                   atol=1e-4, err_msg=pname)


def test_backprop_through_a_thousand_steps():
    cr.manual_seed(3)
    m = nn.LSTM(2, 4)
    x = cr.randn(1000, 2, 2, requires_grad=True)
    out, (h, c) = m(x)
    h.sum().backward()
    assert x.grad.shape == (1000, 2, 2)
    assert np.isfinite(x.grad.numpy()).all()
    assert all(np.isfinite(p.grad.numpy()).all() for p in m.parameters())


def test_time_steps_splits_and_backpropagates():
    x = cr.tensor(_rand(11, 2, 3), requires_grad=True)
    parts = time_steps(x)
    assert len(parts) == 11
    for i, p in enumerate(parts):
        np.testing.assert_array_equal(p.detach().numpy(), x.detach().numpy()[i])
    cr.stack([p * (i + 1) for i, p in enumerate(parts)], 0).sum().backward()
    want = np.broadcast_to(np.arange(1, 12, dtype=np.float64)[:, None, None], (11, 2, 3))
    np.testing.assert_array_equal(x.grad.numpy(), want)


# ---- errors ------------------------------------------------------------------------------------
def test_wrong_input_size_names_layer_and_shapes():
    m = nn.LSTM(10, 20, num_layers=2)
    with pytest.raises(cr.ShapeError, match=r"LSTM\(10, 20, num_layers=2\).*input_size. Expected "
                                            r"10, got 5.*\(7, 3, 5\)"):
        m(cr.randn(7, 3, 5))
    with pytest.raises(cr.ShapeError, match=r"Expected input to be 2D or 3D, got 4D"):
        m(cr.randn(7, 3, 5, 10))


def test_wrong_hidden_state_shape_names_expected_and_received():
    m = nn.GRU(4, 6)
    with pytest.raises(cr.ShapeError, match=r"GRU\(4, 6\): Expected hidden size \(1, 3, 6\), got "
                                            r"\[1, 2, 6\]"):
        m(cr.randn(5, 3, 4), cr.zeros(1, 2, 6))
    lstm = nn.LSTM(4, 6)
    with pytest.raises(cr.ShapeError, match=r"Expected hidden\[1\] size \(1, 3, 6\), got "
                                            r"\[1, 3, 5\]"):
        lstm(cr.randn(5, 3, 4), (cr.zeros(1, 3, 6), cr.zeros(1, 3, 5)))
    with pytest.raises(cr.ShapeError, match="For unbatched 2-D input, hidden should also be 2-D"):
        m(cr.randn(5, 4), cr.zeros(1, 1, 6))
    with pytest.raises(cr.errors.ArgumentTypeError, match=r"hx must be a tuple \(h_0, c_0\)"):
        lstm(cr.randn(5, 3, 4), cr.zeros(1, 3, 6))


def test_cell_errors_name_the_cell():
    cell = nn.LSTMCell(4, 6)
    with pytest.raises(cr.ShapeError, match=r"LSTMCell\(4, 6\): input has inconsistent "
                                            r"input_size: got 3 expected 4"):
        cell(cr.randn(2, 3))
    with pytest.raises(cr.ShapeError, match=r"Input batch size 2 doesn't match hidden0 batch "
                                            r"size 3"):
        cell(cr.randn(2, 4), (cr.zeros(3, 6), cr.zeros(3, 6)))
    with pytest.raises(cr.ShapeError, match=r"GRUCell\(4, 6\): hidden has inconsistent "
                                            r"hidden_size: got 5, expected 6"):
        nn.GRUCell(4, 6)(cr.randn(2, 4), cr.zeros(2, 5))


@pytest.mark.parametrize("kwargs,match", [
    ({"dropout": 1.5}, "dropout should be a number in range"),
    ({"num_layers": 0}, "num_layers must be a positive int"),
    ({"proj_size": 20}, "proj_size has to be smaller than hidden_size"),
])
def test_bad_constructor_arguments(kwargs, match):
    with pytest.raises(cr.ConfigError, match=match):
        nn.LSTM(4, 8, **kwargs)


def test_gru_rejects_proj_size_and_rnn_bad_nonlinearity():
    with pytest.raises(cr.ConfigError, match="unknown nonlinearity 'sigmoid'"):
        nn.RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(TypeError):
        nn.GRU(3, 4, proj_size=2)


def test_hidden_state_of_another_dtype_is_rejected_as_torch():
    with pytest.raises(cr.DTypeError, match=r"LSTM\(3, 4\): Input and hidden tensors are not the "
                                            r"same dtype.*float32.*float64"):
        nn.LSTM(3, 4)(cr.randn(2, 1, 3), (cr.zeros(1, 1, 4, dtype=cr.float64), cr.zeros(1, 1, 4)))
    with pytest.raises(cr.DTypeError, match=r"GRUCell\(3, 4\): Input and hidden tensors are not "
                                            r"the same dtype"):
        nn.GRUCell(3, 4)(cr.randn(2, 3), cr.zeros(2, 4, dtype=cr.float64))


def test_integer_input_is_rejected():
    with pytest.raises(cr.DTypeError, match="floating-point input"):
        nn.RNN(3, 4)(cr.zeros(2, 1, 3, dtype=cr.int64))


@pytest.mark.parametrize("bidirectional", [False, True])
def test_lstm_float32_matches_torch_at_the_benchmark_sizes(bidirectional):
    """nn.LSTM(128, 128, batch_first) on a (32, 12, 128) batch, float32, as benchmarks/
    sequences.py runs it (the per-gate recurrent GEMMs, the gate-major backward): output and
    every gradient equal torch's to float32 rounding."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    theirs = torch.nn.LSTM(128, 128, batch_first=True, bidirectional=bidirectional)
    ours = nn.LSTM(128, 128, batch_first=True, bidirectional=bidirectional)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    x_np = _rand(32, 12, 128).astype(np.float32)
    y_np = _rand(32, 12, 128 * (2 if bidirectional else 1), seed=1).astype(np.float32)
    x, tx = cr.tensor(x_np, requires_grad=True), torch.tensor(x_np, requires_grad=True)
    out, tout = ours(x)[0], theirs(tx)[0]
    np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), atol=2e-6)
    ((out - cr.tensor(y_np)) ** 2).mean().backward()
    ((tout - torch.tensor(y_np)) ** 2).mean().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), atol=1e-7)
    theirs_params = dict(theirs.named_parameters())
    for pname, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), theirs_params[pname].grad.numpy(), rtol=1e-4,
                                   atol=1e-7, err_msg=pname)
