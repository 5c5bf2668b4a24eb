"""One kind of error (issue 12, item 8): every bad-input error is a ChainruleError and also the
builtin PyTorch (or Keras) raises in the same place, so both ``except`` styles keep working."""
import ast
import io
import pathlib

import numpy as np
import pytest

import chainrule as cr
from chainrule import errors
from chainrule.errors import ChainruleError

SRC = pathlib.Path(cr.__file__).parent


# ---- the bad inputs -------------------------------------------------------------------------
def _backward_twice():
    x = cr.ones(3, requires_grad=True)
    y = (x * x).sum()
    y.backward()
    y.backward()


def _saved_tensor_changed():
    x = cr.ones(3, requires_grad=True)
    a = x.exp()
    c = a * a
    a.mul_(2)
    c.sum().backward()


def _nonscalar_backward():
    (cr.ones(3, requires_grad=True) * 2).backward()


def _int_requires_grad():
    cr.tensor([1, 2]).requires_grad_()


def _leaf_inplace():
    cr.ones(3, requires_grad=True).add_(1)


def _unused_input():
    x, y = cr.ones(2, requires_grad=True), cr.ones(2, requires_grad=True)
    cr.autograd.grad((x * 2).sum(), [x, y])


def _grad_of_constant_input():
    x = cr.ones(2, requires_grad=True)
    cr.autograd.grad((x * 2).sum(), [cr.ones(2)])


def _switch_off_nonleaf():
    (cr.ones(2, requires_grad=True) * 2).requires_grad = False


def _numpy_of_grad_tensor():
    cr.ones(2, requires_grad=True).numpy()


def _bool_of_many():
    bool(cr.ones(3))


def _backward_gradient_shape():
    (cr.ones(3, requires_grad=True) * 2).backward(cr.ones(4))


def _assign_grad_wrong_shape():
    x = cr.ones(3, requires_grad=True)
    x.grad = cr.ones(4)


def _gradcheck_nothing_requires_grad():
    cr.autograd.gradcheck(lambda t: t * 2, (cr.ones(2, dtype=cr.float64),))


def _view_noncontiguous():
    cr.ones(2, 3).t().view(6)


def _clip_nonfinite():
    p = cr.nn.Parameter(cr.ones(2))
    p.grad = cr.tensor([float("nan"), 1.0])
    cr.nn.utils.clip_grad_norm_([p], 1.0, error_if_nonfinite=True)


class _CallLayer(cr.keras.layers.Layer):
    def call(self, inputs):
        return inputs


def _keras_nan_loss():
    cr.keras.callbacks.TerminateOnNaN(raise_error=True).on_batch_end(0, {"loss": float("nan")})


def _save_to_directory(tmp_path):
    cr.save({"a": cr.ones(2)}, str(tmp_path))


def _checkpoint_onto_directory(tmp_path):
    model = cr.Sequential([cr.layers.Dense(1)])
    model.build((None, 2))
    callback = cr.keras.callbacks.ModelCheckpoint(str(tmp_path))
    callback.set_model(model)
    callback.on_epoch_end(0, {"loss": 1.0})


def _keras_load_foreign(tmp_path):
    path = tmp_path / "m.cr"
    cr.save({"a": cr.ones(2)}, str(path))
    cr.keras.load_model(str(path))


def _lambda_lr_resume():
    opt = cr.optim.SGD([cr.nn.Parameter(cr.ones(2))], lr=0.1)
    cr.optim.lr_scheduler.LambdaLR(opt, lambda e: 1.0, last_epoch=3)


def _param():
    return [cr.nn.Parameter(cr.ones(2))]


