"""Regularizers: Keras's formulas and defaults, penalties in layer.losses recomputed from the
current weights, their gradients, and fit adding them to the loss."""
import numpy as np
import pytest

import chainrule as cr
from chainrule.keras import Model, clear_session, layers, regularizers
from chainrule.keras.regularizers import L1, L1L2, L2


@pytest.fixture(autouse=True)
def fresh_names():
    clear_session()
    cr.manual_seed(0)


W = np.array([[1.0, -2.0], [0.5, 0.0]])


def test_formulas_and_keras_defaults():
    w = cr.tensor(W)
    assert L1().l1 == 0.01 and L2().l2 == 0.01 and (L1L2().l1, L1L2().l2) == (0.0, 0.0)
    assert L1(0.1)(w).item() == pytest.approx(0.1 * 3.5)
    assert L2(0.1)(w).item() == pytest.approx(0.1 * 5.25)  # no factor 1/2
    assert L1L2(0.1, 0.2)(w).item() == pytest.approx(0.1 * 3.5 + 0.2 * 5.25)
    assert regularizers.l1_l2().get_config() == {"l1": 0.01, "l2": 0.01}
    assert L2(0.1)(w).shape == ()


def test_get_and_config():
    assert isinstance(regularizers.get("l2"), L2) and regularizers.get(None) is None
    reg = regularizers.get({"class_name": "L1L2", "config": {"l1": 0.1, "l2": 0.2}})
    assert reg.get_config() == {"l1": 0.1, "l2": 0.2}
    assert regularizers.serialize(L2(0.5)) == {"class_name": "L2", "config": {"l2": 0.5}}
    with pytest.raises(ValueError, match="Did you mean 'l2'"):
        regularizers.get("l3")
    with pytest.raises(ValueError, match="Unknown regularizer config"):
        regularizers.get({"class_name": "os.system", "config": {}})
    with pytest.raises(ValueError, match="expected a non-negative float for l2. Received: l2=-1"):
        L2(-1)


def test_gradients_of_the_penalties():
    for reg, grad in ((L1(0.3), 0.3 * np.sign(W)), (L2(0.3), 0.6 * W),
                      (L1L2(0.1, 0.2), 0.1 * np.sign(W) + 0.4 * W)):
        w = cr.tensor(W, requires_grad=True)
        reg(w).backward()
        np.testing.assert_allclose(w.grad.numpy(), grad)  # L1's gradient at 0 is 0, as PyTorch
    w = cr.tensor(W + 0.1, requires_grad=True)
    assert cr.autograd.gradcheck(lambda w: L1L2(0.1, 0.2)(w), (w,))


def test_dense_losses_follow_the_weights():
    dense = layers.Dense(3, kernel_regularizer=L2(0.1), bias_regularizer=L1(0.5))
    assert dense.losses == []
    dense(np.ones((2, 4)))
    k, b = dense.get_weights()
    assert len(dense.losses) == 2
    assert dense.losses[0].item() == pytest.approx(0.1 * (k ** 2).sum(), rel=1e-6)
    assert dense.losses[1].item() == 0.0
    dense.set_weights([np.ones((4, 3)), np.full(3, -2.0)])
    assert [l.item() for l in dense.losses] == pytest.approx([0.1 * 12, 0.5 * 6])


def test_gradcheck_dense_with_l2():
    dense = layers.Dense(2, activation="tanh", kernel_regularizer=L2(0.3), dtype="float64")
    dense.build((None, 3))
    x = cr.tensor(np.random.default_rng(0).normal(size=(4, 3)), requires_grad=True)

    def objective(x, kernel, bias):
        return (dense(x) ** 2).sum() + sum(dense.losses)

    assert cr.autograd.gradcheck(objective, (x, dense.kernel, dense.bias))
    dense.zero_grad()
    sum(dense.losses).backward()
    np.testing.assert_allclose(dense.kernel.grad.numpy(), 0.6 * dense.kernel.detach().numpy())


def test_regularizers_on_normalization_layers():
    bn = layers.BatchNormalization(gamma_regularizer=L2(1.0))
    ln = layers.LayerNormalization(beta_regularizer="l1")
    bn(np.ones((4, 3)))
    ln(np.ones((4, 3)))
    assert bn.losses[0].item() == pytest.approx(3.0)
    assert ln.losses[0].item() == 0.0


def test_fit_adds_the_penalties_to_the_loss():
    x_in = layers.Input((3,))
    model = Model(x_in, layers.Dense(1, kernel_regularizer=L2(10.0))(x_in))
    model.compile("sgd", "mse")
    x = np.random.default_rng(1).normal(size=(16, 3)).astype(np.float32)
    y = np.zeros((16, 1), dtype=np.float32)
    data_loss = float(((model.predict(x, verbose=0) - y) ** 2).mean())
    penalty = 10.0 * float((model.get_weights()[0] ** 2).sum())
    assert model.evaluate(x, y, verbose=0) == pytest.approx(data_loss + penalty, rel=1e-5)
    before = np.abs(model.get_weights()[0]).sum()
    model.fit(x, y, epochs=5, verbose=0)
    assert np.abs(model.get_weights()[0]).sum() < 0.5 * before  # the penalty shrinks the kernel
