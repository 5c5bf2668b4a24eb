"""Whole recurrent layers as one graph node per layer and direction: LSTM, GRU, Elman RNN.

Each op takes the layer's input x (L, N, F), the initial state and the layer's weights and runs
the time loop inside: the input projection x W_ihᵀ + b of every step is one GEMM before the loop,
then each step does the recurrent GEMM and the gates on arrays.  Forward keeps every step's states
and gates (outputs of the op, so that ``create_graph=True`` differentiates the backward through
them, as the step ops of ``recurrent.py`` do); backward walks the steps back with only the
recurrence in the loop, and W̄_ih, W̄_hh, x̄ and b̄ are one GEMM or one sum over all steps.

The backward is written once on ``ctx.xp`` for ``create_graph``; a first-order backward (arrays,
the Op contract's first case) runs the same rule in place on a few fresh buffers instead
(``_*_in_place``), since the whole-sequence temporaries of the general rule cost more in fresh
memory pages than in arithmetic.  Tests check both paths against each other, gradcheck and
gradgradcheck.  The LSTM op is tuned further (issue 14's timed step): its forward runs the
recurrent GEMM one gate at a time where OpenBLAS measured that faster, and its in-place backward
holds z̄ gate-major, (4, L, N, H), so that each per-step
product is a plain array product and each GEMM one batched call over the four gates.

>>> x, s = cr.randn(5, 3, 4), cr.zeros(3, 2)
>>> hs, cs, tc, a = LSTMSequence.apply(x, s, s, cr.randn(8, 4), cr.randn(8, 2), None, None)
>>> hs.shape, a.shape
((5, 3, 2), (5, 3, 8))
"""
from chainrule.backend import numpy_namespace
from chainrule.function import Op
from chainrule.nn.functional.recurrent import _lstm_constants, _sigmoid_, _zero_or
from chainrule.ops._util import tangent_sum
from chainrule.tensor import Tensor


def _order(length, reverse):
    """The time steps in the order the forward visits them."""
    return range(length - 1, -1, -1) if reverse else range(length)


def _before(xp, xs, x0, reverse):
    """(L, N, K): the state each step starts from: x0, then xs shifted by one step."""
    first = x0.reshape((1,) + tuple(x0.shape))
    return xp.concatenate([xs[1:], first] if reverse else [first, xs[:-1]], axis=0)


