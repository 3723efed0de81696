"""The batched pipeline: CPU transform dicts turned into batched transforms, applied in order."""
from __future__ import annotations

import copy
from typing import Sequence

from torch import Tensor

from .transforms import BATCH_OPS

__all__ = ['BatchPipeline', 'transform_name']


def transform_name(cfg: dict) -> str:
    """The CPU transform name of a transform dict, without a scope (``'mmpretrain.X'`` -> X)."""
    return str(cfg['type']).rpartition('.')[2]


class BatchPipeline:
    """A list of batched ops built from CPU transform dicts, applied in order."""

    def __init__(self, transforms: Sequence[dict] = ()) -> None:
        self.transforms = []
        for cfg in transforms:
            cfg = dict(copy.deepcopy(cfg))
            name = transform_name(cfg)
            cfg.pop('type')
            if name not in BATCH_OPS:
                raise NotImplementedError(f'No batched op for the CPU transform {name!r} (known: '
                                          f'{", ".join(BATCH_OPS)})')
            self.transforms.append(BATCH_OPS[name](**cfg))

    def __call__(self, imgs: Tensor) -> Tensor:
        for transform in self.transforms:
            imgs = transform(imgs)
        return imgs

    def __len__(self) -> int:
        return len(self.transforms)
