"""The converter registry: which function writes the ONNX nodes for which layer class.

A converter is ``fn(ctx, layer, out, *args) -> names``: *ctx* is the graph being built (see
:class:`~chainrule.onnx.builder.GraphBuilder`), *layer* the module being exported, *out* the
chainrule output it produced on the example inputs (a Tensor, or a list of them), and *args* the
:class:`~chainrule.onnx.builder.Value` of each argument it was called with (a list of Values for a
layer called on a list, as Keras's merge layers are). It returns the ONNX name of its output (a list
of names for several outputs).

New layers register themselves where they are defined, or anywhere before export::

    >>> class Scale(cr.nn.Module):
    ...     def __init__(self, factor):
    ...         super().__init__()
    ...         self.factor = factor
    ...     def forward(self, x):
    ...         return x * self.factor
    >>> @cr.onnx.register_converter(Scale)
    ... def _scale(ctx, layer, out, x):
    ...     return ctx.op("Mul", [x.name, ctx.const(layer.factor, "factor", like=x)])
    >>> proto = cr.onnx.export(Scale(2.0), cr.ones(1, 3), "scale.onnx")
    >>> [node.op_type for node in proto.graph.node]
    ['Mul', 'Identity']

A subclass uses its base class's converter only when it computes the same way (it does not
override ``forward`` or ``call``); any other layer without a converter raises
:class:`UnsupportedLayerError` naming it.
"""
from chainrule.errors import ArgumentTypeError, ConfigError

_CONVERTERS = {}


class UnsupportedLayerError(ConfigError):
    """A layer has no ONNX converter; the message names the layer, its class and how to add one."""


def register_converter(*classes):
    """Decorator: use the decorated function to export layers of *classes*.

    A later registration for the same class replaces the earlier one. Example:
    ``@register_converter(cr.nn.ReLU)`` above ``def relu(ctx, layer, out, x): ...``.
    """
    if not classes or not all(isinstance(c, type) for c in classes):
        raise ArgumentTypeError("register_converter: expected one or more layer classes, got "
                                f"{classes!r}")

    def decorate(fn):
        if not callable(fn):
            raise ArgumentTypeError("register_converter: expected a function, got "
                                    f"{type(fn).__name__}")
        for cls in classes:
            _CONVERTERS[cls] = fn
        return fn

    return decorate


def supported():
    """The names of the layer classes that have a converter, sorted.

    Example: ``"Linear" in supported()`` → True.
    """
    return sorted({cls.__name__ for cls in _CONVERTERS})


def _computes_like(cls, base):
    """True when *cls* inherits its computation (``forward`` and ``call``) from *base*."""
    return all(getattr(cls, a, None) is getattr(base, a, None) for a in ("forward", "call"))


def lookup(layer, where):
    """The converter for *layer* (found at *where* in the model), or ``UnsupportedLayerError``."""
    cls = type(layer)
    fn = _CONVERTERS.get(cls)
    if fn is not None:
        return fn
    for base in cls.__mro__[1:]:
        if base in _CONVERTERS and _computes_like(cls, base):
            return _CONVERTERS[base]
    label = getattr(layer, "name", None)
    label = f"layer '{label}'" if isinstance(label, str) else f"module '{where or '(the model)'}'"
    raise UnsupportedLayerError(
        f"onnx.export: {label} of type {cls.__module__}.{cls.__qualname__} has no ONNX converter. "
        f"Exportable layers: {', '.join(supported())}. Register one with "
        f"@cr.onnx.register_converter({cls.__name__}) (see chainrule.onnx.registry)")
