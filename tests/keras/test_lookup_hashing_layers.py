"""StringLookup, IntegerLookup (Keras 3's index layout), Discretization and Hashing, against Keras's
documented examples and test vectors; the hashes against FarmHash's and SipHash's reference
implementations; text through a model with a string Input."""
import numpy as np
import pytest

import chainrule as cr
from chainrule.keras import Model, clear_session, layers
from chainrule.keras.layers.hashing import fingerprint64, siphash64


@pytest.fixture(autouse=True)
def fresh_names():
    clear_session()


# ---- StringLookup / IntegerLookup -------------------------------------------------------------

def test_string_lookup_documented_examples():
    vocab = ["a", "b", "c", "d"]
    data = np.array([["a", "c", "d"], ["d", "z", "b"]])
    np.testing.assert_array_equal(layers.StringLookup(vocabulary=vocab)(data).numpy(),
                                  [[1, 3, 4], [4, 0, 2]])
    adapted = layers.StringLookup()
    adapted.adapt(data)
    assert adapted.get_vocabulary() == ["[UNK]", "d", "z", "c", "b", "a"]
    two_oov = layers.StringLookup(vocabulary=vocab, num_oov_indices=2)
    np.testing.assert_array_equal(two_oov(np.array([["a", "c", "d"], ["m", "z", "b"]])).numpy(),
                                  [[2, 4, 5], [0, 1, 3]])
    one_hot = layers.StringLookup(vocabulary=vocab, output_mode="one_hot")
    np.testing.assert_array_equal(one_hot(np.array(["a", "b", "c", "d", "z"])).numpy(),
                                  np.eye(5)[[1, 2, 3, 4, 0]])
    multi = layers.StringLookup(vocabulary=vocab, output_mode="multi_hot")
    np.testing.assert_array_equal(multi(data).numpy(), [[0, 1, 0, 1, 1], [1, 0, 1, 0, 1]])
    count = layers.StringLookup(vocabulary=vocab, output_mode="count")
    np.testing.assert_array_equal(count(np.array([["a", "c", "d", "d"], ["d", "z", "b", "z"]]))
                                  .numpy(), [[0, 1, 0, 1, 2], [2, 0, 1, 0, 1]])
    inverse = layers.StringLookup(vocabulary=vocab, invert=True)
    np.testing.assert_array_equal(inverse(np.array([[1, 3, 4], [4, 0, 2]])).numpy(),
                                  [["a", "c", "d"], ["d", "[UNK]", "b"]])


def test_mask_token_layout_depends_on_the_output_mode():
    vocab = ["a", "b", "c", "d"]
    data = np.array([["a", "c", "d"], ["d", "", "b"]])
    masked = layers.StringLookup(vocabulary=vocab, mask_token="")
    np.testing.assert_array_equal(masked(data).numpy(), [[2, 4, 5], [5, 0, 3]])
    assert masked.get_vocabulary() == ["", "[UNK]", "a", "b", "c", "d"]
    hot = layers.StringLookup(vocabulary=vocab, mask_token="", output_mode="multi_hot")
    assert hot.vocabulary_size() == 5                      # the mask is not indexed: dropped
    np.testing.assert_array_equal(hot(np.array([["", "a"]])).numpy(), [[0, 1, 0, 0, 0]])


def test_integer_lookup_keras_examples():
    data = np.array([[12, 1138, 42], [42, 1000, 36]])
    lookup = layers.IntegerLookup()
    lookup.adapt(data)
    assert lookup.get_vocabulary() == [-1, 42, 1138, 1000, 36, 12]   # Keras's documented order
    vocab = [12, 36, 1138, 42]
    np.testing.assert_array_equal(layers.IntegerLookup(vocabulary=vocab)(data).numpy(),
                                  [[1, 3, 4], [4, 0, 2]])
    inverse = layers.IntegerLookup(vocabulary=vocab, invert=True)
    np.testing.assert_array_equal(inverse(np.array([[1, 3, 4], [4, 0, 2]])).numpy(),
                                  [[12, 1138, 42], [42, -1, 36]])
    special = layers.IntegerLookup(vocabulary=[-1, 12, 36])   # special tokens may lead
    assert special.get_vocabulary() == [-1, 12, 36]
    padded = layers.IntegerLookup(vocabulary=[5, 6], output_mode="one_hot",
                                  max_tokens=6, pad_to_max_tokens=True)
    assert padded(np.array([6])).shape == (1, 6)


def test_several_oov_indices_hash_strings_with_farmhash():
    lookup = layers.StringLookup(vocabulary=["a"], num_oov_indices=3)
    words = np.array(["omar", "stringer", "marlo"])
    expected = [fingerprint64(w.encode()) % 3 for w in words]
    np.testing.assert_array_equal(lookup(words).numpy(), expected)


