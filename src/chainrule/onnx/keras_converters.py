"""ONNX converters for Keras-style layers and models: Dense, Activation (and every built-in
activation function), Dropout, BatchNormalization and LayerNormalization in evaluation mode,
Flatten, Reshape, Identity, Normalization, the merge layers, and functional / Sequential models
(graphs that fork and merge, nested models)."""
import numpy as np

from chainrule.keras import Model, Sequential, layers
from chainrule.keras.layers import activations as A
from chainrule.onnx import ops
from chainrule.onnx.builder import Value
from chainrule.onnx.registry import UnsupportedLayerError, register_converter

_SELU = {"alpha": 1.6732632423543772848170429916717, "gamma": 1.0507009873554804934193349852946}
ACTIVATIONS = {
    A.linear: lambda ctx, x: x.name,
    A.relu: lambda ctx, x: ops.unary(ctx, "Relu", x),
    A.sigmoid: lambda ctx, x: ops.unary(ctx, "Sigmoid", x),
    A.tanh: lambda ctx, x: ops.unary(ctx, "Tanh", x),
    A.softmax: lambda ctx, x: ops.unary(ctx, "Softmax", x, axis=-1),
    A.log_softmax: lambda ctx, x: ops.unary(ctx, "LogSoftmax", x, axis=-1),
    A.gelu: lambda ctx, x: ops.gelu(ctx, x),
    A.elu: lambda ctx, x: ops.unary(ctx, "Elu", x, alpha=1.0),
    A.selu: lambda ctx, x: ops.unary(ctx, "Selu", x, **_SELU),
    A.softplus: lambda ctx, x: ops.softplus(ctx, x),
    A.softsign: lambda ctx, x: ops.unary(ctx, "Softsign", x),
    A.leaky_relu: lambda ctx, x: ops.unary(ctx, "LeakyRelu", x, alpha=0.2),
    A.silu: lambda ctx, x: ops.silu(ctx, x),
    A.exponential: lambda ctx, x: ops.unary(ctx, "Exp", x),
    A.relu6: lambda ctx, x: ops.clip(ctx, x, 0.0, 6.0),
    A.hard_sigmoid: lambda ctx, x: ops.unary(ctx, "HardSigmoid", x, alpha=1 / 6, beta=0.5),
    A.mish: lambda ctx, x: ops.mish(ctx, x),
}


def activation(ctx, layer, fn, x):
    """The ONNX nodes of the Keras activation function *fn* of *layer* applied to *x*."""
    emit = ACTIVATIONS.get(fn)
    if emit is None:
        raise UnsupportedLayerError(
            f"onnx.export: layer '{layer.name}' uses the activation {fn!r}, which has no ONNX "
            f"converter; exportable activations: "
            f"{', '.join(sorted(n for n, f in A.ACTIVATIONS.items() if f in ACTIVATIONS))}")
    return emit(ctx, x)


def _values(x):
    return x if isinstance(x, list) else [x]


@register_converter(Model, Sequential)
def graph_model(ctx, model, out, x):
    graph = model._graph
    if graph is None:
        raise UnsupportedLayerError(
            f"onnx.export: model '{model.name}' ({type(model).__name__}) is a subclassed model: "
            f"its computation is Python code in call(), which has no graph to export. Build it as "
            f"cr.Model(inputs, outputs) or cr.Sequential([...]), or register a converter")
    given = _values(x)
    slots = [None] * graph.n_slots
    for i, (t, v) in enumerate(zip(graph.inputs, given)):
        want = np.dtype(t.dtype)
        slots[i] = v if v.dtype == want else Value(ctx.cast(v, want), v.example.to(want.name))
    for layer, ins, as_list, kwargs, outs, _free in graph.steps:
        if kwargs.get("training"):
            raise UnsupportedLayerError(
                f"onnx.export: layer '{layer.name}' is called with training=True inside model "
                f"'{model.name}', so it behaves as in training even at inference; only "
                f"inference-mode graphs export")
        args = [slots[i] for i in ins]
        result = ctx.convert(layer, args if as_list else args[0], name=layer.name)
        for i, r in zip(outs, _values(result)):
            slots[i] = r
    results = [slots[i].name for i in graph.output_slots]
    return results[0] if graph.single_output else results


