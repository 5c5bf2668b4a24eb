"""Bad input at every public entry point: one test per case of the hardening issue.

Tensor ops, layers, losses, the DataLoader, ``Model.fit`` / ``evaluate`` / ``predict`` and the
command line each meet wrong shapes, wrong dtypes, NaN or inf in the data, labels outside the class
range, x and y of different lengths, empty data, non-positive batch sizes or epochs and unknown
names. Every case asserts three things: the exception is one of chainrule's own types (a
``cr.errors.ChainruleError`` of the right kind, which is also the builtin users catch), the message
names the argument, the shape, the row or the column, and the call changed no state (parameters,
buffers, optimiser state, metrics, the random generators).

Cases whose raise site lives in a file owned elsewhere (``ops/arithmetic.py``, ``tensor.py``,
``nn/functional/loss.py``, ``nn/functional/linear.py``, ``optim/adam.py``) check today's message and
builtin type, and mark the chainrule type as ``xfail(strict=True)``: once the raise is converted the
xfail passes unexpectedly and the marker is to be removed.
"""
import csv
import io
import re

import numpy as np
import pytest

import chainrule as cr
from chainrule import errors
from chainrule.cli.main import main
from chainrule.data import DataLoader, TensorDataset, random_split
from chainrule.data.collate import default_collate
from chainrule.datasets import load_heart_disease
from chainrule.errors import (ArgumentTypeError, ChainruleError, ConfigError, DataError,
                              DTypeError, IndexOutOfRangeError, LabelError, ShapeError)
from chainrule.keras import losses as keras_losses
from chainrule.keras import metrics as keras_metrics
from chainrule.keras import optimizers as keras_optimizers
from chainrule.keras import regularizers
from chainrule.keras.layers import activations as keras_activations
from chainrule.nn import functional as F

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def raises(kind, *patterns):
    """``pytest.raises(kind)`` that also checks every regex in *patterns* against the message."""
    return _Raises(kind, patterns)


class _Raises:
    def __init__(self, kind, patterns):
        self.kind, self.patterns = kind, patterns

    def __enter__(self):
        self.ctx = pytest.raises(self.kind)
        self.info = self.ctx.__enter__()
        return self.info

    def __exit__(self, *exc):
        swallowed = self.ctx.__exit__(*exc)
        err = self.info.value
        assert isinstance(err, ChainruleError), f"{type(err).__mro__} is not a ChainruleError"
        for p in self.patterns:
            assert re.search(p, str(err)), f"{p!r} not found in the message: {err}"
        return swallowed


# ---- the exception types ---------------------------------------------------------------------------
@pytest.mark.parametrize("kind, builtins", [
    (ShapeError, (ValueError,)), (IndexOutOfRangeError, (IndexError, ValueError, ShapeError)),
    (DTypeError, (TypeError,)), (DataError, (ValueError,)), (LabelError, (IndexError, DataError)),
    (ConfigError, (ValueError,)), (errors.SerializationError, (ValueError,)),
    (errors.CheckpointError, (errors.SerializationError,)),
    (errors.StateDictError, (RuntimeError, errors.CheckpointError)),
])
def test_each_error_is_a_chainrule_error_and_the_builtin_users_catch(kind, builtins):
    assert issubclass(kind, ChainruleError)
    for b in builtins:
        assert issubclass(kind, b)
    assert cr.SerializationError is errors.SerializationError


def test_suggest_offers_the_closest_names():
    assert errors.suggest("adm", ["adam", "sgd"]) == " Did you mean 'adam'?"
    assert errors.suggest("MSE", ["mse", "mae"]).startswith(" Did you mean 'mse'")
    assert errors.suggest("zzz", ["adam", "sgd"]) == ""


# ---- tensor ops ------------------------------------------------------------------------------------
def test_reshape_to_a_wrong_size_names_both_shapes():
    x = cr.ones(2, 3)
    with raises(ShapeError, r"shape \(4,\) is invalid for input of size 6", r"\(2, 3\)"):
        x.reshape(4)


def test_cat_of_mismatched_shapes_names_the_tensor():
    with raises(ShapeError, r"tensor 1 has shape \(2, 4\)", r"tensor 0 has shape \(2, 3\)"):
        cr.cat([cr.ones(2, 3), cr.ones(2, 4)], dim=0)


def test_stack_of_mismatched_shapes_names_the_entry():
    with raises(ShapeError, r"at entry 1"):
        cr.stack([cr.ones(3), cr.ones(4)])


@pytest.mark.parametrize("op", [lambda x: x.sum(dim=2), lambda x: cr.softmax(x, dim=-3),
                                lambda x: cr.log_softmax(x, dim=5), lambda x: cr.logsumexp(x, 2),
                                lambda x: x.unsqueeze(4), lambda x: x.transpose(0, 2)])
