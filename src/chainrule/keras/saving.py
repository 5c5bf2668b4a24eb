"""``model.save(path)`` and ``cr.load_model(path)``: a whole model in one file, no pickle.

The file is a ``cr.save`` checkpoint (atomic write, SHA-256 checksum, arrays stored raw) holding::

    {"format": "chainrule.keras-model", "version": 1, "chainrule_version": "0.1.0",
     "config":  {"class_name": "Functional" | "Sequential", "config": {...}},
     "weights": {layer name: [array, ...]},          # get_weights() of each layer with weights
     "compile": {"optimizer": "adam", "loss": "binary_crossentropy", "metrics": ["accuracy"]}}

``config`` is JSON-able data: each layer's class name and ``get_config()`` and, for a functional
model, the call graph. ``weights`` holds every layer's arrays in Keras order, non-trainable state
included (BatchNormalization moving statistics, Normalization mean/variance/count);
an IntegerLookup's vocabulary is part of its config. ``compile`` is present when the model was
compiled with optimizer, loss and metrics named by strings. docs/keras-model-format.md describes
the format in full.

Loading executes nothing from the file: ``cr.load`` parses it without pickle or eval, layer
classes are looked up by name in an allowlist of chainrule's layers (``custom_objects`` adds the
caller's own), and every config value and weight shape is checked. A damaged, truncated or foreign
file, an unknown layer class, a missing key or a wrong shape raises ``cr.SerializationError``
naming the file and the entry. A round trip gives a model with identical predictions.

Example::

    >>> inputs = cr.layers.Input((4,))
    >>> model = cr.Model(inputs, cr.layers.Dense(1, activation="sigmoid")(inputs))
    >>> x = np.random.rand(8, 4)
    >>> model.save("heart.keras")
    >>> restored = cr.load_model("heart.keras")
    >>> np.array_equal(restored.predict(x, verbose=0), model.predict(x, verbose=0))
    True
"""
import os
from importlib import metadata

import numpy as np

from chainrule.errors import SerializationError
from chainrule.keras.layers.base import weight_budget
from chainrule.keras.layers.registry import deserialize_layer, serialize_layer
from chainrule.serialization import SerializationError, load, save

FORMAT = "chainrule.keras-model"
VERSION = 1
_KEYS = {"format", "version", "chainrule_version", "config", "weights", "compile"}


def _version():
    try:
        return metadata.version("chainrule")
    except metadata.PackageNotFoundError:  # running from a source tree: the field is informative
        return "unknown"


def compile_config(model):
    """The compile settings worth saving: optimizer, loss and metrics when named by strings."""
    info = getattr(model, "_compile_config", None)
    if not isinstance(info, dict):
        return None

    def plain(v):
        if v is None or isinstance(v, str):
            return True
        if isinstance(v, (list, tuple)):
            return all(plain(e) for e in v)
        if isinstance(v, dict):
            return all(isinstance(k, str) and plain(e) for k, e in v.items())
        return False

    out = {k: (list(v) if isinstance(v, tuple) else v) for k, v in info.items()
           if k in ("optimizer", "loss", "metrics") and plain(v)}
    if not isinstance(out.get("optimizer"), str) or out.get("loss") is None:
        return None
    return out


def model_to_dict(model):
    """The dict that ``save_model`` writes (config, weights, compile settings)."""
    entry = serialize_layer(model)
    weights = {}
    for layer in model.layers:
        arrays = layer.get_weights()
        if arrays:
            weights[layer.name] = arrays
    out = {"format": FORMAT, "version": VERSION, "chainrule_version": _version(),
           "config": entry, "weights": weights}
    info = compile_config(model)
    if info is not None:
        out["compile"] = info
    return out


def save_model(model, filepath, overwrite=True):
    """Write *model* (functional or Sequential) to *filepath* in one atomic file.

    Example: ``cr.keras.saving.save_model(model, "model.keras")`` (same as ``model.save``).
    """
    if not overwrite and isinstance(filepath, (str, os.PathLike)) and os.path.exists(filepath):
        raise FileExistsError(f"save: {os.fspath(filepath)!r} exists and overwrite=False")
    save(model_to_dict(model), filepath)


