"""Functional models: graphs with forks, merges, several inputs and outputs and shared layers;
a cr.Model is an nn.Module (hand-written training loops work); deep graphs need no recursion."""
import numpy as np
import pytest

import chainrule as cr
from chainrule.keras import Model, Sequential, clear_session, layers, regularizers
from chainrule.nn import Module


@pytest.fixture(autouse=True)
def fresh_names():
    clear_session()
    cr.manual_seed(0)


def lecture_model():
    inputs = layers.Input(shape=(29,), name="input")
    h = layers.Dense(16, activation="relu")(inputs)
    outputs = layers.Dense(1, activation="sigmoid")(h)
    return Model(inputs, outputs)


def fork_and_merge():
    """Two inputs; the first forks into two branches that meet again, then meets the second."""
    a = layers.Input(shape=(3,), name="a")
    b = layers.Input(shape=(2,), name="b")
    left = layers.Dense(4, activation="relu", name="left")(a)
    right = layers.Dense(4, activation="tanh", name="right")(a)
    both = layers.Add(name="fork_merge")([left, right])
    joined = layers.Concatenate(name="join")([both, layers.Dense(3, name="from_b")(b)])
    out = layers.Dense(1, name="out")(joined)
    return Model([a, b], out, name="two_inputs")


def test_lecture_model_runs_and_is_a_module():
    model = lecture_model()
    assert isinstance(model, Module) and isinstance(model, cr.nn.Module)
    y = model(np.random.default_rng(0).normal(size=(8, 29)))
    assert y.shape == (8, 1) and 0 < y.detach().numpy().min() and y.detach().numpy().max() < 1
    assert model.name == "functional"
    assert [l.name for l in model.layers] == ["input", "dense", "dense_1"]
    assert [n for n, _ in model.named_parameters()] == ["dense.kernel", "dense.bias",
                                                         "dense_1.kernel", "dense_1.bias"]
    assert sum(p.numel() for p in model.parameters()) == 497
    assert model.count_params() == 497
    assert model.input_names == ["input"] and model.output_names == ["dense_1"]
    assert model.input.shape == (None, 29) and model.output.shape == (None, 1)
    assert model.get_layer("dense_1") is model.layers[2] and model.get_layer(index=1).units == 16


def test_model_matches_its_layers_by_hand():
    model = lecture_model()
    x = np.random.default_rng(1).normal(size=(5, 29)).astype(np.float32)
    k1, b1, k2, b2 = model.get_weights()
    want = 1 / (1 + np.exp(-(np.maximum(x @ k1 + b1, 0) @ k2 + b2)))
    np.testing.assert_allclose(model(x).detach().numpy(), want, rtol=1e-5, atol=1e-6)


def test_fork_and_merge_two_inputs_list_and_dict():
    model = fork_and_merge()
    rng = np.random.default_rng(2)
    xa, xb = rng.normal(size=(6, 3)), rng.normal(size=(6, 2))
    y1 = model([xa, xb]).detach().numpy()
    y2 = model({"b": xb, "a": xa}).detach().numpy()
    assert y1.shape == (6, 1)
    np.testing.assert_array_equal(y1, y2)
    assert model.input_names == ["a", "b"]
    # the same numbers by hand
    w = {l.name: l.get_weights() for l in model.layers if l.weights}
    left = np.maximum(xa @ w["left"][0] + w["left"][1], 0)
    right = np.tanh(xa @ w["right"][0] + w["right"][1])
    joined = np.concatenate([left + right, xb @ w["from_b"][0] + w["from_b"][1]], axis=1)
    np.testing.assert_allclose(y1, joined @ w["out"][0] + w["out"][1], rtol=1e-4, atol=1e-5)


def test_fork_and_merge_trains_in_a_hand_written_loop():
    model = fork_and_merge()
    rng = np.random.default_rng(3)
    xa = cr.tensor(rng.normal(size=(64, 3)).astype(np.float32))
    xb = cr.tensor(rng.normal(size=(64, 2)).astype(np.float32))
    target = cr.tensor((xa.numpy()[:, :1] * 2 - xb.numpy()[:, 1:]).astype(np.float32))
    opt = cr.optim.SGD(model.parameters(), lr=0.05)
    loss_fn = cr.nn.MSELoss()
    losses = []
    for _ in range(60):
        opt.zero_grad()
        loss = loss_fn(model([xa, xb]), target)
        loss.backward()
        assert all(p.grad is not None for p in model.parameters())
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.3 * losses[0]
    assert len(list(model.parameters())) == 8


def test_fork_and_merge_gradients_by_gradcheck():
    a = layers.Input((3,), dtype="float64")
    b = layers.Input((2,), dtype="float64")
    h = layers.Dense(2, activation="tanh", dtype="float64")(a)
    g = layers.Dense(2, activation="sigmoid", dtype="float64")(a)
    m = layers.Multiply()([h, g])
    out = layers.Concatenate()([m, layers.Dense(2, dtype="float64")(b)])
    model = Model([a, b], out)
    rng = np.random.default_rng(4)
    xa = cr.tensor(rng.normal(size=(2, 3)), requires_grad=True)
    xb = cr.tensor(rng.normal(size=(2, 2)), requires_grad=True)
    params = list(model.parameters())
    assert cr.autograd.gradcheck(lambda xa, xb, *p: model([xa, xb]), (xa, xb, *params))


