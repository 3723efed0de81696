"""MogaNet: multi-order gated aggregation ConvNet.

Paper: "MogaNet: Multi-order Gated Aggregation Network", Siyuan Li et al., ICLR 2024,
arXiv:2211.03295. Official code: https://github.com/Westlake-AI/MogaNet

Each stage is a conv patch embedding (a two-conv stem for stage 1, one stride-2 3x3 conv after)
followed by MogaBlocks and a per-stage norm. A MogaBlock is two pre-norm residual branches with
layer scale: the spatial branch *multi-order gated aggregation* (feature decomposition, a gate
branch and a context branch of three dilated depth-wise convs, SiLU gating) and the channel
branch *channel aggregation FFN* (1x1 conv, 3x3 depth-wise conv, GELU, channel decomposition,
1x1 conv). Parameter names follow the official implementation so that its checkpoints load.

``cifar_stem=True`` makes the stage-1 stem keep the input resolution (both stem convs use stride
1): a 32x32 CIFAR image gives stages at 32, 16, 8 and 4 pixels, the BOCB CIFAR setting.
"""
from __future__ import annotations

from typing import Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_activation_layer
from mmcv.cnn.bricks import DropPath
from mmpretrain.models.backbones.base_backbone import BaseBackbone
from mmpretrain.models.utils import build_norm_layer

from bocb_mm.registry import MODELS
from ._utils import conv_fan_out_init, freeze, parse_out_indices, set_bn_eval


