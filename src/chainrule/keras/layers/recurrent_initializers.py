"""The initializers Keras's recurrent layers start from: ``Orthogonal`` (``"orthogonal"``, the
recurrent kernels' default) and LSTM's unit-forget-bias (the forget gate's bias block set to 1).

Example: ``Orthogonal(seed=0)((4, 4))`` has orthonormal rows and columns.
"""
import math

import numpy as np

from chainrule.errors import ConfigError, ShapeError
from chainrule.keras.layers import initializers
from chainrule.keras.registry import INITIALIZERS
from chainrule.keras.utils import check_float


class Orthogonal(initializers.Initializer):
    """A (semi-)orthogonal matrix times *gain*: the QR factor of a Gaussian matrix, signs fixed
    by R's diagonal, as ``keras.initializers.Orthogonal``; the default of recurrent kernels.

    Example: ``Orthogonal(seed=0)((4, 4))`` has orthonormal rows and columns.
    """

    def __init__(self, gain=1.0, seed=None):
        self.gain = check_float(gain, "gain", "Orthogonal")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
            raise ConfigError(f"Orthogonal: expected an int or None for seed. Received: "
                              f"seed={seed!r}")
        self.seed = None if seed is None else int(seed)

    def sample(self, shape, gen):
        if len(shape) < 2:
            raise ShapeError(f"Orthogonal: the initializer needs a shape of rank >= 2. Received: "
                             f"shape={shape}")
        rows, cols = math.prod(shape[:-1]), shape[-1]
        a = gen.standard_normal((max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(a)
        q = q * np.sign(np.diag(r))
        if rows < cols:
            q = q.T
        return self.gain * q.reshape(shape)

    def get_config(self):
        return {"gain": self.gain, "seed": self.seed}


if "Orthogonal" not in INITIALIZERS:
    INITIALIZERS.add(Orthogonal)
    INITIALIZERS.add(Orthogonal, "orthogonal")


class ForgetBias:
    """LSTM's unit_forget_bias: the bias initializer's values, the forget-gate block set to 1."""

    def __init__(self, base, units):
        self.base, self.units = base, units

    def __call__(self, shape, dtype=None):
        u = self.units
        value = np.array(self.base(shape, dtype=dtype), copy=True)
        value[u:2 * u] = 1.0
        return value


__all__ = ["Orthogonal"]
