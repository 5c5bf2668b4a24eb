import json
import math
import warnings

import numpy as np
import pytest

from chainrule.datasets import load_heart_disease
from chainrule.preprocessing import TabularPreprocessor

HEART_OUT = ["age", "sex=0", "sex=1", "cp=1", "cp=2", "cp=3", "cp=4", "trestbps", "chol",
             "fbs=0", "fbs=1", "restecg=0", "restecg=1", "restecg=2", "thalach", "exang=0",
             "exang=1", "oldpeak", "slope=1", "slope=2", "slope=3", "ca=0", "ca=1", "ca=2", "ca=3",
             "thal=3", "thal=6", "thal=7"]


@pytest.fixture(scope="module")
def heart():
    return load_heart_disease()


def heart_pre(ds, **kw):
    return TabularPreprocessor(ds.feature_names, ds.feature_kinds, categories=ds.categories, **kw)


def small(**kw):
    return TabularPreprocessor(["x", "c"], ["numeric", "categorical"], **kw)


# ---- the heart data ---------------------------------------------------------------------------
def test_heart_gives_28_named_columns(heart):
    pre = heart_pre(heart)
    Z = pre.fit_transform(heart.data)
    assert Z.shape == (303, 28) and Z.dtype == np.float64
    assert pre.n_features_out_ == 28 and pre.n_features_in_ == 13
    assert pre.get_feature_names_out() == HEART_OUT
    assert not np.isnan(Z).any()


def test_numeric_columns_are_standardised_with_population_std(heart):
    pre = heart_pre(heart)
    Z = pre.fit_transform(heart.data)
    for j, name in enumerate(heart.feature_names):
        if heart.feature_kinds[j] == "numeric":
            col = heart.data[:, j]
            out = Z[:, HEART_OUT.index(name)]
            np.testing.assert_allclose(out, (col - col.mean()) / col.std(ddof=0), rtol=1e-12)
            assert pre.mean_[name] == pytest.approx(col.mean())
            assert pre.scale_[name] == pytest.approx(col.std())


def test_indicators_are_one_hot_and_missing_gets_the_mode(heart):
    pre = heart_pre(heart)
    Z = pre.fit_transform(heart.data)
    for name, levels in heart.categories.items():
        cols = [HEART_OUT.index(f"{name}={v}") for v in levels]
        np.testing.assert_array_equal(Z[:, cols].sum(axis=1), 1.0)
    ca = heart.data[:, heart.feature_names.index("ca")]
    assert pre.mode_["ca"] == 0.0  # the most frequent number of vessels
    missing = np.flatnonzero(np.isnan(ca))
    assert Z[missing, HEART_OUT.index("ca=0")].tolist() == [1.0] * 4


def test_statistics_come_from_the_training_rows_only(heart):
    train, test = heart.data[:200], heart.data[200:]
    pre = heart_pre(heart).fit(train)
    age = heart.feature_names.index("age")
    expected = (test[:, age] - train[:, age].mean()) / train[:, age].std()
    np.testing.assert_allclose(pre.transform(test)[:, 0], expected, rtol=1e-12)


# ---- numeric columns --------------------------------------------------------------------------
def test_numeric_missing_is_imputed_with_the_mean_then_scaled():
    X = np.array([[1.0, 0], [3.0, 0], [np.nan, 1], [8.0, 1]])
    pre = small().fit(X)
    filled = np.array([1.0, 3.0, 4.0, 8.0])  # the NaN becomes the mean of 1, 3, 8
    assert pre.mean_["x"] == 4.0
    assert pre.scale_["x"] == pytest.approx(filled.std(ddof=0))  # std after imputing, as a pipeline
    np.testing.assert_allclose(pre.transform(X)[:, 0], (filled - 4.0) / filled.std())
    assert pre.transform(np.array([[np.nan, 0]]))[0, 0] == 0.0


