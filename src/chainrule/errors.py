"""chainrule's exception types: one base class, and each kind also the builtin users already catch.

Every error chainrule raises for bad input is a :class:`ChainruleError`, so
``except cr.ChainruleError`` catches them all, and each is also the builtin exception that
PyTorch, Keras or NumPy would raise in its place, so ``except ValueError`` code keeps working::

    ChainruleError(Exception)
    ├── ShapeError(ValueError, RuntimeError)  a wrong shape, rank or size (PyTorch raises
    │   │                                   RuntimeError, NumPy and Keras ValueError)
    │   └── IndexOutOfRangeError(IndexError)  a dimension or index outside a tensor's shape, an
    │                                       item index outside a dataset or container
    ├── DTypeError(TypeError)               a tensor or array of the wrong dtype (a float index,
    │                                       an integer input to a float op, a bad dtype= value)
    ├── ArgumentTypeError(TypeError)        an argument of the wrong Python type (not a tensor,
    │                                       not callable), an unknown keyword argument
    ├── KeyNameError(KeyError)              a name or key that is malformed, taken or missing
    ├── DeviceError(RuntimeError)           a device that is not available, or two devices in one op
    ├── AutogradError(RuntimeError)         graph misuse: backward twice, backward on a non-scalar
    │                                       without a gradient, an in-place change of a saved
    │                                       tensor, requires_grad on an integer tensor
    ├── UsageError(RuntimeError)            a call in the wrong state or order (a step without the
    │                                       closure it needs, an optimizer not built yet)
    ├── NumericalError(RuntimeError)        a computation that became NaN or infinite (a loss, a
    │                                       gradient norm)
    ├── DefinitionError(NotImplementedError)  a subclass that misses what it must define (a
    │                                       Keras-style layer that defines call but not forward)
    ├── FileError(OSError)                  a file that cannot be written where asked
    │   └── DirectoryPathError(IsADirectoryError)  a file path that names a directory
    ├── DataError(ValueError)               NaN or inf in the data, empty data, x and y of
    │   │                                   different lengths
    │   └── LabelError(IndexError)          a class label outside the class range
    ├── ConfigError(ValueError)             a bad hyperparameter or option, an unknown name
    └── SerializationError(ValueError)      a file that is not a readable chainrule file
        └── CheckpointError                 a checkpoint that does not fit what it is loaded in
            └── StateDictError(RuntimeError)  a state dict that does not fit a module

Each class is also the builtin named beside it, the one PyTorch or Keras raises in the same
place, so ``except RuntimeError`` around ``loss.backward()`` and ``except IndexError`` around
``dataset[i]`` keep working. The only bare builtins chainrule raises are ``NotImplementedError``
from abstract base methods, ``StopIteration``/``AttributeError`` of Python's iteration and
attribute protocols, ``ImportError`` with install advice for optional dependencies, and
internal invariants that bad input cannot reach.

Messages name the argument and what was expected and received (and the shape, the row or the
column where that helps), and an error is raised before anything is changed. Example::

    >>> try:
    ...     cr.keras.optimizers.get("adm")
    ... except ConfigError as e:
    ...     print(e)
    Unknown optimizer: 'adm'. Did you mean 'adam'? ...
    >>> issubclass(ConfigError, ValueError) and issubclass(ConfigError, ChainruleError)
    True
"""
import difflib

__all__ = ["ChainruleError", "ShapeError", "IndexOutOfRangeError", "DTypeError", "ArgumentTypeError",
           "KeyNameError", "DeviceError", "AutogradError", "UsageError", "NumericalError",
           "DefinitionError", "FileError", "DirectoryPathError", "DataError", "LabelError", "ConfigError",
           "SerializationError", "CheckpointError", "StateDictError", "suggest"]


class ChainruleError(Exception):
    """The base class of every error chainrule raises for bad input, options or files."""


class ShapeError(ChainruleError, ValueError, RuntimeError):
    """An argument has the wrong shape, rank or size; the message names the shapes involved.
    Also a ValueError (as NumPy and Keras raise) and a RuntimeError (as PyTorch raises for shape
    mismatches in matmul, reshape, broadcasting, cat).

    Example: ``cr.ones(2, 3).reshape(4)`` raises "reshape: shape (4,) is invalid for input of
    size 6 (shape (2, 3))".
    """


class IndexOutOfRangeError(ShapeError, IndexError):
    """A dimension or an index lies outside a tensor's (or a container's) shape; also an IndexError.

    Example: ``cr.ones(2, 3).sum(dim=2)`` raises "sum: dimension out of range (expected to be in
    range of [-2, 1], but got 2)".
    """


class DTypeError(ChainruleError, TypeError):
    """An argument has the wrong dtype; also a TypeError. (Other wrong types: ArgumentTypeError.)

    Example: ``cr.nn.Linear(3, 2, dtype=cr.int64)`` raises "Linear: dtype must be a
    floating-point dtype, got int64".
    """


class ArgumentTypeError(ChainruleError, TypeError):
    """An argument of the wrong Python type, or an unknown keyword argument; also a TypeError.

    Example: ``cr.layers.Dense(4, units2=3)`` raises "Unrecognized keyword arguments passed to
    Dense: {'units2': 3}", as Keras does.
    """


class KeyNameError(ChainruleError, KeyError):
    """A name or key that is malformed, already taken or missing; also a KeyError, as PyTorch raises.

    Example: ``module.register_buffer("a.b", t)`` raises 'buffer name can't contain ".", got: a.b'.
    """

    def __str__(self):  # KeyError's str() quotes the message; show it as written
        return str(self.args[0]) if len(self.args) == 1 else super().__str__()


