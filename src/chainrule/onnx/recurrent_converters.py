"""ONNX converters for ``cr.nn.LSTM``, ``cr.nn.GRU`` and ``cr.nn.RNN``: one ONNX LSTM / GRU / RNN
node per layer (both directions in one node), stacked, with PyTorch's weights re-ordered into
ONNX's gate order.

    LSTM   PyTorch i, f, g, o  →  ONNX i, o, f, c
    GRU    PyTorch r, z, n     →  ONNX z, r, h   (linear_before_reset=1: r ⊙ (h W_hnᵀ + b_hn),
                                                  PyTorch's form)

ONNX's sequence layout is (L, N, F) and its output (L, directions, N, H); ``batch_first`` input
is transposed in and out. The outputs are PyTorch's: ``output, h_n`` (and ``c_n`` for LSTM,
flattened into a third output). Dropout between layers is off in evaluation mode, where export
runs; an initial state may be passed to GRU and RNN as their second argument.
"""
import numpy as np

from chainrule import nn
from chainrule.onnx.registry import UnsupportedLayerError, register_converter

_ORDER = {"LSTM": (0, 3, 1, 2), "GRU": (1, 0, 2), "RNN_TANH": (0,), "RNN_RELU": (0,)}
_OP = {"LSTM": "LSTM", "GRU": "GRU", "RNN_TANH": "RNN", "RNN_RELU": "RNN"}


def _gates(a, order):
    """The gate blocks of a PyTorch weight or bias (stacked along axis 0) in ONNX's *order*."""
    blocks = np.split(a, len(order), axis=0)
    return np.concatenate([blocks[i] for i in order], axis=0)


def _stacked(m, layer, kind, order):
    """ONNX's W, R or B for *layer*: (directions, ...) arrays in gate *order*."""
    dirs = ["", "_reverse"] if m.bidirectional else [""]
    out = []
    for suffix in dirs:
        if kind == "B":
            ih = getattr(m, f"bias_ih_l{layer}{suffix}")._data
            hh = getattr(m, f"bias_hh_l{layer}{suffix}")._data
            out.append(np.concatenate([_gates(ih, order), _gates(hh, order)]))
        else:
            out.append(_gates(getattr(m, f"weight_{kind}_l{layer}{suffix}")._data, order))
    return np.stack(out)


def _refuse(ctx, m, why):
    where = ctx.where or "(the model)"
    raise UnsupportedLayerError(f"onnx.export: {type(m).__name__} at '{where}' {why}")


@register_converter(nn.LSTM, nn.GRU, nn.RNN)
def recurrent(ctx, m, out, x, h0=None):
    if m.proj_size:
        _refuse(ctx, m, f"has proj_size={m.proj_size}: ONNX's LSTM has no projection")
    order, op_type = _ORDER[m.mode], _OP[m.mode]
    H, dirs = m.hidden_size, 2 if m.bidirectional else 1
    batched = x.ndim == 3
    seq = x.name
    if not batched:
        seq = ctx.op("Unsqueeze", [seq, ctx.ints([1], "axes")])
    elif m.batch_first:
        seq = ctx.op("Transpose", [seq], perm=[1, 0, 2])
    attrs = {"hidden_size": H, "direction": "bidirectional" if m.bidirectional else "forward"}
    if m.mode == "GRU":
        attrs["linear_before_reset"] = 1
    elif m.mode == "RNN_RELU":
        attrs["activations"] = ["Relu"] * dirs
    elif m.mode == "RNN_TANH":
        attrs["activations"] = ["Tanh"] * dirs
    init = None
    if h0 is not None:
        init = h0.name if h0.ndim == 3 else ctx.op("Unsqueeze", [h0.name, ctx.ints([1], "axes")])
    h_n, c_n = [], []
    for layer in range(m.num_layers):
        w = ctx.const(_stacked(m, layer, "ih", order), f"W_l{layer}", like=x)
        r = ctx.const(_stacked(m, layer, "hh", order), f"R_l{layer}", like=x)
        inputs = [seq, w, r, ctx.const(_stacked(m, layer, "B", order), f"B_l{layer}", like=x)
                  if m.bias else ""]
        if init is not None:
            start = ctx.ints([layer * dirs], "start")
            stop = ctx.ints([(layer + 1) * dirs], "stop")
            inputs += ["", ctx.op("Slice", [init, start, stop, ctx.ints([0], "axis")])]
        n_out = 3 if m.mode == "LSTM" else 2
        outs = ctx.op(op_type, inputs, n_outputs=n_out, **attrs)
        y, h_n_l = outs[0], outs[1]
        h_n.append(h_n_l)
        if m.mode == "LSTM":
            c_n.append(outs[2])
        # Y (L, directions, N, H) → (L, N, directions·H), the next layer's input
        y = ctx.op("Transpose", [y], perm=[0, 2, 1, 3])
        seq = ctx.op("Reshape", [y, ctx.ints([0, 0, -1], "shape")])
    output = seq
    h = h_n[0] if len(h_n) == 1 else ctx.op("Concat", h_n, axis=0)
    c = None
    if m.mode == "LSTM":
        c = c_n[0] if len(c_n) == 1 else ctx.op("Concat", c_n, axis=0)
    if not batched:
        one = ctx.ints([1], "axes")
        output = ctx.op("Squeeze", [output, one])
        h = ctx.op("Squeeze", [h, one])
        c = ctx.op("Squeeze", [c, one]) if c is not None else None
    elif m.batch_first:
        output = ctx.op("Transpose", [output], perm=[1, 0, 2])
    return [output, h] if c is None else [output, h, c]