def test_constant_column_is_centred_not_divided():
    X = np.array([[0.1, 0], [0.1, 1], [0.1, 1]])
    pre = small()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Z = pre.fit_transform(X)
    assert pre.scale_["x"] == 1.0
    np.testing.assert_allclose(Z[:, 0], 0.0, atol=1e-12)  # the mean of 0.1s is 0.1 up to rounding
    assert pre.transform(np.array([[2.1, 0]]))[0, 0] == pytest.approx(2.0)


def test_infinite_numeric_value_names_row_and_column():
    pre = small().fit(np.array([[1.0, 0], [2.0, 1]]))
    with pytest.raises(ValueError, match=r"row 1, column 'x': value inf is not finite"):
        pre.transform(np.array([[1.0, 0], [np.inf, 1]]))
    with pytest.raises(ValueError, match=r"row 0, column 'x': value -inf"):
        small().fit(np.array([[-np.inf, 0], [2.0, 1]]))


def test_column_without_observed_values_cannot_be_fitted():
    with pytest.raises(ValueError, match=r"column 'x' has no observed values in the 2 training rows"):
        small().fit(np.array([[np.nan, 0], [np.nan, 1]]))


# ---- categorical columns ----------------------------------------------------------------------
def test_levels_default_to_sorted_training_values():
    pre = small().fit(np.array([[0.0, 7], [1.0, 3], [2.0, 7], [3.0, 0.5]]))
    assert pre.categories_["c"] == [0.5, 3.0, 7.0]
    assert pre.get_feature_names_out() == ["x", "c=0.5", "c=3", "c=7"]
    assert pre.mode_["c"] == 7.0


def test_mode_ties_go_to_the_smallest_level():
    pre = small().fit(np.array([[0.0, 5], [1.0, 2], [2.0, 5], [3.0, 2], [4.0, np.nan]]))
    assert pre.mode_["c"] == 2.0
    np.testing.assert_array_equal(pre.transform(np.array([[0.0, np.nan]]))[0, 1:], [1.0, 0.0])


def test_given_categories_fix_the_columns_even_when_unseen():
    pre = small(categories={"c": [3, 1, 2]}).fit(np.array([[0.0, 1], [1.0, 1]]))
    assert pre.get_feature_names_out() == ["x", "c=3", "c=1", "c=2"]
    np.testing.assert_array_equal(pre.transform(np.array([[0.0, 2]]))[0, 1:], [0, 0, 1])


def test_unknown_category_at_transform_names_row_column_value_and_known():
    pre = small().fit(np.array([[0.0, 1], [1.0, 2]]))
    with pytest.raises(ValueError) as e:
        pre.transform(np.array([[0.0, 1], [0.0, 2], [0.0, 5]]))
    msg = str(e.value)
    assert "row 2" in msg and "column 'c'" in msg and "unknown category 5" in msg
    assert "known categories are ['1', '2']" in msg and "handle_unknown='ignore'" in msg


def test_unknown_category_at_fit_with_given_categories():
    pre = small(categories={"c": [0, 1]})
    with pytest.raises(ValueError, match=r"row 1, column 'c': unknown category 2.5; known "
                                         r"categories are \['0', '1'\]"):
        pre.fit(np.array([[0.0, 1], [1.0, 2.5]]))


def test_handle_unknown_ignore_gives_all_zero_indicators():
    pre = small(categories={"c": [0, 1]}, handle_unknown="ignore")
    pre.fit(np.array([[0.0, 1], [1.0, 9], [2.0, 1]]))
    assert pre.mode_["c"] == 1.0
    Z = pre.transform(np.array([[0.0, 9], [0.0, 0]]))
    np.testing.assert_array_equal(Z[:, 1:], [[0, 0], [1, 0]])


# ---- input forms ------------------------------------------------------------------------------
def test_rows_as_dicts_match_the_array(heart):
    pre = heart_pre(heart).fit(heart.data)
    rows = []
    for r in heart.data[:5]:
        rows.append({n: (None if np.isnan(v) else v) for n, v in zip(heart.feature_names, r)})
    rows[0]["age"] = "63"        # numeric string
    rows[1]["ca"] = "?"          # missing marks
    rows[2]["thal"] = ""
    rows[3]["chol"] = None
    expected = heart.data[:5].copy()
    expected[1, 11] = expected[2, 12] = expected[3, 4] = np.nan
    np.testing.assert_array_equal(pre.transform(rows), pre.transform(expected))


