"""Every op of the table against PyTorch: values, dtypes and gradients in float32 and float64,
and the choices at ties and kinks (relu and abs at 0, max with ties, clamp at its bounds...)."""
import numpy as np
import pytest

import chainrule as cr

from .op_table import CASE_IDS, CASES

torch = pytest.importorskip("torch")

TOL = {"float32": dict(rtol=2e-5, atol=2e-6), "float64": dict(rtol=1e-10, atol=1e-12)}


def as_tuple(out):
    return tuple(out) if isinstance(out, (tuple, list)) else (out,)


def make_inputs(args, dtype):
    """The same values as chainrule leaves and torch leaves (floats in *dtype*)."""
    crs, ts = [], []
    for a in args:
        if a.dtype.kind == "f":
            a = a.astype(dtype)
            crs.append(cr.tensor(a, requires_grad=True))
            ts.append(torch.tensor(a, requires_grad=True))
        else:
            crs.append(cr.tensor(a))
            ts.append(torch.tensor(a))
    return crs, ts


def check_close(got, want, dtype, what):
    assert tuple(got.shape) == tuple(want.shape), f"{what}: shape {got.shape} vs {want.shape}"
    assert str(got.dtype) == str(want.dtype).replace("torch.", ""), \
        f"{what}: dtype {got.dtype} vs {want.dtype}"
    np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), err_msg=what,
                               **TOL[dtype])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("op, sample", CASES, ids=CASE_IDS)
def test_values_and_gradients_match_torch(op, sample, dtype):
    crs, ts = make_inputs(sample.args, dtype)
    got, want = as_tuple(op.fn(cr, *crs)), as_tuple(op.fn(torch, *ts))
    assert len(got) == len(want)
    for k, (g, w) in enumerate(zip(got, want)):
        check_close(g, w, dtype, f"{op.name} output {k}")
    # one backward with the same random upstream gradient on every output
    rng = np.random.default_rng(0)
    ups = [rng.standard_normal(w.shape).astype(dtype) for w in want]
    cr.autograd.backward(list(got), [cr.tensor(u) for u in ups])
    torch.autograd.backward(list(want), [torch.tensor(u) for u in ups])
    for i, (c, t) in enumerate(zip(crs, ts)):
        if not t.requires_grad:
            continue
        if t.grad is None:
            assert c.grad is None or not c.grad.numpy().any(), f"{op.name}: input {i}"
            continue
        check_close(c.grad, t.grad, dtype, f"{op.name} gradient of input {i}")


# ---- ties and kinks: the choices PyTorch makes ---------------------------------------------------
def grads(fn, *values, dtype="float64"):
    """Gradient of fn(*inputs).sum() for each input, in chainrule and in torch."""
    crs = [cr.tensor(np.asarray(v, dtype=dtype), requires_grad=True) for v in values]
    ts = [torch.tensor(np.asarray(v, dtype=dtype), requires_grad=True) for v in values]
    fn(cr, *crs).sum().backward()
    fn(torch, *ts).sum().backward()
    return [(c.grad.numpy() if c.grad is not None else None,
             t.grad.numpy() if t.grad is not None else None) for c, t in zip(crs, ts)]


