"""Preprocessing layers: Normalization (adapt: population statistics, Keras's formula),
CategoryEncoding and IntegerLookup (one-hot codes), inside models."""
import numpy as np
import pytest

import chainrule as cr
from chainrule.keras import Model, Sequential, clear_session, layers


@pytest.fixture(autouse=True)
def fresh_names():
    clear_session()
    cr.manual_seed(0)


DATA = np.random.default_rng(0).normal([1.0, -5.0, 100.0], [2.0, 0.5, 30.0], size=(200, 3))


# ---- Normalization ------------------------------------------------------------------------------

def test_adapt_measures_population_mean_and_variance():
    norm = layers.Normalization()
    norm.adapt(DATA)
    mean, var, count = norm.get_weights()
    np.testing.assert_allclose(mean, DATA.mean(0), rtol=1e-6)
    np.testing.assert_allclose(var, DATA.var(0), rtol=1e-6)  # ddof=0, as Keras
    assert count == 200 and count.dtype == np.int64
    x = DATA[:5]
    want = (x - DATA.mean(0)) / np.maximum(np.sqrt(DATA.var(0)), 1e-7)
    np.testing.assert_allclose(norm(x).numpy(), want, rtol=1e-5, atol=1e-5)
    assert norm(x).dtype == cr.float32
    assert norm.count_params() == 7 and norm.trainable_weights == []


