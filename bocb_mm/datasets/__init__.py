"""Data sets: CIFAR-100 writer (official on-disk format), an unpinned CIFAR-100 reader, and the
batched on-device augmentation of the GPU data path (:mod:`.gpu_augment`)."""
from .cifar_writer import random_cifar, write_cifar
from .gpu_augment import use_gpu_data_path

try:  # the reader needs mmpretrain; the writer does not
    from .cifar import UnverifiedCIFAR100
except ImportError:  # pragma: no cover
    UnverifiedCIFAR100 = None  # type: ignore[assignment,misc]

__all__ = ['write_cifar', 'random_cifar', 'UnverifiedCIFAR100', 'use_gpu_data_path']
