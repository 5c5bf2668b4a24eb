"""ONNX converters for the Keras-style recurrent layers ``LSTM``, ``GRU``, ``SimpleRNN`` and
``Bidirectional`` around them: one ONNX LSTM / GRU / RNN node per layer (``direction=
"bidirectional"`` for both halves of a Bidirectional when they fit one node), Keras's weights
transposed and re-ordered into ONNX's gate order.

    LSTM       Keras i, f, c, o  →  ONNX i, o, f, c   activations (recurrent_activation,
                                                       activation, activation)
    GRU        Keras z, r, h     →  ONNX z, r, h      reset_after=True: linear_before_reset=1,
                                                       bias rows (input, recurrent) → Wb, Rb
    SimpleRNN  h = act(x W + h U + b)                 activations (activation,)

Keras's (batch, timesteps, features) is transposed to ONNX's (timesteps, batch, features) and
back (ONNX Runtime runs no ``layout=1``). ``go_backwards`` is ONNX's ``direction="reverse"``;
chainrule (as Keras) returns that sequence in processing order, last step first, so it is
flipped. The activations ONNX's recurrent operators know: tanh, sigmoid, relu, linear,
hard_sigmoid, elu, softsign, leaky_relu. Refused, naming the layer: a mask (from
``Embedding(mask_zero=True)``), ``stateful=True``, other activations. Dropout and
recurrent_dropout are off in evaluation mode, where export runs. Example::

    >>> inputs = cr.layers.Input((5, 3))
    >>> model = cr.Model(inputs, cr.layers.Dense(1)(cr.layers.LSTM(4)(inputs)))
    >>> proto = cr.onnx.export(model, cr.randn(2, 5, 3), "lstm.onnx")
    >>> [n.op_type for n in proto.graph.node][:3]
    ['Transpose', 'LSTM', 'Gather']
"""
import numpy as np

from chainrule.keras import layers
from chainrule.keras.layers import activations as A
from chainrule.keras.layers.masking import get_keras_mask
from chainrule.onnx.registry import UnsupportedLayerError, lookup, register_converter

# Keras activation → (ONNX name, alpha, beta) of ONNX's recurrent activation functions.
# softplus is left out: ONNX Runtime computes log(1 + eˣ) and overflows for x > 88.
_ACTS = {A.tanh: ("Tanh",), A.sigmoid: ("Sigmoid",), A.relu: ("Relu",),
         A.linear: ("Affine", 1.0, 0.0), A.hard_sigmoid: ("HardSigmoid", 1 / 6, 0.5),
         A.elu: ("Elu", 1.0), A.softsign: ("Softsign",), A.leaky_relu: ("LeakyRelu", 0.2)}
_OP = {layers.LSTM: "LSTM", layers.GRU: "GRU", layers.SimpleRNN: "RNN"}
_ORDER = {"LSTM": (0, 3, 1, 2), "GRU": (0, 1, 2), "RNN": (0,)}
_INT64_MIN = np.iinfo(np.int64).min


def _refuse(ctx, layer, why):
    raise UnsupportedLayerError(f"onnx.export: {type(layer).__name__} layer '{layer.name}' at "
                                f"'{ctx.where or '(the model)'}' {why}")


def _op_type(ctx, layer):
    """The ONNX operator of a Keras recurrent *layer*; refuses subclasses computing otherwise."""
    if lookup(layer, ctx.where) is not keras_recurrent:
        _refuse(ctx, layer, "is not a Keras LSTM, GRU or SimpleRNN")
    return next(op for cls, op in _OP.items() if isinstance(layer, cls))


def _acts(ctx, layer, op):
    """ONNX's activation names, alphas and betas for *layer* (in ONNX's f, g, h order)."""
    args = ["activation"] if op == "RNN" else \
        ["recurrent_activation", "activation"] + (["activation"] if op == "LSTM" else [])
    names, alphas, betas = [], [], []
    for arg in args:
        fn = getattr(layer, arg)
        spec = _ACTS.get(fn)
        if spec is None:
            _refuse(ctx, layer, f"has {arg}={getattr(fn, '__name__', fn)!r}, which ONNX's {op} "
                                f"operator cannot compute; it computes "
                                f"{', '.join(sorted(A.serialize(f) for f in _ACTS))}")
        names.append(spec[0])
        alphas += list(spec[1:2])
        betas += list(spec[2:3])
    return names, alphas, betas


def _check(ctx, layer, seq):
    if getattr(layer, "stateful", False):
        _refuse(ctx, layer, "has stateful=True: its states carry over between calls, which an "
                            "ONNX graph cannot keep")
    if get_keras_mask(seq.example) is not None:
        _refuse(ctx, layer, "receives a mask (from Embedding(mask_zero=True) or mask=): ONNX's "
                            "recurrent operators cannot skip masked steps; use mask_zero=False")


def _gates(a, order):
    """The gate blocks of *a* (stacked along axis 0) in ONNX's *order*."""
    blocks = np.split(a, len(order), axis=0)
    return np.concatenate([blocks[i] for i in order], axis=0)


def _weights(layer, op):
    """ONNX's W (G·U, F), R (G·U, U) and B (2·G·U,) of one direction, B None without bias."""
    order = _ORDER[op]
    w = _gates(layer.kernel._data.T, order)
    r = _gates(layer.recurrent_kernel._data.T, order)
    if not layer.use_bias:
        return w, r, None
    bias = layer.bias._data
    if op == "GRU" and layer.reset_after:
        wb, rb = bias[0], bias[1]
    else:
        wb, rb = _gates(bias, order), np.zeros_like(bias)
    return w, r, np.concatenate([wb, rb])