KINKS = {
    "relu at 0": (lambda m, x: m.relu(x), [[-1.0, 0.0, 0.0, 2.0]]),
    "abs at 0": (lambda m, x: m.abs(x), [[-1.0, 0.0, -0.0, 2.0]]),
    "sqrt at 0": (lambda m, x: m.sqrt(x), [[0.0, 1.0, 4.0]]),
    "max with ties": (lambda m, x: x.max(), [[1.0, 3.0, 3.0, 3.0, 2.0]]),
    "min with ties": (lambda m, x: x.min(), [[[1.0, 1.0], [2.0, 1.0]]]),
    "max dim with ties": (lambda m, x: x.max(dim=1)[0], [[[3.0, 1.0, 3.0], [2.0, 2.0, 2.0]]]),
    "min dim with ties": (lambda m, x: x.min(0)[0], [[[3.0, 1.0], [3.0, 1.0]]]),
    "amax with ties": (lambda m, x: x.amax(1), [[[3.0, 1.0, 3.0], [2.0, 2.0, 2.0]]]),
    "amin with ties": (lambda m, x: m.amin(x, (0, 1)), [[[0.0, 1.0], [0.0, 0.0]]]),
    "maximum ties": (lambda m, a, b: m.maximum(a, b), [[1.0, 2.0, 3.0], [1.0, 1.0, 4.0]]),
    "minimum ties": (lambda m, a, b: m.minimum(a, b), [[1.0, 2.0, 3.0], [1.0, 1.0, 4.0]]),
    "maximum broadcast ties": (lambda m, a, b: m.maximum(a, b), [[[1.0], [2.0]], [1.0, 2.0, 3.0]]),
    "clamp at bounds": (lambda m, x: m.clamp(x, -1.0, 1.0), [[-2.0, -1.0, 0.0, 1.0, 2.0]]),
    "clamp min at bound": (lambda m, x: x.clamp(min=0.0), [[-1.0, 0.0, 1.0]]),
    "clamp tensor bounds at ties": (lambda m, x, lo, hi: m.clamp(x, lo, hi),
                                    [[-1.0, 0.0, 1.0, 2.0], [-1.0, -1.0, -1.0, 3.0],
                                     [1.0, 1.0, 1.0, 1.0]]),
    "clamp tensor min only at ties": (lambda m, x, lo: m.clamp(x, min=lo),
                                      [[-1.0, 0.0, 1.0], [-1.0, 0.5, 1.0]]),
    "norm at 0": (lambda m, x: x.norm(), [[0.0, 0.0, 0.0]]),
    "norm dim at 0": (lambda m, x: x.norm(dim=1), [[[0.0, 0.0], [3.0, 4.0]]]),
    "norm p1 at 0": (lambda m, x: x.norm(p=1), [[0.0, 1.0, -2.0]]),
    "norm inf with ties": (lambda m, x: x.norm(p=float("inf")), [[-2.0, 1.0, 2.0]]),
    "norm inf at 0": (lambda m, x: x.norm(p=float("inf")), [[0.0, 0.0]]),
    "std of a constant": (lambda m, x: x.std(), [[2.0, 2.0, 2.0]]),
    "pow 0 ** 0 tensor exponent": (lambda m, a, b: a ** b, [[0.0, 0.0, 2.0], [0.0, 2.0, 0.0]]),
    "pow base 0 with scalar exponent 2": (lambda m, x: x ** 2, [[0.0, 1.0]]),
    "prod with one zero": (lambda m, x: x.prod(), [[2.0, 0.0, 3.0]]),
    "prod with two zeros": (lambda m, x: x.prod(1), [[[2.0, 0.0, 0.0], [1.0, 2.0, 3.0]]]),
    "where": (lambda m, x: m.where(x > 0, x, x * 2), [[-1.0, 0.0, 1.0]]),
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", list(KINKS))
def test_ties_and_kinks_match_torch(name, dtype):
    fn, values = KINKS[name]
    for i, (g, t) in enumerate(grads(fn, *values, dtype=dtype)):
        assert (g is None) == (t is None), f"{name}: input {i}"
        if t is not None:
            np.testing.assert_allclose(g, t, rtol=1e-6, atol=0, err_msg=f"{name}: input {i}")


def test_max_dim_indices_match_torch_with_ties():
    x = np.array([[3.0, 1.0, 3.0], [2.0, 2.0, 2.0], [0.0, 5.0, 5.0]])
    for dim in (0, 1):
        v, i = cr.tensor(x).max(dim)
        tv, ti = torch.tensor(x).max(dim)
        np.testing.assert_array_equal(v.numpy(), tv.numpy())
        np.testing.assert_array_equal(i.numpy(), ti.numpy())
        assert i.dtype == cr.int64
        v, i = cr.tensor(x).min(dim, keepdim=True)
        tv, ti = torch.tensor(x).min(dim, keepdim=True)
        np.testing.assert_array_equal(i.numpy(), ti.numpy())
        assert cr.argmax(cr.tensor(x), dim).tolist() == torch.argmax(torch.tensor(x), dim).tolist()


def test_nan_propagation_matches_torch():
    x = [1.0, float("nan"), -2.0]
    for name, fn in {"relu": lambda m, x: m.relu(x), "clamp": lambda m, x: m.clamp(x, -1.0, 0.5),
                     "maximum": lambda m, x: m.maximum(x, x * 0 + 0.5), "max": lambda m, x: x.max(),
                     "abs": lambda m, x: m.abs(x)}.items():
        got = fn(cr, cr.tensor(x)).numpy()
        want = fn(torch, torch.tensor(x)).numpy()
        np.testing.assert_array_equal(got, want, err_msg=name)


@pytest.mark.parametrize("expr", [
    "a + b", "a * 2.5", "2.5 * a", "a / b", "a ** 2", "a @ m", "i + 1", "i * 2.5", "i / 2", "i / i",
    "a + i", "a * i", "i + True", "b16 + 1.5", "b16 * a", "a * d0", "i * d0", "a + d", "cr_where",
    "abs_i", "neg_i", "exp_i", "sum_i", "sum_b", "prod_i", "clamp_i_float", "clamp_i_int",
    "maximum_i_a", "mean_a"])
def test_result_dtypes_match_torch(expr):
    def env(m):
        return {"a": m.tensor([1.0, 2.0]), "b": m.tensor([3.0, 4.0]), "i": m.tensor([1, 2]),
                "m": m.tensor([[1.0], [2.0]]), "d0": m.tensor(2.0, dtype=m.float64),
                "d": m.tensor([1.0, 2.0], dtype=m.float64),
                "b16": m.tensor([1.0, 2.0], dtype=m.float16), "m_": m}
    special = {
        "cr_where": lambda e: e["m_"].where(e["a"] > 1, e["a"], 0.0),
        "abs_i": lambda e: e["m_"].abs(e["i"]), "neg_i": lambda e: -e["i"],
        "exp_i": lambda e: e["m_"].exp(e["i"]), "sum_i": lambda e: e["i"].sum(),
        "sum_b": lambda e: (e["i"] > 1).sum(), "prod_i": lambda e: e["i"].prod(),
        "clamp_i_float": lambda e: e["i"].clamp(0.5, 1.5),
        "clamp_i_int": lambda e: e["i"].clamp(0, 1),
        "maximum_i_a": lambda e: e["m_"].maximum(e["i"], e["a"]), "mean_a": lambda e: e["a"].mean(),
    }

    def run(m):
        e = env(m)
        return special[expr](e) if expr in special else eval(expr, {}, e)

    got, want = run(cr), run(torch)
    assert str(got.dtype) == str(want.dtype).replace("torch.", ""), \
        f"{expr}: {got.dtype} vs {want.dtype}"
    np.testing.assert_allclose(got.numpy().astype(float), want.numpy().astype(float), rtol=1e-3)
