"""Keras 3's recurrent layers: ``SimpleRNN``, ``LSTM``, ``GRU`` (their ``"orthogonal"``
initializer lives in ``recurrent_initializers.py``).

Weights are stored the Keras way: ``kernel`` (features, gates·units), ``recurrent_kernel``
(units, gates·units), ``bias``; gate order LSTM i, f, c, o and GRU z, r, h (update, reset,
candidate); GRU's default ``reset_after=True`` keeps separate input and recurrent biases, shape
(2, 3·units). Inputs are (batch, timesteps, features). A mask (from ``Embedding(mask_zero=True)``
or passed as ``mask=``) skips the masked steps: their state and output are those of the previous
step, as Keras does. Example::

    >>> lstm = cr.layers.LSTM(8, return_sequences=True, return_state=True)
    >>> seq, h, c = lstm(cr.randn(2, 5, 3))
    >>> seq.shape, h.shape, c.shape
    ((2, 5, 8), (2, 8), (2, 8))
"""
import numpy as np

from chainrule.backend import namespace_of
from chainrule.errors import ConfigError, ShapeError
from chainrule.keras import regularizers
from chainrule.keras.layers import activations, initializers
from chainrule.keras.layers.masking import MaskedLayer, check_sequence_mask
from chainrule.keras.layers.recurrent_initializers import ForgetBias, Orthogonal
from chainrule.keras.layers.recurrent_sequence import gru_sequence, lstm_sequence, rnn_sequence
from chainrule.keras.layers.registry import serializable
from chainrule.keras.symbolic import is_symbolic, shape_repr
from chainrule.keras.utils import check_float, positive_int
from chainrule.nn.functional.dropout import dropout as _dropout
from chainrule.nn.functional.recurrent import GRUStep, LSTMStep, RNNStep
from chainrule.nn.modules.rnn import time_steps
from chainrule.ops.elementwise import where
from chainrule.ops.shape import stack
from chainrule.random import Generator
from chainrule.tensor import Tensor


def _seed(seed, where):
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
        raise ConfigError(f"{where}: expected an int or None for seed. Received: seed={seed!r}")
    return None if seed is None else int(seed)


