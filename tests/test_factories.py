"""Making tensors: dtype inference as torch does, copies and sharing, randomness and seeds."""
import numpy as np
import pytest

import chainrule as cr


@pytest.mark.parametrize("make, dtype, shape", [
    (lambda: cr.tensor([1, 2]), cr.int64, (2,)),
    (lambda: cr.tensor([1.0]), cr.float32, (1,)),
    (lambda: cr.tensor([[1, 2.5]]), cr.float32, (1, 2)),
    (lambda: cr.tensor([True, False]), cr.bool, (2,)),
    (lambda: cr.tensor(3), cr.int64, ()),
    (lambda: cr.tensor(3.5), cr.float32, ()),
    (lambda: cr.tensor([]), cr.float32, (0,)),
    (lambda: cr.tensor(np.array([1.0, 2.0])), cr.float64, (2,)),     # arrays keep their dtype
    (lambda: cr.tensor(np.array([1, 2], dtype=np.int32)), cr.int32, (2,)),
    (lambda: cr.tensor([1, 2], dtype=cr.float64), cr.float64, (2,)),
    (lambda: cr.tensor([cr.tensor(1.0), cr.tensor(2.0)]), cr.float32, (2,)),
    (lambda: cr.full((2,), 1), cr.int64, (2,)),
    (lambda: cr.full((2, 3), 1.0), cr.float32, (2, 3)),
    (lambda: cr.full((2,), True), cr.bool, (2,)),
    (lambda: cr.full([2], 7, dtype=cr.float64), cr.float64, (2,)),
    (lambda: cr.arange(5), cr.int64, (5,)),
    (lambda: cr.arange(1, 5), cr.int64, (4,)),
    (lambda: cr.arange(0, 1, 0.25), cr.float32, (4,)),
    (lambda: cr.arange(5.0), cr.float32, (5,)),
    (lambda: cr.arange(5, dtype=cr.float64), cr.float64, (5,)),
    (lambda: cr.arange(10, 0, -3), cr.int64, (4,)),
    (lambda: cr.arange(np.int64(3)), cr.int64, (3,)),
    (lambda: cr.linspace(0, 1, 5), cr.float32, (5,)),
    (lambda: cr.eye(3), cr.float32, (3, 3)),
    (lambda: cr.eye(2, 3), cr.float32, (2, 3)),
    (lambda: cr.zeros(2, 3), cr.float32, (2, 3)),
    (lambda: cr.zeros((2, 3)), cr.float32, (2, 3)),
    (lambda: cr.ones([2, 3], dtype=cr.int64), cr.int64, (2, 3)),
    (lambda: cr.ones(()), cr.float32, ()),
    (lambda: cr.empty(2, 3), cr.float32, (2, 3)),
    (lambda: cr.zeros_like(cr.tensor([1, 2])), cr.int64, (2,)),
    (lambda: cr.ones_like(cr.tensor([1.0, 2.0]), dtype=cr.float64), cr.float64, (2,)),
    (lambda: cr.full_like(cr.tensor([1, 2]), 2.7), cr.int64, (2,)),
    (lambda: cr.empty_like(cr.ones(3, dtype=cr.float64)), cr.float64, (3,)),
    (lambda: cr.rand(2, 3), cr.float32, (2, 3)),
    (lambda: cr.randn(4, dtype=cr.float64), cr.float64, (4,)),
    (lambda: cr.randint(0, 10, (3,)), cr.int64, (3,)),
    (lambda: cr.randint(10, (3, 2)), cr.int64, (3, 2)),
    (lambda: cr.rand_like(cr.ones(2, dtype=cr.float64)), cr.float64, (2,)),
    (lambda: cr.randn_like(cr.ones(2, 2)), cr.float32, (2, 2)),
    (lambda: cr.randperm(5), cr.int64, (5,)),
])
def test_dtype_and_shape(make, dtype, shape):
    t = make()
    assert isinstance(t, cr.Tensor) and t.dtype == dtype and t.shape == shape


@pytest.mark.parametrize("expr", [
    "tensor([1, 2])", "tensor([1.0])", "tensor([[1, 2.5]])", "tensor(True)", "full((2,), 1)",
    "full((2,), 1.0)", "full((2,), False)", "arange(5)", "arange(0, 1, 0.25)", "arange(2.0, 5)",
    "arange(1, 4, 0.5)", "linspace(-1, 1, 5)", "eye(2, 3)", "zeros(2, 3)", "ones(4)",
    "zeros_like(m.tensor([1, 2]))", "full_like(m.tensor([1.0, 2.0]), 7)",
    "tensor([[True], [False]])"])
def test_values_and_dtypes_match_torch(expr):
    torch = pytest.importorskip("torch")
    got = eval("cr." + expr, {"cr": cr, "m": cr})
    want = eval("torch." + expr, {"torch": torch, "m": torch})
    assert str(got.dtype) == str(want.dtype).replace("torch.", "")
    assert got.shape == tuple(want.shape)
    np.testing.assert_allclose(got.numpy().astype(float), want.numpy().astype(float), rtol=1e-6)


def test_values():
    assert cr.arange(1, 4, 0.5).tolist() == [1.0, 1.5, 2.0, 2.5, 3.0, 3.5]
    assert cr.linspace(0, 1, 5).tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert cr.eye(2).tolist() == [[1.0, 0.0], [0.0, 1.0]]
    assert cr.full((2,), 2.5).tolist() == [2.5, 2.5]
    assert sorted(cr.randperm(6).tolist()) == list(range(6))
    r = cr.randint(3, 5, (200,))
    assert r.numpy().min() >= 3 and r.numpy().max() <= 4
    u = cr.rand(1000)
    assert 0 <= u.numpy().min() and u.numpy().max() < 1