def _rows_of(x, n):
    """x (N, n·K) seen as (N, n, K)."""
    return x.reshape((x.shape[0], n, x.shape[1] // n))


def _gate_buffer(xp, shape, gates, dtype):
    """A fresh (L, N, G·H) buffer and its (L, N, G, H) view (two views of one array)."""
    base = xp.empty(shape, dtype=dtype)
    return base, base.reshape(tuple(shape[:2]) + (gates, shape[2] // gates))


def _project(xp, x, w_ih, biases, scale=None):
    """x W_ihᵀ + Σ biases for every step, (L, N, G) as one GEMM, times *scale* per column; and
    x's (L·N, F) matrix of rows (a copy when x is not contiguous, e.g. batch_first input: made
    once here and kept for W̄_ih)."""
    xd = x._data
    L, N, F = xd.shape
    rows = xd.reshape((L * N, F))
    w_t = w_ih._data.T if scale is None else xp.multiply(w_ih._data.T, scale)
    out = (rows @ w_t).reshape((L, N, w_ih._data.shape[0]))
    bias = None
    for b in biases:
        if b is not None:
            bias = b._data if bias is None else bias + b._data
    if bias is not None:
        out += bias if scale is None else bias * scale
    return out, rows


def _full_rows(xp, rows, n):
    """Each 1-D array of *rows* repeated as an (n, ·) array (a full operand is cheaper in a
    per-step ufunc than a broadcast row)."""
    out = []
    for r in rows:
        full = xp.empty((n,) + tuple(r.shape), dtype=r.dtype)
        full[...] = r
        out.append(full)
    return out


def _gemm_plan(xp, w_t, buf, gates):
    """How a step computes buf = h w_t (w_t (H, G·H)): [(w_t, buf)], one GEMM, or one GEMM per
    gate into buf's columns, [(w_t's block k, contiguous; buf[:, k·H:(k+1)·H])], for the shapes
    where OpenBLAS measured the split faster (N = 32, H = 128: 41 µs against 51 µs); the
    elements are the same dot products either way."""
    n, h = buf.shape[0], w_t.shape[0]
    if not (16 <= n < 128 and h >= 128 and w_t.shape[1] == gates * h):
        return [(w_t, buf)]
    return [(xp.ascontiguousarray(w_t[:, k * h:(k + 1) * h]), buf[:, k * h:(k + 1) * h])
            for k in range(gates)]


def _recurrent_weight(xp, w_hh, scale=None):
    """W_hhᵀ as a contiguous array (h @ it is a plain GEMM), its columns times *scale*."""
    w_t = xp.ascontiguousarray(w_hh._data.T)
    if scale is not None:
        w_t *= scale
    return w_t


def _input_grads(xp, needs, gz2, x, w_ih, n_biases, rows=None):
    """x̄ = z̄ W_ih, W̄_ih = z̄ᵀ x, b̄ = Σ_rows z̄ (one array per bias asked for: two parameters
    never share a gradient array), with z̄ (L·N, G) the gradient of the input projection and
    *rows* x's (L·N, F) rows if at hand."""
    n_x, n_w = needs[:2]
    L, N, F = x.shape
    gx = (gz2 @ w_ih).reshape((L, N, F)) if n_x else None
    gw = gz2.T @ (x.reshape((L * N, F)) if rows is None else rows) if n_w else None
    gb = [None] * n_biases
    for k, n in enumerate(needs[2:2 + n_biases]):
        if n:
            gb[k] = xp.sum(gz2, axis=0) if k == 0 or gb[0] is None else gb[0] + 0
    return (gx, gw) + tuple(gb)


def _take_rows(ctx):
    """x's rows kept by forward, handed over once (a retained graph's next backward reshapes x
    again): the copy of a batch_first input is not held past the backward."""
    rows, ctx.rows = getattr(ctx, "rows", None), None
    return rows


def _weight_grad(xp, gz, hs, h0, reverse):
    """W̄_hh = Σ_t z̄_tᵀ h_{t−1}, z̄ (L, N, G): on arrays two GEMMs (no copy of the shifted
    states), on tensors one GEMM over the stacked h_{t−1}."""
    L, N, G = gz.shape
    H = hs.shape[-1]
    if isinstance(gz, Tensor):
        return gz.reshape((L * N, G)).T @ _before(xp, hs, h0, reverse).reshape((L * N, H))
    inner, first = (slice(None, L - 1), L - 1) if reverse else (slice(1, None), 0)
    shifted = slice(1, None) if reverse else slice(None, L - 1)
    gw = gz[first].T @ h0
    if L > 1:
        gw += gz[inner].reshape(((L - 1) * N, G)).T @ hs[shifted].reshape(((L - 1) * N, H))
    return gw


def _projection_tangent(x, w_ih, tx, tw, tbs):
    """The tangent of x W_ihᵀ + Σ b (None if there is none)."""
    return tangent_sum(None if tx is None else tx @ w_ih.T, None if tw is None else x @ tw.T,
                       *tbs)


class LSTMSequence(Op):
    """A whole LSTM layer in one direction: (hs, cs, tc, a) from x (L, N, F), h0 (N, H),
    c0 (N, H), W_ih (4H, F), W_hh (4H, H), b_ih, b_hh (4H,) or None; ``reverse`` runs
    t = L−1, …, 0.

    Per step (PyTorch's gate order i, f, g, o): a_t = act(x_t W_ihᵀ + b_ih + b_hh + h_{t−1} W_hhᵀ)
    = (i, f, g, o), c_t = f ⊙ c_{t−1} + i ⊙ g, tc_t = tanh c_t, h_t = o ⊙ tc_t; hs, cs, tc
    (L, N, H) and a (L, N, 4H) stack the steps (tc and a are extra outputs, read by backward).

    VJPs, walking the steps back with h̄_t = h̄s_t + z̄_{t+1} W_hh (the later step's share) and
    c̃_t = c̃_{t+1} ⊙ f_{t+1} + h̄_t ⊙ o ⊙ (1 − tc_t²) + c̄s_t + t̄c_t ⊙ (1 − tc_t²):
    z̄_t = (c̃_t ⊙ g, c̃_t ⊙ c_{t−1}, c̃_t ⊙ i, h̄_t ⊙ tc_t) ⊙ a'(z_t) + ā_t ⊙ a'(z_t);
    x̄ = z̄ W_ih,  W̄_ih = Σ_t z̄_tᵀ x_t,  b̄_ih = b̄_hh = Σ z̄,  h̄0 = z̄_first W_hh,
    c̄0 = c̃_first ⊙ f_first,  W̄_hh = Σ_t z̄_tᵀ h_{t−1}.
    """

    @staticmethod
    def forward(ctx, x, h0, c0, w_ih, w_hh, b_ih, b_hh, reverse=False):
        xp = ctx.xp
        L, N = x._data.shape[:2]
        G = w_hh._data.shape[0]
        H = G // 4
        scale, shift, scale2 = _lstm_constants(xp, H, x._data.dtype)
        a, ctx.rows = _project(xp, x, w_ih, (b_ih, b_hh), scale)   # act(z) = s·tanh(s·z) + b
        hs, cs, tc = (xp.empty((L, N, H), dtype=a.dtype) for _ in range(3))
        buf, tmp = xp.empty((N, G), dtype=a.dtype), xp.empty((N, H), dtype=a.dtype)
        gemms = _gemm_plan(xp, _recurrent_weight(xp, w_hh, scale), buf, 4)
        scale_n, shift_n = _full_rows(xp, (scale, shift), N)
        h, c = h0._data, c0._data
        host = xp is numpy_namespace        # (a device would sync to read these flags)
        ctx.h0_zero = host and not bool(xp.any(h))   # zero initial states: the first step
        c0_zero = host and not bool(xp.any(c))       # skips h0 W_hhᵀ and f ⊙ c0
        for t in _order(L, reverse):
            at = a[t]                    # the arithmetic on a contiguous buffer, written once
            if h is h0._data and ctx.h0_zero:
                xp.tanh(at, out=buf)
            else:
                for w, out in gemms:     # h W_hhᵀ, whole or per gate
                    xp.matmul(h, w, out=out)
                buf += at
                xp.tanh(buf, out=buf)
            buf *= scale_n
            xp.add(buf, shift_n, out=at)
            c_new, tc_t, h_new = cs[t], tc[t], hs[t]
            if c is c0._data and c0_zero:
                xp.multiply(at[:, :H], at[:, 2 * H:3 * H], out=c_new)
            else:
                xp.multiply(at[:, H:2 * H], c, out=c_new)
                xp.multiply(at[:, :H], at[:, 2 * H:3 * H], out=tmp)
                c_new += tmp
            xp.tanh(c_new, out=tc_t)
            xp.multiply(tc_t, at[:, 3 * H:], out=h_new)
            h, c = h_new, c_new
        ctx.shift, ctx.scale2, ctx.reverse = shift, scale2, reverse
        ctx.save_for_backward(x, h0, c0, w_ih, w_hh, hs, cs, tc, a)
        ctx.set_materialize_grads(False)
        return hs, cs, tc, a

    @staticmethod
    def backward(ctx, ghs, gcs, gtc, ga):
        xp = ctx.xp
        x, h0, c0, w_ih, w_hh, hs, cs, tc, a = ctx.saved_tensors
        if not isinstance(a, Tensor):    # first order, on arrays: the same rule, in place
            return _lstm_backward_in_place(ctx, x, h0, c0, w_ih, w_hh, hs, cs, tc, a, ghs, gcs,
                                           gtc, ga)
        reverse = ctx.reverse
        L, N, H = hs.shape
        s = a - ctx.shift
        da = xp.subtract(ctx.scale2, s * s)                       # a'(z), all steps
        i, f, o = a[:, :, :H], a[:, :, H:2 * H], a[:, :, 3 * H:]
        dtc = 1 - tc * tc
        e = xp.concatenate([a[:, :, 2 * H:3 * H], _before(xp, cs, c0, reverse), i], axis=2) \
            * da[:, :, :3 * H]                                    # z̄_ifg = c̃ ⊙ e
        q = tc * da[:, :, 3 * H:]                                 # z̄_o = h̄ ⊙ q
        d = o * dtc                                               # c̃ gets h̄ ⊙ d
        extra_c = gcs if gtc is None else (gtc * dtc if gcs is None else gcs + gtc * dtc)
        extra_z = None if ga is None else ga * da
        gzs, gz, gc, nxt = [None] * L, None, None, None
        for t in _order(L, not reverse):
            gh = None if ghs is None else ghs[t]
            if gz is not None:
                gh = gz @ w_hh if gh is None else gh + gz @ w_hh
            if gh is None:
                gh = xp.zeros_like(hs[t])
            g = gh * d[t]
            if gc is not None:
                g = g + gc * f[nxt]
            if extra_c is not None:
                g = g + extra_c[t]
            gz = xp.concatenate([(_rows_of(g, 1) * _rows_of(e[t], 3)).reshape((N, 3 * H)),
                                 gh * q[t]], axis=1)
            if extra_z is not None:
                gz = gz + extra_z[t]
            gzs[t], gc, nxt = gz, g, t
        gz2 = xp.concatenate(gzs, axis=0)                         # (L·N, 4H)
        n = ctx.needs_input_grad
        gx, gw_ih, gb_ih, gb_hh = _input_grads(xp, (n[0], n[3], n[5], n[6]), gz2, x, w_ih, 2)
        return (gx, gz @ w_hh if n[1] else None, gc * f[nxt] if n[2] else None, gw_ih,
                _weight_grad(xp, gz2.reshape((L, N, 4 * H)), hs, h0, reverse) if n[4] else None,
                gb_ih, gb_hh, None)

    @staticmethod
    def jvp(ctx, tx, th0, tc0, tw_ih, tw_hh, tb_ih, tb_hh, _reverse=None):
        """Step by step: ż = ẋ_t W_ihᵀ + x_t Ẇ_ihᵀ + ḃ_ih + ḃ_hh + ḣ_{t−1} W_hhᵀ + h_{t−1} Ẇ_hhᵀ,
        ȧ = ż ⊙ a'(z), ċ_t = ḟ c_{t−1} + f ċ_{t−1} + i̇ g + i ġ, ṫc_t = (1 − tc_t²) ċ_t,
        ḣ_t = ȯ tc_t + o ṫc_t."""
        xp = ctx.xp
        x, h0, c0, w_ih, w_hh = ctx.primals[:5]
        hs, cs, tc, a = ctx.outputs
        L, H = hs.shape[0], hs.shape[2]
        tgx = _projection_tangent(x, w_ih, tx, tw_ih, (tb_ih, tb_hh))
        s = a - ctx.shift
        da = xp.subtract(ctx.scale2, s * s)
        out = [[None] * L for _ in range(4)]
        h, c, th, tc_prev = h0, c0, th0, tc0
        for t in _order(L, ctx.reverse):
            tz = tangent_sum(None if tgx is None else tgx[t], None if th is None else th @ w_hh.T,
                             None if tw_hh is None else h @ tw_hh.T)
            ta = _zero_or(tz, a[t], xp) * da[t]
            at = a[t]
            tcn = ta[:, H:2 * H] * c + ta[:, :H] * at[:, 2 * H:3 * H] \
                + at[:, :H] * ta[:, 2 * H:3 * H]
            if tc_prev is not None:
                tcn = tcn + at[:, H:2 * H] * tc_prev
            ttc = (1 - tc[t] * tc[t]) * tcn
            th = ta[:, 3 * H:] * tc[t] + at[:, 3 * H:] * ttc
            for k, v in enumerate((th, tcn, ttc, ta)):
                out[k][t] = v.reshape((1,) + tuple(v.shape))
            h, c, tc_prev = hs[t], cs[t], tcn
        return tuple(xp.concatenate(parts, axis=0) for parts in out)


def _lstm_backward_in_place(ctx, x, h0, c0, w_ih, w_hh, hs, cs, tc, a, ghs, gcs, gtc, ga):
    """LSTMSequence's backward on arrays: z̄ of every step is built inside a'(z)'s buffer, held
    gate-major, (4, L, N, H) (each gate's block of a step is contiguous, so the per-step products
    are plain array products, and every GEMM is one per gate, batched)."""
    xp = ctx.xp
    reverse = ctx.reverse
    L, N, H = hs.shape
    a4 = a.reshape((L, N, 4, H)).transpose((2, 0, 1, 3))      # a's gates, (4, L, N, H) view
    gz = xp.empty((4, L, N, H), dtype=a.dtype)
    for k in range(4):                                        # a'(z) = s² − (a − b)², all steps
        xp.subtract(a4[k], ctx.shift[k * H], out=gz[k])      # (s, b, s² are one per gate)
    gz *= gz
    for k in range(4):
        xp.subtract(ctx.scale2[k * H], gz[k], out=gz[k])
    extra_z = None if ga is None else ga.reshape((L, N, 4, H)).transpose((2, 0, 1, 3)) * gz
    gz[0] *= a4[2]                                            # z̄_i = c̃ ⊙ g ⊙ a'_i
    if reverse:                                               # z̄_f = c̃ ⊙ c_{t−1} ⊙ a'_f
        gz[1, :-1] *= cs[1:]
        gz[1, -1] *= c0
    else:
        gz[1, 1:] *= cs[:-1]
        gz[1, 0] *= c0
    gz[2] *= a4[0]                                            # z̄_g = c̃ ⊙ i ⊙ a'_g
    gz[3] *= tc                                               # z̄_o = h̄ ⊙ tc ⊙ a'_o
    d = xp.empty(tc.shape, dtype=tc.dtype)
    xp.multiply(tc, tc, out=d)
    xp.subtract(1, d, out=d)                                  # 1 − tc²
    extra_c = gcs if gtc is None else (gtc * d if gcs is None else gcs + gtc * d)
    d *= a4[3]                                                # c̃ gets h̄ ⊙ o ⊙ (1 − tc²)
    f = a4[1]
    w3 = w_hh.reshape((4, H, H))                              # W_hh's gate blocks
    gh, tmp, gc, gc_new = (xp.empty((N, H), dtype=gz.dtype) for _ in range(4))
    per_gate = xp.empty((4, N, H), dtype=gz.dtype)
    nxt = None
    for t in _order(L, not reverse):
        if nxt is None:
            gh[...] = 0 if ghs is None else ghs[t]
        else:                                                 # h̄ = Σ_gates z̄_{t+1} W_hh
            xp.matmul(gz[:, nxt], w3, out=per_gate)
            xp.add(per_gate[0], per_gate[1], out=gh)
            gh += per_gate[2]
            gh += per_gate[3]
            if ghs is not None:
                gh += ghs[t]
        xp.multiply(gh, d[t], out=gc_new)
        if nxt is not None:
            xp.multiply(gc, f[nxt], out=tmp)
            gc_new += tmp
        if extra_c is not None:
            gc_new += extra_c[t]
        gzt = gz[:, t]
        gzt[:3] *= gc_new
        gzt[3] *= gh
        if extra_z is not None:
            gzt += extra_z[:, t]
        nxt, gc, gc_new = t, gc_new, gc
    n = ctx.needs_input_grad
    rows = _take_rows(ctx)
    gz3 = gz.reshape((4, L * N, H))
    gx = gw_ih = gh0 = gw_hh = None
    if n[0]:                                                  # x̄ = Σ_gates z̄ W_ih
        w_ih4 = w_ih.reshape((4, H, w_ih.shape[1]))
        gx = gz3[0] @ w_ih4[0]
        for k in range(1, 4):
            gx += gz3[k] @ w_ih4[k]
        gx = gx.reshape(x.shape)
    if n[3]:                                                  # W̄_ih = z̄ᵀ x, per gate
        if rows is None:
            rows = x.reshape((L * N, x.shape[2]))
        gw_ih = xp.matmul(gz3.transpose((0, 2, 1)), rows).reshape((4 * H, x.shape[2]))
    gb = [None, None]
    for k in range(2):
        if n[5 + k]:
            gb[k] = xp.sum(gz3, axis=1).reshape((4 * H,)) if k == 0 or gb[0] is None \
                else gb[0] + 0
    if n[1]:
        gh0 = xp.sum(xp.matmul(gz[:, nxt], w3), axis=0)
    if n[4]:
        gw_hh = _weight_grad_gates(xp, gz, hs, h0, reverse, getattr(ctx, "h0_zero", False))
    gc0 = gc * f[nxt] if n[2] else None
    return gx, gh0, gc0, gw_ih, gw_hh, gb[0], gb[1], None


def _weight_grad_gates(xp, gz, hs, h0, reverse, h0_zero):
    """W̄_hh = Σ_t z̄_tᵀ h_{t−1} from a gate-major z̄ (G, L, N, H): one batched GEMM per gate
    block (and one for the first step unless h0 = 0), as a (G·H, H) array."""
    G, L, N, H = gz.shape
    inner, first = (slice(None, L - 1), L - 1) if reverse else (slice(1, None), 0)
    shifted = slice(1, None) if reverse else slice(None, L - 1)
    gw = None
    if L > 1:
        gw = xp.matmul(gz[:, inner].reshape((G, (L - 1) * N, H)).transpose((0, 2, 1)),
                       hs[shifted].reshape(((L - 1) * N, H)))
    if gw is None or not h0_zero:
        g0 = xp.matmul(gz[:, first].transpose((0, 2, 1)), h0)
        gw = g0 if gw is None else xp.add(g0, gw, out=gw)
    return gw.reshape((G * H, H))


class GRUSequence(Op):
    """A whole GRU layer in one direction (PyTorch's gate order r, z, n): (hs, aux) from
    x (L, N, F), h0 (N, H), W_ih (3H, F), W_hh (3H, H), b_ih, b_hh (3H,) or None.

    Per step, (x_r, x_z, x_n) = x_t W_ihᵀ + b_ih, (h_r, h_z, h_n) = h_{t−1} W_hhᵀ + b_hh,
    r = σ(x_r + h_r), z = σ(x_z + h_z), n = tanh(x_n + r ⊙ h_n), h_t = n + z ⊙ (h_{t−1} − n);
    aux_t = (r, z, n, h_n) (an extra output, read by backward).

    VJPs, with h̄_t = h̄s_t + q̄_{t+1} W_hh + h̄_{t+1} ⊙ z_{t+1} (the later step's share) and
    A = (1 − z)(1 − n²): q̄_t = h̄_t ⊙ (A h_n r(1 − r), (h_{t−1} − n) z(1 − z), A r) (+ aux's own
    gradient through the same rules), the gradient of h W_hhᵀ + b_hh;
    p̄_t = (q̄_r, q̄_z, h̄_t ⊙ A), the gradient of x W_ihᵀ + b_ih;  x̄ = p̄ W_ih,  W̄_ih = Σ_t p̄_tᵀ x_t,  b̄_ih = Σ p̄,
    h̄0 = q̄_first W_hh + h̄_first ⊙ z_first,  W̄_hh = Σ_t q̄_tᵀ h_{t−1},  b̄_hh = Σ q̄.
    """

    @staticmethod
    def forward(ctx, x, h0, w_ih, w_hh, b_ih, b_hh, reverse=False):
        xp = ctx.xp
        gx, ctx.rows = _project(xp, x, w_ih, (b_ih,))
        L, N, G = gx.shape
        H = G // 3
        w_t = _recurrent_weight(xp, w_hh)
        hs = xp.empty((L, N, H), dtype=gx.dtype)
        aux = xp.empty((L, N, 4 * H), dtype=gx.dtype)
        q = xp.empty((N, G), dtype=gx.dtype)
        h = h0._data
        for t in _order(L, reverse):
            xp.matmul(h, w_t, out=q)
            if b_hh is not None:
                q += b_hh._data
            at, gxt = aux[t], gx[t]
            rz = at[:, :2 * H]
            xp.add(gxt[:, :2 * H], q[:, :2 * H], out=rz)
            _sigmoid_(rz, xp)
            hn, n = at[:, 3 * H:], at[:, 2 * H:3 * H]
            hn[...] = q[:, 2 * H:]
            xp.multiply(at[:, :H], hn, out=n)
            n += gxt[:, 2 * H:]
            xp.tanh(n, out=n)
            h_new = hs[t]
            xp.subtract(h, n, out=h_new)
            h_new *= at[:, H:2 * H]
            h_new += n
            h = h_new
        ctx.reverse = reverse
        ctx.save_for_backward(x, h0, w_ih, w_hh, hs, aux)
        ctx.set_materialize_grads(False)
        return hs, aux

    @staticmethod
    def backward(ctx, ghs, gaux):
        xp = ctx.xp
        x, h0, w_ih, w_hh, hs, aux = ctx.saved_tensors
        if not isinstance(aux, Tensor):  # first order, on arrays: the same rule, in place
            return _gru_backward_in_place(ctx, x, h0, w_ih, w_hh, hs, aux, ghs, gaux)
        reverse = ctx.reverse
        L, N, H = hs.shape
        r, z, n, hn = (aux[:, :, k * H:(k + 1) * H] for k in range(4))
        dr, dz, dn = r - r * r, z - z * z, 1 - n * n
        big_a = (1 - z) * dn
        k_all = xp.concatenate([big_a * hn * dr, (_before(xp, hs, h0, reverse) - n) * dz,
                                big_a * r], axis=2)               # q̄_t = h̄_t ⊙ k_t
        extra_q = extra_pn = None
        if gaux is not None:         # aux's own gradient, through the same rules (no recurrence)
            gr, gz_, gn, ghn = (gaux[:, :, k * H:(k + 1) * H] for k in range(4))
            extra_pn = gn * dn
            extra_q = xp.concatenate([(gr + extra_pn * hn) * dr, gz_ * dz, ghn + extra_pn * r],
                                     axis=2)
        gqs, seen, gq, gh, nxt = [None] * L, [None] * L, None, None, None
        for t in _order(L, not reverse):
            later = None if gq is None else gq @ w_hh + gh * z[nxt]
            gh = ghs[t] if ghs is not None else None
            gh = later if gh is None else (gh if later is None else gh + later)
            if gh is None:
                gh = xp.zeros_like(hs[t])
            gq = (_rows_of(gh, 1) * _rows_of(k_all[t], 3)).reshape((N, 3 * H))
            if extra_q is not None:
                gq = gq + extra_q[t]
            gqs[t], seen[t], nxt = gq, gh.reshape((1, N, H)), t
        gq2 = xp.concatenate(gqs, axis=0)                         # (L·N, 3H)
        gpn = xp.concatenate(seen, axis=0) * big_a
        if extra_pn is not None:
            gpn = gpn + extra_pn
        gp2 = xp.concatenate([gq2[:, :2 * H], gpn.reshape((L * N, H))], axis=1)
        nd = ctx.needs_input_grad
        gx, gw_ih, gb_ih = _input_grads(xp, (nd[0], nd[2], nd[4]), gp2, x, w_ih, 1)
        return (gx, gq @ w_hh + gh * z[nxt] if nd[1] else None, gw_ih,
                _weight_grad(xp, gq2.reshape((L, N, 3 * H)), hs, h0, reverse) if nd[3] else None,
                gb_ih, xp.sum(gq2, axis=0) if nd[5] else None, None)

    @staticmethod
    def jvp(ctx, tx, th0, tw_ih, tw_hh, tb_ih, tb_hh, _reverse=None):
        """Step by step: ṗ = ẋ_t W_ihᵀ + x_t Ẇ_ihᵀ + ḃ_ih,
        q̇ = ḣ_{t−1} W_hhᵀ + h_{t−1} Ẇ_hhᵀ + ḃ_hh,
        ṙ = (ṗ_r + q̇_r) r(1 − r), ż likewise, ṅ = (ṗ_n + ṙ h_n + r q̇_n)(1 − n²),
        ḣ_t = ṅ + ż (h_{t−1} − n) + z (ḣ_{t−1} − ṅ)."""
        xp = ctx.xp
        x, h0, w_ih, w_hh = ctx.primals[:4]
        hs, aux = ctx.outputs
        L, N, H = hs.shape
        tgx = _projection_tangent(x, w_ih, tx, tw_ih, (tb_ih,))
        out_h, out_aux = [None] * L, [None] * L
        h, th = h0, th0
        for t in _order(L, ctx.reverse):
            tq = _zero_or(tangent_sum(None if th is None else th @ w_hh.T,
                                      None if tw_hh is None else h @ tw_hh.T, tb_hh),
                          aux[t][:, :3 * H], xp)
            tgxt = _zero_or(None if tgx is None else tgx[t], tq, xp)
            at = aux[t]
            r, z, n, hn = (at[:, k * H:(k + 1) * H] for k in range(4))
            tr = (tgxt[:, :H] + tq[:, :H]) * (r - r * r)
            tz = (tgxt[:, H:2 * H] + tq[:, H:2 * H]) * (z - z * z)
            thn = tq[:, 2 * H:]
            tn = (tgxt[:, 2 * H:] + tr * hn + r * thn) * (1 - n * n)
            th = tn + tz * (h - n) + z * (_zero_or(th, h, xp) - tn)
            out_h[t] = th.reshape((1, N, H))
            out_aux[t] = xp.concatenate([tr, tz, tn, thn], axis=1).reshape((1, N, 4 * H))
            h = hs[t]
        return xp.concatenate(out_h, axis=0), xp.concatenate(out_aux, axis=0)


def _gru_backward_in_place(ctx, x, h0, w_ih, w_hh, hs, aux, ghs, gaux):
    """GRUSequence's backward on arrays: q̄_t = h̄_t ⊙ k_t with k built once, in place."""
    xp = ctx.xp
    reverse = ctx.reverse
    L, N, H = hs.shape
    r, z, n, hn = (aux[:, :, k * H:(k + 1) * H] for k in range(4))
    gq, gq4 = _gate_buffer(xp, (L, N, 3 * H), 3, aux.dtype)   # k, then q̄ in place
    k_r, k_z, k_n = gq[:, :, :H], gq[:, :, H:2 * H], gq[:, :, 2 * H:]
    dn = n * n
    xp.subtract(1, dn, out=dn)                                # 1 − n²
    big_a = z * dn
    xp.subtract(dn, big_a, out=big_a)                         # A = (1 − z)(1 − n²)
    xp.multiply(big_a, r, out=k_n)                            # A r
    xp.multiply(k_n, hn, out=k_r)
    k_r -= k_r * r                                            # A h_n r (1 − r)
    if reverse:                                               # (h_{t−1} − n) z (1 − z)
        xp.subtract(hs[1:], n[:-1], out=k_z[:-1])
        xp.subtract(h0, n[-1], out=k_z[-1])
    else:
        xp.subtract(hs[:-1], n[1:], out=k_z[1:])
        xp.subtract(h0, n[0], out=k_z[0])
    k_z *= z - z * z
    extra_q = extra_pn = None
    if gaux is not None:
        gr, gz_, gn, ghn = (gaux[:, :, k * H:(k + 1) * H] for k in range(4))
        extra_pn = gn * dn
        extra_q = xp.concatenate([(gr + extra_pn * hn) * (r - r * r), gz_ * (z - z * z),
                                  ghn + extra_pn * r], axis=2)
    gh_all = xp.empty((L, N, H), dtype=aux.dtype)
    prev = nxt = None
    for t in _order(L, not reverse):
        gh = gh_all[t]
        if prev is None:
            gh[...] = 0 if ghs is None else ghs[t]
        else:
            xp.matmul(prev, w_hh, out=gh)
            gh += gh_all[nxt] * z[nxt]
            if ghs is not None:
                gh += ghs[t]
        gq4[t] *= gh[:, None, :]
        if extra_q is not None:
            gq[t] += extra_q[t]
        prev, nxt = gq[t], t
    nd = ctx.needs_input_grad
    gq2 = gq.reshape((L * N, 3 * H))
    gh0 = prev @ w_hh + gh_all[nxt] * z[nxt] if nd[1] else None
    gw_hh = _weight_grad(xp, gq, hs, h0, reverse) if nd[3] else None
    gb_hh = xp.sum(gq2, axis=0) if nd[5] else None
    xp.multiply(gh_all, big_a, out=k_n)                       # q̄ becomes p̄: the n block
    if extra_pn is not None:
        k_n += extra_pn
    gx, gw_ih, gb_ih = _input_grads(xp, (nd[0], nd[2], nd[4]), gq2, x, w_ih, 1, _take_rows(ctx))
    return gx, gh0, gw_ih, gw_hh, gb_ih, gb_hh, None


class RNNSequence(Op):
    """A whole Elman layer in one direction: hs (L, N, H) from x (L, N, F), h0 (N, H),
    W_ih (H, F), W_hh (H, H), b_ih, b_hh (H,) or None; h_t = tanh(x_t W_ihᵀ + b_ih + b_hh +
    h_{t−1} W_hhᵀ) (or relu).

    VJPs, with h̄_t = h̄s_t + p̄_{t+1} W_hh:  p̄_t = h̄_t ⊙ (1 − h_t²) (tanh) or h̄_t ⊙ [h_t > 0]
    (relu, 0 at 0 as PyTorch);  x̄ = p̄ W_ih,  W̄_ih = Σ_t p̄_tᵀ x_t,  b̄_ih = b̄_hh = Σ p̄,
    h̄0 = p̄_first W_hh,  W̄_hh = Σ_t p̄_tᵀ h_{t−1}.
    """

    @staticmethod
    def forward(ctx, x, h0, w_ih, w_hh, b_ih, b_hh, nonlinearity="tanh", reverse=False):
        xp = ctx.xp
        hs, ctx.rows = _project(xp, x, w_ih, (b_ih, b_hh))
        w_t = _recurrent_weight(xp, w_hh)
        buf = xp.empty(hs.shape[1:], dtype=hs.dtype)
        h = h0._data
        for t in _order(hs.shape[0], reverse):
            ht = hs[t]
            xp.matmul(h, w_t, out=buf)
            buf += ht
            if nonlinearity == "tanh":
                xp.tanh(buf, out=ht)
            else:
                xp.maximum(buf, 0, out=ht)
            h = ht
        ctx.nonlinearity, ctx.reverse = nonlinearity, reverse
        ctx.save_for_backward(x, h0, w_ih, w_hh, hs)
        return hs

    @staticmethod
    def backward(ctx, ghs):
        xp = ctx.xp
        x, h0, w_ih, w_hh, hs = ctx.saved_tensors
        L, N, H = hs.shape
        arrays = not isinstance(hs, Tensor)
        hd = hs._data if not arrays else hs
        if arrays:                       # h' (the mask (relu) or 1 − h²) in a fresh buffer
            gp = xp.empty(hd.shape, dtype=hd.dtype)
            if ctx.nonlinearity == "relu":
                gp[...] = hd > 0         # the kink's mask is a constant of the graph
            else:
                xp.multiply(hd, hd, out=gp)
                xp.subtract(1, gp, out=gp)
        elif ctx.nonlinearity == "relu":
            gp = (hd > 0).astype(hd.dtype)
        else:
            gp = 1 - hs * hs
        if arrays:                       # p̄ built in place, step by step
            buf, prev = xp.empty((N, H), dtype=hd.dtype), None
            for t in _order(L, not ctx.reverse):
                if prev is None:
                    gp[t] *= ghs[t]
                else:
                    xp.matmul(prev, w_hh, out=buf)
                    buf += ghs[t]
                    gp[t] *= buf
                prev = gp[t]
        else:
            gps, prev = [None] * L, None
            for t in _order(L, not ctx.reverse):
                prev = (ghs[t] if prev is None else ghs[t] + prev @ w_hh) * gp[t]
                gps[t] = prev
            gp = xp.concatenate(gps, axis=0).reshape((L, N, H))
        nd = ctx.needs_input_grad
        gx, gw_ih, gb_ih, gb_hh = _input_grads(xp, (nd[0], nd[2], nd[4], nd[5]),
                                               gp.reshape((L * N, H)), x, w_ih, 2,
                                               _take_rows(ctx) if arrays else None)
        return (gx, prev @ w_hh if nd[1] else None, gw_ih,
                _weight_grad(xp, gp, hs, h0, ctx.reverse) if nd[3] else None, gb_ih, gb_hh,
                None, None)

    @staticmethod
    def jvp(ctx, tx, th0, tw_ih, tw_hh, tb_ih, tb_hh, _nonlinearity=None, _reverse=None):
        """Step by step: ṗ = ẋ_t W_ihᵀ + x_t Ẇ_ihᵀ + ḃ_ih + ḃ_hh + ḣ_{t−1} W_hhᵀ + h_{t−1} Ẇ_hhᵀ;
        ḣ_t = ṗ (1 − h_t²) (tanh) or ṗ [h_t > 0] (relu)."""
        xp = ctx.xp
        x, h0, w_ih, w_hh = ctx.primals[:4]
        hs = ctx.outputs[0]
        L = hs.shape[0]
        tgx = _projection_tangent(x, w_ih, tx, tw_ih, (tb_ih, tb_hh))
        hd = hs._data if isinstance(hs, Tensor) else hs
        out, h, th = [None] * L, h0, th0
        for t in _order(L, ctx.reverse):
            tp = _zero_or(tangent_sum(None if tgx is None else tgx[t],
                                      None if th is None else th @ w_hh.T,
                                      None if tw_hh is None else h @ tw_hh.T), hs[t], xp)
            if ctx.nonlinearity == "tanh":
                th = tp * (1 - hs[t] * hs[t])
            else:
                th = tp * (hd[t] > 0).astype(hd.dtype)
            out[t] = th.reshape((1,) + tuple(th.shape))
            h = hs[t]
        return xp.concatenate(out, axis=0)


__all__ = ["GRUSequence", "LSTMSequence", "RNNSequence"]
