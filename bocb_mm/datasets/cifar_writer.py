"""Write a CIFAR-100 data set in the official on-disk format (``cifar-100-python/``).

The official archive unpacks to ``cifar-100-python/{train,test,meta}``: Python pickles (written by
Python 2, so they are read with ``encoding='latin1'``) of dicts::

    train / test: {'filenames': [str], 'batch_label': str, 'fine_labels': [int],
                   'coarse_labels': [int], 'data': uint8 array (N, 3072)}
    meta:         {'fine_label_names': [str] * 100, 'coarse_label_names': [str] * 20}

where a row of ``data`` is the image in CHW order (1024 red, 1024 green, 1024 blue values of a
32x32 image). :func:`write_cifar` writes exactly that, so mmpretrain's ``CIFAR100`` parses the files
as it parses the official ones.

mmpretrain's ``CIFAR100`` also compares the MD5 sums of ``train`` and ``test`` with the official
files' (class attributes, checked on every load), which no other file can pass; a generated set is
therefore read through :class:`bocb_mm.datasets.UnverifiedCIFAR100` (the same class without the
pinned checksums). See docs/datasets.md.
"""
from __future__ import annotations

import os
import os.path as osp
import pickle
from typing import Sequence

import numpy as np

__all__ = ['write_cifar', 'random_cifar', 'CIFAR100_COARSE_OF_FINE', 'CIFAR100_COARSE_NAMES']

BASE_FOLDER = 'cifar-100-python'

# Superclass (coarse label) of each of the 100 classes, in the official fine-label order.
CIFAR100_COARSE_OF_FINE = (
    4, 1, 14, 8, 0, 6, 7, 7, 18, 3, 3, 14, 9, 18, 7, 11, 3, 9, 7, 11,
    6, 11, 5, 10, 7, 6, 13, 15, 3, 15, 0, 11, 1, 10, 12, 14, 16, 9, 11, 5,
    5, 19, 8, 8, 15, 13, 14, 17, 18, 10, 16, 4, 17, 4, 2, 0, 17, 4, 18, 17,
    10, 3, 2, 12, 12, 16, 12, 1, 9, 19, 2, 10, 0, 1, 16, 12, 9, 13, 15, 13,
    16, 19, 2, 4, 6, 19, 5, 5, 8, 19, 18, 1, 2, 15, 6, 0, 17, 8, 14, 13)

CIFAR100_COARSE_NAMES = (
    'aquatic_mammals', 'fish', 'flowers', 'food_containers', 'fruit_and_vegetables',
    'household_electrical_devices', 'household_furniture', 'insects', 'large_carnivores',
    'large_man-made_outdoor_things', 'large_natural_outdoor_scenes',
    'large_omnivores_and_herbivores', 'medium_mammals', 'non-insect_invertebrates', 'people',
    'reptiles', 'small_mammals', 'trees', 'vehicles_1', 'vehicles_2')


def _default_fine_names(num_classes: int) -> list[str]:
    if num_classes == 100:
        try:
            from mmpretrain.datasets.categories import CIFAR100_CATEGORIES
            return list(CIFAR100_CATEGORIES)
        except ImportError:  # pragma: no cover - mmpretrain is a dependency
            pass
    return [f'class_{i:03d}' for i in range(num_classes)]


def _to_rows(images: np.ndarray | Sequence) -> np.ndarray:
    """(N, 32, 32, 3) HWC uint8 RGB images -> (N, 3072) CHW rows, as in the official files."""
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[1:] != (32, 32, 3):
        raise ValueError(f'images must be (N, 32, 32, 3) RGB, got shape {images.shape}')
    if images.dtype != np.uint8:
        if images.min() < 0 or images.max() > 255:
            raise ValueError('images must be uint8 (or values in [0, 255])')
        images = images.astype(np.uint8)
    return np.ascontiguousarray(images.transpose(0, 3, 1, 2).reshape(len(images), 3072))


def _check_labels(labels: Sequence[int], n: int, num_classes: int, what: str) -> list[int]:
    labels = [int(x) for x in np.asarray(labels).reshape(-1)]
    if len(labels) != n:
        raise ValueError(f'{what}: {len(labels)} labels for {n} images')
    bad = [x for x in labels if not 0 <= x < num_classes]
    if bad:
        raise ValueError(f'{what}: labels must be in [0, {num_classes}), got e.g. {bad[0]}')
    return labels


def _split(images, labels, num_classes: int, split: str) -> dict:
    rows = _to_rows(images)
    fine = _check_labels(labels, len(rows), num_classes, split)
    coarse = [CIFAR100_COARSE_OF_FINE[x] if num_classes == 100 else x % 20 for x in fine]
    return {
        'filenames': [f'{split}_{i:05d}.png' for i in range(len(rows))],
        'batch_label': 'training batch 1 of 1' if split == 'train' else 'testing batch 1 of 1',
        'fine_labels': fine,
        'coarse_labels': coarse,
        'data': rows,
    }


def write_cifar(root: str, train_images, train_labels, test_images, test_labels,
                num_classes: int = 100, fine_label_names: Sequence[str] | None = None) -> str:
    """Write ``<root>/cifar-100-python/{train,test,meta}`` in the official CIFAR-100 format.

    Args:
        root: The data root (what a config calls ``data_root``, e.g. ``data/cifar100``).
        train_images, test_images: uint8 RGB images, shape (N, 32, 32, 3).
        train_labels, test_labels: fine labels in ``[0, num_classes)``.
        num_classes: Number of fine classes (100 for CIFAR-100; smaller for toy sets).
        fine_label_names: Class names; defaults to the official 100 names (or ``class_XXX``).

    Returns:
        The folder written (``<root>/cifar-100-python``).
    """
    names = list(fine_label_names) if fine_label_names is not None else \
        _default_fine_names(num_classes)
    if len(names) != num_classes:
        raise ValueError(f'{len(names)} fine_label_names for num_classes={num_classes}')
    folder = osp.join(root, BASE_FOLDER)
    os.makedirs(folder, exist_ok=True)
    files = {
        'train': _split(train_images, train_labels, num_classes, 'train'),
        'test': _split(test_images, test_labels, num_classes, 'test'),
        'meta': {'fine_label_names': names,
                 'coarse_label_names': list(CIFAR100_COARSE_NAMES) if num_classes == 100
                 else [f'superclass_{i:02d}' for i in range(min(20, num_classes))]},
    }
    for name, obj in files.items():
        # protocol 2: what the official (Python 2) files use; readable by every Python 3
        with open(osp.join(folder, name), 'wb') as f:
            pickle.dump(obj, f, protocol=2)
    return folder


def random_cifar(root: str, num_train: int = 40, num_test: int = 20, num_classes: int = 100,
                 seed: int = 0) -> str:
    """A tiny random CIFAR-100 (class-dependent colour blobs, so it is learnable) at ``root``.

    Labels cycle through the classes, so every class appears when ``num_train >= num_classes``.
    """
    rng = np.random.default_rng(seed)
    palette = rng.integers(0, 256, size=(num_classes, 3))

    def make(n: int, offset: int):
        labels = (np.arange(n) + offset) % num_classes
        noise = rng.normal(0, 40, size=(n, 32, 32, 3))
        images = np.clip(palette[labels][:, None, None, :] + noise, 0, 255).astype(np.uint8)
        return images, labels

    train = make(num_train, 0)
    test = make(num_test, 0)
    return write_cifar(root, *train, *test, num_classes=num_classes)
