"""The fused recurrent step ops (nn/functional/recurrent.py): values against torch's cells,
gradcheck and gradgradcheck in float64 over every input (weights and biases included, with and
without bias, the extra outputs too), forward-mode jvps, Keras's GRU gate order, the one-node
unbind/stack, one graph node per time step, the CPU stand-in for CuPy (first and second order),
and clear errors."""
import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule.autograd import gradcheck, gradgradcheck
from chainrule.backend import cuda as cuda_backend
from chainrule.nn.functional.recurrent import (GRUStep, LSTMStep, RNNStep, gru_cell, lstm_cell,
                                               rnn_relu_cell, rnn_tanh_cell, stack_steps,
                                               unbind_steps)

N, IN, H = 3, 4, 2


def _rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def _inputs(gates, bias, two_states=False, seed=0):
    """x, h (, c), w_ih, w_hh, b_ih, b_hh as float64 tensors that require grad (None biases
    without bias); a few pre-activations near relu's kink are avoided by the random draw."""
    shapes = [(N, IN), (N, H)] + ([(N, H)] if two_states else []) + \
        [(gates * H, IN), (gates * H, H)] + ([(gates * H,), (gates * H,)] if bias else [])
    ts = [cr.tensor(_rand(*s, seed=seed + k), requires_grad=True) for k, s in enumerate(shapes)]
    return ts + ([] if bias else [None, None])


# name: (gates, two states, our cell, torch's cell name)
CELLS = {"lstm": (4, True, lstm_cell, "lstm_cell"), "gru": (3, False, gru_cell, "gru_cell"),
         "rnn_tanh": (1, False, rnn_tanh_cell, "rnn_tanh_cell"),
         "rnn_relu": (1, False, rnn_relu_cell, "rnn_relu_cell")}


def _call(name, args):
    cell = CELLS[name][2]
    if name == "lstm":
        x, h, c, *rest = args
        return cell(x, (h, c), *rest)
    x, h, *rest = args
    return cell(x, h, *rest)


@pytest.mark.parametrize("name", sorted(CELLS))
@pytest.mark.parametrize("bias", [True, False])
def test_cells_match_torch_values_and_gradients(name, bias):
    torch = pytest.importorskip("torch")
    gates, two, _, tname = CELLS[name]
    args = _inputs(gates, bias, two)
    targs = [None if a is None else torch.tensor(a.data, requires_grad=True) for a in args]
    ours = _call(name, args)
    if name == "lstm":
        theirs = getattr(torch, tname)(targs[0], (targs[1], targs[2]), *targs[3:])
    else:
        theirs = getattr(torch, tname)(*targs)
    ours = ours if isinstance(ours, tuple) else (ours,)
    theirs = theirs if isinstance(theirs, tuple) else (theirs,)
    loss, tloss = 0, 0
    for k, (o, t) in enumerate(zip(ours, theirs)):
        np.testing.assert_allclose(o.detach().numpy(), t.detach().numpy(), atol=1e-12)
        w = _rand(*o.shape, seed=10 + k)
        loss = loss + (o * cr.tensor(w)).sum()
        tloss = tloss + (t * torch.tensor(w)).sum()
    loss.backward()
    tloss.backward()
    for a, t in zip(args, targs):
        if a is not None:
            np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), atol=1e-12)


@pytest.mark.parametrize("name", sorted(CELLS))
@pytest.mark.parametrize("bias", [True, False])
def test_cells_gradcheck_and_gradgradcheck_every_input(name, bias):
    gates, two, _, _ = CELLS[name]
    args = [a for a in _inputs(gates, bias, two, seed=20) if a is not None]

    def f(*a):
        return _call(name, list(a) + ([] if bias else [None, None]))

    assert gradcheck(f, args)
    assert gradgradcheck(f, args)


@pytest.mark.parametrize("op", ["lstm", "gru_rzn", "gru_zrn", "rnn_tanh"])
def test_step_ops_with_their_extra_outputs_are_differentiable_twice(op):
    """Every output (the gates of LSTM, aux of GRU) in the loss: their VJP terms are checked."""
    gates = {"lstm": 4, "rnn_tanh": 1}.get(op, 3)
    gx = cr.tensor(_rand(N, gates * H, seed=1), requires_grad=True)
    h = cr.tensor(_rand(N, H, seed=2), requires_grad=True)
    c = cr.tensor(_rand(N, H, seed=3), requires_grad=True)
    w = cr.tensor(_rand(gates * H, H, seed=4), requires_grad=True)
    b = cr.tensor(_rand(gates * H, seed=5), requires_grad=True)
    if op == "lstm":
        args, f = (gx, h, c, w, b), lambda *a: LSTMStep.apply(*a)
    elif op == "rnn_tanh":
        args, f = (gx, h, w, b), lambda *a: RNNStep.apply(*a, "tanh")
    else:
        args, f = (gx, h, w, b), lambda *a: GRUStep.apply(*a, op[4:])
    assert gradcheck(f, args)
    assert gradgradcheck(f, args)


