"""The 20 vision backbones of the BOCB benchmark: the single source of truth for their names.

Everything that needs a backbone by its paper name (configs, sweeps, analysis, docs, tests)
goes through this table:

- :func:`list_backbones` - the 20 paper short names in the paper's order;
- :func:`get_backbone_info` - a frozen :class:`BackboneInfo` (names, aliases, recipe, input
  size, the design traits of the paper's backbone table, code address, backbone configs at
  224 px and, where the paper uses it, at 32 px, feature channels for dense heads);
- :func:`classifier_cfg` - an mmpretrain ``ImageClassifier`` config for CIFAR/ImageNet.

Input sizes and recipes follow the BOCB paper ("Unveiling the Backbone-Optimizer Coupling
Bias in Visual Representation Learning", arXiv:2410.06373, "Implementation Details (Vision
Backbones)"): ResNet, DenseNet, ConvNeXt, ConvNeXtV2 and MogaNet are trained on CIFAR at 32 px
with a CIFAR stem (no early down-sampling), every other backbone at 224 px.

Backbones come from mmpretrain where it has them (type ``mmpretrain.X``) and from
:mod:`bocb_mm.models.backbones` otherwise (type ``bocb_mm.X``).
"""
from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any

__all__ = ['BackboneInfo', 'list_backbones', 'get_backbone_info', 'classifier_cfg',
           'PAPER_ARXIV']

PAPER_ARXIV = '2410.06373'

#: recipe names used in the paper's backbone table
RECIPES = ('PyTorch', 'DeiT', 'ConvNeXt', 'RSB A2')


@dataclass(frozen=True, eq=False)
class BackboneInfo:
    """Everything bocb_mm knows about one BOCB backbone.

    The dict fields are private templates; use :meth:`backbone_cfg` and
    :meth:`multiscale_cfg`, which return fresh copies.

    Attributes:
        short_name: Paper short name (results-table column), e.g. ``'R-50'``.
        full_name: Full model name, e.g. ``'ResNet-50'``.
        venue: Venue and year as in the paper's table, e.g. ``"CVPR'2016"``.
        recipe: The paper's training setting: ``'PyTorch'``, ``'DeiT'``, ``'ConvNeXt'`` or
            ``'RSB A2'``.
        input_size: BOCB input size on CIFAR-100 (32 or 224).
        stage_design: Stage-wise design (paper table), e.g. ``'Hierarchical'``.
        block_design: Block-wise design, e.g. ``'Bottleneck'``.
        operator: Feature extractor / token mixer, e.g. ``'Conv'``.
        residual: Residual branch, e.g. ``'Addition'``.
        paper: Title and arXiv id of the backbone's paper.
        code_url: Official code address.
        source: Where the implementation lives, ``'mmpretrain.ResNet'`` or ``'bocb_mm.MogaNet'``.
        slug: Name used in config file names, e.g. ``'resnet50'``.
        aliases: Other accepted names (lookup is case-insensitive and ignores ``-_./ ()``).
        channels: Channels of the multi-scale features (:meth:`multiscale_cfg`), for FPN
            ``in_channels`` or pose heads.
        head_type: ``'LinearClsHead'``, ``'VisionTransformerClsHead'`` or ``'ClsHead'`` (the
            classifier is inside the backbone: AlexNet, VGG).
        head_in_channels: Input width of the linear head (0 for ``ClsHead``).
        gap_neck: Whether a ``GlobalAveragePooling`` neck sits between backbone and head.
        official_params_m: Official parameter count in millions at 1000 classes (``None`` where
            the paper's variant has no official model: the S12 ConvFormer/AttentionFormer/
            CAFormer).
        deploy_overrides: Backbone arguments of the inference (re-parameterised) form in which
            the official parameter count is given (RepVGG, UniRepLKNet); empty otherwise.
        notes: Implementation notes (deviations, choices).
    """

    short_name: str
    full_name: str
    venue: str
    recipe: str
    input_size: int
    stage_design: str
    block_design: str
    operator: str
    residual: str
    paper: str
    code_url: str
    source: str
    slug: str
    aliases: tuple[str, ...]
    channels: tuple[int, ...]
    head_type: str
    head_in_channels: int
    gap_neck: bool
    official_params_m: float | None
    _backbone_224: dict = field(repr=False)
    _backbone_32: dict | None = field(default=None, repr=False)
    _multiscale: dict = field(default_factory=dict, repr=False)
    deploy_overrides: dict = field(default_factory=dict, repr=False)
    notes: str = ''

    @property
    def has_cifar_variant(self) -> bool:
        """Whether a 32 px (CIFAR stem) variant exists."""
        return self._backbone_32 is not None

    @property
    def cifar_stem(self) -> str:
        """Short description of the CIFAR stem, or ``'-'``."""
        return _CIFAR_STEMS.get(self.short_name, '-')

    def backbone_cfg(self, cifar: bool | None = None) -> dict:
        """A fresh copy of the backbone config.

        Args:
            cifar: ``True`` for the 32 px CIFAR-stem variant, ``False`` for the 224 px one,
                ``None`` for the paper's choice (``input_size == 32``).

        Raises:
            ValueError: If ``cifar=True`` and the backbone has no CIFAR variant.
        """
        if cifar is None:
            cifar = self.input_size == 32
        if cifar:
            if self._backbone_32 is None:
                raise ValueError(f'{self.short_name} has no 32 px (CIFAR stem) variant; '
                                 'it is trained at 224 px in the paper')
            return copy.deepcopy(self._backbone_32)
        return copy.deepcopy(self._backbone_224)

    def multiscale_cfg(self, cifar: bool = False) -> dict:
        """Backbone config returning the multi-scale features whose widths are ``channels``.

        For detection (RetinaNet + FPN) and pose (TopDown) transfer; use it with
        ``init_cfg=dict(type='Pretrained', checkpoint=..., prefix='backbone.')``.
        """
        cfg = self.backbone_cfg(cifar)
        cfg.update(copy.deepcopy(self._multiscale))
        return cfg

    def input_shape(self, cifar: bool | None = None) -> tuple[int, int, int]:
        """``(3, H, W)`` of the input for the given variant."""
        if cifar is None:
            cifar = self.input_size == 32
        size = 32 if cifar else 224
        return (3, size, size)


