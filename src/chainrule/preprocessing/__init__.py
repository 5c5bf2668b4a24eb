"""Preparing tables for a model: :class:`TabularPreprocessor` and :func:`train_test_split`."""
from chainrule.preprocessing.split import train_test_split
from chainrule.preprocessing.tabular import TabularPreprocessor

__all__ = ["TabularPreprocessor", "train_test_split"]
