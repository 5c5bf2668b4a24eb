"""cr.onnx.export of the Keras-style LSTM, GRU, SimpleRNN and Bidirectional (ONNX's LSTM / GRU / RNN
operators, Keras's gate order re-arranged): onnx.checker accepts each model, ONNX Runtime
reproduces chainrule's outputs (float32, atol 1e-5) at the exported batch size and sequence length
and at others through dynamic axes; masks, stateful layers and activations ONNX lacks are refused
naming the layer."""
import io

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import chainrule as cr
from chainrule import onnx as cr_onnx

L = cr.layers
ATOL = 1e-5
SIZES = ((2, 5), (3, 7), (1, 2))      # (batch, steps): the exported one first
RNNS = [L.LSTM, L.GRU, L.SimpleRNN]


def randomize(model, seed=0):
    """Every weight drawn afresh (biases too, so a gate or bias mix-up shows)."""
    rng = np.random.RandomState(seed)
    model.set_weights([(rng.randn(*w.shape) * 0.6).astype(np.float32)
                       for w in model.get_weights()])
    return model


def seq_data(features):
    return lambda n, t, rng: [rng.randn(n, t, features).astype(np.float32)]


def run(model, arrays):
    with cr.no_grad():
        ts = [cr.tensor(a) for a in arrays]
        out = model(ts if len(ts) > 1 else ts[0], training=False)
    return [o.detach().numpy() for o in (out if isinstance(out, (list, tuple)) else [out])]


def round_trip(model, make, sizes=SIZES):
    """Export *model* on ``make(batch, steps, rng)`` at sizes[0] with the batch and step axes
    dynamic; ONNX Runtime must give chainrule's outputs at every (batch, steps) in *sizes*.
    Returns the ONNX node types."""
    rng = np.random.RandomState(1)
    example = make(*sizes[0], rng)
    want = run(model, example)
    in_names = [f"in_{i}" for i in range(len(example))]
    out_names = [f"out_{i}" for i in range(len(want))]
    dyn = {n: {0: "batch", 1: "steps"} if i == 0 else {0: "batch"}
           for i, n in enumerate(in_names)}
    dyn.update({n: {0: "batch", 1: "steps"} if w.ndim == 3 else {0: "batch"}
                for n, w in zip(out_names, want)})
    f = io.BytesIO()
    proto = cr_onnx.export(model, tuple(cr.tensor(a) for a in example), f,
                           input_names=in_names, output_names=out_names, dynamic_axes=dyn)
    onnx.checker.check_model(onnx.load_from_string(f.getvalue()), full_check=True)
    sess = ort.InferenceSession(f.getvalue(), providers=["CPUExecutionProvider"])
    for n, t in sizes:
        arrays = make(n, t, rng)
        want = run(model, arrays)
        got = sess.run(None, dict(zip(in_names, arrays)))
        assert len(got) == len(want)
        for g, w in zip(got, want):
            assert g.shape == w.shape
            np.testing.assert_allclose(g, w, atol=ATOL, rtol=1e-5)
    return [node.op_type for node in proto.graph.node]


def seq_model(rnn, features=3, dense=2):
    """Input (None, features) → rnn → Dense on its first output; the states as extra outputs."""
    inputs = L.Input((None, features))
    out = rnn(inputs)
    outs = list(out) if isinstance(out, (list, tuple)) else [out]
    outs[0] = L.Dense(dense)(outs[0])
    return randomize(cr.Model(inputs, outs if len(outs) > 1 else outs[0]))


OPTIONS = [{}, {"return_sequences": True}, {"go_backwards": True},
           {"return_sequences": True, "go_backwards": True},
           {"return_state": True}, {"return_sequences": True, "return_state": True,
                                    "go_backwards": True},
           {"use_bias": False, "return_sequences": True},
           {"dropout": 0.4, "recurrent_dropout": 0.3, "return_sequences": True}]


@pytest.mark.parametrize("kw", OPTIONS,
                         ids=lambda kw: ",".join(f"{k}={v}" for k, v in kw.items()) or "default")
