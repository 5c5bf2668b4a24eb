"""One registry for every name the Keras side looks up: one error format with the closest name,
configs rebuilt only from registered classes, the CLI's optimizer names; and the shape of the code
(Model.fit's visible signature, helpers in keras.utils, no keras file over ~450 lines)."""
import inspect
import pathlib
import re

import pytest

import chainrule as cr
from chainrule.errors import ConfigError
from chainrule.keras import (callbacks, losses, metrics, optimizers, regularizers, registry,
                             utils)
from chainrule.keras.layers import activations, initializers
from chainrule.keras.optimizers import schedules

KERAS = pathlib.Path(cr.__file__).parent / "keras"


@pytest.mark.parametrize("get, kind, typo, meant", [
    (losses.get, "loss", "kl_divergance", "kl_divergence"),
    (metrics.get, "metric", "f1_scor", "f1_score"),
    (optimizers.get, "optimizer", "nadm", "nadam"),
    (activations.get, "activation", "sigmod", "sigmoid"),
    (initializers.get, "initializer", "he_normall", "he_normal"),
    (regularizers.get, "regularizer", "l22", "l2"),
])
def test_one_error_format_with_did_you_mean(get, kind, typo, meant):
    with pytest.raises(ConfigError) as e:
        get(typo)
    message = str(e.value)
    assert message.startswith(f"Unknown {kind}: {typo!r}. Did you mean {meant!r}? Known ")
    with pytest.raises(ConfigError, match=rf"^Could not interpret {kind}"):
        get(3.5)


def test_layer_classes_and_schedules_use_the_same_registry():
    assert registry.LAYERS.lookup("StringLookup") is cr.layers.StringLookup
    with pytest.raises(ConfigError, match=r"Unknown layer class: 'Permut'\. Did you mean "
                                          r"'Permute'\?"):
        registry.LAYERS.lookup("Permut")
    with pytest.raises(ConfigError, match=r"Unknown learning rate schedule: 'CosineDeca'\. "
                                          r"Did you mean 'CosineDecay'\?"):
        schedules.deserialize({"class_name": "CosineDeca", "config": {}})
    assert registry.CALLBACKS.lookup("BackupAndRestore") is callbacks.BackupAndRestore


def test_configs_only_rebuild_registered_classes():
    entry = optimizers.serialize(optimizers.Lion(learning_rate=0.01))
    assert entry["class_name"] == "Lion"
    assert optimizers.deserialize(entry).learning_rate == 0.01
    with pytest.raises(ConfigError, match="Unknown optimizer config"):
        optimizers.deserialize({"class_name": "os.system", "config": {}})
    with pytest.raises(ConfigError, match="names a function"):
        losses.get({"class_name": "mean_squared_error", "config": {}})
    assert isinstance(losses.get({"class_name": "Huber", "config": {"delta": 2.0}}), losses.Huber)
    assert metrics.get(metrics.serialize(metrics.R2Score(num_regressors=1))).num_regressors == 1
    with pytest.raises(ConfigError, match="cannot serialize"):
        losses.serialize(lambda t, p: t)


def test_optimizer_names_for_the_command_line():
    names = registry.optimizer_names()
    assert names == sorted(names) and all(n == n.lower() for n in names)
    assert {"adam", "adamw", "sgd", "rmsprop", "adagrad", "adamax", "nadam", "adadelta",
            "lion"} == set(names)
    for name in names:
        assert isinstance(registry.OPTIMIZERS.lookup(name)(), optimizers.Optimizer)


def test_fit_signature_is_keras_s():
    params = list(inspect.signature(cr.Model.fit).parameters)
    assert params[:10] == ["self", "x", "y", "batch_size", "epochs", "verbose", "callbacks",
                           "validation_split", "validation_data", "shuffle"]
    for method in ("evaluate", "predict", "compile", "train_on_batch"):
        kinds = {p.kind for p in inspect.signature(getattr(cr.Model, method)).parameters.values()}
        assert inspect.Parameter.VAR_POSITIONAL not in kinds, method
    assert cr.Sequential.fit is cr.Model.fit


def test_helpers_live_in_utils_and_positive_int_is_written_once():
    for name in ("unique_name", "clear_session", "snake_case", "check_name", "positive_int",
                 "normalize_shape", "to_tensor", "weight_budget"):
        assert callable(getattr(utils, name))
    base = (KERAS / "layers" / "base.py").read_text()
    assert re.findall(r"^class (\w+)", base, re.M) == ["Layer"]
    assert not re.findall(r"^def (?!_)(\w+)", base, re.M)      # no public helpers beside it
    definitions = [p for p in KERAS.rglob("*.py")
                   if re.search(r"^def positive_int\(", p.read_text(), re.M)]
    assert definitions == [KERAS / "utils.py"]


@pytest.mark.parametrize("cls, name", [
    ("Conv2D", "conv2d"), ("Conv1DTranspose", "conv1d_transpose"), ("GRU", "gru"),
    ("LSTMCell", "lstm_cell"), ("BatchNormalization", "batch_normalization"),
    ("MaxPooling2D", "max_pooling2d"), ("GlobalAveragePooling2D", "global_average_pooling2d"),
    ("InputLayer", "input_layer"), ("F1Score", "f1_score"), ("Dense", "dense")])
def test_snake_case_is_keras_3s(cls, name):
    assert utils.snake_case(cls) == name


def test_layers_auto_names_are_keras_3s():
    from chainrule.keras import layers
    utils.clear_session()
    assert [layers.Conv2D(2, 3).name, layers.Conv2D(2, 3).name, layers.GRU(3).name,
            layers.GlobalAveragePooling2D().name] == ["conv2d", "conv2d_1", "gru",
                                                      "global_average_pooling2d"]


def test_no_keras_file_is_over_about_450_lines():
    too_long = {str(p.relative_to(KERAS)): n for p in KERAS.rglob("*.py")
                if (n := len(p.read_text().splitlines())) > 460}
    assert not too_long
