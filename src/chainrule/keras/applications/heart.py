"""The lectures' heart-disease network (inputs → 16 ReLU → 1 sigmoid), and its parameter count.

``chainrule train heart`` trains this model and the tour's step 10 counts its parameters; both
build it here. Example::

    >>> model = build_model(28, hidden=16)
    >>> count_parameters(model)              # 28·16 + 16 + 16·1 + 1
    481
"""
import numbers

from chainrule.errors import ConfigError
from chainrule.keras.layers import Dense, Input
from chainrule.keras.models import Model

__all__ = ["build_model", "count_parameters"]


def build_model(n_inputs, hidden=16):
    """The lectures' network in the lectures' four lines: inputs → *hidden* ReLU → 1 sigmoid.

    The model trains with ``compile``/``fit`` or in a hand-written PyTorch-style loop: it is a
    ``cr.nn.Module``. Example::

        >>> build_model(13, hidden=4).output.shape
        (None, 1)
    """
    for name, value in (("n_inputs", n_inputs), ("hidden", hidden)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise ConfigError(f"build_model: {name} must be a positive int, got {value!r}")
    inputs = Input(shape=(int(n_inputs),), name="input")
    h = Dense(int(hidden), activation="relu", name="hidden")(inputs)
    outputs = Dense(1, activation="sigmoid", name="output")(h)
    return Model(inputs, outputs, name="heart")


def count_parameters(model):
    """The number of trainable numbers, ``sum(p.numel() for p in model.parameters())`` over those
    with ``requires_grad``: for 28 → 16 → 1 that is 28·16 + 16 + 16·1 + 1 = 481.

    Works for any ``cr.nn.Module`` (a Keras-style model is one). Example::

        >>> count_parameters(cr.nn.Linear(3, 2))     # 3·2 weights + 2 biases
        8
    """
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
