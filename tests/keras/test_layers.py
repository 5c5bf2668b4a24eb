"""Keras-style layers: numerics against NumPy formulas (and PyTorch where installed), Keras's
initializers and defaults, weights in Keras order, and errors in Keras's words."""
import math

import numpy as np
import pytest

import chainrule as cr
from chainrule.keras import clear_session, initializers, layers, regularizers
from chainrule.keras.layers import activations
from chainrule.nn import Module, Parameter


@pytest.fixture(autouse=True)
def fresh_names():
    clear_session()
    cr.manual_seed(0)


def f64(a):
    return cr.tensor(np.asarray(a, dtype=np.float64))


# ---- Layer basics ---------------------------------------------------------------------------------

def test_layer_is_module_with_unique_keras_names():
    a, b, bn = layers.Dense(2), layers.Dense(2), layers.BatchNormalization()
    assert isinstance(a, Module)
    assert (a.name, b.name, bn.name) == ("dense", "dense_1", "batch_normalization")
    assert layers.Dense(2, name="out").name == "out"
    assert layers.IntegerLookup().name == "integer_lookup"


@pytest.mark.parametrize("name", ["", "a.b", "a/b", 3])
def test_bad_layer_name(name):
    with pytest.raises(ValueError, match="name"):
        layers.Dense(2, name=name)


def test_unknown_keyword_is_rejected():
    with pytest.raises(TypeError, match="Unrecognized keyword arguments passed to Dense"):
        layers.Dense(2, kernel_size=3)


def test_builds_lazily_on_first_call():
    dense = layers.Dense(4)
    assert not dense.built and dense.weights == []
    with pytest.raises(ValueError, match="isn't built"):
        dense.count_params()
    y = dense(np.ones((3, 5)))
    assert dense.built and y.shape == (3, 4) and dense.count_params() == 24


def test_custom_layer_with_add_weight_and_default_output_shape():
    class Scale(layers.Layer):
        def build(self, input_shape):
            self.add_weight("w", (input_shape[-1],), initializer="ones",
                            regularizer=regularizers.L1(0.5))

        def forward(self, x):
            return x * self.w

    s = Scale()
    x = layers.Input((3,))
    y = s(x)
    assert y.shape == (None, 3)
    assert isinstance(s.w, Parameter) and s.get_weights()[0].tolist() == [1.0, 1.0, 1.0]
    np.testing.assert_allclose(s(np.full((2, 3), 2.0)).detach().numpy(), 2.0)
    assert s.losses[0].item() == 1.5


# ---- Dense ----------------------------------------------------------------------------------------

def test_dense_matches_formula_and_keras_weight_layout():
    dense = layers.Dense(3, activation="tanh")
    x = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    y = dense(x).detach().numpy()
    kernel, bias = dense.get_weights()
    assert kernel.shape == (4, 3) and bias.shape == (3,)
    assert dense.kernel.shape == (4, 3)
    np.testing.assert_allclose(y, np.tanh(x @ kernel + bias), rtol=1e-6, atol=1e-6)
    assert [n for n, _ in dense.named_parameters()] == ["kernel", "bias"]


def test_dense_on_rank_3_inputs_and_no_bias():
    dense = layers.Dense(2, use_bias=False)
    x = np.random.default_rng(1).normal(size=(2, 3, 4)).astype(np.float32)
    y = dense(x)
    assert y.shape == (2, 3, 2) and len(dense.get_weights()) == 1
    np.testing.assert_allclose(y.detach().numpy(), x @ dense.get_weights()[0], rtol=1e-5, atol=1e-6)


def test_dense_glorot_uniform_statistics_and_zero_bias():
    dense = layers.Dense(300)
    dense(np.zeros((1, 200), dtype=np.float32))
    kernel, bias = dense.get_weights()
    limit = math.sqrt(6 / (200 + 300))
    assert np.abs(kernel).max() <= limit
    assert np.abs(kernel).max() > 0.99 * limit
    assert abs(kernel.std() - limit / math.sqrt(3)) < 0.01 * limit
    assert abs(kernel.mean()) < 0.01 * limit
    assert np.all(bias == 0)


