"""``BatchNormalization``, ``LayerNormalization``, ``GroupNormalization`` and ``UnitNormalization``
with Keras 3's defaults and formulas.

Both compute ``γ · (x - μ) / sqrt(σ² + ε) + β`` with the biased variance σ²:

- BatchNormalization (momentum=0.99, epsilon=1e-3) normalises each feature of ``axis`` over the
  batch (and every other axis). In training it uses the batch's μ and σ² and updates
  ``moving_mean ← m · moving_mean + (1 - m) · μ`` and ``moving_variance ← m · moving_variance +
  (1 - m) · σ²`` (Keras keeps the biased σ²; PyTorch's BatchNorm1d with ``momentum = 1 - m``
  differs from it only by n/(n-1) in the running variance); in evaluation, and always when the
  layer is frozen (``trainable=False``, as in Keras 3), it uses the moving statistics.
- LayerNormalization (epsilon=1e-3) normalises each sample over ``axis`` (the last by default).
- GroupNormalization (groups=32, epsilon=1e-3) splits the channels of ``axis`` into groups and
  normalises each sample's group over its channels and all positions (``F.group_norm``).
- UnitNormalization scales each sample to unit L2 norm along ``axis``:
  x · rsqrt(max(Σx², 1e-12)) (``F.normalize`` with ε = 1e-6 on the norm, the same value).

Example::

    >>> bn = cr.layers.BatchNormalization()
    >>> y = bn(cr.randn(64, 3) * 5 + 2)        # training mode: per-feature mean 0, std ~1
    >>> [w.shape for w in bn.get_weights()]    # gamma, beta, moving_mean, moving_variance
    [(3,), (3,), (3,), (3,)]
"""
import numpy as np

from chainrule.errors import ConfigError, IndexOutOfRangeError, ShapeError
from chainrule.grad_mode import no_grad
from chainrule.keras import regularizers
from chainrule.keras.layers import initializers
from chainrule.keras.layers.base import Layer
from chainrule.keras.layers.registry import serializable
from chainrule.keras.symbolic import shape_repr
from chainrule.nn import functional as F


def _check_epsilon(epsilon, where):
    if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float)) or not epsilon > 0:
        raise ConfigError(f"{where}: expected a positive float for epsilon. Received: "
                          f"epsilon={epsilon!r}")
    return float(epsilon)


def _axes(axis, ndim, where):
    """Normalise an int or a list of ints against *ndim*; the batch axis 0 is not allowed."""
    items = list(axis) if isinstance(axis, (list, tuple)) else [axis]
    out = []
    for a in items:
        if isinstance(a, bool) or not isinstance(a, (int, np.integer)) or not -ndim <= a < ndim:
            raise IndexOutOfRangeError(f"{where}: invalid axis {axis!r} for inputs of rank {ndim}")
        out.append(int(a) % ndim)
    if 0 in out:
        raise ConfigError(f"{where}: axis 0 is the batch axis and cannot be normalised over "
                          f"here. Received: axis={axis!r}")
    return sorted(set(out))


def _axis_config(axis):
    return list(axis) if isinstance(axis, (list, tuple)) else axis


