"""The Keras-style LSTM, GRU and SimpleRNN run as one sequence op (``LSTMSequence``,
``GRUSequence``, ``RNNSequence``) where those fit, and as one step node per time step otherwise:
both paths give the same outputs, states and gradients (of the input, the initial states and every
weight) to float64 rounding on every option the sequence path takes, on the CPU and on the
stand-in device; masks, other activations, ``reset_after=False`` and recurrent dropout in
training keep the step path."""
import contextlib
import itertools

import numpy as np
import pytest

import chainrule as cr
from chainrule.backend import cuda as cuda_backend
from chainrule.keras.layers.recurrent import RNNLayer

L = cr.layers
ATOL = 1e-12
KINDS = {
    "lstm": (lambda **kw: L.LSTM(3, **kw), "LSTMSequence", 2),
    "gru": (lambda **kw: L.GRU(3, **kw), "GRUSequence", 1),
    "rnn_tanh": (lambda **kw: L.SimpleRNN(3, **kw), "RNNSequence", 1),
    "rnn_relu": (lambda **kw: L.SimpleRNN(3, activation="relu", **kw), "RNNSequence", 1),
}
OPTIONS = list(itertools.product([False, True], repeat=5))   # bias, back, seqs, state, init
OPTION_IDS = ["bias{}-back{}-seqs{}-state{}-init{}".format(*map(int, o)) for o in OPTIONS]


@contextlib.contextmanager
def per_step(on):
    """Force (on) or allow (off) the step-by-step graph of every Keras recurrent layer."""
    old = RNNLayer._per_step
    RNNLayer._per_step = on
    try:
        yield
    finally:
        RNNLayer._per_step = old


def node_names(outputs):
    """The names of the graph nodes behind *outputs*."""
    seen, todo, names = set(), [o.grad_fn for o in outputs if o.grad_fn is not None], set()
    while todo:
        fn = todo.pop()
        if id(fn) in seen:
            continue
        seen.add(id(fn))
        names.add(type(fn).__name__)
        edges = getattr(fn, "next_functions", None) or ()   # (leaves have none)
        todo += [e[0] for e in edges if e is not None and e[0] is not None]
    return names


def randomized(layer, shape, seed=0):
    """*layer* built for *shape* (float64), every weight drawn afresh, biases too."""
    layer.build(shape)
    rng = np.random.default_rng(seed)
    layer.set_weights([rng.standard_normal(w.shape) * 0.5 for w in layer.get_weights()])
    return layer


def run(layer, x, states=None, step=False, device="cpu", **kw):
    """Outputs and gradients (of x, the initial states and every weight) of one call, through
    the step path (*step*) or the sequence path, with a fixed random cotangent per output."""
    layer.zero_grad()
    xs = [cr.tensor(a).to(device).requires_grad_() for a in [x] + list(states or [])]
    with per_step(step):
        out = layer(xs[0], initial_state=xs[1:] or None, **kw)
    outs = out if isinstance(out, list) else [out]
    names = node_names(outs)
    rng = np.random.default_rng(7)
    loss = sum((o * cr.tensor(rng.standard_normal(o.shape)).to(device)).sum() for o in outs)
    loss.backward()
    grads = [t.grad for t in xs] + [w.grad for w in layer.trainable_weights]
    return [o.detach().cpu().numpy() for o in outs], [g.cpu().numpy() for g in grads], names


def assert_same(a, b):
    assert len(a) == len(b)
    for u, v in zip(a, b):
        np.testing.assert_allclose(u, v, rtol=0, atol=ATOL)


@pytest.mark.parametrize("options", OPTIONS, ids=OPTION_IDS)
@pytest.mark.parametrize("kind", list(KINDS))
def test_sequence_path_equals_step_path(kind, options):
    use_bias, back, seqs, state, init = options
    make, op, n_states = KINDS[kind]
    layer = randomized(make(use_bias=use_bias, go_backwards=back, return_sequences=seqs,
                            return_state=state, dtype="float64"), (2, 5, 4))
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 5, 4))
    states = [rng.standard_normal((2, 3)) for _ in range(n_states)] if init else None
    out_s, grads_s, names_s = run(layer, x, states, step=True)
    out_q, grads_q, names_q = run(layer, x, states)
    assert op in names_q and op not in names_s
    assert not any(n.endswith("Step") for n in names_q)
    assert_same(out_q, out_s)
    assert_same(grads_q, grads_s)


@pytest.mark.parametrize("kind", list(KINDS))
def test_stateful_calls_carry_the_same_states(kind):
    make, op, _ = KINDS[kind]
    rng = np.random.default_rng(2)
    xs = [rng.standard_normal((2, 4, 4)) for _ in range(3)]
    results = []
    for step in (True, False):
        layer = randomized(make(stateful=True, return_state=True, dtype="float64"), (2, 4, 4))
        results.append([run(layer, x, step=step)[:2] for x in xs])
    for (out_s, grads_s), (out_q, grads_q) in zip(*results):
        assert_same(out_q, out_s)
        assert_same(grads_q, grads_s)