def test_lookup_errors_and_config():
    with pytest.raises(ValueError, match="repeated term"):
        layers.StringLookup(vocabulary=["a", "a"])
    with pytest.raises(ValueError, match="mask token"):
        layers.StringLookup(vocabulary=["a", ""], mask_token="")
    with pytest.raises(ValueError, match="tf_idf"):
        layers.StringLookup(output_mode="tf_idf")
    with pytest.raises(ValueError, match="`output_mode` must be 'int' when `invert`"):
        layers.StringLookup(invert=True, output_mode="one_hot")
    with pytest.raises(ValueError, match="token 'z' is not in the vocabulary"):
        layers.StringLookup(vocabulary=["a"], num_oov_indices=0)(np.array(["z"]))
    layer = layers.StringLookup(vocabulary=["x", "y"], oov_token="?", name="words")
    again = layers.StringLookup.from_config(layer.get_config())
    assert again.get_vocabulary() == ["?", "x", "y"] and again.name == "words"


def test_string_input_model_trains_and_round_trips(tmp_path):
    rng = np.random.default_rng(0)
    colours = rng.choice(["red", "green", "blue"], size=(60, 1))
    y = (colours[:, 0] == "red").astype(float)
    lookup = layers.StringLookup(output_mode="one_hot")
    lookup.adapt(colours)
    inputs = layers.Input((1,), dtype="string", name="colour")
    h = layers.Concatenate()([lookup(inputs), layers.Hashing(4, output_mode="one_hot")(inputs)])
    model = Model(inputs, layers.Dense(1, activation="sigmoid")(h))
    model.compile(cr.keras.optimizers.Adam(0.05), "binary_crossentropy", ["accuracy"])
    history = model.fit(colours, y, epochs=30, verbose=0)
    assert history.history["accuracy"][-1] == 1.0
    model.save(tmp_path / "m.keras")
    restored = cr.load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(restored.predict(colours, verbose=0),
                                  model.predict(colours, verbose=0))
    with pytest.raises(TypeError, match="must hold strings"):
        model.predict(np.zeros((2, 1)), verbose=0)


# ---- Discretization ---------------------------------------------------------------------------

def test_discretization_documented_examples():
    x = np.array([[-1.5, 1.0, 3.4, 0.5], [0.0, 3.0, 1.3, 0.0]])
    given = layers.Discretization(bin_boundaries=[0.0, 1.0, 2.0])
    np.testing.assert_array_equal(given(x).numpy(), [[0, 2, 3, 1], [1, 3, 2, 1]])
    adapted = layers.Discretization(num_bins=4, epsilon=0.01)
    adapted.adapt(x)
    np.testing.assert_array_equal(adapted(x).numpy(), [[0, 2, 3, 2], [1, 3, 3, 1]])
    assert adapted(x).dtype == cr.int64
    hot = layers.Discretization(bin_boundaries=[0.0, 1.0], output_mode="one_hot")
    np.testing.assert_array_equal(hot(np.array([-1.0, 0.5, 9.0])).numpy(), np.eye(3))


def test_discretization_quantiles_of_a_large_sample():
    data = np.random.default_rng(1).normal(size=10000)
    layer = layers.Discretization(num_bins=4)
    layer.adapt([data[:3000], data[3000:]])
    np.testing.assert_allclose(layer.bin_boundaries, np.quantile(data, [0.25, 0.5, 0.75]),
                               atol=0.05)
    counts = np.bincount(layer(data).numpy(), minlength=4)
    assert counts.min() > 2300 and counts.max() < 2700
    again = layers.Discretization.from_config(layer.get_config())
    assert again.bin_boundaries == layer.bin_boundaries
    with pytest.raises(ValueError, match="either `num_bins` or `bin_boundaries`"):
        layers.Discretization()
    with pytest.raises(ValueError, match="initialized with `bin_boundaries`"):
        layers.Discretization(bin_boundaries=[0.0]).adapt(data)


# ---- Hashing ----------------------------------------------------------------------------------

WORDS = np.array([["omar"], ["stringer"], ["marlo"], ["wire"], ["skywalker"]])