def test_dimension_out_of_range(op):
    with raises(IndexOutOfRangeError, r"dimension out of range", r"but got -?\d"):
        op(cr.ones(2, 3))


def test_index_out_of_range_names_the_shape():
    with raises(IndexOutOfRangeError, r"index \[5\] is invalid for a tensor of shape \(3,\)"):
        cr.ones(3)[5]


def test_gather_with_a_float_index_names_the_dtype():
    with raises(DTypeError, r"gather: index must be an integer tensor, got dtype float32"):
        cr.gather(cr.ones(2, 3), 1, cr.zeros(2, 1))


@pytest.mark.parametrize("make, kind, pattern", [
    (lambda: cr.zeros(2, -1), ShapeError, r"sizes must be non-negative, got \(2, -1\)"),
    (lambda: cr.zeros("a"), ArgumentTypeError, r"expected a size given as ints"),
    (lambda: cr.randint(5, 5, (2,)), ConfigError, r"low=5, high=5"),
    (lambda: cr.arange(0, 3, 0), ConfigError, r"step must be nonzero"),
    (lambda: cr.linspace(0, 1, -2), ConfigError, r"steps must be a non-negative int, got -2"),
    (lambda: cr.rand(2, dtype=cr.int64), DTypeError, r"expected a float dtype, got int64"),
    (lambda: cr.ones(6).split(0), ConfigError, r"split_size must be a positive int, got 0"),
    (lambda: cr.ones(6).split([2, 2]), ShapeError, r"sum to 4, but dimension 0 of shape \(6,\)"),
    (lambda: cr.ones(3).norm(p="bad"), ConfigError, r"p must be 'fro'"),
])
def test_factories_and_shape_helpers_name_the_argument(make, kind, pattern):
    with raises(kind, pattern):
        make()


def test_one_hot_labels_outside_the_class_range():
    with raises(LabelError, r"smaller than num_classes=3, got 3"):
        F.one_hot(cr.tensor([0, 3]), num_classes=3)
    with raises(LabelError, r"non-negative, got -1"):
        F.one_hot(cr.tensor([0, -1]), num_classes=3)


def test_random_generator_state_of_the_wrong_form_changes_nothing():
    g = cr.Generator().manual_seed(1)
    before = g.get_state()
    bad = dict(before, state=-5)
    with raises(ConfigError, r"entry 'state' must be an int"):
        g.set_state(bad)
    assert g.get_state() == before
    with raises(ArgumentTypeError, r"expected an int seed, got 'x'"):
        cr.manual_seed("x")


# raise sites in the core's hot-path files: the message, the builtin type and the chainrule type
OWNED_ELSEWHERE = [
    ("add", lambda: cr.ones(2, 3) + cr.ones(4), ValueError, ShapeError,
     r"shapes \(2, 3\) and \(4,\) do not broadcast"),
    ("matmul", lambda: cr.ones(2, 3) @ cr.ones(2, 3), ValueError, ShapeError,
     r"shapes \(2, 3\) and \(2, 3\) cannot be multiplied"),
    ("maximum", lambda: cr.maximum(cr.ones(2, 3), cr.ones(4)), ValueError, ShapeError,
     r"shapes \(2, 3\) and \(4,\) do not broadcast"),
    ("tensor_of_strings", lambda: cr.tensor(["a"]), TypeError, DTypeError, r"dtype <U1"),
    ("F.linear", lambda: F.linear(cr.ones(2, 3), cr.ones(4, 5)), ValueError, ShapeError,
     r"input of shape \(2, 3\) does not fit weight of shape \(4, 5\)"),
    ("cross_entropy_label", lambda: F.cross_entropy(cr.ones(2, 3), cr.tensor([0, 3])),
     IndexError, LabelError, r"class index 3 at target\[1\].*\[0, 2\]"),
    ("nll_label", lambda: F.nll_loss(cr.ones(2, 3), cr.tensor([-1, 0])), IndexError, LabelError,
     r"class index -1 at target\[0\]"),
    ("mse_shape", lambda: F.mse_loss(cr.ones(2, 3), cr.ones(4)), ValueError, ShapeError,
     r"input has shape \(2, 3\) but target has shape \(4,\)"),
    ("bce_range", lambda: F.binary_cross_entropy(cr.ones(2) * 2, cr.ones(2)), ValueError,
     DataError, r"probabilities in \[0, 1\]"),
    ("ce_float_target", lambda: F.cross_entropy(cr.ones(2, 3), cr.tensor([0.0, 1.0])), TypeError,
     DTypeError, r"target"),
    ("adam_lr", lambda: cr.optim.Adam(cr.nn.Linear(2, 1).parameters(), lr=-1.0), ValueError,
     ConfigError, r"Invalid learning rate: -1.0"),
]


