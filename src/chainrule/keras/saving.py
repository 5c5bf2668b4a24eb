"""``model.save(path)`` and ``cr.load_model(path)``: a whole model in one file, no pickle.

The file is a ``cr.save`` checkpoint (atomic write, SHA-256 checksum, arrays stored raw) holding::

    {"format": "chainrule.keras-model", "version": 2, "chainrule_version": "0.1.0",
     "config":    {"class_name": "Functional" | "Sequential", "config": {...}},
     "weights":   {layer name: [array, ...]},          # get_weights() of each layer with weights
     "compile":   {"optimizer": {"class_name": "Adam", "config": {...}},
                   "loss": "binary_crossentropy", "metrics": ["accuracy"], ...},
     "optimizer": {"state": {...}},                    # the optimizer's state dict
     "generators": {"3._generator": {...}}}            # seeded layers' random streams

``config`` is JSON-able data: each layer's class name and ``get_config()`` and, for a functional
model, the call graph. ``weights`` holds every layer's arrays in Keras order, non-trainable state
included (BatchNormalization moving statistics, Normalization mean/variance/count);
an IntegerLookup's vocabulary is part of its config. ``compile`` is present when the model was
compiled with built-in settings (names, or chainrule's own optimizer, loss and metric objects,
a learning-rate schedule included), and ``optimizer`` then holds the optimizer's state
(moments, learning rate, step count), as Keras 3 keeps it: ``fit(initial_epoch=k)`` on the
loaded model continues exactly as the uninterrupted run would. docs/keras-model-format.md
describes the format in full; files of version 1 (compile settings as strings, no optimizer
state) load too.

Loading executes nothing from the file: ``cr.load`` parses it without pickle or eval, classes
are looked up by name in chainrule's registry (``custom_objects`` adds the caller's own), and
every config value, weight shape and optimizer state entry is checked. A damaged, truncated or
foreign file, an unknown class, a missing key or a wrong shape raises ``cr.SerializationError``
naming the file and the entry. Loading draws no random numbers (layers are made and then given
the saved weights, with ``cr.manual_seed``'s stream left as it was). A round trip gives a model
with identical predictions.

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

from chainrule import random as _random
from chainrule.errors import ConfigError, SerializationError
from chainrule.keras import losses, metrics, optimizers
from chainrule.keras.layers.registry import deserialize_layer, serialize_layer
from chainrule.keras.utils import generators_of, weight_budget
from chainrule.serialization import load, save

FORMAT = "chainrule.keras-model"
VERSION = 2
_KEYS = {"format", "version", "chainrule_version", "config", "weights", "compile", "optimizer",
         "generators"}
_COMPILE_KEYS = {"optimizer", "loss", "metrics", "loss_weights", "weighted_metrics"}


def _version():
    try:
        return metadata.version("chainrule")
    except metadata.PackageNotFoundError:  # running from a source tree: the field is informative
        return "unknown"


def compile_config(model):
    """The compile settings as plain data (optimizer as ``{"class_name", "config"}``, losses and
    metrics by name or config), or None when the model is not compiled or a setting is not one of
    chainrule's (a lambda, a user class): such a model is saved without them."""
    args = getattr(model, "_compile_args", None)
    if not isinstance(args, dict):
        return None
    opt = model.optimizer if getattr(model, "compiled", False) else args.get("optimizer")
    try:
        out = {"optimizer": optimizers.serialize(optimizers.get(opt))}
        if args.get("loss") is None:
            return None
        out["loss"] = _serialize_spec(args["loss"], losses.serialize)
        for key in ("metrics", "weighted_metrics"):
            if args.get(key) is not None:
                out[key] = _serialize_spec(args[key], metrics.serialize)
        if args.get("loss_weights") is not None:
            out["loss_weights"] = _serialize_spec(args["loss_weights"], _number)
    except ConfigError:
        return None
    return out


def _serialize_spec(spec, serialize):
    """A compile setting with every leaf serialized: lists and per-output dicts keep their shape."""
    if isinstance(spec, (list, tuple)):
        return [_serialize_spec(v, serialize) for v in spec]
    if isinstance(spec, dict):
        return {str(k): _serialize_spec(v, serialize) for k, v in spec.items()}
    return None if spec is None else serialize(spec)


def _number(value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"cannot save the loss weight {value!r}")
    return value


