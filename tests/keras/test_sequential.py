"""Sequential: a stack of layers that builds from a leading Input, input_shape=, build() or its
first call; add / pop; errors at add time; a 10,000-layer stack."""
import numpy as np
import pytest

import chainrule as cr
from chainrule.keras import Model, Sequential, clear_session, layers


@pytest.fixture(autouse=True)
def fresh_names():
    clear_session()
    cr.manual_seed(0)


def test_with_leading_input_is_built_at_once():
    model = Sequential([layers.Input(shape=(29,)), layers.Dense(16, activation="relu"),
                        layers.Dense(1, activation="sigmoid")])
    assert model.built and model.name == "sequential"
    assert model.count_params() == 497
    assert [l.name for l in model.layers] == ["dense", "dense_1"]
    assert model.inputs[0].shape == (None, 29) and model.outputs[0].shape == (None, 1)
    assert model.output_names == ["dense_1"]
    assert isinstance(model, Model) and isinstance(model, cr.nn.Module)
    assert model(np.zeros((3, 29))).shape == (3, 1)


def test_lazy_build_on_first_call():
    model = Sequential()
    model.add(layers.Dense(8, activation="relu"))
    model.add(layers.Dense(1))
    assert not model.built and model.inputs == []
    y = model(np.ones((4, 5)))
    assert y.shape == (4, 1) and model.built
    assert model.count_params() == 5 * 8 + 8 + 9
    assert model.input_names == ["input_layer"]
    with pytest.raises(ValueError, match=r"expects shape \(None, 5\)"):
        model(np.ones((4, 6)))


def test_input_shape_argument_and_build():
    model = Sequential([layers.Dense(16, input_shape=(29,)), layers.Dense(1)])
    assert model.built and model.count_params() == 497
    other = Sequential([layers.Dense(2)])
    other.build((None, 3))
    assert other.built and other.count_params() == 8


def test_matches_the_layers_applied_by_hand():
    d1, d2 = layers.Dense(4, activation="tanh"), layers.Dense(2)
    model = Sequential([d1, d2])
    x = np.random.default_rng(0).normal(size=(3, 5)).astype(np.float32)
    np.testing.assert_allclose(model(x).detach().numpy(), d2(d1(x)).detach().numpy())


def test_add_checks_shapes_when_the_input_is_known():
    model = Sequential([layers.Input((3,)), layers.Dense(4)])
    bad = layers.Concatenate()
    with pytest.raises(ValueError, match="merge layer"):
        model.add(bad)
    assert len(model.layers) == 1  # nothing was added


def test_add_errors():
    model = Sequential([layers.Dense(2)])
    with pytest.raises(TypeError, match="only instances of cr.layers.Layer"):
        model.add(cr.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="an Input can only be the first element"):
        model.add(layers.Input((3,)))
    with pytest.raises(ValueError, match='Name "dense" is already the name of a layer'):
        model.add(layers.Dense(2, name="dense"))
    with pytest.raises(ValueError, match="has no layers yet"):
        Sequential()(np.ones((1, 2)))


def test_pop():
    model = Sequential([layers.Input((3,)), layers.Dense(4), layers.Dense(2)])
    last = model.pop()
    assert last.units == 2 and [l.name for l in model.layers] == ["dense"]
    assert model.outputs[0].shape == (None, 4)
    assert model(np.ones((1, 3))).shape == (1, 4)
    assert "dense_1" not in dict(model.named_children())


def test_trains_with_fit_and_by_hand():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(64, 4)).astype(np.float32)
    y = x @ np.array([[1.0], [-2.0], [0.5], [0.0]], dtype=np.float32)
    model = Sequential([layers.Input((4,)), layers.Dense(1)])
    opt = cr.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(100):
        opt.zero_grad()
        loss = ((model(cr.tensor(x)) - cr.tensor(y)) ** 2).mean()
        loss.backward()
        opt.step()
    assert loss.item() < 1e-3
    model2 = Sequential([layers.Dense(1)])
    model2.compile("sgd", "mse")
    hist = model2.fit(x, y, epochs=20, verbose=0)
    assert hist.history["loss"][-1] < hist.history["loss"][0]


def test_ten_thousand_layers():
    model = Sequential([layers.Input((2,))] + [layers.Dense(2) for _ in range(10_000)])
    assert len(model.layers) == 10_000 and model.count_params() == 60_000
    y = model(np.ones((1, 2)))
    y.sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    lazy = Sequential([layers.Activation("relu") for _ in range(10_000)])
    assert lazy(np.ones((1, 2))).shape == (1, 2)