CASES = [
    # autograd
    ("backward twice", _backward_twice, RuntimeError, errors.AutogradError),
    ("saved tensor changed in place", _saved_tensor_changed, RuntimeError, errors.AutogradError),
    ("backward on a non-scalar", _nonscalar_backward, RuntimeError, errors.AutogradError),
    ("requires_grad on an int tensor", _int_requires_grad, RuntimeError, errors.AutogradError),
    ("in-place on a leaf needing grad", _leaf_inplace, RuntimeError, errors.AutogradError),
    ("grad of an unused input", _unused_input, RuntimeError, errors.AutogradError),
    ("grad of a constant input", _grad_of_constant_input, RuntimeError, errors.AutogradError),
    ("requires_grad off on a non-leaf", _switch_off_nonleaf, RuntimeError, errors.AutogradError),
    ("numpy() of a grad tensor", _numpy_of_grad_tensor, RuntimeError, errors.AutogradError),
    ("backward gradient of the wrong shape", _backward_gradient_shape, RuntimeError,
     errors.AutogradError),
    ("assigned grad of the wrong shape", _assign_grad_wrong_shape, RuntimeError,
     errors.AutogradError),
    ("gradcheck with nothing to check", _gradcheck_nothing_requires_grad, ValueError,
     errors.ConfigError),
    # tensor and ops
    ("ragged cr.tensor", lambda: cr.tensor([[1, 2], [3]]), ValueError, errors.ShapeError),
    ("tensor of strings", lambda: cr.tensor(["a", "b"]), TypeError, errors.DTypeError),
    ("tensor index out of range", lambda: cr.ones(3)[5], IndexError, errors.IndexOutOfRangeError),
    ("sum over a missing dim", lambda: cr.ones(2, 3).sum(dim=2), IndexError,
     errors.IndexOutOfRangeError),
    ("reshape to a wrong size", lambda: cr.ones(2, 3).reshape(4), ValueError, errors.ShapeError),
    ("view of a non-contiguous tensor", _view_noncontiguous, RuntimeError, errors.UsageError),
    ("bool of a 3-element tensor", _bool_of_many, RuntimeError, errors.UsageError),
    ("default dtype int64", lambda: cr.set_default_dtype(cr.int64), TypeError, errors.DTypeError),
    ("index with a float tensor", lambda: [0, 1][cr.tensor(1.0)], TypeError, errors.DTypeError),
    ("index with a 2-element tensor", lambda: [0, 1][cr.tensor([0, 1])], TypeError,
     errors.ArgumentTypeError),
    ("zeros of a string size", lambda: cr.zeros("a"), TypeError, errors.ArgumentTypeError),
    ("from_numpy of a list", lambda: cr.from_numpy([1.0]), TypeError, errors.ArgumentTypeError),
    # nn
    ("buffer name with a dot", lambda: cr.nn.Module().register_buffer("a.b", cr.ones(1)),
     KeyError, errors.KeyNameError),
    ("buffer name empty", lambda: cr.nn.Module().register_buffer("", cr.ones(1)), KeyError,
     errors.KeyNameError),
    ("eye_ on a 3-D tensor", lambda: cr.nn.init.eye_(cr.ones(2, 2, 2)), ValueError,
     errors.ShapeError),
    ("kaiming mode unknown", lambda: cr.nn.init.kaiming_uniform_(cr.ones(2, 2), mode="fan_x"),
     ValueError, errors.ConfigError),
    ("init of a non-tensor", lambda: cr.nn.init.zeros_(np.ones(2)), TypeError,
     errors.ArgumentTypeError),
    ("clip a NaN gradient norm", _clip_nonfinite, RuntimeError, errors.NumericalError),
    ("vector_to_parameters of a list", lambda: cr.nn.utils.vector_to_parameters([1.0], _param()),
     TypeError, errors.ArgumentTypeError),
    ("embedding of a list", lambda: cr.nn.functional.embedding([0, 1], cr.eye(3)), TypeError,
     errors.ArgumentTypeError),
    ("embedding of float ids", lambda: cr.nn.functional.embedding(cr.ones(2), cr.eye(3)), TypeError,
     errors.DTypeError),
    ("F.dropout of a list", lambda: cr.nn.functional.dropout([1.0]), TypeError,
     errors.ArgumentTypeError),
    ("F.gelu of an int tensor", lambda: cr.nn.functional.gelu(cr.tensor([1])), TypeError,
     errors.DTypeError),
    ("Module.add_module of a non-module", lambda: cr.nn.Module().add_module("a", 3), TypeError,
     errors.ArgumentTypeError),
    ("cross_entropy label out of range",
     lambda: cr.nn.functional.cross_entropy(cr.ones(2, 3), cr.tensor([0, 3])), IndexError,
     errors.LabelError),
    # optim
    ("SGD([])", lambda: cr.optim.SGD([]), ValueError, errors.ConfigError),
    ("SGD of one tensor", lambda: cr.optim.SGD(cr.ones(2, requires_grad=True)), TypeError,
     errors.ArgumentTypeError),
    ("SGD of a non-leaf", lambda: cr.optim.SGD([cr.ones(2, requires_grad=True) * 2]), ValueError,
     errors.ConfigError),
    ("Adam fused and foreach", lambda: cr.optim.Adam(_param(), fused=True, foreach=True),
     RuntimeError, errors.UsageError),
    ("LBFGS step without closure", lambda: cr.optim.LBFGS(_param()).step(None), RuntimeError,
     errors.UsageError),
    ("estimate_grad of a list", lambda: cr.optim.estimate_grad(lambda: 0, [[1.0]]), TypeError,
     errors.ArgumentTypeError),
    ("estimate_grad of an int tensor",
     lambda: cr.optim.estimate_grad(lambda: 0, [cr.tensor([1, 2])]), TypeError, errors.DTypeError),
    ("StepLR of a non-optimizer", lambda: cr.optim.lr_scheduler.StepLR(object(), 1), TypeError,
     errors.ArgumentTypeError),
    ("ReduceLROnPlateau mode unknown",
     lambda: cr.optim.lr_scheduler.ReduceLROnPlateau(cr.optim.SGD(_param()), mode="middle"),
     ValueError, errors.ConfigError),
    ("scheduler resumed without initial_lr", _lambda_lr_resume, KeyError, errors.KeyNameError),
    # data
    ("TensorDataset index out of range", lambda: cr.data.TensorDataset(cr.ones(3, 2))[5],
     IndexError, errors.IndexOutOfRangeError),
    ("Subset index out of range",
     lambda: cr.data.Subset(cr.data.TensorDataset(cr.ones(3, 2)), [0, 1])[4], IndexError,
     errors.IndexOutOfRangeError),
    ("DataLoader shuffle='yes'",
     lambda: cr.data.DataLoader(cr.data.TensorDataset(cr.ones(3, 2)), shuffle="yes"), TypeError,
     errors.ArgumentTypeError),
    ("DataLoader batch_size=0",
     lambda: cr.data.DataLoader(cr.data.TensorDataset(cr.ones(3, 2)), batch_size=0), ValueError,
     errors.ConfigError),
    ("training on no batches", lambda: cr.training.train_epoch(
        cr.nn.Linear(2, 1), cr.nn.MSELoss(), cr.optim.SGD(cr.nn.Linear(2, 1).parameters()), []),
     ValueError, errors.DataError),
    # keras
    ("Keras layer defining call", lambda: _CallLayer()(cr.ones(2, 3)), NotImplementedError,
     errors.DefinitionError),
    ("Keras unknown keyword argument", lambda: cr.layers.Dense(3, unitz=4), TypeError,
     errors.ArgumentTypeError),
    ("Keras unknown optimizer", lambda: cr.keras.optimizers.get("adm"), ValueError,
     errors.ConfigError),
    ("Keras callback hook unknown", lambda: cr.keras.callbacks.LambdaCallback(on_epoch_middle=print),
     TypeError, errors.ArgumentTypeError),
    ("Keras NaN loss", _keras_nan_loss, RuntimeError, errors.NumericalError),
    ("Keras optimizer not built", lambda: cr.keras.optimizers.Adam().zero_grad(), RuntimeError,
     errors.UsageError),
    ("KerasTensor truth value", lambda: bool(cr.layers.Input((3,))), TypeError,
     errors.ArgumentTypeError),
    ("Sequential of a non-layer", lambda: cr.Sequential([3]), TypeError, errors.ArgumentTypeError),
    ("Embedding of float ids", lambda: cr.layers.Embedding(5, 2)(cr.tensor([[0.5, 1.0]])), TypeError,
     errors.DTypeError),
    ("Hashing of NaN", lambda: cr.layers.Hashing(4)(np.array([np.nan])), ValueError,
     errors.DataError),
    # serialization and files
    ("load of a foreign file", lambda: cr.load(io.BytesIO(b"not a checkpoint at all")), ValueError,
     errors.SerializationError),
    ("save onto a directory", _save_to_directory, OSError, errors.FileError),
    ("ModelCheckpoint onto a directory", _checkpoint_onto_directory, IsADirectoryError,
     errors.DirectoryPathError),
    ("Keras load of a non-model file", _keras_load_foreign, ValueError, errors.SerializationError),
    ("save of a function", lambda: cr.save({"f": print}, io.BytesIO()), TypeError,
     errors.ArgumentTypeError),
    # metrics and preprocessing
    ("roc_auc with one class", lambda: cr.metrics.roc_auc_score([1, 1], [0.2, 0.8]), ValueError,
     errors.DataError),
    ("train_test_split test_size=2.5",
     lambda: cr.preprocessing.train_test_split(np.ones((4, 2)), test_size=2.5), ValueError,
     errors.ConfigError),
]