@pytest.mark.parametrize("cls", RNNS, ids=lambda c: c.__name__)
def test_recurrent_layer(cls, kw):
    cr.manual_seed(0)
    types = round_trip(seq_model(cls(4, **kw)), seq_data(3))
    op = {"LSTM": "LSTM", "GRU": "GRU", "SimpleRNN": "RNN"}[cls.__name__]
    assert types.count(op) == 1
    assert ("Slice" in types) == bool(kw.get("go_backwards") and kw.get("return_sequences"))


@pytest.mark.parametrize("kw", [{"reset_after": False}, {"reset_after": False, "use_bias": False},
                                {"reset_after": False, "go_backwards": True,
                                 "return_sequences": True, "return_state": True}],
                         ids=lambda kw: ",".join(f"{k}={v}" for k, v in kw.items()))
def test_gru_reset_before(kw):
    cr.manual_seed(1)
    model = seq_model(L.GRU(5, **kw))
    round_trip(model, seq_data(3))
    proto = cr_onnx.export(model, cr.randn(2, 4, 3), io.BytesIO())
    gru = next(n for n in proto.graph.node if n.op_type == "GRU")
    assert {a.name: a.i for a in gru.attribute}["linear_before_reset"] == 0


@pytest.mark.parametrize("layer", [
    lambda: L.LSTM(4, activation="relu", recurrent_activation="hard_sigmoid",
                   return_sequences=True),
    lambda: L.LSTM(4, activation="softsign", recurrent_activation="sigmoid"),
    lambda: L.GRU(4, activation="elu", recurrent_activation="hard_sigmoid", return_state=True),
    lambda: L.GRU(4, activation="linear", reset_after=False, return_sequences=True),
    lambda: L.SimpleRNN(4, activation="relu", return_sequences=True),
    lambda: L.SimpleRNN(4, activation="leaky_relu"),
    lambda: L.SimpleRNN(4, activation=None, go_backwards=True, return_sequences=True),
], ids=["lstm-relu-hard_sigmoid", "lstm-softsign", "gru-elu-hard_sigmoid", "gru-linear",
        "rnn-relu", "rnn-leaky_relu", "rnn-linear-backwards"])
def test_activations(layer):
    cr.manual_seed(2)
    round_trip(seq_model(layer()), seq_data(3))


@pytest.mark.parametrize("cls", RNNS, ids=lambda c: c.__name__)
def test_after_embedding_without_mask(cls):
    cr.manual_seed(3)
    inputs = L.Input((None,))
    x = cls(6, return_sequences=True)(L.Embedding(11, 4)(inputs))
    model = randomize(cr.Model(inputs, L.Dense(3)(x)))
    types = round_trip(model, lambda n, t, rng: [rng.randint(0, 11, (n, t)).astype(np.float32)])
    assert types[:2] == ["Cast", "Gather"]


@pytest.mark.parametrize("cls", RNNS, ids=lambda c: c.__name__)
def test_initial_state(cls):
    cr.manual_seed(4)
    n_states = 2 if cls is L.LSTM else 1
    inputs = [L.Input((None, 3))] + [L.Input((4,)) for _ in range(n_states)]
    y = cls(4, return_sequences=True)(inputs[0], initial_state=inputs[1:])
    model = randomize(cr.Model(inputs, L.Dense(2)(y)))

    def make(n, t, rng):
        return [rng.randn(n, t, 3).astype(np.float32)] + \
            [rng.randn(n, 4).astype(np.float32) for _ in range(n_states)]
    round_trip(model, make)


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave", None])
@pytest.mark.parametrize("cls", RNNS, ids=lambda c: c.__name__)
def test_bidirectional(cls, merge_mode):
    cr.manual_seed(5)
    for kw in ({}, {"return_sequences": True}, {"return_sequences": True, "return_state": True}):
        bi = L.Bidirectional(cls(4, **kw), merge_mode=merge_mode)
        inputs = L.Input((None, 3))
        out = bi(inputs)
        outs = list(out) if isinstance(out, (list, tuple)) else [out]
        outs[0] = L.Dense(2)(outs[0])
        model = randomize(cr.Model(inputs, outs if len(outs) > 1 else outs[0]))
        types = round_trip(model, seq_data(3))
        op = {"LSTM": "LSTM", "GRU": "GRU", "SimpleRNN": "RNN"}[cls.__name__]
        assert types.count(op) == 1     # both directions in one node
        assert "Slice" not in types     # ONNX's reverse outputs are in input order already


