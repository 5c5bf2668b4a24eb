"""The Tensor: an array, and the record of how it was computed.

A tensor holds its values in ``_data`` (a backend array; the public ``x.data`` is a tensor sharing
it, as in PyTorch) and, when it was computed from tensors that require gradients, the node
``grad_fn`` that made it: the op's vector-Jacobian product, and edges to the nodes of its inputs.
``backward`` walks those nodes (see ``autograd/engine.py``).

This file holds the data structure and the methods that are not math. The math methods and
operators (``x.exp()``, ``x + y``, ``x @ w``, ``x[i]``) are the ops of ``chainrule.ops``, bound to
the class in one table in ``ops/methods.py``: one op, one place.
"""
import builtins
import itertools as _itertools
import weakref as _weakref

import numpy as np

from chainrule import dtypes
from chainrule import grad_mode as _grad_mode
from chainrule.backend import device_of, is_array, ndarray, xp
from chainrule.errors import ArgumentTypeError, AutogradError, DTypeError, ShapeError, UsageError
from chainrule.grad_mode import InferenceVersion, check_inplace_on_inference
from chainrule.grad_mode import state as _grad_state


def to_array(data, dtype=None):
    """Turn tensor-like *data* into a backend array with PyTorch's dtype inference.

    Python floats (and lists of them) become the default float dtype, ints int64, bools bool;
    arrays keep their dtype unless *dtype* is given.
    """
    if isinstance(data, Tensor):
        arr = data._data
    elif is_array(data) and type(data) is not ndarray:    # a device array stays on its device
        arr = data
    elif isinstance(data, ndarray) or isinstance(data, np.generic):
        arr = xp.asarray(data)
    else:
        if isinstance(data, (list, tuple)) and any(isinstance(d, Tensor) for d in data):
            data = [to_array(d) for d in data]
        try:
            arr = xp.asarray(data)
        except ValueError as e:   # ragged nested lists (PyTorch raises ValueError too)
            raise ShapeError(f"tensor: the nested sequences are ragged (rows of different "
                             f"lengths) and cannot make a tensor: {e}") from None
        if arr.dtype == np.float64 and dtype is None:
            arr = arr.astype(dtypes.get_default_dtype(), copy=False)
        elif arr.dtype.kind in "iu" and dtype is None:
            arr = arr.astype(dtypes.int64, copy=False)
    if arr.dtype.kind not in "biuf":
        raise DTypeError(f"tensor: cannot make a tensor from data of dtype {arr.dtype} "
                        f"(expected numbers or booleans), got {type(data).__name__}")
    if dtype is not None:
        arr = arr.astype(dtypes.to_dtype(dtype), copy=False)
    return arr


