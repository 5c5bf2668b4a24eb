"""The rest of Keras 3's everyday layers: activation layers, Lambda, Permute, RepeatVector,
Rescaling, GroupNormalization and UnitNormalization, against Keras's equations (NumPy) and
PyTorch where it has the same op, with Keras's defaults, in models, and saved."""
import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd.gradcheck import gradcheck
from chainrule.keras import Model, Sequential, clear_session, layers

RNG = np.random.default_rng(0)
X = RNG.normal(size=(5, 4, 6))


@pytest.fixture(autouse=True)
def fresh_names():
    clear_session()
    cr.manual_seed(0)


@pytest.fixture
def float64():
    """Layers in float64, to compare with float64 references to the last bits."""
    cr.set_default_dtype(cr.float64)
    yield
    cr.set_default_dtype(cr.float32)


def keras_relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """keras.activations.relu, written from its documented piecewise definition."""
    y = np.where(x > threshold, x, 0.0) if threshold else np.maximum(x, 0.0)
    if max_value is not None:
        y = np.clip(y, 0.0, max_value)          # Keras clips to [0, max_value]
    return y - negative_slope * np.maximum(threshold - x, 0.0)


@pytest.mark.parametrize("kwargs", [{}, {"max_value": 6.0}, {"negative_slope": 0.1},
                                    {"threshold": 0.5}, {"max_value": 1.0, "threshold": -0.5,
                                                         "negative_slope": 0.2}])
def test_relu_layer(kwargs):
    x = np.linspace(-3, 8, 45).reshape(5, 9)
    got = layers.ReLU(**kwargs)(x).numpy()
    np.testing.assert_allclose(got, keras_relu(x, **kwargs), rtol=1e-6)
    layer = layers.ReLU(**kwargs)
    assert layers.ReLU.from_config(layer.get_config()).get_config() == layer.get_config()


def test_leaky_relu_elu_softmax_against_torch():
    torch = pytest.importorskip("torch")
    xt = torch.tensor(X)
    assert layers.LeakyReLU().negative_slope == 0.3
    np.testing.assert_allclose(layers.LeakyReLU()(X).numpy(),
                               torch.nn.functional.leaky_relu(xt, 0.3).numpy(), rtol=1e-12)
    np.testing.assert_allclose(layers.ELU(alpha=0.7)(X).numpy(),
                               torch.nn.functional.elu(xt, 0.7).numpy(), rtol=1e-12)
    np.testing.assert_allclose(layers.Softmax()(X).numpy(), torch.softmax(xt, -1).numpy(),
                               rtol=1e-12)
    np.testing.assert_allclose(layers.Softmax(axis=1)(X).numpy(), torch.softmax(xt, 1).numpy(),
                               rtol=1e-12)
    both = layers.Softmax(axis=[1, 2])(X).numpy()
    want = np.exp(X) / np.exp(X).sum(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(both, want, rtol=1e-12)
    with pytest.warns(UserWarning, match="negative_slope"):
        assert layers.LeakyReLU(alpha=0.2).negative_slope == 0.2


def test_softmax_mask_gives_zero_probability():
    mask = np.array([[1, 1, 0, 1]])
    out = layers.Softmax()(cr.tensor([[1.0, 2.0, 50.0, 3.0]]), mask=mask).numpy()
    e = np.exp([1.0, 2.0, 3.0])
    np.testing.assert_allclose(out, [[*(e[:2] / e.sum()), 0.0, e[2] / e.sum()]], rtol=1e-6)


def test_prelu_against_torch_and_shared_axes(float64):
    torch = pytest.importorskip("torch")
    layer = layers.PReLU(alpha_initializer=layers.initializers.RandomUniform(seed=1))
    x = cr.tensor(X, requires_grad=True)
    out = layer(x)
    assert layer.alpha.shape == (4, 6) and layer.get_weights()[0].shape == (4, 6)
    alpha = torch.tensor(layer.get_weights()[0], requires_grad=True)
    xt = torch.tensor(X, requires_grad=True)
    ref = torch.where(xt > 0, xt, alpha * xt)       # PyTorch's prelu, one slope per element
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-12)
    out.sum().backward()
    ref.sum().backward()
    np.testing.assert_allclose(layer.alpha.grad.numpy(), alpha.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-12)
    shared = layers.PReLU(shared_axes=[1])
    shared(X)
    assert shared.alpha.shape == (1, 6)
    assert layers.PReLU().get_config()["alpha_initializer"]["class_name"] == "Zeros"


def test_lambda_layer_in_a_model_and_saving(tmp_path):
    def double(x, factor=2.0):
        return x * factor

    inputs = layers.Input((4,))
    h = layers.Lambda(double, arguments={"factor": 3.0}, name="triple")(inputs)
    assert h.shape == (None, 4)
    model = Model(inputs, layers.Dense(1)(h))
    x = RNG.normal(size=(3, 4))
    np.testing.assert_allclose(model.get_layer("triple")(x).numpy(), 3 * x)
    model.save(tmp_path / "m.keras")
    with pytest.raises(cr.SerializationError, match=r"custom_objects=\{'double': function\}"):
        cr.load_model(tmp_path / "m.keras")
    restored = cr.load_model(tmp_path / "m.keras", custom_objects={"double": double})
    np.testing.assert_array_equal(restored.predict(x, verbose=0), model.predict(x, verbose=0))
    shaped = layers.Lambda(lambda t: t[:, :2], output_shape=(2,))
    assert shaped(layers.Input((4,))).shape == (None, 2)
    merged = layers.Lambda(lambda ts: ts[0] * ts[1])([layers.Input((3,)), layers.Input((3,))])
    assert merged.shape == (None, 3)


