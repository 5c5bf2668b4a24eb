"""Fused recurrent steps: one graph node per time step for the LSTM, the GRU and the Elman RNN.

Each step op takes the input projection ``gx = x W_ihᵀ + b_ih`` (computed for every time step of
a sequence in one GEMM before the loop, as PyTorch does), the state and the recurrent weights,
and does the recurrent GEMM, the gate nonlinearities and the state update on arrays; its backward
gives every input's gradient in a few array expressions.  Forward and backward are written once
on ``ctx.xp`` (the ``Op`` contract), so ``create_graph=True`` differentiates the backward again:
the activated gates are a (rarely used) extra output of each step, so that the backward reads
them as a differentiable value rather than a constant.  A step may be handed ``w_hh_t``, a
contiguous copy of W_hhᵀ made once per sequence: h @ W_hhᵀ on it is a plain GEMM, which BLAS runs
markedly faster than on the transposed view at these small shapes.

    LSTM  z = gx + h W_hhᵀ + b_hh = (i, f, g, o);  c' = σ(f) ⊙ c + σ(i) ⊙ tanh(g);
          h' = σ(o) ⊙ tanh(c')
    GRU   r = σ(x_r + h_r),  z = σ(x_z + h_z),  n = tanh(x_n + r ⊙ h_n),  h' = (1 − z) ⊙ n + z ⊙ h
          with (h_r, h_z, h_n) = h W_hhᵀ + b_hh (r applied after the recurrent GEMM, as PyTorch)
    RNN   h' = tanh(gx + h W_hhᵀ + b_hh)  (or relu)

>>> h, c = F.lstm_cell(cr.randn(3, 4), (cr.zeros(3, 5), cr.zeros(3, 5)), cr.randn(20, 4),
...                    cr.randn(20, 5))
>>> h.shape, c.shape
((3, 5), (3, 5))
"""
from chainrule.errors import ArgumentTypeError, DTypeError, ShapeError
from chainrule.function import Op
from chainrule.nn.functional.linear import linear
from chainrule.ops._util import tangent_sum
from chainrule.tensor import Tensor

_CONSTANTS = {}


def _lstm_constants(xp, hidden, dtype):
    """Per gate column (i, f, g, o): the scale s and shift b with act(z) = s·tanh(s·z) + b
    (σ(z) = ½ tanh(z/2) + ½, tanh z = 1·tanh(1·z) + 0), and s², the top of act's derivative:
    act'(z) = s² − (act − b)²  (= a(1 − a) on the sigmoid gates, 1 − a² on g)."""
    key = (id(xp), hidden, dtype)
    hit = _CONSTANTS.get(key)
    if hit is None or hit[0] is not xp:
        scale = xp.full((4 * hidden,), 0.5, dtype=dtype)
        scale[2 * hidden:3 * hidden] = 1.0
        shift = xp.full((4 * hidden,), 0.5, dtype=dtype)
        shift[2 * hidden:3 * hidden] = 0.0
        if len(_CONSTANTS) > 64:
            _CONSTANTS.clear()
        hit = _CONSTANTS[key] = (xp, scale, shift, scale * scale)
    return hit[1:]


def _sigmoid_(a, xp):
    """σ(a) in place, as ½ tanh(a/2) + ½ (no overflow, one transcendental)."""
    a *= 0.5
    xp.tanh(a, out=a)
    a *= 0.5
    a += 0.5
    return a


def _zero_or(t, like, xp):
    """A tangent, or zeros shaped like *like* where there is none (forward-mode AD)."""
    return xp.zeros_like(like) if t is None else t


def _affine_tangent(tgx, th, tw, tb, h, w_hh):
    """The tangent of gx + h W_hhᵀ + b_hh:  ġx + ḣ W_hhᵀ + h Ẇ_hhᵀ + ḃ_hh (None if all are)."""
    return tangent_sum(tgx, None if th is None else th @ w_hh.T,
                       None if tw is None else h @ tw.T, tb)