@pytest.mark.parametrize("name, bad, builtin, kind", CASES, ids=[c[0] for c in CASES])
def test_bad_input_raises_a_chainrule_error_that_is_the_builtin(name, bad, builtin, kind, tmp_path):
    args = (tmp_path,) if bad.__code__.co_argcount else ()
    with pytest.raises(builtin) as info:
        bad(*args)
    assert isinstance(info.value, ChainruleError), f"{name}: {type(info.value).__mro__}"
    assert isinstance(info.value, kind), f"{name}: {type(info.value).__name__}, not {kind.__name__}"


def test_table_is_large_and_spans_the_layers():
    assert len(CASES) >= 40
    assert {c[2] for c in CASES} >= {RuntimeError, ValueError, TypeError, IndexError, KeyError,
                                      OSError, NotImplementedError}


def test_unknown_keyword_is_a_type_error_not_a_dtype_error():
    with pytest.raises(TypeError, match="Unrecognized keyword arguments passed to Dense") as info:
        cr.layers.Dense(3, unitz=4)
    assert not isinstance(info.value, errors.DTypeError)


def test_call_layer_message_says_what_to_do():
    with pytest.raises(errors.DefinitionError, match=r"rename _CallLayer\.call to forward"):
        _CallLayer()(cr.ones(2, 3))


