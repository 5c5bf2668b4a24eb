"""Function transforms, as ``torch.func``: ``vmap, grad, grad_and_value, vjp, jvp, jacrev,
jacfwd, hessian, functional_call``.

``vmap`` batches a per-sample function by adding a batch dimension to every op (batching rules
in ``rules.py``); the derivative transforms are built on the engine (reverse mode) and on
``cr.autograd.forward_ad`` (forward mode), and compose with each other and with vmap.
"""
from chainrule.func import loss_rules as _loss_rules  # noqa: F401 - the losses' batching rules
from chainrule.func import rules as _rules  # noqa: F401 - fills the batching-rule table
from chainrule.func.batched import VmapError, register_batching_rule
from chainrule.func.functional_call import functional_call
from chainrule.func.transforms import (
           grad,
           grad_and_value,
           hessian,
           jacfwd,
           jacrev,
           jvp,
           vjp,
)
from chainrule.func.vmap import vmap

__all__ = ["VmapError", "functional_call", "grad", "grad_and_value", "hessian", "jacfwd", "jacrev",
           "jvp", "register_batching_rule", "vjp", "vmap"]
