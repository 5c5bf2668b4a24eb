"""The loss landscape along two random filter-normalised directions (Li et al., 2018)."""
import sys

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.plot.landscape import filter_normalized_direction, landscape_grid, loss_landscape


def _model_and_loss():
    cr.manual_seed(0)
    rng = np.random.default_rng(0)
    X = cr.tensor(rng.standard_normal((40, 3)), dtype=cr.float32)
    y = cr.tensor((rng.standard_normal((40, 1)) > 0).astype(np.float32))
    model = nn.Sequential(nn.Linear(3, 5), nn.ReLU(), nn.Linear(5, 1))
    bce = nn.BCEWithLogitsLoss()
    return model, (lambda: bce(model(X), y))


def test_directions_are_filter_normalised():
    model, _ = _model_and_loss()
    params = list(model.parameters())
    d = filter_normalized_direction(params, cr.Generator().manual_seed(0))
    for p, a in zip(params, d):
        assert a.shape == p._data.shape
        if p._data.ndim == 1:
            assert not a.any()                      # biases get no component
        else:
            np.testing.assert_allclose(np.linalg.norm(a, axis=1),
                                       np.linalg.norm(p._data, axis=1), rtol=1e-6)
    d = filter_normalized_direction(params, cr.Generator().manual_seed(0), ignore_bias=False)
    np.testing.assert_allclose(np.linalg.norm(d[1]), np.linalg.norm(params[1]._data), rtol=1e-6)


def test_grid_centre_is_the_trained_loss_and_weights_are_restored():
    model, loss = _model_and_loss()
    before = [p._data.copy() for p in model.parameters()]
    centre = loss().item()
    model.train()
    a, b, L = landscape_grid(model, loss, steps=5, span=0.5,
                             generator=cr.Generator().manual_seed(1))
    assert L.shape == (5, 5) and a[2] == 0 and b[2] == 0
    assert L[2, 2] == pytest.approx(centre, rel=1e-6)
    assert np.all(np.isfinite(L)) and L.max() > centre
    for p, s in zip(model.parameters(), before):
        np.testing.assert_array_equal(p._data, s)
    assert model.training


def test_given_directions_and_bad_arguments():
    model, loss = _model_and_loss()
    params = list(model.parameters())
    zero = [np.zeros(p._data.shape) for p in params]
    _, _, L = landscape_grid(model, loss, steps=3, directions=(zero, zero))
    np.testing.assert_allclose(L, L[0, 0])
    with pytest.raises(ValueError, match="one array per parameter"):
        landscape_grid(model, loss, steps=3, directions=(zero[:1], zero))
    with pytest.raises(ValueError, match="steps"):
        landscape_grid(model, loss, steps=1)
    with pytest.raises(ValueError, match="span"):
        landscape_grid(model, loss, span=0)


def test_loss_landscape_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    model, loss = _model_and_loss()
    out = tmp_path / "landscape.png"
    assert loss_landscape(model, loss, out, steps=6, generator=cr.Generator().manual_seed(0)) \
        == out
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    loss_landscape(model, loss, tmp_path / "log.png", steps=4, log_scale=True, title="t")
    assert (tmp_path / "log.png").stat().st_size > 5000


def test_without_matplotlib_the_error_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    model, loss = _model_and_loss()
    with pytest.raises(ImportError, match="pip install"):
        loss_landscape(model, loss, tmp_path / "x.png", steps=3)