def test_string_table_with_missing_marks_is_read():
    pre = small().fit(np.array([[1.0, 0], [3.0, 1]]))
    got = pre.transform([["1", "?"], [None, " 1 "]])
    np.testing.assert_array_equal(got, pre.transform(np.array([[1.0, np.nan], [np.nan, 1]])))


def test_dict_row_errors():
    pre = small().fit(np.array([[1.0, 0], [3.0, 1]]))
    with pytest.raises(ValueError, match=r"row 1 has no value for column 'c'; give None"):
        pre.transform([{"x": 1, "c": 0}, {"x": 2}])
    with pytest.raises(ValueError, match=r"row 0 has unknown column\(s\) \['cc'\]; expected the "
                                         r"columns \['x', 'c'\]"):
        pre.transform([{"x": 1, "c": 0, "cc": 1}])
    with pytest.raises(ValueError, match=r"row 0, column 'x': cannot read 'abc' as a number"):
        pre.transform([{"x": "abc", "c": 0}])
    with pytest.raises(TypeError, match=r"row 0, column 'x': expected a number.*got list"):
        pre.transform([{"x": [1], "c": 0}])
    with pytest.raises(TypeError, match=r"row 1 is a list; when rows are given as dicts"):
        pre.transform([{"x": 1, "c": 0}, [1, 0]])
    with pytest.raises(TypeError, match=r"got one dict; pass the rows as a list of dicts"):
        pre.transform({"x": 1, "c": 0})


def test_wrong_number_of_columns_names_expected_and_given(heart):
    pre = heart_pre(heart).fit(heart.data)
    with pytest.raises(ValueError, match=r"transform: expected 13 columns \(age, sex, .*thal\), got 12"):
        pre.transform(heart.data[:, :12])
    with pytest.raises(ValueError, match=r"fit: expected 13 columns .* got 14"):
        heart_pre(heart).fit(np.zeros((3, 14)))


def test_one_dimensional_input_is_refused():
    pre = small().fit(np.array([[1.0, 0], [3.0, 1]]))
    with pytest.raises(ValueError, match=r"expected a 2-D array of shape \(n_rows, 2\), got shape "
                                         r"\(2,\); for one row use X.reshape\(1, -1\)"):
        pre.transform(np.array([1.0, 0]))


def test_zero_rows_transform_to_zero_rows_but_cannot_be_fitted(heart):
    pre = heart_pre(heart).fit(heart.data)
    assert pre.transform(np.empty((0, 13))).shape == (0, 28)
    assert pre.transform([]).shape == (0, 28)
    with pytest.raises(ValueError, match="fit: got 0 rows"):
        heart_pre(heart).fit(np.empty((0, 13)))


def test_not_fitted_errors():
    pre = small()
    for call in (lambda: pre.transform([[1.0, 0]]), pre.get_feature_names_out,
                 lambda: pre.n_features_out_):
        with pytest.raises(ValueError, match="not fitted yet; call fit\\(X_train\\) first"):
            call()


def test_fit_returns_self_and_fit_transform_matches(heart):
    pre = heart_pre(heart)
    assert pre.fit(heart.data) is pre
    np.testing.assert_array_equal(heart_pre(heart).fit_transform(heart.data), pre.transform(heart.data))


def test_repr():
    pre = small()
    assert repr(pre) == "TabularPreprocessor(2 columns: 1 numeric, 1 categorical; not fitted)"
    pre.fit(np.array([[1.0, 0], [3.0, 1]]))
    assert repr(pre).endswith("fitted, 3 features out)")