def test_dense_gradients_match_formula():
    dense = layers.Dense(2, dtype="float64")
    x = cr.tensor(np.random.default_rng(2).normal(size=(3, 4)), requires_grad=True)
    dense.build((None, 4))
    assert cr.autograd.gradcheck(lambda x, k, b: dense(x).tanh(), (x, dense.kernel, dense.bias))


def test_dense_errors():
    with pytest.raises(ValueError, match=r"^Dense: expected a positive int for units\. "
                                         r"Received: units=0$"):
        layers.Dense(0)
    with pytest.raises(ValueError, match="units=2.5"):
        layers.Dense(2.5)
    dense = layers.Dense(2)
    dense(np.ones((1, 3)))
    with pytest.raises(ValueError, match=r"expected axis -1 of input shape to have value 3, but "
                                         r"received input with shape \(1, 4\)"):
        dense(np.ones((1, 4)))


def test_dense_casts_inputs_to_its_dtype():
    dense = layers.Dense(2)
    assert dense(np.ones((1, 3), dtype=np.float64)).dtype == cr.float32
    assert dense(np.ones((1, 3), dtype=np.int64)).dtype == cr.float32


# ---- initializers ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name,shape,std", [
    ("glorot_normal", (200, 300), math.sqrt(2 / 500)),
    ("he_normal", (200, 300), math.sqrt(2 / 200)),
    ("lecun_normal", (200, 300), math.sqrt(1 / 200)),
    ("random_normal", (200, 300), 0.05),
])
def test_normal_initializers(name, shape, std):
    w = initializers.get(name)(shape)
    assert w.shape == shape and w.dtype == np.float32
    assert abs(w.std() - std) < 0.03 * std
    if name != "random_normal":  # truncated at two standard deviations of the untruncated draw
        assert np.abs(w).max() <= 2 * std / 0.87962566103423978 + 1e-6


@pytest.mark.parametrize("name,limit", [("he_uniform", math.sqrt(6 / 200)),
                                        ("glorot_uniform", math.sqrt(6 / 500)),
                                        ("lecun_uniform", math.sqrt(3 / 200)),
                                        ("random_uniform", 0.05)])
def test_uniform_initializers(name, limit):
    w = initializers.get(name)((200, 300))
    assert np.abs(w).max() <= limit and np.abs(w).max() > 0.99 * limit


def test_constant_initializers_and_seeds():
    assert np.all(initializers.get("zeros")((2, 3)) == 0)
    assert np.all(initializers.get("ones")((2,)) == 1)
    a = initializers.GlorotUniform(seed=3)((4, 4))
    b = initializers.GlorotUniform(seed=3)((4, 4))
    np.testing.assert_array_equal(a, b)
    cr.manual_seed(5)
    c = initializers.get("he_normal")((4, 4))
    cr.manual_seed(5)
    np.testing.assert_array_equal(c, initializers.get("he_normal")((4, 4)))
    d = layers.Dense(3, kernel_initializer="ones", bias_initializer=initializers.Constant(0.5))
    d(np.ones((1, 2)))
    assert d.get_weights()[0].tolist() == [[1.0] * 3] * 2 and d.get_weights()[1].tolist() == [0.5] * 3


def test_unknown_initializer_suggests_a_name():
    with pytest.raises(ValueError, match="Did you mean 'glorot_uniform'"):
        layers.Dense(2, kernel_initializer="glorot_uniforn")


# ---- activations ----------------------------------------------------------------------------------

def _erf(a):
    return np.vectorize(math.erf)(a)


