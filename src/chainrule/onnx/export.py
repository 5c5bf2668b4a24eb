"""``cr.onnx.export``: write a chainrule model as an ONNX file that ONNX Runtime can run.

The model runs once on the example *args* in evaluation mode (Dropout off, BatchNorm on its
running statistics; the model's modes are restored afterwards) while each layer's converter (see
:mod:`chainrule.onnx.registry`) writes the ONNX nodes for what it computed. Weights become
initializers under their ``state_dict`` names. Shapes are those of *args* except the axes named in
*dynamic_axes*, which stay symbolic, so one file serves any batch size. The model is checked with
``onnx.checker`` (``full_check``: types and shapes too) before anything is written.
"""
import os

import numpy as np
import onnx

from chainrule.atomic_write import write_atomic
from chainrule.errors import ArgumentTypeError, ConfigError, ShapeError
from chainrule.factories import as_tensor
from chainrule.keras.models.functional import Model
from chainrule.nn import Module
from chainrule.onnx.builder import GraphBuilder, Value
from chainrule.tensor import Tensor

MIN_OPSET = 17
PRODUCER_VERSION = "0.1.0"


def _names(given, default, what):
    n = len(default)
    if given is None:
        return list(default)
    if isinstance(given, str) or not isinstance(given, (list, tuple)) or \
            not all(isinstance(s, str) and s for s in given):
        raise ArgumentTypeError(f"onnx.export: {what} must be a list of non-empty strings, got "
                                f"{given!r}")
    if len(given) > n:
        raise ConfigError(f"onnx.export: {len(given)} {what} given for a model with {n} "
                          f"{what.split('_')[0]}s: {list(given)}")
    names = list(given) + default[len(given):]
    if len(set(names)) != len(names):
        raise ConfigError(f"onnx.export: {what} must be distinct, got {names}")
    return names


def _dynamic(dynamic_axes, examples):
    """``{value name: {axis: dim name}}`` from PyTorch's two forms of *dynamic_axes*:
    ``{name: [0]}`` and ``{name: {0: "batch"}}``."""
    if dynamic_axes is None:
        return {}
    if not isinstance(dynamic_axes, dict):
        raise ArgumentTypeError(f"onnx.export: dynamic_axes must be a dict such as "
                                f"{{'input': {{0: 'batch'}}}}, got {type(dynamic_axes).__name__}")
    out = {}
    for name, axes in dynamic_axes.items():
        if name not in examples:
            raise ConfigError(f"onnx.export: dynamic_axes names {name!r}, which is neither an "
                              f"input nor an output name; the names are {list(examples)}")
        ndim = len(examples[name].shape)
        if isinstance(axes, dict):
            pairs = list(axes.items())
        elif isinstance(axes, (list, tuple)):
            pairs = [(a, f"{name}_dynamic_axes_{i + 1}") for i, a in enumerate(axes)]
        else:
            raise ArgumentTypeError(f"onnx.export: dynamic_axes[{name!r}] must be a list of axes "
                                    f"or a dict {{axis: name}}, got {axes!r}")
        spec = {}
        for axis, dim in pairs:
            if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)) \
                    or not -ndim <= axis < ndim:
                raise ShapeError(f"onnx.export: dynamic_axes[{name!r}] has axis {axis!r}, outside "
                                 f"the {ndim} axes of {name!r} (shape "
                                 f"{tuple(examples[name].shape)})")
            if not isinstance(dim, str) or not dim:
                raise ArgumentTypeError(f"onnx.export: dynamic_axes[{name!r}][{axis}] must name "
                                        f"the axis with a non-empty string, got {dim!r}")
            spec[int(axis) % ndim] = dim
        out[name] = spec
    return out


def _example_inputs(model, args):
    """The example input tensors, in the model's input order."""
    if isinstance(model, Model) and model._graph is not None:
        data = list(args) if isinstance(args, tuple) else args
        return model._graph.feed(data), True
    items = list(args) if isinstance(args, (tuple, list)) else [args]
    tensors = []
    for i, a in enumerate(items):
        if not isinstance(a, (Tensor, np.ndarray)):
            raise ArgumentTypeError(f"onnx.export: args[{i}] must be a Tensor or an array, got "
                                    f"{type(a).__name__}")
        tensors.append(as_tensor(a))
    return tensors, False


