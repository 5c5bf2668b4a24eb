"""Small real data sets shipped inside the package, loaded as scikit-learn's ``load_*`` functions.

``load_heart_disease()`` returns the UCI Cleveland heart-disease data (303 patients).
"""
from chainrule.datasets.heart_disease import Bunch, load_heart_disease

__all__ = ["Bunch", "load_heart_disease"]

from chainrule.datasets.addition import make_addition  # noqa: E402

__all__ += ["make_addition"]

from chainrule.datasets.digits import load_digits  # noqa: E402

__all__ += ["load_digits"]