class LSTMStep(Op):
    """One LSTM step: (h', c', a) from gx (N, 4H), h (N, P), c (N, H), W_hh (4H, P), b_hh (4H,).

    z = gx + h W_hhᵀ + b_hh = (z_i, z_f, z_g, z_o) (PyTorch's gate order);
    a = (σ(z_i), σ(z_f), tanh(z_g), σ(z_o)) = (i, f, g, o);  c' = f ⊙ c + i ⊙ g;  h' = o ⊙ tanh c'.

    VJPs, with c̃ = c̄' + h̄' ⊙ o ⊙ (1 − tanh² c') the whole gradient reaching c':
    ā = (c̃ ⊙ g, c̃ ⊙ c, c̃ ⊙ i, h̄' ⊙ tanh c') + ā_out (the third output's gradient),
    z̄ = ā ⊙ a'(z) with a' = a(1 − a) on i, f, o and 1 − a² on g;
    ḡx = z̄,  h̄ = z̄ W_hh,  c̄ = c̃ ⊙ f,  W̄_hh = z̄ᵀ h,  b̄_hh = Σ_rows z̄.
    """

    @staticmethod
    def forward(ctx, gx, h, c, w_hh, b_hh, w_hh_t=None):
        xp = ctx.xp
        hidden = c._data.shape[-1]
        z = h._data @ (w_hh._data.T if w_hh_t is None else w_hh_t)
        z += gx._data
        if b_hh is not None:
            z += b_hh._data
        scale, shift, scale2 = _lstm_constants(xp, hidden, z.dtype)
        z *= scale                       # a = s·tanh(s·z) + b, in place: one tanh for 4 gates
        a = xp.tanh(z, out=z)
        a *= scale
        a += shift
        i, f, g, o = a[:, :hidden], a[:, hidden:2 * hidden], a[:, 2 * hidden:3 * hidden], \
            a[:, 3 * hidden:]
        c_new = f * c._data
        c_new += i * g
        h_new = xp.tanh(c_new)
        h_new *= o
        ctx.shift, ctx.scale2 = shift, scale2
        ctx.save_for_backward(h, c, w_hh, a, c_new)
        ctx.set_materialize_grads(False)   # a is rarely used: no zeros made and added for it
        return h_new, c_new, a

    @staticmethod
    def backward(ctx, gh, gc, ga):
        xp = ctx.xp
        h, c, w_hh, a, c_new = ctx.saved_tensors
        hidden = c.shape[-1]
        i, f, g, o = a[:, :hidden], a[:, hidden:2 * hidden], a[:, 2 * hidden:3 * hidden], \
            a[:, 3 * hidden:]
        if gh is None:
            gh = xp.zeros_like(c_new)
        tc = xp.tanh(c_new)
        go = gh * tc
        gc = (gh - go * tc) * o if gc is None else gc + (gh - go * tc) * o   # c̃
        gates = xp.concatenate([gc * g, gc * c, gc * i, go], axis=1)
        ga = gates if ga is None else gates + ga
        s = a - ctx.shift
        gz = ga * xp.subtract(ctx.scale2, s * s)     # z̄ = ā ⊙ (s² − (a − b)²)
        n_gx, n_h, n_c, n_w, n_b = ctx.needs_input_grad[:5]
        return (gz if n_gx else None, gz @ w_hh if n_h else None, gc * f if n_c else None,
                gz.T @ h if n_w else None, xp.sum(gz, axis=0) if n_b else None, None)

    @staticmethod
    def jvp(ctx, tgx, th, tc, tw, tb, _=None):
        """ż = ġx + ḣ W_hhᵀ + h Ẇ_hhᵀ + ḃ_hh,  ȧ = ż ⊙ a'(z),  ċ' = ḟ c + f ċ + i̇ g + i ġ,
        ḣ' = ȯ tanh c' + o (1 − tanh² c') ċ'."""
        xp = ctx.xp
        gx, h, c, w_hh, b_hh = ctx.primals[:5]
        _, c_new, a = ctx.outputs
        n = c.shape[-1]
        tz = _zero_or(_affine_tangent(tgx, th, tw, tb, h, w_hh), a, xp)
        s = a - ctx.shift
        ta = tz * xp.subtract(ctx.scale2, s * s)
        tc = _zero_or(tc, c, xp)
        tc_new = ta[:, n:2 * n] * c + a[:, n:2 * n] * tc + ta[:, :n] * a[:, 2 * n:3 * n] \
            + a[:, :n] * ta[:, 2 * n:3 * n]
        tanh_c = xp.tanh(c_new)
        th_new = ta[:, 3 * n:] * tanh_c + a[:, 3 * n:] * (1 - tanh_c * tanh_c) * tc_new
        return th_new, tc_new, ta



