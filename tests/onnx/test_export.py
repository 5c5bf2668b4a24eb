"""cr.onnx.export: onnx.checker accepts the graphs and ONNX Runtime reproduces chainrule's outputs."""
import io

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import chainrule as cr  # noqa: E402
from chainrule import onnx as cr_onnx  # noqa: E402

L = cr.layers
ATOL = 1e-5
BATCH = {"input": {0: "batch"}, "output": {0: "batch"}}


def session(proto):
    return ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])


def export(model, args, **kw):
    f = io.BytesIO()
    proto = cr_onnx.export(model, args, f, **kw)
    assert f.getvalue() == proto.SerializeToString()
    onnx.checker.check_model(onnx.load_from_string(f.getvalue()), full_check=True)
    return proto


def reference(model, *xs):
    was = model.training
    model.eval()
    with cr.no_grad():
        out = model(*[cr.tensor(x) for x in xs])
    model.train(was)
    return out


def trained_batchnorm(bn, width):
    """Give a batch-norm layer non-trivial running statistics."""
    bn.train()
    for _ in range(3):
        bn(cr.randn(32, width) * 3 + 1)


def test_mlp_round_trip_at_several_batch_sizes():
    cr.manual_seed(0)
    net = cr.nn.Sequential(cr.nn.Linear(6, 16), cr.nn.ReLU(), cr.nn.BatchNorm1d(16),
                           cr.nn.Dropout(0.3), cr.nn.Linear(16, 16), cr.nn.LayerNorm(16),
                           cr.nn.GELU(), cr.nn.Linear(16, 3), cr.nn.Softmax(dim=1))
    trained_batchnorm(net[2], 16)
    net.train()
    proto = export(net, cr.randn(4, 6), dynamic_axes=BATCH)
    assert net.training and net[3].training  # the modes are restored after export
    assert [i.name for i in proto.graph.input] == ["input"]
    assert [o.name for o in proto.graph.output] == ["output"]
    assert {"0.weight", "2.running_mean", "7.bias"} <= {t.name for t in proto.graph.initializer}
    sess = session(proto)
    for n in (4, 1, 37):
        x = np.random.RandomState(n).randn(n, 6).astype(np.float32)
        got = sess.run(None, {"input": x})[0]
        np.testing.assert_allclose(got, reference(net, x).data, atol=ATOL)


ACTIVATIONS = [cr.nn.ReLU(), cr.nn.Sigmoid(), cr.nn.Tanh(), cr.nn.LeakyReLU(0.1), cr.nn.ELU(0.7),
               cr.nn.GELU(), cr.nn.GELU(approximate="tanh"), cr.nn.SiLU(), cr.nn.Softplus(),
               cr.nn.Softplus(beta=2.0, threshold=3.0), cr.nn.Softmax(dim=-1), cr.nn.Softmax(),
               cr.nn.LogSoftmax(dim=1), cr.nn.Identity()]


@pytest.mark.parametrize("opset", [17, 18, 20])
@pytest.mark.parametrize("act", ACTIVATIONS, ids=lambda m: repr(m))
def test_each_nn_activation(act, opset):
    cr.manual_seed(1)
    net = cr.nn.Sequential(cr.nn.Linear(5, 8), act)
    with cr.no_grad():
        net[0].weight.mul_(4)  # reach the softplus threshold and both sides of every kink
    proto = export(net, cr.randn(3, 5), dynamic_axes=BATCH, opset_version=opset)
    x = np.random.RandomState(0).randn(9, 5).astype(np.float32)
    np.testing.assert_allclose(session(proto).run(None, {"input": x})[0], reference(net, x).data,
                               atol=ATOL)


def test_shapes_flatten_unflatten_and_rank3_linear():
    cr.manual_seed(2)
    net = cr.nn.Sequential(cr.nn.Unflatten(1, (3, 4)), cr.nn.BatchNorm1d(3, affine=False),
                           cr.nn.Linear(4, 5), cr.nn.LayerNorm((3, 5), elementwise_affine=False),
                           cr.nn.Flatten(), cr.nn.Linear(15, 6), cr.nn.Unflatten(1, (2, 3)),
                           cr.nn.Flatten(0, -1))
    net.train()
    for _ in range(3):
        net[1](cr.randn(8, 3, 4) * 2 + 1)  # running statistics that are not 0 and 1
    proto = export(net, cr.randn(2, 12), dynamic_axes={"input": [0], "output": [0]})
    dims = [d.dim_param for d in proto.graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["input_dynamic_axes_1", ""]
    sess = session(proto)
    for n in (2, 5):
        x = np.random.RandomState(n).randn(n, 12).astype(np.float32)
        np.testing.assert_allclose(sess.run(None, {"input": x})[0], reference(net, x).data,
                                   atol=ATOL)


def test_embedding_and_float64():
    cr.manual_seed(3)
    emb = cr.nn.Sequential(cr.nn.Embedding(10, 4), cr.nn.Flatten(), cr.nn.Linear(12, 2)).double()
    idx = np.array([[1, 2, 3], [9, 0, 4]])
    proto = export(emb, cr.tensor(idx), dynamic_axes=BATCH)
    assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.INT64
    got = session(proto).run(None, {"input": idx[::-1].copy()})[0]
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, reference(emb, idx[::-1].copy()).data, atol=1e-12)


