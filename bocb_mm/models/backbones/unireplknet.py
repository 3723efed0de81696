"""UniRepLKNet: a large-kernel ConvNet with dilated re-parameterisation.

Paper: "UniRepLKNet: A Universal Perception Large-Kernel ConvNet for Audio, Video, Point Cloud,
Time-Series and Image Recognition", Xiaohan Ding et al., CVPR 2024, arXiv:2311.15599.
Official code: https://github.com/AILab-CVC/UniRepLKNet

Macro design as in ConvNeXt (4 stages, down-sampling by a stride-2 3x3 conv + LayerNorm, a
two-conv stem) with a different block: depth-wise conv (a 13x13 *dilated reparam block* - the
large kernel plus parallel dilated small kernels, each with BN - or a plain 3x3 DW conv) -> BN
-> SE -> Linear -> GELU -> GRN -> Linear -> BN -> layer scale, all on a residual branch.
``switch_to_deploy()`` merges the parallel branches and the BNs into single convs/linears
and folds the GRN bias into the last linear (the inference structure of the paper; ``deploy=True``
builds it directly, with the official parameter count). Parameter names differ from the official
checkpoints' in the FFN (``pwconv1``, ``grn``, ``pwconv2``, ``norm2``) and the classifier; the
converter ``tools/model_converters/unireplknet_to_bocb.py`` maps them.

Written from the paper's description; no custom CUDA (the iGEMM large-kernel conv of the
official repository is an optional speed-up, not used here).
"""
from __future__ import annotations

from typing import Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.utils.checkpoint as cp
from mmcv.cnn.bricks import DropPath
from mmpretrain.models.backbones.base_backbone import BaseBackbone
from mmpretrain.models.utils import LayerNorm2d

from bocb_mm.registry import MODELS
from ._utils import freeze, parse_out_indices, set_bn_eval, trunc_normal_init

# (kernel sizes, dilations) of the parallel dilated branches for each large kernel size
_DILATED_BRANCHES = {
    17: ((5, 9, 3, 3, 3), (1, 2, 4, 5, 7)),
    15: ((5, 7, 3, 3, 3), (1, 2, 3, 5, 7)),
    13: ((5, 7, 3, 3, 3), (1, 2, 3, 4, 5)),
    11: ((5, 5, 3, 3, 3), (1, 2, 3, 4, 5)),
    9: ((5, 5, 3, 3), (1, 2, 3, 4)),
    7: ((5, 3, 3), (1, 2, 3)),
    5: ((3, 3), (1, 2)),
}


