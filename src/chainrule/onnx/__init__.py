"""``cr.onnx``: export chainrule models to ONNX, for ONNX Runtime and every other ONNX consumer.

``cr.onnx.export(model, args, "model.onnx", dynamic_axes={"input": {0: "batch"}})`` writes a
``cr.nn`` module or a Keras-style model; each layer class has a converter in a registry
(:func:`register_converter`), so new layers add their own. Needs the ``onnx`` package
(``pip install 'chainrule[onnx]'``); ``import chainrule`` never imports it. Example::

    >>> net = cr.nn.Sequential(cr.nn.Linear(4, 8), cr.nn.ReLU(), cr.nn.Linear(8, 1))
    >>> proto = cr.onnx.export(net, cr.randn(1, 4), "net.onnx")
    >>> [node.op_type for node in proto.graph.node]
    ['Gemm', 'Relu', 'Gemm', 'Identity']

``onnxruntime.InferenceSession("net.onnx").run(None, {"input": x})[0]`` then equals ``net(x)``.
"""
try:
    import onnx as _onnx  # noqa: F401
except ImportError as e:  # pragma: no cover - exercised where onnx is absent
    raise ImportError("cr.onnx needs the onnx package: pip install 'chainrule[onnx]'",
                      name="onnx") from e

from chainrule.onnx.registry import UnsupportedLayerError, register_converter, supported
from chainrule.onnx import (  # noqa: F401 - register the converters
    catalogue_converters, image_converters, keras_converters, keras_image_converters,
    keras_recurrent_converters, nn_converters, recurrent_converters)
from chainrule.onnx.builder import GraphBuilder, Value
from chainrule.onnx.export import export

__all__ = ["GraphBuilder", "UnsupportedLayerError", "Value", "export", "register_converter",
           "supported"]
