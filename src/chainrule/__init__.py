"""chainrule: backpropagation you can read, fast enough to train real networks.

``import chainrule as cr`` gives PyTorch-style tensors with reverse-mode autodiff (``cr.tensor``,
``cr.autograd``), neural-network modules (``cr.nn``), optimisers (``cr.optim``), data loading
(``cr.data``) and a Keras-style model API (``cr.layers``, ``cr.Model``).
"""
from chainrule import dtypes, errors
from chainrule.errors import (ChainruleError, CheckpointError, ConfigError, DataError, DTypeError,
                              IndexOutOfRangeError, LabelError, ShapeError, StateDictError)
from chainrule.backend import Device, device
from chainrule import accelerator, cuda
from chainrule.dtypes import (bool, double, float, float16, float32, float64, get_default_dtype,  # noqa: A004
                              half, int8, int16, int32, int64, long, set_default_dtype, uint8)
from chainrule.grad_mode import (enable_grad, inference_mode, is_grad_enabled,
                                 is_inference_mode_enabled, no_grad, set_grad_enabled)
from chainrule.random import Generator, default_generator, get_rng_state, initial_seed, \
    manual_seed, seed, set_rng_state
from chainrule.tensor import Tensor, is_tensor
from chainrule.ops import methods as _methods  # noqa: F401 - binds the ops to Tensor
from chainrule.ops.arithmetic import add, matmul, mul, neg, pow, sub
from chainrule.ops.arithmetic import div as true_divide
from chainrule.ops.cast import clone
from chainrule.ops.compare import (all, allclose, any, eq, equal, ge, gt, isclose, le,  # noqa: A004
                                   logical_and, logical_not, logical_or, lt, ne)
from chainrule.ops.elementwise import (abs, ceil, clamp, clip, cos, exp, floor, isfinite, isinf,  # noqa: A004
                                       isnan, log, log1p, maximum, minimum, relu, round, sigmoid,
                                       sign, sin, sqrt, tanh, where)
from chainrule.ops.indexing import index_select, masked_fill
from chainrule.ops.reduction import (amax, amin, argmax, argmin, gather, logsumexp, max, mean,  # noqa: A004
                                     min, norm, prod, std, sum, var)
from chainrule.ops.shape import (broadcast_to, cat, chunk, concatenate, expand, flatten, permute,
                                 reshape, split, squeeze, stack, t, transpose, unbind, unsqueeze,
                                 view)
from chainrule.ops.softmax import log_softmax, softmax
# the everyday catalogue (issue 15): products, scans, sorting, scatters, shapes, more math
from chainrule.ops.division import div, divide, floor_divide, fmod, remainder
from chainrule.ops.einsum import einsum, tensordot
from chainrule.ops.elementwise_more import (acos, arccos, arcsin, arctan, arctan2, asin, atan,
                                            atan2, clamp_min, clamp_max, cosh, count_nonzero, erf,
                                            expm1, fix, lerp, log10, log2, logical_xor,
                                            nan_to_num, reciprocal, rsqrt, sinh, square, tan,
                                            trunc)
from chainrule.ops.matrix import (bmm, diag, diagonal, dot, ger, mm, mv, outer, trace, tril,
                                  triu)
from chainrule.ops.rearrange import (atleast_1d, atleast_2d, flip, fliplr, flipud, hstack,
                                     moveaxis, movedim, narrow, repeat, repeat_interleave, roll,
                                     row_stack, swapaxes, swapdims, tensor_split, tile, unflatten,
                                     vstack)
from chainrule.ops.random_fill import bernoulli, multinomial, normal, poisson
from chainrule.ops.scan import cumprod, cumsum, diff
from chainrule.ops.fused_math import addcdiv, addcmul, addmm, addmv, addr, baddbmm
from chainrule.ops.index_more import index_copy, index_fill, index_put, masked_scatter, put
from chainrule.ops.selection_more import bincount, cummax, cummin, histc, mode
from chainrule.ops.shape_more import dsplit, hsplit, ravel, split_with_sizes, vsplit
from chainrule.ops.special_math import (copysign, float_power, fmax, fmin, frac, heaviside, hypot,
                                        logaddexp, logcumsumexp, logit, nanmean, nansum, sgn,
                                        signbit, sinc, xlogy)
from chainrule.ops.tensor_info import is_complex, is_signed
from chainrule.ops.scatter import (argwhere, index_add, masked_select, nonzero, scatter,
                                   scatter_add, take_along_dim)
from chainrule.ops.sorting import (argsort, kthvalue, median, msort, quantile, searchsorted, sort,
                                   topk, unique)
from chainrule.factories import (arange, as_tensor, empty, empty_like, eye, from_numpy, full,
                                 full_like, get_default_device, linspace, ones, ones_like, rand,
                                 rand_like, randint, randn, randn_like, randperm,
                                 set_default_device, tensor, zeros, zeros_like)
from chainrule import autograd
from chainrule import linalg
from chainrule.autograd.transforms import grad, value_and_grad
from chainrule import viz
from chainrule.serialization import SerializationError, load, save
# the layers above the core: nn / data, optim, training and pictures, Keras-style models
from chainrule import data, datasets, metrics, nn, optim, plot, preprocessing
from chainrule import func, utils
from chainrule.checkpoint import load_checkpoint, save_checkpoint
from chainrule import distributed
from chainrule.compile import CompileWarning, compile  # noqa: A004 - cr.compile, as torch.compile
from chainrule import keras
from chainrule.keras import Model, Sequential, callbacks, layers, load_model, regularizers

__version__ = "0.1.0"

# Interchange with optional libraries: ``cr.sklearn`` (scikit-learn) and ``cr.onnx`` (onnx) are
# imported on first use, so ``import chainrule`` never imports those libraries.
import importlib as _importlib

_OPTIONAL = ("onnx", "sklearn")


def __getattr__(name):
    if name in _OPTIONAL:
        return _importlib.import_module(f"chainrule.{name}")
    raise AttributeError(f"module 'chainrule' has no attribute {name!r}")
