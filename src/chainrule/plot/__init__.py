"""Pictures of training (matplotlib is an optional dependency: ``pip install chainrule[plot]``)."""
from chainrule.plot.history import history, require_matplotlib

__all__ = ["history", "require_matplotlib"]
