"""``Function`` and ``Op``: an operation with a hand-written backward, and the node it leaves.

Every differentiable operation is a subclass with a ``forward`` and a ``backward`` side by side.
The instance that ``apply`` creates is the ``ctx`` both share, and it stays in the graph as the
outputs' ``grad_fn``: ``next_functions`` are its edges to the inputs' nodes.

Two contracts, one class tree:

- ``Op`` — chainrule's built-in ops.  ``forward(ctx, ...)`` receives the tensors and computes on
  their arrays (``x._data``) with ``ctx.xp``, the namespace that owns them (NumPy on the CPU, CuPy
  on a GPU).  ``backward(ctx, gy)`` is written once in NumPy's names with ``ctx.xp`` too: in a
  first-order backward ``gy`` and ``ctx.saved_tensors`` are arrays and ``ctx.xp`` is the arrays'
  module, so nothing is recorded; with ``create_graph=True`` they are tensors and ``ctx.xp`` is the
  namespace of chainrule's differentiable ops (``ops/namespace.py``), so the same lines build a
  graph that can be differentiated again::

      class Exp(Op):
          '''y = eˣ.  Jacobian diag(eˣ), so  x̄ = ȳ · y.'''
          @staticmethod
          def forward(ctx, x):
              y = ctx.xp.exp(x._data)
              ctx.save_for_backward(y)
              return y

          @staticmethod
          def backward(ctx, gy):
              y, = ctx.saved_tensors
              return gy * y

  A backward that is itself another op (the scatter behind indexing) runs it with
  ``ctx.call(OtherOp, ...)``.
- ``Function`` — PyTorch's ``torch.autograd.Function`` for your own ops: forward and backward
  receive and return tensors, always.

This module imports no op: ops, the engine and ``Tensor.backward`` are built on it.
"""
import traceback

import numpy as np

from chainrule import grad_mode as _grad_mode
from chainrule.backend import DeviceError, device_of, is_array, namespace_of, numpy_namespace
from chainrule.errors import AutogradError, DefinitionError
from chainrule.grad_mode import InferenceVersion
from chainrule.grad_mode import state as _grad_state
from chainrule.tensor import Tensor, ndarray, to_array, wrap

_RELEASED = object()

recorder = None
"""The active ``chainrule.compile`` recorder while a compiled step records itself, else None."""

dispatch_levels = 0
"""How many forward-AD (``autograd.forward_ad``) or vmap (``cr.func.vmap``) levels are open, in
any thread.  While one is, ``apply`` hands each op to this thread's innermost level
(``grad_mode.state.dispatch``), which computes tangents or batches the op and runs it below."""


class _SavedOutput:
    """An output saved for backward, kept as (array, version) so the node holds no cycle."""

    __slots__ = ("_data", "vc", "version", "output_nr")

    def __init__(self, t):
        self._data, self.vc, self.version, self.output_nr = t._data, t._vc, t._vc[0], t._output_nr