class RNNLayer(MaskedLayer):
    """The common part of SimpleRNN, LSTM and GRU: weights, checks, masks and the time loop.

    Subclasses set ``_gates`` and ``_n_states`` and define ``_step(x_t, states, rec_mask, fused)``
    returning the new states (the first is the output); ``fused`` is what ``_fused_weights()``
    returned once per call: the weights laid out for the fused step ops of
    ``nn/functional/recurrent.py`` (one graph node per step), or None where the layer's
    activations are not the ones those ops compute (then the step is composed of tensor ops).
    Where those ops fit and no mask or recurrent dropout applies, ``_sequence(x, states)`` runs
    the whole call as one sequence op instead (``recurrent_sequence.py``).
    """

    _gates = 1
    _n_states = 1
    _per_step = False    # True forces the per-step graph (tests compare it with the sequence op)

    def _setup(self, args):
        """Check and keep the constructor's arguments; *args* is its ``locals()`` (Keras's
        argument names; SimpleRNN has no recurrent_activation)."""
        where = f"{type(self).__name__} '{self.name}'"
        self.units = positive_int(args["units"], "units", where)
        self.activation = activations.get(args["activation"])
        self.recurrent_activation = activations.get(args.get("recurrent_activation"))
        self.use_bias = bool(args["use_bias"])
        for kind in ("kernel", "recurrent", "bias"):
            setattr(self, f"{kind}_initializer", initializers.get(args[f"{kind}_initializer"]))
            setattr(self, f"{kind}_regularizer", regularizers.get(args[f"{kind}_regularizer"]))
        if args["activity_regularizer"] is not None or any(
                args[f"{kind}_constraint"] is not None for kind in ("kernel", "recurrent", "bias")):
            raise ConfigError(f"{where}: activity_regularizer and weight constraints are not "
                              f"supported; leave them None")
        for name in ("dropout", "recurrent_dropout"):
            setattr(self, name, check_float(args[name], name, where, 0, 1))
        self.seed = _seed(args["seed"], where)
        self._generator = None if self.seed is None else Generator().manual_seed(self.seed)
        for name in ("return_sequences", "return_state", "go_backwards", "stateful", "unroll",
                     "zero_output_for_mask"):
            setattr(self, name, bool(args[name]))
        self._states = None   # the last states, kept between calls when stateful

    @property
    def state_size(self):
        """The size of each state: [units] (LSTM: [units, units])."""
        return [self.units] * self._n_states

    def _where(self):
        return f"{type(self).__name__} '{self.name}'"

    def __call__(self, inputs, *args, initial_state=None, **kwargs):
        if initial_state is not None and is_symbolic([inputs] + _as_list(initial_state)):
            # a graph records tensors only as inputs: the states travel after the sequence
            return super().__call__([inputs] + _as_list(initial_state), *args, **kwargs)
        return super().__call__(inputs, *args, initial_state=initial_state, **kwargs)

    def build(self, input_shape):
        if isinstance(input_shape, list):        # [sequence, *initial states]
            input_shape = input_shape[0]
        if not isinstance(input_shape, tuple) or len(input_shape) != 3:
            raise ShapeError(f"Input 0 of layer \"{self.name}\" is incompatible with the layer: "
                             f"expected ndim=3, found ndim={len(input_shape)}. Full shape "
                             f"received: {shape_repr(tuple(input_shape))}")
        if input_shape[-1] is None:
            raise ShapeError(f"{self._where()}: the last dimension (features) of the inputs must "
                             f"be known. Received: input_shape={shape_repr(input_shape)}")
        n = self._gates * self.units
        self.add_weight("kernel", (input_shape[-1], n), self.kernel_initializer,
                        regularizer=self.kernel_regularizer)
        self.add_weight("recurrent_kernel", (self.units, n), self.recurrent_initializer,
                        regularizer=self.recurrent_regularizer)
        if self.use_bias:
            self.add_weight("bias", self._bias_shape(), self._bias_init(),
                            regularizer=self.bias_regularizer)

    def _bias_shape(self):
        return (self._gates * self.units,)

    def _bias_init(self):
        return self.bias_initializer

    def _input_bias(self):
        return self.bias if self.use_bias else None

    # ---- calling ------------------------------------------------------------------------------
    def _check(self, sequences):
        if not isinstance(sequences, Tensor) or sequences.ndim != 3:
            shape = tuple(sequences.shape) if isinstance(sequences, Tensor) else None
            raise ShapeError(f"Input 0 of layer \"{self.name}\" is incompatible with the layer: "
                             f"expected ndim=3, found ndim={len(shape) if shape else '?'}. Full "
                             f"shape received: {shape_repr(shape) if shape else shape}")
        if sequences.shape[-1] != self.kernel.shape[0]:
            raise ShapeError(f"Input 0 of layer \"{self.name}\" is incompatible with the layer: "
                             f"expected axis -1 of input shape to have value "
                             f"{self.kernel.shape[0]}, but received input with shape "
                             f"{shape_repr(tuple(sequences.shape))}")
        if sequences.shape[1] == 0:
            raise ShapeError(f"{self._where()}: the input sequence is empty (shape "
                             f"{shape_repr(tuple(sequences.shape))}); expected >= 1 timestep")

    def _initial(self, initial_state, batch, ref):
        where = self._where()
        if initial_state is None:
            if self.stateful and self._states is not None and \
                    self._states[0].shape[0] == batch:
                return list(self._states)
            zero = Tensor(namespace_of(ref._data).zeros((batch, self.units), dtype=ref._data.dtype))
            return [zero] * self._n_states
        states = list(initial_state) if isinstance(initial_state, (list, tuple)) \
            else [initial_state]
        if len(states) != self._n_states:
            raise ShapeError(f"{where}: initial_state must be a list of {self._n_states} "
                             f"tensor{'s' if self._n_states > 1 else ''} of shape (batch, units) "
                             f"= ({batch}, {self.units}); received {len(states)}")
        out = []
        for i, s in enumerate(states):
            if not isinstance(s, Tensor):
                s = Tensor(namespace_of(ref._data).asarray(np.asarray(s)))
            if tuple(s.shape) != (batch, self.units):
                raise ShapeError(f"{where}: initial_state[{i}] must have shape (batch, units) = "
                                 f"({batch}, {self.units}); received shape {tuple(s.shape)}")
            out.append(s if s.dtype == ref.dtype else s.to(ref.dtype))
        return out

    def forward(self, sequences, initial_state=None, mask=None, training=None):
        if isinstance(sequences, (list, tuple)):   # [sequence, *initial states] from a graph
            sequences, initial_state = sequences[0], list(sequences[1:]) or initial_state
            mask = mask[0] if isinstance(mask, (list, tuple)) else mask
        self._check(sequences)
        batch, steps, features = sequences.shape
        mask = check_sequence_mask(mask, batch, steps, self._where())
        training = self.training if training is None else bool(training)
        states = self._initial(initial_state, batch, sequences)
        x = sequences.transpose(0, 1)          # (T, B, F): one GEMM for every step's inputs
        ns = namespace_of(x._data)
        if training and self.dropout > 0:
            keep = _dropout(Tensor(ns.ones((batch, features), dtype=x._data.dtype)),
                            self.dropout, True, generator=self._generator)
            x = x * keep
        rec_mask = None
        if training and self.recurrent_dropout > 0:
            rec_mask = _dropout(Tensor(ns.ones((batch, self.units), dtype=x._data.dtype)),
                                self.recurrent_dropout, True, generator=self._generator)
        if mask is None and rec_mask is None and self._fusable() and not self._per_step:
            output, states = self._sequence(x, states)      # one graph node for all the steps
        else:
            output, states = self._step_loop(x, states, mask, rec_mask)
        if self.stateful:
            self._states = [s.detach() for s in states]
        return [output] + list(states) if self.return_state else output

    def _step_loop(self, x, states, mask, rec_mask):
        """(output, states) from one step node per time step (masks, recurrent dropout and the
        activations no sequence op computes)."""
        xw = x @ self.kernel
        bias = self._input_bias()
        if bias is not None:
            xw = xw + bias
        inputs = time_steps(xw)
        steps = x.shape[0]
        order = range(steps - 1, -1, -1) if self.go_backwards else range(steps)
        keep_steps = None if mask is None else mask._data
        outputs = []
        fused = self._fused_weights()
        for t in order:
            new = self._step(inputs[t], states, rec_mask, fused)
            if keep_steps is None:
                states, out = new, new[0]
            else:
                m = Tensor(keep_steps[:, t:t + 1])
                states = [where(m, n, s) for n, s in zip(new, states)]
                out = where(m, new[0], 0.0) if self.zero_output_for_mask else states[0]
            if self.return_sequences or not outputs:
                outputs.append(out)
            else:
                outputs[0] = out
        return stack(outputs, 0).transpose(0, 1) if self.return_sequences else outputs[-1], states

    def _fused_weights(self):
        """(W_hh, W_hhᵀ contiguous) for the fused step ops: Keras's recurrent_kernel (units,
        G·units) is PyTorch's W_hhᵀ, so W_hh is its transpose; None where no op fits."""
        if not self._fusable():
            return None
        rk = self.recurrent_kernel
        return rk.T, namespace_of(rk._data).ascontiguousarray(rk._data)

    def _fusable(self):
        return False

    def reset_state(self):
        """Forget the states kept between calls (stateful layers)."""
        self._states = None

    reset_states = reset_state

    def compute_output_shape(self, input_shape):
        if isinstance(input_shape, list):
            input_shape = input_shape[0]
        batch, steps = input_shape[0], input_shape[1]
        out = (batch, steps, self.units) if self.return_sequences else (batch, self.units)
        if self.return_state:
            return [out] + [(batch, self.units)] * self._n_states
        return out

    def compute_mask(self, inputs, mask=None):
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        out = mask if self.return_sequences else None
        return [out] + [None] * self._n_states if self.return_state else out

    def get_config(self):
        return {**super().get_config(), "units": self.units,
                "activation": activations.serialize(self.activation),
                "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
                "recurrent_regularizer": regularizers.serialize(self.recurrent_regularizer),
                "bias_regularizer": regularizers.serialize(self.bias_regularizer),
                "dropout": self.dropout, "recurrent_dropout": self.recurrent_dropout,
                "seed": self.seed, "return_sequences": self.return_sequences,
                "return_state": self.return_state, "go_backwards": self.go_backwards,
                "stateful": self.stateful, "unroll": self.unroll,
                "zero_output_for_mask": self.zero_output_for_mask}


