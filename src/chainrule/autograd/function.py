"""``Function``: an op with a hand-written backward, and the node it leaves in the graph.

Every differentiable op in chainrule, built-in or yours, is a subclass::

    class Exp(Function):
        '''y = exp(x).  Jacobian: diag(exp(x)), so  x̄ = ȳ · y.'''
        @staticmethod
        def forward(ctx, x):
            y = xp.exp(x.data)
            ctx.save_for_backward(...)
            return y
        @staticmethod
        def backward(ctx, gy):
            ...
            return gy * y

``forward`` receives the op's arguments (tensors and plain values) and returns a Tensor, a backend
array (wrapped for you), or a tuple of them.  ``backward`` receives one gradient per output and
returns one per input (``None`` where there is none); it is written with tensor ops, so with
``create_graph=True`` backward itself is recorded and can be differentiated again.

The instance created by ``apply`` is the ``ctx`` that forward and backward share, and it stays in the
graph as the ``grad_fn`` of the outputs: ``next_functions`` are its edges to the inputs' nodes.
"""
import traceback

from chainrule.grad_mode import state as _grad_state
from chainrule.tensor import Tensor, ndarray, to_array, wrap

_RELEASED = object()


class _SavedOutput:
    """An output saved for backward, kept as (array, version) so the node holds no cycle."""

    __slots__ = ("data", "vc", "version", "output_nr")

    def __init__(self, t):
        self.data, self.vc, self.version, self.output_nr = t.data, t._vc, t._vc[0], t._output_nr


