"""The fused recurrent step ops (nn/functional/recurrent.py) and whole-sequence ops
(nn/functional/recurrent_sequence.py): values against torch's cells and against each other,
gradcheck and gradgradcheck in float64 over every input (weights and biases included, with and
without bias, the extra outputs too), the sequence ops' first-order in-place backward against
their general (create_graph) rule, forward-mode jvps, Keras's GRU gate order, the one-node
unbind/stack, one graph node per layer and direction, the CPU stand-in for CuPy (first and second
order), and clear errors."""
import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule.autograd import gradcheck, gradgradcheck
from chainrule.backend import cuda as cuda_backend
from chainrule.nn.functional.recurrent import (GRUStep, LSTMStep, RNNStep, gru_cell, lstm_cell,
                                               rnn_relu_cell, rnn_tanh_cell, stack_steps,
                                               unbind_steps)
from chainrule.nn.functional.recurrent_sequence import GRUSequence, LSTMSequence, RNNSequence

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
    targs = [None if a is None else torch.tensor(a._data, requires_grad=True) for a in args]
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
    torch_order = GRUStep.apply(cr.tensor(gx._data[:, perm]), h, cr.tensor(w._data[perm]),
                                cr.tensor(b._data[perm]), "rzn")[0]
    np.testing.assert_allclose(keras.numpy(), torch_order.numpy(), atol=1e-14)


def test_transposed_weight_hint_changes_nothing():
    gx, h, c = (cr.tensor(_rand(N, 4 * H, seed=1)), cr.tensor(_rand(N, H, seed=2)),
                cr.tensor(_rand(N, H, seed=3)))
    w = cr.tensor(_rand(4 * H, H, seed=4))
    plain = LSTMStep.apply(gx, h, c, w, None)
    hinted = LSTMStep.apply(gx, h, c, w, None, np.ascontiguousarray(w._data.T))
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


@pytest.mark.parametrize("layer,op", [(cr.nn.LSTM, "LSTMSequence"), (cr.nn.GRU, "GRUSequence"),
                                      (cr.nn.RNN, "RNNSequence")])
def test_sequence_layers_record_one_node_per_layer_and_direction(layer, op):
    out, _ = layer(3, 4, num_layers=2, bidirectional=True)(cr.randn(7, 2, 3))
    assert _count(out, op) == 4
    for other in ("LSTMStep", "GRUStep", "RNNStep", "Unbind", "Stack", "Sigmoid", "Mul"):
        assert _count(out, other) == 0


def test_lstm_with_projection_keeps_one_step_node_per_time_step():
    out, _ = cr.nn.LSTM(3, 4, proj_size=2)(cr.randn(7, 2, 3))
    assert _count(out, "LSTMStep") == 7 and _count(out, "LSTMSequence") == 0


@pytest.mark.parametrize("layer,op", [(cr.layers.LSTM, "LSTM"), (cr.layers.GRU, "GRU"),
                                      (cr.layers.SimpleRNN, "RNN")])
