"""The 1,797 8×8 handwritten digits (UCI optdigits' test set, as scikit-learn ships them), inside
the package.

The gzip-compressed CSV and its README (with the CC BY 4.0 attribution) live in
``files/digits/`` and are read with :mod:`importlib.resources`, so the loader works from a wheel
or a zip as well as from a source checkout.  The file's sha256 is checked on every load.
"""
import gzip
import hashlib
from importlib import resources

import numpy as np

from chainrule.datasets.heart_disease import Bunch
from chainrule.errors import ConfigError, SerializationError

SHA256 = "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22"
"""The sha256 of the shipped ``digits.csv.gz``."""

N_SAMPLES = 1797


def _read(name):
    """The bytes of the shipped file ``files/digits/<name>``."""
    return resources.files("chainrule.datasets").joinpath("files", "digits", name).read_bytes()


def _table():
    """The 1,797 × 65 integer table: 64 pixels (row by row) and the digit."""
    raw = _read("digits.csv.gz")
    digest = hashlib.sha256(raw).hexdigest()
    if digest != SHA256:
        raise SerializationError(f"load_digits: the shipped data file is damaged (sha256 {digest}, "
                                 f"expected {SHA256}); reinstall chainrule")
    text = gzip.decompress(raw).decode("ascii")
    table = np.array([line.split(",") for line in text.splitlines() if line.strip()],
                     dtype=np.int64)
    if table.shape != (N_SAMPLES, 65):
        raise SerializationError(f"load_digits: the shipped file has shape {table.shape}, expected "
                                 f"({N_SAMPLES}, 65); reinstall chainrule")
    return table


def load_digits(*, n_class=10, return_X_y=False):
    """Load the handwritten digits: 1,797 images of 8×8 pixels counting 0..16, labels 0..9.

    Follows scikit-learn's ``load_digits``.  The result has

    - ``data``: a (n, 64) float64 array, each row an image's pixels row by row,
    - ``images``: the same as (n, 8, 8),
    - ``target``: int64 digits, ``target_names``: ``array([0, ..., 9])``,
    - ``feature_names``: ``pixel_0_0`` ... ``pixel_7_7``, ``frame`` (None) and ``DESCR`` (the
      README with the attribution).

    *n_class* keeps the digits 0..n_class-1 only.  With ``return_X_y=True`` only
    ``(data, target)`` is returned.  Each call returns fresh arrays.

    Example::

        >>> digits = load_digits()
        >>> digits.data.shape, digits.images.shape, digits.target[:5]
        ((1797, 64), (1797, 8, 8), array([0, 1, 2, 3, 4]))
        >>> X, y = load_digits(return_X_y=True)
    """
    if isinstance(n_class, bool) or not isinstance(n_class, int) or not 1 <= n_class <= 10:
        raise ConfigError(f"load_digits: n_class must be an int from 1 to 10, got {n_class!r}")
    table = _table()
    keep = table[:, 64] < n_class
    data = table[keep, :64].astype(np.float64)
    target = table[keep, 64].copy()
    if return_X_y:
        return data, target
    return Bunch(data=data, target=target, frame=None,
                 feature_names=[f"pixel_{r}_{c}" for r in range(8) for c in range(8)],
                 target_names=np.arange(10), images=data.reshape(-1, 8, 8).copy(),
                 DESCR=_read("README.md").decode("utf-8"))
