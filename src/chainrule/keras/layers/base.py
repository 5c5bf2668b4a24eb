"""``Layer``: the Keras-style building block, an ``nn.Module`` that builds itself on first call.

A layer is created without knowing its input size (``Dense(16)``), creates its weights in
``build(input_shape)`` the first time it is called, and then computes ``forward(inputs)``. Called
on real data (a Tensor or an array) it runs at once; called on a symbolic
:class:`~chainrule.keras.symbolic.KerasTensor` (from ``cr.layers.Input``) it records a graph node
and returns a new KerasTensor, which is how functional models are written.

Being a Module, a layer's trainable weights are ``Parameter``s (found by ``parameters()``, updated
by optimisers) and its non-trainable state (moving averages, adapted statistics) are buffers; the
Keras views ``weights``, ``trainable_weights``, ``non_trainable_weights``, ``get_weights()`` and
``set_weights()`` list both in the order they were created (Dense: kernel, bias).

Modes follow PyTorch: ``model.train()`` / ``model.eval()`` switch Dropout and BatchNormalization,
and ``training=True/False`` passed to a call overrides the mode for that call.

Writing a layer::

    >>> class Scale(cr.layers.Layer):
    ...     def build(self, input_shape):
    ...         self.w = self.add_weight("w", (input_shape[-1],), initializer="ones")
    ...     def forward(self, x):
    ...         return x * self.w
    >>> Scale()(cr.ones(2, 3)).shape
    (2, 3)
"""
import functools
import inspect
import math

import numpy as np

from chainrule import dtypes
from chainrule.errors import ArgumentTypeError, ConfigError, DefinitionError, ShapeError
from chainrule.grad_mode import no_grad
from chainrule.keras import regularizers
from chainrule.keras.layers import initializers
from chainrule.keras.symbolic import KerasTensor, Node, is_symbolic, shape_repr
from chainrule.keras.utils import (check_name, normalize_shape, positive_int, snake_case,
                                   spend_weight_budget, to_tensor, unique_name)
from chainrule.nn.modules.module import Module
from chainrule.nn.parameter import Parameter
from chainrule.tensor import Tensor

_TRAINING_ARG = {}


def _takes_training(cls):
    """Whether ``cls.forward`` accepts a ``training`` keyword (cached per class)."""
    flag = _TRAINING_ARG.get(cls)
    if flag is None:
        params = inspect.signature(cls.forward).parameters
        flag = "training" in params or any(p.kind is p.VAR_KEYWORD for p in params.values())
        _TRAINING_ARG[cls] = flag
    return flag