@serializable()
class BatchNormalization(Layer):
    """Normalises each feature with batch statistics in training, moving averages otherwise.

    Weights, in Keras's order: ``gamma`` (if *scale*), ``beta`` (if *center*) — trainable —
    then ``moving_mean`` and ``moving_variance`` (non-trainable buffers). Example::

        >>> bn = cr.layers.BatchNormalization(momentum=0.9)
        >>> bn(cr.randn(32, 4)).shape
        (32, 4)
    """

    _single_input = True

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones",
                 moving_mean_initializer="zeros", moving_variance_initializer="ones",
                 beta_regularizer=None, gamma_regularizer=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
            raise ConfigError("BatchNormalization: expected an int for axis. Received: "
                              f"axis={axis!r}")
        self.axis = int(axis)
        if isinstance(momentum, bool) or not isinstance(momentum, (int, float)) \
                or not 0 <= momentum <= 1:
            raise ConfigError(f"BatchNormalization: expected a float in [0, 1] for momentum. "
                              f"Received: momentum={momentum!r}")
        self.momentum = float(momentum)
        self.epsilon = _check_epsilon(epsilon, "BatchNormalization")
        self.center, self.scale = bool(center), bool(scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)

    def build(self, input_shape):
        ndim = len(input_shape)
        (axis,) = _axes(self.axis, ndim, f"BatchNormalization '{self.name}'")
        n = input_shape[axis]
        if n is None:
            raise ShapeError(f"BatchNormalization '{self.name}': axis {self.axis} of the input "
                             "must "
                             f"have a known size. Received: input_shape={shape_repr(input_shape)}")
        self._ndim, self._feature_axis = ndim, axis
        if self.scale:
            self.add_weight("gamma", (n,), self.gamma_initializer, regularizer=self.gamma_regularizer)
        if self.center:
            self.add_weight("beta", (n,), self.beta_initializer, regularizer=self.beta_regularizer)
        self.add_weight("moving_mean", (n,), self.moving_mean_initializer, trainable=False)
        self.add_weight("moving_variance", (n,), self.moving_variance_initializer, trainable=False)

    def _check(self, shape):
        n = self.moving_mean.shape[0]
        if len(shape) != self._ndim or shape[self._feature_axis] not in (None, n):
            raise ShapeError(f"Input 0 of layer \"{self.name}\" is incompatible with the layer: "
                             f"expected rank {self._ndim} with {n} features on axis {self.axis}, "
                             f"received input with shape {shape_repr(tuple(shape))}")

    def forward(self, inputs, training=None):
        self._check(inputs.shape)
        training = (self.training if training is None else bool(training)) and self.trainable
        gamma = self.gamma if self.scale else None
        beta = self.beta if self.center else None
        axis = self._feature_axis
        x = inputs if axis == 1 else inputs.transpose(1, axis)  # channels on axis 1 for F.batch_norm
        if not training:
            y = F.batch_norm(x, self.moving_mean, self.moving_variance, gamma, beta,
                             training=False, eps=self.epsilon)
        else:
            reduce = tuple(i for i in range(x.ndim) if i != 1)
            n = x._data.size // max(x.shape[1], 1)
            if n > 1:
                y = F.batch_norm(x, None, None, gamma, beta, training=True, eps=self.epsilon)
            else:  # one value per feature: σ² = 0 (F.batch_norm refuses, Keras does not)
                pshape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
                xc = x - x.mean(reduce, keepdim=True)
                y = xc * ((xc * xc).mean(reduce, keepdim=True) + self.epsilon) ** -0.5
                if gamma is not None:
                    y = y * gamma.reshape(pshape)
                if beta is not None:
                    y = y + beta.reshape(pshape)
            self._update_moving(x._data, reduce)
        return y if axis == 1 else y.transpose(1, axis)

    def _update_moving(self, a, reduce):
        """moving ← m · moving + (1 - m) · batch statistic, with the biased variance (Keras)."""
        mean = a.mean(axis=reduce, dtype=np.float64)
        var = a.var(axis=reduce, dtype=np.float64)
        m = self.momentum
        with no_grad():
            for buf, stat in ((self.moving_mean, mean), (self.moving_variance, var)):
                buf._data[...] = (m * buf._data + (1 - m) * stat).astype(buf._data.dtype)
                buf._vc[0] += 1

    def compute_output_shape(self, input_shape):
        self._check(input_shape)
        return input_shape

    def get_config(self):
        s = initializers.serialize
        return {**super().get_config(), "axis": self.axis, "momentum": self.momentum,
                "epsilon": self.epsilon, "center": self.center, "scale": self.scale,
                "beta_initializer": s(self.beta_initializer),
                "gamma_initializer": s(self.gamma_initializer),
                "moving_mean_initializer": s(self.moving_mean_initializer),
                "moving_variance_initializer": s(self.moving_variance_initializer),
                "beta_regularizer": regularizers.serialize(self.beta_regularizer),
                "gamma_regularizer": regularizers.serialize(self.gamma_regularizer)}


