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


class set_grad_enabled(contextlib.ContextDecorator):
    """Turn graph recording on or off: a function call, a context manager and a decorator."""

    def __init__(self, mode):
        self.prev = state.enabled
        self.mode = bool(mode)
        state.enabled = self.mode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        state.enabled = self.prev
        return False


class no_grad(contextlib.ContextDecorator):
    """Context manager and decorator: ops inside record no graph (``with cr.no_grad(): ...``)."""

    def __enter__(self):
        self.prev = state.enabled
        state.enabled = False
        return self

    def __exit__(self, *exc):
        state.enabled = self.prev
        return False


class enable_grad(contextlib.ContextDecorator):
    """Context manager and decorator: ops inside record a graph even within ``no_grad``."""

    def __enter__(self):
        self.prev = state.enabled
        state.enabled = True
        return self

    def __exit__(self, *exc):
        state.enabled = self.prev
        return False