@pytest.mark.parametrize("name, call, builtin, kind, pattern", OWNED_ELSEWHERE,
                         ids=[c[0] for c in OWNED_ELSEWHERE])
def test_owned_elsewhere_message_and_builtin(name, call, builtin, kind, pattern):
    with pytest.raises(builtin, match=pattern):
        call()


@pytest.mark.parametrize("name, call, builtin, kind, pattern", OWNED_ELSEWHERE,
                         ids=[c[0] for c in OWNED_ELSEWHERE])
def test_owned_elsewhere_chainrule_type(name, call, builtin, kind, pattern):
    with pytest.raises(kind):
        call()


# ---- layers ----------------------------------------------------------------------------------------
def _state(module):
    return {k: v.detach().numpy().copy() for k, v in module.state_dict().items()}


def _same_state(a, b):
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("make, kind, pattern", [
    (lambda: cr.nn.Linear(0, 3), ConfigError, r"in_features must be a positive int, got 0"),
    (lambda: cr.nn.Linear(3, -2), ConfigError, r"out_features must be a positive int, got -2"),
    (lambda: cr.nn.Linear(3, 2, dtype=cr.int64), DTypeError, r"floating-point dtype, got int64"),
    (lambda: cr.nn.BatchNorm1d(0), ConfigError, r"num_features must be a positive int, got 0"),
    (lambda: cr.nn.LayerNorm(()), ConfigError, r"normalized_shape"),
    (lambda: cr.nn.Embedding(10, 0), ConfigError, r"embedding_dim must be a positive int"),
    (lambda: cr.nn.Dropout(1.5), ConfigError, r"between 0 and 1, but got 1.5"),
    (lambda: cr.nn.GELU("exact"), ConfigError, r"approximate must be 'none' or 'tanh'"),
    (lambda: cr.nn.CrossEntropyLoss(label_smoothing=2.0), ConfigError, r"label_smoothing=2.0"),
    (lambda: cr.nn.HuberLoss(delta=0), ConfigError, r"delta=0"),
    (lambda: cr.layers.Dense(0), ConfigError, r"units. Received: units=0"),
    (lambda: cr.layers.Dense(4, activation="rleu"), ConfigError,
     r"Unknown activation: 'rleu'. Did you mean 'relu'\?"),
    (lambda: cr.layers.Dense(4, kernel_initializer="glorot_unifrm"), ConfigError,
     r"Did you mean 'glorot_uniform'\?"),
    (lambda: cr.layers.Dense(4, kernel_regularizer="l3"), ConfigError, r"Did you mean"),
    (lambda: cr.layers.Dropout(1.5), ConfigError, r"rate"),
    (lambda: cr.layers.Input(shape=5), ShapeError, r"expected a tuple for shape"),
    (lambda: cr.layers.BatchNormalization(momentum=2.0), ConfigError, r"momentum"),
])
def test_layer_constructors_name_the_bad_argument(make, kind, pattern):
    with raises(kind, pattern):
        make()


def test_linear_with_the_wrong_number_of_features_changes_nothing():
    layer = cr.nn.Linear(3, 2)
    before = _state(layer)
    with raises(ShapeError, r"Linear\(3, 2\): expected input with last dimension 3, got shape "
                            r"\(5, 4\)"):
        layer(cr.ones(5, 4))
    assert _same_state(before, _state(layer))


def test_batchnorm_with_the_wrong_channels_keeps_its_running_statistics():
    bn = cr.nn.BatchNorm1d(3)
    bn(cr.randn(8, 3))
    before = _state(bn)
    with raises(ShapeError, r"expected input with 3 channels in dimension 1, got shape \(8, 4\)"):
        bn(cr.randn(8, 4))
    with raises(ShapeError, r"expected 2D or 3D input"):
        bn(cr.randn(8))
    assert _same_state(before, _state(bn))


def test_layernorm_and_embedding_inputs():
    with raises(ShapeError, r"trailing shape \(4,\), got shape \(2, 3\)"):
        cr.nn.LayerNorm(4)(cr.ones(2, 3))
    emb = cr.nn.Embedding(10, 3)
    with raises(IndexOutOfRangeError, r"index 12 is out of range for 10 embeddings"):
        emb(cr.tensor([1, 12]))
    with raises(DTypeError, r"integer tensor of indices"):
        emb(cr.ones(2))


def test_keras_dense_on_the_wrong_width_names_the_axis_and_shape():
    dense = cr.layers.Dense(4)
    dense(cr.ones(2, 3))
    before = [w.copy() for w in dense.get_weights()]
    with raises(ShapeError, r"expected axis -1 of input shape to have value 3", r"\(2, 5\)"):
        dense(cr.ones(2, 5))
    assert all(np.array_equal(a, b) for a, b in zip(before, dense.get_weights()))


