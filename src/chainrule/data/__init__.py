"""Datasets and mini-batch loading, as ``torch.utils.data``.

``Dataset``, ``TensorDataset``, ``Subset``, ``random_split``; ``DataLoader`` with the samplers
``SequentialSampler``, ``RandomSampler``, ``BatchSampler``; ``default_collate`` / ``default_convert``.
"""
from chainrule.data.collate import default_collate, default_convert
from chainrule.data.dataloader import DataLoader
from chainrule.data.dataset import Dataset, Subset, TensorDataset, random_split
from chainrule.data.distributed import DistributedSampler
from chainrule.data.sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler

__all__ = ["Dataset", "TensorDataset", "Subset", "random_split", "DataLoader", "Sampler",
           "SequentialSampler", "RandomSampler", "BatchSampler", "DistributedSampler", "default_collate",
           "default_convert"]
