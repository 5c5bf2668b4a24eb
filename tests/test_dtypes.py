"""dtypes: NumPy dtypes under torch's names, the default float, conversions."""
import builtins

import numpy as np
import pytest

import chainrule as cr
from chainrule import dtypes


def test_dtypes_are_numpy_dtypes_with_torch_names():
    assert cr.float32 == np.float32 and cr.float64 == np.float64
    assert cr.int64 == np.int64 and cr.bool == np.bool_
    assert cr.float is cr.float32 and cr.double is cr.float64 and cr.long is cr.int64
    assert cr.half is cr.float16
    assert cr.ones(2).numpy().dtype == cr.ones(2).dtype == cr.float32


@pytest.mark.parametrize("spec, want", [
    ("float32", np.float32), ("float64", np.float64), ("int64", np.int64), (np.float32, np.float32),
    (builtins.float, np.float32), (builtins.int, np.int64), (builtins.bool, np.bool_),
    (cr.float64, np.float64), (None, None)])
def test_to_dtype(spec, want):
    got = dtypes.to_dtype(spec)
    assert got == (np.dtype(want) if want is not None else None)


def test_to_dtype_rejects_non_dtypes():
    with pytest.raises(TypeError, match="expected a dtype"):
        dtypes.to_dtype(object())


def test_python_float_follows_the_default_dtype():
    cr.set_default_dtype(cr.float64)
    try:
        assert dtypes.to_dtype(builtins.float) == np.float64
        assert cr.ones(2).to(builtins.float).dtype == cr.float64
    finally:
        cr.set_default_dtype(cr.float32)


def test_is_floating():
    assert dtypes.is_floating(cr.float16) and dtypes.is_floating(cr.float64)
    assert not dtypes.is_floating(cr.int64) and not dtypes.is_floating(cr.bool)
    assert cr.ones(1).is_floating_point() and not cr.tensor([1]).is_floating_point()


def test_set_default_dtype_accepts_names():
    cr.set_default_dtype("float64")
    try:
        assert cr.get_default_dtype() == cr.float64
    finally:
        cr.set_default_dtype("float32")


@pytest.mark.parametrize("dtype", [cr.float16, cr.float32, cr.float64, cr.int8, cr.int16,
                                   cr.int32, cr.int64, cr.uint8, cr.bool])
def test_every_dtype_makes_tensors_and_converts(dtype):
    t = cr.zeros(3, dtype=dtype)
    assert t.dtype == dtype and t.to(cr.float32).dtype == cr.float32
    assert cr.tensor([1, 0, 1]).to(dtype).dtype == dtype
