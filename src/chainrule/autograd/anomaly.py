"""Anomaly detection: find the op whose backward produced a NaN or inf."""
import contextlib

from chainrule.grad_mode import state


class detect_anomaly(contextlib.ContextDecorator):
    """Context manager and decorator: while it is active, each node remembers where its forward
    was called, and backward raises as soon as an op's vector-Jacobian product is not finite,
    naming that op and showing the forward call (as ``torch.autograd.detect_anomaly``).

    >>> with cr.autograd.detect_anomaly():
    ...     x = cr.tensor([0.0, 1.0], requires_grad=True)
    ...     loss = cr.sqrt(x).sum()          # d√x/dx = 1 / (2√x) is infinite at 0
    ...     try:
    ...         loss.backward()
    ...     except RuntimeError as e:
    ...         print(str(e).splitlines()[0])
    anomaly detected: function SqrtBackward returned a NaN or inf gradient for its input 0
    """

    def __init__(self, check_nan=True):
        self.check_nan = check_nan
        self._prev = []   # a stack, so one instance may be re-entered (recursive decorated calls)

    def __enter__(self):
        self._prev.append(state.anomaly)
        state.anomaly = self.check_nan
        return self

    def __exit__(self, *exc):
        state.anomaly = self._prev.pop()
        return False


class set_detect_anomaly(detect_anomaly):
    """Turn anomaly detection on or off: a call (effective at once) or a context manager."""

    def __init__(self, mode, check_nan=True):
        super().__init__(check_nan and bool(mode))
        self._prev.append(state.anomaly)
        state.anomaly = self.check_nan

    def __enter__(self):
        return self


def is_anomaly_enabled():
    """True while anomaly detection is on."""
    return state.anomaly