@register_converter(layers.Dense)
def dense(ctx, layer, out, x):
    bias = ctx.param(layer.bias, "bias") if layer.use_bias else None
    y = ops.dense(ctx, x, ctx.param(layer.kernel, "kernel"), bias)
    return activation(ctx, layer, layer.activation, Value(y, out))


@register_converter(layers.Activation)
def activation_layer(ctx, layer, out, x):
    return activation(ctx, layer, layer.activation, x)


@register_converter(layers.Dropout, layers.Identity)
def identity(ctx, layer, out, x):
    return x.name  # Dropout is the identity in evaluation mode, where export runs


@register_converter(layers.Flatten)
def flatten(ctx, layer, out, x):
    name = x.name
    if layer.data_format == "channels_first" and x.ndim > 2:
        name = ctx.op("Transpose", [name], perm=[0, *range(2, x.ndim), 1])
    return ctx.op("Flatten", [name], axis=1)


@register_converter(layers.Reshape)
def reshape(ctx, layer, out, x):
    return ctx.op("Reshape", [x.name, ctx.ints([0, *layer.target_shape], "shape")])


@register_converter(layers.BatchNormalization)
def batch_normalization(ctx, layer, out, x):
    gamma = ctx.param(layer.gamma, "gamma") if layer.scale else None
    beta = ctx.param(layer.beta, "beta") if layer.center else None
    return ops.batch_norm(ctx, x, layer.axis % x.ndim, ctx.param(layer.moving_mean, "moving_mean"),
                          ctx.param(layer.moving_variance, "moving_variance"), layer.epsilon,
                          gamma, beta)


@register_converter(layers.LayerNormalization)
def layer_normalization(ctx, layer, out, x):
    gamma = ctx.param(layer.gamma, "gamma") if layer.scale else None
    beta = ctx.param(layer.beta, "beta") if layer.center else None
    given = layer.axis if isinstance(layer.axis, (list, tuple)) else [layer.axis]
    axes = sorted({a % x.ndim for a in given})
    if axes == list(range(x.ndim - len(axes), x.ndim)):  # trailing axes: ONNX's own operator
        scale = gamma or ctx.const(np.ones([x.shape[a] for a in axes]), "ones", like=x)
        inputs = [x.name, scale] + ([beta] if beta else [])
        return ctx.op("LayerNormalization", inputs, axis=-len(axes), epsilon=float(layer.epsilon))
    bshape = [x.shape[i] if i in axes else 1 for i in range(x.ndim)]
    return ops.normalize(ctx, x, axes, layer.epsilon, gamma, beta, bshape)


@register_converter(layers.Normalization)
def normalization(ctx, layer, out, x):
    dtype = out._data.dtype
    mean, var = layer._stats()
    mean = mean.reshape(layer._bshape)
    scale = np.maximum(np.sqrt(var.astype(np.float64)), 1e-7).reshape(layer._bshape)
    name = ctx.cast(x, dtype)
    mean_c = ctx.const(mean, "mean", dtype=dtype)
    scale_c = ctx.const(scale, "scale", dtype=dtype)
    if layer.invert:
        return ctx.op("Add", [mean_c, ctx.op("Mul", [name, scale_c])])
    return ctx.op("Div", [ctx.op("Sub", [name, mean_c]), scale_c])


@register_converter(layers.Concatenate)
def concatenate(ctx, layer, out, xs):
    return ctx.op("Concat", [v.name for v in xs], axis=layer.axis % xs[0].ndim)


def _fold(op_type):
    def convert(ctx, layer, out, xs):
        name = xs[0].name
        for v in xs[1:]:
            name = ctx.op(op_type, [name, v.name])
        return name
    return convert


register_converter(layers.Add)(_fold("Add"))
register_converter(layers.Subtract)(_fold("Sub"))
register_converter(layers.Multiply)(_fold("Mul"))
register_converter(layers.Maximum)(_fold("Max"))
register_converter(layers.Minimum)(_fold("Min"))


@register_converter(layers.Average)
def average(ctx, layer, out, xs):
    total = _fold("Add")(ctx, layer, out, xs)
    return ctx.op("Div", [total, ctx.const(float(len(xs)), "count", dtype=out._data.dtype)])
