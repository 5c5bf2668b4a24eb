"""Keras-style image layers against independent NumPy implementations of Keras 3's semantics
(channels_last, kernels (kh, kw, in, out), TensorFlow's "same" padding, transposed-convolution
output sizes and crops, pooling that ignores padding), Keras's names, initializers and shapes,
gradients by gradcheck, a functional model end to end, saving, and errors."""
import itertools
import math
import re

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd import gradcheck
from chainrule.keras import clear_session, layers
from chainrule.keras.saving import dict_to_model, model_to_dict


@pytest.fixture(autouse=True)
def fresh_names():
    clear_session()
    cr.manual_seed(0)


def _rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def _np(t):
    return t.detach().numpy()


# ---- the references, in NumPy with explicit loops over windows ----------------------------------
def _tf_same(n, k, s, d=1):
    out = -(-n // s)
    total = max((out - 1) * s + d * (k - 1) + 1 - n, 0)
    return total // 2, total - total // 2


def ref_conv2d(x, kernel, bias, strides, padding, dilation=(1, 1), groups=1):
    """Keras Conv2D on NHWC x with a (kh, kw, in/groups, out) kernel."""
    n, h, w, c = x.shape
    kh, kw, cg, o = kernel.shape
    (sh, sw), (dh, dw) = strides, dilation
    if padding == "same":
        (t, b), (l, r) = _tf_same(h, kh, sh, dh), _tf_same(w, kw, sw, dw)
    else:
        t = b = l = r = 0
    xp = np.pad(x, ((0, 0), (t, b), (l, r), (0, 0)))
    oh = (h + t + b - dh * (kh - 1) - 1) // sh + 1
    ow = (w + l + r - dw * (kw - 1) - 1) // sw + 1
    og = o // groups
    y = np.zeros((n, oh, ow, o))
    for i, j in itertools.product(range(oh), range(ow)):
        patch = xp[:, i * sh:i * sh + dh * (kh - 1) + 1:dh, j * sw:j * sw + dw * (kw - 1) + 1:dw]
        for g in range(groups):
            y[:, i, j, g * og:(g + 1) * og] = np.einsum(
                "nabc,abco->no", patch[..., g * cg:(g + 1) * cg], kernel[..., g * og:(g + 1) * og])
    return y + (0 if bias is None else bias)


def ref_conv2d_transpose(x, kernel, bias, strides, padding, output_padding=None):
    """Keras Conv2DTranspose (TensorFlow's semantics) on NHWC x with a (kh, kw, out, in) kernel:
    scatter every input cell's kernel-weighted copy, then crop as conv2d_transpose does."""
    n, h, w, c = x.shape
    kh, kw, o, _ = kernel.shape
    sh, sw = strides
    full = np.zeros((n, (h - 1) * sh + kh, (w - 1) * sw + kw, o))
    for i, j in itertools.product(range(h), range(w)):
        full[:, i * sh:i * sh + kh, j * sw:j * sw + kw] += np.einsum("nc,abjc->nabj", x[:, i, j],
                                                                      kernel)
    sizes = []
    for dim, (m, k, s) in enumerate(((h, kh, sh), (w, kw, sw))):
        op = None if output_padding is None else output_padding[dim]
        if op is None:
            out = m * s + max(k - s, 0) if padding == "valid" else m * s
        else:
            out = (m - 1) * s + k - 2 * (k // 2 if padding == "same" else 0) + op
        sizes.append(out)
    crops = [max(f - o_, 0) // 2 if padding == "same" else 0
             for f, o_ in zip(full.shape[1:3], sizes)]
    big = np.zeros((n, max(full.shape[1], crops[0] + sizes[0]),
                    max(full.shape[2], crops[1] + sizes[1]), o))
    big[:, :full.shape[1], :full.shape[2]] = full
    return big[:, crops[0]:crops[0] + sizes[0], crops[1]:crops[1] + sizes[1]] + \
        (0 if bias is None else bias)


def ref_pool2d(x, pool, strides, padding, kind):
    n, h, w, c = x.shape
    (ph, pw), (sh, sw) = pool, strides
    if padding == "same":
        (t, b), (l, r) = _tf_same(h, ph, sh), _tf_same(w, pw, sw)
    else:
        t = b = l = r = 0
    fill = -np.inf if kind == "max" else np.nan
    xp = np.pad(x, ((0, 0), (t, b), (l, r), (0, 0)), constant_values=fill)
    oh, ow = (h + t + b - ph) // sh + 1, (w + l + r - pw) // sw + 1
    y = np.zeros((n, oh, ow, c))
    for i, j in itertools.product(range(oh), range(ow)):
        win = xp[:, i * sh:i * sh + ph, j * sw:j * sw + pw]
        y[:, i, j] = win.max(axis=(1, 2)) if kind == "max" else np.nanmean(win, axis=(1, 2))
    return y


# ---- Conv2D / Conv1D --------------------------------------------------------------------------
CONV_CASES = [dict(kernel_size=3, padding="valid"), dict(kernel_size=3, padding="same"),
              dict(kernel_size=(2, 3), strides=2, padding="same"),
              dict(kernel_size=(3, 2), strides=(2, 3), padding="valid"),
              dict(kernel_size=3, dilation_rate=2, padding="same"),
              dict(kernel_size=4, strides=3, padding="same"),
              dict(kernel_size=3, groups=2, padding="same", use_bias=False)]


@pytest.mark.parametrize("kw", CONV_CASES, ids=str)
def test_conv2d_matches_keras_semantics(kw):
    x = _rand(2, 7, 8, 4)
    layer = layers.Conv2D(6, dtype="float64", **kw)
    y = layer(cr.tensor(x))
    weights = layer.get_weights()
    kernel = weights[0]
    bias = weights[1] if layer.use_bias else None
    k = layer.kernel_size
    assert kernel.shape == k + (4 // kw.get("groups", 1), 6)
    ref = ref_conv2d(x, kernel, bias, layer.strides, layer.padding, layer.dilation_rate,
                     layer.groups)
    np.testing.assert_allclose(_np(y), ref, rtol=1e-10, atol=1e-10)
    assert layer.compute_output_shape((None, 7, 8, 4)) == (None,) + ref.shape[1:]


def test_conv2d_channels_first_and_activation():
    x = _rand(2, 4, 6, 5)
    layer = layers.Conv2D(3, 3, padding="same", data_format="channels_first", activation="relu",
                          dtype="float64")
    y = _np(layer(cr.tensor(x)))
    kernel, bias = layer.get_weights()
    ref = np.maximum(ref_conv2d(x.transpose(0, 2, 3, 1), kernel, bias, (1, 1), "same"), 0)
    np.testing.assert_allclose(y, ref.transpose(0, 3, 1, 2), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("padding", ["valid", "same", "causal"])
def test_conv1d_matches_keras_semantics(padding):
    x = _rand(3, 9, 2)
    layer = layers.Conv1D(4, 3, dilation_rate=2, padding=padding, dtype="float64")
    y = _np(layer(cr.tensor(x)))
    kernel, bias = layer.get_weights()
    assert kernel.shape == (3, 2, 4)
    if padding == "causal":
        xx, pad = np.pad(x, ((0, 0), (4, 0), (0, 0))), "valid"
    else:
        xx, pad = x, padding
    ref = ref_conv2d(xx[:, :, None], kernel[:, None], bias, (1, 1), pad, (2, 1))[:, :, 0]
    np.testing.assert_allclose(y, ref, rtol=1e-10, atol=1e-10)
    if padding == "causal":          # step t sees only steps ≤ t
        x2 = x.copy()
        x2[:, 5:] = 0
        y2 = _np(layer(cr.tensor(x2)))
        np.testing.assert_allclose(y2[:, :5], y[:, :5], rtol=1e-10)


# ---- Conv2DTranspose ----------------------------------------------------------------------------
@pytest.mark.parametrize("kw", [dict(kernel_size=3, strides=2, padding="same"),
                                dict(kernel_size=3, strides=2, padding="valid"),
                                dict(kernel_size=2, strides=2, padding="same"),
                                dict(kernel_size=4, strides=2, padding="same"),
                                dict(kernel_size=(3, 2), strides=(1, 3), padding="valid"),
                                dict(kernel_size=3, strides=3, padding="same",
                                     output_padding=1),
                                dict(kernel_size=3, strides=2, padding="valid",
                                     output_padding=(0, 1)),
                                dict(kernel_size=1, strides=3, padding="valid")], ids=str)
def test_conv2d_transpose_matches_keras_semantics(kw):
    x = _rand(2, 4, 5, 3)
    layer = layers.Conv2DTranspose(2, dtype="float64", **kw)
    y = _np(layer(cr.tensor(x)))
    kernel, bias = layer.get_weights()
    assert kernel.shape == layer.kernel_size + (2, 3)          # (kh, kw, filters, in)
    ref = ref_conv2d_transpose(x, kernel, bias, layer.strides, layer.padding,
                               layer.output_padding)
    assert y.shape == ref.shape
    np.testing.assert_allclose(y, ref, rtol=1e-10, atol=1e-10)
    assert layer.compute_output_shape((None, 4, 5, 3)) == (None,) + ref.shape[1:]


# ---- pooling ------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind,cls", [("max", "MaxPooling2D"), ("avg", "AveragePooling2D")])
@pytest.mark.parametrize("kw", [dict(), dict(pool_size=3, strides=2, padding="same"),
                                dict(pool_size=(2, 3), padding="same"),
                                dict(pool_size=3, strides=1, padding="valid"),
                                dict(pool_size=2, strides=3, padding="same")], ids=str)
def test_pooling_matches_keras_semantics(kind, cls, kw):
    x = _rand(2, 7, 8, 3)
    layer = getattr(layers, cls)(**kw)
    y = _np(layer(cr.tensor(x)))
    ref = ref_pool2d(x, layer.pool_size, layer.strides, layer.padding, kind)
    np.testing.assert_allclose(y, ref, rtol=1e-6, atol=1e-6)
    assert layer.compute_output_shape((None, 7, 8, 3)) == (None,) + ref.shape[1:]


def test_max_pooling1d_and_global_pooling():
    x = _rand(2, 9, 3)
    y = _np(layers.MaxPooling1D(3, strides=2, padding="same")(cr.tensor(x)))
    ref = ref_pool2d(x[:, :, None], (3, 1), (2, 1), "same", "max")[:, :, 0]
    np.testing.assert_allclose(y, ref, rtol=1e-6)
    x4 = _rand(2, 5, 4, 3)
    np.testing.assert_allclose(_np(layers.GlobalAveragePooling2D()(cr.tensor(x4))),
                               x4.mean(axis=(1, 2)), rtol=1e-6)
    np.testing.assert_allclose(_np(layers.GlobalMaxPooling2D(keepdims=True)(cr.tensor(x4))),
                               x4.max(axis=(1, 2), keepdims=True), rtol=1e-6)
    cf = layers.GlobalAveragePooling2D(data_format="channels_first")
    np.testing.assert_allclose(_np(cf(cr.tensor(x4))), x4.mean(axis=(2, 3)), rtol=1e-6)
    assert cf.compute_output_shape((None, 5, 4, 3)) == (None, 5)


# ---- padding and upsampling ---------------------------------------------------------------------
def test_zero_padding_and_upsampling():
    x = _rand(2, 3, 4, 2)
    for padding, pairs in ((1, ((1, 1), (1, 1))), ((2, 1), ((2, 2), (1, 1))),
                           (((1, 0), (0, 3)), ((1, 0), (0, 3)))):
        y = _np(layers.ZeroPadding2D(padding)(cr.tensor(x)))
        np.testing.assert_array_equal(y, np.pad(x, ((0, 0),) + pairs + ((0, 0),)))
    y = _np(layers.UpSampling2D((2, 3))(cr.tensor(x)))
    np.testing.assert_array_equal(y, x.repeat(2, axis=1).repeat(3, axis=2))
    bil = _np(layers.UpSampling2D(2, interpolation="bilinear")(cr.tensor(x)))
    assert bil.shape == (2, 6, 8, 2)
    # half-pixel centres: output row 1 of 6 sits at input row 0.25 → 0.75·x₀ + 0.25·x₁
    np.testing.assert_allclose(bil[:, 1, 0], 0.75 * x[:, 0, 0] + 0.25 * x[:, 1, 0], rtol=1e-5)
    np.testing.assert_allclose(bil[:, 0, 0], x[:, 0, 0], rtol=1e-5)


# ---- Keras behaviour: init, names, gradients, models, saving -----------------------------------
def test_glorot_uniform_init_and_keras_names():
    layer = layers.Conv2D(32, 3)
    layer.build((None, 8, 8, 16))
    kernel, bias = layer.get_weights()
    limit = math.sqrt(6 / (16 * 9 + 32 * 9))
    assert np.abs(kernel).max() <= limit and np.abs(kernel).max() > 0.95 * limit
    assert (bias == 0).all()
    assert layer.name == "conv2d" and layers.Conv2D(2, 2).name == "conv2d_1"
    assert layers.MaxPooling2D().name == "max_pooling2d"
    assert layers.Conv2DTranspose(2, 2).name == "conv2d_transpose"
    assert layer.count_params() == 16 * 9 * 32 + 32


def test_gradients_reach_the_keras_layout_kernel():
    x = cr.tensor(_rand(2, 5, 5, 2), requires_grad=True)
    conv = layers.Conv2D(3, 3, strides=2, padding="same", dtype="float64")
    convt = layers.Conv2DTranspose(2, 3, strides=2, padding="same", dtype="float64")
    f = lambda t: convt(conv(t)).tanh()     # noqa: E731
    assert gradcheck(f, (x,))
    f(x).sum().backward()
    assert conv.kernel.grad.shape == (3, 3, 2, 3) and convt.kernel.grad.shape == (3, 3, 2, 3)


def test_functional_convnet_trains_summary_and_round_trips():
    inputs = layers.Input(shape=(8, 8, 1))
    h = layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    h = layers.MaxPooling2D()(h)
    h = layers.Conv2DTranspose(2, 2, strides=2)(h)
    h = layers.ZeroPadding2D(1)(h)
    h = layers.UpSampling2D()(h)
    h = layers.AveragePooling2D(4)(h)
    h = layers.GlobalMaxPooling2D()(h)
    outputs = layers.Dense(3)(layers.Reshape((2,))(h))
    model = cr.Model(inputs, outputs)
    assert model.count_params() == (9 * 4 + 4) + (2 * 2 * 2 * 4 + 2) + (2 * 3 + 3)
    x = np.random.default_rng(1).standard_normal((16, 8, 8, 1)).astype(np.float32)
    y = np.random.default_rng(2).integers(0, 3, 16)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    hist = model.fit(x, y, epochs=3, batch_size=8, verbose=0)
    assert len(hist.history["loss"]) == 3
    clone = dict_to_model(model_to_dict(model))
    np.testing.assert_allclose(_np(clone(cr.tensor(x))), _np(model(cr.tensor(x))), rtol=1e-6)
    assert [type(l).__name__ for l in clone.layers][1:4] == ["Conv2D", "MaxPooling2D",
                                                            "Conv2DTranspose"]


def test_get_config_round_trip():
    for layer in (layers.Conv2D(4, (3, 2), strides=2, padding="same", groups=2,
                                activation="relu"),
                  layers.Conv1D(3, 5, padding="causal", dilation_rate=2),
                  layers.Conv2DTranspose(2, 3, strides=2, output_padding=1),
                  layers.MaxPooling2D(3, 2, "same"), layers.AveragePooling2D(),
                  layers.MaxPooling1D(), layers.GlobalAveragePooling2D(keepdims=True),
                  layers.GlobalMaxPooling2D(), layers.ZeroPadding2D(((1, 0), (2, 3))),
                  layers.UpSampling2D(3, interpolation="bilinear")):
        config = layer.get_config()
        config.pop("name")
        again = type(layer).from_config(config)
        config2 = again.get_config()
        config2.pop("name")
        assert config2 == config, type(layer).__name__


# ---- bad input ----------------------------------------------------------------------------------
def test_channel_mismatch_names_layer_axis_and_both_shapes():
    conv = layers.Conv2D(8, 3, name="c1")
    conv(cr.ones(1, 6, 6, 3))
    with pytest.raises(ValueError) as e:
        conv(cr.ones(1, 6, 6, 4))
    msg = str(e.value)
    assert '"c1"' in msg and "axis -1" in msg and "3" in msg and "(1, 6, 6, 4)" in msg
    assert "(3, 3, 3, 8)" in msg
    with pytest.raises(ValueError, match="rank 4"):
        conv(cr.ones(6, 6, 3))


def test_kernel_larger_than_input_and_bad_arguments():
    with pytest.raises(ValueError, match=r"Conv2D 'conv2d'.*larger than the padded input"):
        layers.Conv2D(2, 5)(cr.ones(1, 3, 3, 1))
    with pytest.raises(ValueError, match="filters"):
        layers.Conv2D(0, 3)
    with pytest.raises(ValueError, match="strides"):
        layers.Conv2D(2, 3, strides=0)
    with pytest.raises(ValueError, match="dilation_rate"):
        layers.Conv2D(2, 3, dilation_rate=(1, -1))
    with pytest.raises(ValueError, match="strides > 1. not supported in conjunction"):
        layers.Conv2D(2, 3, strides=2, dilation_rate=2)
    with pytest.raises(ValueError, match="evenly divisible by the number of groups"):
        layers.Conv2D(3, 3, groups=2)
    with pytest.raises(ValueError, match="groups=2.*3 channels"):
        layers.Conv2D(4, 3, groups=2)(cr.ones(1, 5, 5, 3))
    with pytest.raises(ValueError, match="padding"):
        layers.Conv2D(2, 3, padding="causal")
    with pytest.raises(ValueError, match="data_format"):
        layers.MaxPooling2D(data_format="nhwc")
    with pytest.raises(ValueError, match="output padding"):
        layers.Conv2DTranspose(2, 3, strides=2, output_padding=2)
    with pytest.raises(ValueError, match="padding"):
        layers.ZeroPadding2D((1, 2, 3))
    with pytest.raises(ValueError, match="interpolation"):
        layers.UpSampling2D(interpolation="cubic")


@pytest.mark.parametrize("make, x, argument", [
    (lambda: layers.Conv2D(2, (3, 5), name="c"), cr.ones(1, 4, 4, 3), r"kernel_size=\(3, 5\)"),
    (lambda: layers.Conv2D(2, 3, dilation_rate=2, name="c"), cr.ones(1, 4, 9, 3),
     r"kernel_size=\(3, 3\) \(dilated \(5, 5\)\)"),
    (lambda: layers.Conv1D(2, 3, name="c"), cr.ones(2, 2, 5), r"kernel_size=\(3,\)"),
    (lambda: layers.MaxPooling2D((1, 3), name="c"), cr.ones(2, 5, 2, 7), r"pool_size=\(1, 3\)"),
    (lambda: layers.AveragePooling2D(3, name="c", data_format="channels_first"),
     cr.ones(1, 3, 2, 9), r"pool_size=\(3, 3\)"),
])
def test_kernel_larger_than_input_names_the_users_shape_before_any_state_changes(make, x,
                                                                                 argument):
    """The error names the layer, the argument and the input's shape as given (channels last
    stays channels last), and comes before any weight is drawn."""
    layer = make()
    state = cr.get_rng_state()
    shape = re.escape(str(tuple(x.shape)))
    with pytest.raises(ValueError, match=rf"{type(layer).__name__} 'c'.*larger than the padded "
                                         rf"input.*{argument}.*{shape}"):
        layer(x)
    assert layer.weights == []
    if type(layer).__name__.startswith("Conv"):
        assert not layer.built                           # built again, whole, on a good input
    assert cr.get_rng_state() == state
    with pytest.raises(ValueError, match=r"larger than the padded input.*\(None, "):
        layer(layers.Input(tuple(x.shape[1:])))          # symbolic input: at model building
