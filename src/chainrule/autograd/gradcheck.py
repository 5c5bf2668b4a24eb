"""Gradient checking: backprop's Jacobian against central finite differences."""
import warnings

from chainrule.autograd.grad import grad as _grad
from chainrule.backend import xp
from chainrule.errors import ConfigError
from chainrule.grad_mode import enable_grad, no_grad
from chainrule.tensor import Tensor


class GradcheckError(RuntimeError):
    """Raised by :func:`gradcheck` when backprop and finite differences disagree."""


def _outputs(fn, inputs):
    out = fn(*inputs)
    return out if isinstance(out, (tuple, list)) else (out,)


def numerical_jacobian(fn, inputs, eps=1e-6):
    """J[k][i] (output k, input i) by central differences: (f(x + eps·eᵢ) - f(x - eps·eᵢ)) / 2eps."""
    with no_grad():
        outs = [o for o in _outputs(fn, inputs) if isinstance(o, Tensor)]
        jac = [[None] * len(inputs) for _ in outs]
        for i, x in enumerate(inputs):
            if not (isinstance(x, Tensor) and x.requires_grad):
                continue
            if not x._data.flags.c_contiguous:   # perturb through a flat view of x's own memory
                x._data = xp.ascontiguousarray(x._data)
            flat = x._data.reshape(-1)  # a view: perturbations write into x
            cols = [xp.zeros((o._data.size, flat.size), dtype=xp.float64) for o in outs]
            for j in range(flat.size):
                orig = flat[j].item()
                flat[j] = orig + eps
                plus = [o._data.astype(xp.float64).reshape(-1).copy()
                        for o in _outputs(fn, inputs) if isinstance(o, Tensor)]
                flat[j] = orig - eps
                minus = [o._data.astype(xp.float64).reshape(-1).copy()
                         for o in _outputs(fn, inputs) if isinstance(o, Tensor)]
                flat[j] = orig
                for k in range(len(outs)):
                    cols[k][:, j] = (plus[k] - minus[k]) / (2 * eps)
            for k in range(len(outs)):
                jac[k][i] = cols[k]
    return jac


def analytical_jacobian(fn, inputs):
    """J[k][i] from backprop: one vector-Jacobian product per output element (rows of J)."""
    outs = [o for o in _outputs(fn, inputs) if isinstance(o, Tensor)]
    diff = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    jac = [[None] * len(inputs) for _ in outs]
    for k, out in enumerate(outs):
        for i in diff:
            jac[k][i] = xp.zeros((out._data.size, inputs[i]._data.size), dtype=xp.float64)
        if not out.requires_grad:
            continue
        for r in range(out._data.size):
            v = xp.zeros(out._data.size, dtype=out._data.dtype)
            v[r] = 1
            gs = _grad(out, [inputs[i] for i in diff], grad_outputs=Tensor(v.reshape(out.shape)),
                       retain_graph=True, allow_unused=True)
            for i, g in zip(diff, gs):
                if g is not None:
                    jac[k][i][r] = g._data.reshape(-1)
    return jac


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True):
    """Check backprop's gradients of ``fn(*inputs)`` against finite differences.

    Every input tensor with ``requires_grad=True`` is perturbed one element at a time.  Returns
    True when every Jacobian entry satisfies ``|analytical - numerical| <= atol + rtol·|numerical|``,
    otherwise raises :class:`GradcheckError` naming the worst entry (or returns False when
    ``raise_exception=False``).  Use float64 inputs: float32 is too coarse for eps = 1e-6.

    >>> x = cr.randn(3, dtype=cr.float64, requires_grad=True)
    >>> cr.autograd.gradcheck(lambda t: (t * t).sum(), (x,))
    True
    """
    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    if not any(isinstance(x, Tensor) and x.requires_grad for x in inputs):
        raise ConfigError("gradcheck: at least one input must be a tensor with requires_grad=True")
    for i, x in enumerate(inputs):
        if isinstance(x, Tensor) and x.requires_grad and x.dtype != xp.float64:
            warnings.warn(f"gradcheck: input {i} is {x.dtype}, not float64; finite differences "
                          f"will be inaccurate", stacklevel=2)
    num = numerical_jacobian(fn, inputs, eps)
    ana = analytical_jacobian(fn, inputs)
    worst = None
    for k in range(len(num)):
        for i in range(len(inputs)):
            n, a = num[k][i], ana[k][i]
            if n is None:
                continue
            err = xp.abs(a - n) - (atol + rtol * xp.abs(n))
            err = xp.where(xp.isnan(err), xp.inf, err)  # a NaN on either side is the worst
            if err.size and (worst is None or err.max() > worst[0]):
                r, c = xp.unravel_index(int(err.argmax()), err.shape)
                worst = (float(err.max()), k, i, int(r), int(c), float(n[r, c]), float(a[r, c]))
    if worst is not None and worst[0] > 0:
        _, k, i, r, c, n, a = worst
        msg = (f"gradcheck: Jacobian mismatch for output {k} with respect to input {i}: worst "
               f"entry (output element {r}, input element {c}): numerical {n:.8g}, analytical "
               f"{a:.8g} (atol={atol}, rtol={rtol})")
        if raise_exception:
            raise GradcheckError(msg)
        return False
    return True


def gradgradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3):
    """Check second derivatives: gradcheck of the vector-Jacobian product of *fn*.

    The VJP with a fixed random vector v is built with ``create_graph=True`` and then checked
    against finite differences, so the backward rules are verified as differentiable ops.
    """
    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    with no_grad():
        outs = _outputs(fn, inputs)
    g = xp.random.default_rng(0)
    vs = [Tensor(g.standard_normal(o.shape).astype(o._data.dtype))
          if isinstance(o, Tensor) and o._data.dtype.kind == "f" else None for o in outs]
    diff = [x for x in inputs if isinstance(x, Tensor) and x.requires_grad]

    def vjp(*xs):
        with enable_grad():   # gradcheck evaluates this under no_grad for finite differences
            pairs = [(o, v) for o, v in zip(_outputs(fn, xs), vs)
                     if v is not None and o.requires_grad]
            ins = [x for x in xs if isinstance(x, Tensor) and x.requires_grad]
            if not pairs:
                return tuple(Tensor(xp.zeros_like(x._data)) for x in ins)
            gs = _grad([o for o, _ in pairs], ins, grad_outputs=[v for _, v in pairs],
                       create_graph=True, allow_unused=True)
        return tuple(g for g in gs if g is not None)

    if not diff:
        raise ConfigError("gradgradcheck: at least one input must require grad")
    return gradcheck(vjp, inputs, eps=eps, atol=atol, rtol=rtol)