# ---- saving -----------------------------------------------------------------------------------
def test_to_dict_from_dict_round_trip_is_exact(heart):
    rng = np.random.default_rng(0)
    X = heart.data.copy()
    X[:, 0] += rng.normal(size=303) / 7  # means and stds with many digits
    pre = heart_pre(heart).fit(X[:200])
    d = json.loads(json.dumps(pre.to_dict()))
    back = TabularPreprocessor.from_dict(d)
    np.testing.assert_array_equal(back.transform(X[200:]), pre.transform(X[200:]))
    assert back.get_feature_names_out() == pre.get_feature_names_out()
    assert back.to_dict() == d


def test_to_dict_is_plain_json():
    pre = small(categories={"c": [0, 1.5]}, handle_unknown="ignore")
    d = pre.to_dict()
    assert d["fitted"] is None and d["categories"] == {"c": [0, 1.5]}
    assert TabularPreprocessor.from_dict(json.loads(json.dumps(d))).to_dict() == d
    pre.fit(np.array([[1.0, 0], [2.0, 1.5], [4.0, 1.5]]))
    d = pre.to_dict()
    assert json.loads(json.dumps(d)) == d
    assert d["fitted"]["mode"] == {"c": 1.5} and d["fitted"]["categories"] == {"c": [0, 1.5]}
    assert isinstance(d["fitted"]["mean"]["x"], float) and math.isfinite(d["fitted"]["scale"]["x"])
    assert d["handle_unknown"] == "ignore"


def test_from_dict_errors():
    with pytest.raises(ValueError, match="expected a dict made by TabularPreprocessor.to_dict"):
        TabularPreprocessor.from_dict({"format": "something else"})
    with pytest.raises(ValueError, match="expected a dict made by"):
        TabularPreprocessor.from_dict([1, 2])
    d = small().fit(np.array([[1.0, 0], [3.0, 1]])).to_dict()
    del d["handle_unknown"]
    with pytest.raises(ValueError, match=r"lacks the key\(s\) \['handle_unknown'\]"):
        TabularPreprocessor.from_dict(d)
    d = small().fit(np.array([[1.0, 0], [3.0, 1]])).to_dict()
    d["fitted"]["mean"] = {"y": 0.0}
    with pytest.raises(ValueError, match=r"fitted\['mean'\] must have one entry per column \['x'\]"):
        TabularPreprocessor.from_dict(d)


# ---- constructor ------------------------------------------------------------------------------
@pytest.mark.parametrize("args, kw, err, pattern", [
    (([], []), {}, TypeError, "feature_names must be a non-empty list of strings"),
    ((["a", 1], ["numeric"] * 2), {}, TypeError, "feature_names must be a non-empty list of strings"),
    ((["a", "a"], ["numeric"] * 2), {}, ValueError, r"must be unique; repeated: \['a'\]"),
    ((["a", "b"], ["numeric"]), {}, ValueError, r"expected one kind per column \(2\), got 1"),
    ((["a"], ["ordinal"]), {}, ValueError, "column 'a' has kind 'ordinal'; expected 'numeric' or "
                                           "'categorical'"),
    ((["a"], ["numeric"]), {"handle_unknown": "skip"}, ValueError,
     "handle_unknown must be 'error' or 'ignore', got 'skip'"),
    ((["a"], ["numeric"]), {"categories": {"a": [1]}}, ValueError,
     "categories given for 'a', which is a numeric column"),
    ((["a"], ["categorical"]), {"categories": {"b": [1]}}, ValueError,
     r"categories given for 'b', which is not a column; categorical columns: \['a'\]"),
    ((["a"], ["categorical"]), {"categories": {"a": ["x"]}}, TypeError,
     r"categories\['a'\] must be a list of numbers"),
    ((["a"], ["categorical"]), {"categories": {"a": [1, 1]}}, ValueError,
     r"categories\['a'\] must be a non-empty list of distinct finite numbers"),
    ((["a"], ["categorical"]), {"categories": {"a": []}}, ValueError, "non-empty list"),
    ((["a"], ["categorical"]), {"categories": [1, 2]}, TypeError, "categories must be a dict"),
])
def test_constructor_errors(args, kw, err, pattern):
    with pytest.raises(err, match=pattern):
        TabularPreprocessor(*args, **kw)
