"""``cross_entropy``: log-softmax and negative log-likelihood in one fused, stable op, as
``torch.nn.functional.cross_entropy`` (class indices or class probabilities, class weights,
``ignore_index``, ``label_smoothing``).

The softmax is never formed and then logged: log pᶜ = xᶜ − max x − log Σ e^(x − max x), finite for
any finite logits.

>>> F.cross_entropy(cr.tensor([[2., 0., 0.]]), cr.tensor([0]))
tensor(0.2395)
"""

import math

from chainrule.backend import namespace_of
from chainrule.errors import ConfigError, ShapeError
from chainrule.function import Op
from chainrule.nn.functional.loss_common import (_array, _as_target, _cast_like, _check_input,
                                                 _quiet, _reduce, _scale, check_reduction,
                                                 jvp_by_vjp)
from chainrule.nn.functional.loss_class_targets import (_batched, _class_targets, _class_weight,
                                                        _column, _flat_index, _per_class,
                                                        _place_weights, _target_kind)
from chainrule.ops.indexing import IndexAdd


class CrossEntropy(Op):
    """Log-softmax and negative log-likelihood in one op, along dimension 1 of x (N, C, *S).

    With log pᶜ = xᶜ - max x - log Σ e^(x - max x), class weights w (1 without), smoothing ε:

    * class indices y: ℓ = -(1 - ε)·w_y·log p_y - (ε/C)·Σ_c w_c·log p_c, and 0 where y is
      ignore_index; 'mean' divides the sum by Σ w_y over kept places (as PyTorch).
      x̄ = ȳ_r·[p·α - (1 - ε)·w_y·onehot(y) - (ε/C)·w],  α = (1 - ε)·w_y + (ε/C)·Σ_c w_c,
      which is ȳ_r·(p - onehot(y)) in the plain case: ȳ_r·p less one scatter, no one-hot array.
    * class probabilities t (x's shape): with t' = (1 - ε)·t + ε/C, ℓ = -Σ_c w_c·t'_c·log p_c;
      'mean' divides by the number of places N·ΠS.
      x̄ = ȳ_r·(p·Σ_c w_c t'_c - w·t');   t̄ = -(1 - ε)·ȳ_r·w·log p.

    The softmax p (and log p, for a target that wants a gradient) is kept from the forward pass
    and handed to the rule by ``_KeptSoftmax`` / ``_KeptLogSoftmax``: as it is in a first-order
    backward, as a recorded function of x under ``create_graph``, so the gradient can be
    differentiated again.  The rule works for any memory layout of x (``x.t()``, permutes).
    """

    @staticmethod
    @_quiet
    def forward(ctx, x, target, y, valid, bad, w, reduction, eps):
        xp = ctx.xp
        a = x._data
        c = a.shape[1]
        shifted = a - a.max(axis=1, keepdims=True)
        idx = wy = logp = None
        if target is None:                                    # class indices
            idx = _flat_index(a.shape, y)
            picked = shifted.reshape(-1)[idx]                 # x_y - max (C order, any layout)
            if eps:
                smooth = (shifted.sum(axis=1) if w is None
                          else (shifted * _per_class(w, a.ndim)).sum(axis=1)).reshape(-1)
            e = xp.exp(shifted, out=shifted)
        else:
            e = xp.exp(shifted)
        s = e.sum(axis=1, keepdims=True)
        lse = xp.log(s)
        if target is None:
            lse = lse.reshape(-1)
            v = lse - picked                                  # -log p_y at each place
            wy = _place_weights(xp, a.dtype, w, y, valid, bad)
            if wy is not None:
                v *= wy
            if eps:
                vf = None if valid is None else valid.reshape(-1)
                sm = (c if w is None else w.sum()) * lse - smooth   # -Σ_c w_c log p_c
                if valid is not None:
                    sm *= vf
                v = (1 - eps) * v + (eps / c) * sm
            denom = (v.size if wy is None else wy.sum()) if reduction == "mean" else None
            v = v.reshape(y.shape)
        else:
            t = target._data
            if eps:
                t = t * (1 - eps) + eps / c
            logp = shifted - lse
            v = -(logp * (t if w is None else t * _per_class(w, a.ndim))).sum(axis=1)
            denom = v.size
            if not target._requires_grad:
                logp = None
        e /= s                                                # e is now the softmax p
        ctx.meta = (y, valid, w, reduction, eps, denom, idx, wy)
        ctx.save_for_backward(x, target, e, logp)
        return _reduce(xp, v, reduction, denom)

    @staticmethod
    @_quiet
    def backward(ctx, gy):
        xp = ctx.xp
        x, target, p, logp = ctx.saved_tensors
        y, valid, w, reduction, eps, denom, idx, wy = ctx.meta
        g = _scale(xp, gy, reduction, denom)
        if target is not None:
            return CrossEntropy._probs_backward(ctx, g, x, target, p, logp)
        c = p.shape[1]
        # per place, or one number (as a 0-d array: ctx.call hands arrays over fastest)
        g = g.reshape((-1,)) if g.ndim else xp.asarray(g)
        r = g if wy is None else g * wy                       # ȳ_r·w_y
        if not eps:
            coef = r
        else:
            vf = None if valid is None else valid.reshape(-1)
            total_w = c if w is None else w.sum()
            wy1 = (1 if vf is None else vf) if wy is None else wy
            coef = g * ((1 - eps) * wy1 + (eps / c) * total_w * (1 if vf is None else vf))
        # ȳ_r·α·p less (1 - ε)·ȳ_r·w_y at the targets
        grad = ctx.call(_SoftmaxLessTargets, x, _column(coef, y) if coef.ndim else coef,
                        r * (1 - eps) if eps else r, p=p, idx=idx)
        if eps:
            gv = g if valid is None else g * valid.reshape(-1)
            term = _column(gv, y) if gv.ndim else gv
            grad = grad - (eps / c) * term * (1 if w is None else _per_class(w, p.ndim))
        return grad, None, None, None, None, None, None, None

    @staticmethod
    def jvp(ctx, tx, tt, *_):
        """ẏ = Σ_c x̄_c ẋ_c (+ Σ_c t̄_c ṫ_c) per place, from the VJP at ȳ = 1."""
        if tt is not None and ctx._saved[3] is None:       # log p was not kept: no VJP was asked
            a = _array(ctx.primals[0])
            xp = namespace_of(a)
            shifted = a - a.max(axis=1, keepdims=True)
            logp = shifted - xp.log(xp.exp(shifted).sum(axis=1, keepdims=True))
            ctx._saved = ctx._saved[:3] + (logp,)
            ctx._saved_versions = ctx._saved_versions[:3] + (None,)
        return jvp_by_vjp(ctx, (tx, tt), class_axis=1)

    @staticmethod
    def _probs_backward(ctx, g, x, target, p, logp):
        xp = ctx.xp
        w, eps = ctx.meta[2], ctx.meta[4]
        if g.ndim:
            g = xp.expand_dims(g, 1)
        c = x.shape[1]
        wc = None if w is None else _per_class(w, x.ndim)
        nx, nt = ctx.needs_input_grad[:2]
        gx = gt = None
        if nx:
            p = ctx.call(_KeptSoftmax, x, p)
            t = target * (1 - eps) + eps / c if eps else target
            tw = t if wc is None else t * wc
            gx = (p * xp.sum(tw, axis=1, keepdims=True) - tw) * g
        if nt:
            gt = ctx.call(_KeptLogSoftmax, x, logp) * g * (-(1 - eps))
            if wc is not None:
                gt = gt * wc
        return gx, gt, None, None, None, None, None, None