def test_gru_keras_order_is_the_permuted_pytorch_order():
    """order "zrn" on (z, r, n) blocks equals "rzn" on the same blocks as (r, z, n)."""
    gx, h = cr.tensor(_rand(N, 3 * H, seed=1)), cr.tensor(_rand(N, H, seed=2))
    w, b = cr.tensor(_rand(3 * H, H, seed=3)), cr.tensor(_rand(3 * H, seed=4))
    perm = np.r_[H:2 * H, 0:H, 2 * H:3 * H]
    keras = GRUStep.apply(gx, h, w, b, "zrn")[0]
    torch_order = GRUStep.apply(cr.tensor(gx.data[:, perm]), h, cr.tensor(w.data[perm]),
                                cr.tensor(b.data[perm]), "rzn")[0]
    np.testing.assert_allclose(keras.numpy(), torch_order.numpy(), atol=1e-14)


def test_transposed_weight_hint_changes_nothing():
    gx, h, c = (cr.tensor(_rand(N, 4 * H, seed=1)), cr.tensor(_rand(N, H, seed=2)),
                cr.tensor(_rand(N, H, seed=3)))
    w = cr.tensor(_rand(4 * H, H, seed=4))
    plain = LSTMStep.apply(gx, h, c, w, None)
    hinted = LSTMStep.apply(gx, h, c, w, None, np.ascontiguousarray(w.data.T))
    for a, b in zip(plain, hinted):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-14)


def test_relu_step_has_zero_gradient_at_the_kink_as_torch():
    gx = cr.tensor(np.array([[0.0, 1.0]]), requires_grad=True)
    y = RNNStep.apply(gx, cr.zeros(1, 2, dtype=cr.float64), cr.zeros(2, 2, dtype=cr.float64),
                      None, "relu")
    y.sum().backward()
    np.testing.assert_array_equal(gx.grad.numpy(), [[0.0, 1.0]])


def test_unbind_and_stack_are_one_node_each_and_differentiable_twice():
    x = cr.tensor(_rand(5, 2, 3), requires_grad=True)
    parts = unbind_steps(x)
    assert len(parts) == 5 and len({p.grad_fn for p in parts}) == 1
    y = stack_steps(parts)
    np.testing.assert_array_equal(y.detach().numpy(), x.detach().numpy())
    assert gradcheck(lambda t: stack_steps([p * (i + 1) for i, p in enumerate(unbind_steps(t))]),
                     (x,))
    assert gradgradcheck(lambda t: stack_steps([p * p for p in unbind_steps(t)]), (x,))
    unbind_steps(x)[1].sum().backward()          # the slices nobody used get zero gradients
    want = np.zeros((5, 2, 3))
    want[1] = 1
    np.testing.assert_array_equal(x.grad.numpy(), want)


def _count(root, name):
    """How many nodes named *name* are in the graph below *root*."""
    seen, todo, n = set(), [root.grad_fn], 0
    while todo:
        node = todo.pop()
        if node is None or id(node) in seen or not hasattr(node, "next_functions"):
            continue
        seen.add(id(node))
        n += type(node).__name__ == name
        todo.extend(e[0] for e in node.next_functions if e is not None)
    return n


@pytest.mark.parametrize("layer,op", [(cr.nn.LSTM, "LSTMStep"), (cr.nn.GRU, "GRUStep"),
                                      (cr.nn.RNN, "RNNStep")])
def test_sequence_layers_record_one_node_per_time_step(layer, op):
    out, _ = layer(3, 4)(cr.randn(7, 2, 3))
    assert _count(out, op) == 7
    assert _count(out, "Unbind") == 1 and _count(out, "Stack") == 1
    assert _count(out, "Sigmoid") == _count(out, "Mul") == 0


@pytest.mark.parametrize("layer,op", [(cr.layers.LSTM, "LSTMStep"), (cr.layers.GRU, "GRUStep"),
                                      (cr.layers.SimpleRNN, "RNNStep")])
def test_keras_layers_use_the_fused_steps_with_default_activations(layer, op):
    out = layer(4)(cr.randn(2, 6, 3))
    assert _count(out, op) == 6
    composed = layer(4, activation="relu" if op != "RNNStep" else "sigmoid")(cr.randn(2, 6, 3))
    assert _count(composed, op) == 0


JVP_CASES = {
    "lstm": (lambda gx, h, c, w, b: LSTMStep.apply(gx, h, c, w, b),
             [(N, 4 * H), (N, H), (N, H), (4 * H, H), (4 * H,)]),
    "gru_rzn": (lambda gx, h, w, b: GRUStep.apply(gx, h, w, b, "rzn"),
                [(N, 3 * H), (N, H), (3 * H, H), (3 * H,)]),
    "gru_zrn": (lambda gx, h, w, b: GRUStep.apply(gx, h, w, b, "zrn"),
                [(N, 3 * H), (N, H), (3 * H, H), (3 * H,)]),
    "rnn_tanh": (lambda gx, h, w, b: RNNStep.apply(gx, h, w, b, "tanh"),
                 [(N, H), (N, H), (H, H), (H,)]),
    "rnn_relu": (lambda gx, h, w, b: RNNStep.apply(gx, h, w, b, "relu"),
                 [(N, H), (N, H), (H, H), (H,)]),
    "lstm_layer": (lambda x, h, c: cr.nn.LSTM(IN, H, num_layers=2).to(cr.float64)(x, (h, c)),
                   [(5, N, IN), (2, N, H), (2, N, H)]),
}


