import sys

import pytest

import chainrule as cr


def test_history_png(tmp_path):
    pytest.importorskip("matplotlib")
    path = cr.plot.history({"loss": [1.0, 0.5, 0.3], "val_loss": [1.1, 0.7, 0.6],
                            "accuracy": [0.5, 0.7, 0.8]}, tmp_path / "h.png")
    data = (tmp_path / "h.png").read_bytes()
    assert str(path).endswith("h.png") and data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 1000


def test_history_accepts_object_with_history_attribute(tmp_path):
    pytest.importorskip("matplotlib")

    class H:
        history = {"loss": [2.0, 1.0]}
    cr.plot.history(H(), tmp_path / "h.png")
    assert (tmp_path / "h.png").stat().st_size > 0


def test_history_without_matplotlib_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if it were not installed
    with pytest.raises(ImportError, match="pip install 'chainrule\\[plot\\]'"):
        cr.plot.history({"loss": [1.0]}, tmp_path / "h.png")
    assert not (tmp_path / "h.png").exists()


def test_history_rejects_empty(tmp_path):
    pytest.importorskip("matplotlib")
    with pytest.raises(ValueError, match="non-empty"):
        cr.plot.history({}, tmp_path / "h.png")
