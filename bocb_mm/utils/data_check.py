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
                    '<data_root>/{train,val}2017/*.jpg',
                    'see docs/datasets.md ("COCO"); the bocb_mm COCO configs read the root from '
                    'the environment: BOCB_COCO_ROOT=/path/to/coco'),
    'CocoDataset@mmpose': ('<data_root>/annotations/person_keypoints_{train,val}2017.json and '
                           '<data_root>/{train,val}2017/*.jpg',
                           'see docs/datasets.md ("COCO"); the bocb_mm COCO configs read the '
                           'root from the environment: BOCB_COCO_ROOT=/path/to/coco'),
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
        bbox_file = dataset.get('bbox_file')
        if not missing and bbox_file and not Path(bbox_file).exists():
            raise DataNotFoundError(
                f'{key}: person detection results not found at {bbox_file} (TopDown evaluates '
                'on detected person boxes). Get them as docs/datasets.md ("COCO") says, or '
                f'evaluate on ground-truth boxes: --cfg-options {key}.dataset.bbox_file=None')
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
    check_pretrained(cfg)


def _init_cfgs(node: Any) -> Iterator[dict]:
    """Every ``init_cfg`` dict in a (nested) model config."""
    if isinstance(node, dict):
        init = node.get('init_cfg')
        for item in init if isinstance(init, list) else [init]:
            if isinstance(item, dict):
                yield item
        for value in node.values():
            yield from _init_cfgs(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            yield from _init_cfgs(value)


def check_pretrained(cfg: Any) -> None:
    """Raise when a model's ``Pretrained`` init points at a local file that does not exist.

    mmengine only notices at ``init_weights`` time, after the data sets were built; a URL (which
    mmengine downloads and caches) is left alone.
    """
    for init in _init_cfgs(cfg.get('model', {})):
        ckpt = init.get('checkpoint')
        if init.get('type') != 'Pretrained' or not isinstance(ckpt, str) or '://' in ckpt:
            continue
        if not Path(ckpt).is_file():
            raise DataNotFoundError(
                f'pre-trained checkpoint not found: {ckpt}. Train one with tools/train.py '
                '(a configs/cifar100 or configs/imagenet run) and point the config at it: '
                'BOCB_PRETRAINED=/path/to/epoch_N.pth, or --cfg-options '
                'model.backbone.init_cfg.checkpoint=/path/to/epoch_N.pth (docs/transfer.md)')