def test_bidirectional_wrapping_a_backwards_layer_and_a_different_backward_layer():
    cr.manual_seed(6)
    bi = L.Bidirectional(L.GRU(4, go_backwards=True, return_sequences=True))
    assert "GRU" in round_trip(seq_model(bi), seq_data(3))
    bi = L.Bidirectional(L.LSTM(4, return_sequences=True, return_state=True),
                         backward_layer=L.LSTM(4, activation="relu", use_bias=False,
                                               recurrent_activation="hard_sigmoid",
                                               go_backwards=True, return_sequences=True,
                                               return_state=True))
    types = round_trip(seq_model(bi), seq_data(3))
    assert types.count("LSTM") == 1     # an activation and a bias per direction
    bi = L.Bidirectional(L.LSTM(4), backward_layer=L.GRU(4, go_backwards=True), merge_mode="sum")
    types = round_trip(seq_model(bi), seq_data(3))
    assert types.count("LSTM") == types.count("GRU") == 1


def test_layer_exported_on_its_own():
    cr.manual_seed(7)
    lstm = L.LSTM(5, return_sequences=True, return_state=True, go_backwards=True)
    lstm(cr.randn(1, 2, 3))
    randomize(lstm)
    round_trip(lstm, seq_data(3))


# ---- refusals ----------------------------------------------------------------------------------
def refused(model, example, match):
    with pytest.raises(cr_onnx.UnsupportedLayerError, match=match):
        cr_onnx.export(model, example, io.BytesIO())


@pytest.mark.parametrize("cls", RNNS, ids=lambda c: c.__name__)
def test_masked_input_is_refused(cls):
    inputs = L.Input((None,))
    x = cls(4, name="rec")(L.Embedding(10, 3, mask_zero=True)(inputs))
    refused(cr.Model(inputs, x), cr.tensor([[1.0, 2.0, 0.0]]), r"layer 'rec'.*mask")
    bi = L.Bidirectional(cls(4), name="bi")
    x = bi(L.Embedding(10, 3, mask_zero=True)(inputs))
    refused(cr.Model(inputs, x), cr.tensor([[1.0, 2.0, 3.0]]), r"layer 'bi'.*mask")


@pytest.mark.parametrize("cls", RNNS, ids=lambda c: c.__name__)
def test_stateful_is_refused(cls):
    inputs = L.Input((4, 3), batch_size=2)
    refused(cr.Model(inputs, cls(4, stateful=True, name="rec")(inputs)), cr.randn(2, 4, 3),
            r"layer 'rec'.*stateful=True")
    model = cr.Model(inputs, L.Bidirectional(cls(4, stateful=True), name="bi")(inputs))
    refused(model, cr.randn(2, 4, 3), r"layer 'bi'.*stateful=True")


@pytest.mark.parametrize("layer, match", [
    (lambda: L.SimpleRNN(4, activation="selu", name="rec"), r"layer 'rec'.*activation='selu'"),
    (lambda: L.LSTM(4, activation="softplus", name="rec"), r"layer 'rec'.*activation='softplus'"),
    (lambda: L.GRU(4, recurrent_activation="gelu", name="rec"),
     r"layer 'rec'.*recurrent_activation='gelu'"),
    (lambda: L.LSTM(4, recurrent_activation=lambda x: x * 0.5, name="rec"),
     r"layer 'rec'.*recurrent_activation='<lambda>'"),
    (lambda: L.Bidirectional(L.GRU(4, activation="relu6"), name="bi"),
     r"layer 'forward_gru.*' at 'bi' has activation='relu6'"),
], ids=["rnn-selu", "lstm-softplus", "gru-gelu", "lstm-lambda", "bidirectional-relu6"])
def test_activation_onnx_lacks_is_refused(layer, match):
    inputs = L.Input((None, 3))
    refused(cr.Model(inputs, layer()(inputs)), cr.randn(2, 4, 3), match)


def test_subclass_computing_otherwise_is_refused():
    class Doubled(L.LSTM):
        def forward(self, *args, **kwargs):
            return super().forward(*args, **kwargs) * 2.0
    inputs = L.Input((None, 3))
    refused(cr.Model(inputs, Doubled(4, name="dbl")(inputs)), cr.randn(2, 4, 3), "dbl")