def test_keras_set_weights_of_the_wrong_shape_changes_nothing():
    dense = cr.layers.Dense(2)
    dense(cr.ones(1, 3))
    before = [w.copy() for w in dense.get_weights()]
    with raises(ShapeError, r"weight 0 .*has shape"):
        dense.set_weights([np.zeros((4, 2)), np.zeros(2)])
    with raises(ShapeError, r"expected 2 arrays"):
        dense.set_weights([np.zeros((3, 2))])
    assert all(np.array_equal(a, b) for a, b in zip(before, dense.get_weights()))


def test_keras_normalization_adapt_rejects_nan_and_empty_data_and_keeps_its_statistics():
    norm = cr.layers.Normalization()
    norm.adapt(np.arange(12.0).reshape(4, 3))
    before = [w.copy() for w in norm.get_weights()]
    x = np.ones((5, 3))
    x[3, 2] = np.nan
    with raises(DataError, r"contains NaN \(first at row 3, column 2\)"):
        norm.adapt(x)
    x[3, 2] = np.inf
    with raises(DataError, r"infinite value \(first at row 3, column 2\)"):
        norm.adapt(x)
    with raises(DataError, r"the data is empty"):
        norm.adapt(np.zeros((0, 3)))
    with raises(ShapeError, r"data of shape \(2, 4\) does not fit"):
        norm.adapt(np.zeros((2, 4)))
    assert all(np.array_equal(a, b) for a, b in zip(before, norm.get_weights()))


def test_keras_batchnormalization_on_the_wrong_shape_keeps_its_moving_statistics():
    bn = cr.layers.BatchNormalization()
    bn(cr.randn(8, 3), training=True)
    before = [w.copy() for w in bn.get_weights()]
    with raises(ShapeError, r"incompatible"):
        bn(cr.randn(8, 5), training=True)
    assert all(np.array_equal(a, b) for a, b in zip(before, bn.get_weights()))


def test_load_state_dict_of_the_wrong_shape_or_names_changes_nothing():
    net = cr.nn.Sequential(cr.nn.Linear(3, 4), cr.nn.ReLU(), cr.nn.Linear(4, 1))
    before = _state(net)
    other = cr.nn.Sequential(cr.nn.Linear(3, 5), cr.nn.ReLU(), cr.nn.Linear(5, 1)).state_dict()
    with raises(errors.StateDictError, r"size mismatch for 0.weight", r"\(5, 3\)", r"\(4, 3\)"):
        net.load_state_dict(other)
    with raises(errors.StateDictError, r'Missing key\(s\) in state_dict: "2.bias"'):
        net.load_state_dict({k: v for k, v in net.state_dict().items() if k != "2.bias"})
    with pytest.raises(RuntimeError):   # what PyTorch code catches
        net.load_state_dict({**net.state_dict(), "extra": cr.ones(1)})
    assert _same_state(before, _state(net))


def test_optimizer_load_state_dict_of_the_wrong_shape_changes_nothing():
    net = cr.nn.Linear(3, 2)
    opt = cr.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    net(cr.ones(4, 3)).sum().backward()
    opt.step()
    before = opt.state_dict()
    bad = cr.optim.SGD(cr.nn.Linear(5, 2).parameters(), lr=0.1, momentum=0.9)
    bad.param_groups[0]["params"][0].grad = cr.ones(2, 5)
    bad.param_groups[0]["params"][1].grad = cr.ones(2)
    bad.step()
    with raises(errors.CheckpointError, r"state\[0\]\['momentum_buffer'\] has shape \(2, 5\)",
                r"\(2, 3\)"):
        opt.load_state_dict(bad.state_dict())
    assert _bytes(opt.state_dict()) == _bytes(before)


@pytest.mark.parametrize("make, pattern", [
    (lambda p: cr.optim.SGD(p, lr=-0.1), r"Invalid learning rate: -0.1"),
    (lambda p: cr.optim.SGD(p, lr=0.1, momentum=-1), r"Invalid momentum value: -1"),
    (lambda p: cr.optim.RMSprop(p, alpha=-0.5), r"Invalid alpha value: -0.5"),
    (lambda p: cr.optim.Adagrad(p, lr=-1), r"Invalid learning rate"),
    (lambda p: cr.optim.Adamax(p, betas=(1.5, 0.9)), r"beta parameter at index 0: 1.5"),
    (lambda p: cr.optim.LBFGS(p, history_size=0), r"Invalid history_size value: 0"),
])
def test_optimizer_hyperparameters(make, pattern):
    with raises(ConfigError, pattern):
        make(cr.nn.Linear(2, 1).parameters())


