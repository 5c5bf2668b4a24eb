"""cr.onnx.export of the convolution, pooling, image-normalisation and resizing layers: the model
passes onnx.checker and ONNX Runtime reproduces chainrule's outputs (float32, atol 1e-5) at the
exported and at another batch size."""
import io

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import chainrule as cr  # noqa: E402
from chainrule import onnx as cr_onnx  # noqa: E402
from chainrule.training.digits import DigitsNet  # noqa: E402

nn = cr.nn
ATOL = 1e-5
BATCH = {"input": {0: "batch"}, "output": {0: "batch"}}


def round_trip(net, shape, opset=17, batches=(2, 5), atol=ATOL):
    """Export *net* on input of *shape* (batch first), then compare ONNX Runtime with chainrule."""
    cr.manual_seed(0)
    f = io.BytesIO()
    proto = cr_onnx.export(net, cr.randn(*shape), f, dynamic_axes=BATCH, opset_version=opset)
    onnx.checker.check_model(onnx.load_from_string(f.getvalue()), full_check=True)
    sess = ort.InferenceSession(f.getvalue(), providers=["CPUExecutionProvider"])
    net.eval()
    for n in batches:
        x = np.random.RandomState(n).randn(n, *shape[1:]).astype(np.float32)
        with cr.no_grad():
            want = net(cr.tensor(x)).data
        got = sess.run(None, {"input": x})[0]
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, atol=atol, rtol=1e-5)
    return proto


def ops(proto):
    return [n.op_type for n in proto.graph.node]


CONVS = [
    nn.Conv2d(3, 4, 3),
    nn.Conv2d(3, 4, 3, stride=2, padding=1),
    nn.Conv2d(3, 4, (3, 2), stride=(2, 1), padding=(1, 0), dilation=(1, 2)),
    nn.Conv2d(3, 4, 4, padding="same", dilation=2),            # even kernel: asymmetric pads
    nn.Conv2d(3, 4, 3, padding="valid", bias=False),
    nn.Conv2d(4, 4, 3, padding=1, groups=4),                    # depthwise
    nn.Conv2d(4, 6, 3, padding=1, groups=2),
    nn.Conv2d(3, 4, 3, padding=2, padding_mode="reflect"),
    nn.Conv2d(3, 4, 3, padding="same", padding_mode="replicate"),
]


@pytest.mark.parametrize("conv", CONVS, ids=repr)
def test_conv2d(conv):
    proto = round_trip(conv, (2, conv.in_channels, 9, 8))
    assert "Conv" in ops(proto)


def test_conv2d_circular_padding_needs_opset_19():
    conv = nn.Conv2d(2, 3, 3, padding=1, padding_mode="circular")
    with pytest.raises(cr_onnx.UnsupportedLayerError, match="circular.*opset"):
        round_trip(conv, (2, 2, 6, 6), opset=17)
    if onnx.defs.onnx_opset_version() >= 19:
        round_trip(conv, (2, 2, 6, 6), opset=19)


@pytest.mark.parametrize("conv", [nn.Conv1d(3, 5, 3), nn.Conv1d(3, 6, 4, stride=2, padding=2,
                                                                  dilation=2, groups=3),
                                  nn.Conv1d(3, 5, 4, padding="same")], ids=repr)
def test_conv1d(conv):
    round_trip(conv, (2, 3, 11))


@pytest.mark.parametrize("conv", [
    nn.ConvTranspose2d(4, 3, 2, stride=2),
    nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2),
    nn.ConvTranspose2d(4, 3, (3, 2), stride=(1, 2), dilation=(2, 1), bias=False),
    nn.ConvTranspose1d(4, 3, 3, stride=3, padding=1, output_padding=2),
], ids=repr)
def test_conv_transpose(conv):
    shape = (2, 4, 5, 6) if isinstance(conv, nn.ConvTranspose2d) else (2, 4, 7)
    assert "ConvTranspose" in ops(round_trip(conv, shape))


POOLS = [
    nn.MaxPool2d(2),
    nn.MaxPool2d(3, stride=2, padding=1),
    nn.MaxPool2d((3, 2), stride=(2, 1), dilation=(1, 2)),
    nn.MaxPool2d(3, stride=2, ceil_mode=True),
    nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True),
    nn.AvgPool2d(2),
    nn.AvgPool2d(3, stride=2, padding=1),
    nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False),
    nn.AvgPool2d(3, stride=2, ceil_mode=True),
    nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True),
    nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
]


@pytest.mark.parametrize("pool", POOLS, ids=lambda m: f"{type(m).__name__}({m.extra_repr()}"
                                                      f", {getattr(m, 'count_include_pad', '')})")
@pytest.mark.parametrize("size", [(8, 8), (9, 7)])
def test_pool2d(pool, size):
    round_trip(pool, (2, 3, *size))


