"""cr.onnx.export of nn.LSTM, nn.GRU and nn.RNN (ONNX's LSTM / GRU / RNN operators, PyTorch's gate
order re-arranged): onnx.checker accepts the model, ONNX Runtime reproduces output, h_n (and c_n)
at the exported and at other batch sizes and sequence lengths."""
import io

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import chainrule as cr  # noqa: E402
from chainrule import onnx as cr_onnx  # noqa: E402

nn = cr.nn
ATOL = 1e-5


def round_trip(m, shape, h0=None, check=((3, 5), (1, 2), (7, 4))):
    """Export *m* on input of *shape*, then compare every output for (batch, length) in *check*."""
    cr.manual_seed(0)
    bf = m.batch_first and len(shape) == 3
    b_ax, l_ax = (0, 1) if bf else (1, 0)
    names = ["input"] + (["h0"] if h0 is not None else [])
    dyn = {"input": {b_ax: "batch", l_ax: "steps"} if len(shape) == 3 else {0: "steps"}}
    if len(shape) == 3:
        dyn["output_0"] = dyn["input"]
        dyn["output_1"] = {1: "batch"}
        if isinstance(m, nn.LSTM):
            dyn["output_2"] = {1: "batch"}
    else:
        dyn["output_0"] = {0: "steps"}
    if h0 is not None:
        dyn["h0"] = {1: "batch"}
    args = (cr.randn(*shape),) + ((cr.randn(*h0),) if h0 is not None else ())
    f = io.BytesIO()
    proto = cr_onnx.export(m, args, f, input_names=names, dynamic_axes=dyn)
    onnx.checker.check_model(onnx.load_from_string(f.getvalue()), full_check=True)
    sess = ort.InferenceSession(f.getvalue(), providers=["CPUExecutionProvider"])
    m.eval()                             # dropout between layers off, as in the export
    rng = np.random.RandomState(1)
    for batch, steps in check:
        s = list(shape)
        if len(shape) == 3:
            s[b_ax], s[l_ax] = batch, steps
        else:
            s[0] = steps
        feed = {"input": rng.randn(*s).astype(np.float32)}
        if h0 is not None:
            hs = list(h0)
            if len(hs) == 3:
                hs[1] = batch
            feed["h0"] = rng.randn(*hs).astype(np.float32)
        with cr.no_grad():
            want = m(*[cr.tensor(v) for v in feed.values()])
        want = [want[0], *want[1]] if isinstance(want[1], tuple) else list(want)
        got = sess.run(None, feed)
        assert len(got) == len(want)
        for g, w in zip(got, want):
            assert g.shape == tuple(w.shape)
            np.testing.assert_allclose(g, w.data, atol=ATOL, rtol=1e-5)
        if len(shape) == 2:
            break                        # unbatched: one case
    return proto


@pytest.mark.parametrize("kw", [{}, {"num_layers": 2}, {"bidirectional": True},
                                {"num_layers": 2, "bidirectional": True, "batch_first": True},
                                {"bias": False, "batch_first": True}],
                         ids=lambda kw: ",".join(f"{k}={v}" for k, v in kw.items()) or "default")
@pytest.mark.parametrize("cls", [nn.LSTM, nn.GRU, nn.RNN])
def test_recurrent(cls, kw):
    cr.manual_seed(2)
    m = cls(4, 6, **kw)
    shape = (2, 5, 4) if kw.get("batch_first") else (5, 2, 4)
    proto = round_trip(m, shape)
    op = {"LSTM": "LSTM", "GRU": "GRU", "RNN": "RNN"}[cls.__name__]
    assert [n.op_type for n in proto.graph.node].count(op) == kw.get("num_layers", 1)
    assert len(proto.graph.output) == (3 if cls is nn.LSTM else 2)


def test_rnn_relu_dropout_and_unbatched():
    cr.manual_seed(3)
    round_trip(nn.RNN(3, 5, num_layers=2, nonlinearity="relu", dropout=0.5), (6, 2, 3))
    round_trip(nn.LSTM(3, 5, bidirectional=True), (6, 3))          # (L, F) input, no batch


def test_gru_and_rnn_with_an_initial_state():
    cr.manual_seed(4)
    round_trip(nn.GRU(3, 4, num_layers=2, bidirectional=True), (5, 2, 3), h0=(4, 2, 4))
    round_trip(nn.RNN(3, 4, batch_first=True), (2, 5, 3), h0=(1, 2, 4))


def test_lstm_with_projection_is_refused():
    with pytest.raises(cr_onnx.UnsupportedLayerError, match="proj_size"):
        cr_onnx.export(nn.LSTM(3, 6, proj_size=2), cr.randn(4, 1, 3), io.BytesIO())
