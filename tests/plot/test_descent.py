"""Pictures of descent: the quartic's step sizes and optimisers' paths on a two-basin surface."""
import sys

import numpy as np
import pytest

from chainrule.optim import SGD
from chainrule.plot.descent import (OPTIMIZERS, descend, optimizer_paths, quartic, step_sizes,
                                    two_basins)


def assert_png(path):
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 5000


def test_descend_records_sgd_iterates_and_stops_on_divergence():
    path = descend(lambda p: (p ** 2).sum(), [1.0], SGD, 3, lr=0.25)
    np.testing.assert_allclose(path[:, 0], [1.0, 0.5, 0.25, 0.125])
    wild = descend(lambda p: quartic(p).sum(), [2.0], SGD, 30, lr=0.2)
    assert len(wild) < 31 and abs(wild[-1, 0]) > 1e6


def test_quartic_step_sizes_tell_their_story():
    """Too small crawls, about right settles, too large zigzags, far too large diverges."""
    runs = {lr: descend(lambda p: quartic(p).sum(), [2.0], SGD, 30, lr=lr)[:, 0]
            for lr in (0.005, 0.05, 0.15, 0.2)}
    right_min = np.sort(np.roots([4.0, 0.0, -6.0, 1.0]).real)[-1]
    assert abs(runs[0.005][-1] - right_min) > 0.05                      # still on its way
    assert abs(runs[0.05][-1] - right_min) < 1e-3                       # settled
    tail = np.diff(runs[0.15][-6:])
    assert np.all(tail[:-1] * tail[1:] < 0) and np.abs(tail).min() > 0.1   # a 2-cycle
    assert abs(runs[0.2][-1]) > 1e6                                    # gone


def test_momentum_crosses_the_saddle_and_adaptive_methods_leave_it():
    f = lambda p: two_basins(p[0], p[1])          # noqa: E731
    (_, gd, gd_kw), (_, mom, mom_kw), _, (_, adam, adam_kw) = OPTIMIZERS
    assert descend(f, (2.0, 1.2), gd, 100, **gd_kw)[-1, 0] > 0.5        # the shallow basin
    assert descend(f, (2.0, 1.2), mom, 100, **mom_kw)[-1, 0] < -0.5     # over the saddle
    saddle = np.sort(np.roots([4.0, 0.0, -4.0, 0.3]).real)[1]
    start = (saddle + 1e-4, 1.5)
    assert abs(descend(f, start, gd, 20, **gd_kw)[-1, 0] - saddle) < 0.01   # lingers
    assert abs(descend(f, start, adam, 20, **adam_kw)[-1, 0] - saddle) > 0.5  # leaves


def test_step_sizes_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "sub" / "steps.png"
    assert step_sizes(out, steps=10) == out
    assert_png(out)
    step_sizes(tmp_path / "two.png", lrs=[0.01, (0.05, "fine")], steps=5)
    assert_png(tmp_path / "two.png")
    with pytest.raises(ValueError, match="at least one"):
        step_sizes(tmp_path / "none.png", lrs=[])


def test_optimizer_paths_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "paths.png"
    assert optimizer_paths(out, steps=20) == out
    assert_png(out)
    optimizer_paths(tmp_path / "bowl.png", f=lambda x, y: x ** 2 + 3 * y ** 2, steps=10,
                    optimizers=OPTIMIZERS[:2])
    assert_png(tmp_path / "bowl.png")


@pytest.mark.parametrize("draw", [step_sizes, optimizer_paths])
def test_without_matplotlib_the_error_says_what_to_install(draw, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match="pip install"):
        draw(tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()
