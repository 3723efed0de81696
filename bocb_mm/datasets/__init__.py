"""Data sets: CIFAR-100 writer (official on-disk format) and an unpinned CIFAR-100 reader."""
from .cifar_writer import random_cifar, write_cifar

try:  # the reader needs mmpretrain; the writer does not
    from .cifar import UnverifiedCIFAR100
except ImportError:  # pragma: no cover
    UnverifiedCIFAR100 = None  # type: ignore[assignment,misc]

__all__ = ['write_cifar', 'random_cifar', 'UnverifiedCIFAR100']
