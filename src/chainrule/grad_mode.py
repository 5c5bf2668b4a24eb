"""Grad mode: whether ops record the graph that backward walks.

This thread-local switch (and the anomaly switch beside it) is the only mutable global state of the
engine, as in PyTorch: ``no_grad`` turns recording off for evaluation and for optimiser updates.
"""
import contextlib
import threading


class _State(threading.local):
    enabled = True
    anomaly = False


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
