"""Layer wrappers, as Keras 3's: ``Bidirectional`` (a recurrent layer run both ways) and
``TimeDistributed`` (a layer applied to every time step).

Example::

    >>> bi = cr.layers.Bidirectional(cr.layers.LSTM(4, return_sequences=True))
    >>> bi(cr.randn(2, 5, 3)).shape
    (2, 5, 8)
    >>> cr.layers.TimeDistributed(cr.layers.Dense(7))(cr.randn(2, 5, 3)).shape
    (2, 5, 7)
"""
import copy

from chainrule.errors import ArgumentTypeError, ConfigError, ShapeError
from chainrule.keras.layers.base import Layer
from chainrule.keras.layers.masking import MaskedLayer
from chainrule.keras.layers.registry import deserialize_layer, serializable, serialize_layer
from chainrule.keras.symbolic import shape_repr
from chainrule.ops.shape import cat

_MERGE_MODES = ("sum", "mul", "ave", "concat", None)


def _strip(name, prefix):
    return name[len(prefix):] if name.startswith(prefix) else name


@serializable()
class Bidirectional(MaskedLayer):
    """Runs a copy of *layer* forwards and another backwards over the sequence and merges them.

    merge_mode "concat" (default), "sum", "mul", "ave", or None (a list of both). The two copies
    are rebuilt from *layer*'s config (fresh weights, named ``forward_<name>`` and
    ``backward_<name>``); weights list the forward layer's first. With return_sequences the
    backward outputs are flipped back to the input's time order, and masked steps output zeros.

    >>> cr.layers.Bidirectional(cr.layers.GRU(3))(cr.randn(2, 4, 5)).shape
    (2, 6)
    """

    def __init__(self, layer, merge_mode="concat", weights=None, backward_layer=None, **kwargs):
        if not isinstance(layer, Layer):
            raise ArgumentTypeError("Please initialize `Bidirectional` layer with a "
                                    f"`cr.layers.Layer` instance. Received: {layer!r}")
        if backward_layer is not None and not isinstance(backward_layer, Layer):
            raise ArgumentTypeError("Bidirectional: `backward_layer` need to be a "
                                    f"`cr.layers.Layer` instance. Received: {backward_layer!r}")
        if merge_mode not in _MERGE_MODES:
            raise ConfigError(f"Invalid merge mode. Received: {merge_mode!r}. Merge mode should "
                              f"be one of {{'sum', 'mul', 'ave', 'concat', None}}")
        for attr in ("go_backwards", "return_sequences", "return_state"):
            if not hasattr(layer, attr):
                raise ArgumentTypeError("Bidirectional: the wrapped layer must be a recurrent "
                                        f"layer (with {attr}); received {type(layer).__name__}")
        super().__init__(**kwargs)
        entry = serialize_layer(layer)
        entry["config"]["name"] = "forward_" + _strip(layer.name, "forward_")
        self.forward_layer = deserialize_layer(entry)
        if backward_layer is None:
            entry = copy.deepcopy(serialize_layer(layer))
            entry["config"]["go_backwards"] = not layer.go_backwards
            entry["config"]["name"] = "backward_" + _strip(layer.name, "backward_")
            backward_layer = deserialize_layer(entry)
        self.backward_layer = backward_layer
        fwd, bwd = self.forward_layer, self.backward_layer
        if fwd.go_backwards == bwd.go_backwards:
            raise ConfigError(f"Forward layer and backward layer should have different "
                              f"`go_backwards` value. Received: forward_layer.go_backwards "
                              f"{fwd.go_backwards}, backward_layer.go_backwards="
                              f"{bwd.go_backwards}")
        for attr in ("stateful", "return_sequences", "return_state"):
            if getattr(fwd, attr, None) != getattr(bwd, attr, None):
                raise ConfigError(f"Forward layer and backward layer are expected to have the "
                                  f"same value for attribute \"{attr}\", got "
                                  f"\"{getattr(fwd, attr, None)}\" for forward layer and "
                                  f"\"{getattr(bwd, attr, None)}\" for backward layer")
        for sub in (fwd, bwd):   # merged outputs of masked steps are zeros (Keras forces this)
            if hasattr(sub, "zero_output_for_mask"):
                sub.zero_output_for_mask = sub.return_sequences
        self.merge_mode = merge_mode
        self.return_sequences, self.return_state = fwd.return_sequences, fwd.return_state
        self.stateful = getattr(fwd, "stateful", False)
        if weights:
            self.build_weights = list(weights)

    def build(self, input_shape):
        if not self.forward_layer.built:
            self.forward_layer.build(input_shape)
        if not self.backward_layer.built:
            self.backward_layer.build(input_shape)
        pending = self.__dict__.pop("build_weights", None)
        if pending is not None:
            self.set_weights(pending)

    def forward(self, sequences, initial_state=None, mask=None, training=None):
        fwd_state = bwd_state = None
        if initial_state is not None:
            if not isinstance(initial_state, (list, tuple)) or len(initial_state) % 2:
                raise ShapeError(f"Bidirectional '{self.name}': initial_state must be a list "
                                 f"with the forward layer's states then the backward layer's")
            half = len(initial_state) // 2
            fwd_state, bwd_state = list(initial_state[:half]), list(initial_state[half:])
        y = self.forward_layer(sequences, initial_state=fwd_state, mask=mask, training=training)
        y_rev = self.backward_layer(sequences, initial_state=bwd_state, mask=mask,
                                    training=training)
        states = []
        if self.return_state:
            states = list(y[1:]) + list(y_rev[1:])
            y, y_rev = y[0], y_rev[0]
        if self.return_sequences:
            y_rev = y_rev[:, ::-1]
        mode = self.merge_mode
        if mode == "concat":
            out = [cat([y, y_rev], -1)]
        elif mode == "sum":
            out = [y + y_rev]
        elif mode == "ave":
            out = [(y + y_rev) / 2]
        elif mode == "mul":
            out = [y * y_rev]
        else:
            out = [y, y_rev]
        out += states
        return out[0] if len(out) == 1 else out

    def compute_output_shape(self, input_shape):
        shape = self.forward_layer.compute_output_shape(input_shape)
        back = self.backward_layer.compute_output_shape(input_shape)
        states = []
        if self.return_state:   # the forward layer's states, then the backward layer's
            shape, back, states = shape[0], back[0], list(shape[1:]) + list(back[1:])
        shape, back = tuple(shape), tuple(back)
        if self.merge_mode == "concat":   # the two layers may differ in units
            width = None if None in (shape[-1], back[-1]) else shape[-1] + back[-1]
            outs = [shape[:-1] + (width,)]
        elif self.merge_mode is None:
            outs = [shape, back]
        elif shape != back:
            raise ShapeError(f"Bidirectional '{self.name}': merge_mode {self.merge_mode!r} needs "
                             f"outputs of one shape, but the forward layer gives {shape} and the "
                             f"backward layer {back}; use merge_mode='concat' or None")
        else:
            outs = [shape]
        outs += states
        return outs[0] if len(outs) == 1 else outs

    def compute_mask(self, inputs, mask=None):
        out = mask if self.return_sequences else None
        outs = [out] if self.merge_mode else [out, out]
        if self.return_state:
            n = len(getattr(self.forward_layer, "state_size", [])) * 2
            outs += [None] * n
        return outs[0] if len(outs) == 1 else outs

    def reset_state(self):
        """Forget the states of both directions (stateful layers)."""
        self.forward_layer.reset_state()
        self.backward_layer.reset_state()

    reset_states = reset_state

    def get_config(self):
        return {**super().get_config(), "merge_mode": self.merge_mode,
                "layer": serialize_layer(self.forward_layer),
                "backward_layer": serialize_layer(self.backward_layer)}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        layer = deserialize_layer(config.pop("layer"), custom_objects, "Bidirectional['layer']")
        backward = config.pop("backward_layer", None)
        if backward is not None:
            backward = deserialize_layer(backward, custom_objects,
                                         "Bidirectional['backward_layer']")
        return cls(layer, backward_layer=backward, **config)