class GRUStep(Op):
    """One GRU step: (h', aux) from gx (N, 3H), h (N, H), W_hh (3H, H), b_hh (3H,).

    (x_r, x_z, x_n) = gx and (h_r, h_z, h_n) = h W_hhᵀ + b_hh (``order="rzn"``, PyTorch's gate
    order; ``"zrn"`` is Keras's, update gate first); r = σ(x_r + h_r), z = σ(x_z + h_z),
    n = tanh(x_n + r ⊙ h_n), h' = n + z ⊙ (h − n).  aux = (r, z, n, h_n) is a second output.

    VJPs (plus aux's own gradient on each of its four blocks):
    n̄ = h̄' ⊙ (1 − z),  z̄ = h̄' ⊙ (h − n),  p̄_n = n̄ ⊙ (1 − n²)  (p_n = x_n + r ⊙ h_n),
    r̄ = p̄_n ⊙ h_n,  h̄_n = p̄_n ⊙ r,  p̄_r = r̄ ⊙ r(1 − r),  p̄_z = z̄ ⊙ z(1 − z);
    ḡx = (p̄_r, p̄_z, p̄_n),  q̄ = (p̄_r, p̄_z, h̄_n) (the gradient of h W_hhᵀ + b_hh),
    h̄ = q̄ W_hh + h̄' ⊙ z,  W̄_hh = q̄ᵀ h,  b̄_hh = Σ_rows q̄.
    """

    @staticmethod
    def forward(ctx, gx, h, w_hh, b_hh, order="rzn", w_hh_t=None):
        xp = ctx.xp
        hd, gxd = h._data, gx._data
        n_h = hd.shape[-1]
        q = hd @ (w_hh._data.T if w_hh_t is None else w_hh_t)
        if b_hh is not None:
            q += b_hh._data
        aux = xp.empty((hd.shape[0], 4 * n_h), dtype=q.dtype)
        rz = aux[:, :2 * n_h]
        xp.add(gxd[:, :2 * n_h], q[:, :2 * n_h], out=rz)   # (r, z) or (z, r): same columns
        _sigmoid_(rz, xp)
        r = aux[:, :n_h] if order == "rzn" else aux[:, n_h:2 * n_h]
        z = aux[:, n_h:2 * n_h] if order == "rzn" else aux[:, :n_h]
        hn = aux[:, 3 * n_h:]
        hn[...] = q[:, 2 * n_h:]
        n = aux[:, 2 * n_h:3 * n_h]
        xp.multiply(r, hn, out=n)
        n += gxd[:, 2 * n_h:]
        xp.tanh(n, out=n)
        h_new = hd - n
        h_new *= z
        h_new += n
        ctx.order = order
        ctx.save_for_backward(h, w_hh, aux)
        return h_new, aux

    @staticmethod
    def backward(ctx, gh, gaux):
        xp = ctx.xp
        h, w_hh, aux = ctx.saved_tensors
        n_h = h.shape[-1]
        first, second = aux[:, :n_h], aux[:, n_h:2 * n_h]
        g_first, g_second = gaux[:, :n_h], gaux[:, n_h:2 * n_h]
        if ctx.order == "rzn":
            r, z, gr, gz = first, second, g_first, g_second
        else:
            z, r, gz, gr = first, second, g_first, g_second
        n, hn = aux[:, 2 * n_h:3 * n_h], aux[:, 3 * n_h:]
        gn = gh - gh * z + gaux[:, 2 * n_h:3 * n_h]
        gz = gh * (h - n) + gz
        gpn = gn - gn * (n * n)
        gr = gpn * hn + gr
        ghn = gpn * r + gaux[:, 3 * n_h:]
        gpr = gr * (r - r * r)
        gpz = gz * (z - z * z)
        first, second = (gpr, gpz) if ctx.order == "rzn" else (gpz, gpr)
        n_gx, n_h_in, n_w, n_b = ctx.needs_input_grad[:4]
        gq = xp.concatenate([first, second, ghn], axis=1)
        ggx = xp.concatenate([first, second, gpn], axis=1) if n_gx else None
        return (ggx, gq @ w_hh + gh * z if n_h_in else None, gq.T @ h if n_w else None,
                xp.sum(gq, axis=0) if n_b else None, None, None)

    @staticmethod
    def jvp(ctx, tgx, th, tw, tb, _order=None, _=None):
        """q̇ = ḣ W_hhᵀ + h Ẇ_hhᵀ + ḃ_hh;  ṙ = (ẋ_r + q̇_r) r(1 − r),  ż likewise,
        ṅ = (ẋ_n + ṙ h_n + r q̇_n)(1 − n²),  ḣ' = ṅ + ż (h − n) + z (ḣ − ṅ)."""
        xp = ctx.xp
        gx, h, w_hh, b_hh = ctx.primals[:4]
        _, aux = ctx.outputs
        n_h = h.shape[-1]
        tq = _zero_or(_affine_tangent(None, th, tw, tb, h, w_hh), gx, xp)
        tgx = _zero_or(tgx, gx, xp)
        first, second = aux[:, :n_h], aux[:, n_h:2 * n_h]
        t_first = (tgx[:, :n_h] + tq[:, :n_h]) * (first - first * first)
        t_second = (tgx[:, n_h:2 * n_h] + tq[:, n_h:2 * n_h]) * (second - second * second)
        r, z, tr, tz = (first, second, t_first, t_second) if ctx.order == "rzn" else \
            (second, first, t_second, t_first)
        n, hn, thn = aux[:, 2 * n_h:3 * n_h], aux[:, 3 * n_h:], tq[:, 2 * n_h:]
        tn = (tgx[:, 2 * n_h:] + tr * hn + r * thn) * (1 - n * n)
        th_new = tn + tz * (h - n) + z * (_zero_or(th, h, xp) - tn)
        return th_new, xp.concatenate([t_first, t_second, tn, thn], axis=1)



