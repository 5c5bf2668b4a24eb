"""Ready-made networks, as ``keras.applications``: ``heart.build_model`` is the lectures' network.

>>> from chainrule.keras.applications import heart
>>> heart.count_parameters(heart.build_model(28))     # 28·16 + 16 + 16·1 + 1
481
"""
from chainrule.keras.applications import heart

__all__ = ["heart"]