def test_adapt_in_batches_equals_adapt_at_once():
    whole, parts = layers.Normalization(), layers.Normalization()
    whole.adapt(DATA)
    parts.adapt([DATA[:37], DATA[37:150], DATA[150:]])
    for a, b in zip(whole.get_weights(), parts.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    loader = cr.data.DataLoader(cr.data.TensorDataset(cr.tensor(DATA), cr.zeros(200)), batch_size=64)
    from_loader = layers.Normalization()
    from_loader.adapt(loader)
    np.testing.assert_allclose(from_loader.get_weights()[0], DATA.mean(0), rtol=1e-5)


def test_adapt_replaces_previous_statistics():
    norm = layers.Normalization()
    norm.adapt(DATA)
    norm.adapt(DATA[:10])
    np.testing.assert_allclose(norm.get_weights()[0], DATA[:10].mean(0), rtol=1e-6)


def test_constant_column_divides_by_epsilon_not_zero():
    data = np.array([[1.0, 3.0], [1.0, 5.0]])
    norm = layers.Normalization()
    norm.adapt(data)
    out = norm(np.array([[1.0, 4.0], [1.5, 4.0]])).numpy()
    assert norm.get_weights()[1][0] == 0.0
    np.testing.assert_allclose(out[:, 0], [0.0, 0.5 / 1e-7], rtol=1e-6)  # max(sqrt(0), 1e-7)
    assert np.all(np.isfinite(out))


def test_given_mean_and_variance_axis_none_and_invert():
    norm = layers.Normalization(mean=[1.0, 2.0], variance=[4.0, 9.0])
    np.testing.assert_allclose(norm(np.array([[3.0, 5.0]])).numpy(), [[1.0, 1.0]])
    assert norm.get_weights() == []
    scalar = layers.Normalization(axis=None)
    scalar.adapt(DATA)
    np.testing.assert_allclose(scalar.get_weights()[0], DATA.mean(), rtol=1e-6)
    inv = layers.Normalization(mean=[1.0, 2.0], variance=[4.0, 9.0], invert=True)
    np.testing.assert_allclose(inv(np.array([[1.0, 1.0]])).numpy(), [[3.0, 5.0]])


def test_normalization_errors():
    with pytest.raises(ValueError, match="both `mean` and `variance` must be set"):
        layers.Normalization(mean=[0.0])
    with pytest.raises(ValueError, match="cannot adapt"):
        layers.Normalization(mean=0.0, variance=1.0).adapt(DATA)
    norm = layers.Normalization()
    norm.adapt(DATA)
    with pytest.raises(ValueError, match="incompatible"):
        norm(np.ones((2, 4)))
    with pytest.raises(ValueError, match="empty"):
        layers.Normalization().adapt([])


def test_normalization_in_a_model_and_gradient_flows():
    norm = layers.Normalization()
    norm.adapt(DATA)
    x = layers.Input((3,))
    model = Model(x, layers.Dense(1)(norm(x)))
    xt = cr.tensor(DATA[:4].astype(np.float32), requires_grad=True)
    model(xt).sum().backward()
    k = model.get_weights()[-2][:, 0]
    np.testing.assert_allclose(xt.grad.numpy()[0], k / np.sqrt(DATA.var(0)), rtol=1e-4)


# ---- CategoryEncoding ---------------------------------------------------------------------------

def test_category_encoding_modes():
    one = layers.CategoryEncoding(num_tokens=4, output_mode="one_hot")
    np.testing.assert_array_equal(one(np.array([3, 0, 2])).numpy(), np.eye(4)[[3, 0, 2]])
    np.testing.assert_array_equal(one(np.array([[3], [1]])).numpy(), np.eye(4)[[3, 1]])
    multi = layers.CategoryEncoding(num_tokens=4)
    assert multi.output_mode == "multi_hot"
    np.testing.assert_array_equal(multi(np.array([[0, 1], [0, 0], [1, 2], [3, 1]])).numpy(),
                                  [[1, 1, 0, 0], [1, 0, 0, 0], [0, 1, 1, 0], [0, 1, 0, 1]])
    count = layers.CategoryEncoding(num_tokens=3, output_mode="count")
    np.testing.assert_array_equal(count(np.array([[0, 0, 2]])).numpy(), [[2, 0, 1]])
    assert one(np.array([1.0, 2.0])).dtype == cr.float32  # whole-number floats are codes


def test_category_encoding_errors():
    with pytest.raises(ValueError, match="expected a positive int for num_tokens"):
        layers.CategoryEncoding()
    enc = layers.CategoryEncoding(num_tokens=3, output_mode="one_hot")
    with pytest.raises(ValueError, match="num_tokens=3. Received: 3"):
        enc(np.array([0, 3]))
    with pytest.raises(ValueError, match="Received: -1"):
        enc(np.array([-1]))
    with pytest.raises(ValueError, match="expected integer codes, received the value 1.5"):
        enc(np.array([1.5]))
    with pytest.raises(ValueError, match="output_mode"):
        layers.CategoryEncoding(3, output_mode="tf_idf")


# ---- IntegerLookup ------------------------------------------------------------------------------

def test_integer_lookup_adapt_and_indices():
    lookup = layers.IntegerLookup()
    lookup.adapt(np.array([7, 3, 6, 3, 7, 3, 12]))
    assert lookup.get_vocabulary() == [-1, 3, 7, 12, 6]  # by frequency, ties larger first (Keras)
    assert lookup.vocabulary_size() == 5
    np.testing.assert_array_equal(lookup(np.array([3, 12, 99, 7])).numpy(), [1, 3, 0, 2])
    assert lookup(np.array([3])).dtype == cr.int64


def test_integer_lookup_one_hot_mask_and_oov_buckets():
    lookup = layers.IntegerLookup(vocabulary=[10, 20], output_mode="one_hot")
    np.testing.assert_array_equal(lookup(np.array([20, 5])).numpy(), [[0, 0, 1], [1, 0, 0]])
    masked = layers.IntegerLookup(vocabulary=[10, 20], mask_token=0)
    np.testing.assert_array_equal(masked(np.array([0, 10, 20, 5])).numpy(), [0, 2, 3, 1])
    assert masked.get_vocabulary() == [0, -1, 10, 20]
    buckets = layers.IntegerLookup(vocabulary=[10], num_oov_indices=2)
    np.testing.assert_array_equal(buckets(np.array([4, 5, 10])).numpy(), [0, 1, 2])
    strict = layers.IntegerLookup(vocabulary=[10], num_oov_indices=0)
    with pytest.raises(ValueError, match="the token 4 is not in the vocabulary"):
        strict(np.array([4]))
    capped = layers.IntegerLookup(max_tokens=3)
    capped.adapt(np.array([1, 1, 1, 2, 2, 3]))
    assert capped.get_vocabulary() == [-1, 1, 2]


def test_integer_lookup_errors():
    with pytest.raises(ValueError, match="repeated term"):
        layers.IntegerLookup(vocabulary=[1, 1])
    lookup = layers.IntegerLookup(output_mode="one_hot")
    with pytest.raises(ValueError, match="has no vocabulary yet"):
        lookup(np.array([1]))
    with pytest.raises(ValueError, match="call adapt"):
        lookup(layers.Input((1,), dtype="int64"))


def test_tabular_model_with_preprocessing_trains():
    rng = np.random.default_rng(1)
    numeric = rng.normal([50.0, 120.0], [10.0, 20.0], size=(200, 2))
    codes = rng.choice([3, 6, 7], size=(200, 1))
    y = ((numeric[:, 0] > 50) ^ (codes[:, 0] == 7)).astype(np.float32)
    norm = layers.Normalization()
    norm.adapt(numeric)
    lookup = layers.IntegerLookup(output_mode="one_hot")
    lookup.adapt(codes)
    num_in = layers.Input((2,), name="numeric")
    cat_in = layers.Input((1,), name="thal", dtype="int64")
    h = layers.Concatenate()([norm(num_in), lookup(cat_in)])
    assert h.shape == (None, 6)
    h = layers.Dense(16, activation="relu")(h)
    model = Model([num_in, cat_in], layers.Dense(1, activation="sigmoid")(h))
    model.compile("adam", "binary_crossentropy", ["accuracy"])
    hist = model.fit({"numeric": numeric, "thal": codes}, y, epochs=40, verbose=0)
    assert hist.history["accuracy"][-1] > 0.85
    seq = Sequential([layers.Input((2,)), norm, layers.Dense(1)])
    assert seq(numeric[:3]).shape == (3, 1)
