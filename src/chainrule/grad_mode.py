"""Grad mode: whether ops record the graph that backward walks.

This thread-local switch (and the anomaly switch beside it) is the only mutable global state of the
engine, as in PyTorch: ``no_grad`` turns recording off for evaluation and for optimiser updates.
"""
import contextlib
import threading

from chainrule.errors import AutogradError


class _State(threading.local):
    enabled = True
    anomaly = False
    inference = False
    dispatch = None
    """The innermost forward-AD or vmap level of this thread (see ``function.dispatch_levels``)."""


state = _State()


def is_grad_enabled():
    """True when new ops record a graph for backward (the default)."""
    return state.enabled


class _Mode(contextlib.ContextDecorator):
    """A grad-mode switch usable as ``with m():``, ``@m()`` and bare ``@m``.

    Each entry pushes the mode it replaces on a stack, so one instance may be entered again
    while active (a decorated recursive function) and still restores the outer mode on exit.
    """

    mode = True

    def __new__(cls, *args):
        if cls is not set_grad_enabled and len(args) == 1 and callable(args[0]):
            return cls()(args[0])   # bare @cr.no_grad, as PyTorch allows
        return super().__new__(cls)

    def __init__(self):
        self._prev = []

    def __enter__(self):
        self._prev.append(state.enabled)
        state.enabled = self.mode
        return self

    def __exit__(self, *exc):
        state.enabled = self._prev.pop()
        return False


class no_grad(_Mode):
    """Context manager and decorator: ops inside record no graph (``with cr.no_grad(): ...``)."""

    mode = False


class enable_grad(_Mode):
    """Context manager and decorator: ops inside record a graph even within ``no_grad``."""

    mode = True


class set_grad_enabled(_Mode):
    """Turn graph recording on or off: a function call (effective at once), a context manager
    (restoring the previous mode on exit) and a decorator (effective only inside the function)."""

    def __init__(self, mode):
        super().__init__()
        self.mode = bool(mode)
        self._at_init = state.enabled
        state.enabled = self.mode   # ``cr.set_grad_enabled(False)`` as a plain call

    def __enter__(self):
        # the first entry right after the call restores the mode from before the call
        prev, self._at_init = (state.enabled if self._at_init is None else self._at_init), None
        self._prev.append(prev)
        state.enabled = self.mode
        return self

    def __call__(self, func):
        state.enabled = self._at_init   # as a decorator it acts only while func runs
        self._at_init = None
        return super().__call__(func)


class InferenceVersion(list):
    """The version counter of an inference tensor, one made inside ``inference_mode``: its type
    is the mark (``Tensor.is_inference()`` reads it), and views and ``detach()`` share it as they
    share any version counter, so a view of an inference tensor is one too, as in PyTorch."""

    __slots__ = ()


inference_tensors_made = False
"""True once ``inference_mode`` has been entered in this process: until then ``Function.apply``
skips the check that no inference tensor is saved for backward."""

inference_active = 0
"""How many ``inference_mode`` blocks are open, in any thread: while none is, making a tensor
reads no thread-local state to learn whether it is an inference tensor."""
_inference_lock = threading.Lock()

SAVED_INFERENCE_TENSOR = (
    "Inference tensors cannot be saved for backward. Please do not use Tensors created in "
    "inference mode in computation tracked by autograd. To work around this, you can make a clone "
    "to get a normal tensor and use it in autograd, or use `cr.no_grad()` instead of "
    "`cr.inference_mode()`.")
INPLACE_INFERENCE_TENSOR = (
    "Inplace update to inference tensor outside InferenceMode is not allowed. You can make a clone "
    "to get a normal tensor before doing inplace update. See https://github.com/pytorch/rfcs/pull/17 "
    "for more details.")


def check_inplace_on_inference():
    """Raise (``AutogradError``, a RuntimeError) outside ``inference_mode``: called before an
    in-place write to an inference tensor."""
    if not state.inference:
        raise AutogradError(INPLACE_INFERENCE_TENSOR)


class inference_mode(_Mode):
    """Context manager and decorator for inference: as :class:`no_grad` (ops record no graph),
    and the tensors made inside are *inference tensors* (``t.is_inference()``), as PyTorch's.

    Outside inference mode an inference tensor may be read by any op, but an op recording a graph
    cannot save it for backward, and it cannot be changed in place or set to require grad (each
    raises a RuntimeError; ``t.clone()`` gives a normal tensor).  Views of normal tensors made
    inside stay normal.  ``inference_mode(False)`` leaves the grad mode as it is.

    >>> x = cr.ones(2, requires_grad=True)
    >>> with cr.inference_mode():
    ...     y = x * 2
    >>> y.requires_grad, y.is_inference()
    (False, True)
    """

    def __init__(self, mode=True):
        super().__init__()
        self.inference = bool(mode)

    def __enter__(self):
        global inference_tensors_made, inference_active
        self._prev.append((state.enabled, state.inference))
        if self.inference:
            state.enabled, state.inference = False, True
            inference_tensors_made = True
        else:
            state.inference = False
        with _inference_lock:
            inference_active += 1
        return self

    def __exit__(self, *exc):
        global inference_active
        state.enabled, state.inference = self._prev.pop()
        with _inference_lock:
            inference_active -= 1
        return False


def is_inference_mode_enabled():
    """True inside ``cr.inference_mode()``."""
    return state.inference
