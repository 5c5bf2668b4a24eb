"""The UCI Cleveland heart-disease data (303 patients), shipped inside the package.

The file and its README (with the CC BY 4.0 attribution) live in ``files/heart-disease/`` and are
read with :mod:`importlib.resources`, so the loader works from a wheel or a zip as well as from a
source checkout. The file's sha256 is checked on every load.
"""
import hashlib
from importlib import resources

import numpy as np

from chainrule.errors import SerializationError

SHA256 = "a74b7efa387bc9d108d7d0115d831fe9b414b29ae7124f331b622b4efa0427c8"
"""The sha256 of ``processed.cleveland.data`` as published by UCI."""

FEATURE_NAMES = ["age", "sex", "cp", "trestbps", "chol", "fbs", "restecg",
                 "thalach", "exang", "oldpeak", "slope", "ca", "thal"]
FEATURE_KINDS = ["numeric", "categorical", "categorical", "numeric", "numeric", "categorical",
                 "categorical", "numeric", "categorical", "numeric", "categorical",
                 "categorical", "categorical"]
CATEGORIES = {"sex": [0, 1], "cp": [1, 2, 3, 4], "fbs": [0, 1], "restecg": [0, 1, 2],
              "exang": [0, 1], "slope": [1, 2, 3], "ca": [0, 1, 2, 3], "thal": [3, 6, 7]}
TARGET_NAMES = ["absent", "present"]


class Bunch(dict):
    """A dict whose keys are also attributes, as scikit-learn's ``Bunch``.

    Example::

        >>> b = Bunch(data=[1, 2])
        >>> b.data is b["data"]
        True
    """

    def __getattr__(self, key):
        try:
            return self[key]
        except KeyError:
            raise AttributeError(f"Bunch has no attribute {key!r}; it has {sorted(self)}") from None

    def __setattr__(self, key, value):
        self[key] = value

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self))


def _read(name):
    """The bytes of the shipped file ``files/heart-disease/<name>``."""
    return resources.files("chainrule.datasets").joinpath("files", "heart-disease", name).read_bytes()


def _parse(raw):
    """Parse the comma-separated file: 13 feature columns and the diagnosis ``num``; '?' is NaN."""
    rows = [line.split(",") for line in raw.decode("ascii").splitlines() if line.strip()]
    table = np.array([[np.nan if v.strip() == "?" else float(v) for v in row] for row in rows],
                     dtype=np.float64)
    return table[:, :13], (table[:, 13] > 0).astype(np.int64)


def load_heart_disease(return_X_y=False):
    """Load the UCI Cleveland heart-disease data: 303 patients, 13 features, a binary diagnosis.

    Follows scikit-learn's ``load_*`` convention. The result has

    - ``data``: a (303, 13) float64 array in the UCI column order, NaN where the file has '?'
      (4 missing in ``ca``, 2 in ``thal``),
    - ``target``: int64, 1 where the diagnosis ``num`` > 0 (139 patients), else 0 (164),
    - ``feature_names``, ``feature_kinds`` ("numeric" or "categorical" per column),
    - ``categories``: for each categorical column, the list of its documented levels,
    - ``target_names`` (``["absent", "present"]``) and ``DESCR`` (the README with the attribution).

    With ``return_X_y=True`` only ``(data, target)`` is returned. Each call returns fresh arrays.

    Example::

        >>> ds = load_heart_disease()
        >>> ds.data.shape, int(ds.target.sum())
        ((303, 13), 139)
        >>> X, y = load_heart_disease(return_X_y=True)
    """
    raw = _read("processed.cleveland.data")
    digest = hashlib.sha256(raw).hexdigest()
    if digest != SHA256:
        raise SerializationError(f"load_heart_disease: the shipped data file is damaged (sha256 {digest}, "
                                 f"expected {SHA256}); reinstall chainrule")
    data, target = _parse(raw)
    if return_X_y:
        return data, target
    return Bunch(data=data, target=target, feature_names=list(FEATURE_NAMES),
                 feature_kinds=list(FEATURE_KINDS),
                 categories={k: list(v) for k, v in CATEGORIES.items()},
                 target_names=list(TARGET_NAMES),
                 DESCR=_read("README.md").decode("utf-8"))