class AutogradError(ChainruleError, RuntimeError):
    """The autograd graph is misused; also a RuntimeError, as PyTorch raises.

    Backward through a graph a second time, backward on a non-scalar without a gradient, an
    in-place change of a tensor saved for backward, ``requires_grad`` on an integer tensor.
    Example: ``(x * x).sum().backward()`` twice raises "trying to backward through the graph a
    second time (in MulBackward): ...".
    """


class UsageError(ChainruleError, RuntimeError):
    """A call made in the wrong state or order; also a RuntimeError, as PyTorch raises.

    Example: ``cr.optim.LBFGS(params).step(None)`` raises "LBFGS.step requires a closure that
    re-evaluates the model ...".
    """


class NumericalError(ChainruleError, RuntimeError):
    """A computation became NaN or infinite where that cannot be right; also a RuntimeError.

    Example: ``clip_grad_norm_(params, 1.0, error_if_nonfinite=True)`` with a NaN gradient raises
    "The total norm of order 2.0 for gradients from `parameters` is non-finite ...".
    """


class DefinitionError(ChainruleError, NotImplementedError):
    """A subclass misses a method it must define; also a NotImplementedError, as Keras raises.

    Example: a Keras-style layer that defines ``call`` raises "... chainrule's Keras-style layers
    compute in forward(self, inputs): rename call to forward".
    """


class FileError(ChainruleError, OSError):
    """A file cannot be written where asked (a directory, a FIFO or device, no permission, no such
    folder, a full disk); also an ``OSError`` carrying the ``errno`` and the caller's path.

    Example: ``cr.save(obj, "/tmp")`` raises "save: '/tmp' is a directory".
    """

    def __init__(self, message, code=None, filename=None):
        super().__init__(message)
        self.errno, self.filename = code, filename
        self.strerror = message


class DeviceError(ChainruleError, RuntimeError):
    """A device that is not available, or one op given tensors on two devices.

    Also a RuntimeError, as PyTorch raises ("Expected all tensors to be on the same device").
    """


class DirectoryPathError(FileError, IsADirectoryError):
    """A path given for a file names an existing directory; also an IsADirectoryError, as Keras
    raises. Example: ``ModelCheckpoint("runs/")`` raises "ModelCheckpoint: the filepath is an
    existing directory: runs/; give a file name"."""


class DataError(ChainruleError, ValueError):
    """The data itself is unusable: NaN or infinite values, no samples, inputs and targets of
    different lengths, labels outside the class range. The message names the row and column.

    Example: ``model.fit(x_with_nan, y)`` raises "fit: x contains NaN (first at row 4, column
    2); ...".
    """


class LabelError(DataError, IndexError):
    """A class label lies outside the range of classes; also an IndexError, as PyTorch raises.

    Example: ``F.cross_entropy(logits_n_by_3, cr.tensor([0, 3]))`` raises "cross_entropy: class
    index 3 at target[1] is out of range: ... targets must lie in [0, 2]".
    """


class ConfigError(ChainruleError, ValueError):
    """A hyperparameter or option is invalid, or a name (optimizer, loss, metric, activation) is
    unknown; unknown names come with the closest known ones (see :func:`suggest`).

    Example: ``DataLoader(ds, batch_size=0)`` raises "DataLoader: batch_size must be a positive
    int (or None to turn batching off), got batch_size=0".
    """


class SerializationError(ChainruleError, ValueError):
    """A file given to ``load`` is not a readable chainrule file (damaged, truncated, foreign).

    The message names the file and what is wrong with it. Example::

        >>> import io
        >>> try: cr.load(io.BytesIO(b"not a checkpoint"))
        ... except SerializationError as e: print(e)
        cannot load '<file object>': not a chainrule file (bad magic b'not a chec')
    """


class CheckpointError(SerializationError):
    """A checkpoint is readable but does not fit what it is loaded into (format version, entry
    names, shapes, dtypes); the message names the entry. Nothing is changed when it is raised.

    Example: ``cr.load_checkpoint("ckpt.cr", model)`` raises "... entry 'model'['fc.weight']:
    shape (16, 28) in the file, but the model's is (16, 13)".
    """


class StateDictError(CheckpointError, RuntimeError):
    """``load_state_dict`` was given a state dict with missing, unexpected or mis-shaped entries;
    also a RuntimeError, as PyTorch raises there. Nothing is changed when it is raised."""


def suggest(name, choices, n=3, cutoff=0.6):
    """A "did you mean" hint for the unknown *name*: ``" Did you mean 'adam'?"``, or ``""``.

    Up to *n* close spellings from :func:`difflib.get_close_matches` (similarity at least
    *cutoff*); a choice that differs only in case comes first. Example::

        >>> suggest("binary_crossentopy", ["binary_crossentropy", "mse"])
        " Did you mean 'binary_crossentropy'?"
        >>> suggest("Adam", ["adam", "sgd"]), suggest("xyz", ["adam", "sgd"])
        (" Did you mean 'adam'?", '')
    """
    choices = [c for c in choices if isinstance(c, str)]
    text = str(name)
    close = [c for c in choices if c.lower() == text.lower() and c != text]
    for c in difflib.get_close_matches(text, choices, n=n, cutoff=cutoff):
        if c not in close:
            close.append(c)
    close = close[:n]
    return f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
