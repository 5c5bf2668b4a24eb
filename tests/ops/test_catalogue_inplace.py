"""The in-place forms x.f_() of the catalogue's elementwise methods (and of its scatters,
triangles and scans), ``//=``, ``%=``, ``**=``, and the ``new_*`` factories, against PyTorch:
same values, the version counter bumped once, history rebased inside a graph, leaves refused."""
import numpy as np
import pytest

import chainrule as cr
from chainrule.backend import cuda as cuda_backend
from chainrule.ops.inplace_more import INPLACE

torch = pytest.importorskip("torch")

X = np.array([[0.3, -0.7, 0.9], [-0.2, 0.5, -0.95]])
OTHER = np.array([[0.5, 2.0, -1.5], [1.0, -0.25, 3.0]])

# name -> the arguments after self (tensors are made from arrays for both libraries)
ARGS = {
    "neg_": (), "negative_": (), "pow_": (2,), "div_": (OTHER,), "divide_": (OTHER,),
    "true_divide_": (OTHER,), "floor_divide_": (OTHER,), "remainder_": (OTHER,),
    "fmod_": (OTHER,), "multiply_": (OTHER,), "subtract_": (OTHER,), "exp_": (), "log_": (),
    "log1p_": (), "sqrt_": (), "sin_": (), "cos_": (), "tanh_": (), "sigmoid_": (), "relu_": (),
    "abs_": (), "clip_": (-0.5, 0.5), "sign_": (), "floor_": (), "ceil_": (), "round_": (),
    "erf_": (), "expm1_": (), "log2_": (), "log10_": (), "rsqrt_": (), "square_": (),
    "reciprocal_": (), "tan_": (), "asin_": (), "arcsin_": (), "acos_": (), "arccos_": (),
    "atan_": (), "arctan_": (), "atan2_": (OTHER,), "arctan2_": (OTHER,), "sinh_": (),
    "cosh_": (), "lerp_": (OTHER, 0.3), "trunc_": (), "fix_": (), "nan_to_num_": (),
    "clamp_min_": (0.1,), "clamp_max_": (0.1,), "logical_and_": (OTHER,),
    "logical_or_": (OTHER,), "logical_not_": (), "logical_xor_": (OTHER,),
    "masked_fill_": (X > 0, 2.5), "index_add_": (1, np.array([2, 0]), OTHER[:, :2]),
    "scatter_": (1, np.array([[2], [0]]), 7.0), "scatter_add_": (1, np.array([[2], [0]]),
                                                                  OTHER[:, :1]),
    "tril_": (), "triu_": (1,), "cumsum_": (1,), "cumprod_": (0,),
}
KWARGS = {"div_": {"rounding_mode": "floor"}}


def _args(lib, args):
    return [lib.tensor(a) if isinstance(a, np.ndarray) else a for a in args]


def test_every_inplace_method_is_tested():
    assert set(ARGS) == set(INPLACE)


@pytest.mark.parametrize("name", sorted(ARGS))
def test_inplace_matches_torch_and_bumps_the_version(name):
    c, t = cr.tensor(X.copy()), torch.tensor(X.copy())
    v = c._version
    with np.errstate(all="ignore"):
        out = getattr(c, name)(*_args(cr, ARGS[name]), **KWARGS.get(name, {}))
    getattr(t, name)(*_args(torch, ARGS[name]), **KWARGS.get(name, {}))
    assert out is c and c._version == v + 1
    np.testing.assert_allclose(c.numpy(), t.numpy(), rtol=1e-12, equal_nan=True)


@pytest.mark.parametrize("name", ["exp_", "sigmoid_", "pow_", "lerp_", "atan2_", "erf_",
                                  "scatter_", "cumprod_", "remainder_", "tril_"])
def test_inplace_inside_a_graph_rebases_history_like_torch(name):
    c, t = cr.tensor(X, requires_grad=True), torch.tensor(X, requires_grad=True)
    yc, yt = c * 1.5, t * 1.5
    with np.errstate(all="ignore"):
        getattr(yc, name)(*_args(cr, ARGS[name]))
    getattr(yt, name)(*_args(torch, ARGS[name]))
    g = np.random.default_rng(0).standard_normal(X.shape)
    (yc * cr.tensor(g)).sum().backward()
    (yt * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(c.grad.numpy(), t.grad.numpy(), rtol=1e-12)


def test_inplace_refuses_leaves_and_lossy_dtypes_and_is_seen_by_saved_tensors():
    leaf = cr.tensor(X, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        leaf.erf_()
    with pytest.raises(TypeError, match="cast"):
        cr.tensor([1, 2]).rsqrt_()
    a = cr.tensor(X, requires_grad=True)
    b = a * 2
    s = b.atan()            # saves b
    b.square_()
    with pytest.raises(RuntimeError, match="modified by an in-place"):
        s.sum().backward()


def test_augmented_assignments_match_torch():
    for op in ("x //= 3", "x %= 3", "x **= 2", "x //= -2.5", "x %= 2.5"):
        for a in (np.array([7, -7, 5]), np.array([7.5, -7.5, 5.0])):
            if "." in op and a.dtype.kind == "i":
                continue
            env_c, env_t = {"x": cr.tensor(a)}, {"x": torch.tensor(a)}
            exec(op, {}, env_c)
            exec(op, {}, env_t)
            np.testing.assert_array_equal(env_c["x"].numpy(), env_t["x"].numpy())
            assert env_c["x"].dtype == env_t["x"].numpy().dtype


# ---- new_* -------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["int64", "float64", "float32"])
def test_new_factories_match_torch(dtype):
    c, t = cr.zeros(2, dtype=dtype), torch.zeros(2, dtype=getattr(torch, dtype))
    for call in ("new_zeros(2, 3)", "new_ones((3,))", "new_full((2, 2), 1.5)",
                 "new_tensor([1.5, 2.5])", "new_tensor([[1, 2]])", "new_zeros(2, dtype=D)",
                 "new_tensor([1, 2], dtype=D)", "new_empty(4).shape"):
        got = eval("c." + call, {"c": c, "D": cr.float64})
        want = eval("t." + call, {"t": t, "D": torch.float64})
        if call.endswith(".shape"):
            assert tuple(got) == tuple(want)
            continue
        assert str(got.dtype) == str(want.dtype).replace("torch.", ""), call
        np.testing.assert_array_equal(got.numpy(), want.numpy())
    r = cr.zeros(2).new_ones(3, requires_grad=True)
    assert r.requires_grad and r.is_leaf
    src = cr.tensor([1.0, 2.0], requires_grad=True)
    copy = c.new_tensor(src)
    assert not copy.requires_grad and copy.data is not src.data


def test_new_factories_follow_the_device():
    with cuda_backend.use_standin():
        x = cr.zeros(2, device="cuda")
        for t in (x.new_zeros(3), x.new_ones(1, 2), x.new_full((2,), 3.0), x.new_tensor([1.0]),
                  x.new_empty(2)):
            assert t.device == cr.device("cuda")
        assert cr.zeros(2).new_zeros(2, device="cuda").device == cr.device("cuda")