class _KeptSoftmax(Op):
    """p = softmax(x) along dimension 1, as the forward pass computed it (handed in as *p*).

    Jacobian diag(p) - p pᵀ per place, so x̄ = p · (ȳ - Σ_c ȳ·p).
    """

    @staticmethod
    def forward(ctx, x, p):
        p = _array(p)
        ctx.save_for_backward(p)
        return p

    @staticmethod
    def backward(ctx, g):
        p, = ctx.saved_tensors
        return p * (g - ctx.xp.sum(g * p, axis=1, keepdims=True)), None

    @staticmethod
    def jvp(ctx, tx, _):
        """ṗ = p · (ẋ - Σ_c p·ẋ) (the Jacobian is symmetric)."""
        p = ctx.outputs[0]
        return p * (tx - ctx.xp.sum(tx * p, axis=1, keepdims=True))


class _KeptLogSoftmax(Op):
    """l = log softmax(x) along dimension 1, as the forward pass computed it (handed in as *l*).

    Jacobian I - 1 pᵀ per place, so x̄ = ȳ - e^l · Σ_c ȳ.
    """

    @staticmethod
    def forward(ctx, x, logp):
        logp = _array(logp)
        ctx.save_for_backward(logp)
        return logp

    @staticmethod
    def backward(ctx, g):
        logp, = ctx.saved_tensors
        xp = ctx.xp
        return g - xp.exp(logp) * xp.sum(g, axis=1, keepdims=True), None

    @staticmethod
    def jvp(ctx, tx, _):
        """l̇ = ẋ - Σ_c e^l·ẋ."""
        xp = ctx.xp
        return tx - xp.sum(xp.exp(ctx.outputs[0]) * tx, axis=1, keepdims=True)


