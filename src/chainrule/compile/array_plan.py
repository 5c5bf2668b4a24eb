"""The array plan: a recorded step replayed as the ops' own array code, without the autograd
machinery around it.

Built from an op-level recording (:mod:`.recorder`) once its two runs agree.  Each recorded op
becomes a call of its ``forward`` on a fresh ``ctx`` (``cls.__new__(cls)`` with the recorded
``needs_input_grad`` and ``xp``), its tensor arguments lightweight tensors around the arrays of
the step; the ``backward()`` call becomes the engine's own schedule, worked out once from the
recorded graph (the order it runs the nodes in, where each input gradient goes, which are summed
back from a broadcast, which land in a leaf's ``.grad``), each node's ``cls.backward(ctx, *grads)``
called on arrays with grad mode off.  No ``Tensor`` or graph node is made for an op's result, no
topological sort and no per-op dispatch or device check runs.  Every other entry (the
optimiser's ``step`` and ``zero_grad``, ``detach``, in-place tensor methods, schedulers) is called
as recorded, on tensors.  The same array calls run in the same order as in the eager step, so the
results are bit-identical, random draws (dropout) included.

What this plan cannot express is replayed by the op-level :class:`~chainrule.compile.plan.Plan`
(``kind == "ops"``): ``autograd.grad``, ``backward`` with ``create_graph``/``retain_graph``/
``inputs``/an explicit gradient, tensor hooks or ``retain_grad``, a gradient flowing into a graph
made outside the step or into a tensor the step made without an op, a custom ``Function``.
"""


from chainrule import function as _function
from chainrule.autograd.engine import _topological_counts
from chainrule.compile.codegen import BACKWARD, CALL, DATA, FORWARD, generate
from chainrule.compile.plan import _show
from chainrule.grad_mode import state as _grad_state
from chainrule.tensor import Tensor, _leaf_hooks, _post_acc_hooks


def op_by_op(leaves, inputs):
    """True when a replay must go op by op, through the engine: anomaly detection is on, a
    transform (vmap, forward AD) is active, or one of *leaves* or *inputs* has a tensor hook or
    a post-accumulate-grad hook (which the engine runs)."""
    if _grad_state.anomaly or _function.dispatch_levels:
        return True
    if _leaf_hooks or _post_acc_hooks:
        for t in (*leaves, *inputs):
            if id(t) in _leaf_hooks or id(t) in _post_acc_hooks:
                return True
    return False


class NotArrayPlannable(Exception):
    """Why a recording can only be replayed op by op (the message says)."""


class ArrayPlan:
    """A plan replayed on arrays by one generated function (:mod:`.codegen`); ``ops`` is the
    op-level plan it falls back on (a tensor hook added on a parameter since, forward-mode AD
    or anomaly detection switched on)."""

    kind = "array"
    __slots__ = ("_fn", "_text", "_wrappers", "leaves", "ops", "program", "result", "source",
                 "traced", "why_not_flat")

    def __init__(self, ops, program, result, n_inputs, leaves, text):
        self.ops, self.leaves, self._text = ops, leaves, text
        self.program, self.result = program, result
        self.traced = False
        """True once a replay was traced (:mod:`.flat_plan`); ``why_not_flat`` says why the
        trace could not become a flat plan."""
        self.why_not_flat = None
        self._fn, self.source, self._wrappers = generate(program, result, n_inputs)

    def guards_hold(self):
        """True while every outside tensor still has the shape, dtype and requires_grad it had."""
        return self.ops.guards_hold()

    def describe(self):
        """The plan as text, one array-level call a line (``docs/compile.md`` shows heart's)."""
        return self._text

    def replay(self, inputs):
        """Run the plan on the step's tensor arguments *inputs*; return the step's result."""
        if op_by_op(self.leaves, inputs):
            return self.ops.replay(inputs)
        prev = _grad_state.enabled
        _grad_state.enabled = False
        try:
            return self._fn(inputs)
        finally:
            _grad_state.enabled = prev
            for w in self._wrappers:        # hold no array between steps
                setattr(w, DATA, None)


# ---- building ----------------------------------------------------------------------------------
def build(ops_plan, rec):
    """The array plan of a recording (*rec*, a :class:`~.recorder.Recorder`) whose op-level plan
    is *ops_plan*; raises :class:`NotArrayPlannable` naming what it cannot express."""
    node_of = {}            # recorded ctx -> node index
    slot_node = {}          # slot -> (node index, output nr)
    program, lines = [], []
    n_nodes = 0
    for k, (fn, aspec, kspec, ospec, grad) in enumerate(rec.entries):
        info = rec.ops.get(k)
        if info is not None:
            cls, ctx, needs, xp = info
            if not cls.on_arrays:
                raise NotArrayPlannable(f"custom Function {cls.__name__} runs on tensors")
            node = -1
            if ctx is not None:
                node = node_of[ctx] = n_nodes
                n_nodes += 1
                for nr, j in enumerate(_flat_slots(ospec)):
                    if j is not None:
                        slot_node[j] = (node, nr)
            program.append((FORWARD, cls, needs, xp, aspec, kspec, ospec, node))
            lines.append(_line(k, ospec, f"{cls.__name__}.forward", aspec, kspec,
                               f"  node {node}" if node >= 0 else ""))
        elif getattr(fn, "__name__", "") == "backward" and _from_autograd(fn):
            prog, text = _schedule(aspec, rec, node_of, slot_node)
            program.append((BACKWARD, prog))
            lines.append(f"{k:3d}  backward:")
            lines.extend(text)
        else:
            name = getattr(fn, "__name__", "")
            if name in ("register_hook", "retain_grad") or _from_autograd(fn):
                raise NotArrayPlannable(f"the step calls {name}")
            program.append((CALL, fn, aspec, kspec, ospec, grad))
            lines.append(_line(k, ospec, _call_name(fn, aspec), aspec, kspec, ""))
    leaves = []
    for ins in program:
        if ins[0] == BACKWARD:
            for step in ins[1][1]:
                for e in step[4]:
                    if e[1] and e[2][0] == "ext":
                        leaves.append(e[2][1])
    return ArrayPlan(ops_plan, program, ops_plan.result, rec.n_inputs, leaves, "\n".join(lines))


