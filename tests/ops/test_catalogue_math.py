"""Elementwise math, division with rounding, the remainders, logic and any/all of the everyday
catalogue against PyTorch: dtypes, special values, kinks, and integer division by zero."""
import math

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")


def same(c, t, rtol=1e-12):
    c, t = c.detach().numpy(), t.detach().numpy()
    assert c.shape == t.shape and c.dtype == t.dtype, (c.shape, t.shape, c.dtype, t.dtype)
    np.testing.assert_allclose(c, t, rtol=rtol, atol=0, equal_nan=True)


def both(values, dtype=None, grad=False):
    a = np.asarray(values, dtype=dtype)
    return cr.tensor(a, requires_grad=grad), torch.tensor(a, requires_grad=grad)


UNARY = ["erf", "expm1", "log2", "log10", "rsqrt", "square", "reciprocal", "tan", "asin", "acos",
         "atan", "sinh", "cosh", "trunc", "arcsin", "arccos", "arctan", "fix"]


@pytest.mark.parametrize("name", UNARY)
def test_unary_values_and_dtypes_match_torch(name):
    with np.errstate(all="ignore"):
        for values in ([-2.5, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0, np.inf, -np.inf, np.nan],
                       [-3, -1, 0, 1, 2, 7]):
            for dtype in ((np.float32, np.float64) if isinstance(values[0], float) else
                          (np.int64,)):
                c, t = both(values, dtype)
                same(getattr(cr, name)(c), getattr(torch, name)(t), rtol=2e-6)
                same(getattr(c, name)(), getattr(t, name)(), rtol=2e-6)


@pytest.mark.parametrize("name, values", [
    ("rsqrt", [0.0, 1.0]), ("asin", [1.0, -1.0, 0.5, 2.0]), ("acos", [1.0, -0.5, 3.0]),
    ("log2", [0.0, -1.0, 2.0]), ("log10", [0.0, 10.0]), ("atan", [0.0, -1e10]),
    ("erf", [0.0, 5.0, -30.0]), ("reciprocal", [0.0, -0.0, 2.0]), ("tan", [0.0, 1.5]),
    ("sinh", [0.0, 800.0]), ("cosh", [0.0, -800.0]), ("expm1", [1e-12, 800.0]),
])
def test_gradients_at_special_points_match_torch(name, values):
    c, t = both(values, np.float64, grad=True)
    with np.errstate(all="ignore"):
        getattr(cr, name)(c).sum().backward()
    getattr(torch, name)(t).sum().backward()
    same(c.grad, t.grad)


def test_erf_is_accurate_to_double_precision():
    x = np.concatenate([np.linspace(-7, 7, 20001), [1e-300, -1e-10, 0.84375, 1.25, 2.857142857]])
    got = cr.erf(cr.tensor(x)).numpy()
    want = np.array([math.erf(v) for v in x])
    assert np.max(np.abs(got - want)) <= 2.3e-16
    assert cr.erf(cr.tensor([np.nan])).isnan().item()


def test_atan2_lerp_clamp_min_max_nan_to_num_match_torch():
    a, b = np.array([0.0, 1.0, -1.0, -0.0, 2.0]), np.array([0.0, -1.0, 0.0, -1.0, np.inf])
    (ca, ta), (cb, tb) = both(a, grad=True), both(b, grad=True)
    y, ty = cr.atan2(ca, cb), torch.atan2(ta, tb)
    same(y, ty)
    with np.errstate(all="ignore"):
        y.sum().backward()
    ty.sum().backward()
    same(ca.grad, ta.grad)
    same(cb.grad, tb.grad)
    same(cr.atan2(cr.tensor([1, 2]), cr.tensor([3, 4])), torch.atan2(torch.tensor([1, 2]),
                                                                   torch.tensor([3, 4])))
    s, e = np.array([1.0, -2.0, 3.0]), np.array([4.0, 0.5, -1.0])
    for w in (0.25, 0.5, 0.75, -0.6, 1.5):
        same(cr.lerp(cr.tensor(s), cr.tensor(e), w), torch.lerp(torch.tensor(s), torch.tensor(e), w))
    w = np.array([0.2, 0.5, 0.9])
    same(cr.tensor(s).lerp(cr.tensor(e), cr.tensor(w)),
         torch.tensor(s).lerp(torch.tensor(e), torch.tensor(w)))
    x = np.array([-2.0, 0.0, 3.0])
    same(cr.clamp_min(cr.tensor(x), 0.5), torch.clamp_min(torch.tensor(x), 0.5))
    same(cr.tensor(x).clamp_max(cr.tensor([0.0, 1.0, 1.0])),
         torch.tensor(x).clamp_max(torch.tensor([0.0, 1.0, 1.0])))
    for dtype in (np.float32, np.float64):
        c, t = both([np.nan, np.inf, -np.inf, 1.5], dtype)
        same(cr.nan_to_num(c), torch.nan_to_num(t))
        same(c.nan_to_num(nan=1.0, neginf=-7.0), t.nan_to_num(nan=1.0, neginf=-7.0))
    c, t = both([np.nan, np.inf, 2.0], grad=True)
    cr.nan_to_num(c).sum().backward()
    torch.nan_to_num(t).sum().backward()
    same(c.grad, t.grad)
    same(cr.nan_to_num(cr.tensor([1, 2])), torch.nan_to_num(torch.tensor([1, 2])))