def _node(ctx, subs, op, tm, seq, init):
    """One ONNX *op* node over the time-major sequence *tm* for *subs* (one layer, or the
    forward-running then the reverse-running one); returns Y, Y_h (and Y_c)."""
    ws = [_weights(s, op) for s in subs]
    inputs = [tm, ctx.const(np.stack([w for w, _, _ in ws]), "W", like=seq),
              ctx.const(np.stack([r for _, r, _ in ws]), "R", like=seq)]
    if any(b is not None for _, _, b in ws):
        zero = np.zeros(2 * ws[0][0].shape[0], dtype=ws[0][0].dtype)
        inputs.append(ctx.const(np.stack([zero if b is None else b for _, _, b in ws]), "B",
                                like=seq))
    else:
        inputs.append("")
    if init:
        inputs += ["", *init]
    names, alphas, betas = [], [], []
    for s in subs:
        n, a, b = _acts(ctx, s, op)
        names, alphas, betas = names + n, alphas + a, betas + b
    attrs = {"hidden_size": subs[0].units, "activations": names}
    if alphas:
        attrs["activation_alpha"] = alphas
    if betas:
        attrs["activation_beta"] = betas
    if len(subs) == 2:
        attrs["direction"] = "bidirectional"
    else:
        attrs["direction"] = "reverse" if subs[0].go_backwards else "forward"
    if op == "GRU":
        attrs["linear_before_reset"] = int(subs[0].reset_after)
    return ctx.op(op, inputs, n_outputs=3 if op == "LSTM" else 2, **attrs)


def _outputs(ctx, layer, outs, d, flip, seq):
    """Direction *d*'s output (batch-major, time-flipped if *flip*) and its final states."""
    index = ctx.const(np.int64(d), "direction", key=("keras_rnn_direction", d))
    wanted = outs[1:] if layer.return_state else outs[1:2] if not layer.return_sequences else []
    states = [ctx.op("Gather", [o, index], axis=0) for o in wanted]
    if not layer.return_sequences:
        return states[0], states
    y = ctx.op("Gather", [outs[0], index], axis=1)                  # (T, N, U)
    if flip:
        y = ctx.op("Slice", [y, ctx.ints([-1], "starts"), ctx.ints([_INT64_MIN], "ends"),
                             ctx.ints([0], "axes"), ctx.ints([-1], "steps")])
    return ctx.op("Transpose", [y], perm=[1, 0, 2]), states


def _time_major(ctx, seq):
    return ctx.op("Transpose", [seq.name], perm=[1, 0, 2])


@register_converter(layers.LSTM, layers.GRU, layers.SimpleRNN)
def keras_recurrent(ctx, layer, out, x):
    seq, states = (x[0], x[1:]) if isinstance(x, list) else (x, [])
    op = _op_type(ctx, layer)
    _check(ctx, layer, seq)
    axes = ctx.ints([0], "axes") if states else None
    init = [ctx.op("Unsqueeze", [s.name, axes]) for s in states]
    outs = _node(ctx, [layer], op, _time_major(ctx, seq), seq, init)
    y, final = _outputs(ctx, layer, outs, 0, layer.go_backwards, seq)
    return [y, *final] if layer.return_state else y


@register_converter(layers.Bidirectional)
def keras_bidirectional(ctx, layer, out, x):
    if isinstance(x, list):
        _refuse(ctx, layer, "is called with initial states; only the sequence exports")
    fwd, bwd = layer.forward_layer, layer.backward_layer
    ops = [_op_type(ctx, s) for s in (fwd, bwd)]
    for s in (layer, fwd, bwd):
        _check(ctx, s, x)
    tm = _time_major(ctx, x)
    subs = (fwd, bwd)
    one_node = ops[0] == ops[1] and fwd.units == bwd.units and \
        getattr(fwd, "reset_after", None) == getattr(bwd, "reset_after", None)
    results = []
    if one_node:      # ONNX's direction 0 runs forwards, 1 backwards
        pair = sorted(subs, key=lambda s: s.go_backwards)
        outs = _node(ctx, pair, ops[0], tm, x, [])
    for slot, s in enumerate(subs):
        if not one_node:
            outs = _node(ctx, [s], ops[slot], tm, x, [])
        d = int(s.go_backwards) if one_node else 0
        # chainrule flips the backward half's sequence back into input order
        flip = s.go_backwards != (slot == 1 and layer.return_sequences)
        results.append(_outputs(ctx, s, outs, d, flip, x))
    (y, f_states), (y_rev, b_states) = results
    mode = layer.merge_mode
    if mode == "concat":
        merged = [ctx.op("Concat", [y, y_rev], axis=-1)]
    elif mode == "sum":
        merged = [ctx.op("Add", [y, y_rev])]
    elif mode == "mul":
        merged = [ctx.op("Mul", [y, y_rev])]
    elif mode == "ave":
        merged = [ctx.op("Div", [ctx.op("Add", [y, y_rev]), ctx.const(2.0, "two", like=x)])]
    else:
        merged = [y, y_rev]
    if layer.return_state:
        merged += f_states + b_states
    return merged[0] if len(merged) == 1 else merged


__all__ = ["keras_bidirectional", "keras_recurrent"]