def test_permute_and_repeat_vector():
    out = layers.Permute((2, 1))(X)
    np.testing.assert_array_equal(out.numpy(), X.transpose(0, 2, 1))
    assert layers.Permute((2, 1))(layers.Input((10, 64))).shape == (None, 64, 10)
    rep = layers.RepeatVector(3)(X[:, 0, :])
    np.testing.assert_array_equal(rep.numpy(), np.repeat(X[:, None, 0, :], 3, axis=1))
    assert layers.RepeatVector(3)(layers.Input((32,))).shape == (None, 3, 32)
    x = cr.tensor(X[:, 0, :], requires_grad=True)
    assert gradcheck(lambda t: layers.RepeatVector(2)(t), (x,))
    with pytest.raises(ValueError, match="consecutive and start from 1"):
        layers.Permute((0, 1))
    with pytest.raises(ValueError, match="expected 2D inputs"):
        layers.RepeatVector(2)(X)


def test_rescaling():
    pixels = np.array([[0, 128, 255]], dtype=np.uint8)
    out = layers.Rescaling(1.0 / 255)(pixels)
    assert out.dtype == cr.float32
    np.testing.assert_allclose(out.numpy(), pixels / 255.0, rtol=1e-6)
    np.testing.assert_allclose(layers.Rescaling(1 / 127.5, offset=-1)(pixels).numpy(),
                               pixels / 127.5 - 1, atol=1e-6)
    per_channel = layers.Rescaling([1.0, 2.0, 3.0])(np.ones((2, 3)))
    np.testing.assert_allclose(per_channel.numpy(), [[1, 2, 3], [1, 2, 3]])
    model = Sequential([layers.Input((3,)), layers.Rescaling(0.5), layers.Dense(1)])
    assert model(np.ones((2, 3))).shape == (2, 1)


def group_norm_reference(x, groups, gamma, beta, eps):
    """Keras's GroupNormalization on channels-last x, in NumPy."""
    n, c = x.shape[0], x.shape[-1]
    g = x.reshape(n, -1, groups, c // groups)
    mean = g.mean(axis=(1, 3), keepdims=True)
    var = g.var(axis=(1, 3), keepdims=True)
    return ((g - mean) / np.sqrt(var + eps)).reshape(x.shape) * gamma + beta


def test_group_normalization(float64):
    layer = layers.GroupNormalization(groups=3, gamma_initializer="random_normal",
                                      beta_initializer="random_normal")
    out = layer(X[..., :6]).detach().numpy()
    gamma, beta = layer.get_weights()
    np.testing.assert_allclose(out, group_norm_reference(X, 3, gamma, beta, 1e-3), rtol=1e-10)
    assert (layers.GroupNormalization().groups, layers.GroupNormalization().epsilon) == (32, 1e-3)
    instance = layers.GroupNormalization(groups=-1)
    np.testing.assert_allclose(instance(X).detach().numpy(),
                               group_norm_reference(X, 6, 1.0, 0.0, 1e-3), rtol=1e-10)
    first = layers.GroupNormalization(groups=2, axis=1)(X).detach().numpy()   # channels: axis 1
    moved = group_norm_reference(X.transpose(0, 2, 1), 2, 1.0, 0.0, 1e-3).transpose(0, 2, 1)
    np.testing.assert_allclose(first, moved, rtol=1e-10)
    with pytest.raises(ValueError, match=r"must be a multiple of the number of channels \(6\)"):
        layers.GroupNormalization(groups=4)(X)
    with pytest.raises(ValueError, match=r"cannot be more than the number of channels \(6\)"):
        layers.GroupNormalization(groups=8)(X)
    x = cr.tensor(X[:2, :2], requires_grad=True)
    assert gradcheck(lambda t: layers.GroupNormalization(groups=2, name="g")(t), (x,))


def test_unit_normalization():
    out = layers.UnitNormalization()(X).numpy()
    np.testing.assert_allclose(out, X / np.sqrt((X ** 2).sum(-1, keepdims=True)), rtol=1e-12)
    both = layers.UnitNormalization(axis=[1, 2])(X).numpy()
    np.testing.assert_allclose(both, X / np.sqrt((X ** 2).sum((1, 2), keepdims=True)),
                               rtol=1e-12)
    zero = layers.UnitNormalization()(np.zeros((1, 3))).numpy()
    np.testing.assert_array_equal(zero, np.zeros((1, 3)))
    tiny = np.array([[1e-8, 0.0]])   # below Keras's floor: x · rsqrt(max(Σx², 1e-12))
    np.testing.assert_allclose(layers.UnitNormalization()(tiny).numpy(), tiny / 1e-6, rtol=1e-9)


def test_new_layers_round_trip_through_save(tmp_path):
    inputs = layers.Input((4, 6))
    h = layers.GroupNormalization(groups=2)(inputs)
    h = layers.PReLU(shared_axes=[1])(h)
    h = layers.Permute((2, 1))(h)
    h = layers.Flatten()(h)
    h = layers.UnitNormalization()(layers.ReLU(max_value=6.0)(h))
    h = layers.RepeatVector(2)(layers.Dense(3)(h))
    h = layers.Softmax(axis=1)(layers.LeakyReLU()(h))
    model = Model(inputs, layers.ELU()(layers.Rescaling(2.0, 1.0)(h)))
    model.save(tmp_path / "m.keras")
    restored = cr.load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(restored.predict(X, verbose=0), model.predict(X, verbose=0))


def test_one_tensor_layers_refuse_a_list():
    with pytest.raises(TypeError, match="takes one tensor, received a list of 2"):
        layers.Dense(2)([layers.Input((3,)), layers.Input((3,))])