@pytest.mark.parametrize("pool", [nn.MaxPool1d(2), nn.MaxPool1d(3, stride=2, padding=1,
                                                                ceil_mode=True),
                                  nn.MaxPool1d(2, dilation=2),
                                  nn.AvgPool1d(3, stride=2, padding=1),
                                  nn.AvgPool1d(3, stride=2, ceil_mode=True),
                                  nn.AvgPool1d(3, stride=2, padding=1, ceil_mode=True,
                                               count_include_pad=False)], ids=repr)
def test_pool1d(pool):
    round_trip(pool, (2, 3, 10))


@pytest.mark.parametrize("pool", [nn.MaxPool2d(3, stride=3, padding=1, ceil_mode=True),
                                  nn.AvgPool2d(3, stride=3, padding=1, ceil_mode=True),
                                  nn.AvgPool2d(3, stride=3, padding=1, ceil_mode=True,
                                               count_include_pad=False)], ids=repr)
def test_ceil_mode_drops_a_window_that_starts_in_the_padding(pool):
    # (5 + 2 - 3)/3 rounds up to 2 windows more, but the last would start in the right padding:
    # PyTorch drops it (2 windows, not 3), and so must the export
    assert round_trip(pool, (2, 3, 5, 5)) is not None


def test_pool_refusals():
    with pytest.raises(cr_onnx.UnsupportedLayerError, match="divisor_override"):
        round_trip(nn.AvgPool2d(2, divisor_override=3), (1, 1, 4, 4))
    with pytest.raises(cr_onnx.UnsupportedLayerError, match="return_indices"):
        cr_onnx.export(nn.MaxPool2d(2, return_indices=True), cr.randn(1, 1, 4, 4), io.BytesIO())


@pytest.mark.parametrize("size", [1, (1, 1), None])
def test_adaptive_avg_pool_global(size):
    pool = nn.AdaptiveAvgPool2d(size if size is not None else (1, None))
    shape = (2, 3, 7, 1 if size is None else 6)       # None keeps the input's width, 1
    proto = round_trip(pool, shape)
    assert "GlobalAveragePool" in ops(proto)


def test_adaptive_avg_pool_divisible_and_refused():
    assert "AveragePool" in ops(round_trip(nn.AdaptiveAvgPool2d((2, 3)), (2, 3, 8, 9)))
    round_trip(nn.AdaptiveAvgPool1d(2), (2, 3, 8))
    assert "GlobalAveragePool" in ops(round_trip(nn.AdaptiveAvgPool1d(1), (2, 3, 7)))
    with pytest.raises(cr_onnx.UnsupportedLayerError, match=r"\(7, 7\) to \(2, 2\).*divid"):
        cr_onnx.export(nn.AdaptiveAvgPool2d(2), cr.randn(1, 3, 7, 7), io.BytesIO())


def test_batchnorm2d_and_dropout2d_in_eval():
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                        nn.Dropout2d(0.5))
    net.train()
    for _ in range(3):
        net(cr.randn(8, 3, 6, 6) * 2 + 1)
    proto = round_trip(net, (2, 3, 6, 6))
    assert "BatchNormalization" in ops(proto) and "Dropout" not in ops(proto)
    round_trip(nn.Sequential(nn.Conv1d(3, 4, 3), nn.Dropout1d(0.3)), (2, 3, 7))
    no_stats = nn.Sequential(nn.BatchNorm2d(3, track_running_stats=False))
    with pytest.raises(cr_onnx.UnsupportedLayerError, match="BatchNorm2d.*track_running_stats"):
        cr_onnx.export(no_stats, cr.randn(2, 3, 4, 4), io.BytesIO())


@pytest.mark.parametrize("up", [
    nn.Upsample(scale_factor=2),
    nn.Upsample(scale_factor=(2, 3)),
    nn.Upsample(scale_factor=1.5),
    nn.Upsample(size=(7, 11)),
    nn.Upsample(size=(7, 11), mode="nearest-exact"),
    nn.Upsample(scale_factor=2, mode="bilinear"),
    nn.Upsample(size=(7, 9), mode="bilinear", align_corners=True),
    nn.Upsample(size=(3, 1), mode="bilinear"),
], ids=repr)
def test_upsample_2d(up):
    assert "Resize" in ops(round_trip(up, (2, 3, 4, 5)))


def test_upsample_1d():
    round_trip(nn.Upsample(scale_factor=3), (2, 3, 5))
    round_trip(nn.Upsample(size=8, mode="linear"), (2, 3, 5))


