"""The one-file model format of the ``train digits`` and ``train addition`` jobs: a dict written by
``cr.save`` (no pickle) holding a format tag, a version, the settings and the weights.

Example: ``load_model_file(path, "chainrule.digits-model", 1, "digits", "a digits model file",
build)`` checks the file and returns ``build(obj)``, the model made from its dict.
"""
from chainrule.errors import CheckpointError
from chainrule.serialization import load


def is_model_file(path, fmt):
    """True when *path* holds a dict tagged ``{"format": fmt}`` (any other file: False)."""
    try:
        obj = load(path)
    except Exception:   # noqa: BLE001 - any unreadable file is simply not such a model
        return False
    return isinstance(obj, dict) and obj.get("format") == fmt


def load_model_file(path, fmt, version, job, what, build):
    """``build(obj)`` for the dict saved at *path*, once it carries format tag *fmt* and *version*.

    A CheckpointError names *path* when the file is not *what* written by ``chainrule train
    <job>``, has another version, or is damaged (``build`` fails on missing keys or shapes).
    """
    obj = load(path)
    if not isinstance(obj, dict) or obj.get("format") != fmt:
        raise CheckpointError(f"{path}: not {what} written by 'chainrule train {job}'")
    if obj.get("version") != version:
        raise CheckpointError(f"{path}: {job} model format version {obj.get('version')} is not "
                              f"supported (expected {version})")
    try:
        return build(obj)
    except CheckpointError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, MemoryError,
            RecursionError) as e:
        raise CheckpointError(f"{path}: damaged {job} model file: {type(e).__name__}: "
                              f"{str(e)[:300]}") from None
