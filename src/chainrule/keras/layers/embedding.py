"""``Embedding``: integer ids → dense vectors, Keras 3's layer (with ``mask_zero``).

Example::

    >>> emb = cr.layers.Embedding(input_dim=12, output_dim=4, mask_zero=True)
    >>> emb(cr.tensor([[5, 3, 0]])).shape
    (1, 3, 4)
"""
from chainrule.errors import ConfigError, DTypeError
from chainrule.keras import regularizers
from chainrule.keras.layers import initializers
from chainrule.keras.layers.masking import MaskedLayer
from chainrule.keras.layers.registry import serializable
from chainrule.keras.registry import INITIALIZERS
from chainrule.keras.utils import positive_int
from chainrule.nn.functional.embedding import embedding
from chainrule.tensor import Tensor

if "uniform" not in INITIALIZERS:   # Keras's short names for its two random initializers
    INITIALIZERS.add(initializers.RandomUniform, "uniform")
if "normal" not in INITIALIZERS:
    INITIALIZERS.add(initializers.RandomNormal, "normal")


@serializable()
class Embedding(MaskedLayer):
    """y = embeddings[ids]: a (input_dim, output_dim) table looked up by integer ids.

    ``embeddings_initializer="uniform"`` draws U(-0.05, 0.05) as Keras. With ``mask_zero=True`` id
    0 is padding: the output carries the mask ``ids != 0``, which the recurrent and attention
    layers downstream receive (and input_dim must count the padding id). Ids outside
    [0, input_dim) raise an error naming the id.

    >>> cr.layers.Embedding(10, 3)(cr.tensor([[1, 2]])).shape
    (1, 2, 3)
    """

    _autocast = False   # the inputs are integer ids

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform",
                 embeddings_regularizer=None, embeddings_constraint=None, mask_zero=False,
                 weights=None, lora_rank=None, **kwargs):
        super().__init__(**kwargs)
        where = f"Embedding '{self.name}'"
        self.input_dim = positive_int(input_dim, "input_dim", where)
        self.output_dim = positive_int(output_dim, "output_dim", where)
        if embeddings_constraint is not None or lora_rank is not None:
            raise ConfigError(f"{where}: embeddings_constraint and lora_rank are not supported; "
                              f"leave them None")
        self.embeddings_initializer = initializers.get(embeddings_initializer)
        self.embeddings_regularizer = regularizers.get(embeddings_regularizer)
        self.mask_zero = bool(mask_zero)
        self._initial_weights = weights
        self.build(None)
        if weights is not None:
            self.set_weights(list(weights) if isinstance(weights, (list, tuple)) else [weights])

    def build(self, input_shape=None):
        if not self._weight_names:
            self.add_weight("embeddings", (self.input_dim, self.output_dim),
                            self.embeddings_initializer, regularizer=self.embeddings_regularizer)

    def forward(self, inputs):
        if not isinstance(inputs, Tensor):
            inputs = Tensor(inputs)
        kind = inputs._data.dtype.kind
        if kind == "f":
            if (inputs._data != inputs._data.round()).any():
                raise DTypeError(f"Embedding '{self.name}': expected integer ids, received "
                                 f"non-integer values of dtype {inputs.dtype}")
            inputs = inputs.long()
        elif kind not in "iu":
            raise DTypeError(f"Embedding '{self.name}': expected integer ids, received dtype "
                             f"{inputs.dtype}")
        try:
            return embedding(inputs, self.embeddings)
        except IndexError as e:
            raise type(e)(f"Embedding '{self.name}' (input_dim={self.input_dim}): {e}") from None

    def compute_mask(self, inputs, mask=None):
        """``inputs != 0`` with mask_zero, else None."""
        if not self.mask_zero:
            return None
        data = inputs._data if isinstance(inputs, Tensor) else inputs
        return Tensor(data != 0)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.output_dim,)

    def compute_output_dtype(self, input_dtype):
        return self.dtype

    def get_config(self):
        return {**super().get_config(), "input_dim": self.input_dim,
                "output_dim": self.output_dim,
                "embeddings_initializer": initializers.serialize(self.embeddings_initializer),
                "embeddings_regularizer": regularizers.serialize(self.embeddings_regularizer),
                "mask_zero": self.mask_zero}