class Tensor:
    """A multi-dimensional array that can record the ops applied to it and backpropagate through them.

    Make one with :func:`chainrule.tensor` (``cr.tensor([[1., 2.]], requires_grad=True)``).
    Attributes follow PyTorch: ``shape, ndim, dtype, device, grad, requires_grad, is_leaf, grad_fn, T``.
    """

    __slots__ = ("_data", "_requires_grad", "_grad", "grad_fn", "_vc", "_output_nr", "_retains_grad",
                 "_view_of", "__weakref__")
    __array_priority__ = 1000   # ``np.float64(2) * x`` defers to Tensor.__rmul__, as with torch

    def __init__(self, data, requires_grad=False, dtype=None):
        if type(data) is not ndarray and not is_array(data):
            data = to_array(data, dtype)
        elif dtype is not None:
            data = data.astype(dtypes.to_dtype(dtype), copy=False)
        self._data = data
        self._grad = None
        self.grad_fn = None
        # version counter, shared with views: bumped by every in-place change (its type marks
        # an inference tensor)
        self._vc = InferenceVersion((0,)) if _grad_mode.inference_active and \
            _grad_state.inference else [0]
        self._view_of = None    # (base, how, arg) when a view of base's memory (ops/shape._view)
        self._output_nr = 0     # which output of grad_fn this tensor is
        self._retains_grad = False
        self._requires_grad = False
        if requires_grad:
            self.requires_grad = True

    # ---- autograd attributes -------------------------------------------------------------
    @property
    def requires_grad(self):
        """Whether backward computes a gradient for this tensor."""
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, flag):
        flag = builtins.bool(flag)
        if flag and self._data.dtype.kind != "f":
            raise AutogradError(
                f"only floating-point tensors can require gradients: this tensor has dtype "
                f"{self._data.dtype} and shape {self.shape}; convert it first, e.g. x.to(cr.float32)")
        if not flag and self.grad_fn is not None:
            raise AutogradError(
                "requires_grad can only be switched off on a leaf tensor; use y.detach() to get a "
                "tensor of the same values outside the graph")
        if flag and type(self._vc) is InferenceVersion and not _grad_state.inference:
            raise AutogradError("Setting requires_grad=True on inference tensor outside "
                                "InferenceMode is not allowed.")
        self._requires_grad = flag

    def requires_grad_(self, requires_grad=True):
        """Set ``requires_grad`` in place and return the tensor."""
        self.requires_grad = requires_grad
        return self

    @property
    def grad(self):
        """The gradient that backward accumulated here (None until then), a tensor of this shape."""
        return self._grad

    @grad.setter
    def grad(self, value):
        if value is not None:
            if not isinstance(value, Tensor):
                raise ArgumentTypeError(f"assigned grad must be a tensor or None, got "
                                        f"{type(value).__name__}")
            if value._data.shape != self._data.shape or value._data.dtype != self._data.dtype:
                raise AutogradError(
                    f"assigned grad has shape {value.shape} and dtype {value.dtype}, but the "
                    f"tensor has shape {self.shape} and dtype {self.dtype}; they must match")
        self._grad = value

    def is_inference(self):
        """True for an inference tensor: one made inside ``cr.inference_mode()`` (or a view of
        one), which autograd cannot save and which cannot change in place outside that mode."""
        return type(self._vc) is InferenceVersion

    @property
    def is_leaf(self):
        """True for tensors not produced by a recorded op (user-made tensors and parameters)."""
        return self.grad_fn is None

    @property
    def _version(self):
        return self._vc[0]

    def retain_grad(self):
        """Keep ``.grad`` for this non-leaf tensor after backward (leaves always keep theirs)."""
        if not self._requires_grad:
            raise AutogradError("retain_grad: this tensor does not require grad")
        if self.grad_fn is not None and not self._retains_grad:
            self._retains_grad = True
            self.grad_fn.retain(self)

    @property
    def retains_grad(self):
        """True after ``retain_grad()`` on a non-leaf tensor (its ``.grad`` is then kept)."""
        return self._retains_grad

    def register_hook(self, hook):
        """Call ``hook(grad)`` with this tensor's gradient once backward has summed all of it; a
        returned tensor replaces the gradient (for the rest of backward and for ``.grad``).

        On a leaf the hook runs before the gradient lands in ``.grad``; on a non-leaf before its
        node's backward (and before ``retain_grad`` keeps it).  Returns a handle whose
        ``remove()`` unregisters the hook.

        >>> x = cr.tensor([1., 2.], requires_grad=True)
        >>> h = x.register_hook(lambda g: g * 2)     # double x's gradient
        >>> (x * 3).sum().backward()
        >>> x.grad
        tensor([6., 6.])
        >>> h.remove()
        """
        if not callable(hook):
            raise ArgumentTypeError(f"register_hook: hook must be callable, got "
                                    f"{type(hook).__name__}")
        if not self._requires_grad:
            raise AutogradError("cannot register a hook on a tensor that doesn't require gradient")
        node = self.grad_fn
        if node is None:
            entry = _leaf_hooks.get(id(self))
            if entry is None or entry[0]() is not self:
                entry = _leaf_hooks[id(self)] = (_weakref.ref(self, _drop_leaf_hooks(id(self))), {})
            hooks = entry[1]
        else:
            if node._hooks is None:
                node._hooks = {}
            hooks = node._hooks.setdefault(self._output_nr, {})
        return HookHandle(hooks, hook)

    def register_post_accumulate_grad_hook(self, hook):
        """Call ``hook(self)`` as soon as backward has accumulated this leaf's whole gradient of
        the pass into ``.grad`` (mid-backward, not at its end); the hook returns None.

        As PyTorch's: leaves only, called in registration order, in no-grad mode unless
        ``create_graph``; not by ``autograd.grad``.  ``remove()`` on the returned handle
        unregisters it.

        >>> v = cr.tensor([0., 0.], requires_grad=True)
        >>> h = v.register_post_accumulate_grad_hook(lambda p: p.data.sub_(0.1 * p.grad))
        >>> v.backward(cr.tensor([1., 2.]))
        >>> v
        tensor([-0.1000, -0.2000], requires_grad=True)
        """
        if not callable(hook):
            raise ArgumentTypeError(f"register_post_accumulate_grad_hook: hook must be callable, "
                                    f"got {type(hook).__name__}")
        if not self._requires_grad:
            raise AutogradError("cannot register a hook on a tensor that doesn't require gradient")
        if self.grad_fn is not None:
            raise AutogradError("post accumulate grad hooks cannot be registered on non-leaf "
                                "tensors")
        entry = _post_acc_hooks.get(id(self))
        if entry is None or entry[0]() is not self:
            entry = _post_acc_hooks[id(self)] = (
                _weakref.ref(self, _drop_leaf_hooks(id(self), _post_acc_hooks)), {})
        return _PostAccHookHandle(entry[1], hook, id(self))

    @property
    def data(self):
        """A tensor sharing this one's memory, outside the graph, as ``torch.Tensor.data``: no
        ``grad_fn``, ``requires_grad`` False, and its own version counter, so in-place changes
        through it are not seen by autograd (``detach()`` is the checked way).  Assigning a
        tensor (``x.data = t``) makes *x* use *t*'s memory (shape and dtype may change).

        >>> w = cr.ones(2, requires_grad=True)
        >>> w.data.mul_(3)
        tensor([3., 3.])
        >>> w
        tensor([3., 3.], requires_grad=True)
        """
        return wrap(self._data)

    @data.setter
    def data(self, value):
        if not isinstance(value, Tensor):
            raise ArgumentTypeError(f"Variable data has to be a tensor, but got "
                                    f"{type(value).__name__}")
        if self._requires_grad and value._data.dtype.kind != "f":
            raise AutogradError(
                f"data set to a tensor that requires gradients must be floating point: the new "
                f"data has dtype {value._data.dtype}")
        self._data, self._view_of = value._data, None

    def detach(self):
        """A tensor sharing this one's memory (and version counter) but cut off from the graph."""
        out = Tensor.__new__(Tensor)
        out._data, out._grad, out.grad_fn, out._vc = self._data, None, None, self._vc
        out._output_nr, out._retains_grad, out._requires_grad = 0, False, False
        out._view_of = None
        return out

    def detach_(self):
        """Cut this tensor off from the graph in place, making it a leaf."""
        self.grad_fn, self._requires_grad = None, False
        return self

    # ---- array attributes ----------------------------------------------------------------
    @property
    def shape(self):
        """The size of each dimension, a tuple."""
        return self._data.shape

    @property
    def ndim(self):
        """The number of dimensions."""
        return self._data.ndim

    def dim(self):
        """The number of dimensions (as ``torch.Tensor.dim``)."""
        return self._data.ndim

    @property
    def dtype(self):
        """The element type, e.g. ``cr.float32``."""
        return self._data.dtype

    @property
    def device(self):
        """Where the memory lives: ``device(type='cpu')`` or ``device(type='cuda', index=0)``."""
        return device_of(self._data)

    @property
    def is_cuda(self):
        """True when the tensor lives on a GPU."""
        return type(self._data) is not ndarray

    @property
    def is_floating_point_(self):
        return self._data.dtype.kind == "f"

    def is_floating_point(self):
        """True for float16/32/64 tensors."""
        return self._data.dtype.kind == "f"

    def type(self, dtype=None, non_blocking=False):
        """Without *dtype*: the type as a string, PyTorch's with chainrule's name
        (``'chainrule.FloatTensor'``, ``'chainrule.cuda.LongTensor'``).  With a dtype or such a
        string (``'torch.DoubleTensor'`` is read as ``'chainrule.DoubleTensor'``): the tensor
        converted to it, or the tensor itself when it has that type already.

        >>> cr.ones(2).type()
        'chainrule.FloatTensor'
        >>> cr.ones(2).type(cr.float64).dtype
        dtype('float64')
        """
        cuda = builtins.type(self._data) is not ndarray
        if dtype is None:
            name = _TYPE_NAMES.get(self._data.dtype, str(self._data.dtype))
            return "chainrule." + ("cuda." if cuda else "") + name
        device = None
        if isinstance(dtype, str) and dtype.endswith("Tensor"):
            parts = dtype.split(".")
            if parts[0] not in ("torch", "chainrule") or parts[-1] not in _TYPE_DTYPES or \
                    len(parts) > 3 or len(parts) == 3 and parts[1] != "cuda":
                raise DTypeError(f"type: invalid type {dtype!r}: expected e.g. "
                                 f"'chainrule.FloatTensor' or 'chainrule.cuda.LongTensor'")
            want_cuda = len(parts) == 3
            if want_cuda != cuda:
                device = "cuda" if want_cuda else "cpu"
            dtype = _TYPE_DTYPES[parts[-1]]
        else:
            dtype = dtypes.to_dtype(dtype)
        if dtype == self._data.dtype and device is None:
            return self
        return self.to(dtype=dtype, device=device)

    def __format__(self, spec):
        """``f"{loss:.4f}"``: a one-element tensor formats as its number, as PyTorch's 0-d ones."""
        if self._data.ndim == 0 or spec and self._data.size == 1:
            return format(self.item(), spec)
        if spec:
            raise ArgumentTypeError(f"unsupported format string {spec!r} passed to "
                                    f"Tensor.__format__: only one-element tensors format as "
                                    f"numbers (this one has shape {self.shape})")
        return str(self)

    def size(self, dim=None):
        """The shape, or the size of dimension *dim*."""
        if dim is None:
            return self._data.shape
        return self._data.shape[dim]

    def numel(self):
        """The number of elements."""
        return self._data.size

    def element_size(self):
        """Bytes per element."""
        return self._data.itemsize

    def __len__(self):
        if self._data.ndim == 0:
            raise ArgumentTypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    # ---- leaving the library -------------------------------------------------------------
    def numpy(self):
        """The values as a NumPy array sharing memory, as ``torch.Tensor.numpy``."""
        if type(self._data) is not ndarray:
            raise ArgumentTypeError(f"can't convert {self.device} device type tensor to numpy. Use "
                                    f"Tensor.cpu() to copy the tensor to host memory first.")
        if self._requires_grad:
            raise AutogradError("can't call numpy() on a tensor that requires grad: "
                                "use tensor.detach().numpy() instead")
        return self._data

    def __array__(self, dtype=None, copy=None):
        arr = self.numpy()
        return arr if dtype is None else arr.astype(dtype)

    def item(self):
        """The value of a one-element tensor as a Python number."""
        if self._data.size != 1:
            raise ShapeError(f"item(): a tensor with {self._data.size} elements cannot be converted "
                             f"to a Python scalar (shape {self.shape}); index one element first")
        return self._data.reshape(()).item()

    def tolist(self):
        """The values as (nested) Python lists."""
        return self._data.tolist()

    def __float__(self):
        return builtins.float(self.item())

    def __int__(self):
        return builtins.int(self.item())

    def __index__(self):
        if self._data.dtype.kind not in "iu":
            raise DTypeError("only integer tensors of a single element can be used as an index, "
                             f"got dtype {self.dtype}")
        if self._data.size != 1:
            raise ArgumentTypeError("only integer tensors of a single element can be used as an "
                                    f"index, got {self._data.size} elements")
        return builtins.int(self.item())

    def __bool__(self):
        if self._data.size != 1:
            raise UsageError(f"the truth value of a tensor with {self._data.size} elements is "
                             f"ambiguous: use .any() or .all()")
        return builtins.bool(self._data.reshape(()).item())

    __hash__ = object.__hash__

    def __iter__(self):
        if self._data.ndim == 0:
            raise ArgumentTypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._data.shape[0]))

    # ---- in place, outside the graph ---------------------------------------------------------
    def zero_(self):
        """Fill with zeros in place."""
        _check_inplace(self)
        self._data.fill(0)
        self._vc[0] += 1
        return self

    def fill_(self, value):
        """Fill with *value* in place."""
        _check_inplace(self)
        self._data.fill(value)
        self._vc[0] += 1
        return self

    def __repr__(self):
        a = self._data if type(self._data) is ndarray else self._data.get()
        finite = a[np.isfinite(a)] if a.dtype.kind == "f" else a
        fixed = a.dtype.kind == "f" and bool((finite != np.round(finite)).any())
        body = np.array2string(a, separator=", ", prefix="tensor(", precision=4, threshold=1000,
                               edgeitems=3, floatmode="fixed" if fixed else "maxprec")
        extras = []
        if type(self._data) is not ndarray:
            extras.append(f"device='{self.device}'")
        if self._data.dtype not in (dtypes.get_default_dtype(), dtypes.int64, dtypes.bool):
            extras.append(f"dtype=cr.{self._data.dtype}")
        if self.grad_fn is not None:
            extras.append(f"grad_fn=<{self.grad_fn.name()}>")
        elif self._requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + body + "".join(", " + e for e in extras) + ")"