X = np.array([-3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0])
SELU = (1.6732632423543772848170429916717, 1.0507009873554804934193349852946)
FORMULAS = {
    "linear": lambda x: x,
    None: lambda x: x,
    "relu": lambda x: np.maximum(x, 0),
    "sigmoid": lambda x: 1 / (1 + np.exp(-x)),
    "tanh": np.tanh,
    "softmax": lambda x: np.exp(x) / np.exp(x).sum(),
    "gelu": lambda x: 0.5 * x * (1 + _erf(x / math.sqrt(2))),
    "elu": lambda x: np.where(x > 0, x, np.exp(x) - 1),
    "selu": lambda x: SELU[1] * np.where(x > 0, x, SELU[0] * (np.exp(x) - 1)),
    "softplus": lambda x: np.log1p(np.exp(x)),
    "leaky_relu": lambda x: np.where(x > 0, x, 0.2 * x),
    "silu": lambda x: x / (1 + np.exp(-x)),
    "swish": lambda x: x / (1 + np.exp(-x)),
    "softsign": lambda x: x / (1 + np.abs(x)),
    "exponential": np.exp,
    "hard_sigmoid": lambda x: np.clip(x + 3, 0, 6) / 6,
}


@pytest.mark.parametrize("name", list(FORMULAS), ids=str)
def test_activation_formulas(name):
    got = layers.Activation(name)(f64(X)).numpy()
    np.testing.assert_allclose(got, FORMULAS[name](X), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", ["relu", "sigmoid", "tanh", "softmax", "gelu", "elu", "selu",
                                  "softplus", "leaky_relu", "silu", "softsign", "mish"])
def test_activation_gradients(name):
    x = cr.tensor(np.array([[-1.3, -0.2, 0.4, 2.1]]), requires_grad=True)
    assert cr.autograd.gradcheck(activations.get(name), (x,))


def test_relu_gradient_is_zero_at_zero_as_pytorch():
    x = cr.tensor([0.0], requires_grad=True)
    layers.Activation("relu")(x).sum().backward()
    assert x.grad.item() == 0.0


def test_unknown_activation_suggests_a_name():
    with pytest.raises(ValueError, match=r"Unknown activation: 'rleu'\. Did you mean 'relu'\?"):
        layers.Dense(2, activation="rleu")


# ---- Dropout, Flatten, Reshape, Identity ------------------------------------------------------------

def test_dropout_training_and_inference():
    drop = layers.Dropout(0.25)
    x = cr.ones(400, 50)
    y = drop(x).numpy()
    kept = y != 0
    assert abs(kept.mean() - 0.75) < 0.02
    np.testing.assert_allclose(y[kept], 1 / 0.75, rtol=1e-6)
    assert drop(x, training=False) is x
    drop.eval()
    assert drop(x) is x
    assert drop(x, training=True).numpy().min() == 0


def test_dropout_seed_and_rate_errors():
    a = layers.Dropout(0.5, seed=7)(cr.ones(10, 10)).numpy()
    b = layers.Dropout(0.5, seed=7)(cr.ones(10, 10)).numpy()
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="Expected a float value between 0 and 1. Received: rate=1.5"):
        layers.Dropout(1.5)


def test_dropout_noise_shape_shares_the_mask():
    y = layers.Dropout(0.5, noise_shape=(None, 1), seed=1)(cr.ones(50, 4)).numpy()
    assert np.all((y == y[:, :1]))


def test_flatten_reshape_identity():
    x = layers.Input((2, 3))
    assert layers.Flatten()(x).shape == (None, 6)
    assert layers.Reshape((3, -1))(x).shape == (None, 3, 2)
    assert layers.Flatten()(cr.zeros(4, 2, 3)).shape == (4, 6)
    assert layers.Reshape((6,))(cr.zeros(4, 2, 3)).shape == (4, 6)
    t = cr.ones(2, 2)
    assert layers.Identity()(t) is t
    with pytest.raises(ValueError, match="cannot reshape"):
        layers.Reshape((4,))(x)


# ---- BatchNormalization / LayerNormalization ----------------------------------------------------------

def test_batch_normalization_training_formula_and_moving_stats():
    bn = layers.BatchNormalization()
    assert (bn.momentum, bn.epsilon) == (0.99, 1e-3)
    x = np.random.default_rng(3).normal(2.0, 3.0, size=(16, 4)).astype(np.float32)
    y = bn(x).detach().numpy()
    mean, var = x.mean(0), x.var(0)
    np.testing.assert_allclose(y, (x - mean) / np.sqrt(var + 1e-3), rtol=1e-4, atol=1e-5)
    gamma, beta, moving_mean, moving_var = bn.get_weights()
    np.testing.assert_allclose(moving_mean, 0.01 * mean, rtol=1e-5)
    np.testing.assert_allclose(moving_var, 0.99 + 0.01 * var, rtol=1e-5)  # biased σ², as Keras
    assert bn.count_params() == 16
    assert len(bn.trainable_weights) == 2 and len(bn.non_trainable_weights) == 2


