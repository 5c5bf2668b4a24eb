"""cr.onnx.export of the rest of the everyday catalogue (cr.nn activations, padding, GroupNorm,
InstanceNorm; the Keras-style activation, padding, resizing, reshaping and normalisation layers):
onnx.checker accepts each graph and ONNX Runtime reproduces chainrule's outputs (float32, atol
1e-5) at the exported batch size and at others, through dynamic axes."""
import io

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import chainrule as cr  # noqa: E402
from chainrule import onnx as cr_onnx  # noqa: E402

nn, L = cr.nn, cr.layers
ATOL = 1e-5
BATCH = {"input": {0: "batch"}, "output": {0: "batch"}}


def round_trip(model, shape, opset=17, scale=3.0):
    """Export *model* on input of *shape* (batch first) and compare ONNX Runtime with chainrule
    at batch sizes 2 and 5; returns the ONNX node types."""
    cr.manual_seed(0)
    f = io.BytesIO()
    proto = cr_onnx.export(model, cr.randn(*shape), f, input_names=["input"],
                           output_names=["output"], dynamic_axes=BATCH, opset_version=opset)
    onnx.checker.check_model(onnx.load_from_string(f.getvalue()), full_check=True)
    sess = ort.InferenceSession(f.getvalue(), providers=["CPUExecutionProvider"])
    for n in (2, 5):
        x = (np.random.RandomState(n).randn(n, *shape[1:]) * scale).astype(np.float32)
        with cr.no_grad():
            want = model(cr.tensor(x), training=False) if isinstance(model, cr.Model) else \
                model.eval()(cr.tensor(x))
        got = sess.run(None, {"input": x})[0]
        assert got.shape == tuple(want.shape)
        np.testing.assert_allclose(got, want.numpy(), atol=ATOL, rtol=1e-5)
    return [node.op_type for node in proto.graph.node]


def keras(layer, shape):
    """A functional model around one Keras-style layer, built for inputs of *shape*."""
    inputs = L.Input(shape[1:])
    return cr.Model(inputs, layer(inputs))


def with_weights(module):
    """*module* with its parameters drawn away from their defaults (so a mix-up shows)."""
    with cr.no_grad():
        for p in module.parameters():
            p.copy_(cr.randn(*p.shape) * 0.5 + 0.3)
    return module


NN_LAYERS = [
    (nn.ReLU6(), (2, 7)), (nn.Hardtanh(-0.5, 2.0), (2, 7)), (nn.SELU(), (2, 7)),
    (nn.CELU(0.7), (2, 7)), (nn.Mish(), (2, 7)), (nn.Hardswish(), (2, 7)),
    (nn.Hardsigmoid(), (2, 7)), (nn.Softsign(), (2, 7)), (nn.Softmin(dim=1), (2, 7)),
    (nn.Softmin(dim=-1), (2, 3, 4)), (nn.LogSigmoid(), (2, 7)), (nn.Tanhshrink(), (2, 7)),
    (nn.Threshold(0.3, -2.0), (2, 7)), (nn.Softshrink(0.7), (2, 7)), (nn.Hardshrink(0.4), (2, 7)),
    (nn.GLU(), (2, 8)), (nn.GLU(dim=1), (2, 6, 3)),
    (with_weights(nn.PReLU()), (2, 7)), (with_weights(nn.PReLU(3)), (2, 3, 4, 5)),
    (with_weights(nn.PReLU(3)), (2, 3, 6)), (with_weights(nn.PReLU(7)), (2, 7)),
    (nn.ZeroPad2d((1, 2, 0, 3)), (2, 3, 4, 5)), (nn.ConstantPad2d((2, -1, -1, 1), 0.5), (2, 3, 4, 5)),
    (nn.ConstantPad2d(1, -3.0), (2, 4, 5)), (nn.ReflectionPad2d((1, 2, 2, 1)), (2, 3, 4, 5)),
    (nn.ReplicationPad2d(2), (2, 3, 4, 5)),
    (nn.GroupNorm(2, 6), (2, 6, 3, 4)), (with_weights(nn.GroupNorm(3, 6)), (2, 6, 5)),
    (nn.GroupNorm(1, 4, affine=False), (2, 4, 3, 3)),
    (nn.InstanceNorm2d(3), (2, 3, 4, 5)), (with_weights(nn.InstanceNorm1d(3, affine=True)), (2, 3, 6)),
    (nn.RMSNorm(6), (2, 6)), (with_weights(nn.RMSNorm((3, 4), eps=1e-3)), (2, 5, 3, 4)),
]


@pytest.mark.parametrize("opset", [17, 18])
@pytest.mark.parametrize("layer, shape", NN_LAYERS, ids=lambda v: repr(v) if isinstance(
    v, nn.Module) else str(v))
def test_nn_layer(layer, shape, opset):
    round_trip(layer, shape, opset)


def test_nn_ops_are_onnxs_own():
    assert round_trip(nn.Hardswish(), (2, 3)) == ["HardSwish", "Identity"]
    assert round_trip(nn.Softshrink(), (2, 3)) == ["Shrink", "Identity"]
    assert round_trip(nn.ReflectionPad2d(1), (1, 1, 3, 3)) == ["Pad", "Identity"]


def test_instance_norm_with_running_statistics_uses_them():
    norm = nn.InstanceNorm2d(3, affine=True, track_running_stats=True)
    norm.train()
    for _ in range(3):
        norm(cr.randn(4, 3, 5, 5) * 2 + 1)
    assert "BatchNormalization" in round_trip(with_weights(norm), (2, 3, 5, 5))