def _check_inplace(t):
    """Reject in-place writes that the graph cannot follow (they would corrupt gradients)."""
    if type(t._vc) is not list:
        check_inplace_on_inference()
    if _grad_state.enabled and t._requires_grad:
        if t.grad_fn is None:
            raise AutogradError(
                "a leaf tensor that requires grad is being changed in place; do it inside "
                "`with cr.no_grad():` (as optimisers do) or work on a clone")
        raise AutogradError(
            "filling a tensor inside the graph in place (zero_, fill_, normal_...) would hide "
            "it from backward; build a new tensor instead (cr.zeros_like(x), cr.full_like(x, v))")


_TYPE_NAMES = {dtypes.float32: "FloatTensor", dtypes.float64: "DoubleTensor",
               dtypes.float16: "HalfTensor", dtypes.int64: "LongTensor", dtypes.int32: "IntTensor",
               dtypes.int16: "ShortTensor", dtypes.int8: "CharTensor", dtypes.uint8: "ByteTensor",
               dtypes.bool: "BoolTensor"}
_TYPE_DTYPES = {v: k for k, v in _TYPE_NAMES.items()}

_leaf_hooks = {}
"""id(leaf) -> (weak reference to the leaf, {handle id: hook}): the hooks of leaf tensors, which
the engine calls on a leaf's summed gradient before it reaches ``.grad``."""