def test_every_error_class_is_a_chainrule_error_and_a_builtin():
    for name in errors.__all__:
        cls = getattr(errors, name)
        if isinstance(cls, type) and cls is not ChainruleError:
            assert issubclass(cls, ChainruleError), name
            builtin = [b for b in cls.__mro__ if b.__module__ == "builtins" and b not in
                       (Exception, BaseException, object)]
            assert builtin, f"{name} is no builtin exception"
            assert name in errors.__doc__, f"{name} is missing from the tree in errors.py"


def test_file_error_is_still_exported_by_atomic_write():
    from chainrule.atomic_write import FileError
    assert FileError is errors.FileError


# ---- no new bare builtin raise ----------------------------------------------------------------
# Builtins chainrule must not raise bare for bad input: each has a ChainruleError subclass.
BARE = {"RuntimeError", "ValueError", "TypeError", "IndexError", "KeyError", "OSError",
        "LookupError", "ArithmeticError", "OverflowError", "ZeroDivisionError", "IOError",
        "FileNotFoundError", "PermissionError", "IsADirectoryError", "Exception"}
# Not checked: NotImplementedError (abstract base methods), StopIteration and AttributeError
# (Python's iteration and attribute protocols: hasattr and for-loops rely on them), ImportError
# (optional dependencies, with install advice).
ALLOWED = {
    # The CuPy stand-in reproduces CuPy's own TypeErrors, word for word, for code that mixes host
    # and device arrays, and cupy.fuse's for a fused kernel called with keywords or non-arrays:
    # it imitates a third-party library, it is not chainrule's API.
    ("backend/standin.py", "TypeError"): 5,
    # A self-check of the tour's hand-written parameter count against the built model: an internal
    # invariant no input can reach.
    ("tour/heart_curves.py", "RuntimeError"): 1,
}