class Function:
    """Base class of operations with a custom backward (PyTorch's contract: tensors in and out).

    Call a subclass as ``MyFn.apply(*args)``.  Inside ``forward`` use ``ctx.save_for_backward(*t)``
    to keep tensors for ``backward``, which reads them as ``ctx.saved_tensors``;
    ``ctx.needs_input_grad`` tells which inputs want a gradient.  Other plain values may be stored
    as ``ctx`` attributes.
    """

    __slots__ = ("next_functions", "needs_input_grad", "_input_shapes", "_input_dtypes",
                 "_n_outputs", "_output_meta", "_trace", "xp", "__dict__", "__weakref__")

    # Defaults read until an instance sets its own (no __init__: creating a node stays cheap).
    _saved = ()
    _saved_versions = ()
    _retained = None
    _hooks = None
    _materialize_grads = True
    """{output_nr: {handle id: hook}} for the outputs' ``register_hook`` hooks (None: none)."""
    on_arrays = False
    """True for ops whose backward runs on arrays in a first-order pass (``Op``)."""

    # ---- the op's contract -------------------------------------------------------------
    @staticmethod
    def forward(ctx, *args, **kwargs):
        """Compute the op's outputs from its inputs. Override in a subclass."""
        raise NotImplementedError("a Function subclass must define a static forward(ctx, *args)")

    @staticmethod
    def backward(ctx, *grad_outputs):
        """Return the vector-Jacobian product for each input. Override in a subclass."""
        raise NotImplementedError(f"{type(ctx).__name__} defines no backward: it is not differentiable")

    @staticmethod
    def jvp(ctx, *tangents):
        """Return the Jacobian-vector product: each output's tangent from the inputs' tangents
        (None for an input without one), for forward-mode AD (``autograd.forward_ad``).  Read the
        inputs and outputs as ``ctx.primals`` and ``ctx.outputs``. Override in a subclass."""
        raise DefinitionError(
            f"{type(ctx).__name__} defines no jvp, so forward-mode AD (cr.autograd.forward_ad, "
            f"cr.func.jvp, cr.func.jacfwd) cannot pass a tangent through it; use reverse mode "
            f"(cr.func.vjp, cr.func.jacrev) for this function")

    # ---- saving tensors for backward ---------------------------------------------------
    def save_for_backward(self, *tensors):
        """Keep *tensors* (or None, or arrays) for backward; an in-place change of a saved tensor
        afterwards is detected."""
        self._saved = tensors
        self._saved_versions = tuple([t._vc[0] if isinstance(t, Tensor) else None
                                      for t in tensors])

    @property
    def saved_tensors(self):
        """What ``save_for_backward`` kept, checked against in-place modification: arrays in an
        op's first-order backward, tensors otherwise."""
        saved = self._saved
        if saved is _RELEASED:
            raise AutogradError(
                f"trying to backward through the graph a second time (in {self.name()}): its saved "
                f"tensors were freed after the first backward. Pass retain_graph=True to the first "
                f"backward() (or autograd.grad) if you need to backward through it again")
        arrays = self.on_arrays and not _grad_state.enabled
        out = []
        for t, v in zip(saved, self._saved_versions):
            if t is None:
                out.append(None)
            elif type(t) is _SavedOutput:
                if t.vc[0] != t.version:
                    self._raise_modified(len(out), t.vc[0], t.version)
                if arrays:
                    out.append(t._data)
                else:
                    r = Tensor.__new__(Tensor)
                    r._data, r._grad, r.grad_fn, r._vc = t._data, None, self, t.vc
                    r._output_nr, r._retains_grad, r._requires_grad, r._view_of = \
                        t.output_nr, False, True, None
                    out.append(r)
            elif v is not None:         # a tensor: its version was recorded when saved
                if t._vc[0] != v:
                    self._raise_modified(len(out), t._vc[0], v)
                out.append(t._data if arrays else t)
            else:                       # an array kept as a constant
                out.append(t)
        return tuple(out)

    def _raise_modified(self, i, now, expected):
        raise AutogradError(
            f"one of the tensors needed for gradient computation has been modified by an in-place "
            f"operation: saved tensor {i} of {self.name()} is at version {now}; expected version "
            f"{expected}. Use an out-of-place op (x = x + 1 rather than x += 1) before backward")

    def set_materialize_grads(self, value):
        """With False, ``backward`` receives None (not zeros) for an output nobody used."""
        self._materialize_grads = bool(value)

    def release(self):
        """Free the saved tensors (done after backward unless ``retain_graph=True``)."""
        self._saved = _RELEASED

    def retain(self, tensor):
        """Record a non-leaf tensor whose ``.grad`` backward should fill (``retain_grad``)."""
        if self._retained is None:
            self._retained = []
        self._retained.append(tensor)

    # ---- running another op from a backward ----------------------------------------------
    def call(self, op, *args, **kwargs):
        """Run *op* from inside a backward: on arrays in a first-order backward (the result is an
        array), recorded as a node with ``create_graph=True`` (the result is a tensor)."""
        if _grad_state.enabled or self.xp.name == "chainrule":   # recording, or on tensors (a
            return op.apply(*args, **kwargs)                    # jvp under forward-mode AD)
        # first order: the op's forward straight on the arrays, no node and no bookkeeping
        ctx = op.__new__(op)
        ctx.xp = self.xp
        ctx.needs_input_grad = (False,) * len(args)
        args = [wrap(a) if _is_raw_array(a) else wrap(np.asarray(a)) if isinstance(a, np.generic)
                else a for a in args]
        out = op.forward(ctx, *args, **kwargs)
        return out._data if isinstance(out, Tensor) else out

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
        if recorder is not None and not recorder.busy:     # cr.compile is recording a step
            return recorder.op(cls, args, kwargs)
        if dispatch_levels and _grad_state.dispatch is not None:   # forward AD or vmap
            return _grad_state.dispatch(cls, args, kwargs)
        ctx = cls()
        if not _grad_state.enabled:
            needs, dt = [], None
            for a in args:
                if isinstance(a, Tensor):
                    needs.append(a._requires_grad)
                    t = type(a._data)
                    if dt is None:
                        dt, first = t, a
                    elif t is not dt or t is not ndarray:
                        _same_device(first, a, cls)
                else:
                    needs.append(False)
            ctx.needs_input_grad = tuple(needs)
            ctx.xp = numpy_namespace if dt is None or dt is ndarray else namespace_of(first._data)
            if _grad_mode.inference_active and _grad_state.inference:
                return _as_inference(_plain(cls.forward(ctx, *args, **kwargs)), args)
            return _plain(cls.forward(ctx, *args, **kwargs))
        # one pass over the inputs: which want a gradient, the edges to their nodes, the device
        needs, edges, shapes, types = [], [], [], []
        dt = None
        for a in args:
            if isinstance(a, Tensor):
                d = a._data
                t = type(d)
                if dt is None:
                    dt, first = t, a
                elif t is not dt or t is not ndarray:
                    _same_device(first, a, cls)
                if a._requires_grad:
                    needs.append(True)
                    edges.append((a if a.grad_fn is None else a.grad_fn, a._output_nr))
                    shapes.append(d.shape)
                    types.append(d.dtype)
                    continue
            needs.append(False)
            edges.append(None)
            shapes.append(None)
            types.append(None)
        ctx.needs_input_grad = needs = tuple(needs)
        ctx.xp = numpy_namespace if dt is None or dt is ndarray else namespace_of(first._data)
        _grad_state.enabled = False
        try:
            out = cls.forward(ctx, *args, **kwargs)
        finally:
            _grad_state.enabled = True
        if True not in needs:
            return _plain(out)
        if _grad_mode.inference_tensors_made and ctx._saved:
            _refuse_saved_inference(ctx._saved)
        ctx.next_functions, ctx._input_shapes, ctx._input_dtypes = \
            tuple(edges), tuple(shapes), tuple(types)
        if _grad_state.anomaly:
            ctx._trace = "".join(traceback.format_stack()[:-1])
        if type(out) is not tuple:          # the common case: one output
            if type(out) is ndarray:        # a fresh array: wrap it without Tensor.__init__
                o = wrap(out)
            elif not isinstance(out, Tensor):
                o = wrap(out) if _is_raw_array(out) else Tensor(to_array(out))
            elif out.grad_fn is not None or out._requires_grad or _is_one_of(out, args):
                o = out.detach()   # an input returned as is: give the output its own identity
            else:
                o = out
            if o._data.dtype.kind == "f":
                o.grad_fn, o._output_nr, o._requires_grad = ctx, 0, True
            ctx._n_outputs = 1
            saved = ctx._saved
            if saved:         # an output kept for backward is held as an array: no cycle
                arr = out if out is not o and not isinstance(out, Tensor) else o
                for s in saved:
                    if s is o or s is arr:
                        ctx._saved = tuple([_SavedOutput(o) if x is o or x is arr else x
                                            for x in saved])
                        break
            return o
        wrapped = []
        for i, o in enumerate(out):
            if not isinstance(o, Tensor):
                o = wrap(o) if _is_raw_array(o) else Tensor(to_array(o))
            elif o.grad_fn is not None or o._requires_grad or _is_one_of(o, args):
                o = o.detach()
            if o._data.dtype.kind == "f":
                o.grad_fn, o._output_nr, o._requires_grad = ctx, i, True
            wrapped.append(o)
        ctx._n_outputs = len(wrapped)
        saved = ctx._saved
        if saved:
            for s in saved:
                if s is not None and (_is_one_of(s, out) or _is_one_of(s, wrapped)):
                    ctx._saved = tuple([_as_saved_output(s, out, wrapped) for s in saved])
                    break
        ctx._output_meta = [(w._data.shape, w._data.dtype) for w in wrapped]
        return tuple(wrapped)


