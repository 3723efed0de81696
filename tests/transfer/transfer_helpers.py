"""Helpers of the COCO transfer tests: the shipped config of a paper column, and the
--cfg-options that make the shipped configs cheap on a CPU (tests/helpers.py has the ones all
tests share)."""
from __future__ import annotations

import os.path as osp

from bocb_mm.configgen import transfer_config_path
from helpers import REPO

DET_R50 = 'det:R-50 (SGD)'
POSE_R50 = 'pose:R-50 (SGD)'


def transfer_config(column: str, optimizer: str) -> str:
    """Absolute path of the shipped config of a paper column and fine-tuning optimizer."""
    return osp.join(REPO, transfer_config_path(column, optimizer))


def det_options(n_train: int | None = None, scale: int = 128, batch: int = 2) -> list[str]:
    """--cfg-options that make the shipped RetinaNet configs cheap: small images, batch 2, no
    worker processes; the model, optimizer, schedule and evaluator stay as shipped."""
    opts = [f'train_dataloader.batch_size={batch}', 'train_dataloader.num_workers=0',
            'train_dataloader.persistent_workers=False',
            f'train_dataloader.dataset.pipeline.2.scale=({scale},{scale})',
            'train_cfg.max_epochs=1', 'default_hooks.logger.interval=1', 'randomness.seed=0']
    for loader in ('val_dataloader', 'test_dataloader'):
        opts += [f'{loader}.num_workers=0', f'{loader}.persistent_workers=False',
                 f'{loader}.dataset.pipeline.1.scale=({scale},{scale})']
    if n_train:
        opts.append(f'train_dataloader.dataset.indices={n_train}')
    return opts


def pose_options(n_train: int | None = None, batch: int = 2) -> list[str]:
    """--cfg-options that make the shipped TopDown configs cheap: 128x96 crops (32x24 heatmaps),
    ground-truth person boxes for validation, batch 2, no worker processes."""
    size, heat = '(96,128)', '(24,32)'
    opts = [f'train_dataloader.batch_size={batch}', 'train_dataloader.num_workers=0',
            'train_dataloader.persistent_workers=False',
            f'train_dataloader.dataset.pipeline.5.input_size={size}',
            f'train_dataloader.dataset.pipeline.6.encoder.input_size={size}',
            f'train_dataloader.dataset.pipeline.6.encoder.heatmap_size={heat}',
            f'model.head.decoder.input_size={size}', f'model.head.decoder.heatmap_size={heat}',
            'train_cfg.max_epochs=1', 'train_cfg.val_interval=1',
            'default_hooks.logger.interval=1', 'randomness.seed=0']
    for loader in ('val_dataloader', 'test_dataloader'):
        opts += [f'{loader}.batch_size=2', f'{loader}.num_workers=0',
                 f'{loader}.persistent_workers=False', f'{loader}.dataset.bbox_file=None',
                 f'{loader}.dataset.pipeline.2.input_size={size}']
    if n_train:
        opts.append(f'train_dataloader.dataset.indices={n_train}')
    return opts


