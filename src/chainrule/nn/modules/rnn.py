"""Recurrent layers as PyTorch's: ``RNN``, ``LSTM``, ``GRU`` and the cells ``RNNCell``,
``LSTMCell``, ``GRUCell``, with PyTorch's parameter names, shapes, gate order and initialisation.

Backpropagation through time is the chain rule along the sequence: each layer and direction is
one graph node (``LSTMSequence``, ``GRUSequence``, ``RNNSequence`` of
``nn/functional/recurrent_sequence.py``) whose forward loops over the time steps (the input
projection x W_ihᵀ + b of all steps as one GEMM, then per step the recurrent GEMM, the gates and
the state update) and whose backward walks them back in a loop (so 1,000 steps or more are fine).
An LSTM with ``proj_size`` records one fused step node per time step instead (``LSTMStep``), and
the cells one node per call.

    LSTM   i, f, g, o = split(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh)
           c' = σ(f) ⊙ c + σ(i) ⊙ tanh(g),   h' = σ(o) ⊙ tanh(c')
    GRU    r = σ(x_r + h_r),  z = σ(x_z + h_z),  n = tanh(x_n + r ⊙ h_n),  h' = (1 − z) ⊙ n + z ⊙ h
    RNN    h' = tanh(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh)   (or relu)
"""
import math

from chainrule.backend import device as _device, namespace_of, xp
from chainrule.errors import ArgumentTypeError, ConfigError, DTypeError, ShapeError
from chainrule.nn import init
from chainrule.nn.functional.dropout import dropout as _dropout
from chainrule.nn.functional.linear import linear
from chainrule.nn.functional.recurrent import GRUStep, LSTMStep, RNNStep, stack_steps, \
    unbind_steps
from chainrule.nn.functional.recurrent_sequence import GRUSequence, LSTMSequence, RNNSequence
from chainrule.nn.modules.attention import float_dtype, positive_int
from chainrule.nn.modules.module import Module
from chainrule.nn.parameter import Parameter
from chainrule.ops.shape import cat, stack
from chainrule.tensor import Tensor

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def time_steps(x):
    """The slices x[0], x[1], … along the first dim, as ``x.unbind(0)``, in one graph node whose
    backward stacks the slices' gradients once (slicing step by step would cost O(L²))."""
    return unbind_steps(x)


def _uniform_all(module, hidden_size):
    stdv = 1.0 / math.sqrt(hidden_size) if hidden_size > 0 else 0.0
    for w in module.parameters():
        init.uniform_(w, -stdv, stdv)


def _shape(t):
    return "[" + ", ".join(str(d) for d in t.shape) + "]"