_post_acc_hooks = {}
"""id(leaf) -> (weak reference to the leaf, {handle id: hook}): the post-accumulate-grad hooks,
which the engine calls with the leaf once its gradient of the pass is complete."""


def _drop_leaf_hooks(key, registry=_leaf_hooks):
    def drop(ref):
        entry = registry.get(key)
        if entry is not None and entry[0] is ref:
            del registry[key]
    return drop


class HookHandle:
    """What ``register_hook`` returns: ``handle.remove()`` unregisters the hook (as PyTorch's
    ``RemovableHandle``; also a context manager that removes it on exit)."""

    _ids = _itertools.count(1)

    def __init__(self, hooks, hook):
        self.hooks_dict_ref, self.id = hooks, next(HookHandle._ids)
        hooks[self.id] = hook

    def remove(self):
        """Unregister the hook (a second call does nothing)."""
        self.hooks_dict_ref.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


class _PostAccHookHandle(HookHandle):
    """A post-accumulate-grad hook's handle: removing a leaf's last hook also drops the leaf from
    the registry, so that backward without such hooks skips their bookkeeping."""

    def __init__(self, hooks, hook, key):
        super().__init__(hooks, hook)
        self.key = key

    def remove(self):
        """Unregister the hook (a second call does nothing)."""
        super().remove()
        entry = _post_acc_hooks.get(self.key)
        if entry is not None and entry[1] is self.hooks_dict_ref and not entry[1]:
            del _post_acc_hooks[self.key]


def wrap(arr):
    """A fresh tensor around backend array *arr* (no copy, no conversion): the ops' fast path."""
    t = _new(Tensor)
    t._data, t._grad, t.grad_fn, t._vc, t._view_of = arr, None, None, [0], None
    t._output_nr, t._retains_grad, t._requires_grad = 0, False, False
    return t


_new = Tensor.__new__


def is_tensor(obj):
    """True if *obj* is a chainrule Tensor."""
    return isinstance(obj, Tensor)