class Function:
    """Base class of ops with a custom backward; see the module docstring for the contract.

    Call a subclass as ``MyFn.apply(*args)``.  Inside ``forward`` use ``ctx.save_for_backward(*t)``
    to keep tensors for ``backward``, which reads them as ``ctx.saved_tensors``; ``ctx.needs_input_grad``
    tells which inputs want a gradient.  Other plain values may be stored as ``ctx`` attributes.
    """

    __slots__ = ("next_functions", "needs_input_grad", "_input_shapes", "_input_dtypes",
                 "_n_outputs", "_output_meta", "_trace", "__dict__", "__weakref__")

    # Defaults read until an instance sets its own (no __init__: creating a node stays cheap).
    _saved = ()
    _saved_versions = ()
    _retained = None

    # ---- the op's contract -------------------------------------------------------------
    @staticmethod
    def forward(ctx, *args, **kwargs):
        """Compute the op's outputs from its inputs. Override in a subclass."""
        raise NotImplementedError("a Function subclass must define a static forward(ctx, *args)")

    @staticmethod
    def backward(ctx, *grad_outputs):
        """Return the vector-Jacobian product for each input. Override in a subclass."""
        raise NotImplementedError(f"{type(ctx).__name__} defines no backward: it is not differentiable")

    # ---- saving tensors for backward ---------------------------------------------------
    def save_for_backward(self, *tensors):
        """Keep *tensors* (or None) for backward; modifying one in place afterwards is detected."""
        self._saved = tensors
        self._saved_versions = tuple([t._vc[0] if t is not None else 0 for t in tensors])

    @property
    def saved_tensors(self):
        """The tensors given to ``save_for_backward``, checked against in-place modification."""
        saved = self._saved
        if saved is _RELEASED:
            raise RuntimeError(
                f"trying to backward through the graph a second time (in {self.name()}): its saved "
                f"tensors were freed after the first backward. Pass retain_graph=True to the first "
                f"backward() (or autograd.grad) if you need to backward through it again")
        for t, v in zip(saved, self._saved_versions):   # fast path: nothing to rebuild or report
            if t is None or type(t) is _SavedOutput or t._vc[0] != v:
                break
        else:
            return saved
        out = []
        for i, (t, v) in enumerate(zip(saved, self._saved_versions)):
            if type(t) is _SavedOutput:
                if t.vc[0] != t.version:
                    self._raise_modified(i, t.vc[0], t.version)
                r = Tensor.__new__(Tensor)
                r.data, r._grad, r.grad_fn, r._vc = t.data, None, self, t.vc
                r._output_nr, r._retains_grad, r._requires_grad, r._view_of = \
                    t.output_nr, False, True, None
                t = r
            elif t is not None and t._vc[0] != v:
                self._raise_modified(i, t._vc[0], v)
            out.append(t)
        return tuple(out)

    def _raise_modified(self, i, now, expected):
        raise RuntimeError(
            f"one of the tensors needed for gradient computation has been modified by an in-place "
            f"operation: saved tensor {i} of {self.name()} is at version {now}; expected version "
            f"{expected}. Use an out-of-place op (x = x + 1 rather than x += 1) before backward")

    def release(self):
        """Free the saved tensors (done after backward unless ``retain_graph=True``)."""
        self._saved = _RELEASED

    def retain(self, tensor):
        """Record a non-leaf tensor whose ``.grad`` backward should fill (``retain_grad``)."""
        if self._retained is None:
            self._retained = []
        self._retained.append(tensor)

    # ---- graph bookkeeping -------------------------------------------------------------
    @classmethod
    def name(cls):
        """The node's display name, e.g. ``ExpBackward``."""
        return cls.__name__ + "Backward"

    def __repr__(self):
        return f"<{self.name()}>"

    @classmethod
    def apply(cls, *args, **kwargs):
        """Run the op: compute ``forward`` and, if grad mode is on and an input requires grad,
        record this node as the outputs' ``grad_fn``."""
        ctx = cls()
        if not _grad_state.enabled:
            ctx.needs_input_grad = tuple([isinstance(a, Tensor) and a._requires_grad
                                          for a in args])
            return _plain(cls.forward(ctx, *args, **kwargs))
        # one pass over the inputs: which want a gradient, and the edges to their nodes
        needs, edges, shapes, types = [], [], [], []
        for a in args:
            if isinstance(a, Tensor) and a._requires_grad:
                d = a.data
                needs.append(True)
                edges.append((a if a.grad_fn is None else a.grad_fn, a._output_nr))
                shapes.append(d.shape)
                types.append(d.dtype)
            else:
                needs.append(False)
                edges.append(None)
                shapes.append(None)
                types.append(None)
        ctx.needs_input_grad = needs = tuple(needs)
        _grad_state.enabled = False
        try:
            out = cls.forward(ctx, *args, **kwargs)
        finally:
            _grad_state.enabled = True
        if True not in needs:
            return _plain(out)
        ctx.next_functions, ctx._input_shapes, ctx._input_dtypes = \
            tuple(edges), tuple(shapes), tuple(types)
        if _grad_state.anomaly:
            ctx._trace = "".join(traceback.format_stack()[:-1])
        if type(out) is not tuple:   # the common case: one output
            if not isinstance(out, Tensor):   # a fresh array: wrap it without Tensor.__init__
                o = wrap(out if type(out) is ndarray else to_array(out))
            elif out.grad_fn is not None or out._requires_grad or _is_one_of(out, args):
                o = out.detach()   # an input returned as is: give the output its own identity
            else:
                o = out
            if o.data.dtype.kind == "f":
                o.grad_fn, o._output_nr, o._requires_grad = ctx, 0, True
            ctx._n_outputs = 1
            saved = ctx._saved
            for s in saved:   # an output is kept as an array: a node holding it is a cycle
                if s is o:
                    ctx._saved = tuple([_SavedOutput(s) if s is o else s for s in saved])
                    break
            return o
        wrapped = []
        for i, o in enumerate(out):
            if not isinstance(o, Tensor):
                o = Tensor(o)
            elif o.grad_fn is not None or o._requires_grad or _is_one_of(o, args):
                o = o.detach()   # an input returned as is: give the output its own identity
            if o.data.dtype.kind == "f":
                o.grad_fn, o._output_nr, o._requires_grad = ctx, i, True
            wrapped.append(o)
        ctx._n_outputs = len(wrapped)
        ctx._output_meta = [(w.data.shape, w.data.dtype) for w in wrapped]
        if ctx._saved:   # outputs are kept as arrays: a node holding its own output is a cycle
            ctx._saved = tuple([_SavedOutput(s) if _is_one_of(s, wrapped) else s
                                for s in ctx._saved])
        return tuple(wrapped)


def _is_one_of(x, items):
    """True if *x* is (identically) one of *items* (``in`` would compare tensors by value)."""
    for item in items:
        if x is item:
            return True
    return False


def _plain(out):
    """Forward's result as tensors, when no graph is recorded."""
    if type(out) is tuple:
        return tuple(o if isinstance(o, Tensor) else Tensor(o) for o in out)
    return out if isinstance(out, Tensor) else Tensor(out)
