"""model.save / load_model: one file, config and weights, identical predictions after a round
trip (preprocessing state included), and clear errors for damaged or hostile files."""
import io
import pickle

import numpy as np
import pytest

import chainrule as cr
from chainrule.keras import Model, Sequential, clear_session, layers, load_model, regularizers
from chainrule.keras.saving import model_to_dict
from chainrule.serialization import SerializationError


@pytest.fixture(autouse=True)
def fresh_names():
    clear_session()
    cr.manual_seed(0)


RNG = np.random.default_rng(0)
X29 = RNG.normal(size=(16, 29)).astype(np.float32)


def lecture_model():
    inputs = layers.Input(shape=(29,), name="input")
    h = layers.Dense(16, activation="relu")(inputs)
    outputs = layers.Dense(1, activation="sigmoid")(h)
    return Model(inputs, outputs)


def roundtrip(model, tmp_path, name="model.keras", **kwargs):
    path = tmp_path / name
    model.save(path)
    return load_model(path, **kwargs)


def same_predictions(a, b, x):
    pa, pb = a.predict(x, verbose=0), b.predict(x, verbose=0)
    for u, v in zip(pa if isinstance(pa, list) else [pa], pb if isinstance(pb, list) else [pb]):
        np.testing.assert_array_equal(u, v)


# ---- round trips ----------------------------------------------------------------------------------