class RNNStep(Op):
    """One Elman step: h' = tanh(p) or relu(p), p = gx + h W_hhᵀ + b_hh; gx (N, H), h (N, H).

    VJPs: p̄ = h̄' ⊙ (1 − h'²) (tanh) or h̄' ⊙ [h' > 0] (relu, 0 at 0 as PyTorch);
    ḡx = p̄,  h̄ = p̄ W_hh,  W̄_hh = p̄ᵀ h,  b̄_hh = Σ_rows p̄.
    """

    @staticmethod
    def forward(ctx, gx, h, w_hh, b_hh, nonlinearity="tanh", w_hh_t=None):
        xp = ctx.xp
        p = h._data @ (w_hh._data.T if w_hh_t is None else w_hh_t)
        p += gx._data
        if b_hh is not None:
            p += b_hh._data
        y = xp.tanh(p, out=p) if nonlinearity == "tanh" else xp.maximum(p, 0, out=p)
        ctx.nonlinearity = nonlinearity
        ctx.save_for_backward(h, w_hh, y)
        return y

    @staticmethod
    def backward(ctx, gy):
        xp = ctx.xp
        h, w_hh, y = ctx.saved_tensors
        if ctx.nonlinearity == "tanh":
            gp = gy - gy * (y * y)
        else:                            # the kink's mask is a constant of the graph
            yd = y._data if isinstance(y, Tensor) else y
            gp = gy * (yd > 0).astype(yd.dtype)
        n_gx, n_h, n_w, n_b = ctx.needs_input_grad[:4]
        return (gp if n_gx else None, gp @ w_hh if n_h else None, gp.T @ h if n_w else None,
                xp.sum(gp, axis=0) if n_b else None, None, None)

    @staticmethod
    def jvp(ctx, tgx, th, tw, tb, _nonlinearity=None, _=None):
        """ṗ = ġx + ḣ W_hhᵀ + h Ẇ_hhᵀ + ḃ_hh;  ḣ' = ṗ (1 − h'²) (tanh) or ṗ [h' > 0] (relu)."""
        xp = ctx.xp
        gx, h, w_hh = ctx.primals[:3]
        y = ctx.outputs[0]
        tp = _zero_or(_affine_tangent(tgx, th, tw, tb, h, w_hh), y, xp)
        if ctx.nonlinearity == "tanh":
            return tp * (1 - y * y)
        yd = y._data if isinstance(y, Tensor) else y
        return tp * (yd > 0).astype(yd.dtype)


