"""``batch_norm`` and ``layer_norm``: standardise over some axes, then scale and shift.

Both training-mode normalisations are one fused op.  With x̂ = (x - μ) / σ over the normalised axes
(σ² the biased variance plus eps) and y = γ x̂ + β, the VJP is

    x̄ = (1/σ) · (ĝ - mean(ĝ) - x̂ · mean(ĝ x̂)),   ĝ = ȳ γ;    γ̄ = Σ ȳ x̂;    β̄ = Σ ȳ,

written once with ``ctx.xp``.  It uses the x̂ and 1/σ the forward pass computed, handed to the rule
by two small ops (``_Rstd``, ``_Xhat``) that return them as they are in a first-order backward and,
under ``create_graph=True``, record them as differentiable functions of x, so second derivatives
are exact with no second copy of the rule.
"""
from chainrule.backend import namespace_of
from chainrule.errors import ArgumentTypeError, ConfigError, ShapeError
from chainrule.function import Op
from chainrule.tensor import Tensor


def _array(v):
    """The array behind a tensor (values handed to an op are tensors or arrays)."""
    return v._data if isinstance(v, Tensor) else v


def _count(shape, axes):
    n = 1
    for a in axes:
        n *= shape[a]
    return n


class _Rstd(Op):
    """r = 1/σ = (mean((x - μ)²) + eps)^(-1/2) over *axes*, as the forward pass computed it.

    ∂r/∂xᵢ = -r³ (xᵢ - μ) / n (the centring term sums to zero), so x̄ = -ȳ r³ (x - μ) / n
    and ṙ = -r³ mean((x - μ) ẋ).
    """

    @staticmethod
    def forward(ctx, x, r, axes):
        r = _array(r)
        ctx.axes = axes
        ctx.save_for_backward(x, r)
        return r

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        x, r = ctx.saved_tensors
        axes = ctx.axes
        xc = x - xp.mean(x, axis=axes, keepdims=True)
        return -(g * (r * r * r)) * xc / _count(x.shape, axes), None, None

    @staticmethod
    def jvp(ctx, tx, *_):
        """ṙ = -r³ mean((x - μ) ẋ) over *axes*."""
        xp = ctx.xp
        x, axes, r = ctx.primals[0], ctx.primals[2], ctx.outputs[0]
        xc = x - xp.mean(x, axis=axes, keepdims=True)
        return -(r * r * r) * xp.mean(xc * tx, axis=axes, keepdims=True)


class _Xhat(Op):
    """x̂ = (x - μ) · r over *axes* (r a separate input), as the forward pass computed it.

    x̄ = r · (ȳ - mean(ȳ));  r̄ = Σ ȳ (x - μ) over *axes* (kept as size 1).
    ẋ̂ = (ẋ - mean(ẋ)) r + (x - μ) ṙ.
    """

    @staticmethod
    def forward(ctx, x, r, xhat, axes):
        xhat = _array(xhat)
        ctx.axes = axes
        ctx.save_for_backward(x, r)
        return xhat

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        x, r = ctx.saved_tensors
        axes = ctx.axes
        nx, nr = ctx.needs_input_grad[:2]
        gx = (g - xp.mean(g, axis=axes, keepdims=True)) * r if nx else None
        gr = None
        if nr:
            gr = xp.sum(g * (x - xp.mean(x, axis=axes, keepdims=True)), axis=axes, keepdims=True)
        return gx, gr, None, None

    @staticmethod
    def jvp(ctx, tx, tr, *_):
        """ẋ̂ = (ẋ - mean(ẋ)) r + (x - μ) ṙ."""
        xp = ctx.xp
        x, r, _, axes = ctx.primals
        t = None if tx is None else (tx - xp.mean(tx, axis=axes, keepdims=True)) * r
        if tr is not None:
            tr = (x - xp.mean(x, axis=axes, keepdims=True)) * tr
            t = tr if t is None else t + tr
        return t


