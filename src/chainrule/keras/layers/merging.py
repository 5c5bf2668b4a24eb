"""Merge layers: where the branches of a functional model meet.

``Concatenate(axis=-1)`` joins tensors along an axis; ``Add``, ``Subtract``, ``Multiply``,
``Average``, ``Maximum`` and ``Minimum`` combine same-shaped tensors elementwise (sizes of 1
broadcast). Each is called on a list of at least two tensors; the lower-case functions
(``concatenate([a, b])``, ``add([a, b])``) build the layer and call it in one step, as in Keras.

Example::

    >>> a, b = cr.layers.Input((3,)), cr.layers.Input((5,))
    >>> cr.layers.Concatenate()([a, b]).shape
    (None, 8)
"""
import functools

from chainrule.errors import ConfigError, ShapeError
from chainrule.keras.layers.base import Layer
from chainrule.keras.layers.registry import serializable
from chainrule.keras.symbolic import shape_repr
from chainrule.ops import elementwise as _el
from chainrule.ops.shape import cat


def _check_list(layer, shapes, exactly=None):
    n = len(shapes) if isinstance(shapes, list) else 1
    if not isinstance(shapes, list) or n < 2 or (exactly is not None and n != exactly):
        need = f"exactly {exactly}" if exactly else "at least 2"
        raise ConfigError(f"{type(layer).__name__} '{layer.name}': a merge layer should be called "
                          "on "
                          f"a list of {need} inputs. Received: {n} input{'s' if n != 1 else ''}")


class _Merge(Layer):
    """Base of the elementwise merges: checks the shapes, then folds ``_merge`` over the inputs."""

    _exactly = None

    def build(self, input_shape):
        _check_list(self, input_shape, self._exactly)
        self.compute_output_shape(input_shape)

    def compute_output_shape(self, input_shape):
        _check_list(self, input_shape, self._exactly)
        ndim = max(len(s) for s in input_shape)
        out = []
        for i in range(ndim):
            dims = [s[len(s) - ndim + i] for s in input_shape if len(s) - ndim + i >= 0]
            known = {d for d in dims if d is not None and d != 1}
            if len(known) > 1:
                raise ShapeError(f"{type(self).__name__} '{self.name}': inputs must have matching "
                                 f"shapes. Received: input_shape="
                                 f"[{', '.join(shape_repr(tuple(s)) for s in input_shape)}]")
            if known:
                out.append(known.pop())
            elif None in dims:
                out.append(None)
            else:
                out.append(1)
        return tuple(out)

    def forward(self, inputs):
        if not isinstance(inputs, (list, tuple)):
            _check_list(self, tuple(inputs.shape))
        self.compute_output_shape([tuple(x.shape) for x in inputs])
        return functools.reduce(self._merge, inputs[1:], inputs[0]) if self._fold \
            else self._combine(list(inputs))

    _fold = True

    def _merge(self, a, b):
        raise NotImplementedError


@serializable()
class Add(_Merge):
    """Elementwise sum of the inputs. Example: ``cr.layers.Add()([a, b])``."""

    def _merge(self, a, b):
        return a + b


@serializable()
class Subtract(_Merge):
    """``inputs[0] - inputs[1]`` (exactly two inputs). Example: ``cr.layers.Subtract()([a, b])``."""

    _exactly = 2

    def _merge(self, a, b):
        return a - b


@serializable()
class Multiply(_Merge):
    """Elementwise product of the inputs. Example: ``cr.layers.Multiply()([a, b])``."""

    def _merge(self, a, b):
        return a * b


@serializable()
class Average(_Merge):
    """Elementwise mean of the inputs. Example: ``cr.layers.Average()([a, b])``."""

    _fold = False

    def _combine(self, inputs):
        return functools.reduce(lambda a, b: a + b, inputs[1:], inputs[0]) / float(len(inputs))


@serializable()
class Maximum(_Merge):
    """Elementwise maximum (ties share the gradient as ``cr.maximum``). Example: ``Maximum()([a, b])``."""

    def _merge(self, a, b):
        return _el.maximum(a, b)


@serializable()
class Minimum(_Merge):
    """Elementwise minimum (ties share the gradient as ``cr.minimum``). Example: ``Minimum()([a, b])``."""

    def _merge(self, a, b):
        return _el.minimum(a, b)


@serializable()
class Concatenate(Layer):
    """Joins the inputs along *axis* (default the last); the other sizes must match.

    Example: ``cr.layers.Concatenate()([cr.ones(2, 3), cr.ones(2, 5)]).shape`` → ``(2, 8)``.
    """

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise ConfigError(f"Concatenate: expected an int for axis. Received: axis={axis!r}")
        self.axis = axis

    def build(self, input_shape):
        self.compute_output_shape(input_shape)

    def compute_output_shape(self, input_shape):
        _check_list(self, input_shape)
        ndim = len(input_shape[0])
        bad = ShapeError(f"A `Concatenate` layer requires inputs with matching shapes except for "
                         f"the concatenation axis. Received: input_shape="
                         f"[{', '.join(shape_repr(tuple(s)) for s in input_shape)}] (axis={self.axis})")
        if any(len(s) != ndim for s in input_shape) or not -ndim <= self.axis < ndim:
            raise bad
        axis = self.axis % ndim
        out = []
        for i in range(ndim):
            dims = [s[i] for s in input_shape]
            if i == axis:
                out.append(None if None in dims else sum(dims))
                continue
            known = {d for d in dims if d is not None}
            if len(known) > 1:
                raise bad
            out.append(known.pop() if known else None)
        return tuple(out)

    def forward(self, inputs):
        self.compute_output_shape([tuple(x.shape) for x in inputs])
        return cat(list(inputs), dim=self.axis)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


def concatenate(inputs, axis=-1, **kwargs):
    """``Concatenate(axis, **kwargs)(inputs)``. Example: ``concatenate([a, b])``."""
    return Concatenate(axis=axis, **kwargs)(inputs)


def add(inputs, **kwargs):
    """``Add(**kwargs)(inputs)``. Example: ``add([a, b])``."""
    return Add(**kwargs)(inputs)


def subtract(inputs, **kwargs):
    """``Subtract(**kwargs)(inputs)``. Example: ``subtract([a, b])``."""
    return Subtract(**kwargs)(inputs)


def multiply(inputs, **kwargs):
    """``Multiply(**kwargs)(inputs)``. Example: ``multiply([a, b])``."""
    return Multiply(**kwargs)(inputs)


def average(inputs, **kwargs):
    """``Average(**kwargs)(inputs)``. Example: ``average([a, b])``."""
    return Average(**kwargs)(inputs)


def maximum(inputs, **kwargs):
    """``Maximum(**kwargs)(inputs)``. Example: ``maximum([a, b])``."""
    return Maximum(**kwargs)(inputs)


def minimum(inputs, **kwargs):
    """``Minimum(**kwargs)(inputs)``. Example: ``minimum([a, b])``."""
    return Minimum(**kwargs)(inputs)
