"""Datasets and mini-batch loading, as ``torch.utils.data``.

``Dataset``, ``TensorDataset``, ``Subset``, ``ConcatDataset``, ``StackDataset``, ``random_split``;
the streams ``IterableDataset`` and ``ChainDataset``; ``DataLoader`` (``num_workers > 0`` loads in
worker processes, which ``get_worker_info`` describes) with the samplers ``SequentialSampler``,
``RandomSampler``, ``SubsetRandomSampler``, ``WeightedRandomSampler``, ``BatchSampler``;
``default_collate`` / ``default_convert``.
"""
from chainrule.data.collate import default_collate, default_convert
from chainrule.data.dataloader import DataLoader
from chainrule.data.dataset import Dataset, Subset, TensorDataset, random_split
from chainrule.data.distributed import DistributedSampler
from chainrule.data.sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler

__all__ = ["Dataset", "TensorDataset", "Subset", "random_split", "DataLoader", "Sampler",
           "SequentialSampler", "RandomSampler", "BatchSampler", "DistributedSampler", "default_collate",
           "default_convert"]

from chainrule.data.dataset import (ChainDataset, ConcatDataset, IterableDataset,  # noqa: E402
                                    StackDataset)
from chainrule.data.sampler import SubsetRandomSampler, WeightedRandomSampler  # noqa: E402
from chainrule.data.worker import WorkerInfo, get_worker_info  # noqa: E402

__all__ += ["ChainDataset", "ConcatDataset", "IterableDataset", "StackDataset",
            "SubsetRandomSampler", "WeightedRandomSampler", "WorkerInfo", "get_worker_info"]
