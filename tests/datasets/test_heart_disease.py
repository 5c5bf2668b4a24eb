import hashlib
from importlib import resources

import numpy as np
import pytest

from chainrule.datasets import Bunch, load_heart_disease
from chainrule.datasets import heart_disease as hd

SHA256 = "a74b7efa387bc9d108d7d0115d831fe9b414b29ae7124f331b622b4efa0427c8"
NAMES = ["age", "sex", "cp", "trestbps", "chol", "fbs", "restecg", "thalach", "exang", "oldpeak",
         "slope", "ca", "thal"]
NUMERIC = {"age", "trestbps", "chol", "thalach", "oldpeak"}


def _shipped(name):
    return resources.files("chainrule.datasets").joinpath("files", "heart-disease", name)


def test_shipped_file_has_the_published_sha256():
    raw = _shipped("processed.cleveland.data").read_bytes()
    assert hashlib.sha256(raw).hexdigest() == SHA256
    assert hd.SHA256 == SHA256


def test_readme_with_attribution_ships_with_the_data():
    text = _shipped("README.md").read_text()
    assert "CC BY 4.0" in text and "Detrano" in text and SHA256 in text


def test_shapes_dtypes_and_missing_values():
    ds = load_heart_disease()
    assert ds.data.shape == (303, 13) and ds.data.dtype == np.float64
    assert ds.target.shape == (303,) and ds.target.dtype == np.int64
    missing = np.isnan(ds.data).sum(axis=0)
    assert missing.sum() == 6
    assert missing[NAMES.index("ca")] == 4 and missing[NAMES.index("thal")] == 2


def test_target_is_binary_num_greater_than_zero():
    ds = load_heart_disease()
    assert set(np.unique(ds.target)) == {0, 1}
    assert int((ds.target == 1).sum()) == 139 and int((ds.target == 0).sum()) == 164
    assert ds.target_names == ["absent", "present"]


def test_first_row_is_the_first_line_of_the_file():
    ds = load_heart_disease()
    np.testing.assert_array_equal(
        ds.data[0], [63, 1, 1, 145, 233, 1, 2, 150, 0, 2.3, 3, 0, 6])
    assert ds.target[0] == 0 and ds.target[1] == 1  # num = 0 and num = 2


def test_feature_names_kinds_and_categories():
    ds = load_heart_disease()
    assert ds.feature_names == NAMES
    assert ds.feature_kinds == ["numeric" if n in NUMERIC else "categorical" for n in NAMES]
    assert ds.categories == {"sex": [0, 1], "cp": [1, 2, 3, 4], "fbs": [0, 1],
                             "restecg": [0, 1, 2], "exang": [0, 1], "slope": [1, 2, 3],
                             "ca": [0, 1, 2, 3], "thal": [3, 6, 7]}
    for name, levels in ds.categories.items():
        col = ds.data[:, NAMES.index(name)]
        assert set(col[~np.isnan(col)]) == set(map(float, levels))


def test_descr_is_the_readme():
    ds = load_heart_disease()
    assert ds.DESCR == _shipped("README.md").read_text()


def test_return_X_y():
    X, y = load_heart_disease(return_X_y=True)
    ds = load_heart_disease()
    np.testing.assert_array_equal(X, ds.data)
    np.testing.assert_array_equal(y, ds.target)


def test_each_call_returns_fresh_arrays():
    a = load_heart_disease()
    a.data[:] = 0
    a.feature_names.append("x")
    a.categories["cp"].append(9)
    b = load_heart_disease()
    assert b.data[0, 0] == 63 and len(b.feature_names) == 13 and b.categories["cp"] == [1, 2, 3, 4]


def test_bunch_keys_are_attributes():
    ds = load_heart_disease()
    assert isinstance(ds, Bunch) and ds["data"] is ds.data
    assert {"data", "target", "feature_names", "feature_kinds", "categories", "target_names",
            "DESCR"} <= set(ds)
    b = Bunch(a=1)
    b.c = 3
    assert b["c"] == 3 and "a" in dir(b)
    with pytest.raises(AttributeError, match=r"no attribute 'missing'.*\['a', 'c'\]"):
        b.missing


def test_damaged_file_is_refused(monkeypatch):
    real = hd._read
    monkeypatch.setattr(hd, "_read", lambda name: real(name).replace(b"63.0", b"64.0", 1)
                        if name.endswith(".data") else real(name))
    with pytest.raises(ValueError, match="damaged.*expected " + SHA256 + ".*reinstall"):
        load_heart_disease()
