"""``chainrule export MODEL out.onnx``: a saved model as an ONNX file, for ONNX Runtime and friends.

MODEL is a heart model written by ``chainrule train heart``, a digits model written by
``chainrule train digits`` or a Keras-style model saved with ``model.save(path)``. The ONNX graph
computes the network with an open batch size (a digits graph takes ``image`` (batch, 1, 8, 8) and
gives ``logits`` (batch, 10)); a heart model's
graph takes the 28 encoded inputs (the preprocessing, fitted on the training patients, travels in
the file's metadata as ``chainrule.preprocessor``, JSON). With onnxruntime installed the exported
file is run once and compared with chainrule's own outputs. Needs ``pip install 'chainrule[onnx]'``.
"""
import importlib
import io
import json

import numpy as np

import chainrule as cr
from chainrule.atomic_write import write_atomic
from chainrule.cli.heart import MODEL_FORMAT as HEART_FORMAT, load_model as load_heart
from chainrule.errors import CheckpointError, ConfigError
from chainrule.keras.saving import FORMAT as KERAS_FORMAT, load_model as load_keras
from chainrule.training.digits import MODEL_FORMAT as DIGITS_FORMAT, load_model as load_digits


def add_arguments(p):
    p.add_argument("model", help="a heart or digits model file ('chainrule train heart|digits') "
                                 "or a saved Keras-style model (model.save)")
    p.add_argument("output", help="the ONNX file to write, e.g. heart.onnx")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset version (17)")
    p.add_argument("--no-check", action="store_true",
                   help="do not compare ONNX Runtime's outputs with chainrule's")


def _heart(path):
    model, pre, names = load_heart(path)
    meta = {"chainrule.format": HEART_FORMAT, "chainrule.feature_names": json.dumps(names),
            "chainrule.preprocessor": json.dumps(pre.to_dict())}
    return model, meta


def _keras(path):
    return load_keras(path, compile=False), {"chainrule.format": KERAS_FORMAT}


def _digits(path):
    return _Module(load_digits(path), "image", (1, 8, 8), "logits"), \
        {"chainrule.format": DIGITS_FORMAT}


class _Module:
    """A ``cr.nn`` module with one float32 input, seen as a Keras-style model is by ``run``."""

    def __init__(self, module, input_name, input_shape, output_name):
        self.module, self.input_names, self.output_names = module, [input_name], [output_name]
        self.inputs = [_Spec((None,) + input_shape)]

    def __call__(self, x, training=False):
        with cr.no_grad():
            return self.module(cr.tensor(x))


class _Spec:
    def __init__(self, shape):
        self.shape, self.dtype = shape, "float32"


LOADERS = {HEART_FORMAT: _heart, DIGITS_FORMAT: _digits, KERAS_FORMAT: _keras}


def load(path):
    """(model, metadata) for a model file of one of the ``LOADERS`` formats."""
    obj = cr.load(path)
    kind = obj.get("format") if isinstance(obj, dict) else None
    if kind not in LOADERS:
        raise CheckpointError(f"{path}: not a model file chainrule can export (format {kind!r}; "
                              f"known: {', '.join(sorted(LOADERS))})")
    return LOADERS[kind](path)


def _examples(model, rng, batch):
    """Random inputs of each of the model's Inputs, *batch* rows."""
    out = []
    for t in model.inputs:
        shape = (batch,) + tuple(d if d is not None else 1 for d in t.shape[1:])
        kind = np.dtype(t.dtype)
        data = rng.normal(size=shape) if kind.kind == "f" else rng.integers(0, 2, size=shape)
        out.append(data.astype(kind))
    return out


def _check(path, model, rng):
    """The largest difference between ONNX Runtime's and chainrule's outputs, or None."""
    try:
        import onnxruntime
    except ImportError:
        return None
    xs = _examples(model, rng, 7)
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    got = session.run(None, {i.name: x for i, x in zip(session.get_inputs(), xs)})
    want = model(xs if len(xs) > 1 else xs[0], training=False)
    want = want if isinstance(want, list) else [want]
    return max(float(np.max(np.abs(g - w._data))) for g, w in zip(got, want))


def _dims(value_info):
    dims = value_info.type.tensor_type.shape.dim
    return "(" + ", ".join(d.dim_param or str(d.dim_value) for d in dims) + ")"


def run(args):
    try:  # an optional dependency, imported only when this command runs
        cr_onnx = importlib.import_module("chainrule.onnx")
    except ImportError as e:
        raise ConfigError(f"export: {e}") from None
    model, meta = load(args.model)
    if not getattr(model, "inputs", None):
        raise ConfigError(f"export: {args.model} holds a model without Inputs; only functional "
                          f"and built Sequential models export from a file")
    rng = np.random.default_rng(0)
    names = model.input_names + model.output_names
    kwargs = {}
    if isinstance(model, _Module):   # a cr.nn module: the graph's names are given here
        kwargs = {"input_names": model.input_names, "output_names": model.output_names}
    proto = cr_onnx.export(getattr(model, "module", model), tuple(_examples(model, rng, 1)),
                           io.BytesIO(), **kwargs,
                           opset_version=args.opset, dynamic_axes={n: {0: "batch"} for n in names})
    for key, value in meta.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    data = proto.SerializeToString()
    write_atomic(args.output, lambda f: f.write(data), "export")
    shapes = ", ".join(f"{i.name} {_dims(i)}" for i in proto.graph.input)
    outputs = ", ".join(f"{o.name} {_dims(o)}" for o in proto.graph.output)
    print(f"wrote {args.output}: ONNX opset {args.opset}, {len(proto.graph.node)} nodes; "
          f"inputs {shapes}; outputs {outputs}")
    if not args.no_check:
        diff = _check(args.output, model, rng)
        print("onnxruntime is not installed: skipped the comparison" if diff is None else
              f"onnxruntime reproduces chainrule's outputs (largest difference {diff:.1e})")
    return 0