def test_convnet_round_trip():
    cr.manual_seed(3)
    net = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding="same"), nn.ReLU(), nn.Dropout2d(0.25), nn.AvgPool2d(2),
        nn.Upsample(scale_factor=2), nn.Conv2d(16, 8, 3, stride=2), nn.AdaptiveAvgPool2d(1),
        nn.Flatten(), nn.Linear(8, 10))
    round_trip(net, (4, 1, 12, 12), batches=(4, 1, 9))
    proto = round_trip(DigitsNet(dropout=0.2), (3, 1, 8, 8))
    assert "features.0.weight" in {t.name for t in proto.graph.initializer}
    assert {"DigitsNet", "Conv2d", "MaxPool2d", "AvgPool2d", "BatchNorm2d", "Upsample",
            "AdaptiveAvgPool2d", "Dropout2d", "ConvTranspose2d"} <= set(cr_onnx.supported())


# ---- Keras-style image layers ------------------------------------------------------------------
L = cr.layers


def keras_round_trip(model, shape, opset=17):
    x = np.random.RandomState(0).randn(*shape).astype(np.float32)
    name = model.input_names[0]
    out_name = model.output_names[0]
    f = io.BytesIO()
    proto = cr_onnx.export(model, x, f, dynamic_axes={name: {0: "n"}, out_name: {0: "n"}},
                           opset_version=opset)
    onnx.checker.check_model(onnx.load_from_string(f.getvalue()), full_check=True)
    sess = ort.InferenceSession(f.getvalue(), providers=["CPUExecutionProvider"])
    for n in (shape[0], 1, 6):
        xn = np.random.RandomState(n + 10).randn(n, *shape[1:]).astype(np.float32)
        want = model(xn, training=False).data
        np.testing.assert_allclose(sess.run(None, {name: xn})[0], want, atol=ATOL, rtol=1e-5)
    return proto


@pytest.mark.parametrize("opset", [17, 18])
def test_keras_convnet_channels_last(opset):
    cr.manual_seed(6)
    model = cr.Sequential([
        L.Input((17, 16, 3)),
        L.Conv2D(6, 3, padding="same", activation="relu"),
        L.MaxPooling2D(),
        L.Conv2D(8, (3, 2), strides=2, padding="same", use_bias=False),
        L.AveragePooling2D(2, strides=1, padding="same"),
        L.Conv2D(4, 2, dilation_rate=2, groups=2, activation="softmax"),
        L.MaxPooling2D(3, strides=2, padding="same"),
        L.Flatten(),
        L.Dense(5),
    ])
    proto = keras_round_trip(model, (2, 17, 16, 3), opset)
    assert "Transpose" in ops(proto) and "Conv" in ops(proto)


@pytest.mark.parametrize("keepdims", [False, True])
def test_keras_global_pooling(keepdims):
    cr.manual_seed(7)
    inp = L.Input((7, 6, 3))
    h = L.Conv2D(4, 3, activation="tanh")(inp)
    avg = L.GlobalAveragePooling2D(keepdims=keepdims)(h)
    mx = L.GlobalMaxPooling2D(keepdims=keepdims)(h)
    model = cr.Model(inp, L.Concatenate()([avg, mx]))
    keras_round_trip(model, (2, 7, 6, 3), 18 if keepdims else 17)


def test_keras_channels_first_and_conv1d():
    cr.manual_seed(8)
    model = cr.Sequential([
        L.Input((3, 8, 8)),
        L.Conv2D(4, 3, padding="same", data_format="channels_first", activation="relu"),
        L.MaxPooling2D(data_format="channels_first"),
        L.AveragePooling2D(data_format="channels_first"),
        L.GlobalAveragePooling2D(data_format="channels_first"),
        L.Dense(2),
    ])
    keras_round_trip(model, (2, 3, 8, 8))
    seq = cr.Sequential([
        L.Input((12, 3)),
        L.Conv1D(5, 3, padding="causal", dilation_rate=2, activation="relu"),
        L.Conv1D(4, 3, strides=2, padding="same"),
        L.MaxPooling1D(2, padding="same"),
        L.Flatten(),
    ])
    keras_round_trip(seq, (2, 12, 3))


@pytest.mark.parametrize("kw", [{"strides": 2, "padding": "same"}, {"strides": 3},
                                {"strides": 2, "padding": "same", "output_padding": 1},
                                {"strides": 1, "padding": "same", "dilation_rate": 2},
                                {"strides": 2, "data_format": "channels_first"}],
                         ids=lambda kw: ",".join(f"{k}={v}" for k, v in kw.items()))
def test_keras_conv2d_transpose(kw):
    cr.manual_seed(9)
    shape = (2, 3, 4, 5) if kw.get("data_format") == "channels_first" else (2, 4, 5, 3)
    model = cr.Sequential([L.Input(shape[1:]),
                           L.Conv2DTranspose(4, 2 if kw.get("strides") == 3 else 3,
                                             activation="relu", **kw)])
    keras_round_trip(model, shape)