def _as_list(states):
    return list(states) if isinstance(states, (list, tuple)) else [states]


def _recurrent_input(h, rec_mask):
    return h if rec_mask is None else h * rec_mask


@serializable()
class SimpleRNN(RNNLayer):
    """h_t = activation(x_t · kernel + h_{t-1} · recurrent_kernel + bias), Keras 3's SimpleRNN.

    >>> cr.layers.SimpleRNN(4)(cr.randn(2, 6, 3)).shape
    (2, 4)
    """

    def __init__(self, units, activation="tanh", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, unroll=False, seed=None,
                 zero_output_for_mask=False, **kwargs):
        super().__init__(**kwargs)
        self._setup(locals())

    def _fusable(self):
        return self.activation is activations.tanh or self.activation is activations.relu

    def _sequence(self, x, states):
        return rnn_sequence(self, x, states,
                            "tanh" if self.activation is activations.tanh else "relu")

    def _step(self, x_t, states, rec_mask, fused):
        h = _recurrent_input(states[0], rec_mask)
        if fused is not None:
            kind = "tanh" if self.activation is activations.tanh else "relu"
            return [RNNStep.apply(x_t, h, fused[0], None, kind, fused[1])]
        return [self.activation(x_t + h @ self.recurrent_kernel)]


class _GatedRNN(RNNLayer):
    """LSTM's and GRU's common part: a recurrent_activation besides the activation; the fused
    step ops compute Keras's defaults, tanh and sigmoid."""

    def _fusable(self):
        return self.activation is activations.tanh and \
            self.recurrent_activation is activations.sigmoid

    def get_config(self):
        return {**super().get_config(),
                "recurrent_activation": activations.serialize(self.recurrent_activation)}


