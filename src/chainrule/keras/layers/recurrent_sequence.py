"""The Keras-style recurrent layers' whole-sequence path: one ``LSTMSequence``, ``GRUSequence``
or ``RNNSequence`` node per call instead of one step node per time step.

The Keras weights are handed to the ops in PyTorch's layout inside the graph (so gradients flow
back to ``kernel``, ``recurrent_kernel`` and ``bias``): W_ih = kernelᵀ, W_hh = recurrent_kernelᵀ,
with LSTM's gate order i, f, c, o already PyTorch's i, f, g, o, and GRU's z, r, h re-ordered as
r, z, n (``reset_after=True``: h̃ = tanh(x_h + r ⊙ (h U_h + b_h)) is PyTorch's n, and
z ⊙ h + (1 − z) ⊙ h̃ = n + z ⊙ (h − n)). ``go_backwards`` runs the op with ``reverse=True``;
its hs (T, B, H) is in time order, while Keras returns the outputs in the order it visits the
steps, so the sequence is flipped back. Example::

    >>> x, layer = cr.randn(6, 2, 3), cr.layers.LSTM(4, return_sequences=True)
    >>> layer.build((2, 6, 3))
    >>> out, states = lstm_sequence(layer, x, [cr.zeros(2, 4)] * 2)
    >>> out.shape, len(states)
    ((2, 6, 4), 2)
"""
from chainrule.nn.functional.recurrent_sequence import GRUSequence, LSTMSequence, RNNSequence
from chainrule.ops.rearrange import flip
from chainrule.ops.shape import cat


def _finish(layer, hs, states):
    """(output, states): the output is hs (T, B, H) as (B, T, H) in the visiting order when
    return_sequences, else the last state h."""
    if not layer.return_sequences:
        return states[0], states
    seq = flip(hs, 0) if layer.go_backwards else hs
    return seq.transpose(0, 1), states


def _last(layer, hs):
    """The final state of the visit: hs[0] when going backwards, else hs[−1]."""
    return hs[0] if layer.go_backwards else hs[hs.shape[0] - 1]


def lstm_sequence(layer, x, states):
    """A Keras LSTM (tanh, sigmoid) on x (T, B, F) from states [h0, c0] as one LSTMSequence:
    W_ih = kernelᵀ, W_hh = recurrent_kernelᵀ, b_ih = bias (i, f, c, o = PyTorch's i, f, g, o)."""
    hs, cs, _, _ = LSTMSequence.apply(x, states[0], states[1], layer.kernel.T,
                                      layer.recurrent_kernel.T,
                                      layer.bias if layer.use_bias else None, None,
                                      layer.go_backwards)
    return _finish(layer, hs, [_last(layer, hs), _last(layer, cs)])


def _rzn(w, units, dim):
    """Keras's GRU gate blocks z, r, h along *dim* re-ordered as PyTorch's r, z, n."""
    z, r, h = w.split(units, dim)
    return cat([r, z, h], dim)


def gru_sequence(layer, x, states):
    """A Keras GRU (tanh, sigmoid, reset_after=True) on x (T, B, F) from [h0] as one GRUSequence:
    W_ih = kernelᵀ, W_hh = recurrent_kernelᵀ, b_ih = bias[0], b_hh = bias[1], gate blocks
    z, r, h re-ordered as r, z, n."""
    u = layer.units
    b_ih = b_hh = None
    if layer.use_bias:
        bias = _rzn(layer.bias, u, 1)
        b_ih, b_hh = bias[0], bias[1]
    hs, _ = GRUSequence.apply(x, states[0], _rzn(layer.kernel, u, 1).T,
                              _rzn(layer.recurrent_kernel, u, 1).T, b_ih, b_hh,
                              layer.go_backwards)
    return _finish(layer, hs, [_last(layer, hs)])


def rnn_sequence(layer, x, states, nonlinearity):
    """A Keras SimpleRNN (tanh or relu) on x (T, B, F) from [h0] as one RNNSequence:
    W_ih = kernelᵀ, W_hh = recurrent_kernelᵀ, b_ih = bias."""
    hs = RNNSequence.apply(x, states[0], layer.kernel.T, layer.recurrent_kernel.T,
                           layer.bias if layer.use_bias else None, None, nonlinearity,
                           layer.go_backwards)
    return _finish(layer, hs, [_last(layer, hs)])


__all__ = ["gru_sequence", "lstm_sequence", "rnn_sequence"]
