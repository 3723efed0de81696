"""Tiny models, in-memory data and a Runner factory shared by the tests/engine tests."""
from __future__ import annotations

import glob
import json
import os
import uuid
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset

import bocb_mm  # noqa: F401  (registers the bocb_mm scope)


class SoftmaxRegression(nn.Module):
    """logits = x W^T + b."""

    def __init__(self, dim: int = 4, classes: int = 3) -> None:
        super().__init__()
        self.fc = nn.Linear(dim, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x)


class SmallNet(nn.Module):
    """Linear -> BatchNorm -> ReLU -> Linear classifier (has biases and a norm layer)."""

    def __init__(self, dim: int = 6, hidden: int = 8, classes: int = 3) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.bn = nn.BatchNorm1d(hidden)
        self.fc2 = nn.Linear(hidden, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(torch.relu(self.bn(self.fc1(x))))


def batches(n: int, bs: int = 8, dim: int = 6, classes: int = 3, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return [(torch.randn(bs, dim, generator=g), torch.randint(0, classes, (bs,), generator=g))
            for _ in range(n)]


# --------------------------------------------------------------------------------------------
# mmpretrain: a real ImageClassifier on generated images
# --------------------------------------------------------------------------------------------
class TinyClsDataset(Dataset):
    """Random 16x16 uint8 images with labels in [0, 4), as mmpretrain's packed samples."""

    def __init__(self, n: int = 16, size: int = 16, classes: int = 4, seed: int = 0) -> None:
        g = torch.Generator().manual_seed(seed)
        self.images = torch.randint(0, 256, (n, 3, size, size), generator=g, dtype=torch.uint8)
        self.labels = torch.randint(0, classes, (n,), generator=g).tolist()
        self.metainfo = dict(classes=[str(i) for i in range(classes)])

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> dict:
        from mmpretrain.structures import DataSample
        return dict(inputs=self.images[i], data_samples=DataSample().set_gt_label(self.labels[i]))


def cls_model_cfg() -> dict:
    return dict(
        type='ImageClassifier',
        data_preprocessor=dict(type='ClsDataPreprocessor', mean=[127.5] * 3, std=[127.5] * 3),
        backbone=dict(type='ResNet_CIFAR', depth=18, stem_channels=8, base_channels=8),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=4, in_channels=64,
                  loss=dict(type='CrossEntropyLoss')))


def make_runner(work_dir: str, model: Any, dataset: Dataset, optim_wrapper: dict, *,
                scope: str, max_iters: int = 4, batch_size: int = 4, log_interval: int = 1,
                custom_hooks: list | None = None, checkpoint_interval: int | None = None,
                resume: bool = False, load_from: str | None = None):
    """A real mmengine Runner (iteration-based, CPU, no validation)."""
    from mmengine.runner import Runner
    default_hooks = dict(logger=dict(type='LoggerHook', interval=log_interval),
                         checkpoint=dict(type='CheckpointHook', by_epoch=False,
                                         interval=checkpoint_interval or 10**9,
                                         save_last=False))
    return Runner(
        model=model,
        work_dir=work_dir,
        experiment_name=f'exp_{uuid.uuid4().hex[:10]}',
        train_dataloader=dict(batch_size=batch_size, num_workers=0, dataset=dataset,
                              sampler=dict(type='DefaultSampler', shuffle=False)),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        optim_wrapper=optim_wrapper,
        default_hooks=default_hooks,
        custom_hooks=custom_hooks,
        default_scope=scope,
        randomness=dict(seed=0),
        visualizer=dict(type='Visualizer', vis_backends=[dict(type='LocalVisBackend')]),
        log_level='WARNING',
        resume=resume,
        load_from=load_from,
    )


def read_scalars(work_dir: str) -> list[dict]:
    """All records of the run's ``vis_data/scalars.json``."""
    paths = glob.glob(os.path.join(work_dir, '*', 'vis_data', 'scalars.json'))
    assert paths, f'no scalars.json under {work_dir}'
    records = []
    for path in paths:
        with open(path) as f:
            records += [json.loads(line) for line in f if line.strip()]
    return records


def tiny_base_model():
    """An mmengine BaseModel around SmallNet: ``forward(inputs, data_samples, mode)``."""
    import torch.nn.functional as F
    from mmengine.model import BaseModel

    class TinyBaseModel(BaseModel):
        def __init__(self) -> None:
            super().__init__()
            self.net = SmallNet()

        def forward(self, inputs, data_samples=None, mode='tensor'):
            logits = self.net(inputs)
            if mode == 'loss':
                return dict(loss=F.cross_entropy(logits, data_samples))
            return logits

    return TinyBaseModel()

