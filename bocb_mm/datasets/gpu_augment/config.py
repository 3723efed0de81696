"""Rewriting a config's CPU data pipelines into the GPU data path.

:func:`use_gpu_data_path` (``tools/train.py --gpu-data``, through
:func:`bocb_mm.engine.throughput.apply_throughput_options`) makes the loaders hand out raw uint8
images and moves the transforms into :class:`bocb_mm.models.GPUAugDataPreprocessor`, which runs
them as a :class:`~.pipeline.BatchPipeline` on the model's device.
"""
from __future__ import annotations

from typing import Any, Sequence

from .pipeline import transform_name
from .transforms import BATCH_OPS

__all__ = ['use_gpu_data_path']


def _split_pipeline(pipeline: Sequence[dict], where: str) -> list[dict]:
    """The transforms before ``PackInputs``; every one must have a batched op."""
    names = [transform_name(t) for t in pipeline]
    if not names or names[-1] != 'PackInputs':
        raise ValueError(f'{where}: expected a pipeline ending in PackInputs, got {names}')
    ops = [dict(t) for t in pipeline[:-1]]
    missing = [n for n in names[:-1] if n not in BATCH_OPS]
    if missing:
        raise ValueError(f'{where}: no batched op for {missing}; the GPU data path covers '
                         f'{", ".join(BATCH_OPS)} (images the dataset hands out whole, as CIFAR)')
    return ops


def use_gpu_data_path(cfg: Any) -> Any:
    """Rewrite a loaded config for the GPU data path, in place.

    The train / val / test pipelines are reduced to ``PackInputs`` (raw uint8 images), the
    loaders stack them (``default_collate``), and the data preprocessor becomes
    ``bocb_mm.GPUAugDataPreprocessor`` with the former transforms as ``train_augments`` /
    ``test_augments``. Normalisation and Mixup / CutMix (``model.train_cfg.augments``) are
    unchanged.

    Args:
        cfg: An mmengine ``Config`` (or dict) of a CIFAR recipe.

    Returns:
        ``cfg``.

    Raises:
        ValueError: If a pipeline holds a transform without a batched op.
    """
    augments = {}
    for split in ('train', 'val', 'test'):
        loader = cfg.get(f'{split}_dataloader')
        if not loader:
            continue
        dataset = loader['dataset']
        augments[split] = _split_pipeline(dataset['pipeline'], f'{split}_dataloader')
        dataset['pipeline'] = [dict(type='PackInputs')]
        loader['collate_fn'] = dict(type='default_collate')
    if augments.get('val') is not None and augments.get('test') is not None \
            and augments['val'] != augments['test']:
        raise ValueError('use_gpu_data_path: val and test pipelines differ; the preprocessor '
                         'has one eval pipeline')
    preprocessor = dict(cfg.get('data_preprocessor') or {})
    preprocessor.update(type='bocb_mm.GPUAugDataPreprocessor',
                        train_augments=augments.get('train', []),
                        test_augments=augments.get('val', augments.get('test', [])))
    cfg['data_preprocessor'] = preprocessor
    model = cfg.get('model')
    if model is not None and model.get('data_preprocessor') is not None:
        model['data_preprocessor'] = dict(model['data_preprocessor'], **preprocessor)
    return cfg
