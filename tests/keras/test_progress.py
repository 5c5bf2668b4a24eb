"""Progress output of fit / evaluate / predict for verbose 0, 1 (terminal or not), 2 and "auto"."""
import re
import sys

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.keras import progress
from chainrule.keras.training import Trainer

ANSI = re.compile(r"\x1b\[[0-9;]*m")
RATE = r"\d+(s|ms|us)/step"
NUM = r"\d\.\d{4}"


class Net(nn.Module, Trainer):
    """A test stand-in for cr.Model."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(3, 1), nn.Sigmoid())

    def forward(self, x):
        return self.body(x)


@pytest.fixture
def fitted():
    cr.manual_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 3))
    y = (x[:, 0] > 0).astype(float)
    model = Net()
    model.compile("sgd", "binary_crossentropy", ["accuracy"])
    return model, x, y


@pytest.fixture
def tty(capsys, monkeypatch):
    """Standard output claims to be a terminal (capsys swaps the stream in later: patch its class)."""
    monkeypatch.setattr(type(sys.stdout), "isatty", lambda self: True)


def test_verbose_0_prints_nothing(fitted, capsys):
    model, x, y = fitted
    model.fit(x, y, epochs=2, validation_split=0.2, verbose=0)
    model.evaluate(x, y, verbose=0)
    model.predict(x, verbose=0)
    assert capsys.readouterr().out == ""


def test_verbose_2_prints_one_line_per_epoch(fitted, capsys):
    model, x, y = fitted
    h = model.fit(x, y, batch_size=8, epochs=3, validation_split=0.2, verbose=2)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0::2] == ["Epoch 1/3", "Epoch 2/3", "Epoch 3/3"]
    for epoch, line in enumerate(lines[1::2]):
        assert re.fullmatch(rf"5/5 - \d+s - {RATE} - accuracy: {NUM} - loss: {NUM} - "
                            rf"val_accuracy: {NUM} - val_loss: {NUM}", line), line
        assert f"- loss: {h.history['loss'][epoch]:.4f} -" in line
        assert line.endswith(f"val_loss: {h.history['val_loss'][epoch]:.4f}")


def test_verbose_1_off_a_terminal_draws_the_finished_bar_once(fitted, capsys):
    model, x, y = fitted
    model.fit(x, y, batch_size=10, epochs=2, verbose=1)
    out = capsys.readouterr().out
    assert "\r" not in out and not ANSI.search(out)
    lines = out.splitlines()
    assert lines[0::2] == ["Epoch 1/2", "Epoch 2/2"]
    for line in lines[1::2]:
        assert re.fullmatch(rf"5/5 ━{{20}} \d+s {RATE} - accuracy: {NUM} - loss: {NUM}", line)


def test_verbose_1_on_a_terminal_redraws_a_coloured_bar(fitted, capsys, tty):
    model, x, y = fitted
    model.fit(x, y, batch_size=10, epochs=1, verbose=1)
    out = capsys.readouterr().out
    assert "Epoch" not in out                            # one epoch: no "Epoch 1/1"
    frames = out.split("\r")[1:]
    assert len(frames) >= 2 and out.endswith("\n")      # redrawn in place, then a newline
    plain = [ANSI.sub("", f).rstrip() for f in frames]
    assert plain[0].startswith("1/5 ━━━━━━━━━━━━━━━━━━━━ ")
    assert re.fullmatch(rf"5/5 ━{{20}} \d+s {RATE} - accuracy: {NUM} - loss: {NUM}", plain[-1])
    assert "\x1b[32m" in frames[-1]                        # the done part is green
    assert re.search(r" \d+s ", plain[0])                  # an ETA while running


def test_the_terminal_bar_is_throttled(capsys, tty):
    bar = progress.Progbar(target=100, interval=3600)
    for step in range(1, 101):
        bar.update(step, [("loss", 1.0)])
    assert capsys.readouterr().out.count("\r") == 2         # the first frame and the last
    bar = progress.Progbar(target=5, interval=0.0)
    for step in range(1, 6):
        bar.update(step, [("loss", 1.0 / step)])
    frames = [ANSI.sub("", f) for f in capsys.readouterr().out.split("\r")[1:]]
    assert [f[:3] for f in frames] == ["1/5", "2/5", "3/5", "4/5", "5/5"]
    assert frames[1].rstrip().endswith("loss: 0.5000") and frames[-1].endswith("\n")


def test_auto_is_2_off_a_terminal(fitted, capsys):
    model, x, y = fitted
    assert progress.resolve_verbose("auto") == 2
    model.fit(x, y, epochs=2, verbose="auto")
    assert re.search(rf"2/2 - \d+s - {RATE}", capsys.readouterr().out)


def test_auto_is_1_on_a_terminal(fitted, capsys, tty):
    model, x, y = fitted
    assert progress.resolve_verbose("auto") == 1
    model.fit(x, y, epochs=2)
    assert "━" in capsys.readouterr().out


def test_evaluate_and_predict_progress(fitted, capsys):
    model, x, y = fitted
    loss, acc = model.evaluate(x, y, batch_size=25, verbose=2)
    out = capsys.readouterr().out
    assert re.fullmatch(rf"2/2 - \d+s - {RATE} - accuracy: {acc:.4f} - loss: {loss:.4f}\n", out)
    model.predict(x, batch_size=10, verbose=2)
    assert re.fullmatch(rf"5/5 - \d+s - {RATE}\n", capsys.readouterr().out)
    model.predict(x, batch_size=10, verbose=1)
    assert re.fullmatch(rf"5/5 ━{{20}} \d+s {RATE}\n", capsys.readouterr().out)


def test_formatting_helpers():
    assert progress.format_value(0.43125) == "0.4313"
    assert progress.format_value(0.001) == "1.0000e-03"
    assert progress.format_value(-2.5) == "-2.5000"
    assert progress.format_time_per_step(0.0032) == " 3ms/step"
    assert progress.format_time_per_step(2.4) == " 2s/step"
    assert progress.format_time_per_step(5e-5) == " 50us/step"
    assert progress.format_eta(75) == "1:15" and progress.format_eta(3725) == "1:02:05"
    assert progress.format_eta(12.7) == "12s"


def test_bad_verbose(fitted):
    model, x, y = fitted
    with pytest.raises(ValueError, match="verbose must be 0, 1, 2 or 'auto'"):
        model.fit(x, y, verbose=3)
