"""Nadam, Adadelta and Lion: Keras 3's updates step by step (a NumPy transcription of Keras's
update_step; Adadelta's equals torch.optim.Adadelta's), defaults, configs and saved state."""
import numpy as np
import pytest

import chainrule as cr
from chainrule.keras import optimizers
from chainrule.nn import Parameter
from chainrule.tensor import Tensor

RNG = np.random.default_rng(0)
START = [RNG.normal(size=(3, 4)), RNG.normal(size=(4,))]
GRADS = [[RNG.normal(size=a.shape) for a in START] for _ in range(12)]


def run(opt, start=START, grads=GRADS, dtype=np.float64):
    params = [Parameter(Tensor(a.astype(dtype))) for a in start]
    opt.build(params)
    for step in grads:
        for p, g in zip(params, step):
            p.grad = Tensor(g.astype(dtype))
        opt.step()
    return [p.detach().numpy() for p in params], opt


def keras_nadam(lr=0.001, b1=0.9, b2=0.999, eps=1e-7):
    thetas = [a.copy() for a in START]
    m = [np.zeros_like(a) for a in START]
    v = [np.zeros_like(a) for a in START]
    u_product = 1.0
    for it, grads in enumerate(GRADS):
        u_product *= b1 * (1 - 0.5 * 0.96 ** (it + 1))         # _backend_update_step
        t = it + 1
        u_t = b1 * (1 - 0.5 * 0.96 ** t)
        u_t1 = b1 * (1 - 0.5 * 0.96 ** (t + 1))
        u_product_t1 = u_product * u_t1
        for k, g in enumerate(grads):
            m[k] += (g - m[k]) * (1 - b1)
            v[k] += (g * g - v[k]) * (1 - b2)
            m_hat = u_t1 * m[k] / (1 - u_product_t1) + (1 - u_t) * g / (1 - u_product)
            v_hat = v[k] / (1 - b2 ** t)
            thetas[k] -= m_hat * lr / (np.sqrt(v_hat) + eps)
    return thetas


def keras_lion(lr=0.001, b1=0.9, b2=0.99):
    thetas = [a.copy() for a in START]
    m = [np.zeros_like(a) for a in START]
    for grads in GRADS:
        for k, g in enumerate(grads):
            thetas[k] -= lr * np.sign(m[k] * b1 + g * (1 - b1))
            m[k] = m[k] * b2 + g * (1 - b2)
    return thetas


def keras_adadelta(lr=0.001, rho=0.95, eps=1e-7):
    thetas = [a.copy() for a in START]
    acc_g = [np.zeros_like(a) for a in START]
    acc_d = [np.zeros_like(a) for a in START]
    for grads in GRADS:
        for k, g in enumerate(grads):
            acc_g[k] = rho * acc_g[k] + (1 - rho) * g * g
            delta = -np.sqrt(acc_d[k] + eps) * g / np.sqrt(acc_g[k] + eps)
            acc_d[k] = rho * acc_d[k] + (1 - rho) * delta * delta
            thetas[k] += lr * delta
    return thetas


@pytest.mark.parametrize("make, reference", [
    (lambda: optimizers.Nadam(), keras_nadam),
    (lambda: optimizers.Nadam(learning_rate=0.05, beta_1=0.8, beta_2=0.99, epsilon=1e-5),
     lambda: keras_nadam(0.05, 0.8, 0.99, 1e-5)),
    (lambda: optimizers.Lion(), keras_lion),
    (lambda: optimizers.Lion(learning_rate=0.01, beta_1=0.5, beta_2=0.9),
     lambda: keras_lion(0.01, 0.5, 0.9)),
    (lambda: optimizers.Adadelta(), keras_adadelta),
    (lambda: optimizers.Adadelta(learning_rate=1.0, rho=0.9, epsilon=1e-6),
     lambda: keras_adadelta(1.0, 0.9, 1e-6)),
])
def test_update_matches_keras_step_for_step(make, reference):
    got, opt = run(make())
    for a, b in zip(got, reference()):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    assert opt.iterations == len(GRADS)


def test_adadelta_equals_torch():
    torch = pytest.importorskip("torch")
    params = [torch.tensor(a, requires_grad=True) for a in START]
    ref = torch.optim.Adadelta(params, lr=1.0, rho=0.95, eps=1e-7)
    for step in GRADS:
        for p, g in zip(params, step):
            p.grad = torch.tensor(g)
        ref.step()
    got, _ = run(optimizers.Adadelta(learning_rate=1.0))
    for a, p in zip(got, params):
        np.testing.assert_allclose(a, p.detach().numpy(), rtol=1e-12, atol=1e-14)