def load_model(filepath, custom_objects=None, compile=True):  # noqa: A002 - Keras's argument name
    """Rebuild a model saved with ``model.save``: architecture, weights and compile settings.

    *custom_objects* maps class names to your own Layer classes (code you trust, never code from
    the file). ``compile=False`` skips re-compiling. Raises ``cr.SerializationError`` for a
    damaged file or a bad entry. Example::

        >>> cr.Sequential([cr.layers.Input((4,)), cr.layers.Dense(1)]).save("tiny.keras")
        >>> model = cr.load_model("tiny.keras")
        >>> model.predict(np.zeros((2, 4)), verbose=0).shape
        (2, 1)
    """
    name = os.fspath(filepath) if isinstance(filepath, (str, bytes, os.PathLike)) else "<file object>"
    data = load(filepath)
    try:
        return dict_to_model(data, custom_objects, compile)
    except SerializationError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, RuntimeError,
            ArithmeticError, MemoryError, RecursionError) as e:   # whatever the file's data causes
        raise SerializationError(f"cannot load model from {name!r}: {e}") from None


def dict_to_model(data, custom_objects=None, compile=True):  # noqa: A002
    """The model described by *data* (a dict as ``model_to_dict`` makes), checked entry by entry."""
    if not isinstance(data, dict) or "format" not in data:
        raise ValueError("not a chainrule Keras model file (no 'format' entry); a checkpoint "
                         "written by cr.save is read with cr.load")
    if data["format"] != FORMAT:
        raise ValueError(f"not a chainrule Keras model file (format {data['format']!r}, expected "
                         f"{FORMAT!r})")
    version = data.get("version")
    if type(version) is not int or version < 1:
        raise ValueError(f"'version' must be a positive integer, found {version!r}")
    if version > VERSION:
        raise ValueError(f"the file has model format version {version}, newer than this "
                         f"chainrule reads ({VERSION}); upgrade chainrule")
    unknown = set(data) - _KEYS
    if unknown:
        raise ValueError(f"unexpected entries {sorted(unknown)} in the file")
    for key in ("config", "weights"):
        if key not in data:
            raise ValueError(f"missing entry '{key}'")
    weights = data["weights"]
    if not isinstance(weights, dict) or not all(
            isinstance(v, list) and all(isinstance(a, np.ndarray) for a in v) for v in weights.values()):
        raise ValueError("'weights': expected a dict of layer name -> list of arrays")
    # the config cannot make us allocate (much) more than the file holds; smaller mismatches
    # are reported layer by layer below
    stored = sum(a.size for arrays in weights.values() for a in arrays)
    with weight_budget(stored + 2 ** 20):
        model = deserialize_layer(data["config"], custom_objects, "config")
    if not callable(getattr(model, "summary", None)) or not hasattr(model, "layers"):
        raise ValueError(f"config: the file describes a {type(model).__name__} layer, not a model")
    _set_weights(model, data["weights"])
    info = data.get("compile")
    if compile and info is not None:
        if not isinstance(info, dict) or not set(info) <= {"optimizer", "loss", "metrics"}:
            raise ValueError(f"'compile': expected a dict with optimizer, loss and metrics, "
                             f"found {info!r}"[:300])
        model.compile(**info)
    return model


def _set_weights(model, weights):
    if not isinstance(weights, dict):
        raise ValueError(f"'weights': expected a dict of layer name -> list of arrays, found "
                         f"{type(weights).__name__}")
    layers = {layer.name: layer for layer in model.layers}
    unknown = [k for k in weights if k not in layers]
    if unknown:
        raise ValueError(f"'weights' has an entry for layer {unknown[0]!r}, which the model "
                         f"does not have")
    plan = []
    for name, layer in layers.items():
        n = len(layer.weights)
        if n == 0:
            continue
        if name not in weights:
            raise ValueError(f"'weights': missing the weights of layer '{name}'")
        arrays = weights[name]
        if not isinstance(arrays, list) or not all(isinstance(a, np.ndarray) for a in arrays):
            raise ValueError(f"'weights'['{name}']: expected a list of arrays")
        plan.append((layer, arrays))
    for layer, arrays in plan:
        try:
            layer.set_weights(arrays)
        except ValueError as e:
            raise ValueError(f"'weights'['{layer.name}']: {e}") from None