class RNNBase(Module):
    """The sequence layers' common part: parameters, checks, and the loop over layers and
    directions. Use :class:`RNN`, :class:`LSTM` or :class:`GRU`."""

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__()
        name = {"RNN_TANH": "RNN", "RNN_RELU": "RNN"}.get(mode, mode)
        if mode not in _GATES:
            raise ConfigError(f"{name}: unknown mode {mode!r}; expected one of {sorted(_GATES)}")
        positive_int(input_size, "input_size", name)
        positive_int(hidden_size, "hidden_size", name)
        positive_int(num_layers, "num_layers", name)
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) \
                or not 0 <= dropout <= 1:
            raise ConfigError(f"{name}: dropout should be a number in range [0, 1] representing "
                              f"the probability of an element being zeroed, got {dropout!r}")
        if isinstance(proj_size, bool) or not isinstance(proj_size, int) or proj_size < 0:
            raise ConfigError(f"{name}: proj_size should be a non-negative integer, got "
                              f"{proj_size!r}")
        if proj_size and mode != "LSTM":
            raise ConfigError(f"{name}: proj_size argument is only supported for LSTM, not "
                              f"RNN or GRU")
        if proj_size >= hidden_size:
            raise ConfigError(f"{name}: proj_size has to be smaller than hidden_size, got "
                              f"proj_size={proj_size} and hidden_size={hidden_size}")
        _device(device)
        dtype = float_dtype(dtype, name)
        self.mode, self.input_size, self.hidden_size = mode, input_size, hidden_size
        self.num_layers, self.bias, self.batch_first = num_layers, bool(bias), bool(batch_first)
        self.dropout, self.bidirectional = float(dropout), bool(bidirectional)
        self.proj_size = proj_size
        gate_size = _GATES[mode] * hidden_size
        real_hidden = proj_size if proj_size > 0 else hidden_size
        directions = 2 if bidirectional else 1
        self._flat_weights_names, self._all_weights = [], []
        for layer in range(num_layers):
            for direction in range(directions):
                layer_in = input_size if layer == 0 else real_hidden * directions
                suffix = "_reverse" if direction == 1 else ""
                shapes = [("weight_ih", (gate_size, layer_in)),
                          ("weight_hh", (gate_size, real_hidden))]
                if bias:
                    shapes += [("bias_ih", (gate_size,)), ("bias_hh", (gate_size,))]
                if proj_size > 0:
                    shapes.append(("weight_hr", (proj_size, hidden_size)))
                names = []
                for base, shape in shapes:
                    pname = f"{base}_l{layer}{suffix}"
                    setattr(self, pname, Parameter(Tensor(xp.empty(shape, dtype=dtype))))
                    names.append(pname)
                self._flat_weights_names.extend(names)
                self._all_weights.append(names)
        self.reset_parameters()

    @property
    def _name(self):
        return "RNN" if self.mode.startswith("RNN") else self.mode

    def _describe(self):
        return f"{self._name}({self.input_size}, {self.hidden_size}" + \
            (f", num_layers={self.num_layers}" if self.num_layers != 1 else "") + ")"

    def reset_parameters(self):
        """Draw every weight and bias from U(-1/√hidden_size, 1/√hidden_size), as PyTorch."""
        _uniform_all(self, self.hidden_size)

    def flatten_parameters(self):
        """PyTorch's cuDNN memory-layout hint; nothing to do here."""

    @property
    def all_weights(self):
        """The parameters per layer and direction: [[weight_ih_l0, weight_hh_l0, ...], ...]."""
        return [[getattr(self, n) for n in names] for names in self._all_weights]

    # ---- checks -----------------------------------------------------------------------------
    def _check_input(self, input):
        where = self._describe()
        if not isinstance(input, Tensor):
            raise ArgumentTypeError(f"{where}: expected input to be a cr.Tensor, got "
                                    f"{type(input).__name__}")
        if input.ndim not in (2, 3):
            raise ShapeError(f"{where}: Expected input to be 2D or 3D, got {input.ndim}D instead "
                             f"(input shape {tuple(input.shape)})")
        if input.shape[-1] != self.input_size:
            raise ShapeError(f"{where}: input.size(-1) must be equal to input_size. Expected "
                             f"{self.input_size}, got {input.shape[-1]} (input shape "
                             f"{tuple(input.shape)})")
        if input._data.dtype.kind != "f":
            raise DTypeError(f"{where}: expected a floating-point input, got dtype {input.dtype}")
        time_dim = 1 if self.batch_first and input.ndim == 3 else 0
        if input.shape[time_dim] == 0:
            raise ShapeError(f"{where}: the input sequence is empty (input shape "
                             f"{tuple(input.shape)}); expected at least one time step")

    def _state_shape(self, batch, size):
        directions = 2 if self.bidirectional else 1
        return (self.num_layers * directions, batch, size)

    def _check_state(self, h, batch, batched, size, label):
        where = self._describe()
        if not isinstance(h, Tensor):
            raise ArgumentTypeError(f"{where}: expected {label} to be a cr.Tensor, got "
                                    f"{type(h).__name__}")
        want = self._state_shape(batch, size)
        if batched and h.ndim != 3:
            raise ShapeError(f"{where}: For batched 3-D input, {label} should also be 3-D but got "
                             f"{h.ndim}-D tensor of shape {tuple(h.shape)}")
        if not batched:
            if h.ndim != 2:
                raise ShapeError(f"{where}: For unbatched 2-D input, {label} should also be 2-D "
                                 f"but got {h.ndim}-D tensor of shape {tuple(h.shape)}")
            want = (want[0], want[2])
        if tuple(h.shape) != want:
            raise ShapeError(f"{where}: Expected {label} size {want}, got {_shape(h)}")
        if h._data.dtype.kind != "f":
            raise DTypeError(f"{where}: expected a floating-point {label}, got dtype {h.dtype}")

    def _initial_states(self, hx, batch, batched, ref):
        """Per layer × direction, the initial (h, c) (c is None except for LSTM)."""
        out_size = self.proj_size if self.proj_size > 0 else self.hidden_size
        is_lstm = self.mode == "LSTM"
        n = self.num_layers * (2 if self.bidirectional else 1)
        if hx is None:
            ns = namespace_of(ref._data)
            zeros_h = Tensor(ns.zeros((batch, out_size), dtype=ref._data.dtype))
            zeros_c = Tensor(ns.zeros((batch, self.hidden_size), dtype=ref._data.dtype)) \
                if is_lstm else None
            return [zeros_h] * n, [zeros_c] * n
        if is_lstm:
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise ArgumentTypeError(f"{self._describe()}: hx must be a tuple (h_0, c_0), got "
                                        f"{type(hx).__name__}")
            h0, c0 = hx
            self._check_state(h0, batch, batched, out_size, "hidden[0]")
            self._check_state(c0, batch, batched, self.hidden_size, "hidden[1]")
        else:
            h0, c0 = hx, None
            self._check_state(h0, batch, batched, out_size, "hidden")
        for state in (h0, c0):
            if state is not None and state._data.dtype != ref._data.dtype:
                raise DTypeError(f"{self._describe()}: Input and hidden tensors are not the same "
                                 f"dtype, found input tensor with {ref.dtype} and hidden tensor "
                                 f"with {state.dtype}")
        if not batched:
            h0 = h0.unsqueeze(1)
            c0 = c0.unsqueeze(1) if c0 is not None else None
        hs = [h0[i] for i in range(n)]
        cs = [c0[i] for i in range(n)] if c0 is not None else [None] * n
        return hs, cs

    # ---- the loop ---------------------------------------------------------------------------
    def forward(self, input, hx=None):
        self._check_input(input)
        batched = input.ndim == 3
        x = input.unsqueeze(1) if not batched else \
            (input.transpose(0, 1) if self.batch_first else input)
        batch = x.shape[1]
        hs, cs = self._initial_states(hx, batch, batched, x)
        directions = 2 if self.bidirectional else 1
        h_n, c_n = [], []
        for layer in range(self.num_layers):
            outs = []
            for d in range(directions):
                k = layer * directions + d
                weights = [getattr(self, n) for n in self._all_weights[k]]
                seq, h, c = self._direction(x, hs[k], cs[k], weights, reverse=d == 1)
                outs.append(seq)
                h_n.append(h)
                c_n.append(c)
            x = outs[0] if directions == 1 else cat(outs, 2)
            if self.dropout > 0 and self.training and layer < self.num_layers - 1:
                x = _dropout(x, self.dropout, True)
        output = x
        h_n = stack(h_n, 0)
        if not batched:
            output, h_n = output.squeeze(1), h_n.squeeze(1)
        elif self.batch_first:
            output = output.transpose(0, 1)
        if self.mode != "LSTM":
            return output, h_n
        c_n = stack(c_n, 0)
        return output, (h_n, c_n.squeeze(1) if not batched else c_n)

    def _direction(self, x, h, c, weights, reverse):
        """Run one direction of one layer over x (L, N, F); returns (outputs (L, N, H), h, c):
        one sequence op (``LSTMSequence``, ``GRUSequence``, ``RNNSequence``), or with a projection
        (LSTM's proj_size) one ``LSTMStep`` node per time step."""
        w_ih, w_hh = weights[0], weights[1]
        b_ih, b_hh = (weights[2], weights[3]) if self.bias else (None, None)
        w_hr = weights[-1] if self.proj_size > 0 else None
        mode = self.mode
        if w_hr is None:       # one node for the whole layer and direction
            last = 0 if reverse else x.shape[0] - 1
            if mode == "LSTM":
                hs, cs, _, _ = LSTMSequence.apply(x, h, c, w_ih, w_hh, b_ih, b_hh, reverse)
                return hs, hs[last], cs[last]
            if mode == "GRU":
                hs, _ = GRUSequence.apply(x, h, w_ih, w_hh, b_ih, b_hh, reverse)
                return hs, hs[last], None
            hs = RNNSequence.apply(x, h, w_ih, w_hh, b_ih, b_hh,
                                   "tanh" if mode == "RNN_TANH" else "relu", reverse)
            return hs, hs[last], None
        # LSTM with a projection: one fused step node per time step, then h W_hrᵀ
        steps = time_steps(linear(x, w_ih, None if b_ih is None else b_ih + b_hh))
        outs = [None] * len(steps)
        w_t = namespace_of(w_hh._data).ascontiguousarray(w_hh._data.T)   # once: a plain GEMM
        for t in (range(len(steps) - 1, -1, -1) if reverse else range(len(steps))):
            h, c, _ = LSTMStep.apply(steps[t], h, c, w_hh, None, w_t)
            h = linear(h, w_hr)
            outs[t] = h
        return stack_steps(outs), h, c

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s


