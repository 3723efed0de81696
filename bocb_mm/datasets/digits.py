"""scikit-learn's handwritten digits as a CIFAR-format data set (the demo's real data).

The digits set ships inside scikit-learn (1,797 real 8x8 grey images of the digits 0-9, from
the UCI optical-recognition data), so the demo needs no download. :func:`write_digits_cifar`
scales each image to 32x32 RGB (nearest neighbour, grey in all three channels), splits it
stratified and reproducibly into train and test, and writes it with
:func:`bocb_mm.datasets.write_cifar`, so training reads it through mmpretrain's CIFAR code path.

The tuning protocol of the main job needs a validation split that is not the test split:
:func:`write_digits_splits` carves it (stratified) out of the training images (leaving the
"fit" images) and writes two CIFAR roots with the same training file, ``tune`` ("test" file: the
validation images) and ``final`` (test file: the test images). Runs that choose hyper-parameters
only ever read ``tune``, whose files contain no test image; the final runs train on the same fit
images (same iterations per epoch, so the chosen lr means the same schedule).
"""
from __future__ import annotations

import os.path as osp

import numpy as np

from .cifar_writer import write_cifar

DIGIT_CLASSES = tuple(str(i) for i in range(10))


def digits_images() -> tuple[np.ndarray, np.ndarray]:
    """The 1,797 digits as uint8 RGB images (N, 32, 32, 3) and their labels (N,)."""
    from sklearn.datasets import load_digits
    digits = load_digits()
    grey = np.round(digits.images * (255.0 / 16.0)).astype(np.uint8)  # values 0..16 -> 0..255
    big = np.kron(grey, np.ones((1, 4, 4), dtype=np.uint8))  # 8x8 -> 32x32, nearest neighbour
    return np.repeat(big[..., None], 3, axis=-1), digits.target.astype(np.int64)


def stratified_split(labels: np.ndarray, test_fraction: float,
                     seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of a per-class random split (the same for a given seed)."""
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f'test_fraction must be in (0, 1), got {test_fraction}')
    rng = np.random.default_rng(seed)
    train, test = [], []
    for label in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == label))
        n_test = max(1, int(round(len(idx) * test_fraction)))
        test.append(idx[:n_test])
        train.append(idx[n_test:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def write_digits_cifar(root: str, test_fraction: float = 0.2, seed: int = 0) -> dict:
    """Write the digits to ``<root>/cifar-100-python`` (10 classes); returns split sizes."""
    images, labels = digits_images()
    train, test = stratified_split(labels, test_fraction, seed)
    write_cifar(root, images[train], labels[train], images[test], labels[test],
                num_classes=10, fine_label_names=DIGIT_CLASSES)
    return dict(train=len(train), test=len(test), classes=len(DIGIT_CLASSES))


def digits_split_indices(test_fraction: float = 0.2, val_fraction: float = 0.2,
                         seed: int = 0) -> dict[str, np.ndarray]:
    """Indices of the fit / validation / test images of the digits.

    Args:
        test_fraction: Share of all images held out for the final test numbers.
        val_fraction: Share of the training images carved out for validation.
        seed: Seed of both stratified splits (the test split equals
            :func:`write_digits_cifar`'s for the same ``test_fraction`` and ``seed``).

    Returns:
        ``{'fit', 'val', 'train', 'test'}``: ``train`` = ``fit`` + ``val``, all disjoint from
        ``test``; sorted indices into :func:`digits_images`.
    """
    _, labels = digits_images()
    train, test = stratified_split(labels, test_fraction, seed)
    fit, val = stratified_split(labels[train], val_fraction, seed + 1)
    return dict(fit=train[fit], val=train[val], train=train, test=test)


def write_digits_splits(root: str, test_fraction: float = 0.2, val_fraction: float = 0.2,
                        seed: int = 0, overwrite: bool = True) -> dict:
    """Write the ``tune`` and ``final`` CIFAR roots of the tuning protocol under ``root``.

    Args:
        root: Folder; gets ``tune/cifar-100-python`` (fit / validation) and
            ``final/cifar-100-python`` (fit / test).
        test_fraction: Share of all images in the test split.
        val_fraction: Share of the training images in the validation split.
        seed: Seed of the stratified splits.
        overwrite: False: a root whose files exist is left as it is (the data finished runs
            were trained on).

    Returns:
        Split sizes ``fit, val, train, test, classes`` and the two roots ``tune_root`` and
        ``final_root``.
    """
    images, labels = digits_images()
    idx = digits_split_indices(test_fraction, val_fraction, seed)
    roots = dict(tune_root=osp.join(root, 'tune'), final_root=osp.join(root, 'final'))
    for key, (train, held_out) in (('tune_root', ('fit', 'val')),
                                   ('final_root', ('fit', 'test'))):
        files = [osp.join(roots[key], 'cifar-100-python', f) for f in ('train', 'test', 'meta')]
        if not overwrite and all(osp.isfile(f) for f in files):
            continue
        write_cifar(roots[key], images[idx[train]], labels[idx[train]], images[idx[held_out]],
                    labels[idx[held_out]], num_classes=10, fine_label_names=DIGIT_CLASSES)
    return dict(**{k: len(v) for k, v in idx.items()}, classes=len(DIGIT_CLASSES), **roots)
