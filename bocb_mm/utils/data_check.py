"""Fail early, and helpfully, when a config's data set is not where the config says."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

# What each dataset class expects on disk, and how to get it (see docs/datasets.md).
_HOW_TO_GET = {
    'CIFAR100': ('<data_root>/cifar-100-python/{train,test,meta} (the python pickles)',
                 'python tools/dataset_converters/prepare_cifar.py --dataset cifar100 '
                 '--out <data_root>  (downloads the official archive), or place it by hand'),
    'CIFAR10': ('<data_root>/cifar-10-batches-py/',
                'python tools/dataset_converters/prepare_cifar.py --dataset cifar10 --out <data_root>'),
    'ImageNet': ('<data_root>/{train,val}/<class>/*.JPEG and meta/{train,val}.txt',
                 'see docs/datasets.md ("ImageNet-1K")'),
    'CocoDataset': ('<data_root>/annotations/instances_{train,val}2017.json and '
                    '<data_root>/{train,val}2017/*.jpg', 'see docs/datasets.md ("COCO")'),
    'CocoDataset@mmpose': ('<data_root>/annotations/person_keypoints_{train,val}2017.json and '
                           '<data_root>/{train,val}2017/*.jpg', 'see docs/datasets.md ("COCO")'),
}


class DataNotFoundError(FileNotFoundError):
    """A config points at a data set that is not on disk."""


def _datasets(cfg: Any) -> Iterator[tuple[str, dict]]:
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg.get(key)
        if not loader:
            continue
        dataset = loader.get('dataset', {})
        while 'dataset' in dataset:  # RepeatDataset, ClassBalancedDataset, ...
            dataset = dataset['dataset']
        yield key, dataset


def check_data_roots(cfg: Any) -> None:
    """Raise :class:`DataNotFoundError` naming the expected layout if a data root is missing.

    Args:
        cfg: an mmengine ``Config`` (or dict) with ``*_dataloader.dataset.data_root``.
    """
    scope = cfg.get('default_scope')
    for key, dataset in _datasets(cfg):
        root = dataset.get('data_root')
        ann = dataset.get('ann_file')
        paths = [Path(root)] if root else []
        if root and ann and not Path(ann).is_absolute():
            paths.append(Path(root) / ann)
        missing = [p for p in paths if not p.exists()]
        if not missing:
            continue
        dtype = str(dataset.get('type', '?')).split('.')[-1]
        layout, how = _HOW_TO_GET.get(f'{dtype}@{scope}', _HOW_TO_GET.get(dtype, ('', '')))
        msg = f'{key}: {dtype} data not found at {missing[0]!s}.'
        if layout:
            msg += f'\n  Expected layout: {layout}\n  How to get it: {how}'
        msg += ('\n  Point the config elsewhere with '
                f'--cfg-options {key}.dataset.data_root=/path/to/data')
        raise DataNotFoundError(msg)