@pytest.mark.parametrize("kwargs, data, expected", [   # Keras 3's documented bins
    ({"num_bins": 3}, [["A"], ["B"], ["C"], ["D"], ["E"]], [1, 0, 1, 1, 2]),
    ({"num_bins": 3, "mask_value": ""}, [["A"], ["B"], [""], ["C"], ["D"]], [1, 1, 0, 2, 2]),
    ({"num_bins": 3, "salt": [133, 137]}, [["A"], ["B"], ["C"], ["D"], ["E"]], [1, 2, 1, 0, 2]),
    ({"num_bins": 3, "salt": 133}, [["A"], ["B"], ["C"], ["D"], ["E"]], [0, 0, 2, 1, 0]),
    ({"num_bins": 2}, WORDS, [0, 0, 1, 0, 0]),
    ({"num_bins": 3, "mask_value": "omar"}, WORDS, [0, 1, 2, 1, 1]),
    ({"num_bins": 2, "salt": [133, 137]}, WORDS, [0, 1, 0, 1, 0]),
    ({"num_bins": 2, "salt": [211, 137]}, WORDS, [1, 0, 1, 0, 1]),
    ({"num_bins": 3}, [[0], [1], [2], [3], [4]], [1, 0, 1, 0, 2]),
    ({"num_bins": 3, "salt": [133, 137]}, [[0], [1], [2], [3], [4]], [1, 1, 2, 0, 1]),
    ({"num_bins": 1}, [["A"], ["B"]], [0, 0]),
])
def test_hashing_matches_keras(kwargs, data, expected):
    out = layers.Hashing(**kwargs)(np.asarray(data))
    np.testing.assert_array_equal(out.numpy().ravel(), expected)
    assert out.dtype == cr.int64


def test_hashing_output_modes():
    np.testing.assert_array_equal(
        layers.Hashing(3, output_mode="one_hot")(np.array([0, 1, 2, 3, 4])).numpy(),
        np.eye(3)[[1, 0, 1, 0, 2]])
    np.testing.assert_array_equal(
        layers.Hashing(3, output_mode="multi_hot")(np.array([[0, 1, 2, 3, 4]])).numpy(),
        [[1.0, 1.0, 1.0]])
    np.testing.assert_array_equal(
        layers.Hashing(3, output_mode="count")(np.array([0, 1, 2, 3, 4])).numpy(),
        [2.0, 2.0, 1.0])
    assert layers.Hashing(3, output_mode="one_hot")(layers.Input((1,), dtype="int32")).shape \
        == (None, 3)
    with pytest.raises(ValueError, match="can only be a tuple of size 2"):
        layers.Hashing(2, salt=[1])


# FarmHash Fingerprint64 and SipHash-2-4 (key 00 01 ... 0f) of bytes (7i + 3) mod 256, i < n, from
# the reference C implementations (pyfarmhash, siphashc): every code path of both hashes.
REFERENCE = {0: (0x9ae16a3b2f90404f, 0x726fdb47dd0e0e31), 1: (0xbec09cc447469d8b, 0x13d7290c4face4b3),
             3: (0x40b4412e33eefd64, 0x9cde980d15b390bd), 4: (0xf3c7ee05197a7b92, 0x418e1188388ebafc),
             7: (0x4fef0b39c12aa9a4, 0xeee720a846be9b66), 8: (0x0c97ecbc1e9d2626, 0x842e146945dd0ad0),
             9: (0xe51cf38098a5bfff, 0xb0cf2828d05fe7f9), 15: (0x2ca35f0a039b4f1b, 0xf90c17df210df455),
             16: (0x7eda0ed8c837a168, 0xaaa7dde2c90444c0), 17: (0xc9518fe63ebf6127, 0x02da0e76dc1f2076),
             31: (0xbd5ca6ee28fc43cb, 0x0c3efd21e0d5bd05), 32: (0xa53f806f23a314e8, 0x1602e2fee72577ca),
             33: (0xc24f9d7ce864f0e9, 0x2ed4cc71df217c34), 63: (0x9643c13fc68d469c, 0x264e0e0bd1b048fd),
             64: (0x0566266cb579eca2, 0x25a000cacd85c5ab), 65: (0x77e0867714e6b0e4, 0x21b16c73f63f3905),
             100: (0x9e17c36fe4a61b08, 0xfe2c7856655f7d23), 127: (0xcaa19a12c8273b7e, 0x9da1d889c379f54e),
             128: (0x666823960b3ac271, 0x774c546f19f695bf), 129: (0x98206b8579bca083, 0x44dc6e106803ecdd),
             300: (0xdfbced116079af13, 0x6b980e7bdae1c797)}


@pytest.mark.parametrize("n", sorted(REFERENCE))
def test_hashes_against_the_reference_implementations(n):
    data = bytes((7 * i + 3) % 256 for i in range(n))
    farm, sip = REFERENCE[n]
    assert fingerprint64(data) == farm
    assert siphash64((0x0706050403020100, 0x0F0E0D0C0B0A0908), data) == sip