class RNN(RNNBase):
    """Elman RNN, as ``torch.nn.RNN``: h_t = tanh(x_t W_ihᵀ + b_ih + h_{t-1} W_hhᵀ + b_hh) (or relu).

    Input (L, N, H_in) (or (N, L, H_in) with batch_first, or unbatched (L, H_in)) and optional
    h_0 (layers·directions, N, H); returns (output (L, N, directions·H), h_n).

    >>> rnn = cr.nn.RNN(10, 20, num_layers=2)
    >>> out, h_n = rnn(cr.randn(5, 3, 10))
    >>> out.shape, h_n.shape
    ((5, 3, 20), (2, 3, 20))
    """

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ConfigError(f"RNN: unknown nonlinearity {nonlinearity!r}; select from 'tanh' "
                              f"or 'relu'")
        self.nonlinearity = nonlinearity
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size,
                         hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         device=device, dtype=dtype)

    def extra_repr(self):
        s = super().extra_repr()
        return s if self.nonlinearity == "tanh" else s + ", nonlinearity='relu'"


class LSTM(RNNBase):
    """Long short-term memory, as ``torch.nn.LSTM`` (gates i, f, g, o; proj_size as PyTorch).

    c_t = σ(f) ⊙ c_{t-1} + σ(i) ⊙ tanh(g),  h_t = σ(o) ⊙ tanh(c_t), with
    (i, f, g, o) = x_t W_ihᵀ + b_ih + h_{t-1} W_hhᵀ + b_hh. Returns (output, (h_n, c_n)).

    >>> lstm = cr.nn.LSTM(10, 20, batch_first=True, bidirectional=True)
    >>> out, (h_n, c_n) = lstm(cr.randn(3, 5, 10))
    >>> out.shape, h_n.shape
    ((3, 5, 40), (2, 3, 20))
    """

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, proj_size, device, dtype)