# ---- losses ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("get, name, suggestion", [
    (keras_losses.get, "binary_crossentopy", "binary_crossentropy"),
    (keras_metrics.get, "acuracy", "accuracy"),
    (keras_optimizers.get, "adm", "adam"),
    (keras_optimizers.get, "rmsprp", "rmsprop"),
    (keras_activations.get, "sigmod", "sigmoid"),
    (regularizers.get, "l22", "l2"),
])
def test_unknown_names_suggest_the_closest_one(get, name, suggestion):
    with raises(ConfigError, re.escape(repr(name)), rf"Did you mean '{suggestion}'"):
        get(name)


def test_keras_loss_shapes_and_labels():
    with raises(ShapeError, r"y_true.shape=\(3, 2\) and y_pred.shape=\(3, 1\)"):
        keras_losses.BinaryCrossentropy()(np.zeros((3, 2)), cr.ones(3, 1) * 0.5)
    with raises(LabelError, r"labels must be integers in \[0, 3\)", r"from 0 to 3"):
        keras_losses.SparseCategoricalCrossentropy()(np.array([0, 3]), cr.ones(2, 3) / 3)
    with raises(DTypeError, r"expected numbers, got an array of dtype <U1"):
        keras_losses.MeanSquaredError()(np.array(["a"]), cr.ones(1))
    with raises(ConfigError, r"reduction must be one of"):
        keras_losses.MeanSquaredError(reduction="avg")


def test_cr_nn_loss_module_arguments():
    with raises(DTypeError, r"weight must be a tensor of numbers"):
        cr.nn.CrossEntropyLoss(weight=cr.tensor([True, False]))
    with raises(ShapeError, r"1-D tensor with one value per class"):
        cr.nn.CrossEntropyLoss(weight=cr.ones(2, 2))


# ---- data ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("batch_size", [0, -3, 2.5, True])
def test_dataloader_non_positive_batch_size(batch_size):
    ds = TensorDataset(cr.ones(4, 2))
    with raises(ConfigError, rf"batch_size must be a positive int.*batch_size={batch_size!r}"):
        DataLoader(ds, batch_size=batch_size)


def test_dataloader_of_an_empty_dataset():
    empty = TensorDataset(cr.ones(0, 2))
    with raises(DataError, r"cannot shuffle an empty dataset \(length 0\)"):
        DataLoader(empty, batch_size=2, shuffle=True)
    assert list(DataLoader(empty, batch_size=2)) == []   # as PyTorch: no batches, no error


def test_dataset_of_tensors_of_different_lengths_names_the_sizes():
    with raises(DataError, r"same size in the first dimension; got sizes \[10, 9\]"):
        TensorDataset(cr.ones(10, 3), cr.ones(9))


@pytest.mark.parametrize("make, kind, pattern", [
    (lambda ds: DataLoader(ds, shuffle="yes"), ArgumentTypeError, r"shuffle must be True or False"),
    (lambda ds: DataLoader(ds, generator=np.random.default_rng(0)), ArgumentTypeError,
     r"expected a cr.Generator"),
    (lambda ds: DataLoader(ds, num_workers=-1), ConfigError, r"num_workers=-1"),
    (lambda ds: DataLoader(5), ArgumentTypeError, r"dataset must define __len__ and __getitem__"),
    (lambda ds: random_split(ds, [3, 3]), ConfigError, r"lengths sum to 6, but the dataset has 4"),
    (lambda ds: random_split(ds, []), ConfigError, r"lengths is empty"),
    (lambda ds: TensorDataset(cr.tensor(1.0)), ShapeError, r"argument 0 is a 0-d tensor"),
    (lambda ds: TensorDataset([1, 2]), ArgumentTypeError, r"argument 0 is a list"),
])
def test_data_arguments(make, kind, pattern):
    with raises(kind, pattern):
        make(TensorDataset(cr.ones(4, 2), cr.zeros(4)))


def test_collate_of_samples_of_different_shapes_names_the_sample():
    with raises(ShapeError, r"sample 0 has shape \(3,\), sample 1 has shape \(2,\)"):
        default_collate([np.zeros(3), np.zeros(2)])


# ---- Model.fit / evaluate / predict ---------------------------------------------------------------
N, D = 40, 4


def _data(classes=None, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N, D)).astype(np.float32)
    if classes is None:
        return x, (x[:, :1] > 0).astype(np.float32)
    return x, rng.integers(0, classes, size=N)


