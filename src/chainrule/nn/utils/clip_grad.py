"""Gradient clipping, in place on ``.grad``, as ``torch.nn.utils.clip_grad_norm_``/``clip_grad_value_``."""
import math

import numpy as np

from chainrule.errors import NumericalError
from chainrule.tensor import Tensor


def _grads(parameters):
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def get_total_norm(tensors, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """‖(‖g₁‖, ‖g₂‖, …)‖ₚ: the p-norm of all *tensors* seen as one vector, a 0-d tensor."""
    if isinstance(tensors, Tensor):
        tensors = [tensors]
    tensors = [t for t in tensors if t is not None]
    norm_type = float(norm_type)
    if not tensors:
        return Tensor(np.zeros((), dtype=np.float32))
    arrays = [t._data for t in tensors]
    dtype = np.result_type(*arrays)
    if math.isinf(norm_type):
        agg = np.max if norm_type > 0 else np.min
        total = agg([agg(np.abs(a)) if a.size else 0 for a in arrays])
    else:
        norms = np.array([np.linalg.norm(a.reshape(-1), ord=norm_type) for a in arrays],
                         dtype=dtype)
        total = np.linalg.norm(norms, ord=norm_type)
    total = np.asarray(total, dtype=dtype)
    if error_if_nonfinite and not np.isfinite(total):
        raise NumericalError(f"The total norm of order {norm_type} for gradients from `parameters` "
                             f"is non-finite, so it cannot be clipped. To disable this error and "
                             f"scale the gradients by the non-finite norm anyway, set "
                             f"`error_if_nonfinite=False`")
    return Tensor(total)


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Scale all gradients by min(1, max_norm / (total_norm + 1e-6)) in place; return total_norm.

    total_norm is the *norm_type*-norm of all gradients together, a 0-d tensor.

    >>> model = cr.nn.Linear(3, 1)
    >>> model(cr.ones(2, 3)).sum().backward()
    >>> total = cr.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
    >>> bool(total > 1.0), float(sum((p.grad ** 2).sum() for p in model.parameters())) <= 1.0
    (True, True)
    """
    grads = _grads(parameters)
    total = get_total_norm(grads, norm_type, error_if_nonfinite)
    if not grads:
        return total
    t = total._data  # the coefficient is computed in the norm's dtype, as PyTorch does
    coef = min(t.dtype.type(max_norm) / (t + t.dtype.type(1e-6)), t.dtype.type(1.0))
    with np.errstate(invalid="ignore"):  # a non-finite norm gives NaN gradients, as in PyTorch
        for g in grads:
            g._data *= g._data.dtype.type(coef)
            g._vc[0] += 1
    return total


def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamp every gradient elementwise to [-clip_value, clip_value] in place."""
    clip_value = float(clip_value)
    for g in _grads(parameters):
        np.clip(g._data, -clip_value, clip_value, out=g._data)
        g._vc[0] += 1