def _bare_raises():
    found = {}
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Raise) or node.exc is None:
                continue
            exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            if isinstance(exc, ast.Name) and exc.id in BARE:
                key = (path.relative_to(SRC).as_posix(), exc.id)
                found.setdefault(key, []).append(node.lineno)
    return found


def test_no_bare_builtin_raise_outside_the_allowlist():
    found = _bare_raises()
    extra = {k: v for k, v in found.items() if len(v) > ALLOWED.get(k, 0)}
    assert not extra, ("raise a chainrule.errors class (a ChainruleError that is also the builtin) "
                       f"instead of a bare builtin at: {extra}")


def test_allowlist_is_not_stale():
    found = _bare_raises()
    for key, count in ALLOWED.items():
        assert len(found.get(key, [])) == count, f"{key}: update ALLOWED"


# ---- DTypeError only for dtypes ---------------------------------------------------------------
def _mentions_dtype(message):
    """True when the message is about a dtype: its words say "dtype" (``"got dtype "``,
    ``"a floating-point dtype"``, ``"set_default_dtype: ..."``) or it shows a dtype value
    (``{x.dtype}``, ``{dtype}``). "expected a Tensor, got list" and "lr must be a number" do not:
    a wrong Python type is an ArgumentTypeError."""
    for node in ast.walk(message):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and \
                "dtype" in node.value.lower():
            return True
        if isinstance(node, ast.Attribute) and node.attr == "dtype" or \
                isinstance(node, ast.Name) and node.id == "dtype":
            return True
    return False


def _dtype_error_misuses(root):
    """Each ``raise DTypeError(message)`` under *root* whose message is not about a dtype, and each
    other use of the name (``err = DTypeError``, ``error=DTypeError``) that could raise it unseen;
    ``except DTypeError`` and imports are fine."""
    bad = []
    for path in sorted(root.rglob("*.py")):
        if path.name == "errors.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        fine = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ExceptHandler) and node.type is not None:
                fine.update(id(n) for n in ast.walk(node.type))
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and \
                    isinstance(node.exc.func, ast.Name) and node.exc.func.id == "DTypeError":
                fine.add(id(node.exc.func))
                if not node.exc.args or not _mentions_dtype(node.exc.args[0]):
                    bad.append(f"{path.relative_to(root).as_posix()}:{node.lineno}")
        bad += [f"{path.relative_to(root).as_posix()}:{n.lineno}" for n in ast.walk(tree)
                if isinstance(n, ast.Name) and n.id == "DTypeError" and id(n) not in fine]
    return sorted(bad)


def test_dtype_error_is_raised_only_for_dtypes():
    """DTypeError carries only dtype errors (issue 12, item 8); a wrong Python type, a missing or
    unknown argument is an ArgumentTypeError, as Keras and PyTorch raise a TypeError there."""
    bad = _dtype_error_misuses(SRC)
    assert not bad, ("DTypeError whose message does not mention a dtype (raise ArgumentTypeError "
                     f"for a wrong Python type, or name the dtype received): {bad}")


def test_dtype_error_guard_catches_a_misuse(tmp_path):
    (tmp_path / "ok.py").write_text(
        "def f(x, lr, dtype):\n"
        "    if x.dtype.kind != 'f':\n"
        "        raise DTypeError(f'f: expected a float tensor, got {x.dtype}')\n"
        "    if dtype is None:\n"
        "        raise DTypeError('f: dtype must be a floating-point dtype')\n"
        "    try:\n"
        "        g()\n"
        "    except DTypeError:\n"
        "        pass\n")
    (tmp_path / "bad.py").write_text(
        "def f(x, lr, err=DTypeError):\n"
        "    if not isinstance(lr, float):\n"
        "        raise DTypeError(f'f: lr must be a number, got {type(lr).__name__}')\n"
        "    raise err('f: expected a Tensor')\n")
    assert _dtype_error_misuses(tmp_path) == ["bad.py:1", "bad.py:3"]