def test_batch_normalization_inference_uses_moving_stats():
    bn = layers.BatchNormalization(epsilon=1e-2)
    x = np.random.default_rng(4).normal(size=(8, 3)).astype(np.float32)
    bn(x)
    gamma, beta, mm, mv = bn.get_weights()
    bn.eval()
    y = bn(x).detach().numpy()
    np.testing.assert_allclose(y, gamma * (x - mm) / np.sqrt(mv + 1e-2) + beta, rtol=1e-5, atol=1e-6)
    assert np.array_equal(bn.get_weights()[2], mm)  # no update in inference


def test_frozen_batch_normalization_runs_in_inference_mode():
    bn = layers.BatchNormalization()
    x = np.random.default_rng(5).normal(size=(8, 3)).astype(np.float32)
    bn(x)
    before = bn.get_weights()
    bn.trainable = False
    bn.train()
    bn(x)
    for a, b in zip(before, bn.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert bn.trainable_weights == [] and not bn.gamma.requires_grad


def test_batch_normalization_matches_torch():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(6).normal(1.0, 2.0, size=(32, 5))
    bn = layers.BatchNormalization(momentum=0.9, epsilon=1e-3, dtype="float64")
    tbn = torch.nn.BatchNorm1d(5, momentum=1 - 0.9, eps=1e-3).double()
    xt = torch.tensor(x, requires_grad=True)
    xc = cr.tensor(x, requires_grad=True)
    w = np.random.default_rng(7).normal(size=(32, 5))
    y = bn(xc)
    (y * f64(w)).sum().backward()
    yt = tbn(xt)
    (yt * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(y.detach().numpy(), yt.detach().numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(xc.grad.numpy(), xt.grad.numpy(), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(bn.gamma.grad.numpy(), tbn.weight.grad.numpy(), rtol=1e-8)
    np.testing.assert_allclose(bn.beta.grad.numpy(), tbn.bias.grad.numpy(), rtol=1e-8)
    np.testing.assert_allclose(bn.moving_mean.numpy(), tbn.running_mean.numpy(), rtol=1e-10)
    n = x.shape[0]  # torch keeps the unbiased variance, Keras the biased one
    np.testing.assert_allclose(bn.moving_variance.numpy() - 0.9,
                               (tbn.running_var.numpy() - 0.9) * (n - 1) / n, rtol=1e-10)


def test_batch_normalization_on_rank_3_and_batch_of_one():
    bn = layers.BatchNormalization()
    x = np.random.default_rng(8).normal(size=(4, 6, 3)).astype(np.float32)
    y = bn(x).detach().numpy()
    mean, var = x.mean((0, 1)), x.var((0, 1))
    np.testing.assert_allclose(y, (x - mean) / np.sqrt(var + 1e-3), rtol=1e-4, atol=1e-5)
    one = layers.BatchNormalization()(np.ones((1, 3))).detach().numpy()
    assert np.all(one == 0)


def test_layer_normalization_matches_formula_and_torch():
    ln = layers.LayerNormalization(dtype="float64")
    assert ln.epsilon == 1e-3
    x = np.random.default_rng(9).normal(size=(4, 6))
    xc = cr.tensor(x, requires_grad=True)
    y = ln(xc)
    want = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-3)
    np.testing.assert_allclose(y.detach().numpy(), want, rtol=1e-10, atol=1e-12)
    assert cr.autograd.gradcheck(lambda x, g, b: ln(x), (xc, ln.gamma, ln.beta))
    torch = pytest.importorskip("torch")
    tln = torch.nn.LayerNorm(6, eps=1e-3).double()
    np.testing.assert_allclose(y.detach().numpy(), tln(torch.tensor(x)).detach().numpy(), rtol=1e-10)


def test_layer_normalization_over_non_trailing_axis():
    ln = layers.LayerNormalization(axis=1)
    x = np.random.default_rng(10).normal(size=(2, 3, 4)).astype(np.float32)
    y = ln(x).detach().numpy()
    want = (x - x.mean(1, keepdims=True)) / np.sqrt(x.var(1, keepdims=True) + 1e-3)
    np.testing.assert_allclose(y, want, rtol=1e-4, atol=1e-5)
    assert ln.gamma.shape == (3,)


# ---- merging ---------------------------------------------------------------------------------------

def test_merge_layers():
    a, b = f64([[1.0, 2.0]]), f64([[3.0, 5.0]])
    assert layers.Add()([a, b]).tolist() == [[4.0, 7.0]]
    assert layers.Subtract()([a, b]).tolist() == [[-2.0, -3.0]]
    assert layers.Multiply()([a, b]).tolist() == [[3.0, 10.0]]
    assert layers.Average()([a, b]).tolist() == [[2.0, 3.5]]
    assert layers.Maximum()([a, b]).tolist() == [[3.0, 5.0]]
    assert layers.Minimum()([a, b]).tolist() == [[1.0, 2.0]]
    assert layers.Concatenate()([a, b]).tolist() == [[1.0, 2.0, 3.0, 5.0]]
    assert layers.Concatenate(axis=0)([a, b]).shape == (2, 2)
    x, y = layers.Input((3,)), layers.Input((4,))
    assert layers.concatenate([x, y]).shape == (None, 7)
    assert layers.add([x, layers.Dense(3)(y)]).shape == (None, 3)


def test_merge_errors():
    x, y = layers.Input((3,)), layers.Input((4,))
    with pytest.raises(ValueError, match="at least 2 inputs. Received: 1 input"):
        layers.Add()([x])
    with pytest.raises(ValueError, match="matching shapes"):
        layers.Add()([x, y])
    with pytest.raises(ValueError, match="matching shapes except for the concatenation axis"):
        layers.Concatenate(axis=0)([x, y])
    with pytest.raises(ValueError, match="exactly 2"):
        layers.Subtract()([x, x, x])


# ---- weights: get, set, freeze --------------------------------------------------------------------------

def test_get_and_set_weights():
    dense = layers.Dense(2)
    dense(np.ones((1, 3)))
    k = np.arange(6, dtype=np.float32).reshape(3, 2)
    dense.set_weights([k, np.array([1.0, -1.0])])
    got = dense.get_weights()
    np.testing.assert_array_equal(got[0], k)
    got[0][0, 0] = 100.0  # copies: the layer is unchanged
    assert dense.get_weights()[0][0, 0] == 0.0
    np.testing.assert_allclose(dense(np.ones((1, 3))).detach().numpy(), [[7.0, 8.0]])


def test_set_weights_errors_change_nothing():
    dense = layers.Dense(2)
    dense(np.ones((1, 3)))
    before = dense.get_weights()
    with pytest.raises(ValueError, match=r"expected 2 arrays \[kernel \(3, 2\), bias \(2,\)\], "
                                         r"received 1"):
        dense.set_weights([np.zeros((3, 2))])
    with pytest.raises(ValueError, match=r"weight 1 \(dense/bias\) has shape \(2,\), received an "
                                         r"array of shape \(3,\)"):
        dense.set_weights([np.zeros((3, 2)), np.zeros(3)])
    with pytest.raises(ValueError, match="must be numeric"):
        dense.set_weights([np.zeros((3, 2)), np.array(["a", "b"])])
    with pytest.raises(ValueError, match="expects a list"):
        dense.set_weights(np.zeros((3, 2)))
    for a, b in zip(before, dense.get_weights()):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="not built yet"):
        layers.Dense(2).set_weights([np.zeros((3, 2)), np.zeros(2)])


def test_trainable_false_freezes_weights():
    dense = layers.Dense(2, trainable=False)
    dense(np.ones((1, 3)))
    assert not any(p.requires_grad for p in dense.parameters())
    assert dense.trainable_weights == [] and len(dense.non_trainable_weights) == 2
    dense.trainable = True
    assert all(p.requires_grad for p in dense.parameters())