@serializable()
class LSTM(_GatedRNN):
    """Keras 3's LSTM: gates i, f, c, o from x_t · kernel + h_{t-1} · recurrent_kernel + bias;
    c_t = f ⊙ c_{t-1} + i ⊙ activation(c̃), h_t = o ⊙ activation(c_t) (i, f, o through
    recurrent_activation). ``unit_forget_bias=True`` starts the forget-gate bias at 1.

    >>> out, h, c = cr.layers.LSTM(4, return_state=True)(cr.randn(2, 6, 3))
    >>> out.shape, c.shape
    ((2, 4), (2, 4))
    """

    _gates = 4
    _n_states = 2

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", unit_forget_bias=True, kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, recurrent_constraint=None, bias_constraint=None,
                 dropout=0.0, recurrent_dropout=0.0, seed=None, return_sequences=False,
                 return_state=False, go_backwards=False, stateful=False, unroll=False,
                 use_cudnn="auto", zero_output_for_mask=False, **kwargs):
        super().__init__(**kwargs)
        self._setup(locals())
        self.unit_forget_bias = bool(unit_forget_bias)
        self.use_cudnn = use_cudnn

    def _bias_init(self):
        return ForgetBias(self.bias_initializer, self.units) if self.unit_forget_bias \
            else self.bias_initializer

    def _sequence(self, x, states):
        return lstm_sequence(self, x, states)

    def _step(self, x_t, states, rec_mask, fused):
        h, c = states
        h = _recurrent_input(h, rec_mask)
        if fused is not None:            # Keras's gate order i, f, c, o is PyTorch's i, f, g, o
            h, c, _ = LSTMStep.apply(x_t, h, c, fused[0], None, fused[1])
            return [h, c]
        i, f, g, o = (x_t + h @ self.recurrent_kernel).chunk(4, 1)
        act, ract = self.activation, self.recurrent_activation
        c = ract(f) * c + ract(i) * act(g)
        return [ract(o) * act(c), c]

    def get_config(self):
        return {**super().get_config(), "unit_forget_bias": self.unit_forget_bias}