_CIFAR_STEMS = {
    'R-50': 'mmpretrain ResNet_CIFAR: 3x3 stride-1 conv + BN + ReLU, no max-pool',
    'DN-121': '3x3 stride-1 conv only (no 7x7/2 conv, no max-pool)',
    'CNX-T': '3x3 stride-1 conv + LayerNorm instead of the 4x4/4 patchify conv',
    'CNXV2-T': '3x3 stride-1 conv + LayerNorm instead of the 4x4/4 patchify conv',
    'Moga-S': 'two-conv stem with stride 1 (instead of 2) in both 3x3 convs',
}

_TORCHVISION = 'https://github.com/pytorch/vision'

_META = 'MetaFormer Baselines for Vision, arXiv:2210.13452'
_META_URL = 'https://github.com/sail-sg/metaformer'
_META_NOTE = ('S12 = depths [2, 2, 6, 2], widths [64, 128, 320, 512]; linear head after GAP + '
              'LayerNorm (OpenMixup/BOCB style; the official S18+ ConvFormer/CAFormer use an '
              'MLP head).')


def _metaformer(short: str, full: str, arch: str, operator: str, slug: str,
                aliases: tuple[str, ...], official: float | None) -> BackboneInfo:
    return BackboneInfo(
        short_name=short, full_name=full, venue="TPAMI'2024", recipe='RSB A2',
        input_size=224, stage_design='Patchfy & Hierarchical', block_design='Metaformer',
        operator=operator, residual='PreNorm & ResScale', paper=_META, code_url=_META_URL,
        source='bocb_mm.MetaFormer', slug=slug, aliases=aliases,
        channels=(64, 128, 320, 512), head_type='LinearClsHead', head_in_channels=512,
        gap_neck=False, official_params_m=official,
        _backbone_224=dict(type='bocb_mm.MetaFormer', arch=arch),
        _multiscale=dict(out_indices=(0, 1, 2, 3), gap_before_final_norm=False),
        notes=_META_NOTE)