def optimizer_state(model):
    """``{"state": optimizer.state_dict()}`` of a compiled model's Keras-style optimizer, or None."""
    opt = getattr(model, "optimizer", None)
    if not getattr(model, "compiled", False) or not isinstance(opt, optimizers.Optimizer) \
            or not opt.built:
        return None
    return {"state": opt.state_dict()}


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
    streams = generators_of(model)
    if streams:
        out["generators"] = {k: g.get_state() for k, g in streams.items()}
    info = compile_config(model)
    if info is not None:
        out["compile"] = info
        state = optimizer_state(model)
        if state is not None:
            out["optimizer"] = state
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
        raise SerializationError("not a chainrule Keras model file (no 'format' entry); a checkpoint "
                                 "written by cr.save is read with cr.load")
    if data["format"] != FORMAT:
        raise SerializationError(f"not a chainrule Keras model file (format {data['format']!r}, expected "
                                 f"{FORMAT!r})")
    version = data.get("version")
    if type(version) is not int or version < 1:
        raise SerializationError(f"'version' must be a positive integer, found {version!r}")
    if version > VERSION:
        raise SerializationError(f"the file has model format version {version}, newer than this "
                                 f"chainrule reads ({VERSION}); upgrade chainrule")
    unknown = set(data) - _KEYS
    if unknown:
        raise SerializationError(f"unexpected entries {sorted(unknown)} in the file")
    for key in ("config", "weights"):
        if key not in data:
            raise SerializationError(f"missing entry '{key}'")
    weights = data["weights"]
    if not isinstance(weights, dict) or not all(
            isinstance(v, list) and all(isinstance(a, np.ndarray) for a in v) for v in weights.values()):
        raise SerializationError("'weights': expected a dict of layer name -> list of arrays")
    # the config cannot make us allocate (much) more than the file holds; smaller mismatches
    # are reported layer by layer below. Making the layers draws no random numbers for good.
    stored = sum(a.size for arrays in weights.values() for a in arrays)
    rng = _random.get_rng_state()
    try:
        with weight_budget(stored + 2 ** 20):
            model = deserialize_layer(data["config"], custom_objects, "config")
    finally:
        _random.set_rng_state(rng)
    if not callable(getattr(model, "summary", None)) or not hasattr(model, "layers"):
        raise SerializationError(f"config: the file describes a {type(model).__name__} layer, not a model")
    _set_weights(model, data["weights"])
    if "generators" in data:            # version 1 files have none
        _set_generators(model, data["generators"])
    info = data.get("compile")
    if compile and info is not None:
        if not isinstance(info, dict) or not set(info) <= _COMPILE_KEYS or "optimizer" not in info:
            raise SerializationError(f"'compile': expected a dict with optimizer, loss and metrics, "
                                     f"found {info!r}"[:300])
        model.compile(**info)
        _load_optimizer_state(model, data.get("optimizer"))
    return model


def _set_generators(model, states):
    """Put back the random streams of seeded layers (``Dropout(seed=...)``), as they were saved."""
    streams = generators_of(model)
    if not isinstance(states, dict) or set(states) != set(streams):
        raise SerializationError(f"'generators': expected the states of {sorted(streams)}, found "
                         f"{sorted(states) if isinstance(states, dict) else states!r}"[:300])
    for key, state in states.items():
        try:
            streams[key].set_state(state)
        except ConfigError as e:
            raise SerializationError(f"'generators'[{key!r}]: {e}") from None


def _load_optimizer_state(model, entry):
    if entry is None:
        return
    if not isinstance(entry, dict) or set(entry) != {"state"}:
        raise SerializationError("'optimizer': expected a dict with the key 'state'")
    if model.optimizer is None or not model.optimizer.built:
        raise SerializationError("'optimizer': the file holds optimizer state, but the model it "
                                 "describes has no weights to optimise")
    try:
        model.optimizer.load_state_dict(entry["state"])
    except (SerializationError, ValueError, TypeError, KeyError) as e:
        raise SerializationError(f"'optimizer'['state']: {e}") from None


def _set_weights(model, weights):
    if not isinstance(weights, dict):
        raise SerializationError(f"'weights': expected a dict of layer name -> list of arrays, found "
                                 f"{type(weights).__name__}")
    layers = {layer.name: layer for layer in model.layers}
    unknown = [k for k in weights if k not in layers]
    if unknown:
        raise SerializationError(f"'weights' has an entry for layer {unknown[0]!r}, which the model "
                                 f"does not have")
    plan = []
    for name, layer in layers.items():
        n = len(layer.weights)
        if n == 0:
            continue
        if name not in weights:
            raise SerializationError(f"'weights': missing the weights of layer '{name}'")
        arrays = weights[name]
        if not isinstance(arrays, list) or not all(isinstance(a, np.ndarray) for a in arrays):
            raise SerializationError(f"'weights'['{name}']: expected a list of arrays")
        plan.append((layer, arrays))
    for layer, arrays in plan:
        try:
            layer.set_weights(arrays)
        except ValueError as e:
            raise SerializationError(f"'weights'['{layer.name}']: {e}") from None