def _model(classes=None, loss=None):
    cr.manual_seed(0)
    inputs = cr.layers.Input(shape=(D,), name="x")
    h = cr.layers.Dense(8, activation="relu")(inputs)
    h = cr.layers.Dropout(0.3)(h)
    h = cr.layers.BatchNormalization()(h)
    if classes is None:
        out = cr.layers.Dense(1, activation="sigmoid")(h)
        loss = loss or "binary_crossentropy"
    else:
        out = cr.layers.Dense(classes, activation="softmax")(h)
        loss = loss or "sparse_categorical_crossentropy"
    model = cr.Model(inputs, out)
    model.compile("adam", loss, ["accuracy"])
    model.fit(*_data(classes), batch_size=8, epochs=1, verbose=0)   # optimizer state, metrics
    return model


def _bytes(obj):
    buf = io.BytesIO()
    cr.save(obj, buf)
    return buf.getvalue()


def _snapshot(model):
    return {"weights": _bytes(model.state_dict()), "optimizer": _bytes(model.optimizer.state_dict()),
            "optimizer_object": model.optimizer, "rng": cr.get_rng_state(),
            "training": model.training, "history": model.history,
            "metrics": [m.result() for m in model.metrics], "compiled": model.compiled,
            "loss": model._compiled_loss}


def _assert_unchanged(before, model):
    after = _snapshot(model)
    for key, value in before.items():
        if key == "metrics":
            np.testing.assert_equal(value, after[key], err_msg="metrics changed")
        elif key in ("optimizer_object", "history", "loss"):
            assert after[key] is value, f"{key} replaced"
        else:
            assert after[key] == value, f"{key} changed"


def _nan_at(x, row, col, value=np.nan):
    x = x.copy()
    x[row, col] = value
    return x


@pytest.fixture
def binary():
    return _model(), *_data()


@pytest.fixture
def multiclass():
    return _model(classes=3), *_data(classes=3)


@pytest.mark.parametrize("call, kind, patterns", [
    (lambda m, x, y: m.fit(_nan_at(x, 17, 2), y, verbose=0), DataError,
     [r"fit: x contains NaN \(first at row 17, column 2\)"]),
    (lambda m, x, y: m.fit(_nan_at(x, 5, 0, np.inf), y, verbose=0), DataError,
     [r"x contains an infinite value \(first at row 5, column 0\)"]),
    (lambda m, x, y: m.fit(x, _nan_at(y, 33, 0), verbose=0), DataError,
     [r"y contains NaN \(first at row 33, column 0\)"]),
    (lambda m, x, y: m.fit(x, y, sample_weight=np.r_[np.ones(N - 1), np.nan], verbose=0),
     DataError, [r"sample_weight contains NaN \(first at row 39\)"]),
    (lambda m, x, y: m.fit(x, y[:-3], verbose=0), DataError,
     [r"x and y must have the same number of samples, but x has 40 and y has 37"]),
    (lambda m, x, y: m.fit(x[:0], y[:0], verbose=0), DataError, [r"the data is empty \(0 samples\)"]),
    (lambda m, x, y: m.fit(x, y, batch_size=0, verbose=0), ConfigError,
     [r"positive int for batch_size. Received: batch_size=0"]),
    (lambda m, x, y: m.fit(x, y, batch_size=-8, verbose=0), ConfigError, [r"batch_size=-8"]),
    (lambda m, x, y: m.fit(x, y, epochs=0, verbose=0), ConfigError,
     [r"positive int for epochs. Received: epochs=0"]),
    (lambda m, x, y: m.fit(x, y, epochs=-2, verbose=0), ConfigError, [r"epochs=-2"]),
    (lambda m, x, y: m.fit(x, y, validation_split=1.5, verbose=0), ConfigError,
     [r"validation_split must be a float in \[0, 1\), got 1.5"]),
    (lambda m, x, y: m.fit(x, y, shuffle="sometimes", verbose=0), ConfigError, [r"shuffle must be"]),
    (lambda m, x, y: m.fit(x[:, :3], y, verbose=0), ShapeError,
     [r"fit: input 'x' expects shape \(None, 4\), received x of shape \(40, 3\)"]),
    (lambda m, x, y: m.fit(x, np.zeros((N, 2)), verbose=0), ShapeError,
     [r"y_true.shape=\(32, 2\) and y_pred.shape=\(32, 1\)"]),
    (lambda m, x, y: m.fit(x.astype(str), y, verbose=0), DTypeError,
     [r"x must hold numbers, got an array of dtype <U"]),
    (lambda m, x, y: m.fit(x, y, validation_data=(_nan_at(x, 3, 1), y), verbose=0), DataError,
     [r"fit \(validation_data\): x contains NaN \(first at row 3, column 1\)"]),
    (lambda m, x, y: m.fit(x, y, validation_data=(x, y[:5]), verbose=0), DataError,
     [r"x has 40 and y has 5"]),
    (lambda m, x, y: m.fit(x, y, class_weight={"a": 1.0}, verbose=0), ConfigError,
     [r"class_weight keys must be integer class indices, got 'a'"]),
    (lambda m, x, y: m.fit(None, y, verbose=0), ConfigError, [r"x is required"]),
    (lambda m, x, y: m.fit(x, None, verbose=0), ConfigError, [r"y is required"]),
    (lambda m, x, y: m.evaluate(_nan_at(x, 9, 3), y, verbose=0), DataError,
     [r"evaluate: x contains NaN \(first at row 9, column 3\)"]),
    (lambda m, x, y: m.evaluate(x, y, batch_size=0, verbose=0), ConfigError, [r"batch_size=0"]),
    (lambda m, x, y: m.evaluate(x[:, :2], y, verbose=0), ShapeError, [r"expects shape \(None, 4\)"]),
    (lambda m, x, y: m.predict(_nan_at(x, 2, 2, -np.inf), verbose=0), DataError,
     [r"predict: x contains an infinite value \(first at row 2, column 2\)"]),
    (lambda m, x, y: m.predict(x[:, :5, None], verbose=0), ShapeError, [r"expects shape"]),
    (lambda m, x, y: m.predict(x[:0], verbose=0), DataError, [r"empty"]),
    (lambda m, x, y: m.predict(x, batch_size=0, verbose=0), ConfigError, [r"batch_size=0"]),
    (lambda m, x, y: m.train_on_batch(_nan_at(x, 1, 1), y), DataError, [r"row 1, column 1"]),
    (lambda m, x, y: m.compile("adm", "binary_crossentropy"), ConfigError,
     [r"Did you mean 'adam'"]),
    (lambda m, x, y: m.compile("adam", "binary_crossentopy"), ConfigError,
     [r"Did you mean 'binary_crossentropy'"]),
    (lambda m, x, y: m.compile("adam", "mse", ["acuracy"]), ConfigError,
     [r"Did you mean 'accuracy'"]),
])
def test_model_calls_on_bad_input_change_nothing(binary, call, kind, patterns):
    model, x, y = binary
    before = _snapshot(model)
    with raises(kind, *patterns):
        call(model, x, y)
    _assert_unchanged(before, model)


