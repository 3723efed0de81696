"""mmpretrain's ConvNeXt and DenseNet with a ``cifar_stem`` switch for 32x32 inputs.

The BOCB paper trains ResNet, DenseNet, ConvNeXt(V2) and MogaNet on CIFAR-100 at 32x32 with
"CIFAR stems" that do no early down-sampling (the OpenMixup convention). mmpretrain ships
``ResNet_CIFAR`` but no such variant of ConvNeXt or DenseNet, so these subclasses add one
argument and otherwise are mmpretrain's classes (same parameter names, same checkpoints):

- :class:`ConvNeXt` (``cifar_stem=True``): the 4x4 stride-4 patchify stem becomes a 3x3
  stride-1 conv (+ the same LayerNorm). Stages run at 32, 16, 8, 4 pixels.
  ConvNeXt: "A ConvNet for the 2020s", Zhuang Liu et al., CVPR 2022, arXiv:2201.03545,
  https://github.com/facebookresearch/ConvNeXt; ConvNeXt V2 (``use_grn=True``): arXiv:2301.00808,
  https://github.com/facebookresearch/ConvNeXt-V2.
- :class:`DenseNet` (``cifar_stem=True``): the 7x7 stride-2 conv + BN + ReLU + 3x3 stride-2
  max-pool stem becomes a single 3x3 stride-1 conv. Dense blocks run at 32, 16, 8, 4 pixels.
  "Densely Connected Convolutional Networks", Gao Huang et al., CVPR 2017, arXiv:1608.06993,
  https://github.com/liuzhuang13/DenseNet.

Both are registered in the ``bocb_mm`` scope under the same names as the mmpretrain classes;
with ``cifar_stem=False`` (the default) they build exactly mmpretrain's networks.
"""
from __future__ import annotations

import torch.nn as nn
from mmpretrain.models.backbones import ConvNeXt as _MMPretrainConvNeXt
from mmpretrain.models.backbones import DenseNet as _MMPretrainDenseNet

from bocb_mm.registry import MODELS


@MODELS.register_module()
class ConvNeXt(_MMPretrainConvNeXt):
    """mmpretrain ``ConvNeXt`` with an optional CIFAR stem (3x3 stride-1 conv + LayerNorm).

    Args:
        cifar_stem: Replace the patchify stem by a 3x3 stride-1 conv (no down-sampling).
        **kwargs: Arguments of :class:`mmpretrain.models.backbones.ConvNeXt` (``arch``,
            ``use_grn``, ``layer_scale_init_value``, ``out_indices``, ``gap_before_final_norm``,
            ``drop_path_rate``, ``frozen_stages``, ``init_cfg`` ...).
    """

    def __init__(self, cifar_stem: bool = False, in_channels: int = 3, **kwargs) -> None:
        super().__init__(in_channels=in_channels, **kwargs)
        self.cifar_stem = cifar_stem
        if cifar_stem:
            stem = self.downsample_layers[0]
            stem[0] = nn.Conv2d(in_channels, self.channels[0], kernel_size=3, stride=1,
                                padding=1)
            self._freeze_stages()


@MODELS.register_module()
class DenseNet(_MMPretrainDenseNet):
    """mmpretrain ``DenseNet`` with an optional CIFAR stem (one 3x3 stride-1 conv).

    Args:
        cifar_stem: Replace the ImageNet stem (7x7/2 conv, BN, ReLU, 3x3/2 max-pool) by a 3x3
            stride-1 conv without bias.
        **kwargs: Arguments of :class:`mmpretrain.models.backbones.DenseNet`.
    """

    def __init__(self, cifar_stem: bool = False, in_channels: int = 3, **kwargs) -> None:
        super().__init__(in_channels=in_channels, **kwargs)
        self.cifar_stem = cifar_stem
        if cifar_stem:
            self.stem = nn.Sequential(
                nn.Conv2d(in_channels, self.init_channels, kernel_size=3, stride=1, padding=1,
                          bias=False))
            self._freeze_stages()