@serializable()
class LayerNormalization(Layer):
    """Normalises each sample over *axis* (default the last), then scales by γ and shifts by β.

    Weights: ``gamma`` (if *scale*) then ``beta`` (if *center*), of the normalised axes' shape.
    Example::

        >>> ln = cr.layers.LayerNormalization()
        >>> ln(cr.randn(4, 8)).mean(-1).abs().max().item() < 1e-5
        True
    """

    _single_input = True

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", beta_regularizer=None, gamma_regularizer=None, **kwargs):
        super().__init__(**kwargs)
        items = list(axis) if isinstance(axis, (list, tuple)) else [axis]
        if not items or any(isinstance(a, bool) or not isinstance(a, (int, np.integer)) for a in items):
            raise ConfigError(f"LayerNormalization: expected an int or a list of ints for axis. "
                              f"Received: axis={axis!r}")
        self.axis = [int(a) for a in items] if isinstance(axis, (list, tuple)) else int(axis)
        self.epsilon = _check_epsilon(epsilon, "LayerNormalization")
        self.center, self.scale = bool(center), bool(scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)

    def build(self, input_shape):
        ndim = len(input_shape)
        axes = _axes(self.axis, ndim, f"LayerNormalization '{self.name}'")
        pshape = tuple(input_shape[a] for a in axes)
        if None in pshape:
            raise ShapeError(f"LayerNormalization '{self.name}': the normalised axes must have "
                             f"known sizes. Received: input_shape={shape_repr(input_shape)}")
        self._ndim, self._axes, self._pshape = ndim, tuple(axes), pshape
        self._trailing = tuple(axes) == tuple(range(ndim - len(axes), ndim))
        if self.scale:
            self.add_weight("gamma", pshape, self.gamma_initializer, regularizer=self.gamma_regularizer)
        if self.center:
            self.add_weight("beta", pshape, self.beta_initializer, regularizer=self.beta_regularizer)

    def forward(self, inputs):
        if inputs.ndim != self._ndim or tuple(inputs.shape[a] for a in self._axes) != self._pshape:
            raise ShapeError(f"Input 0 of layer \"{self.name}\" is incompatible with the layer: "
                             f"expected sizes {self._pshape} on axes {list(self._axes)}, received "
                             f"input with shape {shape_repr(tuple(inputs.shape))}")
        gamma = self.gamma if self.scale else None
        beta = self.beta if self.center else None
        if self._trailing:
            return F.layer_norm(inputs, self._pshape, gamma, beta, eps=self.epsilon)
        bshape = tuple(inputs.shape[i] if i in self._axes else 1 for i in range(inputs.ndim))
        xc = inputs - inputs.mean(self._axes, keepdim=True)
        y = xc * ((xc * xc).mean(self._axes, keepdim=True) + self.epsilon) ** -0.5
        if gamma is not None:
            y = y * gamma.reshape(bshape)
        if beta is not None:
            y = y + beta.reshape(bshape)
        return y

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        s = initializers.serialize
        return {**super().get_config(), "axis": _axis_config(self.axis), "epsilon": self.epsilon,
                "center": self.center, "scale": self.scale,
                "beta_initializer": s(self.beta_initializer),
                "gamma_initializer": s(self.gamma_initializer),
                "beta_regularizer": regularizers.serialize(self.beta_regularizer),
                "gamma_regularizer": regularizers.serialize(self.gamma_regularizer)}