class GRU(RNNBase):
    """Gated recurrent unit, as ``torch.nn.GRU`` (gates r, z, n).

    r = σ(x W_irᵀ + b_ir + h W_hrᵀ + b_hr), z likewise, n = tanh(x W_inᵀ + b_in + r ⊙ (h W_hnᵀ +
    b_hn)), h' = (1 − z) ⊙ n + z ⊙ h. Returns (output, h_n).

    >>> gru = cr.nn.GRU(10, 20)
    >>> out, h_n = gru(cr.randn(5, 3, 10))
    >>> out.shape, h_n.shape
    ((5, 3, 20), (1, 3, 20))
    """

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, device=None, dtype=None):
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, device=device, dtype=dtype)


# ---- cells ------------------------------------------------------------------------------------
class RNNCellBase(Module):
    """The cells' common part: weight_ih (G·H, in), weight_hh (G·H, H), bias_ih, bias_hh."""

    _gates = 1

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__()
        name = type(self).__name__
        positive_int(input_size, "input_size", name)
        positive_int(hidden_size, "hidden_size", name)
        _device(device)
        dtype = float_dtype(dtype, name)
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bool(bias)
        g = self._gates * hidden_size
        self.weight_ih = Parameter(Tensor(xp.empty((g, input_size), dtype=dtype)))
        self.weight_hh = Parameter(Tensor(xp.empty((g, hidden_size), dtype=dtype)))
        if bias:
            self.bias_ih = Parameter(Tensor(xp.empty((g,), dtype=dtype)))
            self.bias_hh = Parameter(Tensor(xp.empty((g,), dtype=dtype)))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self):
        """Draw every weight and bias from U(-1/√hidden_size, 1/√hidden_size), as PyTorch."""
        _uniform_all(self, self.hidden_size)

    def _where(self):
        return f"{type(self).__name__}({self.input_size}, {self.hidden_size})"

    def _prepare(self, input, states):
        """Check input (N, in) or (in,) and the states (N, H) or (H,); return them batched."""
        where = self._where()
        if not isinstance(input, Tensor):
            raise ArgumentTypeError(f"{where}: expected input to be a cr.Tensor, got "
                                    f"{type(input).__name__}")
        if input.ndim not in (1, 2):
            raise ShapeError(f"{where}: Expected input to be 1D or 2D, got {input.ndim}D instead "
                             f"(input shape {tuple(input.shape)})")
        if input.shape[-1] != self.input_size:
            raise ShapeError(f"{where}: input has inconsistent input_size: got "
                             f"{input.shape[-1]} expected {self.input_size} (input shape "
                             f"{tuple(input.shape)})")
        batched = input.ndim == 2
        x = input if batched else input.unsqueeze(0)
        out = []
        for i, h in enumerate(states):
            label = f"hidden{i}" if len(states) > 1 else "hidden"
            if h is None:
                out.append(Tensor(namespace_of(x._data).zeros((x.shape[0], self.hidden_size),
                                                             dtype=x._data.dtype)))
                continue
            if not isinstance(h, Tensor):
                raise ArgumentTypeError(f"{where}: expected {label} to be a cr.Tensor, got "
                                        f"{type(h).__name__}")
            if h.ndim != input.ndim:
                raise ShapeError(f"{where}: {label} must be {input.ndim}-D like the input, got "
                                 f"shape {tuple(h.shape)} for input {tuple(input.shape)}")
            if h.shape[-1] != self.hidden_size:
                raise ShapeError(f"{where}: {label} has inconsistent hidden_size: got "
                                 f"{h.shape[-1]}, expected {self.hidden_size}")
            if batched and h.shape[0] != input.shape[0]:
                raise ShapeError(f"{where}: Input batch size {input.shape[0]} doesn't match "
                                 f"{label} batch size {h.shape[0]}")
            if h._data.dtype != x._data.dtype:
                raise DTypeError(f"{where}: Input and hidden tensors are not the same dtype, found "
                                 f"input tensor with {input.dtype} and {label} tensor with "
                                 f"{h.dtype}")
            out.append(h if batched else h.unsqueeze(0))
        return x, out, batched

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        nl = getattr(self, "nonlinearity", "tanh")
        return s if nl == "tanh" else s + f", nonlinearity={nl!r}"