class Op(Function):
    """Base class of chainrule's built-in ops: ``forward`` and ``backward`` written once with
    ``ctx.xp`` in NumPy's names (see the module docstring)."""

    __slots__ = ()
    on_arrays = True


def _is_raw_array(a):
    return type(a) is ndarray or (not isinstance(a, Tensor) and is_array(a))


def _same_device(a, b, cls):
    """Raise DeviceError unless tensors *a* and *b* live on one device."""
    da, db = device_of(a._data), device_of(b._data)
    if da != db:
        raise DeviceError(
            f"Expected all tensors to be on the same device, but found at least two devices, "
            f"{da} and {db} (in {cls.__name__.lower()}); move one with .to({str(da)!r}) or "
            f".to({str(db)!r})")


def _is_one_of(x, items):
    """True if *x* is (identically) one of *items* (``in`` would compare tensors by value)."""
    for item in items:
        if x is item:
            return True
    return False


def _as_saved_output(s, outs, wrapped):
    """A saved value that is one of the outputs (as returned by forward, or wrapped), kept as a
    ``_SavedOutput``; anything else as it is."""
    if s is None:
        return s
    for o, w in zip(outs, wrapped):
        if s is o or s is w:
            return _SavedOutput(w)
    return s


def _as_inference(out, args):
    """Mark the fresh outputs of an op run inside ``inference_mode`` as inference tensors (an
    input returned as it is, or a view of a normal tensor, stays normal)."""
    for o in (out if type(out) is tuple else (out,)):
        if type(o._vc) is not InferenceVersion and not _is_one_of(o, args):
            o._vc = InferenceVersion(o._vc)
    return out


def _refuse_saved_inference(saved):
    for s in saved:
        if isinstance(s, Tensor) and type(s._vc) is InferenceVersion:
            raise AutogradError(_grad_mode.SAVED_INFERENCE_TENSOR)


def _plain(out):
    """Forward's result as tensors, when no graph is recorded."""
    if type(out) is tuple:
        return tuple(o if isinstance(o, Tensor) else Tensor(o) for o in out)
    if isinstance(out, Tensor):
        return out
    return wrap(out) if type(out) is ndarray else Tensor(out)
