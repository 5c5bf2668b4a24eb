"""Module backward hooks: ``register_full_backward_pre_hook`` and ``register_full_backward_hook``.

As PyTorch does, a module with backward hooks passes its tensor inputs and outputs through two
identity nodes.  The outputs' node runs when the gradients of all outputs are known: it calls the
pre-hooks with ``grad_output`` (which may replace it).  The inputs' node runs when the gradients of
all inputs are known: it calls the full hooks with ``grad_input`` and ``grad_output`` (which may
replace ``grad_input``).  ``grad_input`` has one entry per positional argument: None for one that
is not a tensor requiring grad (PyTorch gives zeros for a tensor that does not require grad).
"""
from chainrule.errors import ArgumentTypeError, ShapeError
from chainrule.function import Function
from chainrule.grad_mode import is_grad_enabled
from chainrule.tensor import Tensor


class BackwardHook:
    """The bookkeeping of one call of a module with backward hooks."""

    def __init__(self, module):
        self.module = module
        self.n_args = 0
        self.input_positions = ()      # which positional arguments went through the inputs' node
        self.grad_outputs = None

    def setup_inputs(self, args):
        """*args* with the tensors that require grad replaced by their identity-node outputs."""
        self.n_args = len(args)
        pos = tuple(i for i, a in enumerate(args)
                    if isinstance(a, Tensor) and a.requires_grad)
        self.input_positions = pos
        if not pos or not is_grad_enabled():
            return args
        outs = _InputsNode.apply(self, *[args[i] for i in pos])
        outs = outs if isinstance(outs, tuple) else (outs,)
        args = list(args)
        for i, o in zip(pos, outs):
            args[i] = o
        return tuple(args)

    def setup_outputs(self, out):
        """*out* (a tensor, or a tuple or list of them) passed through the outputs' node."""
        single = isinstance(out, Tensor)
        items = (out,) if single else out
        if not isinstance(items, (tuple, list)) or not is_grad_enabled():
            return out
        pos = [i for i, o in enumerate(items) if isinstance(o, Tensor) and o.requires_grad]
        if not pos:
            return out
        self.n_outputs = len(items)
        self.output_positions = pos
        res = _OutputsNode.apply(self, *[items[i] for i in pos])
        res = res if isinstance(res, tuple) else (res,)
        new = list(items)
        for i, o in zip(pos, res):
            new[i] = o
        return new[0] if single else type(items)(new)

    def _spread(self, grads, positions, n):
        full = [None] * n
        for i, g in zip(positions, grads):
            full[i] = g
        return tuple(full)

    def _check(self, new, old, what, hook):
        if not isinstance(new, (tuple, list)):
            new = (new,)
        if len(new) != len(old):
            raise ArgumentTypeError(f"backward hook {_name(hook)} returned {len(new)} values for "
                                    f"{what}, expected {len(old)}")
        for g, o in zip(new, old):
            if g is not None and o is not None and g.shape != o.shape:
                raise ShapeError(f"backward hook {_name(hook)} returned a {what} entry of shape "
                                 f"{g.shape}, expected {o.shape}")
        return tuple(new)

    def run_pre_hooks(self, grads):
        """Call the pre-hooks with grad_output; return the (maybe replaced) gradients."""
        go = self._spread(grads, self.output_positions, self.n_outputs)
        for hook in list(self.module._backward_pre_hooks.values()):
            res = hook(self.module, go)
            if res is not None:
                go = self._check(res, go, "grad_output", hook)
        self.grad_outputs = go
        if not self.input_positions or not self._inputs_recorded:
            # no input wants a gradient: the full hooks run now, with grad_input all None
            self.run_full_hooks(())
        return tuple(go[i] for i in self.output_positions)

    def run_full_hooks(self, grads):
        """Call the full hooks with (grad_input, grad_output); return the (maybe replaced)
        gradients of the inputs."""
        gi = self._spread(grads, self.input_positions if grads else (), self.n_args)
        go = self.grad_outputs if self.grad_outputs is not None else ()
        for hook in list(self.module._backward_hooks.values()):
            res = hook(self.module, gi, go)
            if res is not None:
                gi = self._check(res, gi, "grad_input", hook)
        return tuple(gi[i] for i in self.input_positions) if grads else ()

    _inputs_recorded = False


def _name(hook):
    return getattr(hook, "__name__", repr(hook))


class _InputsNode(Function):
    """The identity on the module's inputs; its backward calls the full backward hooks."""

    @staticmethod
    def forward(ctx, hook, *tensors):
        ctx.set_materialize_grads(False)
        ctx.hook = hook
        hook._inputs_recorded = True
        return tuple(t._data for t in tensors)

    @staticmethod
    def backward(ctx, *grads):
        return (None, *ctx.hook.run_full_hooks(grads))


class _OutputsNode(Function):
    """The identity on the module's outputs; its backward calls the backward pre-hooks."""

    @staticmethod
    def forward(ctx, hook, *tensors):
        ctx.set_materialize_grads(False)
        ctx.hook = hook
        return tuple(t._data for t in tensors)

    @staticmethod
    def backward(ctx, *grads):
        return (None, *ctx.hook.run_pre_hooks(grads))
