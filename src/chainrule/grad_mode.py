"""Grad mode: whether ops record the graph that backward walks.

This thread-local switch (and the anomaly switch beside it) is the only mutable global state of the
engine, as in PyTorch: ``no_grad`` turns recording off for evaluation and for optimiser updates.
"""
import contextlib
import threading


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


class inference_mode(_Mode):
    """Context manager and decorator for inference: as :class:`no_grad` (ops record no graph),
    ``inference_mode(False)`` leaves the grad mode as it is.

    PyTorch also marks the tensors made inside as "inference tensors" that refuse to be saved for a
    later backward; chainrule's tensors carry no such mark, so they can be used in autograd later
    as tensors made under ``no_grad`` can (``x.clone()`` is not needed, and no error is raised).

    >>> x = cr.ones(2, requires_grad=True)
    >>> with cr.inference_mode():
    ...     y = x * 2
    >>> y.requires_grad
    False
    """

    def __init__(self, mode=True):
        super().__init__()
        self.inference = bool(mode)

    def __enter__(self):
        self._prev.append((state.enabled, state.inference))
        if self.inference:
            state.enabled, state.inference = False, True
        else:
            state.inference = False
        return self

    def __exit__(self, *exc):
        state.enabled, state.inference = self._prev.pop()
        return False


def is_inference_mode_enabled():
    """True inside ``cr.inference_mode()``."""
    return state.inference