def test_shared_layer_is_one_set_of_weights():
    shared = layers.Dense(2, name="shared")
    a, b = layers.Input((3,), name="a"), layers.Input((3,), name="b")
    out = layers.Subtract()([shared(a), shared(b)])
    model = Model([a, b], out)
    assert [l.name for l in model.layers].count("shared") == 1
    assert model.count_params() == 8 and len(list(model.parameters())) == 2
    x = np.random.default_rng(5).normal(size=(4, 3)).astype(np.float32)
    np.testing.assert_allclose(model([x, x]).detach().numpy(), 0.0, atol=1e-6)
    xa = cr.tensor(x)
    xb = cr.tensor(x + 1)
    model([xa, xb]).sum().backward()
    # d/dk Σ(xa k - xb k) = Σ_rows (xa - xb) = -4 per input feature, both calls accumulate
    np.testing.assert_allclose(shared.kernel.grad.numpy(), -4.0 * np.ones((3, 2)), rtol=1e-6)


def test_several_outputs_and_output_names():
    x = layers.Input((4,), name="x")
    h = layers.Dense(8, activation="relu")(x)
    p = layers.Dense(1, activation="sigmoid", name="prob")(h)
    r = layers.Dense(2, name="reg")(h)
    model = Model(x, [p, r])
    out = model(np.ones((3, 4)))
    assert isinstance(out, list) and [o.shape for o in out] == [(3, 1), (3, 2)]
    assert model.output_names == ["prob", "reg"]
    model.compile("adam", ["binary_crossentropy", "mse"])
    rng = np.random.default_rng(6)
    hist = model.fit(rng.normal(size=(32, 4)), [rng.integers(0, 2, (32, 1)), rng.normal(size=(32, 2))],
                     epochs=2, verbose=0)
    assert len(hist.history["loss"]) == 2
    preds = model.predict(np.ones((3, 4)), verbose=0)
    assert [p.shape for p in preds] == [(3, 1), (3, 2)]


def test_missing_input_is_named():
    a, b = layers.Input((3,), name="x1"), layers.Input((3,), name="x2")
    out = layers.Dense(1, name="out")(layers.Add()([a, b]))
    with pytest.raises(ValueError, match=r"output 'out' is computed from the Input 'x2', which is "
                                         r"not among the model's inputs \['x1'\]"):
        Model(a, out)
    model = Model([a, b], out)
    with pytest.raises(ValueError, match=r"missing data for input 'x2'"):
        model({"x1": np.ones((2, 3))})
    with pytest.raises(ValueError, match=r"expected 2 inputs \['x1', 'x2'\], received a list of 1"):
        model([np.ones((2, 3))])
    with pytest.raises(ValueError, match="unknown input 'x3'"):
        model({"x1": np.ones((2, 3)), "x2": np.ones((2, 3)), "x3": np.ones((2, 3))})


def test_model_construction_errors():
    x = layers.Input((3,))
    h = layers.Dense(2)(x)
    with pytest.raises(ValueError, match="must be created with cr.layers.Input"):
        Model(h, layers.Dense(1)(h))
    with pytest.raises(TypeError, match="outputs must be a KerasTensor"):
        Model(x, cr.ones(2))
    with pytest.raises(ValueError, match="pass both inputs and outputs"):
        Model(x)
    d1 = layers.Dense(2, name="same")(x)
    d2 = layers.Dense(2, name="same")(x)
    with pytest.raises(ValueError, match='name "same" is used by 2 different layers'):
        Model(x, [d1, d2])
    with pytest.raises(TypeError, match="cannot mix symbolic tensors"):
        layers.Add()([x, cr.ones(1, 3)])


def test_wrong_input_shape_is_reported():
    model = lecture_model()
    with pytest.raises(ValueError, match=r"input 'input' expects shape \(None, 29\), received data "
                                         r"of shape \(4, 30\)"):
        model(np.ones((4, 30)))
    with pytest.raises(ValueError, match=r"expected axis -1 of input shape to have value 29"):
        model.layers[1](layers.Input((30,)))


def test_inputs_are_cast_to_the_input_dtype():
    model = lecture_model()
    assert model(np.ones((2, 29), dtype=np.float64)).dtype == cr.float32
    assert model(np.ones((2, 29), dtype=np.int64)).dtype == cr.float32


def test_training_flag_and_modes():
    x = layers.Input((10,))
    model = Model(x, layers.Dropout(0.5)(x))
    data = np.ones((20, 10), dtype=np.float32)
    assert (model(data).numpy() == 0).any()                      # a Module starts in training mode
    assert np.array_equal(model(data, training=False).numpy(), data)
    model.eval()
    assert np.array_equal(model(data).numpy(), data)
    assert (model(data, training=True).numpy() == 0).any()
    fixed = Model(x, layers.Dropout(0.5)(x, training=False))     # a recorded call option wins
    assert np.array_equal(fixed(data, training=True).numpy(), data)


