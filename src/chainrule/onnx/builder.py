"""The ONNX graph being built: nodes, initializers, unique names, and the walk over the layers.

Export runs the model once on the example inputs and, layer by layer, lets each layer's converter
write the ONNX nodes that compute what the layer computed. Every value in the graph is a
:class:`Value`: its ONNX name and the chainrule tensor it held on the example inputs (converters
read ranks, dtypes and sizes from it; the batch size is never baked into the graph). Names follow
PyTorch's exporter: nodes ``/fc1/Gemm``, values ``/fc1/Gemm_output_0``, weights ``fc1.weight``.
"""
import numpy as np
from onnx import helper, numpy_helper

from chainrule.errors import ShapeError
from chainrule.grad_mode import no_grad
from chainrule.onnx.registry import lookup
from chainrule.tensor import Tensor


class Value:
    """One value of the ONNX graph: its *name* and the chainrule tensor *example* it held on the
    example inputs. Example: ``Value("input", cr.zeros(2, 3)).ndim`` → 2."""

    __slots__ = ("name", "example")

    def __init__(self, name, example):
        self.name, self.example = name, example

    @property
    def shape(self):
        return tuple(self.example.shape)

    @property
    def ndim(self):
        return len(self.example.shape)

    @property
    def dtype(self):
        """The NumPy dtype of the value."""
        return np.dtype(self.example._data.dtype)

    def __repr__(self):
        return f"Value({self.name!r}, shape={self.shape}, dtype={self.dtype})"


def _map(fn, tree):
    """*fn* applied to each leaf of a value, or of a list/tuple of them (one level deep)."""
    if isinstance(tree, (list, tuple)):
        return [fn(t) for t in tree]
    return fn(tree)


def _flatten(outs):
    """The tensors of a (possibly nested) tuple of outputs, in order."""
    flat = []
    for o in outs:
        flat.extend(_flatten(o) if isinstance(o, (list, tuple)) else [o])
    return flat


class GraphBuilder:
    """Collects nodes and initializers for opset *opset*; names never collide with *reserved*.

    Converters call :meth:`op` for a node, :meth:`const` and :meth:`param` for initializers, and
    :meth:`convert` for a sub-layer (containers and models do).
    """

    def __init__(self, opset, reserved=()):
        self.opset = opset
        self.nodes, self.initializers = [], []
        self._used = set(reserved)
        self._consts = {}
        self._path = []

    # ---- names ---------------------------------------------------------------------------------
    def fresh(self, name):
        """*name*, or *name* with ``_1``, ``_2`` ... appended if it is taken; marked as taken."""
        candidate, i = name, 0
        while candidate in self._used:
            i += 1
            candidate = f"{name}_{i}"
        self._used.add(candidate)
        return candidate

    @property
    def where(self):
        """The dotted path of the layer being converted (``"encoder.0"``), for messages."""
        return ".".join(self._path)

    def _scope(self):
        return "/" + "/".join(self._path) if self._path else ""

    # ---- nodes and constants -------------------------------------------------------------------
    def op(self, op_type, inputs, n_outputs=1, **attrs):
        """Add an ``op_type`` node on the value names *inputs* ("" for an omitted optional input);
        return its output name (a list of names if *n_outputs* > 1). Example:
        ``ctx.op("Relu", [x.name])``."""
        base = f"{self._scope()}/{op_type}"
        node_name = self.fresh(base)
        outputs = [self.fresh(f"{node_name}_output_{i}") for i in range(n_outputs)]
        self.nodes.append(helper.make_node(op_type, list(inputs), outputs, name=node_name, **attrs))
        return outputs[0] if n_outputs == 1 else outputs

    def const(self, value, name, dtype=None, like=None, key=None):
        """An initializer holding *value* (cast to *dtype*, or to the dtype of the Value *like*);
        *name* is prefixed with the current layer path. Equal *key*s share one initializer.
        Example: ``ctx.const(6.0, "max", like=x)``."""
        if key is not None and key in self._consts:
            return self._consts[key]
        if like is not None and dtype is None:
            dtype = like.dtype
        arr = np.array(value, dtype=dtype, order="C")  # 0-d stays 0-d (a scalar)
        prefix = ".".join(self._path)
        full = self.fresh(f"{prefix}.{name}" if prefix else name)
        self.initializers.append(numpy_helper.from_array(arr, full))
        if key is not None:
            self._consts[key] = full
        return full

    def param(self, tensor, name, transform=None):
        """The initializer for a layer's weight *tensor* (optionally ``transform(array)``, such as
        a transpose); one initializer per weight and transform, however often the layer runs."""
        tag = None if transform is None else getattr(transform, "__name__", repr(transform))
        arr = tensor._data if transform is None else transform(tensor._data)
        return self.const(arr, name, key=(id(tensor), tag))

    def ints(self, values, name):
        """An int64 initializer, for shapes and axes. Example: ``ctx.ints([0, -1], "shape")``."""
        return self.const(np.asarray(values, dtype=np.int64).reshape(-1), name)

    def cast(self, value, dtype):
        """The name of *value* cast to NumPy *dtype* (the name itself if it already has it)."""
        if value.dtype == np.dtype(dtype):
            return value.name
        return self.op("Cast", [value.name], to=helper.np_dtype_to_tensor_dtype(np.dtype(dtype)))

    # ---- walking the model -----------------------------------------------------------------------
    def convert(self, layer, *args, name=None):
        """Export *layer* called on *args* (Values, or lists of Values); return its output Value
        (a list of Values for several outputs). *name* is the layer's path segment."""
        segment = name if name is not None else getattr(layer, "name", None) or type(layer).__name__
        depth = len(self._path)
        if segment != "":  # the model itself: its layers' names start at the top
            self._path.append(str(segment))
        try:
            fn = lookup(layer, self.where)
            with no_grad():
                out = layer(*[_map(lambda v: v.example, a) for a in args])
            names = fn(self, layer, out, *args)
        finally:
            del self._path[depth:]
        if isinstance(out, (list, tuple)):
            out = _flatten(out)   # LSTM's (output, (h_n, c_n)): three graph outputs
            if not isinstance(names, (list, tuple)) or len(names) != len(out):
                raise ShapeError(f"onnx.export: the converter of {type(layer).__name__} returned "
                                 f"{names!r} for {len(out)} outputs")
            return [Value(n, o) for n, o in zip(names, out)]
        if not isinstance(out, Tensor):
            raise ShapeError(f"onnx.export: {type(layer).__name__} returned a "
                             f"{type(out).__name__}; only tensors and lists of tensors export")
        return Value(names, out)

    # ---- the model ---------------------------------------------------------------------------
    def value_info(self, name, example, dynamic):
        """A graph input/output description; axes in *dynamic* ({axis: dim name}) are symbolic."""
        shape = [dynamic.get(i, d) for i, d in enumerate(example.shape)]
        elem = helper.np_dtype_to_tensor_dtype(np.dtype(example._data.dtype))
        return helper.make_tensor_value_info(name, elem, shape)

    def model(self, graph_name, inputs, outputs, producer_version):
        """The ModelProto of the collected graph with the given input/output value infos."""
        graph = helper.make_graph(self.nodes, graph_name, inputs, outputs, self.initializers)
        opsets = [helper.make_opsetid("", self.opset)]
        return helper.make_model(graph, opset_imports=opsets, producer_name="chainrule",
                                 producer_version=producer_version,
                                 ir_version=helper.find_min_ir_version_for(opsets))