def test_keras_layers_use_the_sequence_op_or_the_fused_steps_with_default_activations(layer, op):
    out = layer(4)(cr.randn(2, 6, 3))
    assert _count(out, op + "Sequence") == 1 and _count(out, op + "Step") == 0
    masked = layer(4)(cr.randn(2, 6, 3), mask=cr.ones(2, 6, dtype=cr.bool))
    assert _count(masked, op + "Step") == 6 and _count(masked, op + "Sequence") == 0
    composed = layer(4, activation="relu" if op != "RNN" else "sigmoid")(cr.randn(2, 6, 3))
    assert _count(composed, op + "Step") == 0 and _count(composed, op + "Sequence") == 0


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
    "lstm_bidirectional": (lambda x, h, c: cr.nn.LSTM(IN, H, bidirectional=True).to(cr.float64)(
        x, (h, c)), [(5, N, IN), (2, N, H), (2, N, H)]),
    "gru_layer": (lambda x, h: cr.nn.GRU(IN, H, num_layers=2).to(cr.float64)(x, h),
                  [(5, N, IN), (2, N, H)]),
    "rnn_layer": (lambda x, h: cr.nn.RNN(IN, H, bidirectional=True).to(cr.float64)(x, h),
                  [(5, N, IN), (2, N, H)]),
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
        return flat(f(*[cr.tensor(a._data + sign * 1e-6 * t._data)
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


# ---- whole-sequence ops (one node per layer and direction) -------------------------------------
L = 4
# name: (op, gates, two states, plain arguments before ``reverse``, the cell)
SEQUENCES = {"lstm": (LSTMSequence, 4, True, (), lstm_cell),
             "gru": (GRUSequence, 3, False, (), gru_cell),
             "rnn_tanh": (RNNSequence, 1, False, ("tanh",), rnn_tanh_cell),
             "rnn_relu": (RNNSequence, 1, False, ("relu",), rnn_relu_cell)}


def _seq_args(name, bias=True, seed=60, device="cpu"):
    """x (L, N, IN), h0 (, c0), w_ih, w_hh, b_ih, b_hh (None without bias), requiring grad."""
    _, gates, two, _, _ = SEQUENCES[name]
    shapes = [(L, N, IN), (N, H)] + ([(N, H)] if two else []) + \
        [(gates * H, IN), (gates * H, H)] + ([(gates * H,), (gates * H,)] if bias else [])
    ts = [cr.tensor(_rand(*s, seed=seed + k)).to(device).requires_grad_()
          for k, s in enumerate(shapes)]
    return ts + ([] if bias else [None, None])


def _seq(name, reverse, bias=True):
    """The op as a function of its tensor inputs (without bias: of all but the biases)."""
    op, _, _, plain, _ = SEQUENCES[name]
    if bias:
        return lambda *a: op.apply(*a, *plain, reverse)
    return lambda *a: op.apply(*a, None, None, *plain, reverse)


def _present(args):
    return [a for a in args if a is not None]


@pytest.mark.parametrize("name", sorted(SEQUENCES))
@pytest.mark.parametrize("reverse,bias", [(False, True), (True, True), (False, False)])
def test_sequence_ops_gradcheck_and_gradgradcheck_every_input_and_output(name, reverse, bias):
    """Every output (the extra ones too) in the loss, every input differentiated, twice."""
    args = _present(_seq_args(name, bias))
    assert gradcheck(_seq(name, reverse, bias), args)
    assert gradgradcheck(_seq(name, reverse, bias), args)


def _by_steps(name, args, reverse):
    """The same layer as one cell call per time step: (hs, the last state (c for the LSTM))."""
    _, _, two, _, cell = SEQUENCES[name]
    x, h, *rest = args
    c, rest = (rest[0], rest[1:]) if two else (None, rest)
    outs = [None] * L
    for t in (range(L - 1, -1, -1) if reverse else range(L)):
        if two:
            h, c = cell(x[t], (h, c), *rest)
        else:
            h = cell(x[t], h, *rest)
        outs[t] = h
    return stack_steps(outs), (c if two else h)


@pytest.mark.parametrize("name", sorted(SEQUENCES))
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("used", ["all", "last_state"])
def test_sequence_ops_equal_the_step_ops(name, reverse, used):
    """Values and gradients equal one cell per time step's, with every output step in the loss
    or only the last state (c_n alone for the LSTM: the hidden states get no gradient)."""
    args, step_args = _seq_args(name), _seq_args(name)
    out = _seq(name, reverse)(*args)
    hs = out[0] if isinstance(out, tuple) else out
    want_hs, want_last = _by_steps(name, step_args, reverse)
    np.testing.assert_allclose(hs.detach().numpy(), want_hs.detach().numpy(), atol=1e-14)
    last = 0 if reverse else L - 1
    if used == "all":
        w = cr.tensor(_rand(*hs.shape, seed=70))
        (hs * w).sum().backward()
        (want_hs * w).sum().backward()
    else:
        got_last = out[1][last] if name == "lstm" else hs[last]
        np.testing.assert_allclose(got_last.detach().numpy(), want_last.detach().numpy(),
                                   atol=1e-14)
        (got_last * got_last).sum().backward()
        (want_last * want_last).sum().backward()
    for a, b in zip(args, step_args):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), atol=1e-12)


@pytest.mark.parametrize("name", sorted(SEQUENCES))
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("outputs", ["all", "first"])
def test_sequence_ops_in_place_backward_equals_the_general_rule(name, reverse, outputs):
    """The first-order backward (arrays, in place) and the create_graph one (tensors, the rule
    written on ctx.xp) give the same gradients, with every output in the loss or only hs."""
    args = _seq_args(name)
    out = _seq(name, reverse)(*args)
    out = out if isinstance(out, tuple) else (out,)
    used = out if outputs == "all" else out[:1]
    loss = sum((o * cr.tensor(_rand(*o.shape, seed=75 + k))).sum() for k, o in enumerate(used))
    plain = cr.autograd.grad(loss, args, retain_graph=True)
    graph = cr.autograd.grad(loss, args, create_graph=True)
    for p, g in zip(plain, graph):
        assert g.requires_grad
        np.testing.assert_allclose(p.numpy(), g.detach().numpy(), atol=1e-12)


@pytest.mark.parametrize("name", sorted(SEQUENCES))
def test_sequence_ops_on_a_batch_first_view_and_a_retained_graph(name):
    """x as the time-major view of a (N, L, F) array (nn's batch_first): gradcheck, and a second
    backward through the retained graph gives the same gradients as the first."""
    xb = cr.tensor(_rand(N, L, IN, seed=99), requires_grad=True)
    rest = _present(_seq_args(name)[1:])

    def f(xb_, *others):
        return _seq(name, False)(xb_.transpose(0, 1), *others)

    assert gradcheck(f, [xb] + rest)
    out = f(xb, *rest)
    out = out if isinstance(out, tuple) else (out,)
    loss = sum((o * o).sum() for o in out)
    first = cr.autograd.grad(loss, [xb] + rest, retain_graph=True)
    second = cr.autograd.grad(loss, [xb] + rest)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


@pytest.mark.parametrize("name", sorted(SEQUENCES))
@pytest.mark.parametrize("reverse", [False, True])
def test_sequence_ops_jvp_matches_central_differences(name, reverse):
    f = _seq(name, reverse)
    args = [a.detach() for a in _seq_args(name)]
    tangents = [cr.tensor(_rand(*a.shape, seed=80 + k)) for k, a in enumerate(args)]
    _, tout = cr.func.jvp(f, tuple(args), tuple(tangents))
    tout = tout if isinstance(tout, tuple) else (tout,)

    def at(sign):
        out = f(*[cr.tensor(a._data + sign * 1e-6 * t._data) for a, t in zip(args, tangents)])
        return out if isinstance(out, tuple) else (out,)

    for t, p, m in zip(tout, at(1), at(-1)):
        np.testing.assert_allclose(t.numpy(), (p.numpy() - m.numpy()) / 2e-6, atol=1e-7)


def _seq_grads_on(device, name, second_order):
    args = _seq_args(name, seed=90, device=device)
    outs = _seq(name, False)(*args)
    outs = outs if isinstance(outs, tuple) else (outs,)
    grads = cr.autograd.grad(sum((o * o).sum() for o in outs), args, create_graph=second_order)
    if second_order:
        grads = cr.autograd.grad(sum((g * g).sum() for g in grads), args)
    return [o.detach().cpu().numpy() for o in outs] + [g.detach().cpu().numpy() for g in grads]


@pytest.mark.parametrize("name", sorted(SEQUENCES))
@pytest.mark.parametrize("second_order", [False, True])
def test_sequence_ops_on_the_standin_device_equal_the_cpu(ns, name, second_order):
    cpu = _seq_grads_on("cpu", name, second_order)
    dev = _seq_grads_on("cuda", name, second_order)
    assert len(cpu) == len(dev)
    for a, b in zip(dev, cpu):
        np.testing.assert_allclose(a, b, atol=1e-11)


@pytest.mark.parametrize("layer", [cr.nn.LSTM, cr.nn.GRU, cr.nn.RNN])
def test_sequence_layers_on_the_standin_device_equal_the_cpu(ns, layer):
    cr.manual_seed(0)
    m = layer(3, 4, num_layers=2, bidirectional=True).to(cr.float64)
    x = _rand(5, 2, 3, seed=95)
    got = {}
    for device in ("cpu", "cuda"):
        m.to(device)
        out = m(cr.tensor(x).to(device))[0]
        (out * out).sum().backward()
        got[device] = [out.detach().cpu().numpy()] + \
            [p.grad.cpu().numpy() for p in m.parameters()]
        m.zero_grad(set_to_none=True)
    for a, b in zip(got["cuda"], got["cpu"]):
        np.testing.assert_allclose(a, b, atol=1e-11)


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("zero_state", ["h0,c0", "h0", "c0", ""])
def test_lstm_sequence_at_a_split_gemm_size_equals_the_step_ops(reverse, zero_state):
    """N = 16, H = 128 (the recurrent GEMM runs one per gate; zero initial states skip the
    first step's GEMM and f ⊙ c0): values and every gradient equal one LSTM cell per step's,
    with both backward rules (in place, and create_graph's)."""
    n, hid, feat, steps = 16, 128, 8, 3
    rng = np.random.default_rng(7)
    arrays = [rng.standard_normal((steps, n, feat)),
              np.zeros((n, hid)) if "h0" in zero_state else rng.standard_normal((n, hid)),
              np.zeros((n, hid)) if "c0" in zero_state else rng.standard_normal((n, hid)),
              rng.standard_normal((4 * hid, feat)) * 0.2, rng.standard_normal((4 * hid, hid)) * 0.1,
              rng.standard_normal(4 * hid) * 0.1, rng.standard_normal(4 * hid) * 0.1]
    ours, cells = ([cr.tensor(a, requires_grad=True) for a in arrays] for _ in range(2))
    hs, cs, _, _ = LSTMSequence.apply(*ours, reverse)
    x, h, c, *weights = cells
    want_hs, want_cs = [None] * steps, [None] * steps
    for t in (range(steps - 1, -1, -1) if reverse else range(steps)):
        h, c = lstm_cell(x[t], (h, c), *weights)
        want_hs[t], want_cs[t] = h, c
    want_hs, want_cs = stack_steps(want_hs), stack_steps(want_cs)
    np.testing.assert_allclose(hs.detach().numpy(), want_hs.detach().numpy(), atol=1e-13)
    np.testing.assert_allclose(cs.detach().numpy(), want_cs.detach().numpy(), atol=1e-13)
    w1, w2 = cr.tensor(rng.standard_normal(hs.shape)), cr.tensor(rng.standard_normal(cs.shape))
    loss = (hs * w1).sum() + (cs * w2).sum()
    plain = cr.autograd.grad(loss, ours, retain_graph=True)
    graph = cr.autograd.grad(loss, ours, create_graph=True)
    want = cr.autograd.grad((want_hs * w1).sum() + (want_cs * w2).sum(), cells)
    for p, g, w in zip(plain, graph, want):
        np.testing.assert_allclose(p.numpy(), w.numpy(), atol=1e-11)
        np.testing.assert_allclose(g.detach().numpy(), w.numpy(), atol=1e-11)


def test_lstm_backward_writes_every_element_of_its_uninitialised_buffers(monkeypatch):
    """The LSTM's in-place backward builds z̄ in buffers from ``xp.empty``: filled with NaN
    instead, the gradients are bit-identical (no element is read before it is written)."""
    from chainrule.backend import numpy_namespace

    def grads():
        args = [cr.tensor(a, requires_grad=True) for a in (
            _rand(L, N, IN, seed=0), _rand(N, H, seed=1), _rand(N, H, seed=2),
            _rand(4 * H, IN, seed=3), _rand(4 * H, H, seed=4), _rand(4 * H, seed=5),
            _rand(4 * H, seed=6))]
        hs = LSTMSequence.apply(*args, False)[0]
        return [g.numpy() for g in cr.autograd.grad((hs * hs).sum(), args)]

    clean = grads()
    monkeypatch.setattr(numpy_namespace, "empty",
                        lambda shape, dtype=float: np.full(shape, np.nan, dtype=dtype))
    for a, b in zip(grads(), clean):
        np.testing.assert_array_equal(a, b)