# ---- division -------------------------------------------------------------------------------
A_F = [5.5, -5.5, 7.0, -7.0, 0.0, 3.0, -0.5, 1e10, np.inf, -np.inf, np.nan, 2.0, -0.0]
B_F = [2.0, 2.0, -2.0, -2.0, 3.0, 0.0, 0.25, 3.0, 2.0, 3.0, 1.0, -np.inf, 5.0]
A_I = [7, -7, 7, -7, 0, 9, -1, 3, 1]
B_I = [2, 2, -2, -2, 3, 3, 5, -4, -1]

DIVISIONS = {
    "floor": lambda m, x, y: m.div(x, y, rounding_mode="floor"),
    "trunc": lambda m, x, y: x.div(y, rounding_mode="trunc"),
    "true": lambda m, x, y: m.divide(x, y),
    "//": lambda m, x, y: x // y, "%": lambda m, x, y: x % y,
    "floor_divide": lambda m, x, y: m.floor_divide(x, y),
    "remainder": lambda m, x, y: m.remainder(x, y), "fmod": lambda m, x, y: x.fmod(y),
    "// int": lambda m, x, y: x // 3, "% int": lambda m, x, y: x % -3,
    "// float": lambda m, x, y: x // 2.5, "% float": lambda m, x, y: x % 2.5,
    "fmod int": lambda m, x, y: m.fmod(x, -3), "remainder float": lambda m, x, y: x.remainder(1.5),
    "reflected //": lambda m, x, y: 7 // y, "reflected %": lambda m, x, y: -7 % y,
    "number % tensor": lambda m, x, y: m.remainder(-7, y),
    "trunc int scalar": lambda m, x, y: m.div(x, 4, rounding_mode="trunc"),
}


@pytest.mark.parametrize("name", list(DIVISIONS))
@pytest.mark.parametrize("kind", ["float64", "float32", "int64"])
def test_division_and_remainders_match_torch(name, kind):
    a, b = (A_I, B_I) if kind == "int64" else (A_F, B_F)
    (ca, ta), (cb, tb) = both(a, kind), both(b, kind)
    fn = DIVISIONS[name]
    with np.errstate(all="ignore"):
        got = fn(cr, ca, cb)
    same(got, fn(torch, ta, tb), rtol=1e-6 if kind == "float32" else 1e-12)


@pytest.mark.parametrize("expr", ["x // 0", "x % 0", "cr.fmod(x, 0)", "x // cr.tensor([1, 0])",
                                  "cr.div(x, 0, rounding_mode='trunc')", "5 % cr.tensor([0, 1])"])
def test_integer_division_by_zero_raises_as_torch(expr):
    with pytest.raises(ZeroDivisionError) as info:
        eval(expr, {"cr": cr, "x": cr.tensor([1, 2])})
    assert isinstance(info.value, RuntimeError) and isinstance(info.value, cr.ChainruleError)


def test_division_gradients_match_torch():
    a, b = [5.5, -3.0, 0.7], [2.0, 2.0, -0.3]
    for fn in (lambda m, x, y: x % y, lambda m, x, y: m.fmod(x, y),
               lambda m, x, y: m.div(x, y, rounding_mode="floor"),
               lambda m, x, y: m.div(x, y, rounding_mode="trunc")):
        (ca, ta), (cb, tb) = both(a, grad=True), both(b, grad=True)
        fn(cr, ca, cb).sum().backward()
        fn(torch, ta, tb).sum().backward()
        same(ca.grad, ta.grad)
        same(cb.grad, tb.grad)
    with pytest.raises(ValueError, match="rounding_mode"):
        cr.div(cr.ones(2), 2, rounding_mode="round")


# ---- logic, counting, any/all ------------------------------------------------------------------
def test_logic_and_counts_match_torch():
    a = np.array([[0.0, 1.5, -2.0], [0.0, 0.0, 3.0]])
    b = np.array([1.0, 0.0, 0.0])
    (ca, ta), (cb, tb) = both(a), both(b)
    for name in ("logical_and", "logical_or", "logical_xor"):
        same(getattr(cr, name)(ca, cb), getattr(torch, name)(ta, tb))
        same(getattr(ca, name)(cb), getattr(ta, name)(tb))
    for dim in (None, 0, 1, (0, 1), (-1,)):
        same(cr.count_nonzero(ca, dim), torch.count_nonzero(ta, dim))
    same(ca.count_nonzero(), ta.count_nonzero())


@pytest.mark.parametrize("dtype", ["float64", "int64", "bool", "uint8"])
def test_any_all_over_dim_tuples_match_torch(dtype):
    a = np.array([[[0, 1], [2, 0]], [[0, 0], [1, 1]]]).astype(dtype)
    c, t = cr.tensor(a), torch.tensor(a)
    for dim in (None, 0, -1, (0, 1), (0, -1), [1, 2], (), (0, 1, 2)):
        for keepdim in (False, True):
            kw = {} if dim is None else {"dim": dim}
            same(c.any(keepdim=keepdim, **kw) if kw else c.any(),
                 t.any(keepdim=keepdim, **kw) if kw else t.any())
            same(cr.all(c, keepdim=keepdim, **kw) if kw else cr.all(c),
                 torch.all(t, keepdim=keepdim, **kw) if kw else torch.all(t))
    with pytest.raises(ValueError, match="twice"):
        c.any(dim=(0, 0))