@pytest.mark.parametrize("kind", list(KINDS))
def test_input_dropout_in_training_and_recurrent_dropout_in_evaluation(kind):
    """Input dropout (the same seeded mask on both paths) keeps the sequence path; so does
    recurrent dropout outside training, where it is off."""
    make, op, _ = KINDS[kind]
    x = np.random.default_rng(3).standard_normal((2, 5, 4))
    res = []
    for step in (True, False):
        layer = randomized(make(dropout=0.4, recurrent_dropout=0.3, seed=5,
                                return_sequences=True, dtype="float64"), (2, 5, 4))
        res.append((run(layer, x, step=step, training=True),
                    run(layer, x, step=step, training=False)))
    (train_s, eval_s), (train_q, eval_q) = res
    assert op not in train_q[2] and op in eval_q[2]   # recurrent dropout in training: steps
    for (o_s, g_s, _), (o_q, g_q, _) in ((train_s, train_q), (eval_s, eval_q)):
        assert_same(o_q, o_s)
        assert_same(g_q, g_s)
    layer = randomized(make(dropout=0.4, seed=5, dtype="float64"), (2, 5, 4))
    assert op in run(layer, x, training=True)[2]


@pytest.mark.parametrize("make,why", [
    (lambda: L.LSTM(3, activation="relu", dtype="float64"), "activation"),
    (lambda: L.LSTM(3, recurrent_activation="hard_sigmoid", dtype="float64"), "activation"),
    (lambda: L.GRU(3, reset_after=False, dtype="float64"), "reset_after"),
    (lambda: L.SimpleRNN(3, activation="sigmoid", dtype="float64"), "activation"),
])
def test_other_configurations_keep_the_step_path(make, why):
    layer = randomized(make(), (2, 5, 4))
    names = run(layer, np.random.default_rng(4).standard_normal((2, 5, 4)))[2]
    assert not any(n.endswith("Sequence") for n in names), why


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_mask_keeps_the_step_path(kind):
    make, op, _ = KINDS[kind]
    layer = randomized(make(return_sequences=True, dtype="float64"), (2, 5, 4))
    mask = cr.tensor(np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], dtype=bool))
    x = np.random.default_rng(5).standard_normal((2, 5, 4))
    out, grads, names = run(layer, x, mask=mask)
    assert op not in names
    out_s, grads_s, _ = run(layer, x, step=True, mask=mask)
    assert_same(out, out_s)
    assert_same(grads, grads_s)


def test_bidirectional_equals_its_step_path():
    model = L.Bidirectional(L.LSTM(3, return_sequences=True, dtype="float64"),
                            backward_layer=L.GRU(3, return_sequences=True, go_backwards=True,
                                                 dtype="float64"), dtype="float64")
    x = np.random.default_rng(6).standard_normal((2, 5, 4))
    model = randomized(model, (2, 5, 4))
    out_s, grads_s, names_s = run(model, x, step=True)
    out_q, grads_q, names_q = run(model, x)
    assert {"LSTMSequence", "GRUSequence"} <= names_q
    assert_same(out_q, out_s)
    assert_same(grads_q, grads_s)


def test_float32_matches_the_step_path_to_float32_rounding():
    layer = randomized(L.LSTM(3, return_sequences=True, go_backwards=True), (2, 5, 4))
    x = np.random.default_rng(8).standard_normal((2, 5, 4)).astype(np.float32)
    out_s, grads_s, _ = run(layer, x, step=True)
    out_q, grads_q, _ = run(layer, x)
    assert out_q[0].dtype == np.float32
    for u, v in zip(out_q + grads_q, out_s + grads_s):
        np.testing.assert_allclose(u, v, rtol=1e-5, atol=1e-5)


@pytest.fixture(scope="module")
def standin():
    with cuda_backend.use_standin() as namespace:
        yield namespace


@pytest.mark.parametrize("kind", list(KINDS))
def test_sequence_path_on_the_standin_device_equals_the_cpus(standin, kind):
    make, op, n_states = KINDS[kind]
    rng = np.random.default_rng(9)
    x = rng.standard_normal((2, 5, 4))
    states = [rng.standard_normal((2, 3)) for _ in range(n_states)]
    layer = randomized(make(go_backwards=True, return_sequences=True, return_state=True,
                            dtype="float64"), (2, 5, 4))
    out_c, grads_c, _ = run(layer, x, states)
    layer.to("cuda")
    out_d, grads_d, names = run(layer, x, states, device="cuda")
    assert op in names
    assert_same(out_d, out_c)
    assert_same(grads_d, grads_c)