def _fuse_conv_bn(weight: torch.Tensor, bias: Optional[torch.Tensor],
                  bn: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    """Fold an eval-mode BN that follows a conv into the conv's weight and bias."""
    std = (bn.running_var + bn.eps).sqrt()
    scale = bn.weight / std
    bias = torch.zeros_like(bn.running_mean) if bias is None else bias
    return weight * scale.reshape(-1, 1, 1, 1), bn.bias + (bias - bn.running_mean) * scale


def _dilated_to_dense(kernel: torch.Tensor, dilation: int, size: int) -> torch.Tensor:
    """Write a dilated depth-wise kernel ``(C, 1, k, k)`` as a dense ``size x size`` kernel."""
    k = kernel.size(-1)
    span = dilation * (k - 1) + 1
    dense = kernel.new_zeros(kernel.size(0), kernel.size(1), span, span)
    dense[:, :, ::dilation, ::dilation] = kernel
    pad = (size - span) // 2
    return F.pad(dense, [pad] * 4)


class DilatedReparamBlock(nn.Module):
    """Large depth-wise kernel with parallel dilated small kernels (each followed by BN).

    Args:
        channels: Number of channels.
        kernel_size: The large kernel size (5 to 17, odd).
        deploy: Build the merged single-conv form directly.
    """

    def __init__(self, channels: int, kernel_size: int, deploy: bool = False) -> None:
        super().__init__()
        if kernel_size not in _DILATED_BRANCHES:
            raise ValueError(f'DilatedReparamBlock supports kernel sizes '
                             f'{sorted(_DILATED_BRANCHES)}, got {kernel_size}')
        self.kernel_size = kernel_size
        self.kernel_sizes, self.dilates = _DILATED_BRANCHES[kernel_size]
        self.lk_origin = nn.Conv2d(channels, channels, kernel_size, padding=kernel_size // 2,
                                   groups=channels, bias=deploy)
        self.deploy = deploy
        if not deploy:
            self.origin_bn = nn.BatchNorm2d(channels)
            for k, r in zip(self.kernel_sizes, self.dilates):
                self.add_module(f'dil_conv_k{k}_{r}', nn.Conv2d(
                    channels, channels, k, padding=r * (k - 1) // 2, dilation=r, groups=channels,
                    bias=False))
                self.add_module(f'dil_bn_k{k}_{r}', nn.BatchNorm2d(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.deploy:
            return self.lk_origin(x)
        out = self.origin_bn(self.lk_origin(x))
        for k, r in zip(self.kernel_sizes, self.dilates):
            out = out + getattr(self, f'dil_bn_k{k}_{r}')(getattr(self, f'dil_conv_k{k}_{r}')(x))
        return out

    @torch.no_grad()
    def switch_to_deploy(self) -> None:
        """Merge every branch and BN into ``lk_origin`` (one biased depth-wise conv)."""
        if self.deploy:
            return
        weight, bias = _fuse_conv_bn(self.lk_origin.weight, None, self.origin_bn)
        for k, r in zip(self.kernel_sizes, self.dilates):
            w, b = _fuse_conv_bn(getattr(self, f'dil_conv_k{k}_{r}').weight, None,
                                 getattr(self, f'dil_bn_k{k}_{r}'))
            weight = weight + _dilated_to_dense(w, r, self.kernel_size)
            bias = bias + b
            delattr(self, f'dil_conv_k{k}_{r}')
            delattr(self, f'dil_bn_k{k}_{r}')
        channels = weight.size(0)
        merged = nn.Conv2d(channels, channels, self.kernel_size, padding=self.kernel_size // 2,
                           groups=channels, bias=True).to(weight)
        merged.weight.copy_(weight)
        merged.bias.copy_(bias)
        self.lk_origin = merged
        del self.origin_bn
        self.deploy = True


class ChannelLastGRN(nn.Module):
    """Global response normalisation (ConvNeXt V2) of an ``(N, H, W, C)`` tensor.

    Computes what mmpretrain's ``GRN`` computes for ``data_format='channel_last'`` (same
    parameter names and shapes), with an optional bias: the deploy form has none, since
    ``UniRepLKNetBlock.switch_to_deploy`` folds it into the following linear layer.

    Args:
        channels: Number of channels.
        bias: Whether to learn the bias ``beta``.
        eps: Added to the mean response.
    """

    def __init__(self, channels: int, bias: bool = True, eps: float = 1e-6) -> None:
        super().__init__()
        self.eps = eps
        self.gamma = nn.Parameter(torch.zeros(channels))
        self.beta = nn.Parameter(torch.zeros(channels)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gx = torch.norm(x, p=2, dim=(1, 2), keepdim=True)
        nx = gx / (gx.mean(dim=-1, keepdim=True) + self.eps)
        if self.beta is None:
            return self.gamma * (x * nx) + x
        return self.gamma * (x * nx) + self.beta + x


class SEBlock(nn.Module):
    """Squeeze-and-excitation with 1x1 convs (ReLU, sigmoid)."""

    def __init__(self, channels: int, internal: int) -> None:
        super().__init__()
        self.down = nn.Conv2d(channels, internal, 1)
        self.up = nn.Conv2d(internal, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = torch.sigmoid(self.up(F.relu(self.down(F.adaptive_avg_pool2d(x, 1)))))
        return x * w


class UniRepLKNetBlock(nn.Module):
    """UniRepLKNet block: DW conv (large or 3x3) - BN - SE - FFN with GRN - BN - layer scale.

    Args:
        dim: Number of channels.
        kernel_size: 0 (no spatial mixing), 3 or 5 (plain DW conv), or >= 7 (dilated reparam).
        drop_path: Stochastic depth rate.
        layer_scale_init_value: Initial layer scale; ``None``/0 disables it.
        deploy: Build the inference structure directly.
        ffn_factor: FFN expansion ratio.
        with_cp: Gradient checkpointing.
    """

    def __init__(self, dim: int, kernel_size: int, drop_path: float = 0.,
                 layer_scale_init_value: Optional[float] = 1e-6, deploy: bool = False,
                 ffn_factor: int = 4, with_cp: bool = False) -> None:
        super().__init__()
        self.with_cp = with_cp
        self.deploy = deploy
        if kernel_size == 0:
            self.dwconv = nn.Identity()
        elif kernel_size >= 7:
            self.dwconv = DilatedReparamBlock(dim, kernel_size, deploy=deploy)
        elif kernel_size in (3, 5):
            self.dwconv = nn.Conv2d(dim, dim, kernel_size, padding=kernel_size // 2, groups=dim,
                                    bias=deploy)
        else:
            raise ValueError(f'Unsupported kernel size {kernel_size}')
        self.norm = nn.Identity() if deploy or kernel_size == 0 else nn.BatchNorm2d(dim)
        self.se = SEBlock(dim, dim // 4)
        ffn_dim = int(ffn_factor * dim)
        self.pwconv1 = nn.Linear(dim, ffn_dim)
        self.act = nn.GELU()
        self.grn = ChannelLastGRN(ffn_dim, bias=not deploy)
        self.pwconv2 = nn.Linear(ffn_dim, dim, bias=deploy)
        self.norm2 = nn.Identity() if deploy else nn.BatchNorm2d(dim)
        if not deploy and layer_scale_init_value:
            self.gamma = nn.Parameter(layer_scale_init_value * torch.ones(dim))
        else:
            self.gamma = None
        self.drop_path = DropPath(drop_path) if drop_path > 0. else nn.Identity()

    def _residual(self, x: torch.Tensor) -> torch.Tensor:
        y = self.se(self.norm(self.dwconv(x)))
        y = y.permute(0, 2, 3, 1)  # NHWC for the FFN
        y = self.pwconv2(self.grn(self.act(self.pwconv1(y))))
        y = self.norm2(y.permute(0, 3, 1, 2))
        if self.gamma is not None:
            y = self.gamma.view(1, -1, 1, 1) * y
        return self.drop_path(y)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.with_cp and x.requires_grad:
            return x + cp.checkpoint(self._residual, x, use_reentrant=False)
        return x + self._residual(x)

    @torch.no_grad()
    def switch_to_deploy(self) -> None:
        """Fold the BNs, the GRN bias and the layer scale into the convs and the last linear."""
        if self.deploy:
            return
        if isinstance(self.dwconv, DilatedReparamBlock):
            self.dwconv.switch_to_deploy()
        if isinstance(self.norm, nn.BatchNorm2d):
            conv = self.dwconv.lk_origin if isinstance(self.dwconv, DilatedReparamBlock) \
                else self.dwconv
            weight, bias = _fuse_conv_bn(conv.weight, conv.bias, self.norm)
            fused = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size,
                              padding=conv.padding, groups=conv.groups,
                              bias=True).to(weight)
            fused.weight.copy_(weight)
            fused.bias.copy_(bias)
            if isinstance(self.dwconv, DilatedReparamBlock):
                self.dwconv.lk_origin = fused
            else:
                self.dwconv = fused
            self.norm = nn.Identity()
        # pwconv2(grn(z)) with grn(z) = z' + beta  ->  W z' + W beta; then BN2, then gamma
        linear = self.pwconv2
        bn = self.norm2
        std = (bn.running_var + bn.eps).sqrt()
        scale = bn.weight / std
        gamma = self.gamma if self.gamma is not None else torch.ones_like(scale)
        weight = linear.weight * (scale * gamma).unsqueeze(1)
        bias = linear.weight @ self.grn.beta
        if linear.bias is not None:
            bias = bias + linear.bias
        bias = (bn.bias + (bias - bn.running_mean) * scale) * gamma
        new_linear = nn.Linear(linear.in_features, linear.out_features, bias=True)
        new_linear = new_linear.to(weight)
        new_linear.weight.copy_(weight)
        new_linear.bias.copy_(bias)
        self.pwconv2 = new_linear
        self.grn.beta = None
        self.norm2 = nn.Identity()
        self.gamma = None
        self.deploy = True


def _default_kernel_sizes(depths: Sequence[int]) -> tuple[tuple[int, ...], ...]:
    """The official per-block kernel sizes for each depth configuration."""
    table = {
        (2, 2, 6, 2): ((3, 3), (13, 13), (13,) * 6, (13, 13)),
        (2, 2, 8, 2): ((3, 3), (13, 13), (13,) * 8, (13, 13)),
        (3, 3, 18, 3): ((3, 3, 3), (13, 13, 13), (13, 3) * 9, (13, 13, 13)),
        (3, 3, 27, 3): ((3, 3, 3), (13, 13, 13), (13, 3, 3) * 9, (13, 13, 13)),
    }
    if tuple(depths) not in table:
        raise ValueError(f'No default kernel sizes for depths {depths}; pass kernel_sizes')
    return table[tuple(depths)]


@MODELS.register_module()
class UniRepLKNet(BaseBackbone):
    """UniRepLKNet backbone (CVPR 2024, arXiv:2311.15599).

    Args:
        arch: One of ``UniRepLKNet.arch_settings`` ('atto' ... 'xlarge', or the one/two-letter
            names 'A', 'F', 'P', 'N', 'T', 'S', 'B', 'L', 'XL') or a dict with ``depths`` and
            ``dims``.
        in_channels: Input image channels.
        kernel_sizes: Kernel size of every block, per stage; ``None`` uses the official table.
        drop_path_rate: Maximum stochastic depth rate.
        layer_scale_init_value: Initial layer scale.
        deploy: Build the re-parameterised inference structure.
        out_indices: Stages whose features are returned.
        gap_before_final_norm: For the last stage, return ``norm(GAP(x))`` of shape ``(B, C)``
            (the classification path) instead of a normed feature map.
        frozen_stages: Number of leading stages (with their down-sampling) to freeze.
        norm_eval: Keep BN layers in eval mode during training.
        with_cp: Gradient checkpointing in every block.
        init_cfg: mmengine init config; ``None`` uses truncated-normal init (std 0.02).
    """

    arch_settings = {
        **dict.fromkeys(['a', 'atto'], dict(depths=(2, 2, 6, 2), dims=(40, 80, 160, 320))),
        **dict.fromkeys(['f', 'femto'], dict(depths=(2, 2, 6, 2), dims=(48, 96, 192, 384))),
        **dict.fromkeys(['p', 'pico'], dict(depths=(2, 2, 6, 2), dims=(64, 128, 256, 512))),
        **dict.fromkeys(['n', 'nano'], dict(depths=(2, 2, 8, 2), dims=(80, 160, 320, 640))),
        **dict.fromkeys(['t', 'tiny'], dict(depths=(3, 3, 18, 3), dims=(80, 160, 320, 640))),
        **dict.fromkeys(['s', 'small'], dict(depths=(3, 3, 27, 3), dims=(96, 192, 384, 768))),
        **dict.fromkeys(['b', 'base'], dict(depths=(3, 3, 27, 3), dims=(128, 256, 512, 1024))),
        **dict.fromkeys(['l', 'large'], dict(depths=(3, 3, 27, 3), dims=(192, 384, 768, 1536))),
        **dict.fromkeys(['xl', 'xlarge'],
                        dict(depths=(3, 3, 27, 3), dims=(256, 512, 1024, 2048))),
    }

    def __init__(self,
                 arch: Union[str, dict] = 'tiny',
                 in_channels: int = 3,
                 kernel_sizes: Optional[Sequence[Sequence[int]]] = None,
                 drop_path_rate: float = 0.,
                 layer_scale_init_value: float = 1e-6,
                 deploy: bool = False,
                 out_indices: Union[int, Sequence[int]] = (3, ),
                 gap_before_final_norm: bool = True,
                 frozen_stages: int = 0,
                 norm_eval: bool = False,
                 with_cp: bool = False,
                 init_cfg: Optional[Union[dict, list]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if isinstance(arch, str):
            if arch.lower() not in self.arch_settings:
                raise ValueError(f'Unknown UniRepLKNet arch {arch!r}; '
                                 f'choose from {set(self.arch_settings)}')
            arch = self.arch_settings[arch.lower()]
        self.depths = tuple(arch['depths'])
        self.dims = tuple(arch['dims'])
        self.num_stages = len(self.depths)
        kernel_sizes = kernel_sizes or _default_kernel_sizes(self.depths)
        for ks, depth in zip(kernel_sizes, self.depths):
            if len(ks) != depth:
                raise ValueError('kernel_sizes must give one size per block')
        self.out_indices = parse_out_indices(out_indices, self.num_stages)
        self.gap_before_final_norm = gap_before_final_norm
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval

        dims = self.dims
        self.downsample_layers = nn.ModuleList([nn.Sequential(
            nn.Conv2d(in_channels, dims[0] // 2, 3, stride=2, padding=1),
            LayerNorm2d(dims[0] // 2, eps=1e-6),
            nn.GELU(),
            nn.Conv2d(dims[0] // 2, dims[0], 3, stride=2, padding=1),
            LayerNorm2d(dims[0], eps=1e-6),
        )])
        for i in range(self.num_stages - 1):
            self.downsample_layers.append(nn.Sequential(
                nn.Conv2d(dims[i], dims[i + 1], 3, stride=2, padding=1),
                LayerNorm2d(dims[i + 1], eps=1e-6)))

        dpr = torch.linspace(0, drop_path_rate, sum(self.depths)).tolist()
        cur = 0
        self.stages = nn.ModuleList()
        for i, depth in enumerate(self.depths):
            self.stages.append(nn.Sequential(*[
                UniRepLKNetBlock(dims[i], kernel_sizes[i][j], drop_path=dpr[cur + j],
                                 layer_scale_init_value=layer_scale_init_value, deploy=deploy,
                                 with_cp=with_cp) for j in range(depth)]))
            cur += depth
        for i in self.out_indices:
            if i == self.num_stages - 1 and gap_before_final_norm:
                norm = nn.LayerNorm(dims[i], eps=1e-6)
            else:
                norm = LayerNorm2d(dims[i], eps=1e-6)
            self.add_module(f'norm{i}', norm)
        self._freeze_stages()

    def init_weights(self) -> None:
        """Truncated-normal init unless ``init_cfg`` says otherwise (e.g. Pretrained)."""
        if self.init_cfg is None and not self.is_init:
            self.apply(trunc_normal_init)
        super().init_weights()

    def _freeze_stages(self) -> None:
        for i in range(self.frozen_stages):
            freeze([self.downsample_layers[i], self.stages[i]])

    def train(self, mode: bool = True) -> 'UniRepLKNet':
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            set_bn_eval(self)
        return self

    def switch_to_deploy(self) -> None:
        """Re-parameterise every block into its inference structure (call in eval mode)."""
        for module in self.modules():
            if isinstance(module, UniRepLKNetBlock):
                module.switch_to_deploy()

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        outs = []
        for i in range(self.num_stages):
            x = self.stages[i](self.downsample_layers[i](x))
            if i in self.out_indices:
                norm = getattr(self, f'norm{i}')
                if i == self.num_stages - 1 and self.gap_before_final_norm:
                    outs.append(norm(x.mean((-2, -1))))
                else:
                    outs.append(norm(x))
        return tuple(outs)