_ZOO: tuple[BackboneInfo, ...] = (
    BackboneInfo(
        short_name='AlexNet', full_name='AlexNet', venue="NIPS'2012", recipe='PyTorch',
        input_size=224, stage_design='-', block_design='Plain', operator='Conv', residual='-',
        paper='ImageNet Classification with Deep Convolutional Neural Networks (NIPS 2012)',
        code_url=_TORCHVISION, source='mmpretrain.AlexNet', slug='alexnet', aliases=('AlexNet',),
        channels=(256, ), head_type='ClsHead', head_in_channels=0, gap_neck=False,
        official_params_m=61.1, _backbone_224=dict(type='mmpretrain.AlexNet', num_classes=-1),
        notes='Classifier (3 FC layers) inside the backbone; features are 256x6x6 at 224 px.'),
    BackboneInfo(
        short_name='VGG-13', full_name='VGG-13 (BN)', venue="ICLR'2015", recipe='PyTorch',
        input_size=224, stage_design='-', block_design='Plain', operator='Conv', residual='-',
        paper='Very Deep Convolutional Networks for Large-Scale Image Recognition, arXiv:1409.1556',
        code_url=_TORCHVISION, source='mmpretrain.VGG', slug='vgg13',
        aliases=('VGG-13', 'VGG13', 'VGG-13-BN', 'VGG13bn', 'VGG'), channels=(128, 256, 512, 512),
        head_type='ClsHead', head_in_channels=0, gap_neck=False, official_params_m=133.1,
        _backbone_224=dict(type='mmpretrain.VGG', depth=13, norm_cfg=dict(type='BN'),
                           num_classes=-1),
        _multiscale=dict(out_indices=(1, 2, 3, 4)),
        notes='With BatchNorm (vgg13_bn): the paper uses SGD at lr 0.3 for it on CIFAR-100. '
              'Plain VGG-13: norm_cfg=None. Classifier (3 FC layers) inside the backbone.'),
    BackboneInfo(
        short_name='R-50', full_name='ResNet-50', venue="CVPR'2016", recipe='PyTorch',
        input_size=32, stage_design='Hierarchical', block_design='Bottleneck', operator='Conv',
        residual='Addition',
        paper='Deep Residual Learning for Image Recognition, arXiv:1512.03385',
        code_url='https://github.com/KaimingHe/deep-residual-networks', source='mmpretrain.ResNet',
        slug='resnet50', aliases=('ResNet-50', 'ResNet50', 'ResNet', 'R50'),
        channels=(256, 512, 1024, 2048), head_type='LinearClsHead', head_in_channels=2048,
        gap_neck=True, official_params_m=25.6,
        _backbone_224=dict(type='mmpretrain.ResNet', depth=50, num_stages=4, out_indices=(3, ),
                           style='pytorch'),
        _backbone_32=dict(type='mmpretrain.ResNet_CIFAR', depth=50, num_stages=4, out_indices=(3, ),
                          style='pytorch'),
        _multiscale=dict(out_indices=(0, 1, 2, 3))),
    BackboneInfo(
        short_name='DN-121', full_name='DenseNet-121', venue="CVPR'2017", recipe='PyTorch',
        input_size=32, stage_design='Hierarchical', block_design='Bottleneck', operator='Conv',
        residual='Concatenation',
        paper='Densely Connected Convolutional Networks, arXiv:1608.06993',
        code_url='https://github.com/liuzhuang13/DenseNet',
        source='bocb_mm.DenseNet (mmpretrain.DenseNet)', slug='densenet121',
        aliases=('DenseNet-121', 'DenseNet121', 'DenseNet', 'DN121'),
        channels=(128, 256, 512, 1024), head_type='LinearClsHead', head_in_channels=1024,
        gap_neck=True, official_params_m=8.0,
        _backbone_224=dict(type='bocb_mm.DenseNet', arch='121'),
        _backbone_32=dict(type='bocb_mm.DenseNet', arch='121', cifar_stem=True),
        _multiscale=dict(out_indices=(0, 1, 2, 3)),
        notes='mmpretrain DenseNet plus a cifar_stem switch; stage outputs include the '
              'transition (so they are down-sampled).'),
    BackboneInfo(
        short_name='MobV2', full_name='MobileNetV2', venue="CVPR'2018", recipe='PyTorch',
        input_size=224, stage_design='Hierarchical', block_design='Inv-bottleneck',
        operator='SepConv', residual='Addition',
        paper='MobileNetV2: Inverted Residuals and Linear Bottlenecks, arXiv:1801.04381',
        code_url='https://github.com/tensorflow/models/tree/master/research/slim/nets/mobilenet',
        source='mmpretrain.MobileNetV2', slug='mobilenet-v2',
        aliases=('MobileNetV2', 'MobileNet.V2', 'MobileNet-V2', 'MBV2'),
        channels=(24, 32, 96, 1280), head_type='LinearClsHead', head_in_channels=1280,
        gap_neck=True, official_params_m=3.5,
        _backbone_224=dict(type='mmpretrain.MobileNetV2', widen_factor=1.0),
        _multiscale=dict(out_indices=(1, 2, 4, 7))),
    BackboneInfo(
        short_name='Eff-B0', full_name='EfficientNet-B0', venue="ICML'2019", recipe='RSB A2',
        input_size=224, stage_design='Hierarchical', block_design='Inv-bottleneck',
        operator='Conv & SE', residual='Addition',
        paper='EfficientNet: Rethinking Model Scaling for Convolutional Neural Networks, '
              'arXiv:1905.11946',
        code_url='https://github.com/tensorflow/tpu/tree/master/models/official/efficientnet',
        source='mmpretrain.EfficientNet', slug='efficientnet-b0',
        aliases=('EfficientNet-B0', 'EfficientNet', 'EffB0'), channels=(24, 40, 112, 1280),
        head_type='LinearClsHead', head_in_channels=1280, gap_neck=True, official_params_m=5.3,
        _backbone_224=dict(type='mmpretrain.EfficientNet', arch='b0'),
        _multiscale=dict(out_indices=(2, 3, 4, 6))),
    BackboneInfo(
        short_name='RVGG-A1', full_name='RepVGG-A1', venue="CVPR'2021", recipe='PyTorch',
        input_size=224, stage_design='Hierarchical', block_design='Inv-bottleneck',
        operator='Conv', residual='Addition',
        paper='RepVGG: Making VGG-style ConvNets Great Again, arXiv:2101.03697',
        code_url='https://github.com/DingXiaoH/RepVGG', source='mmpretrain.RepVGG',
        slug='repvgg-a1', aliases=('RepVGG-A1', 'RepVGG', 'RVGGA1'), channels=(64, 128, 256, 1280),
        head_type='LinearClsHead', head_in_channels=1280, gap_neck=True, official_params_m=12.8,
        _backbone_224=dict(type='mmpretrain.RepVGG', arch='A1'),
        _multiscale=dict(out_indices=(0, 1, 2, 3)), deploy_overrides=dict(deploy=True),
        notes='Trained in the multi-branch form; 12.8M is the re-parameterised (deploy) form '
              '(switch_to_deploy()).'),
    BackboneInfo(
        short_name='DeiT-S', full_name='DeiT-S', venue="ICML'2021", recipe='DeiT', input_size=224,
        stage_design='Patchfy & Isotropic', block_design='Metaformer', operator='Attention',
        residual='PreNorm',
        paper='Training data-efficient image transformers & distillation through attention, '
              'arXiv:2012.12877',
        code_url='https://github.com/facebookresearch/deit', source='mmpretrain.VisionTransformer',
        slug='deit-small', aliases=('DeiT-Small', 'DeiT', 'ViT-S', 'DeiT-S (ViT)', 'ViT'),
        channels=(384, 384, 384, 384), head_type='VisionTransformerClsHead', head_in_channels=384,
        gap_neck=False, official_params_m=22.1,
        _backbone_224=dict(type='mmpretrain.VisionTransformer', arch='deit-small', img_size=224,
                           patch_size=16),
        _multiscale=dict(out_indices=(2, 5, 8, 11), out_type='featmap'),
        notes='Class-token head; multi-scale = feature maps of blocks 3, 6, 9, 12 (stride 16).'),
    BackboneInfo(
        short_name='MLP-S', full_name='MLP-Mixer-S/16', venue="NIPS'2021", recipe='DeiT',
        input_size=224, stage_design='Patchfy & Isotropic', block_design='Metaformer',
        operator='MLP', residual='PreNorm',
        paper='MLP-Mixer: An all-MLP Architecture for Vision, '
              'arXiv:2105.01601',
        code_url='https://github.com/google-research/vision_transformer',
        source='mmpretrain.MlpMixer', slug='mlp-mixer-small',
        aliases=('MLP-Mixer-S', 'MLP-Mixer-S/16', 'Mixer-S/16', 'Mixer-S', 'MLP-Mixer'),
        channels=(512, 512, 512, 512), head_type='LinearClsHead', head_in_channels=512,
        gap_neck=True, official_params_m=18.5,
        _backbone_224=dict(type='mmpretrain.MlpMixer', arch='s', img_size=224, patch_size=16,
                           norm_cfg=dict(type='LN', eps=1e-6)),
        _multiscale=dict(out_indices=[-7, -5, -3, -1]),
        notes='LayerNorm eps 1e-6 as in the official and timm Mixers (mmpretrain\'s default is '
              '1e-5). Outputs are token sequences (B, C, N); the GAP neck pools over tokens. '
              'Multi-scale indices are negative (mmpretrain MlpMixer rejects positive ones).'),
    BackboneInfo(
        short_name='Swin-T', full_name='Swin-T', venue="ICCV'2021", recipe='ConvNeXt',
        input_size=224, stage_design='Patchfy & Hierarchical', block_design='Metaformer',
        operator='Local Attention', residual='PreNorm',
        paper='Swin Transformer: Hierarchical Vision Transformer using Shifted Windows, '
              'arXiv:2103.14030',
        code_url='https://github.com/microsoft/Swin-Transformer',
        source='mmpretrain.SwinTransformer', slug='swin-tiny',
        aliases=('Swin-Tiny', 'Swin', 'Swin Transformer', 'SwinT'), channels=(96, 192, 384, 768),
        head_type='LinearClsHead', head_in_channels=768, gap_neck=True, official_params_m=28.3,
        _backbone_224=dict(type='mmpretrain.SwinTransformer', arch='tiny', img_size=224),
        _multiscale=dict(out_indices=(0, 1, 2, 3))),
    BackboneInfo(
        short_name='CNX-T', full_name='ConvNeXt-T', venue="CVPR'2022", recipe='ConvNeXt',
        input_size=32, stage_design='Patchfy & Hierarchical', block_design='MetaNeXt',
        operator='DWConv', residual='PreNorm & LayerScale',
        paper='A ConvNet for the 2020s, arXiv:2201.03545',
        code_url='https://github.com/facebookresearch/ConvNeXt',
        source='bocb_mm.ConvNeXt (mmpretrain.ConvNeXt)', slug='convnext-tiny',
        aliases=('CX-T', 'ConvNeXt-T', 'ConvNeXt-Tiny', 'ConvNeXt', 'CNXT'),
        channels=(96, 192, 384, 768), head_type='LinearClsHead', head_in_channels=768,
        gap_neck=False, official_params_m=28.6,
        _backbone_224=dict(type='bocb_mm.ConvNeXt', arch='tiny'),
        _backbone_32=dict(type='bocb_mm.ConvNeXt', arch='tiny', cifar_stem=True),
        _multiscale=dict(out_indices=(0, 1, 2, 3), gap_before_final_norm=False)),
    BackboneInfo(
        short_name='CNXV2-T', full_name='ConvNeXtV2-T', venue="CVPR'2023", recipe='ConvNeXt',
        input_size=32, stage_design='Patchfy & Hierarchical', block_design='MetaNeXt',
        operator='DWConv', residual='PreNorm & LayerScale',
        paper='ConvNeXt V2: Co-designing and Scaling ConvNets with Masked Autoencoders, '
              'arXiv:2301.00808',
        code_url='https://github.com/facebookresearch/ConvNeXt-V2',
        source='bocb_mm.ConvNeXt (mmpretrain.ConvNeXt, use_grn=True)', slug='convnext-v2-tiny',
        aliases=('CXV2-T', 'CX-V2-T', 'ConvNeXtV2-T', 'ConvNeXt-V2-T', 'ConvNeXt.V2', 'ConvNeXtV2'),
        channels=(96, 192, 384, 768), head_type='LinearClsHead', head_in_channels=768,
        gap_neck=False, official_params_m=28.6,
        _backbone_224=dict(type='bocb_mm.ConvNeXt', arch='tiny', use_grn=True,
                           layer_scale_init_value=0.),
        _backbone_32=dict(type='bocb_mm.ConvNeXt', arch='tiny', use_grn=True,
                          layer_scale_init_value=0., cifar_stem=True),
        _multiscale=dict(out_indices=(0, 1, 2, 3), gap_before_final_norm=False),
        notes='ConvNeXt with GRN in the MLP and no layer scale.'),
    BackboneInfo(
        short_name='Moga-S', full_name='MogaNet-S', venue="ICLR'2024", recipe='ConvNeXt',
        input_size=32, stage_design='Patchfy & Hierarchical', block_design='Metaformer',
        operator='DWConv & Gating', residual='PreNorm & LayerScale',
        paper='MogaNet: Multi-order Gated Aggregation Network, arXiv:2211.03295',
        code_url='https://github.com/Westlake-AI/MogaNet', source='bocb_mm.MogaNet',
        slug='moganet-small', aliases=('MogaNet-S', 'MogaNet-Small', 'MogaNet', 'MogaS'),
        channels=(64, 128, 320, 512), head_type='LinearClsHead', head_in_channels=512,
        gap_neck=True, official_params_m=25.3,
        _backbone_224=dict(type='bocb_mm.MogaNet', arch='small'),
        _backbone_32=dict(type='bocb_mm.MogaNet', arch='small', cifar_stem=True),
        _multiscale=dict(out_indices=(0, 1, 2, 3))),
    BackboneInfo(
        short_name='URLK-T', full_name='UniRepLKNet-T', venue="CVPR'2024", recipe='ConvNeXt',
        input_size=224, stage_design='Patchfy & Hierarchical', block_design='Metaformer',
        operator='DWConv & SE', residual='PreNorm & LayerScale',
        paper='UniRepLKNet: A Universal Perception Large-Kernel ConvNet for Audio, Video, Point '
              'Cloud, Time-Series and Image Recognition, arXiv:2311.15599',
        code_url='https://github.com/AILab-CVC/UniRepLKNet', source='bocb_mm.UniRepLKNet',
        slug='unireplknet-tiny',
        aliases=('UniRepLKNet-T', 'UniRepLKNet-Tiny', 'UniRepLKNet', 'URLKT'),
        channels=(80, 160, 320, 640), head_type='LinearClsHead', head_in_channels=640,
        gap_neck=False, official_params_m=31.0,
        _backbone_224=dict(type='bocb_mm.UniRepLKNet', arch='tiny'),
        _multiscale=dict(out_indices=(0, 1, 2, 3), gap_before_final_norm=False),
        deploy_overrides=dict(deploy=True),
        notes='31.0M is the re-parameterised (deploy) form; the training form has 31.7M '
              '(parallel dilated branches and BNs).'),
    BackboneInfo(
        short_name='TNX-T', full_name='TransNeXt-T', venue="CVPR'2024", recipe='DeiT',
        input_size=224, stage_design='Patchfy & Hierarchical', block_design='Metaformer',
        operator='Attention & Gating', residual='PreNorm & LayerScale',
        paper='TransNeXt: Robust Foveal Visual Perception for Vision Transformers, '
              'arXiv:2311.17132',
        code_url='https://github.com/DaiShiResearch/TransNeXt', source='bocb_mm.TransNeXt',
        slug='transnext-tiny', aliases=('TransNeXt-T', 'TransNeXt-Tiny', 'TransNeXt', 'TNXT'),
        channels=(72, 144, 288, 576), head_type='LinearClsHead', head_in_channels=576,
        gap_neck=True, official_params_m=28.2,
        _backbone_224=dict(type='bocb_mm.TransNeXt', arch='tiny'),
        _multiscale=dict(out_indices=(0, 1, 2, 3)),
        notes='Aggregated attention in plain PyTorch (F.unfold sliding window), any input size.'),
    _metaformer('IF-12', 'IdentityFormer-S12', 'identityformer_s12', 'Identity',
                'identityformer-s12', ('IF-S12', 'IdentityFormer-S12', 'IdentityFormer'), 11.9),
    _metaformer('PFV2-12', 'PoolFormerV2-S12', 'poolformerv2_s12', 'Pooling',
                'poolformerv2-s12',
                ('PF-S12', 'PFV2-S12', 'PF-12', 'PoolFormerV2-S12', 'PoolFormerV2'), 11.9),
    _metaformer('CF-12', 'ConvFormer-S12', 'convformer_s12', 'SepConv', 'convformer-s12',
                ('CF-S12', 'ConvFormer-S12', 'ConvFormer'), None),
    _metaformer('AF-12', 'AttentionFormer-S12', 'attentionformer_s12', 'Attention',
                'attentionformer-s12',
                ('AF-S12', 'AttentionFormer-S12', 'AttentionFormer'), None),
    _metaformer('CAF-12', 'CAFormer-S12', 'caformer_s12', 'SepConv & Attention',
                'caformer-s12', ('CAF-S12', 'CAFormer-S12', 'CAFormer'), None),
)