@serializable()
class GroupNormalization(Layer):
    """Normalises groups of channels: the channels of *axis* are split into *groups*, and each
    sample's group is standardised over its channels and every position, then γ, β per channel.

    ``groups=-1`` gives each channel its own group (instance normalization); ``groups=1`` is
    layer normalization over everything. Weights: ``gamma`` (if *scale*), ``beta`` (if
    *center*), one per channel. Example::

        >>> gn = cr.layers.GroupNormalization(groups=2)
        >>> gn(cr.randn(4, 5, 6)).shape
        (4, 5, 6)
    """

    _single_input = True

    def __init__(self, groups=32, axis=-1, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones", beta_regularizer=None,
                 gamma_regularizer=None, beta_constraint=None, gamma_constraint=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)) \
                or (groups <= 0 and groups != -1):
            raise ConfigError(f"GroupNormalization: expected a positive int (or -1) for groups. "
                              f"Received: groups={groups!r}")
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
            raise ConfigError(f"GroupNormalization: expected an int for axis. Received: "
                              f"axis={axis!r}")
        if beta_constraint is not None or gamma_constraint is not None:
            raise ConfigError("GroupNormalization: weight constraints are not supported")
        self.groups, self.axis = int(groups), int(axis)
        self.epsilon = _check_epsilon(epsilon, "GroupNormalization")
        self.center, self.scale = bool(center), bool(scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)

    def build(self, input_shape):
        where = f"GroupNormalization '{self.name}'"
        (axis,) = _axes(self.axis, len(input_shape), where)
        dim = input_shape[axis]
        if dim is None:
            raise ShapeError(f"{where}: axis {self.axis} of input tensor should have a defined "
                             f"dimension but the layer received an input with shape "
                             f"{shape_repr(tuple(input_shape))}.")
        groups = dim if self.groups == -1 else self.groups
        if dim < groups:
            raise ConfigError(f"{where}: number of groups ({groups}) cannot be more than the "
                              f"number of channels ({dim}).")
        if dim % groups:
            raise ConfigError(f"{where}: number of groups ({groups}) must be a multiple of the "
                              f"number of channels ({dim}).")
        self._ndim, self._channel_axis, self._groups, self._dim = len(input_shape), axis, groups, dim
        if self.scale:
            self.add_weight("gamma", (dim,), self.gamma_initializer,
                            regularizer=self.gamma_regularizer)
        if self.center:
            self.add_weight("beta", (dim,), self.beta_initializer,
                            regularizer=self.beta_regularizer)

    def forward(self, inputs):
        axis = self._channel_axis
        if inputs.ndim != self._ndim or inputs.shape[axis] != self._dim:
            raise ShapeError(f"Input 0 of layer \"{self.name}\" is incompatible with the layer: "
                             f"expected rank {self._ndim} with {self._dim} channels on axis "
                             f"{self.axis}, received input with shape "
                             f"{shape_repr(tuple(inputs.shape))}")
        x = inputs if axis == 1 else _move_axis(inputs, axis, 1)
        y = F.group_norm(x, self._groups, self.gamma if self.scale else None,
                         self.beta if self.center else None, eps=self.epsilon)
        return y if axis == 1 else _move_axis(y, 1, axis)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        s = initializers.serialize
        return {**super().get_config(), "groups": self.groups, "axis": self.axis,
                "epsilon": self.epsilon, "center": self.center, "scale": self.scale,
                "beta_initializer": s(self.beta_initializer),
                "gamma_initializer": s(self.gamma_initializer),
                "beta_regularizer": regularizers.serialize(self.beta_regularizer),
                "gamma_regularizer": regularizers.serialize(self.gamma_regularizer),
                "beta_constraint": None, "gamma_constraint": None}


def _move_axis(x, source, destination):
    """*x* with axis *source* moved to position *destination* (the others keep their order)."""
    order = [a for a in range(x.ndim) if a != source]
    order.insert(destination, source)
    return x.permute(*order)


@serializable()
class UnitNormalization(Layer):
    """Scales each sample to unit L2 norm along *axis* (an int or a list of axes).

    x · rsqrt(max(Σx², 1e-12)), so a zero vector stays zero. Example::

        >>> cr.layers.UnitNormalization()(cr.tensor([[3.0, 4.0]]))
        tensor([[0.6000, 0.8000]])
    """

    _single_input = True

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        items = list(axis) if isinstance(axis, (list, tuple)) else [axis]
        if not items or any(isinstance(a, bool) or not isinstance(a, (int, np.integer))
                            for a in items):
            raise ConfigError(f"Invalid value for `axis` argument: expected an int or a "
                              f"list/tuple of ints. Received: axis={axis!r}")
        self.axis = [int(a) for a in items] if isinstance(axis, (list, tuple)) else int(axis)

    def forward(self, inputs):
        axes = _axes(self.axis, inputs.ndim, f"UnitNormalization '{self.name}'") \
            if inputs.ndim > 1 else [0]
        return F.normalize(inputs, p=2.0, dim=axes[0] if len(axes) == 1 else tuple(axes),
                           eps=1e-6)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "axis": _axis_config(self.axis)}
