"""Elementwise optimisers whose per-parameter state also holds 0-d scalars (NAdam's ``mu_product``,
ASGD's ``eta`` and ``mu``), kept as PyTorch keeps them: 0-d arrays of the step's dtype (float32
unless float64 is the default), so their roundings are PyTorch's.

The flat layout packs per-element buffers only, so these optimisers run PyTorch's per-parameter
loop; a large parameter is still updated in cache-sized chunks, with its scalars advanced once.
A subclass writes ``_advance(group, scalars, step)`` (update the 0-d arrays in place and return
the numbers this step uses) and ``_apply(group, param, grad, bufs, coeffs, own_grad, work)`` (the
elementwise update with them).
"""
from chainrule.backend import namespace_of
from chainrule.optim._elementwise import ElementwiseOptimizer
from chainrule.optim._kernels import Work
from chainrule.optim.optimizer import _scalar_dtype


def scalar_state(param, value):
    """A fresh 0-d scalar state holding *value*, on *param*'s device, in the step's dtype."""
    return namespace_of(param).asarray(value, dtype=_scalar_dtype())


class ScalarStateOptimizer(ElementwiseOptimizer):
    """An elementwise optimiser with 0-d state entries named in ``_scalar_keys``."""

    _flat_ok = False
    _scalar_keys = ()

    def _advance(self, group, scalars, step):
        raise NotImplementedError

    def _apply(self, group, param, grad, bufs, coeffs, own_grad, work):
        raise NotImplementedError

    def _split(self, bufs):
        keys = self._scalar_keys
        return ({k: v for k, v in bufs.items() if k in keys},
                {k: v for k, v in bufs.items() if k not in keys})

    def _update(self, group, param, grad, bufs, step, own_grad, work):
        scalars, arrays = self._split(bufs)
        coeffs = self._advance(group, scalars, step)
        self._apply(group, param, grad, arrays, coeffs, own_grad, work)

    def _update_in_chunks(self, group, param, grad, bufs, step):
        scalars, arrays = self._split(bufs)
        coeffs = self._advance(group, scalars, step)
        size, c = param.size, self._chunk
        p, g = param.reshape(-1), grad.reshape(-1)
        flat = {k: v.reshape(-1) for k, v in arrays.items()}
        work = Work((c,))
        for start in range(0, size, c):
            stop = min(start + c, size)
            if stop - start != c:
                work = Work((stop - start,))
            self._apply(group, p[start:stop], g[start:stop],
                        {k: v[start:stop] for k, v in flat.items()}, coeffs, False, work)
