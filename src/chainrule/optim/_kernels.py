"""In-place array kernels with the semantics (and operation order) of PyTorch's tensor methods.

Every optimiser update is written with these helpers plus plain NumPy ufuncs (``multiply``,
``divide``, ``sqrt``, ``maximum``), in the order PyTorch's single-tensor implementation applies
them, so the same roundings happen in the same places. Scalars are passed as Python floats, which
NumPy (like PyTorch) rounds to the array's dtype before use (a caller may round them itself, to
scalars of the array's dtype: the same values, and a cheaper ufunc call).

Rounding, and why float32 results agree with PyTorch's to the last bit or two rather than always
bit for bit: PyTorch's vectorised CPU kernels for ``add(other, alpha=a)``, ``lerp`` and ``addcmul``
end in a fused multiply-add (``x * s + y`` rounded once, not twice), and on builds with MKL its
float32 ``sqrt`` is MKL's, which is not correctly rounded. NumPy has neither. For float32, the
fused result can be reproduced exactly by computing ``x * s + y`` in float64 and rounding once
(the product of two float32 numbers is exact in float64); ``EXACT_FMA = True`` makes these helpers
do so, which makes SGD and Adamax bit-identical to PyTorch's, at about twice the cost for large
arrays. It is off by default: the optimisers that take a square root cannot be bit-identical
whatever we do, and the step is the hot path.

Each helper takes ``work``: a callable ``work(key, dtype)`` returning a scratch array of the
operands' shape, so that a caller stepping one flat buffer can reuse its scratch space every step.
"""
import numpy as np

from chainrule.backend import numpy_namespace

EXACT_FMA = False
"""Round ``x * s + y`` once (as PyTorch's fused CPU kernels do) for float32; see the module doc."""

_F32 = np.dtype(np.float32)
_F64 = np.dtype(np.float64)


class Work:
    """Scratch arrays of one shape, made on first use and kept: ``work("tmp", dtype)``.

    ``work.xp`` is the array namespace of the parameters being updated (NumPy, or CuPy on a GPU):
    the kernels below compute with it, so an update never leaves its parameter's device.
    """

    __slots__ = ("shape", "bufs", "xp")

    def __init__(self, shape, xp=numpy_namespace):
        self.shape = shape
        self.bufs = {}
        self.xp = xp

    def __call__(self, key, dtype):
        buf = self.bufs.get(key)
        if buf is None or buf.dtype != dtype:
            buf = self.bufs[key] = self.xp.empty(self.shape, dtype)
        return buf

    def head(self, n):
        """A 1-d ``Work`` of *n* elements whose arrays are the first *n* of this one's (the last,
        shorter piece of a chunked update reuses the chunks' scratch instead of allocating)."""
        sub = Work((n,), self.xp)
        sub.bufs = {k: v[:n] for k, v in self.bufs.items()}
        return sub


def _fused(a):
    return EXACT_FMA and a.dtype == _F32


def fma(out, x, s, y, work):
    """``out = x * s + y``: torch's ``y.add(x, alpha=s)`` (``y.add_(x, alpha=s)`` if out is y)."""
    xp = work.xp
    if _fused(x):
        t = work("f64", _F64)
        xp.multiply(x, _F64.type(np.float32(s)), out=t)
        xp.add(t, y, out=out, casting="same_kind")
    else:
        t = work("tmp", x.dtype)
        xp.multiply(x, s, t)
        xp.add(y, t, out)
    return out


def lerp_(a, b, w, work):
    """``a += w * (b - a)`` in place: ``torch.Tensor.lerp_(b, w)`` with a scalar weight.

    PyTorch evaluates ``a + w (b - a)`` for ``|w| < 0.5`` and ``b - (1 - w)(b - a)`` otherwise.
    """
    xp = work.xp
    w = a.dtype.type(w)
    if abs(w) < 0.5:
        coeff, base = w, a
    else:
        coeff, base = a.dtype.type(w - a.dtype.type(1)), b
    if _fused(a):
        t = work("f64", _F64)
        xp.subtract(b, a, out=t, dtype=_F32)      # b - a rounded to float32, held in float64
        xp.multiply(t, _F64.type(coeff), out=t)   # exact
        xp.add(t, base, out=a, casting="same_kind")
    else:
        t = work("tmp", a.dtype)
        xp.subtract(b, a, t)        # out given positionally: the cheaper call for small arrays
        xp.multiply(t, coeff, t)
        xp.add(base, t, a)
    return a


