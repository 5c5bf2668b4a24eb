"""load_digits: the shipped file, its attribution, scikit-learn's convention and values."""
import hashlib
from importlib import resources

import numpy as np
import pytest

from chainrule.datasets import Bunch
from chainrule.datasets import digits as dg
from chainrule.errors import ConfigError

load_digits = dg.load_digits
SHA256 = "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22"


def _shipped(name):
    return resources.files("chainrule.datasets").joinpath("files", "digits", name)


def test_shipped_file_has_the_published_sha256_and_attribution():
    assert hashlib.sha256(_shipped("digits.csv.gz").read_bytes()).hexdigest() == SHA256
    assert dg.SHA256 == SHA256
    text = _shipped("README.md").read_text()
    assert "CC BY 4.0" in text and "Alpaydin" in text and SHA256 in text
    assert load_digits().DESCR == text


def test_shapes_dtypes_and_ranges():
    d = load_digits()
    assert isinstance(d, Bunch)
    assert d.data.shape == (1797, 64) and d.data.dtype == np.float64
    assert d.images.shape == (1797, 8, 8)
    np.testing.assert_array_equal(d.images.reshape(1797, 64), d.data)
    assert d.target.shape == (1797,) and d.target.dtype == np.int64
    assert d.data.min() == 0 and d.data.max() == 16 and (d.data == d.data.round()).all()
    counts = np.bincount(d.target)
    assert len(counts) == 10 and counts.min() == 174 and counts.max() == 183
    np.testing.assert_array_equal(d.target[:10], np.arange(10))
    np.testing.assert_array_equal(d.target_names, np.arange(10))
    assert d.feature_names[0] == "pixel_0_0" and d.feature_names[-1] == "pixel_7_7"
    assert d.frame is None and len(d.feature_names) == 64


def test_first_image_is_a_zero():
    img = load_digits().images[0]
    assert img[0].tolist() == [0, 0, 5, 13, 9, 1, 0, 0]
    assert img[:, 0].sum() == 0 and img[3:5, 3:5].sum() == 0       # a hole in the middle


def test_return_X_y_n_class_and_fresh_arrays():
    X, y = load_digits(return_X_y=True)
    assert X.shape == (1797, 64) and y.shape == (1797,)
    X[0, 0] = 99
    assert load_digits().data[0, 0] == 0
    X5, y5 = load_digits(n_class=5, return_X_y=True)
    assert set(np.unique(y5)) == {0, 1, 2, 3, 4} and len(y5) == (y < 5).sum()
    with pytest.raises(ConfigError, match="n_class"):
        load_digits(n_class=11)


def test_damaged_file_is_refused(monkeypatch):
    monkeypatch.setattr(dg, "_read", lambda name: b"garbage")
    with pytest.raises(ValueError, match="damaged"):
        load_digits()


def test_same_as_scikit_learn():
    datasets = pytest.importorskip("sklearn.datasets")
    ours, theirs = load_digits(), datasets.load_digits()
    np.testing.assert_array_equal(ours.data, theirs.data)
    np.testing.assert_array_equal(ours.target, theirs.target)
    np.testing.assert_array_equal(ours.images, theirs.images)
    assert ours.feature_names == theirs.feature_names
    np.testing.assert_array_equal(ours.target_names, theirs.target_names)