def _key(name: str) -> str:
    return re.sub(r'[\s\-_./()]', '', name).lower()


def _build_index() -> dict[str, BackboneInfo]:
    index: dict[str, BackboneInfo] = {}
    for info in _ZOO:
        for name in (info.short_name, info.full_name, info.slug) + info.aliases:
            key = _key(name)
            owner = index.setdefault(key, info)
            if owner is not info:
                raise RuntimeError(f'Backbone name {name!r} is ambiguous: '
                                   f'{owner.short_name} and {info.short_name}')
    return index


_INDEX = _build_index()


def list_backbones() -> list[str]:
    """The 20 BOCB backbone short names, in the paper's order."""
    return [info.short_name for info in _ZOO]


def get_backbone_info(name: str) -> BackboneInfo:
    """Look a backbone up by short name, full name, config slug or alias (case-insensitive).

    Raises:
        ValueError: For an unknown name; the message lists the valid short names.
    """
    info = _INDEX.get(_key(name))
    if info is None:
        raise ValueError(f'Unknown backbone {name!r}; valid names: '
                         f'{", ".join(list_backbones())} (or their full names/aliases)')
    return info


def classifier_cfg(name: str, num_classes: int = 100, cifar: bool | None = None,
                   **backbone_overrides: Any) -> dict:
    """An mmpretrain ``ImageClassifier`` config for a BOCB backbone.

    Buildable with ``mmpretrain.registry.MODELS.build`` once ``bocb_mm`` is imported (types
    carry their scope, so any default scope works).

    Args:
        name: Backbone name (see :func:`get_backbone_info`).
        num_classes: Number of classes of the head.
        cifar: ``None`` for the paper's input size (32 px CIFAR stem for R-50, DN-121, CNX-T,
            CNXV2-T, Moga-S; 224 px for the others); ``True``/``False`` forces 32/224 px.
        **backbone_overrides: Extra backbone arguments (e.g. ``drop_path_rate=0.1``).

    Returns:
        ``dict(type='mmpretrain.ImageClassifier', backbone=..., [neck=...,] head=...)``.
    """
    info = get_backbone_info(name)
    backbone = info.backbone_cfg(cifar)
    backbone.update(backbone_overrides)
    loss = dict(type='mmpretrain.CrossEntropyLoss', loss_weight=1.0)
    if info.head_type == 'ClsHead':
        backbone['num_classes'] = num_classes  # AlexNet / VGG carry their classifier
        head = dict(type='mmpretrain.ClsHead', loss=loss)
    else:
        head = dict(type=f'mmpretrain.{info.head_type}', num_classes=num_classes,
                    in_channels=info.head_in_channels, loss=loss)
    cfg = dict(type='mmpretrain.ImageClassifier', backbone=backbone)
    if info.gap_neck:
        cfg['neck'] = dict(type='mmpretrain.GlobalAveragePooling',
                           **(dict(dim=1) if info.short_name == 'MLP-S' else {}))
    cfg['head'] = head
    return cfg
