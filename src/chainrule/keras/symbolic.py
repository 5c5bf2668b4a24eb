"""Symbolic tensors: the placeholders that calling layers on ``Input(...)`` passes around.

A :class:`KerasTensor` holds no values, only a shape whose first entry (the batch) is ``None``, a
dtype, and the :class:`Node` that produced it: the layer that was called and the KerasTensors it
was called on. Following ``node.inputs`` from a model's outputs back to its Inputs recovers the
whole graph, so a layer never records the graphs it is used in (the node points at the layer, never
the reverse) and one layer may be called many times (a shared layer: one node per call).

Nodes are numbered in the order they are made; since a node's inputs exist before it does, that
order is a topological order of any graph, which is what ``cr.Model`` runs.

Example::

    >>> x = cr.layers.Input(shape=(29,), name="input")
    >>> h = cr.layers.Dense(16)(x)
    >>> h
    <KerasTensor shape=(None, 16), dtype=float32, source=dense...>
    >>> h.node.inputs[0] is x
    True
"""
import itertools

from chainrule.errors import ArgumentTypeError

_node_ids = itertools.count()
STRING_DTYPE = "string"   # the dtype of a KerasTensor of text (``Input(dtype="string")``)


def _shape_repr(shape):
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


class KerasTensor:
    """A symbolic tensor: a shape with ``None`` for unknown sizes, a dtype, and the node that made it.

    ``node`` is the :class:`Node` of the layer call that produced it and ``index`` which of that
    call's outputs it is. KerasTensors come from ``cr.layers.Input`` and from calling layers on
    KerasTensors; you do not make them yourself. Example::

        >>> cr.layers.Input(shape=(3,)).shape
        (None, 3)
    """

    __slots__ = ("shape", "dtype", "node", "index", "__weakref__")

    def __init__(self, shape, dtype="float32", node=None, index=0):
        self.shape = tuple(None if d is None else int(d) for d in shape)
        self.dtype = str(dtype)
        self.node = node
        self.index = index

    @property
    def ndim(self):
        """The number of dimensions, the batch included."""
        return len(self.shape)

    @property
    def name(self):
        """The name of the layer that produced this tensor (with ``:i`` for its i-th of several)."""
        if self.node is None:
            return "?"
        name = self.node.layer.name
        return name if len(self.node.outputs) <= 1 else f"{name}:{self.index}"

    def __repr__(self):
        return f"<KerasTensor shape={_shape_repr(self.shape)}, dtype={self.dtype}, source={self.name}>"

    def __bool__(self):
        raise ArgumentTypeError("a KerasTensor is symbolic and has no truth value: it only describes the "
                                "shape of data a model will receive; call the model on real data")

    def __array__(self, *args, **kwargs):
        raise ArgumentTypeError(f"a KerasTensor ({self.name}) is symbolic and holds no values: build a "
                                f"cr.Model from it and call the model on real data")


class Node:
    """One call of a layer in a graph: ``outputs = layer(inputs, **kwargs)``.

    *inputs* is the tuple of KerasTensors the layer was called on; *as_list* tells whether they
    were passed as a list (merge layers) or as a single tensor; *kwargs* holds plain call options
    such as ``training``. ``uid`` grows with every node made, so sorting by it is topological.
    Example::

        >>> y = cr.layers.Dense(2)(cr.layers.Input((3,)))
        >>> type(y.node.layer).__name__, len(y.node.inputs)
        ('Dense', 1)
    """

    __slots__ = ("layer", "inputs", "as_list", "kwargs", "outputs", "uid")

    def __init__(self, layer, inputs, as_list, kwargs=None):
        self.layer = layer
        self.inputs = tuple(inputs)
        self.as_list = bool(as_list)
        self.kwargs = dict(kwargs or {})
        self.outputs = ()
        self.uid = next(_node_ids)

    def __repr__(self):
        return (f"<Node {self.layer.name} ({type(self.layer).__name__}) on "
                f"[{', '.join(t.name for t in self.inputs)}]>")


def is_symbolic(x):
    """True for a KerasTensor, or a list/tuple holding at least one. Example: ``is_symbolic(Input((3,)))``."""
    if isinstance(x, KerasTensor):
        return True
    return isinstance(x, (list, tuple)) and any(isinstance(t, KerasTensor) for t in x)


def shape_repr(shape):
    """``(None, 16)`` for a shape tuple, Keras's way (``(3,)`` for one entry). Example: ``shape_repr((None, 1))``."""
    return _shape_repr(shape)