@serializable()
class GRU(_GatedRNN):
    """Keras 3's GRU, gates z (update), r (reset), h (candidate):
    z = σ(x_z + h U_z), r = σ(x_r + h U_r), h̃ = tanh(x_h + r ⊙ (h U_h + b_h)) with
    ``reset_after=True`` (default; bias (2, 3·units): input and recurrent rows) or
    h̃ = tanh(x_h + (r ⊙ h) U_h) without; h_t = z ⊙ h_{t-1} + (1 − z) ⊙ h̃.

    >>> cr.layers.GRU(4, return_sequences=True)(cr.randn(2, 6, 3)).shape
    (2, 6, 4)
    """

    _gates = 3

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, seed=None, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, unroll=False, reset_after=True,
                 use_cudnn="auto", zero_output_for_mask=False, **kwargs):
        super().__init__(**kwargs)
        self._setup(locals())
        self.reset_after = bool(reset_after)
        self.use_cudnn = use_cudnn

    def _bias_shape(self):
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def _input_bias(self):
        if not self.use_bias:
            return None
        return self.bias[0] if self.reset_after else self.bias

    def _fusable(self):
        return self.reset_after and super()._fusable()

    def _sequence(self, x, states):
        return gru_sequence(self, x, states)

    def _fused_weights(self):
        """(W_hh, W_hhᵀ contiguous, the recurrent bias b_hh = bias[1] or None)."""
        fused = super()._fused_weights()
        return None if fused is None else fused + (self.bias[1] if self.use_bias else None,)

    def _step(self, x_t, states, rec_mask, fused):
        h = states[0]
        if fused is not None and rec_mask is None:   # the op reads one h for both of its uses
            w_hh, w_t, b_hh = fused                  # Keras's gate order z, r, h: "zrn"
            return [GRUStep.apply(x_t, h, w_hh, b_hh, "zrn", w_t)[0]]
        hr = _recurrent_input(h, rec_mask)
        u = self.units
        x_z, x_r, x_h = x_t.chunk(3, 1)
        act, ract = self.activation, self.recurrent_activation
        if self.reset_after:
            inner = hr @ self.recurrent_kernel
            if self.use_bias:
                inner = inner + self.bias[1]
            r_z, r_r, r_h = inner.chunk(3, 1)
            z = ract(x_z + r_z)
            r = ract(x_r + r_r)
            hh = act(x_h + r * r_h)
        else:
            r_z, r_r = (hr @ self.recurrent_kernel[:, :2 * u]).chunk(2, 1)
            z = ract(x_z + r_z)
            r = ract(x_r + r_r)
            hh = act(x_h + (r * hr) @ self.recurrent_kernel[:, 2 * u:])
        return [hh + z * (h - hh)]     # = z ⊙ h + (1 - z) ⊙ h̃

    def get_config(self):
        return {**super().get_config(), "reset_after": self.reset_after}


__all__ = ["GRU", "LSTM", "Orthogonal", "RNNLayer", "SimpleRNN"]
