"""JAX-style ``cr.grad`` and ``cr.value_and_grad``."""
import numpy as np
import pytest

import chainrule as cr


def f(x, y):
    return (x * x * y).sum()


def test_grad_of_the_first_argument_by_default():
    x, y = cr.tensor([1.0, 2.0]), cr.tensor([3.0, 4.0])
    g = cr.grad(f)(x, y)
    np.testing.assert_allclose(g.numpy(), [6.0, 16.0])
    assert not g.requires_grad and x.grad is None and not x.requires_grad


def test_argnums_int_and_tuple():
    x, y = cr.tensor([1.0, 2.0]), cr.tensor([3.0, 4.0])
    np.testing.assert_allclose(cr.grad(f, argnums=1)(x, y).numpy(), [1.0, 4.0])
    gx, gy = cr.grad(f, argnums=(0, 1))(x, y)
    np.testing.assert_allclose(gx.numpy(), [6.0, 16.0])
    np.testing.assert_allclose(gy.numpy(), [1.0, 4.0])
    (gy,) = cr.grad(f, argnums=(-1,))(x, y)
    np.testing.assert_allclose(gy.numpy(), [1.0, 4.0])


def test_value_and_grad():
    value, g = cr.value_and_grad(f)(cr.tensor([1.0, 2.0]), cr.tensor([3.0, 4.0]))
    assert value.item() == 19.0 and not value.requires_grad
    np.testing.assert_allclose(g.numpy(), [6.0, 16.0])


def test_has_aux():
    def loss(w):
        pred = w * 2
        return (pred ** 2).sum(), {"pred": pred}

    g, aux = cr.grad(loss, has_aux=True)(cr.tensor([1.0]))
    assert g.item() == 8.0 and aux["pred"].item() == 2.0
    (value, aux), g = cr.value_and_grad(loss, has_aux=True)(cr.tensor([1.0]))
    assert value.item() == 4.0 and g.item() == 8.0


def test_numbers_and_arrays_are_accepted_and_keywords_pass_through():
    assert cr.grad(lambda x: x ** 3)(2.0).item() == pytest.approx(12.0)
    g = cr.grad(lambda x, scale=1.0: (x * scale).sum())(np.array([1.0, 2.0]), scale=3.0)
    np.testing.assert_allclose(g.numpy(), [3.0, 3.0])
    assert g.dtype == cr.float64


def test_unused_argument_gets_zeros():
    gx, gy = cr.grad(lambda x, y: (x * 2).sum(), argnums=(0, 1))(cr.ones(2), cr.ones(3))
    np.testing.assert_array_equal(gy.numpy(), np.zeros(3))
    gx = cr.grad(lambda x: cr.ones(1).sum())(cr.ones(2))
    np.testing.assert_array_equal(gx.numpy(), np.zeros(2))


def test_transforms_nest_for_higher_derivatives():
    cube = lambda x: x ** 3   # noqa: E731
    assert cr.grad(cr.grad(cube))(cr.tensor(2.0)).item() == pytest.approx(12.0)
    assert cr.grad(cr.grad(cr.grad(cube)))(2.0).item() == pytest.approx(6.0)


def test_wraps_the_function():
    def my_loss(x):
        """doc"""
        return x.sum()
    assert cr.grad(my_loss).__name__ == "my_loss"
    assert cr.value_and_grad(my_loss).__doc__ == "doc"


def test_errors():
    with pytest.raises(TypeError, match="scalar tensor"):
        cr.grad(lambda x: x * 2)(cr.ones(3))
    with pytest.raises(TypeError, match="scalar tensor"):
        cr.grad(lambda x: 3.0)(cr.ones(3))
    with pytest.raises(ValueError, match="argnums"):
        cr.grad(lambda x: x.sum(), argnums=1)(cr.ones(3))
    with pytest.raises(TypeError, match="argnums"):
        cr.grad(lambda x: x.sum(), argnums="x")(cr.ones(3))
    with pytest.raises(TypeError, match="float"):
        cr.grad(lambda x: x.sum())(cr.tensor([1, 2]))
    with pytest.raises(TypeError, match="has_aux=True"):
        cr.grad(lambda x: x.sum(), has_aux=True)(cr.ones(2))
