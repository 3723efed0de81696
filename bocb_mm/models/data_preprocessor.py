"""A classification data preprocessor that augments whole batches on the model's device.

With the GPU data path the loader hands out raw uint8 images (pipeline ``[PackInputs]``,
``default_collate``), and :class:`GPUAugDataPreprocessor` runs the recipe's transforms batched
on the device (:mod:`bocb_mm.datasets.gpu_augment`) before mmpretrain's normalisation and batch
augments (Mixup / CutMix). Config::

    data_preprocessor = dict(
        type='bocb_mm.GPUAugDataPreprocessor', num_classes=100, mean=[...], std=[...],
        train_augments=[dict(type='RandomCrop', crop_size=32, padding=4),
                        dict(type='RandomFlip', prob=0.5, direction='horizontal')],
        test_augments=[])

:func:`bocb_mm.datasets.gpu_augment.config.use_gpu_data_path` writes this from a CPU-pipeline
config.
"""
from __future__ import annotations

from typing import Sequence

import torch
from mmpretrain.models.utils.data_preprocessor import ClsDataPreprocessor

from bocb_mm.datasets.gpu_augment.pipeline import BatchPipeline
from bocb_mm.registry import MODELS

__all__ = ['GPUAugDataPreprocessor']


@MODELS.register_module()
class GPUAugDataPreprocessor(ClsDataPreprocessor):
    """mmpretrain's ``ClsDataPreprocessor`` preceded by batched on-device augmentation.

    Args:
        train_augments: CPU transform dicts (as in a pipeline, without ``PackInputs``) applied
            batched in training mode.
        test_augments: Transform dicts applied in eval mode (e.g. the 224 px ``Resize``).
        **kwargs: :class:`ClsDataPreprocessor` arguments (mean, std, to_rgb, num_classes,
            batch_augments ...).
    """

    def __init__(self, train_augments: Sequence[dict] = (),
                 test_augments: Sequence[dict] = (), **kwargs) -> None:
        super().__init__(**kwargs)
        self.train_augments = BatchPipeline(train_augments)
        self.test_augments = BatchPipeline(test_augments)

    def forward(self, data: dict, training: bool = False) -> dict:
        """Augment the uint8 batch on the device, then normalise and batch-augment.

        Args:
            data: A batch from the loader: ``inputs`` a ``(B, C, H, W)`` uint8 tensor (or a
                list of equally sized ``(C, H, W)`` tensors) and ``data_samples``.
            training: Apply ``train_augments`` (and Mixup / CutMix) instead of
                ``test_augments``.

        Returns:
            ``dict(inputs=..., data_samples=...)`` as ``ClsDataPreprocessor`` returns it.
        """
        inputs = self.cast_data(data['inputs'])
        if isinstance(inputs, (list, tuple)):
            inputs = torch.stack(list(inputs))
        pipeline = self.train_augments if training else self.test_augments
        if len(pipeline):
            inputs = pipeline(inputs.float())
        return super().forward(dict(data, inputs=inputs), training)