@pytest.mark.parametrize("name", sorted(JVP_CASES))
def test_forward_mode_jvp_matches_central_differences(name):
    f, shapes = JVP_CASES[name]
    args = [cr.tensor(_rand(*s, seed=40 + k)) for k, s in enumerate(shapes)]
    tangents = [cr.tensor(_rand(*s, seed=50 + k)) for k, s in enumerate(shapes)]

    def flat(out):
        return [o for part in (out if isinstance(out, tuple) else (out,))
                for o in (part if isinstance(part, tuple) else (part,))]

    def at(sign):
        cr.manual_seed(0)
        return flat(f(*[cr.tensor(a.data + sign * 1e-6 * t.data)
                        for a, t in zip(args, tangents)]))

    cr.manual_seed(0)
    _, tout = cr.func.jvp(f, tuple(args), tuple(tangents))
    for t, p, m in zip(flat(tout), at(1), at(-1)):
        np.testing.assert_allclose(t.detach().numpy(),
                                   (p.detach().numpy() - m.detach().numpy()) / 2e-6, atol=1e-7)


# ---- the CPU stand-in for CuPy -----------------------------------------------------------------
@pytest.fixture(scope="module")
def ns():
    with cuda_backend.use_standin() as namespace:
        yield namespace


def _grads_on(device, name, second_order):
    """Outputs and gradients of Σ out² for every input (with *second_order*, the gradients of
    Σ (those gradients)², through create_graph) on *device*, as NumPy arrays."""
    gates, two, _, _ = CELLS[name]
    args = [a.detach().to(device).requires_grad_() for a in _inputs(gates, True, two, seed=30)]
    outs = _call(name, args)
    outs = outs if isinstance(outs, tuple) else (outs,)
    grads = cr.autograd.grad(sum((o * o).sum() for o in outs), args, create_graph=second_order)
    if second_order:
        grads = cr.autograd.grad(sum((g * g).sum() for g in grads), args)
    return [o.detach().cpu().numpy() for o in outs] + [g.detach().cpu().numpy() for g in grads]


@pytest.mark.parametrize("name", sorted(CELLS))
@pytest.mark.parametrize("second_order", [False, True])
def test_step_ops_on_the_standin_device_equal_the_cpu(ns, name, second_order):
    cpu = _grads_on("cpu", name, second_order)
    dev = _grads_on("cuda", name, second_order)
    assert len(cpu) == len(dev)
    for a, b in zip(dev, cpu):
        np.testing.assert_allclose(a, b, atol=1e-11)


def test_unbind_and_stack_on_the_standin_device(ns):
    x = cr.tensor(_rand(4, 2, 3)).to("cuda").requires_grad_()
    y = stack_steps([p * (i + 1) for i, p in enumerate(unbind_steps(x))])
    y.sum().backward()
    want = np.broadcast_to(np.arange(1.0, 5.0)[:, None, None], (4, 2, 3))
    np.testing.assert_array_equal(x.grad.cpu().numpy(), want)


# ---- errors --------------------------------------------------------------------------------------
def test_functional_cells_are_exported_and_refuse_bad_shapes():
    assert F.lstm_cell is lstm_cell and F.gru_cell is gru_cell
    x, h = cr.randn(3, 4), cr.randn(3, 5)
    with pytest.raises(cr.ShapeError, match=r"lstm_cell: weight_ih has shape \(20, 3\); expected "
                                            r"\(20, 4\)"):
        lstm_cell(x, (h, h), cr.randn(20, 3), cr.randn(20, 5))
    with pytest.raises(cr.ShapeError, match=r"gru_cell: hx\[0\] has shape \(2, 5\); expected "
                                            r"\(3, 5\)"):
        gru_cell(x, cr.randn(2, 5), cr.randn(15, 4), cr.randn(15, 5))
    with pytest.raises(cr.ShapeError, match=r"rnn_tanh_cell: bias_hh must be a tensor of shape "
                                            r"\(5,\), got \(4,\)"):
        rnn_tanh_cell(x, h, cr.randn(5, 4), cr.randn(5, 5), None, cr.randn(4))
    with pytest.raises(TypeError, match="lstm_cell: hx must be a tuple"):
        lstm_cell(x, h, cr.randn(20, 4), cr.randn(20, 5))
    with pytest.raises(cr.DTypeError, match="share one floating dtype"):
        gru_cell(x, h.to(cr.float64), cr.randn(15, 4), cr.randn(15, 5))