def test_requires_grad_and_device_arguments():
    assert cr.zeros(2, requires_grad=True).requires_grad
    assert cr.tensor([1.0], requires_grad=True).is_leaf
    assert cr.randn(2, requires_grad=True).requires_grad
    assert cr.ones(2, device="cpu").device == "cpu"
    with pytest.raises(RuntimeError, match="floating-point"):
        cr.arange(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="not available"):
        cr.zeros(2, device="cuda")


def test_tensor_copies_and_from_numpy_shares_memory():
    a = np.array([1.0, 2.0])
    t = cr.tensor(a)
    a[0] = 9.0
    assert t.tolist() == [1.0, 2.0]
    s = cr.from_numpy(a)
    a[1] = 7.0
    assert s.tolist() == [9.0, 7.0] and s.dtype == cr.float64
    s[0] = 0.0
    assert a[0] == 0.0
    x = cr.tensor([1.0, 2.0])
    y = cr.tensor(x)
    y += 1
    assert x.tolist() == [1.0, 2.0]
    assert cr.as_tensor(x) is x
    with pytest.raises(TypeError, match="numpy.ndarray"):
        cr.from_numpy([1.0])


def test_factory_errors():
    with pytest.raises(ValueError, match="non-negative"):
        cr.zeros(-1)
    with pytest.raises(TypeError, match="ints"):
        cr.ones("a")
    with pytest.raises(ValueError, match="step must be nonzero"):
        cr.arange(0, 1, 0)
    with pytest.raises(ValueError, match="low < high"):
        cr.randint(5, 5, (2,))
    with pytest.raises(TypeError, match="float dtype"):
        cr.rand(2, dtype=cr.int64)


# ---- randomness ----------------------------------------------------------------------------------
def test_manual_seed_makes_draws_reproducible():
    cr.manual_seed(123)
    a = (cr.rand(3), cr.randn(2, 2), cr.randint(0, 100, (4,)), cr.randperm(5))
    cr.manual_seed(123)
    b = (cr.rand(3), cr.randn(2, 2), cr.randint(0, 100, (4,)), cr.randperm(5))
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.numpy(), y.numpy())
    cr.manual_seed(124)
    assert not np.array_equal(cr.rand(3).numpy(), a[0].numpy())
    assert cr.initial_seed() == 124


def test_a_generator_is_a_private_stream():
    g = cr.Generator().manual_seed(7)
    cr.manual_seed(0)
    first = cr.rand(3, generator=g)
    after_default = cr.rand(3)
    cr.manual_seed(0)
    assert np.array_equal(cr.rand(3).numpy(), after_default.numpy())   # g did not advance it
    g2 = cr.Generator().manual_seed(7)
    np.testing.assert_array_equal(cr.rand(3, generator=g2).numpy(), first.numpy())
    assert isinstance(cr.manual_seed(1), cr.Generator)


def test_generator_state_round_trip():
    g = cr.Generator().manual_seed(5)
    cr.randn(4, generator=g)
    state = g.get_state()
    a = cr.randn(4, generator=g)
    g.set_state(state)
    np.testing.assert_array_equal(cr.randn(4, generator=g).numpy(), a.numpy())
    s = cr.get_rng_state()
    b = cr.rand(2)
    cr.set_rng_state(s)
    np.testing.assert_array_equal(cr.rand(2).numpy(), b.numpy())
    with pytest.raises(TypeError, match="int seed"):
        g.manual_seed(1.5)
    with pytest.raises(TypeError, match="cr.Generator"):
        cr.rand(2, generator=np.random.default_rng(0))


def test_rand_like_uses_the_generator():
    x = cr.ones(3, dtype=cr.float64)
    a = cr.rand_like(x, generator=cr.Generator().manual_seed(3))
    b = cr.rand_like(x, generator=cr.Generator().manual_seed(3))
    np.testing.assert_array_equal(a.numpy(), b.numpy())


# ---- the default dtype ---------------------------------------------------------------------------
def test_set_default_dtype_float64_then_back():
    assert cr.get_default_dtype() == cr.float32
    cr.set_default_dtype(cr.float64)
    try:
        assert cr.get_default_dtype() == cr.float64
        assert cr.tensor([1.0]).dtype == cr.float64
        assert cr.zeros(2).dtype == cr.float64 and cr.rand(2).dtype == cr.float64
        assert cr.arange(0.5, 2).dtype == cr.float64 and cr.linspace(0, 1, 3).dtype == cr.float64
        assert (cr.tensor([1, 2]) * 0.5).dtype == cr.float64
        assert cr.tensor([1, 2]).dtype == cr.int64
        assert repr(cr.tensor([1.0])) == "tensor([1.])"
        assert repr(cr.tensor([1.0], dtype=cr.float32)) == "tensor([1.], dtype=cr.float32)"
    finally:
        cr.set_default_dtype(cr.float32)
    assert cr.tensor([1.0]).dtype == cr.float32 and cr.zeros(1).dtype == cr.float32
    with pytest.raises(TypeError, match="float32 or cr.float64"):
        cr.set_default_dtype(cr.int64)