@serializable()
class TimeDistributed(MaskedLayer):
    """Applies *layer* to every time step: (batch, time, …) → the layer on (batch·time, …),
    reshaped back to (batch, time, …); one set of weights for all steps.

    >>> cr.layers.TimeDistributed(cr.layers.Dense(2))(cr.ones(3, 4, 5)).shape
    (3, 4, 2)
    """

    def __init__(self, layer, **kwargs):
        if not isinstance(layer, Layer):
            raise ArgumentTypeError(f"Please initialize `TimeDistributed` layer with a "
                                    f"`cr.layers.Layer` instance. Received: {layer!r}")
        super().__init__(**kwargs)
        self.layer = layer

    def _inner_shape(self, input_shape):
        if not isinstance(input_shape, tuple) or len(input_shape) < 3:
            shown = shape_repr(input_shape) if isinstance(input_shape, tuple) else input_shape
            raise ShapeError(f"TimeDistributed '{self.name}': `TimeDistributed` Layer should be "
                             f"passed an `input_shape` with at least 3 dimensions, received: "
                             f"{shown}")
        batch, steps = input_shape[0], input_shape[1]
        inner = None if batch is None or steps is None else batch * steps
        return (inner,) + tuple(input_shape[2:])

    def build(self, input_shape):
        inner = self._inner_shape(input_shape)
        if not self.layer.built:
            self.layer.build(inner)

    def forward(self, inputs, training=None):
        shape = tuple(inputs.shape)
        self._inner_shape(shape)
        y = self.layer(inputs.reshape((shape[0] * shape[1],) + shape[2:]), training=training)
        return y.reshape(shape[:2] + tuple(y.shape[1:]))

    def compute_output_shape(self, input_shape):
        inner = self.layer.compute_output_shape((None,) + tuple(self._inner_shape(input_shape)[1:]))
        return tuple(input_shape[:2]) + tuple(inner[1:])

    def get_config(self):
        return {**super().get_config(), "layer": serialize_layer(self.layer)}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        layer = deserialize_layer(config.pop("layer"), custom_objects, "TimeDistributed['layer']")
        return cls(layer, **config)