def test_keras_defaults_names_and_config():
    assert (optimizers.Nadam().learning_rate, optimizers.Nadam().beta_1,
            optimizers.Nadam().beta_2, optimizers.Nadam().epsilon) == (0.001, 0.9, 0.999, 1e-7)
    assert (optimizers.Adadelta().learning_rate, optimizers.Adadelta().rho,
            optimizers.Adadelta().epsilon) == (0.001, 0.95, 1e-7)
    assert (optimizers.Lion().learning_rate, optimizers.Lion().beta_1,
            optimizers.Lion().beta_2) == (0.001, 0.9, 0.99)
    for name in ("nadam", "adadelta", "lion", "Nadam", "LION"):
        assert type(optimizers.get(name)).__name__.lower() == name.lower()
    for cls in (optimizers.Nadam, optimizers.Adadelta, optimizers.Lion):
        opt = cls(learning_rate=0.02, weight_decay=0.1, clipnorm=1.0)
        again = optimizers.deserialize(optimizers.serialize(opt))
        assert type(again) is cls and again.get_config() == opt.get_config()
    with pytest.raises(ValueError, match="beta_1"):
        optimizers.Lion(beta_1=0.0)
    with pytest.raises(ValueError, match="rho"):
        optimizers.Adadelta(rho=2.0)


def test_decoupled_weight_decay_comes_first():
    lr, wd = 0.01, 0.1
    got, _ = run(optimizers.Lion(learning_rate=lr, weight_decay=wd), grads=GRADS[:1])
    m0 = [np.zeros_like(a) for a in START]
    for a, start, g, m in zip(got, START, GRADS[0], m0):
        decayed = start - start * wd * lr
        np.testing.assert_allclose(a, decayed - lr * np.sign(m * 0.9 + g * 0.1), rtol=1e-12)


def test_float32_flat_and_per_parameter_paths_agree():
    many = [RNG.normal(size=(5,)) for _ in range(6)]
    grads = [[RNG.normal(size=(5,)) for _ in many] for _ in range(4)]
    for cls in (optimizers.Nadam, optimizers.Adadelta, optimizers.Lion):
        flat, _ = run(cls(), many, grads, np.float32)
        opt = cls()
        params = [Parameter(Tensor(a.astype(np.float32))) for a in many]
        opt.build(params)
        opt.optimizer.param_groups[0]["foreach"] = False
        for step in grads:
            for p, g in zip(params, step):
                p.grad = Tensor(g.astype(np.float32))
            opt.step()
        for a, p in zip(flat, params):
            np.testing.assert_array_equal(a, p.detach().numpy())


@pytest.mark.parametrize("cls", [optimizers.Nadam, optimizers.Adadelta, optimizers.Lion])
def test_state_dict_resumes_bit_identically(cls):
    straight, _ = run(cls(learning_rate=0.01))
    params = [Parameter(Tensor(a.copy())) for a in START]
    first = cls(learning_rate=0.01).build(params)
    for step in GRADS[:5]:
        for p, g in zip(params, step):
            p.grad = Tensor(g)
        first.step()
    state = first.state_dict()
    second = cls(learning_rate=0.01).build(params)
    second.load_state_dict(state)
    assert second.iterations == 5
    for step in GRADS[5:]:
        for p, g in zip(params, step):
            p.grad = Tensor(g)
        second.step()
    for a, p in zip(straight, params):
        np.testing.assert_array_equal(a, p.detach().numpy())


def test_compile_by_name_and_train():
    x = RNG.normal(size=(64, 3))
    y = (x[:, :1] > 0).astype(float)
    for name in ("nadam", "adadelta", "lion"):
        cr.manual_seed(0)
        model = cr.Sequential([cr.layers.Input((3,)), cr.layers.Dense(1, activation="sigmoid")])
        model.compile(optimizers.get(name), "binary_crossentropy")
        if name == "adadelta":
            model.optimizer.learning_rate = 1.0
        losses = model.fit(x, y, batch_size=16, epochs=5, verbose=0).history["loss"]
        assert losses[-1] < losses[0], name