class _Normalize(Op):
    """y = γ x̂ + β with x̂ standardised over *axes*; γ and β are reshaped to *pshape* to broadcast.

    Used by both norms: batch norm standardises over (N, L) per channel, layer norm over the
    trailing dims per sample.  Optionally updates running statistics (batch norm).
    ẏ = γ r (ẋ - mean(ẋ) - x̂ mean(x̂ ẋ)) + γ̇ x̂ + β̇.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, axes, pshape, eps, running=None):
        xp = ctx.xp
        a = x._data
        mean = a.mean(axis=axes, keepdims=True)
        xc = a - mean
        var = xp.mean(xc * xc, axis=axes, keepdims=True)
        rstd = 1.0 / xp.sqrt(var + eps)
        xhat = xc * rstd
        y = xhat
        if weight is not None:
            y = y * weight._data.reshape(pshape)
        if bias is not None:
            y = y + bias._data.reshape(pshape)
        if running is not None:
            _update_running(running, mean, var, a.size // mean.size)
        ctx.save_for_backward(x, weight, xhat, rstd)
        ctx.meta = (axes, pshape, (weight if weight is not None else bias)._data.shape
                    if weight is not None or bias is not None else None)
        return y if y is not xhat else xhat.copy()

    @staticmethod
    def backward(ctx, gy):
        xp = ctx.xp
        x, w, xhat, rstd = ctx.saved_tensors
        axes, pshape, param_shape = ctx.meta
        nx, nw, nb = ctx.needs_input_grad[:3]
        rstd = ctx.call(_Rstd, x, rstd, axes)
        xhat = ctx.call(_Xhat, x, rstd, xhat, axes)
        gx = gw = gb = None
        if nx:
            g = gy * w.reshape(pshape) if w is not None else gy
            gx = rstd * (g - xp.mean(g, axis=axes, keepdims=True)
                         - xhat * xp.mean(g * xhat, axis=axes, keepdims=True))
        red = tuple(i for i in range(gy.ndim) if i not in _param_axes(gy.ndim, pshape))
        if nw:
            gw = xp.sum(gy * xhat, axis=red).reshape(param_shape)
        if nb:
            gb = xp.sum(gy, axis=red).reshape(param_shape)
        return (gx, gw, gb) + (None,) * 4

    @staticmethod
    def jvp(ctx, tx, tw, tb, *_, **__):
        """ẏ = γ r (ẋ - mean(ẋ) - x̂ mean(x̂ ẋ)) + γ̇ x̂ + β̇ (x̂ and r recorded as in backward)."""
        xp = ctx.xp
        x, w, _, axes, pshape = ctx.primals[:5]
        _, _, xhat, rstd = ctx.saved_tensors
        rstd = ctx.call(_Rstd, x, rstd, axes)
        xhat = ctx.call(_Xhat, x, rstd, xhat, axes)
        t = None
        if tx is not None:
            t = rstd * (tx - xp.mean(tx, axis=axes, keepdims=True)
                        - xhat * xp.mean(xhat * tx, axis=axes, keepdims=True))
            if w is not None:
                t = t * xp.reshape(w, pshape)
        for term in (None if tw is None else xhat * xp.reshape(tw, pshape),
                     None if tb is None else xp.reshape(tb, pshape)):
            if term is not None:
                t = term if t is None else t + term
        return t


def _param_axes(ndim, pshape):
    """The axes along which the (reshaped) affine parameters vary."""
    lead = ndim - len(pshape)
    return tuple(lead + i for i, n in enumerate(pshape) if n != 1)


def _update_running(running, mean, var, n):
    """running ← (1 - m) running + m · batch statistic, with the unbiased variance (as PyTorch)."""
    rm, rv, momentum = running
    unbiased = var * (n / (n - 1))
    for buf, stat in ((rm, mean), (rv, unbiased)):
        if buf is not None:
            buf._data *= 1 - momentum
            buf._data += momentum * stat.reshape(buf._data.shape).astype(buf._data.dtype, copy=False)
            buf._vc[0] += 1


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """Batch normalisation over (N, C) or (N, C, L) input, per channel C.

    In training, normalises with the batch statistics and updates *running_mean*/*running_var* in
    place (``r ← (1 - momentum) r + momentum · stat``, the variance unbiased); otherwise it uses the
    running statistics.

    >>> F.batch_norm(cr.randn(8, 3), None, None, training=True).mean(0).abs().max() < 1e-6
    tensor(True)
    """
    if not isinstance(input, Tensor):
        raise ArgumentTypeError(f"batch_norm: expected a cr.Tensor, got {type(input).__name__}")
    a = input._data
    if a.ndim < 2:
        raise ShapeError(f"batch_norm: expected input of shape (N, C, ...), got {input.shape}")
    c = a.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        if t is not None and t._data.shape != (c,):
            raise ShapeError(f"batch_norm: {name} should have shape ({c},) for input with {c} "
                             f"channels (shape {input.shape}), got {t.shape}")
    pshape = (c,) + (1,) * (a.ndim - 2)
    axes = (0,) + tuple(range(2, a.ndim))
    if training:
        n = a.size // c if c else 0
        if n <= 1:
            raise ShapeError(f"batch_norm: expected more than 1 value per channel when training, "
                             f"got input of shape {input.shape}")
        running = None
        if running_mean is not None or running_var is not None:
            running = (running_mean, running_var, momentum)
        return _Normalize.apply(input, weight, bias, axes, pshape, eps, running)
    if running_mean is None or running_var is None:
        raise ConfigError("batch_norm: running_mean and running_var are needed when training=False")
    xp = namespace_of(a)
    rstd = Tensor((1.0 / xp.sqrt(running_var._data + eps)).astype(a.dtype).reshape(pshape))
    y = (input - Tensor(running_mean._data.astype(a.dtype).reshape(pshape))) * rstd
    if weight is not None:
        y = y * weight.reshape(pshape)
    if bias is not None:
        y = y + bias.reshape(pshape)
    return y


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalise each sample over its trailing *normalized_shape* dims, then y = γ x̂ + β.

    >>> F.layer_norm(cr.randn(4, 6), (6,)).mean(-1).abs().max() < 1e-6
    tensor(True)
    """
    if not isinstance(input, Tensor):
        raise ArgumentTypeError(f"layer_norm: expected a cr.Tensor, got {type(input).__name__}")
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    k = len(shape)
    if k == 0 or input._data.shape[input._data.ndim - k:] != shape or input._data.ndim < k:
        raise ShapeError(f"layer_norm: expected input with shape (*, {', '.join(map(str, shape))})"
                         f" for normalized_shape={shape}, got {input.shape}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and t._data.shape != shape:
            raise ShapeError(f"layer_norm: {name} should have shape {shape}, got {t.shape}")
    axes = tuple(range(input._data.ndim - k, input._data.ndim))
    return _Normalize.apply(input, weight, bias, axes, shape, eps)