def fork_and_merge():
    """Two inputs, a fork into three branches, every merge layer, nested and normalising layers."""
    cr.manual_seed(4)
    a, b = L.Input((6,), name="a"), L.Input((2, 3), name="b")
    h = L.Dense(8, activation="relu", name="trunk")(a)
    left = L.Dense(8, activation="tanh")(h)
    right = L.BatchNormalization()(L.Dense(8, activation="gelu")(h))
    mid = L.Dropout(0.5)(L.Dense(8, activation="selu")(h))
    merged = L.Add()([left, right, mid])
    merged = L.Concatenate()([merged, L.Multiply()([left, right]), L.Subtract()([left, mid]),
                              L.Maximum()([left, mid]), L.Minimum()([right, mid]),
                              L.Average()([left, right])])
    flat = L.Flatten()(L.Dense(4, activation="swish")(b))
    merged = L.Concatenate()([merged, flat])
    merged = L.LayerNormalization()(merged)
    inner_in = L.Input((56,))
    inner = cr.Model(inner_in, L.Dense(6, activation="mish")(inner_in), name="inner")
    z = inner(merged)
    z = L.Reshape((2, 3))(z)
    z = L.LayerNormalization(axis=1)(z)
    z = L.Flatten()(z)
    probs = L.Dense(3, activation="softmax", name="probs")(z)
    value = L.Dense(1, name="value")(L.Activation("softplus")(z))
    model = cr.Model([a, b], [probs, value])
    model.compile("adam", ["sparse_categorical_crossentropy", "mse"])
    rng = np.random.RandomState(0)
    xa, xb = rng.randn(64, 6).astype(np.float32), rng.randn(64, 2, 3).astype(np.float32)
    model.fit([xa, xb], [rng.randint(0, 3, 64), rng.randn(64, 1).astype(np.float32)], epochs=2,
              batch_size=16, verbose=0)
    return model, xa, xb


@pytest.mark.parametrize("opset", [17, 18])
def test_keras_fork_and_merge_round_trip(opset):
    model, xa, xb = fork_and_merge()
    dyn = {"a": {0: "n"}, "b": {0: "n"}, "probs": {0: "n"}, "value": {0: "n"}}
    proto = export(model, (xa[:5], xb[:5]), dynamic_axes=dyn, opset_version=opset)
    assert [i.name for i in proto.graph.input] == ["a", "b"]
    assert [o.name for o in proto.graph.output] == ["probs", "value"]
    sess = session(proto)
    for n in (5, 1, 64):
        got = sess.run(None, {"a": xa[:n], "b": xb[:n]})
        want = model([xa[:n], xb[:n]], training=False)
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w.data, atol=ATOL)
    assert model.training  # restored


def test_keras_sequential_and_dict_args_and_names():
    cr.manual_seed(5)
    norm = L.Normalization()
    norm.adapt(np.random.RandomState(1).randn(50, 4) * 5 + 2)
    seq = cr.Sequential([L.Input((4,), name="features"), norm, L.Dense(8, activation="relu6"),
                         L.Dense(8, activation="hard_sigmoid"), L.Dense(8, activation="elu"),
                         L.Dense(8, activation="leaky_relu"), L.Dense(8, activation="softsign"),
                         L.Dense(8, activation="exponential"), L.Dense(2, activation="log_softmax")])
    x = np.random.RandomState(0).randn(7, 4).astype(np.float32) * 3
    proto = export(seq, {"features": x}, input_names=["x"], output_names=["logp"],
                   dynamic_axes={"x": [0], "logp": [0]})
    assert [i.name for i in proto.graph.input] == ["x"]
    got = session(proto).run(["logp"], {"x": x[:3]})[0]
    np.testing.assert_allclose(got, seq(x[:3]).data, atol=ATOL)


def test_fixed_shapes_without_dynamic_axes():
    net = cr.nn.Sequential(cr.nn.Linear(3, 2))
    proto = export(net, cr.randn(4, 3))
    assert [d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim] == [4, 3]
    with pytest.raises(Exception, match="(?i)dimension|shape"):
        session(proto).run(None, {"input": np.zeros((5, 3), np.float32)})