class RNNCell(RNNCellBase):
    """h' = tanh(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh) (or relu), one step, as ``torch.nn.RNNCell``.

    >>> cell = cr.nn.RNNCell(10, 20)
    >>> cell(cr.randn(3, 10)).shape
    (3, 20)
    """

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None,
                 dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ConfigError(f"RNNCell: unknown nonlinearity {nonlinearity!r}; select from "
                              f"'tanh' or 'relu'")
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, bias, device, dtype)

    def forward(self, input, hx=None):
        x, (h,), batched = self._prepare(input, [hx])
        h = RNNStep.apply(linear(x, self.weight_ih, self.bias_ih), h, self.weight_hh,
                          self.bias_hh, self.nonlinearity)
        return h if batched else h.squeeze(0)


class LSTMCell(RNNCellBase):
    """One LSTM step, as ``torch.nn.LSTMCell``: (h', c') from x and (h, c); gates i, f, g, o.

    >>> cell = cr.nn.LSTMCell(10, 20)
    >>> h, c = cell(cr.randn(3, 10))
    >>> h.shape, c.shape
    ((3, 20), (3, 20))
    """

    _gates = 4

    def forward(self, input, hx=None):
        if hx is not None and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
            raise ArgumentTypeError(f"{self._where()}: hx must be a tuple (h, c), got "
                                    f"{type(hx).__name__}")
        x, (h, c), batched = self._prepare(input, list(hx) if hx is not None else [None, None])
        h, c, _ = LSTMStep.apply(linear(x, self.weight_ih, self.bias_ih), h, c, self.weight_hh,
                                 self.bias_hh)
        return (h, c) if batched else (h.squeeze(0), c.squeeze(0))


class GRUCell(RNNCellBase):
    """One GRU step, as ``torch.nn.GRUCell``: h' from x and h; gates r, z, n.

    >>> cell = cr.nn.GRUCell(10, 20)
    >>> cell(cr.randn(3, 10)).shape
    (3, 20)
    """

    _gates = 3

    def forward(self, input, hx=None):
        x, (h,), batched = self._prepare(input, [hx])
        h = GRUStep.apply(linear(x, self.weight_ih, self.bias_ih), h, self.weight_hh,
                          self.bias_hh)[0]
        return h if batched else h.squeeze(0)
