"""scikit-learn's handwritten digits as a CIFAR-format data set (the demo's real data).

The digits set ships inside scikit-learn (1,797 real 8x8 grey images of the digits 0-9, from
the UCI optical-recognition data), so the demo needs no download. :func:`write_digits_cifar`
scales each image to 32x32 RGB (nearest neighbour, grey in all three channels), splits it
stratified and reproducibly into train and test, and writes it with
:func:`bocb_mm.datasets.write_cifar`, so training reads it through mmpretrain's CIFAR code path.

The demo's tuning protocol needs a validation split that is not the test split:
:func:`write_digits_splits` carves it (stratified) out of the training images (leaving the
"fit" images) and writes two CIFAR roots with the same training file, ``tune`` ("test" file: the
validation images) and ``final`` (test file: the test images). Runs that choose hyper-parameters
only ever read ``tune``, whose files contain no test image; the final runs train on the same fit
images (same iterations per epoch, so the chosen lr means the same schedule). Each root records
the SHA-256 of its files (:data:`MANIFEST`); a rerun keeps a root only while its files match.

The demo trains hundreds of short runs in a few long-lived processes; :class:`PackedCIFAR100`
(``type='bocb_mm.PackedCIFAR100'``, registered when this module is imported, e.g. through the
config's ``custom_imports``) is mmpretrain's CIFAR-100 reader (unverified, as
:class:`~bocb_mm.datasets.UnverifiedCIFAR100`) whose deterministic pipeline runs once per image and
process instead of once per image, epoch and run.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import os.path as osp
from typing import Callable

import numpy as np

from .cifar_writer import write_cifar

try:  # the reader needs mmpretrain; the writers do not
    from .cifar import UnverifiedCIFAR100
except ImportError:  # pragma: no cover
    UnverifiedCIFAR100 = None  # type: ignore[assignment,misc]

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


MANIFEST = 'bocb_digits.json'
"""The file in each CIFAR root of :func:`write_digits_splits` that records its files' SHA-256
and the split parameters, written after the data files."""

CIFAR_FILES = tuple(osp.join('cifar-100-python', name) for name in ('train', 'test', 'meta'))


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def root_problem(root: str, split: dict) -> str | None:
    """Why a CIFAR root of :func:`write_digits_splits` cannot be reused as it is, or None.

    Args:
        root: The root (``<data>/tune`` or ``<data>/final``).
        split: The split parameters it must have been written with.

    Returns:
        None when its :data:`MANIFEST` records ``split`` and every file matches its recorded
        SHA-256; else the reason (a missing, damaged or changed file, no manifest, other split
        parameters), naming the file.
    """
    manifest = osp.join(root, MANIFEST)
    if not osp.isfile(manifest):
        return f'{root} has no {MANIFEST} (its data was not written by the demo, or not to the end)'
    try:
        with open(manifest) as f:
            recorded = json.load(f)
        files = dict(recorded['files'])
    except (OSError, ValueError, KeyError, TypeError) as err:
        return f'{manifest} is unreadable ({err})'
    if recorded.get('split') != split:
        return f'{root} was split with {recorded.get("split")}, not {split}'
    for name in CIFAR_FILES:
        path = osp.join(root, name)
        if not osp.isfile(path):
            return f'{path} is missing'
        if _sha256(path) != files.get(name):
            return f'{path} fails its checksum (damaged, or changed since the demo wrote it)'
    return None


def record_checksums(root: str, split: dict) -> dict[str, str]:
    """Write the :data:`MANIFEST` of a CIFAR root: its files' SHA-256 and ``split``.

    Returns:
        The SHA-256 per file (relative to ``root``).
    """
    from ..utils.fileio import atomic_write  # here: bocb_mm.utils imports the data checks
    files = {name: _sha256(osp.join(root, name)) for name in CIFAR_FILES}

    def write(tmp: str) -> None:
        with open(tmp, 'w') as f:
            json.dump(dict(split=split, files=files), f, indent=1)

    atomic_write(osp.join(root, MANIFEST), write)
    return files


def write_digits_splits(root: str, test_fraction: float = 0.2, val_fraction: float = 0.2,
                        seed: int = 0, overwrite: bool = True,
                        log: Callable[[str], None] | None = None) -> dict:
    """Write the ``tune`` and ``final`` CIFAR roots of the tuning protocol under ``root``.

    Each root gets a :data:`MANIFEST` with its files' SHA-256, written after them.

    Args:
        root: Folder; gets ``tune/cifar-100-python`` (fit / validation) and
            ``final/cifar-100-python`` (fit / test).
        test_fraction: Share of all images in the test split.
        val_fraction: Share of the training images in the validation split.
        seed: Seed of the stratified splits.
        overwrite: False: a root whose files match its manifest is left as it is (the data
            finished runs were trained on); any other root (a file missing, damaged or changed,
            no manifest, other split parameters) is written again.
        log: Called with a line for each existing root that is written again, and why.

    Returns:
        Split sizes ``fit, val, train, test, classes``, the two roots ``tune_root`` and
        ``final_root``, and ``digest``: a short hash of both roots' file checksums (it changes
        when the data does).
    """
    images, labels = digits_images()
    idx = digits_split_indices(test_fraction, val_fraction, seed)
    split = dict(test_fraction=test_fraction, val_fraction=val_fraction, seed=seed)
    roots = dict(tune_root=osp.join(root, 'tune'), final_root=osp.join(root, 'final'))
    digest = hashlib.sha256()
    for key, (train, held_out) in (('tune_root', ('fit', 'val')),
                                   ('final_root', ('fit', 'test'))):
        problem = None if overwrite else root_problem(roots[key], split)
        if overwrite or problem is not None:
            if problem is not None and log is not None and osp.exists(roots[key]):
                log(f'{problem}; writing the {key[:-5]} data again')
            with contextlib.suppress(FileNotFoundError):  # no stale manifest during the write
                os.unlink(osp.join(roots[key], MANIFEST))
            write_cifar(roots[key], images[idx[train]], labels[idx[train]],
                        images[idx[held_out]], labels[idx[held_out]], num_classes=10,
                        fine_label_names=DIGIT_CLASSES)
            record_checksums(roots[key], split)
        with open(osp.join(roots[key], MANIFEST)) as f:
            digest.update(json.dumps(json.load(f)['files'], sort_keys=True).encode())
    return dict(**{k: len(v) for k, v in idx.items()}, classes=len(DIGIT_CLASSES), **roots,
                digest=digest.hexdigest()[:16])


DETERMINISTIC_TRANSFORMS = frozenset({'Resize', 'CenterCrop', 'PackInputs'})
"""Transforms :class:`PackedCIFAR100` may cache: their output depends on the image only."""

_PACKED: dict[tuple, list[dict]] = {}


def _fresh_sample(sample):
    """A shallow copy of a ``DataSample``: new field sets, shared label and meta values.

    A run may add fields (its predictions) to the samples it gets; they go to the copy only.
    ``DataSample.clone`` / ``new`` deep-copy the meta information (about 60 us per image).
    """
    out = sample.__class__.__new__(sample.__class__)
    out.__dict__.update(sample.__dict__)
    out.__dict__['_metainfo_fields'] = set(sample._metainfo_fields)
    out.__dict__['_data_fields'] = set(sample._data_fields)
    return out


if UnverifiedCIFAR100 is not None:
    from bocb_mm.registry import DATASETS

    @DATASETS.register_module()
    class PackedCIFAR100(UnverifiedCIFAR100):
        """CIFAR-100 reader whose pipeline runs once per image per process.

        mmpretrain's reader (no checksum pinning, as :class:`UnverifiedCIFAR100`) runs the pipeline
        on every ``__getitem__``: every image of every epoch of every run. With a pipeline whose
        output depends on the image only (:data:`DETERMINISTIC_TRANSFORMS`: no random crop, flip
        or erase) the packed result of an image is the same each time, so it is computed once and
        kept for the life of the process, keyed by the data file (path, size, modification time)
        and the pipeline; each access returns the cached input tensor with a new ``DataSample``.

        Config: ``dict(type='bocb_mm.PackedCIFAR100', data_root=..., split='train',
        pipeline=[dict(type='Resize', scale=(8, 8)), dict(type='PackInputs')])``.

        Raises:
            ValueError: The pipeline has a transform outside :data:`DETERMINISTIC_TRANSFORMS`.
        """

        def __init__(self, *args, pipeline=(), **kwargs) -> None:
            names = [t.get('type') if isinstance(t, dict) else type(t).__name__ for t in pipeline]
            random = [n for n in names if n not in DETERMINISTIC_TRANSFORMS]
            if random:
                raise ValueError('PackedCIFAR100 caches the pipeline, which must be '
                                 f'deterministic ({sorted(DETERMINISTIC_TRANSFORMS)}); '
                                 f'got {random}')
            self._pipeline_key = repr(list(pipeline))
            self._packed: list | None = None
            super().__init__(*args, pipeline=list(pipeline), **kwargs)

        def _cache_key(self) -> tuple:
            folder = osp.join(self.data_prefix['root'], self.base_folder)
            files = self.train_list if self.split == 'train' else self.test_list
            stats = [os.stat(osp.join(folder, name)) for name, _ in files]
            return (folder, self.split, self._pipeline_key,
                    tuple((s.st_size, s.st_mtime_ns) for s in stats))

        def prepare_data(self, idx: int) -> dict:
            """The packed image ``idx`` (pipeline run on the first access in this process)."""
            if self._packed is None:
                self._packed = _PACKED.setdefault(self._cache_key(), [None] * len(self))
            packed = self._packed[idx]
            if packed is None:
                packed = self._packed[idx] = super().prepare_data(idx)
            return dict(packed, data_samples=_fresh_sample(packed['data_samples']))