def addcmul_(a, t1, t2, value, work):
    """``a += value * t1 * t2`` in place: ``torch.Tensor.addcmul_(t1, t2, value=value)``."""
    xp = work.xp
    if _fused(a):
        t = work("f64", _F64)
        if value == 1:
            xp.multiply(t1, t2, out=t, dtype=_F64)            # exact
        else:
            xp.multiply(t1, value, out=t, dtype=_F32)          # value * t1 rounded to float32
            xp.multiply(t, t2, out=t)                          # exact
        xp.add(t, a, out=a, casting="same_kind")
    else:
        t = work("tmp", a.dtype)
        if value == 1:
            xp.multiply(t1, t2, t)
        else:
            xp.multiply(t1, value, t)
            xp.multiply(t, t2, t)
        xp.add(a, t, a)
    return a


def addcdiv_(a, t1, t2, value, work):
    """``a += value * t1 / t2`` in place: ``torch.Tensor.addcdiv_(t1, t2, value=value)``."""
    xp = work.xp
    t = work("tmp", a.dtype)
    if value == 1:
        xp.divide(t1, t2, t)
    else:
        xp.multiply(t1, value, t)
        xp.divide(t, t2, t)
    xp.add(a, t, a)
    return a


def prepare_grad(grad, param, maximize, weight_decay, own, work):
    """The gradient an update uses: negated for *maximize*, plus ``weight_decay * param``.

    As torch's ``grad = -grad`` then ``grad = grad.add(param, alpha=weight_decay)``. The caller's
    *grad* is only written to when it *own*s it (a flat buffer the optimiser gathered); otherwise
    the result goes to the scratch array ``work("g")``.
    """
    xp = work.xp
    if maximize:
        grad = xp.negative(grad, out=grad if own else work("g", grad.dtype))
        own = True
    if weight_decay != 0:
        out = grad if own else work("g", grad.dtype)
        grad = fma(out, param, weight_decay, grad, work)
    return grad


def make_adam_kernel(xp, lerp_from_grad, amsgrad):
    """Adam's moment updates and step in one elementwise kernel (``xp.fused``; issue 11).

    The same operations, in the same order and dtype, as ``adam._adam_step`` on the CPU (lerp,
    ``v·β₂``, addcmul, ``sqrt``, ``+ ε'``, ``m·s' / denom`` added to θ): on the stand-in the results
    are bit-identical; on a GPU the compiler may contract a product and a sum into one FMA, which
    changes the last float32 bit at most.  The scalars come in the arrays' dtype.
    """
    def adam_step(param, grad, exp_avg, exp_avg_sq, lerp_w, beta2, one_minus_beta2,
                  eps_scaled, neg_step_size):
        if lerp_from_grad:                         # PyTorch's lerp for weights >= 0.5
            exp_avg[...] = grad + (grad - exp_avg) * lerp_w
        else:
            exp_avg += (grad - exp_avg) * lerp_w
        exp_avg_sq *= beta2
        exp_avg_sq += grad * one_minus_beta2 * grad
        denom = xp.sqrt(exp_avg_sq) + eps_scaled
        param += exp_avg * neg_step_size / denom

    def amsgrad_step(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, lerp_w, beta2,
                     one_minus_beta2, eps_scaled, neg_step_size):
        if lerp_from_grad:
            exp_avg[...] = grad + (grad - exp_avg) * lerp_w
        else:
            exp_avg += (grad - exp_avg) * lerp_w
        exp_avg_sq *= beta2
        exp_avg_sq += grad * one_minus_beta2 * grad
        xp.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
        denom = xp.sqrt(max_exp_avg_sq) + eps_scaled
        param += exp_avg * neg_step_size / denom

    return amsgrad_step if amsgrad else adam_step