class _SoftmaxLessTargets(Op):
    """y = c · p - v · onehot(targets), p = softmax(x) along dimension 1 (as the forward pass
    computed it, handed in as the constant *p*), c a number or one per place, v one per target
    (at the flat C-order positions *idx*) or one number: cross-entropy's x̄ in a single pass, for
    x of any memory layout.

    x̄ = p · (ȳc - Σ_c ȳc·p);   c̄ = ȳ · p (summed to c's shape);   v̄ = -ȳ at the targets.
    """

    @staticmethod
    def forward(ctx, x, c, v, p, idx):
        out = p * _array(c)
        if not out.flags.c_contiguous:     # p has x's layout: make the flat view the array itself
            out = ctx.xp.ascontiguousarray(out)
        out.reshape(-1)[idx] -= _array(v)
        ctx.save_for_backward(x, c, p)
        ctx.idx = idx
        return out

    @staticmethod
    def backward(ctx, gy):
        xp = ctx.xp
        x, c, p = ctx.saved_tensors
        nx, nc, nv = ctx.needs_input_grad[:3]
        gx = gc = gv = None
        if nx or nc:
            p = ctx.call(_KeptSoftmax, x, p)
        if nx:
            gyc = gy * c
            gx = p * (gyc - xp.sum(gyc * p, axis=1, keepdims=True))
        if nc:
            gc = gy * p
        if nv:
            gv = -gy.reshape((-1,))[ctx.idx]
        return gx, gc, gv

    @staticmethod
    def jvp(ctx, tx, tc, tv, p, idx):
        """ẏ = c · p · (ẋ - Σ_c p·ẋ) + ċ · p - v̇ · onehot(targets)."""
        xp = ctx.xp
        x, c = ctx.primals[0], ctx.primals[1]
        out = None
        if tx is not None or tc is not None:
            q = ctx.call(_KeptSoftmax, x, p)
            if tx is not None:
                out = q * (tx - xp.sum(tx * q, axis=1, keepdims=True)) * c
            if tc is not None:
                out = tc * q if out is None else out + tc * q
        if tv is not None:
            shape = ctx.outputs[0].shape
            at = ctx.call(IndexAdd, tv, idx, (math.prod(shape),)).reshape(shape)
            out = -at if out is None else out - at
        return out


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                  reduction="mean", label_smoothing=0.0):
    """Cross-entropy of logits *input* (N, C, d1, ...) against class indices or probabilities.

    *target* holds class indices (int, shape (N, d1, ...), ignore_index skipped) or class
    probabilities (float, the input's shape).  One fused, stable op: never softmax then log.
    A class index out of range raises on the CPU; on a GPU it is not read back (as in PyTorch's
    CUDA kernel, which would otherwise copy to the host every step) and gives a NaN loss.

    >>> F.cross_entropy(cr.tensor([[2., 0., 0.]]), cr.tensor([0]))
    tensor(0.2395)
    """
    name = "cross_entropy"
    reduction = check_reduction(reduction, name, size_average, reduce)
    _check_input(name, input, classes=True)
    target = _as_target(target)
    kind = _target_kind(name, input, target, allow_probs=True)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ConfigError(f"{name}: label_smoothing must be between 0.0 and 1.0, got "
                         f"{label_smoothing}")
    w = _class_weight(name, weight, input)
    unbatched = input.ndim == 1
    x, t = _batched(input, target, kind)
    if x.shape[1] == 0:
        raise ShapeError(f"{name}: input of shape {tuple(input.shape)} has no classes")
    eps = float(label_smoothing)
    if kind == "probs":
        if ignore_index >= 0:
            raise ConfigError(f"{name}: ignore_index={ignore_index} cannot be used with class "
                             f"probability targets (it only applies to class indices)")
        out = CrossEntropy.apply(x, _cast_like(t, input), None, None, None, w, reduction, eps)
    else:
        y, valid, bad = _class_targets(name, input.shape, t._data, ignore_index)
        out = CrossEntropy.apply(x, None, y, valid, bad, w, reduction, eps)
    return out.reshape(()) if unbatched and reduction == "none" else out