def test_lecture_model_round_trip(tmp_path):
    model = lecture_model()
    restored = roundtrip(model, tmp_path)
    assert type(restored) is Model and restored is not model
    same_predictions(model, restored, X29)
    assert [l.name for l in restored.layers] == ["input", "dense", "dense_1"]
    assert restored.get_config() == model.get_config()
    for a, b in zip(model.get_weights(), restored.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert restored.count_params() == 497


def test_file_is_one_cr_checkpoint_in_the_documented_format(tmp_path):
    model = lecture_model()
    model.save(tmp_path / "m.keras")
    assert [p.name for p in tmp_path.iterdir()] == ["m.keras"]
    data = cr.load(tmp_path / "m.keras")
    assert set(data) == {"format", "version", "chainrule_version", "config", "weights"}
    assert (data["format"], data["version"]) == ("chainrule.keras-model", 2)
    assert data["config"]["class_name"] == "Functional"
    assert [entry["class_name"] for entry in data["config"]["config"]["layers"]] == \
        ["InputLayer", "Dense", "Dense"]
    assert [w.shape for w in data["weights"]["dense"]] == [(29, 16), (16,)]


def test_fork_and_merge_two_inputs_two_outputs_round_trip(tmp_path):
    a, b = layers.Input((3,), name="a"), layers.Input((2,), name="b")
    shared = layers.Dense(4, activation="relu", name="shared")
    left, right = shared(a), layers.Dense(4, name="right")(b)
    merged = layers.Concatenate()([layers.Add()([left, right]), shared(layers.Dense(3)(b))])
    out1 = layers.Dense(1, activation="sigmoid", name="prob",
                        kernel_regularizer=regularizers.L1L2(0.01, 0.02))(merged)
    out2 = layers.Dense(2, name="reg")(layers.Dropout(0.3, seed=1)(merged))
    model = Model([a, b], [out1, out2], name="forky")
    restored = roundtrip(model, tmp_path)
    x = [RNG.normal(size=(5, 3)), RNG.normal(size=(5, 2))]
    same_predictions(model, restored, x)
    assert restored.name == "forky" and restored.output_names == ["prob", "reg"]
    assert restored.count_params() == model.count_params()
    assert len(list(restored.parameters())) == len(list(model.parameters()))  # still shared
    assert restored.get_layer("prob").kernel_regularizer.get_config() == {"l1": 0.01, "l2": 0.02}
    assert restored.losses[0].item() == pytest.approx(model.losses[0].item())


def test_preprocessing_and_batch_norm_state_round_trip(tmp_path):
    rng = np.random.default_rng(1)
    numeric = rng.normal([50.0, 120.0], [10.0, 20.0], size=(64, 2))
    codes = rng.choice([3, 6, 7], size=(64, 1))
    norm = layers.Normalization(name="norm")
    norm.adapt(numeric)
    lookup = layers.IntegerLookup(name="thal_lookup")  # indices, then one-hot by CategoryEncoding
    lookup.adapt(codes)
    direct = layers.IntegerLookup(output_mode="one_hot", name="thal_onehot")
    direct.adapt(codes)
    num_in = layers.Input((2,), name="numeric")
    cat_in = layers.Input((1,), name="thal", dtype="int64")
    onehot = layers.CategoryEncoding(4, output_mode="one_hot")(lookup(cat_in))
    h = layers.Concatenate()([norm(num_in), onehot, direct(cat_in)])
    h = layers.BatchNormalization()(layers.Dense(8, activation="relu")(h))
    h = layers.LayerNormalization()(h)
    model = Model([num_in, cat_in], layers.Dense(1, activation="sigmoid")(h))
    model.compile("adam", "binary_crossentropy", ["accuracy"])
    model.fit([numeric, codes], (codes[:, 0] == 7).astype(float), epochs=3, verbose=0)
    moving = model.get_layer("batch_normalization").get_weights()[2]
    assert not np.allclose(moving, 0)  # the moving statistics moved
    restored = roundtrip(model, tmp_path)
    same_predictions(model, restored, [numeric, codes])
    same_predictions(model, restored, [numeric + 5, np.array([[3], [9], [7]] * 21 + [[6]])])
    assert restored.get_layer("thal_lookup").get_vocabulary() == lookup.get_vocabulary()
    for a, b in zip(restored.get_layer("norm").get_weights(), norm.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(restored.get_layer("batch_normalization").get_weights()[2], moving)
    assert restored.compiled and restored.metrics_names[0] == "loss"


def test_sequential_round_trips(tmp_path):
    model = Sequential([layers.Input((4,)), layers.Dense(8, activation="gelu"),
                        layers.Dropout(0.2), layers.Dense(2, activation="softmax")], name="seq")
    restored = roundtrip(model, tmp_path)
    assert type(restored) is Sequential and restored.name == "seq"
    x = RNG.normal(size=(6, 4))
    same_predictions(model, restored, x)
    lazy = Sequential([layers.Dense(3), layers.Dense(1)])
    lazy(np.ones((2, 5)))
    same_predictions(lazy, roundtrip(lazy, tmp_path, "lazy.keras"), RNG.normal(size=(3, 5)))
    unbuilt = roundtrip(Sequential([layers.Dense(3)]), tmp_path, "unbuilt.keras")
    assert not unbuilt.built and len(unbuilt.layers) == 1


def test_nested_model_round_trip(tmp_path):
    inner = Sequential([layers.Dense(4, activation="relu"), layers.Dense(2)], name="inner")
    x = layers.Input((3,))
    model = Model(x, layers.Dense(1)(inner(x)))
    restored = roundtrip(model, tmp_path)
    same_predictions(model, restored, RNG.normal(size=(4, 3)))
    assert type(restored.get_layer("inner")) is Sequential


def test_compile_settings_round_trip(tmp_path):
    model = lecture_model()
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    data = model_to_dict(model)
    assert data["compile"]["loss"] == "binary_crossentropy"
    assert data["compile"]["metrics"] == ["accuracy"]
    assert data["compile"]["optimizer"]["class_name"] == "Adam"
    assert data["compile"]["optimizer"]["config"]["learning_rate"] == 0.001
    restored = roundtrip(model, tmp_path)
    assert restored.compiled and type(restored.optimizer) is cr.keras.optimizers.Adam
    y = (X29[:, 0] > 0).astype(float)
    restored.fit(X29, y, epochs=1, verbose=0)
    assert not roundtrip(model, tmp_path, compile=False).compiled
    custom = lecture_model()
    custom.compile(optimizer=cr.keras.optimizers.Adam(0.1), loss=lambda t, p: (p - t) ** 2)
    assert "compile" not in model_to_dict(custom)  # a lambda cannot be saved
    assert "optimizer" not in model_to_dict(custom)


def test_version_1_files_still_load(tmp_path):
    model = lecture_model()
    model.compile("adam", "binary_crossentropy", ["accuracy"])
    data = model_to_dict(model)
    data.update(version=1, compile={"optimizer": "adam", "loss": "binary_crossentropy",
                                    "metrics": ["accuracy"]})
    del data["optimizer"]
    cr.save(data, tmp_path / "v1.keras")
    restored = load_model(tmp_path / "v1.keras")
    assert restored.compiled and restored.optimizer.iterations == 0
    same_predictions(model, restored, X29)


def test_custom_layers_load_with_custom_objects(tmp_path):
    class Double(layers.Layer):
        def forward(self, x):
            return x * 2

    x = layers.Input((2,))
    model = Model(x, Double(name="double")(x))
    model.save(tmp_path / "m.keras")
    with pytest.raises(SerializationError, match=r"Unknown layer class: 'Double'.*custom_objects"):
        load_model(tmp_path / "m.keras")
    restored = load_model(tmp_path / "m.keras", custom_objects={"Double": Double})
    same_predictions(model, restored, np.ones((1, 2)))


def test_save_refuses_what_it_cannot_describe(tmp_path):
    class Sub(Model):
        def __init__(self):
            super().__init__()
            self.d = layers.Dense(1)

        def call(self, x):
            return self.d(x)

    with pytest.raises(NotImplementedError, match="subclassed model"):
        Sub().save(tmp_path / "sub.keras")
    x = layers.Input((2,))
    with pytest.raises(ValueError, match="cannot serialize activation"):
        Model(x, layers.Dense(1, activation=lambda t: t * 2)(x)).save(tmp_path / "f.keras")
    assert not (tmp_path / "f.keras").exists()
    model = lecture_model()
    model.save(tmp_path / "m.keras")
    with pytest.raises(FileExistsError):
        model.save(tmp_path / "m.keras", overwrite=False)


def test_save_to_a_file_object():
    model = lecture_model()
    buf = io.BytesIO()
    model.save(buf)
    buf.seek(0)
    same_predictions(model, load_model(buf), X29)


# ---- damaged and hostile files ------------------------------------------------------------------------

def saved_bytes(tmp_path):
    lecture_model().save(tmp_path / "m.keras")
    return (tmp_path / "m.keras").read_bytes()


def test_corrupt_file(tmp_path):
    raw = bytearray(saved_bytes(tmp_path))
    raw[-200] ^= 0xFF                      # inside the raw array bytes, after the header
    (tmp_path / "bad.keras").write_bytes(bytes(raw))
    with pytest.raises(SerializationError, match="checksum mismatch"):
        load_model(tmp_path / "bad.keras")


@pytest.mark.parametrize("keep", [0, 5, 30, 200, -1])
def test_truncated_file(tmp_path, keep):
    raw = saved_bytes(tmp_path)
    (tmp_path / "cut.keras").write_bytes(raw[:keep] if keep >= 0 else raw[:-1])
    with pytest.raises(SerializationError, match="cut.keras"):
        load_model(tmp_path / "cut.keras")


def test_foreign_files(tmp_path):
    (tmp_path / "p.keras").write_bytes(pickle.dumps({"config": "x"}))
    with pytest.raises(SerializationError, match="never unpickles"):
        load_model(tmp_path / "p.keras")
    cr.save({"dense.kernel": cr.zeros(2, 2)}, tmp_path / "state.cr")
    with pytest.raises(SerializationError, match="not a chainrule Keras model file"):
        load_model(tmp_path / "state.cr")


def rewrite(tmp_path, edit):
    """Save the lecture model, let *edit* change the loaded dict, and write it back."""
    data = cr.load(tmp_path / "m.keras") if (tmp_path / "m.keras").exists() else None
    if data is None:
        lecture_model().save(tmp_path / "m.keras")
        data = cr.load(tmp_path / "m.keras")
    edit(data)
    cr.save(data, tmp_path / "edited.keras")
    return tmp_path / "edited.keras"


def layers_of(data):
    return data["config"]["config"]["layers"]


@pytest.mark.parametrize("edit,message", [
    (lambda d: layers_of(d)[1].update(class_name="os.system"), r"Unknown layer class: 'os.system'"),
    (lambda d: layers_of(d)[1].update(class_name="Lambda2"), r"config\['layers'\]\[1\]: Unknown layer class: 'Lambda2'"),
    (lambda d: layers_of(d)[1]["config"].update(units=0), r"Dense: expected a positive int for units"),
    (lambda d: layers_of(d)[1]["config"].update(activation="__import__"), r"Unknown activation"),
    (lambda d: layers_of(d)[1]["config"].update(evil=1), r"Unrecognized keyword arguments"),
    (lambda d: layers_of(d)[1]["config"].update(kernel_initializer={"class_name": "Exec", "config": {}}),
     r"Unknown initializer config"),
    (lambda d: d["weights"].pop("dense"), r"missing the weights of layer 'dense'"),
    (lambda d: d["weights"]["dense"].pop(), r"'weights'\['dense'\].*expected 2 arrays"),
    (lambda d: d["weights"]["dense"].__setitem__(0, np.zeros((16, 29), np.float32)),
     r"'weights'\['dense'\].*weight 0 \(dense/kernel\) has shape \(29, 16\), received an array of "
     r"shape \(16, 29\)"),
    (lambda d: d["weights"].__setitem__("ghost", []), r"layer 'ghost', which the model does not have"),
    (lambda d: d["config"]["config"]["nodes"][1].update(inputs=[[5, 0]]), r"does not refer to an "
                                                                           r"output of an earlier node"),
    (lambda d: d["config"]["config"]["nodes"][1].update(layer="nope"), r"unknown layer 'nope'"),
    (lambda d: d["config"]["config"].pop("outputs"), r"missing key 'outputs'"),
    (lambda d: d.update(version=3), r"newer than this chainrule reads"),
    (lambda d: d.update(extra=1), r"unexpected entries \['extra'\]"),
    (lambda d: d.pop("config"), r"missing entry 'config'"),
    (lambda d: d.update(config={"class_name": "Dense", "config": {"units": 2}}), r"not a model"),
    (lambda d: layers_of(d)[1]["config"].update(units=10 ** 12), r"larger than the weights the "
                                                                  r"file stores"),
    (lambda d: d["weights"].__setitem__("dense", "kernel"), r"expected a dict of layer name"),
])
def test_bad_entries_are_named(tmp_path, edit, message):
    path = rewrite(tmp_path, edit)
    with pytest.raises(SerializationError, match=message):
        load_model(path)