def export(model, args, f, input_names=None, output_names=None, dynamic_axes=None,
           opset_version=17):
    """Export *model* (a ``cr.nn`` module or a Keras-style model) to the ONNX file *f*.

    *args* is the example input: a tensor or array, or a tuple of them (the positional arguments
    of a module; the inputs, in order, of a Keras model, which also takes a dict by input name).
    *input_names* / *output_names* name the graph's inputs and outputs (default ``input`` and
    ``output``, numbered when there are several; a Keras model's own input and output names);
    *dynamic_axes* (``{"input": {0: "batch"}, "output": {0: "batch"}}`` or ``{"input": [0]}``)
    leaves those axes' sizes open. *f* is a path or a binary file object. Returns the
    ``onnx.ModelProto``. A layer without a converter raises
    :class:`~chainrule.onnx.UnsupportedLayerError` naming it. Example::

        >>> net = cr.nn.Sequential(cr.nn.Linear(4, 8), cr.nn.ReLU(), cr.nn.Linear(8, 1))
        >>> proto = cr.onnx.export(net, cr.randn(2, 4), "net.onnx",
        ...                        dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
        >>> [i.name for i in proto.graph.input]
        ['input']
    """
    if not isinstance(model, Module):
        raise ArgumentTypeError("onnx.export: model must be a cr.nn.Module or a Keras-style model, "
                                f"got {type(model).__name__}")
    newest = onnx.defs.onnx_opset_version()
    if isinstance(opset_version, bool) or not isinstance(opset_version, int) \
            or not MIN_OPSET <= opset_version <= newest:
        raise ConfigError(f"onnx.export: opset_version must be an int from {MIN_OPSET} to {newest} "
                          f"(the installed onnx package's newest), got {opset_version!r}")
    if not (isinstance(f, (str, bytes, os.PathLike)) or hasattr(f, "write")):
        raise ArgumentTypeError(f"onnx.export: f must be a path or a binary file object, got "
                                f"{type(f).__name__}")
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        proto = _build(model, args, input_names, output_names, dynamic_axes, opset_version)
    finally:
        for m, mode in modes:
            m.training = mode
    onnx.checker.check_model(proto, full_check=True)
    data = proto.SerializeToString()
    if hasattr(f, "write"):
        f.write(data)
    else:
        write_atomic(f, lambda out: out.write(data), "onnx.export")
    return proto


def _build(model, args, input_names, output_names, dynamic_axes, opset):
    inputs, is_graph = _example_inputs(model, args)
    keras = isinstance(model, Model) and is_graph
    default_in = model.input_names if keras else \
        (["input"] if len(inputs) == 1 else [f"input_{i}" for i in range(len(inputs))])
    in_names = _names(input_names, default_in, "input_names")
    values = [Value(n, t) for n, t in zip(in_names, inputs)]
    ctx = GraphBuilder(opset, reserved=in_names + list(output_names or []))
    if keras:
        out = ctx.convert(model, values if len(values) > 1 else values[0], name="")
    else:
        out = ctx.convert(model, *values, name="")
    outs = out if isinstance(out, list) else [out]
    default_out = model.output_names if keras else \
        (["output"] if len(outs) == 1 else [f"output_{i}" for i in range(len(outs))])
    out_names = _names(output_names, default_out, "output_names")
    given = len(output_names or [])
    out_names = out_names[:given] + [ctx.fresh(n) for n in out_names[given:]]
    clash = set(out_names) & set(in_names)
    if clash:
        raise ConfigError(f"onnx.export: {sorted(clash)} named both an input and an output")
    for v, name in zip(outs, out_names):
        ctx.nodes.append(onnx.helper.make_node("Identity", [v.name], [name],
                                               name=ctx.fresh(f"/{name}/Identity")))
    examples = {**{v.name: v.example for v in values},
                **{n: v.example for n, v in zip(out_names, outs)}}
    dynamic = _dynamic(dynamic_axes, examples)
    graph_inputs = [ctx.value_info(v.name, v.example, dynamic.get(v.name, {})) for v in values]
    graph_outputs = [ctx.value_info(n, v.example, dynamic.get(n, {}))
                     for n, v in zip(out_names, outs)]
    name = getattr(model, "name", None) or type(model).__name__
    return ctx.model(name, graph_inputs, graph_outputs, PRODUCER_VERSION)