def test_fit_with_labels_outside_the_class_range_in_the_last_row_changes_nothing(multiclass):
    model, x, y = multiclass
    y = y.astype(np.float64)
    y[-1] = 3                                         # only the last batch holds it
    before = _snapshot(model)
    with raises(LabelError, r"labels must be integers in \[0, 3\) for 3 output units",
                r"from 0 to 3"):
        model.fit(x, y, batch_size=8, verbose=0)
    _assert_unchanged(before, model)
    y[-1] = -1
    with raises(LabelError, r"from -1 to"):
        model.evaluate(x, y, verbose=0)
    y[-1] = 1.5
    with raises(LabelError, r"integers"):
        model.fit(x, y, verbose=0)
    _assert_unchanged(before, model)


def test_fit_with_a_cr_nn_loss_and_labels_out_of_range_changes_nothing():
    model = _model(classes=3, loss=cr.nn.NLLLoss())
    x, y = _data(classes=3)
    y = y.copy()
    y[-1] = 7
    before = _snapshot(model)
    with pytest.raises(IndexError, match=r"fit: y\[8:40\] \(rows 8 to 39\).*class index 7 at "
                                         r"target\[31\]"):
        model.fit(x, y, batch_size=8, verbose=0)
    _assert_unchanged(before, model)


def test_fit_after_a_failed_call_trains_as_if_it_never_happened():
    x, y = _data()
    a, b = _model(), _model()
    with pytest.raises(DataError):
        a.fit(_nan_at(x, 0, 0), y, verbose=0)
    with pytest.raises(ShapeError):
        a.fit(x[:, :2], y, verbose=0)
    cr.manual_seed(5)
    ha = a.fit(x, y, batch_size=8, epochs=2, verbose=0).history
    cr.manual_seed(5)
    hb = b.fit(x, y, batch_size=8, epochs=2, verbose=0).history
    assert ha == hb
    assert all(np.array_equal(p, q) for p, q in zip(a.get_weights(), b.get_weights()))


def test_sequential_not_yet_built_fails_before_any_step():
    cr.manual_seed(0)
    model = cr.Sequential([cr.layers.Dense(4, activation="relu"), cr.layers.Dense(1)])
    with raises(ConfigError, r"Did you mean 'mse'"):      # unknown names fail at compile
        model.compile("sgd", "mes")
    model.compile("sgd", "mse")
    x, y = _data()
    model.fit(x, y, epochs=1, verbose=0)
    before = _snapshot(model)
    with raises(ShapeError, r"expects shape"):
        model.fit(x[:, :3], y, verbose=0)
    _assert_unchanged(before, model)


