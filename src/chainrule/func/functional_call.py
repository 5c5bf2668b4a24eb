"""``functional_call``: run a module with parameters and buffers given in a dict (torch.func's)."""
from chainrule.errors import ArgumentTypeError, KeyNameError


def functional_call(module, parameter_and_buffer_dicts, args=(), kwargs=None, *,
                    tie_weights=True, strict=False):
    """Call ``module(*args, **kwargs)`` with its parameters and buffers replaced by the tensors
    of *parameter_and_buffer_dicts* (a dict name -> tensor, or a tuple of dicts), then put the
    module's own back.  With ``strict=True`` every parameter and buffer must be given.

    >>> model = nn.Linear(2, 1)
    >>> params = {"weight": cr.ones(1, 2), "bias": cr.zeros(1)}
    >>> cr.func.functional_call(model, params, (cr.tensor([[1., 2.]]),))
    tensor([[3.]])
    """
    dicts = parameter_and_buffer_dicts
    if isinstance(dicts, dict):
        dicts = (dicts,)
    given = {}
    for d in dicts:
        if not isinstance(d, dict):
            raise ArgumentTypeError(f"functional_call: expected a dict (or a tuple of dicts) of "
                                    f"tensors, got {type(d).__name__}")
        for k, v in d.items():
            if k in given:
                raise KeyNameError(f"functional_call: {k!r} appears in more than one dict")
            given[k] = v
    own, tied = {}, {}
    for kind, named in (("_parameters", module.named_parameters(remove_duplicate=False)),
                        ("_buffers", module.named_buffers(remove_duplicate=False))):
        for name, t in named:
            own[name] = kind
            tied.setdefault(id(t), []).append(name)
    unknown = [k for k in given if k not in own]
    if unknown:
        raise KeyNameError(f"functional_call: unexpected key(s) {unknown}: the module has no "
                           f"such parameter or buffer")
    if tie_weights:     # a tensor shared by several names: giving one name replaces it for all
        for names in tied.values():
            hit = [n for n in names if n in given]
            for n in names:
                if hit and n not in given:
                    given[n] = given[hit[0]]
    if strict:
        missing = [k for k in own if k not in given]
        if missing:
            raise KeyNameError(f"functional_call: missing key(s) {missing} (strict=True)")
    swapped = []
    try:
        for name, value in given.items():
            *path, leaf = name.split(".")
            sub = module
            for p in path:
                sub = sub._modules[p]
            table = sub.__dict__[own[name]]
            swapped.append((table, leaf, table[leaf]))
            table[leaf] = value
        if not isinstance(args, tuple):
            args = (args,)
        return module(*args, **(kwargs or {}))
    finally:
        for table, leaf, old in reversed(swapped):
            table[leaf] = old