class Unbind(Op):
    """(x[0], …, x[L−1]) along the first dim, as one node.  VJP: x̄ = stack(ȳ_0, …, ȳ_{L−1})
    (an unused slice's gradient is zeros)."""

    @staticmethod
    def forward(ctx, x):
        xd = x._data
        return tuple(xd[t] for t in range(xd.shape[0]))

    @staticmethod
    def backward(ctx, *gys):
        return ctx.xp.concatenate([g.reshape((1,) + g.shape) for g in gys], axis=0)

    @staticmethod
    def jvp(ctx, tx):
        return tuple(tx[t] for t in range(tx.shape[0]))


class Stack(Op):
    """y = stack(x_0, …, x_{L−1}) along a new first dim, as one node.  VJP: x̄_t = ȳ[t]."""

    @staticmethod
    def forward(ctx, *xs):
        return ctx.xp.stack([x._data for x in xs])

    @staticmethod
    def backward(ctx, gy):
        return tuple(gy[t] for t in range(gy.shape[0]))

    @staticmethod
    def jvp(ctx, *txs):
        xs = ctx.primals
        return ctx.xp.concatenate([_zero_or(t, x, ctx.xp).reshape((1,) + x.shape)
                                   for t, x in zip(txs, xs)], axis=0)


def unbind_steps(x):
    """The time steps x[0], x[1], … of x (L, …), as ``x.unbind(0)`` but one graph node, whose
    backward stacks the steps' gradients once (O(L), where slicing step by step is O(L²))."""
    if x.shape[0] == 1 or not x.requires_grad:
        return [x[t] for t in range(x.shape[0])]
    out = Unbind.apply(x)
    return list(out) if isinstance(out, tuple) else [out]


def stack_steps(xs):
    """stack(xs, 0) as one graph node (its backward hands each step its slice)."""
    return Stack.apply(*xs)