def test_nested_models_are_layers():
    inner = Sequential([layers.Dense(4, activation="relu"), layers.Dense(2)], name="inner")
    x = layers.Input((3,), name="x")
    y = inner(x)
    assert y.shape == (None, 2)
    outer = Model(x, layers.Dense(1)(y))
    assert outer.layers[1] is inner and outer.count_params() == 16 + 10 + 3
    assert len(list(outer.parameters())) == 6
    assert outer(np.ones((5, 3))).shape == (5, 1)
    sub = Model(x, y)  # a second model over the same layers shares their weights
    np.testing.assert_array_equal(sub(np.ones((2, 3))).detach().numpy(),
                                  inner(np.ones((2, 3))).detach().numpy())


def test_losses_collect_regularizers_of_all_layers():
    x = layers.Input((3,))
    h = layers.Dense(4, kernel_regularizer=regularizers.L2(0.1))(x)
    out = layers.Dense(1, kernel_regularizer=regularizers.L1(0.2), bias_regularizer="l2")(h)
    model = Model(x, out)
    k1, _, k2, b2 = model.get_weights()
    want = 0.1 * (k1 ** 2).sum() + 0.2 * np.abs(k2).sum() + 0.01 * (b2 ** 2).sum()
    assert len(model.losses) == 3
    np.testing.assert_allclose(sum(l.item() for l in model.losses), want, rtol=1e-5)
    model.set_weights([w * 0 for w in model.get_weights()])
    assert sum(l.item() for l in model.losses) == 0.0


def test_model_get_and_set_weights():
    model = lecture_model()
    weights = model.get_weights()
    assert [w.shape for w in weights] == [(29, 16), (16,), (16, 1), (1,)]
    new = [np.full_like(w, 0.5) for w in weights]
    model.set_weights(new)
    assert all(np.all(w == 0.5) for w in model.get_weights())
    with pytest.raises(ValueError, match="expected 4 arrays"):
        model.set_weights(new[:3])
    with pytest.raises(ValueError, match=r"weight 2 \(dense_1/kernel\) has shape \(16, 1\)"):
        model.set_weights(new[:2] + [np.zeros((1, 16)), new[3]])
    assert all(np.all(w == 0.5) for w in model.get_weights())


def test_compile_fit_evaluate_predict():
    model = lecture_model()
    rng = np.random.default_rng(7)
    x = rng.normal(size=(128, 29)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.float32)
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    hist = model.fit(x, y, batch_size=16, epochs=40, verbose=0)
    assert hist.history["loss"][-1] < hist.history["loss"][0]
    loss, acc = model.evaluate(x, y, verbose=0)
    assert acc > 0.8
    assert model.predict(x[:5], verbose=0).shape == (5, 1)


def test_subclassed_model():
    class TwoLayer(Model):
        def __init__(self):
            super().__init__()
            self.hidden = layers.Dense(8, activation="relu")
            self.out = layers.Dense(1)

        def call(self, inputs):
            return self.out(self.hidden(inputs))

    model = TwoLayer()
    assert model.name == "two_layer"
    assert model(np.ones((4, 3))).shape == (4, 1)
    assert len(list(model.parameters())) == 4 and model.count_params() == 32 + 9
    with pytest.raises(NotImplementedError, match="subclassed model"):
        model.get_config()


def test_ten_thousand_layer_functional_chain():
    x = layers.Input((2,))
    h = x
    for _ in range(10_000):
        h = layers.Activation("linear")(h)
    h = layers.Dense(1)(h)
    model = Model(x, h)
    assert len(model.layers) == 10_002
    xt = cr.tensor(np.ones((3, 2), dtype=np.float32), requires_grad=True)
    y = model(xt)
    y.sum().backward()
    np.testing.assert_allclose(xt.grad.numpy(), np.tile(model.get_weights()[0].T, (3, 1)),
                               rtol=1e-6)


def test_ten_thousand_dense_layers():
    x = layers.Input((2,))
    h = x
    for _ in range(10_000):
        h = layers.Dense(2)(h)
    model = Model(x, h)
    y = model(np.ones((1, 2)))
    y.sum().backward()
    assert sum(p.grad is not None for p in model.parameters()) == 20_000
    lines = []
    model.summary(print_fn=lines.append)
    assert lines[-3] == "Total params: 60000"


def test_compile_before_the_weights_exist():
    class TwoLayer(Model):
        def __init__(self):
            super().__init__()
            self.hidden = layers.Dense(8, activation="relu")
            self.out = layers.Dense(1)

        def call(self, inputs):
            return self.out(self.hidden(inputs))

    rng = np.random.default_rng(8)
    x, y = rng.normal(size=(32, 3)), rng.normal(size=(32, 1))
    for model in (TwoLayer(), Sequential([layers.Dense(8, activation="relu"), layers.Dense(1)])):
        model.compile("adam", "mse")      # no weights yet: the optimizer is made at fit
        assert not model.compiled
        hist = model.fit(x, y, epochs=3, verbose=0)
        assert model.compiled and len(hist.history["loss"]) == 3
        assert model.optimizer is not None