class Layer(Module):
    """Base class of Keras-style layers: an ``nn.Module`` with a name that builds lazily.

    Subclasses define ``build(input_shape)`` (create weights with :meth:`add_weight`),
    ``forward(inputs[, training])`` and, for speed and exact shapes in graphs,
    ``compute_output_shape(input_shape)``; ``get_config`` returns the constructor arguments.
    Keyword arguments: ``name`` (default: the class name in snake case, made unique: ``dense``,
    ``dense_1``), ``trainable`` (False freezes the weights), ``dtype`` of the weights
    (default ``cr.get_default_dtype()``). Example::

        >>> layer = cr.layers.Dense(4)
        >>> layer.built, layer(cr.ones(2, 3)).shape, layer.built
        (False, (2, 4), True)
    """

    _autocast = True  # cast inputs to the dtype of the layer's float weights before forward
    _single_input = False  # True: the layer takes one tensor, never a list of them

    def __init__(self, *, name=None, trainable=True, dtype=None, input_shape=None,
                 input_dim=None, **kwargs):
        if kwargs:
            raise ArgumentTypeError(f"Unrecognized keyword arguments passed to {type(self).__name__}: "
                                    f"{kwargs}")
        super().__init__()
        where = type(self).__name__
        self.name = check_name(name, where) if name is not None else \
            unique_name(snake_case(self._default_name()))
        self._trainable = bool(trainable)
        self.built = False
        self._dtype = dtypes.to_dtype(dtype) if dtype is not None else dtypes.get_default_dtype()
        if self._dtype.kind != "f" and self._autocast:
            raise ConfigError(f"{where}: expected a floating-point dtype. Received: "
                              f"dtype={dtype!r}")
        self._weight_names = []      # attribute names of the weights, in creation order
        self._weight_trainable = {}  # attribute name -> created as trainable
        self._regularizers = {}      # attribute name -> regularizer
        self._input_shape_arg = None  # Keras's Dense(16, input_shape=(29,)) for a first layer
        if input_shape is not None:
            self._input_shape_arg = (None,) + normalize_shape(input_shape, where, "input_shape")
        elif input_dim is not None:
            self._input_shape_arg = (None, positive_int(input_dim, "input_dim", where))

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "build" in cls.__dict__:  # a direct layer.build(shape) marks the layer built, as Keras
            cls.build = _marking_built(cls.__dict__["build"])

    @classmethod
    def _default_name(cls):
        return cls.__name__

    # ---- Keras attributes -------------------------------------------------------------------
    @property
    def dtype(self):
        """The dtype of the layer's weights, as a string (``"float32"``)."""
        return self._dtype.name

    @property
    def trainable(self):
        """Whether the weights are updated by training; ``False`` freezes them (and sub-layers)."""
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        value = bool(value)
        self._trainable = value
        for name in self._weight_names:
            w = getattr(self, name)
            if self._weight_trainable[name] and isinstance(w, Parameter):
                w.requires_grad_(value)
        for layer in self._sublayers():
            layer.trainable = value

    def _sublayers(self):
        """The layers registered directly under this one (the layers of a model)."""
        return [m for m in self._modules.values() if isinstance(m, Layer)]

    def add_weight(self, name, shape, initializer="glorot_uniform", dtype=None, trainable=True,
                   regularizer=None):
        """Create a weight ``self.<name>`` of *shape*, initialised by *initializer*; return it.

        A trainable float weight becomes a ``Parameter``; a non-trainable one (moving statistics)
        a buffer. A *regularizer* adds ``regularizer(weight)`` to ``self.losses``.
        Example: ``self.kernel = self.add_weight("kernel", (n_in, 16))``.
        """
        where = f"{type(self).__name__} '{self.name}'"
        shape = normalize_shape(shape, f"{where}: add_weight('{name}')")
        if None in shape:
            raise ShapeError(f"{where}: cannot create weight '{name}' of unknown shape {shape}")
        spend_weight_budget(math.prod(shape), f"{where}: weight '{name}' of shape {shape}")
        dtype = dtypes.to_dtype(dtype) if dtype is not None else self._dtype
        init = initializers.get(initializer)
        value = init(shape, dtype=dtype)
        value = np.asarray(value._data if isinstance(value, Tensor) else value).astype(dtype)
        if value.shape != shape:
            raise ShapeError(f"{where}: initializer {init!r} returned shape {value.shape} for "
                             f"weight '{name}' of shape {shape}")
        if name in self._weight_names:
            raise ConfigError(f"{where}: a weight named '{name}' already exists")
        if trainable and dtype.kind == "f":
            tensor = Parameter(Tensor(value), requires_grad=self._trainable)
            setattr(self, name, tensor)
        else:
            tensor = Tensor(value)
            self.register_buffer(name, tensor)
        self._weight_names.append(name)
        self._weight_trainable[name] = bool(trainable and dtype.kind == "f")
        if regularizer is not None:
            self._regularizers[name] = regularizers.get(regularizer)
        return tensor

    def _own_weights(self):
        return [getattr(self, n) for n in self._weight_names]

    def _weight_entries(self):
        """(layer, attribute name) for every weight here and in sub-layers, each weight once."""
        out, seen, stack = [], set(), [self]
        while stack:
            layer = stack.pop()
            for n in layer._weight_names:
                w = getattr(layer, n)
                if id(w) not in seen:
                    seen.add(id(w))
                    out.append((layer, n))
            stack.extend(reversed(layer._sublayers()))
        return out

    @property
    def weights(self):
        """All weights, trainable and not, in creation order (sub-layers' after this layer's)."""
        return [getattr(layer, n) for layer, n in self._weight_entries()]

    @property
    def trainable_weights(self):
        """The weights that training updates (``Parameter``s with ``requires_grad``)."""
        return [w for w in self.weights if isinstance(w, Parameter) and w.requires_grad]

    @property
    def non_trainable_weights(self):
        """The weights that training leaves alone (frozen weights, moving statistics)."""
        return [w for w in self.weights if not (isinstance(w, Parameter) and w.requires_grad)]

    @property
    def variables(self):
        """The same as ``weights`` (Keras 3 keeps both names)."""
        return self.weights

    def count_params(self):
        """The number of scalars in all weights. Example: ``Dense(16)`` on 29 inputs has 480."""
        if not self.built:
            raise ConfigError(f"You tried to call count_params on layer '{self.name}', but the "
                              f"layer isn't built. You can build it manually via: "
                              f"`layer.build(input_shape)`.")
        return int(sum(w._data.size for w in self.weights))

    @property
    def losses(self):
        """The regularisation penalties of this layer and its sub-layers, as scalar tensors.

        Recomputed from the current weights at every access, so they may be added to a loss and
        backpropagated: ``loss = loss_fn(model(x), y) + sum(model.losses)``.
        """
        out, seen = [], set()
        stack = [self]
        while stack:
            layer = stack.pop()
            if id(layer) in seen:
                continue
            seen.add(id(layer))
            for n, reg in layer._regularizers.items():
                out.append(reg(getattr(layer, n)))
            stack.extend(reversed(layer._sublayers()))
        return out

    def get_weights(self):
        """The weights as a list of NumPy arrays (copies), in ``weights`` order.

        Example: ``kernel, bias = dense.get_weights()`` with shapes ``(in, units)`` and ``(units,)``.
        """
        return [np.array(w._data, copy=True) for w in self.weights]

    def set_weights(self, weights):
        """Overwrite the weights from a list of arrays in ``get_weights`` order and shapes.

        The count and every shape are checked first; on any mismatch a ``ValueError`` names the
        weight and nothing is changed. Example: ``dense.set_weights([kernel, bias])``.
        """
        entries = self._weight_entries()
        where = f"{type(self).__name__} '{self.name}'"
        if not isinstance(weights, (list, tuple)):
            raise ConfigError(f"{where}: set_weights expects a list of arrays. "
                              f"Received: {type(weights).__name__}")
        if len(weights) != len(entries):
            expected = ", ".join(f"{n} {shape_repr(getattr(l, n).shape)}" for l, n in entries)
            hint = "" if self.built or entries else \
                " (the layer is not built yet: call it on data or build(input_shape) first)"
            raise ShapeError(f"{where}: set_weights expected {len(entries)} arrays "
                             f"[{expected}], received {len(weights)}{hint}")
        arrays = []
        for i, ((layer, n), value) in enumerate(zip(entries, weights)):
            target = getattr(layer, n)
            arr = value._data if isinstance(value, Tensor) else value
            try:
                arr = np.asarray(arr)
            except Exception as e:  # noqa: BLE001 - anything numpy refuses is a bad weight
                raise ConfigError(f"{where}: weight {i} ({layer.name}/{n}) is not an array: "
                                  f"{e}") from None
            if arr.dtype.kind not in "biuf":
                raise ConfigError(f"{where}: weight {i} ({layer.name}/{n}) must be numeric, "
                                  f"received dtype {arr.dtype}")
            if arr.shape != target.shape:
                raise ShapeError(f"{where}: weight {i} ({layer.name}/{n}) has shape "
                                 f"{shape_repr(target.shape)}, received an array of shape "
                                 f"{shape_repr(arr.shape)}")
            arrays.append((target, arr))
        with no_grad():
            for target, arr in arrays:
                np.copyto(target._data, arr, casting="unsafe")
                target._vc[0] += 1

    # ---- building and calling ------------------------------------------------------------------
    def build(self, input_shape):
        """Create the weights for inputs of *input_shape* (batch first, possibly None).

        The default creates nothing; ``__call__`` sets ``built`` afterwards.
        """

    def forward(self, *args, **kwargs):
        """The layer's computation, Keras's ``call``: override ``forward(self, inputs)``."""
        if callable(getattr(type(self), "call", None)):
            raise DefinitionError(
                f"{type(self).__name__} defines call(), but chainrule's Keras-style layers compute "
                f"in forward(self, inputs) (add a training=None argument to receive the training "
                f"flag): rename {type(self).__name__}.call to forward")
        return super().forward(*args, **kwargs)

    def _build_once(self, input_shape):
        if not self.built:
            self.build(input_shape)
            self.built = True

    def _compute_dtype(self):
        """The dtype inputs are cast to: that of the first float weight, or None."""
        for n in self._weight_names:
            w = getattr(self, n)
            if w._data.dtype.kind == "f":
                return w._data.dtype
        return None

    def _autocast_inputs(self, inputs):
        target = self._compute_dtype()
        if target is None:
            return inputs
        if isinstance(inputs, Tensor):
            return inputs if inputs.dtype == target else inputs.to(target)
        if isinstance(inputs, list):
            return [x.to(target) if isinstance(x, Tensor) and x.dtype != target else x
                    for x in inputs]
        return inputs

    def __call__(self, inputs, *args, **kwargs):
        if self._single_input and isinstance(inputs, (list, tuple)) and inputs \
                and not isinstance(inputs[0], (int, float, str, bytes, list, tuple)):
            raise ArgumentTypeError(f"{type(self).__name__} '{self.name}' takes one tensor, received a "
                                    f"list of {len(inputs)}")
        if is_symbolic(inputs):
            return self._symbolic_call(inputs, args, kwargs)
        inputs = to_tensor(inputs)
        if not self.built:
            self._build_once(_shapes_of(inputs))
        if self._autocast:
            inputs = self._autocast_inputs(inputs)
        if "training" in kwargs and not _takes_training(type(self)):
            kwargs = {k: v for k, v in kwargs.items() if k != "training"}
        return super().__call__(inputs, *args, **kwargs)

    def _symbolic_call(self, inputs, args, kwargs):
        """Record ``self(inputs)`` as a graph node and return the output KerasTensor(s)."""
        where = f"{type(self).__name__} '{self.name}'"
        as_list = isinstance(inputs, (list, tuple))
        flat = list(inputs) if as_list else [inputs]
        for i, t in enumerate(flat):
            if not isinstance(t, KerasTensor):
                raise ArgumentTypeError(f"{where}: cannot mix symbolic tensors (from cr.layers.Input) and "
                                        f"real data in one call; input {i} is a {type(t).__name__}")
        if args:
            raise ArgumentTypeError(f"{where}: a call on symbolic tensors takes the inputs and keyword "
                                    f"options only; received {len(args)} extra positional arguments")
        params = inspect.signature(type(self).forward).parameters
        takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
        for k, v in kwargs.items():
            if v is not None and not isinstance(v, (bool, int, float, str)):
                raise ArgumentTypeError(f"{where}: call option {k}={v!r} cannot be recorded in a graph "
                                        f"(only None, bool, int, float and str values can)")
            if not takes_any and k != "training" and k not in list(params)[2:]:
                raise ArgumentTypeError(f"{where}: unexpected call option {k!r}; "
                                        f"{type(self).__name__} takes "
                                        f"{', '.join(list(params)[2:]) or 'none'}")
        shapes = [t.shape for t in flat]
        shape_arg = shapes if as_list else shapes[0]
        self._build_once(shape_arg)
        out_shape = self.compute_output_shape(shape_arg)
        out_dtype = self.compute_output_dtype([t.dtype for t in flat] if as_list else flat[0].dtype)
        node = Node(self, flat, as_list, kwargs)
        if isinstance(out_shape, list):
            dts = out_dtype if isinstance(out_dtype, list) else [out_dtype] * len(out_shape)
            outputs = [KerasTensor(s, d, node, i) for i, (s, d) in enumerate(zip(out_shape, dts))]
            node.outputs = tuple(outputs)
            return outputs
        out = KerasTensor(out_shape, out_dtype, node, 0)
        node.outputs = (out,)
        return out

    def compute_output_shape(self, input_shape):
        """The output shape for *input_shape* (a list of shapes for several outputs).

        The default runs ``forward`` once on zeros (in eval mode, without a graph); layers
        override it to be exact about unknown sizes.
        """
        shapes = input_shape if isinstance(input_shape, list) else [input_shape]
        dummies = [Tensor(np.zeros(tuple(2 if d is None else d for d in s),
                                   dtype=self._compute_dtype() or self._dtype)) for s in shapes]
        modes = [(m, m.training) for m in self.modules()]
        try:
            for m, _ in modes:
                m.training = False
            with no_grad():
                out = self.forward(dummies if isinstance(input_shape, list) else dummies[0])
        finally:
            for m, mode in modes:
                m.training = mode
        batch_unknown = bool(shapes) and bool(shapes[0]) and shapes[0][0] is None

        def spec(t):
            s = tuple(t.shape)
            return ((None,) + s[1:]) if batch_unknown and s else s

        return [spec(t) for t in out] if isinstance(out, (list, tuple)) else spec(out)

    def compute_output_dtype(self, input_dtype):
        """The dtype name of the output (the weights' dtype, else the first input's)."""
        dt = self._compute_dtype()
        if dt is not None:
            return dt.name
        first = input_dtype[0] if isinstance(input_dtype, list) else input_dtype
        return first

    # ---- configuration -----------------------------------------------------------------------
    def get_config(self):
        """The constructor arguments as plain JSON-able values (``name``, ``trainable``, ``dtype``...).

        ``type(layer).from_config(layer.get_config())`` makes an equivalent, unbuilt layer.
        """
        return {"name": self.name, "trainable": self.trainable, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config):
        """A new layer from ``get_config()``'s dict. Example: ``Dense.from_config(d.get_config())``."""
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


def _marking_built(build):
    @functools.wraps(build)
    def wrapper(self, *args, **kwargs):
        out = build(self, *args, **kwargs)
        self.built = True
        return out
    return wrapper


def _shapes_of(inputs):
    if isinstance(inputs, Tensor):
        return tuple(inputs.shape)
    if isinstance(inputs, (list, tuple)):
        return [tuple(x.shape) for x in inputs]
    if isinstance(inputs, dict):
        return {k: tuple(v.shape) for k, v in inputs.items()}
    raise ArgumentTypeError(f"expected a Tensor, an array or a list of them as layer input, "
                            f"received {type(inputs).__name__}")