# ---- PyTorch's functional cells --------------------------------------------------------------
def _check_cell(name, input, states, w_ih, w_hh, b_ih, b_hh, gates):
    for label, t in (("input", input), ("weight_ih", w_ih), ("weight_hh", w_hh)) + \
            tuple((f"hx[{k}]" if len(states) > 1 else "hx", s) for k, s in enumerate(states)):
        if not isinstance(t, Tensor):
            raise ArgumentTypeError(f"{name}: expected {label} to be a cr.Tensor, got "
                                    f"{type(t).__name__}")
    if input.ndim != 2 or w_ih.ndim != 2 or w_hh.ndim != 2:
        raise ShapeError(f"{name}: expected input (N, input_size), weight_ih (G·H, input_size) and "
                         f"weight_hh (G·H, H) as 2-D tensors, got shapes {tuple(input.shape)}, "
                         f"{tuple(w_ih.shape)} and {tuple(w_hh.shape)}")
    hidden = w_hh.shape[0] // gates
    want = {"weight_ih": (gates * hidden, input.shape[1]), "weight_hh": (gates * hidden, hidden)}
    for label, t in (("weight_ih", w_ih), ("weight_hh", w_hh)):
        if tuple(t.shape) != want[label] or w_hh.shape[0] % gates:
            raise ShapeError(f"{name}: {label} has shape {tuple(t.shape)}; expected "
                             f"{want[label]} for input {tuple(input.shape)} and {gates} gate(s) "
                             f"of hidden size {hidden}")
    for label, b in (("bias_ih", b_ih), ("bias_hh", b_hh)):
        if b is not None and (not isinstance(b, Tensor) or tuple(b.shape) != (gates * hidden,)):
            raise ShapeError(f"{name}: {label} must be a tensor of shape ({gates * hidden},), got "
                             f"{tuple(b.shape) if isinstance(b, Tensor) else type(b).__name__}")
    for k, s in enumerate(states):
        if tuple(s.shape) != (input.shape[0], hidden):
            raise ShapeError(f"{name}: hx[{k}] has shape {tuple(s.shape)}; expected "
                             f"({input.shape[0]}, {hidden}) (batch, hidden_size)")
    dtypes = {t._data.dtype for t in (input, w_ih, w_hh, *states, b_ih, b_hh) if t is not None}
    if len(dtypes) != 1 or next(iter(dtypes)).kind != "f":
        raise DTypeError(f"{name}: input, states, weights and biases must share one floating "
                         f"dtype, got {sorted(str(d) for d in dtypes)}")


def lstm_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """(h', c') = one LSTM step (``torch.lstm_cell``): input (N, in), hx = (h, c) (N, H) each,
    w_ih (4H, in), w_hh (4H, H), biases (4H,); gates i, f, g, o as PyTorch.

    c' = σ(f) ⊙ c + σ(i) ⊙ tanh(g),  h' = σ(o) ⊙ tanh(c'),  (i, f, g, o) = x W_ihᵀ + b_ih + h W_hhᵀ
    + b_hh.  Example: see the module docstring.
    """
    if not isinstance(hx, (tuple, list)) or len(hx) != 2:
        raise ArgumentTypeError(f"lstm_cell: hx must be a tuple (h, c), got {type(hx).__name__}")
    _check_cell("lstm_cell", input, tuple(hx), w_ih, w_hh, b_ih, b_hh, 4)
    h, c, _ = LSTMStep.apply(linear(input, w_ih, b_ih), hx[0], hx[1], w_hh, b_hh)
    return h, c


def gru_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """h' = one GRU step (``torch.gru_cell``): r = σ(x_r + h_r), z = σ(x_z + h_z),
    n = tanh(x_n + r ⊙ h_n), h' = (1 − z) ⊙ n + z ⊙ h, with (x_r, x_z, x_n) = x W_ihᵀ + b_ih and
    (h_r, h_z, h_n) = h W_hhᵀ + b_hh.  ``gru_cell(x, h, w_ih, w_hh).shape == h.shape``."""
    _check_cell("gru_cell", input, (hx,), w_ih, w_hh, b_ih, b_hh, 3)
    return GRUStep.apply(linear(input, w_ih, b_ih), hx, w_hh, b_hh)[0]


def rnn_tanh_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """h' = tanh(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh) (``torch.rnn_tanh_cell``);
    ``rnn_tanh_cell(x, h, w_ih, w_hh).shape == h.shape``."""
    _check_cell("rnn_tanh_cell", input, (hx,), w_ih, w_hh, b_ih, b_hh, 1)
    return RNNStep.apply(linear(input, w_ih, b_ih), hx, w_hh, b_hh, "tanh")


def rnn_relu_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """h' = relu(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh) (``torch.rnn_relu_cell``);
    ``rnn_relu_cell(x, h, w_ih, w_hh).shape == h.shape``."""
    _check_cell("rnn_relu_cell", input, (hx,), w_ih, w_hh, b_ih, b_hh, 1)
    return RNNStep.apply(linear(input, w_ih, b_ih), hx, w_hh, b_hh, "relu")


__all__ = ["GRUStep", "LSTMStep", "RNNStep", "gru_cell", "lstm_cell", "rnn_relu_cell",
           "rnn_tanh_cell", "stack_steps", "unbind_steps"]