def test_instance_norm_unbatched_input_is_refused_by_name():
    with pytest.raises(cr_onnx.UnsupportedLayerError, match=r"InstanceNorm1d.*\(3, 6\)"):
        cr_onnx.export(nn.InstanceNorm1d(3), cr.randn(3, 6), io.BytesIO())


KERAS_LAYERS = [
    (lambda: L.ReLU(), (2, 7)), (lambda: L.ReLU(max_value=1.5), (2, 7)),
    (lambda: L.ReLU(negative_slope=0.2), (2, 7)), (lambda: L.ReLU(threshold=0.5), (2, 7)),
    (lambda: L.ReLU(max_value=2.0, negative_slope=0.1, threshold=-0.5), (2, 7)),
    (lambda: L.LeakyReLU(), (2, 7)), (lambda: L.LeakyReLU(negative_slope=0.05), (2, 7)),
    (lambda: L.ELU(alpha=0.5), (2, 7)),
    (lambda: L.PReLU(alpha_initializer=cr.keras.initializers.RandomNormal(seed=1)), (2, 7)),
    (lambda: L.PReLU(alpha_initializer=cr.keras.initializers.RandomNormal(seed=1),
                     shared_axes=[1, 2]), (2, 4, 5, 3)),
    (lambda: L.Softmax(), (2, 7)), (lambda: L.Softmax(axis=1), (2, 3, 4)),
    (lambda: L.Softmax(axis=[1, 2]), (2, 3, 4)),
    (lambda: L.ZeroPadding2D(), (2, 4, 5, 3)), (lambda: L.ZeroPadding2D(((1, 0), (2, 3))), (2, 4, 5, 3)),
    (lambda: L.ZeroPadding2D((1, 2), data_format="channels_first"), (2, 3, 4, 5)),
    (lambda: L.UpSampling2D(), (2, 4, 5, 3)), (lambda: L.UpSampling2D((2, 3)), (2, 4, 5, 3)),
    (lambda: L.UpSampling2D(interpolation="bilinear"), (2, 4, 5, 3)),
    (lambda: L.UpSampling2D((3, 2), data_format="channels_first", interpolation="bilinear"),
     (2, 3, 4, 5)),
    (lambda: L.Permute((2, 1)), (2, 3, 4)), (lambda: L.Permute((3, 1, 2)), (2, 3, 4, 5)),
    (lambda: L.RepeatVector(3), (2, 7)),
    (lambda: L.Rescaling(1 / 255.0, offset=-0.5), (2, 7)),
    (lambda: L.Rescaling([0.5, 2.0, -1.0], offset=[0.0, 1.0, 2.0]), (2, 4, 3)),
    (lambda: L.UnitNormalization(), (2, 7)), (lambda: L.UnitNormalization(axis=[1, 2]), (2, 3, 4)),
    (lambda: L.GroupNormalization(groups=2), (2, 4, 5, 6)),
    (lambda: L.GroupNormalization(groups=-1, epsilon=1e-5), (2, 5, 6)),
    (lambda: L.GroupNormalization(groups=3, axis=1, gamma_initializer="random_normal",
                                  beta_initializer="random_normal"), (2, 6, 4, 3)),
]


@pytest.mark.parametrize("opset", [17, 18])
@pytest.mark.parametrize("make, shape", KERAS_LAYERS, ids=lambda v: str(v) if isinstance(
    v, tuple) else "")
def test_keras_layer(make, shape, opset):
    round_trip(keras(make(), shape), shape, opset)


def test_keras_image_model_with_the_new_layers():
    cr.manual_seed(3)
    inputs = L.Input((8, 8, 1))
    h = L.Rescaling(1 / 16.0)(inputs)
    h = L.ZeroPadding2D(1)(h)
    h = L.Conv2D(4, 3)(h)
    h = L.GroupNormalization(groups=2)(h)
    h = L.PReLU(shared_axes=[1, 2])(h)
    h = L.UpSampling2D(interpolation="bilinear")(h)
    h = L.MaxPooling2D()(h)
    h = L.Permute((3, 1, 2))(h)
    h = L.Flatten()(L.ReLU(max_value=6.0)(h))
    model = cr.Model(inputs, L.Softmax()(L.Dense(10)(h)))
    round_trip(model, (3, 8, 8, 1), scale=8.0)


def test_keras_embedding_takes_float_or_integer_ids():
    cr.manual_seed(4)
    ids = np.array([[1, 0, 7], [3, 3, 9]])
    for dtype in ("float32", "int64"):
        inputs = L.Input((3,), dtype=dtype)
        model = cr.Model(inputs, L.Flatten()(L.Embedding(10, 4)(inputs)))
        f = io.BytesIO()
        cr_onnx.export(model, cr.tensor(ids.astype(dtype)), f, input_names=["ids"],
                       output_names=["vectors"], dynamic_axes={"ids": [0], "vectors": [0]})
        sess = ort.InferenceSession(f.getvalue(), providers=["CPUExecutionProvider"])
        for batch in (ids[:1], np.concatenate([ids, ids[::-1]])):
            got = sess.run(None, {"ids": batch.astype(dtype)})[0]
            np.testing.assert_allclose(got, model.predict(batch.astype(dtype), verbose=0),
                                       atol=ATOL)