def test_pytorch_style_loop_data_mismatch_fails_before_the_step():
    cr.manual_seed(0)
    net = cr.nn.Sequential(cr.nn.Linear(4, 8), cr.nn.ReLU(), cr.nn.Linear(8, 3))
    opt = cr.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    before = _state(net)
    x = cr.randn(6, 4)
    with pytest.raises(IndexError, match=r"class index 3 at target\[5\]"):
        loss = F.cross_entropy(net(x), cr.tensor([0, 1, 2, 0, 1, 3]))
        loss.backward()
        opt.step()
    assert _same_state(before, _state(net)) and not opt.state


# ---- the command line ------------------------------------------------------------------------------
NAMES = load_heart_disease().feature_names


@pytest.fixture(scope="module")
def heart_model(tmp_path_factory):
    out = tmp_path_factory.mktemp("heart")
    assert main(["train", "heart", "--epochs", "2", "--quiet", "--out", str(out)]) == 0
    return out / "model.chainrule"


@pytest.mark.parametrize("args, message", [
    (["--epochs", "0"], "--epochs must be positive, got 0"),
    (["--epochs", "-3"], "--epochs must be positive, got -3"),
    (["--batch-size", "0"], "--batch-size must be positive, got 0"),
    (["--lr", "nan"], "--lr must be positive, got nan"),
    (["--hidden", "0"], "--hidden must be positive, got 0"),
])
def test_cli_train_non_positive_settings(tmp_path, capsys, args, message):
    out = tmp_path / "run"
    assert main(["train", "heart", "--quiet", "--out", str(out), *args]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()                          # nothing written


def test_cli_unknown_optimizer_suggests_the_closest(capsys):
    with pytest.raises(SystemExit) as e:
        main(["train", "heart", "--optimizer", "adamm"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "Unknown optimizer: 'adamm'. Did you mean 'adam'?" in err and "adamw" in err


def _csv(path, header, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


def _rows(n=3):
    return [["" if np.isnan(v) else repr(float(v)) for v in r]
            for r in load_heart_disease().data[:n]]


@pytest.mark.parametrize("edit, message", [
    (lambda rows: rows[1].__setitem__(4, "inf"),
     r"row 2 \(line 3\), column 'chol': 'inf' is not a finite number"),
    (lambda rows: rows[2].__setitem__(0, "nan"),
     r"row 3 \(line 4\), column 'age': 'nan' is not a finite number"),
    (lambda rows: rows[0].__setitem__(3, "high"),
     r"row 1 \(line 2\), column 'trestbps': 'high' is not a number"),
])
def test_cli_predict_names_the_row_and_column(tmp_path, capsys, heart_model, edit, message):
    rows = _rows()
    edit(rows)
    path = _csv(tmp_path / "p.csv", NAMES, rows)
    assert main(["predict", str(heart_model), str(path)]) == 2
    assert re.search(message, capsys.readouterr().err)


def test_cli_predict_missing_column_empty_file_and_bad_threshold(tmp_path, capsys, heart_model):
    path = _csv(tmp_path / "p.csv", NAMES[1:], [r[1:] for r in _rows()])
    assert main(["predict", str(heart_model), str(path)]) == 2
    assert "missing column(s) age" in capsys.readouterr().err
    path = _csv(tmp_path / "e.csv", NAMES, [])
    assert main(["predict", str(heart_model), str(path)]) == 2
    assert "no patient rows after the header" in capsys.readouterr().err
    path = _csv(tmp_path / "ok.csv", NAMES, _rows())
    assert main(["predict", str(heart_model), str(path), "--threshold", "1.5"]) == 2
    assert "--threshold must be a probability in [0, 1], got 1.5" in capsys.readouterr().err


def test_cli_predict_with_a_damaged_or_foreign_model_file(tmp_path, capsys, heart_model):
    patients = _csv(tmp_path / "ok.csv", NAMES, _rows())
    damaged = tmp_path / "damaged.chainrule"
    damaged.write_bytes(heart_model.read_bytes()[:-100])
    assert main(["predict", str(damaged), str(patients)]) == 2
    assert "truncated" in capsys.readouterr().err or "checksum" in capsys.readouterr().err
    foreign = tmp_path / "foreign.chainrule"
    cr.save({"format": "something else"}, foreign)
    assert main(["predict", str(foreign), str(patients)]) == 2
    assert "not a heart model file" in capsys.readouterr().err
    wrong = tmp_path / "wrong.chainrule"
    obj = cr.load(heart_model)
    obj["preprocessor"] = {"nonsense": 1}
    cr.save(obj, wrong)
    assert main(["predict", str(wrong), str(patients)]) == 2
    assert "damaged heart model file" in capsys.readouterr().err
