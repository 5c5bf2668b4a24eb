"""Keras-style progress display: a bar updated in place on a terminal, one line per epoch elsewhere.

``verbose=1`` on a terminal redraws one line as batches finish::

    7/7 ━━━━━━━━━━━━━━━━━━━━ 0s 3ms/step - accuracy: 0.8125 - loss: 0.4312

(the count bold and the done part of the bar green, with ANSI codes, as Keras).  When standard
output is not a terminal (a log file, a notebook capture, CI) the bar is drawn once, finished.
``verbose=2`` prints one plain line per epoch::

    7/7 - 0s - 3ms/step - accuracy: 0.8125 - loss: 0.4312 - val_accuracy: 0.79 - val_loss: 0.45

``verbose="auto"`` means 1 on a terminal and 2 otherwise.  Values above 1e-3 print with four
decimals, smaller ones in scientific notation, as Keras.

Example::

    >>> bar = Progbar(target=7)
    >>> for step in range(1, 8):
    ...     bar.update(step, [("loss", 0.5)])
    7/7 ━━━━━━━━━━━━━━━━━━━━ ...step - loss: 0.5000
"""
import math
import re
import sys
import time

from chainrule.errors import ConfigError

BAR_WIDTH = 20
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def stdout_is_tty():
    """Whether standard output is an interactive terminal (read at call time, so tests can patch).

    Example: ``stdout_is_tty()`` is False under ``pytest`` or with output piped to a file.
    """
    isatty = getattr(sys.stdout, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:       # a closed stream
        return False


def resolve_verbose(verbose):
    """``"auto"`` → 1 on a terminal, else 2; 0, 1 and 2 as given; anything else a ValueError.

    Example: ``resolve_verbose("auto")`` is 2 in a log file.
    """
    if verbose == "auto":
        return 1 if stdout_is_tty() else 2
    if isinstance(verbose, bool) or verbose not in (0, 1, 2):
        raise ConfigError(f"verbose must be 0, 1, 2 or 'auto', got {verbose!r}")
    return int(verbose)


def format_value(value):
    """A metric value as Keras prints it: four decimals, or scientific when |value| ≤ 1e-3.

    Example: ``format_value(0.43125)`` is ``"0.4313"``; ``format_value(1e-4)`` is ``"1.0000e-04"``.
    """
    try:
        value = float(value)
    except (TypeError, ValueError):
        return f"{value}"
    return f"{value:.4f}" if abs(value) > 1e-3 else f"{value:.4e}"


def format_time_per_step(seconds, unit="step"):
    """The time per step in s, ms or µs (written "us"), as Keras.

    Example: ``format_time_per_step(0.0032)`` is ``" 3ms/step"``.
    """
    if seconds >= 1 or seconds == 0:
        return f" {seconds:.0f}s/{unit}"
    if seconds >= 1e-3:
        return f" {seconds * 1e3:.0f}ms/{unit}"
    return f" {seconds * 1e6:.0f}us/{unit}"


def format_eta(seconds):
    """Remaining time as Keras shows it. Example: ``format_eta(65)`` is ``"1:05"``."""
    if seconds > 3600:
        return "%d:%02d:%02d" % (seconds // 3600, (seconds % 3600) // 60, seconds % 60)
    if seconds > 60:
        return "%d:%02d" % (seconds // 60, seconds % 60)
    return "%ds" % seconds


class Progbar:
    """A progress bar over *target* steps showing the latest value of each metric.

    Args:
        target: the number of steps (None when unknown).
        verbose: 1 for the bar, 2 for one final line, 0 for nothing.
        interval: the least number of seconds between two redraws (the last one is always drawn).
        unit_name: what a step is called in the time-per-step field.
        dynamic: redraw in place (default: whether stdout is a terminal).

    Example::

        >>> bar = Progbar(target=3, verbose=2)
        >>> for i in (1, 2, 3):
        ...     bar.update(i, [("loss", 1.0 / i)])
        3/3 - 0s - ...step - loss: 0.3333
    """

    def __init__(self, target, verbose=1, interval=0.05, unit_name="step", dynamic=None):
        self.target = target
        self.verbose = verbose
        self.interval = interval
        self.unit_name = unit_name
        self.dynamic = stdout_is_tty() if dynamic is None else dynamic
        self._values = {}
        self._start = time.time()
        self._last_update = 0.0
        self._time_after_first_step = None
        self._prev_width = 0

    def update(self, current, values=None, finalize=None):
        """Record that *current* steps are done, with *values* as (name, value) pairs; redraw."""
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        for k, v in values or ():
            self._values[k] = v
        now = time.time()
        per_step = self._time_per_step(current, now)
        if self.verbose == 1 and (finalize or (self.dynamic and now - self._last_update
                                               >= self.interval)):
            self._draw_bar(current, now, per_step, finalize)
            self._last_update = now
        elif self.verbose == 2 and finalize:
            count = f"{current:{self._digits()}d}/{self.target}" if self.target else f"{current}"
            rate = format_time_per_step(per_step, self.unit_name)
            _write(f"{count} - {now - self._start:.0f}s -{rate}{self._metrics()}\n")

    def _digits(self):
        return int(math.log10(self.target)) + 1 if self.target else 1

    def _metrics(self):
        return "".join(f" - {k}: {format_value(v)}" for k, v in self._values.items())

    def _draw_bar(self, current, now, per_step, finalize):
        style = _ansi if self.dynamic else _plain
        if self.target:
            done = int(BAR_WIDTH * current / self.target)
            head = (style(f"{current:{self._digits()}d}/{self.target}", "1") + " "
                    + (style("━" * done, "32") if done else "")
                    + style("━" * (BAR_WIDTH - done), "37"))
            when = (f"{now - self._start:.0f}s" if finalize
                    else format_eta(per_step * (self.target - current)))
        else:
            head, when = "%7d/Unknown" % current, f"{now - self._start:.0f}s"
        line = head + " " + style(when, "1") + format_time_per_step(per_step, self.unit_name) \
            + self._metrics()
        width = len(_strip_ansi(line))
        if self.dynamic:
            line = "\r" + line + " " * max(self._prev_width - width, 0)
        self._prev_width = width
        _write(line + ("\n" if finalize else ""))

    def _time_per_step(self, current, now):
        """Seconds per step, leaving out the first step (which often includes set-up) once known."""
        if not current:
            return 0.0
        if self._time_after_first_step is not None and current > 1:
            per_step = (now - self._time_after_first_step) / (current - 1)
        else:
            per_step = (now - self._start) / current
        if current == 1:
            self._time_after_first_step = now
        return per_step


def _ansi(text, code):
    return f"\x1b[{code}m{text}\x1b[0m"


def _plain(text, code):
    return text


def _strip_ansi(text):
    return ANSI.sub("", text)


def _write(text):
    sys.stdout.write(text)
    sys.stdout.flush()