class ElementScale(nn.Module):
    """Learnable per-channel scale of a ``(B, C, H, W)`` tensor.

    Args:
        embed_dims: Number of channels.
        init_value: Initial value of the scale.
    """

    def __init__(self, embed_dims: int, init_value: float = 0.) -> None:
        super().__init__()
        self.scale = nn.Parameter(init_value * torch.ones(1, embed_dims, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale


class MultiOrderDWConv(nn.Module):
    """Context branch: three depth-wise convs of growing dilation on channel groups.

    A 5x5 depth-wise conv (dilation ``dw_dilation[0]``) runs on all channels; of its output the
    second group of channels goes through a 5x5 conv with dilation ``dw_dilation[1]`` and the
    third group through a 7x7 conv with dilation ``dw_dilation[2]``; the three groups are
    concatenated and mixed by a 1x1 conv.

    Args:
        embed_dims: Number of channels.
        dw_dilation: Dilations of the three depth-wise convs.
        channel_split: Relative sizes of the three channel groups.
    """

    def __init__(self, embed_dims: int, dw_dilation: Sequence[int] = (1, 2, 3),
                 channel_split: Sequence[int] = (1, 3, 4)) -> None:
        super().__init__()
        if len(dw_dilation) != 3 or len(channel_split) != 3:
            raise ValueError('dw_dilation and channel_split need three entries each')
        if embed_dims % sum(channel_split) != 0:
            raise ValueError(f'embed_dims {embed_dims} must be divisible by '
                             f'sum(channel_split)={sum(channel_split)}')
        total = sum(channel_split)
        self.embed_dims = embed_dims
        self.embed_dims_1 = int(channel_split[1] / total * embed_dims)
        self.embed_dims_2 = int(channel_split[2] / total * embed_dims)
        self.embed_dims_0 = embed_dims - self.embed_dims_1 - self.embed_dims_2

        def dw(channels: int, kernel: int, dilation: int) -> nn.Conv2d:
            return nn.Conv2d(channels, channels, kernel, padding=dilation * (kernel - 1) // 2,
                             dilation=dilation, groups=channels)

        self.DW_conv0 = dw(embed_dims, 5, dw_dilation[0])
        self.DW_conv1 = dw(self.embed_dims_1, 5, dw_dilation[1])
        self.DW_conv2 = dw(self.embed_dims_2, 7, dw_dilation[2])
        self.PW_conv = nn.Conv2d(embed_dims, embed_dims, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x0 = self.DW_conv0(x)
        c0, c1 = self.embed_dims_0, self.embed_dims_1
        x1 = self.DW_conv1(x0[:, c0:c0 + c1])
        x2 = self.DW_conv2(x0[:, self.embed_dims - self.embed_dims_2:])
        return self.PW_conv(torch.cat([x0[:, :c0], x1, x2], dim=1))


class MultiOrderGatedAggregation(nn.Module):
    """Spatial aggregation: feature decomposition, then SiLU(gate) * SiLU(context), projection.

    Args:
        embed_dims: Number of channels.
        attn_dw_dilation: Dilations of the context branch.
        attn_channel_split: Channel split of the context branch.
        attn_act_cfg: Activation of the gate and the context branch.
        attn_force_fp32: Compute the gating product in float32 under autocast.
    """

    def __init__(self, embed_dims: int, attn_dw_dilation: Sequence[int] = (1, 2, 3),
                 attn_channel_split: Sequence[int] = (1, 3, 4),
                 attn_act_cfg: dict = dict(type='SiLU'), attn_force_fp32: bool = False) -> None:
        super().__init__()
        self.attn_force_fp32 = attn_force_fp32
        self.proj_1 = nn.Conv2d(embed_dims, embed_dims, 1)
        self.gate = nn.Conv2d(embed_dims, embed_dims, 1)
        self.value = MultiOrderDWConv(embed_dims, attn_dw_dilation, attn_channel_split)
        self.proj_2 = nn.Conv2d(embed_dims, embed_dims, 1)
        self.act_value = build_activation_layer(attn_act_cfg)
        self.act_gate = build_activation_layer(attn_act_cfg)
        self.sigma = ElementScale(embed_dims, init_value=1e-5)

    def feat_decompose(self, x: torch.Tensor) -> torch.Tensor:
        """Re-weight the part of the features that differs from their global average."""
        x = self.proj_1(x)
        x = x + self.sigma(x - F.adaptive_avg_pool2d(x, 1))
        return self.act_value(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x
        x = self.feat_decompose(x)
        g, v = self.gate(x), self.value(x)
        if self.attn_force_fp32:
            with torch.autocast(device_type=x.device.type, enabled=False):
                out = self.proj_2(self.act_gate(g.float()) * self.act_gate(v.float()))
        else:
            out = self.proj_2(self.act_gate(g) * self.act_gate(v))
        return out + shortcut


class ChannelAggregationFFN(nn.Module):
    """FFN with a 3x3 depth-wise conv and channel aggregation (decomposition to one channel).

    Args:
        embed_dims: Number of input/output channels.
        feedforward_channels: Hidden channels.
        kernel_size: Depth-wise conv kernel size.
        act_cfg: Activation config.
        ffn_drop: Dropout rate.
    """

    def __init__(self, embed_dims: int, feedforward_channels: int, kernel_size: int = 3,
                 act_cfg: dict = dict(type='GELU'), ffn_drop: float = 0.) -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(embed_dims, feedforward_channels, 1)
        self.dwconv = nn.Conv2d(feedforward_channels, feedforward_channels, kernel_size,
                                padding=kernel_size // 2, groups=feedforward_channels)
        self.act = build_activation_layer(act_cfg)
        self.fc2 = nn.Conv2d(feedforward_channels, embed_dims, 1)
        self.drop = nn.Dropout(ffn_drop)
        self.decompose = nn.Conv2d(feedforward_channels, 1, 1)
        self.sigma = ElementScale(feedforward_channels, init_value=1e-5)
        self.decompose_act = build_activation_layer(act_cfg)

    def feat_decompose(self, x: torch.Tensor) -> torch.Tensor:
        """Re-weight the features against their one-channel summary."""
        return x + self.sigma(x - self.decompose_act(self.decompose(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.drop(self.act(self.dwconv(self.fc1(x))))
        x = self.feat_decompose(x)
        return self.drop(self.fc2(x))


class MogaBlock(nn.Module):
    """One MogaNet block: pre-norm gated aggregation and CA-FFN, each with layer scale.

    Args:
        embed_dims: Number of channels.
        ffn_ratio: FFN expansion ratio.
        drop_rate: Dropout rate in the FFN.
        drop_path_rate: Stochastic depth rate.
        norm_cfg: Norm config of the two pre-norms.
        init_value: Initial value of the layer scales.
        attn_dw_dilation: Dilations of the context branch.
        attn_channel_split: Channel split of the context branch.
        attn_act_cfg: Gating activation.
        attn_force_fp32: Gating product in float32.
    """

    def __init__(self, embed_dims: int, ffn_ratio: float = 4., drop_rate: float = 0.,
                 drop_path_rate: float = 0., norm_cfg: dict = dict(type='BN'),
                 init_value: float = 1e-5, attn_dw_dilation: Sequence[int] = (1, 2, 3),
                 attn_channel_split: Sequence[int] = (1, 3, 4),
                 attn_act_cfg: dict = dict(type='SiLU'), attn_force_fp32: bool = False) -> None:
        super().__init__()
        self.out_channels = embed_dims
        self.norm1 = build_norm_layer(norm_cfg, embed_dims)
        self.attn = MultiOrderGatedAggregation(embed_dims, attn_dw_dilation, attn_channel_split,
                                               attn_act_cfg, attn_force_fp32)
        self.drop_path = DropPath(drop_path_rate) if drop_path_rate > 0. else nn.Identity()
        self.norm2 = build_norm_layer(norm_cfg, embed_dims)
        self.mlp = ChannelAggregationFFN(embed_dims, int(embed_dims * ffn_ratio),
                                         ffn_drop=drop_rate)
        self.layer_scale_1 = nn.Parameter(init_value * torch.ones(1, embed_dims, 1, 1))
        self.layer_scale_2 = nn.Parameter(init_value * torch.ones(1, embed_dims, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path(self.layer_scale_1 * self.attn(self.norm1(x)))
        x = x + self.drop_path(self.layer_scale_2 * self.mlp(self.norm2(x)))
        return x


class ConvPatchEmbed(nn.Module):
    """Down-sampling between stages: one conv (stride ``kernel_size // 2 + 1``) and a norm."""

    def __init__(self, in_channels: int, embed_dims: int, kernel_size: int = 3, stride: int = 2,
                 norm_cfg: dict = dict(type='BN')) -> None:
        super().__init__()
        self.projection = nn.Conv2d(in_channels, embed_dims, kernel_size, stride=stride,
                                    padding=kernel_size // 2)
        self.norm = build_norm_layer(norm_cfg, embed_dims)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.projection(x))


class StackConvPatchEmbed(nn.Module):
    """Stage-1 stem: conv-norm-GELU to half the width, then conv-norm to the full width.

    With ``stride=2`` per conv the stem down-samples by 4 (ImageNet); with ``stride=1`` it keeps
    the resolution (CIFAR).
    """

    def __init__(self, in_channels: int, embed_dims: int, kernel_size: int = 3, stride: int = 2,
                 act_cfg: dict = dict(type='GELU'), norm_cfg: dict = dict(type='BN')) -> None:
        super().__init__()
        pad = kernel_size // 2
        self.projection = nn.Sequential(
            nn.Conv2d(in_channels, embed_dims // 2, kernel_size, stride=stride, padding=pad),
            build_norm_layer(norm_cfg, embed_dims // 2),
            build_activation_layer(act_cfg),
            nn.Conv2d(embed_dims // 2, embed_dims, kernel_size, stride=stride, padding=pad),
            build_norm_layer(norm_cfg, embed_dims),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.projection(x)


@MODELS.register_module()
class MogaNet(BaseBackbone):
    """MogaNet backbone (ICLR 2024, arXiv:2211.03295).

    Args:
        arch: One of ``MogaNet.arch_zoo`` ('xtiny', 'tiny', 'small', 'base', 'large' and their
            one/two-letter aliases) or a dict with ``embed_dims``, ``depths``, ``ffn_ratios``.
        in_channels: Input image channels.
        cifar_stem: Keep the input resolution in the stage-1 stem (both stem convs with stride
            1) for 32x32 inputs; the ImageNet stem down-samples by 4.
        patch_sizes: Kernel size of the patch embedding of each stage (stride is
            ``size // 2 + 1``, i.e. 2 for 3x3).
        drop_rate: Dropout rate in the FFNs.
        drop_path_rate: Maximum stochastic depth rate (linearly increasing over blocks).
        init_value: Initial value of the layer scales.
        out_indices: Stages whose (normed) feature maps are returned.
        frozen_stages: Number of leading stages (patch embedding, blocks, norm) to freeze;
            0 freezes nothing.
        norm_eval: Keep batch-norm layers in eval mode during training (transfer).
        stem_norm_cfg: Norm applied at the end of each stage (its output feature).
        conv_norm_cfg: Norm of the patch embeddings and the block pre-norms.
        attn_dw_dilation: Dilations of the context branch.
        attn_channel_split: Channel split of the context branch.
        attn_act_cfg: Gating activation.
        attn_final_dilation: If False, the last stage uses dilations (1, 2, 1).
        attn_force_fp32: Gating product in float32 under autocast.
        init_cfg: mmengine init config; ``None`` uses MogaNet's own initialisation.
    """

    arch_zoo = {
        **dict.fromkeys(['xt', 'x-tiny', 'xtiny'],
                        dict(embed_dims=[32, 64, 96, 192], depths=[3, 3, 10, 2],
                             ffn_ratios=[8, 8, 4, 4])),
        **dict.fromkeys(['t', 'tiny'],
                        dict(embed_dims=[32, 64, 128, 256], depths=[3, 3, 12, 2],
                             ffn_ratios=[8, 8, 4, 4])),
        **dict.fromkeys(['s', 'small'],
                        dict(embed_dims=[64, 128, 320, 512], depths=[2, 3, 12, 2],
                             ffn_ratios=[8, 8, 4, 4])),
        **dict.fromkeys(['b', 'base'],
                        dict(embed_dims=[64, 160, 320, 512], depths=[4, 6, 22, 3],
                             ffn_ratios=[8, 8, 4, 4])),
        **dict.fromkeys(['l', 'large'],
                        dict(embed_dims=[64, 160, 320, 640], depths=[4, 6, 44, 4],
                             ffn_ratios=[8, 8, 4, 4])),
    }

    def __init__(self,
                 arch: Union[str, dict] = 'small',
                 in_channels: int = 3,
                 cifar_stem: bool = False,
                 patch_sizes: Sequence[int] = (3, 3, 3, 3),
                 drop_rate: float = 0.,
                 drop_path_rate: float = 0.,
                 init_value: float = 1e-5,
                 out_indices: Union[int, Sequence[int]] = (3, ),
                 frozen_stages: int = 0,
                 norm_eval: bool = False,
                 stem_norm_cfg: dict = dict(type='BN'),
                 conv_norm_cfg: dict = dict(type='BN'),
                 attn_dw_dilation: Sequence[int] = (1, 2, 3),
                 attn_channel_split: Sequence[int] = (1, 3, 4),
                 attn_act_cfg: dict = dict(type='SiLU'),
                 attn_final_dilation: bool = True,
                 attn_force_fp32: bool = False,
                 init_cfg: Optional[Union[dict, list]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if isinstance(arch, str):
            if arch.lower() not in self.arch_zoo:
                raise ValueError(f'Unknown MogaNet arch {arch!r}; choose from {set(self.arch_zoo)}')
            arch = self.arch_zoo[arch.lower()]
        elif not {'embed_dims', 'depths', 'ffn_ratios'} <= set(arch):
            raise ValueError('A custom arch needs embed_dims, depths and ffn_ratios')
        self.embed_dims = list(arch['embed_dims'])
        self.depths = list(arch['depths'])
        self.ffn_ratios = list(arch['ffn_ratios'])
        self.num_stages = len(self.depths)
        self.cifar_stem = cifar_stem
        self.out_indices = parse_out_indices(out_indices, self.num_stages)
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval

        dpr = torch.linspace(0, drop_path_rate, sum(self.depths)).tolist()
        cur = 0
        for i, depth in enumerate(self.depths):
            if i == 0:
                patch_embed = StackConvPatchEmbed(
                    in_channels, self.embed_dims[0], kernel_size=patch_sizes[0],
                    stride=1 if cifar_stem else patch_sizes[0] // 2 + 1, norm_cfg=conv_norm_cfg)
            else:
                patch_embed = ConvPatchEmbed(
                    self.embed_dims[i - 1], self.embed_dims[i], kernel_size=patch_sizes[i],
                    stride=patch_sizes[i] // 2 + 1, norm_cfg=conv_norm_cfg)
            dilation = attn_dw_dilation
            if i == self.num_stages - 1 and not attn_final_dilation:
                dilation = (1, 2, 1)
            blocks = nn.ModuleList([
                MogaBlock(self.embed_dims[i], ffn_ratio=self.ffn_ratios[i], drop_rate=drop_rate,
                          drop_path_rate=dpr[cur + j], norm_cfg=conv_norm_cfg,
                          init_value=init_value, attn_dw_dilation=dilation,
                          attn_channel_split=attn_channel_split, attn_act_cfg=attn_act_cfg,
                          attn_force_fp32=attn_force_fp32) for j in range(depth)
            ])
            cur += depth
            self.add_module(f'patch_embed{i + 1}', patch_embed)
            self.add_module(f'blocks{i + 1}', blocks)
            self.add_module(f'norm{i + 1}', build_norm_layer(stem_norm_cfg, self.embed_dims[i]))
        self._freeze_stages()

    def init_weights(self) -> None:
        """MogaNet's initialisation unless ``init_cfg`` asks for something else (Pretrained)."""
        if self.init_cfg is None and not self.is_init:
            self.apply(conv_fan_out_init)
        super().init_weights()

    def _freeze_stages(self) -> None:
        for i in range(self.frozen_stages):
            freeze([getattr(self, f'{name}{i + 1}') for name in ('patch_embed', 'blocks', 'norm')])

    def train(self, mode: bool = True) -> 'MogaNet':
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            set_bn_eval(self)
        return self

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        outs = []
        for i in range(self.num_stages):
            x = getattr(self, f'patch_embed{i + 1}')(x)
            for block in getattr(self, f'blocks{i + 1}'):
                x = block(x)
            x = getattr(self, f'norm{i + 1}')(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)