def _from_autograd(fn):
    return (getattr(fn, "__module__", None) or "").endswith("autograd.grad")


def _flat_slots(ospec):
    if type(ospec) is int:
        return [ospec]
    if ospec is None:
        return []
    return [o if type(o) is int else None for o in ospec]


def _schedule(aspec, rec, node_of, slot_node):
    """The engine's run of ``backward(loss)`` over the recorded graph: the node order of its
    Kahn loop (the same counts and stack), and for each node where each input gradient goes."""
    tensors, grads, retain, create, inputs = aspec
    if grads != ("const", None) or inputs != ("const", None) or create[1] or retain[1]:
        raise NotArrayPlannable("backward() is called with a gradient, inputs, retain_graph or "
                                "create_graph")
    roots = tensors[2] if tensors[0] == "seq" else (tensors,)
    if len(roots) != 1 or roots[0][0] != "slot" or roots[0][1] not in slot_node:
        raise NotArrayPlannable("backward() starts from a tensor no recorded op made")
    node, nr = slot_node[roots[0][1]]
    ctx_of = {v: c for c, v in node_of.items()}
    root_ctx = ctx_of[node]
    shape, dtype = _root_meta(rec, roots[0][1])
    deps = _topological_counts([root_ctx])
    ready = [root_ctx] if deps[root_ctx] == 0 else []
    steps, text = [], []
    while ready:
        ctx = ready.pop()
        if ctx not in node_of:
            raise NotArrayPlannable("the gradient flows into a graph made outside the step")
        if ctx._hooks is not None or ctx._retained:
            raise NotArrayPlannable("a tensor in the step has hooks or retains its gradient")
        edges, where = [], []
        for i, edge in enumerate(ctx.next_functions):
            if edge is None:
                continue
            nxt, k = edge
            shape_i, dtype_i = ctx._input_shapes[i], ctx._input_dtypes[i]
            if isinstance(nxt, Tensor):
                spec = rec.slot_of.get(id(nxt), ("ext", nxt))
                if spec[0] not in ("ext", "in"):
                    raise NotArrayPlannable("the gradient flows into a tensor the step made "
                                            "without an op")
                edges.append((i, True, spec, 0, shape_i, dtype_i))
                where.append(f"{_show_leaf(spec)}.grad")
                continue
            if nxt not in node_of:
                raise NotArrayPlannable("the gradient flows into a graph made outside the step")
            edges.append((i, False, node_of[nxt], k, shape_i, dtype_i))
            where.append(f"node {node_of[nxt]}")
            deps[nxt] -= 1
            if deps[nxt] == 0:
                ready.append(nxt)
        n_out = getattr(ctx, "_n_outputs", 1)
        meta = getattr(ctx, "_output_meta", None)
        steps.append((node_of[ctx], type(ctx).backward, n_out, meta, tuple(edges)))
        text.append(f"       {type(ctx).__name__}.backward(node {node_of[ctx]}) -> "
                    f"{', '.join(where)}")
    return ((node, nr, shape, dtype, root_ctx.xp), steps), text


def _root_meta(rec, j):
    for t in rec.keep:
        if rec.slot_of.get(id(t)) == ("slot", j):
            if t._data.size != 1:
                raise NotArrayPlannable("backward() starts from a tensor that is not a scalar")
            return t._data.shape, t._data.dtype
    raise NotArrayPlannable("backward() starts from a tensor no recorded op made")


def _show_leaf(spec):
    if spec[0] == "in":
        return f"in{spec[1]}"
    return f"param{list(spec[1]._data.shape)}"


def _line(k, ospec, name, aspec, kspec, tail):
    from_plan = _show_args(aspec, kspec)
    outs = "" if ospec is None else _show_out(ospec) + " = "
    return f"{k:3d}  {outs}{name}({from_plan}){tail}"


def _show_args(aspec, kspec):
    return ", ".join([_show(s) for s in aspec] + [f"{n}={_show(s)}" for n, s in kspec.items()])


def _show_out(o):
    if type(o) is int:
        return f"t{o}"
    return "(" + ", ".join("_" if x is None else _show_out(x) for x in o) + ")"


def _call_name(fn, aspec):
    owner = aspec[0][1] if aspec and aspec[0][0] == "const" else None
    name = getattr(fn, "__qualname__", repr(fn))
    if owner is not None and not isinstance(owner, (int, float, str, type(None))) \
            and "." in name:
        return f"{type(owner).__name__}.{name.split('.')[-1]}"
    return name