def test_writes_a_path_and_a_model_that_reloads(tmp_path):
    net = cr.nn.Sequential(cr.nn.Linear(3, 2), cr.nn.Sigmoid())
    path = tmp_path / "net.onnx"
    proto = cr_onnx.export(net, cr.randn(1, 3), str(path), dynamic_axes=BATCH)
    assert onnx.load(str(path)) == proto
    assert proto.producer_name == "chainrule" and proto.opset_import[0].version == 17
    x = np.ones((2, 3), np.float32)
    got = ort.InferenceSession(str(path)).run(None, {"input": x})[0]
    np.testing.assert_allclose(got, net(cr.tensor(x)).data, atol=ATOL)


class Custom(cr.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = cr.nn.Linear(3, 3)

    def forward(self, x):
        return self.fc(x) * 2


def test_unsupported_layers_are_named():
    with pytest.raises(cr_onnx.UnsupportedLayerError, match=r"has no ONNX converter"):
        cr_onnx.export(Custom(), cr.randn(1, 3), io.BytesIO())
    with pytest.raises(cr_onnx.UnsupportedLayerError, match=r"module '1' of type .*Custom"):
        cr_onnx.export(cr.nn.Sequential(cr.nn.Linear(3, 3), Custom()), cr.randn(1, 3),
                       io.BytesIO())
    inputs = L.Input((3,))
    odd = cr.Model(inputs, L.Dense(2, activation=lambda t: t * 3, name="odd_dense")(inputs))
    with pytest.raises(cr_onnx.UnsupportedLayerError, match="odd_dense"):
        cr_onnx.export(odd, cr.randn(1, 3), io.BytesIO())
    no_stats = cr.nn.Sequential(cr.nn.BatchNorm1d(3, track_running_stats=False))
    with pytest.raises(cr_onnx.UnsupportedLayerError, match="track_running_stats"):
        cr_onnx.export(no_stats, cr.randn(2, 3), io.BytesIO())
    inputs = L.Input((3,))
    mc = cr.Model(inputs, L.Dropout(0.5, name="mc_dropout")(inputs, training=True))
    with pytest.raises(cr_onnx.UnsupportedLayerError, match="mc_dropout.*training=True"):
        cr_onnx.export(mc, cr.randn(1, 3), io.BytesIO())


def test_register_converter_for_a_new_layer():
    class Scale(cr.nn.Module):
        def __init__(self, k):
            super().__init__()
            self.k = k

        def forward(self, x):
            return x * self.k

    @cr_onnx.register_converter(Scale)
    def _scale(ctx, layer, out, x):
        return ctx.op("Mul", [x.name, ctx.const(layer.k, "k", like=x)])

    class Twice(Scale):  # same computation: uses Scale's converter
        pass

    net = cr.nn.Sequential(cr.nn.Linear(2, 2), Scale(3.0), Twice(0.5))
    proto = export(net, cr.randn(2, 2), dynamic_axes=BATCH)
    x = np.ones((3, 2), np.float32)
    np.testing.assert_allclose(session(proto).run(None, {"input": x})[0], net(cr.tensor(x)).data,
                               atol=ATOL)
    assert "Scale" in cr_onnx.supported()


def test_bad_arguments():
    net = cr.nn.Sequential(cr.nn.Linear(3, 2))
    x = cr.randn(1, 3)
    with pytest.raises(cr.ConfigError, match="opset_version"):
        cr_onnx.export(net, x, io.BytesIO(), opset_version=9)
    with pytest.raises(cr.ConfigError, match="neither an input nor an output"):
        cr_onnx.export(net, x, io.BytesIO(), dynamic_axes={"inp": [0]})
    with pytest.raises(cr.ShapeError, match="axis 2"):
        cr_onnx.export(net, x, io.BytesIO(), dynamic_axes={"input": [2]})
    with pytest.raises(cr.ConfigError, match="2 input_names"):
        cr_onnx.export(net, x, io.BytesIO(), input_names=["a", "b"])
    with pytest.raises(cr.ConfigError, match="both an input and an output"):
        cr_onnx.export(net, x, io.BytesIO(), input_names=["x"], output_names=["x"])
    with pytest.raises(cr.errors.ArgumentTypeError, match="model must be"):
        cr_onnx.export(lambda t: t, x, io.BytesIO())
    with pytest.raises(cr.errors.ArgumentTypeError, match="args"):
        cr_onnx.export(net, [[1.0, 2.0, 3.0]], io.BytesIO())
