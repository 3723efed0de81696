"""MetaFormer baselines: IdentityFormer, PoolFormerV2, ConvFormer, AttentionFormer and CAFormer.

Paper: "MetaFormer Baselines for Vision", Weihao Yu et al., TPAMI 2024, arXiv:2210.13452.
Official code: https://github.com/sail-sg/metaformer

One backbone, :class:`MetaFormer`, whose token mixer is chosen per stage: ``'identity'``
(IdentityFormer), ``'pooling'`` (PoolFormerV2: 3x3 average pooling minus the input),
``'sepconv'`` (ConvFormer: MobileNetV2-style inverted separable conv, 7x7 depth-wise, StarReLU),
``'attention'`` (AttentionFormer: multi-head self-attention with head width 32) or a list of
them per stage (CAFormer: ``['sepconv', 'sepconv', 'attention', 'attention']``).

Common to all: a 7x7 stride-4 conv stem and 3x3 stride-2 conv down-sampling, each with a
bias-free LayerNorm; pre-norm blocks ``x = res_scale * x + mixer(norm(x))`` and the same for a
bias-free StarReLU MLP (ratio 4); residual scaling ("ResScale", init 1) in stages 3 and 4;
a LayerNorm after global average pooling for classification. IdentityFormer and PoolFormerV2
normalise over (H, W, C) ("modified LayerNorm" = GroupNorm with one group, no bias); the
others over C only.

S12 (the BOCB size) is depths [2, 2, 6, 2] and widths [64, 128, 320, 512] for every mixer;
the official S18/S24/S36/M36/M48/B36 sizes are included. Tensors are channels-last inside the
stages; the outputs are ``(B, C, H, W)`` maps (or ``(B, C)`` after GAP and the final norm).
"""
from __future__ import annotations

from typing import Callable, Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn.bricks import DropPath
from mmpretrain.models.backbones.base_backbone import BaseBackbone

from bocb_mm.registry import MODELS
from ._utils import freeze, parse_out_indices, trunc_normal_init


class LayerNormGeneral(nn.Module):
    """LayerNorm over chosen dims of a channels-last tensor, with optional scale and bias.

    ``normalized_dim=(-1,)`` is the usual LayerNorm over channels; ``(1, 2, 3)`` on
    ``(B, H, W, C)`` normalises over all positions and channels (GroupNorm with one group).

    Args:
        affine_shape: Shape of the affine weight/bias (the channel count).
        normalized_dim: Dims over which mean and variance are computed.
        scale: Learn a weight.
        bias: Learn a bias.
        eps: Numerical epsilon.
    """

    def __init__(self, affine_shape: int, normalized_dim: Sequence[int] = (-1, ),
                 scale: bool = True, bias: bool = True, eps: float = 1e-5) -> None:
        super().__init__()
        self.normalized_dim = tuple(normalized_dim)
        self.weight = nn.Parameter(torch.ones(affine_shape)) if scale else None
        self.bias = nn.Parameter(torch.zeros(affine_shape)) if bias else None
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.normalized_dim == (-1, ):
            return F.layer_norm(x, x.shape[-1:], self.weight, self.bias, self.eps)
        c = x - x.mean(self.normalized_dim, keepdim=True)
        x = c / torch.sqrt(c.pow(2).mean(self.normalized_dim, keepdim=True) + self.eps)
        if self.weight is not None:
            x = x * self.weight
        if self.bias is not None:
            x = x + self.bias
        return x


class Scale(nn.Module):
    """Learnable per-channel scale of a channels-last tensor (layer scale / res scale)."""

    def __init__(self, dim: int, init_value: float = 1.0) -> None:
        super().__init__()
        self.scale = nn.Parameter(init_value * torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale


class StarReLU(nn.Module):
    """StarReLU ``s * relu(x) ** 2 + b`` with learnable scalars ``s`` and ``b``."""

    def __init__(self, scale_value: float = 1.0, bias_value: float = 0.0) -> None:
        super().__init__()
        self.scale = nn.Parameter(scale_value * torch.ones(1))
        self.bias = nn.Parameter(bias_value * torch.ones(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.scale * F.relu(x) ** 2 + self.bias


class Downsampling(nn.Module):
    """Conv down-sampling with an optional norm before (channels-last in) or after it.

    Input is ``(B, C, H, W)`` when ``pre_norm`` is False (the stem), ``(B, H, W, C)``
    otherwise; output is always channels-last.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int,
                 padding: int, pre_norm: bool = False, post_norm: bool = False) -> None:
        super().__init__()
        self.pre_norm = LayerNormGeneral(in_channels, bias=False, eps=1e-6) if pre_norm \
            else nn.Identity()
        self.pre_permute = pre_norm
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride,
                              padding=padding)
        self.post_norm = LayerNormGeneral(out_channels, bias=False, eps=1e-6) if post_norm \
            else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pre_norm(x)
        if self.pre_permute:
            x = x.permute(0, 3, 1, 2)
        x = self.conv(x).permute(0, 2, 3, 1)
        return self.post_norm(x)


class IdentityMixer(nn.Identity):
    """Identity token mixer (IdentityFormer)."""

    def __init__(self, dim: int) -> None:
        super().__init__()


class Pooling(nn.Module):
    """PoolFormer token mixer: ``avgpool3x3(x) - x`` (padding excluded from the average)."""

    def __init__(self, dim: int, pool_size: int = 3) -> None:
        super().__init__()
        self.pool = nn.AvgPool2d(pool_size, stride=1, padding=pool_size // 2,
                                 count_include_pad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.pool(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
        return y - x


class SepConv(nn.Module):
    """Inverted separable conv: Linear (x2) - StarReLU - 7x7 depth-wise conv - Linear."""

    def __init__(self, dim: int, expansion_ratio: float = 2, kernel_size: int = 7,
                 bias: bool = False) -> None:
        super().__init__()
        med = int(expansion_ratio * dim)
        self.pwconv1 = nn.Linear(dim, med, bias=bias)
        self.act1 = StarReLU()
        self.dwconv = nn.Conv2d(med, med, kernel_size, padding=kernel_size // 2, groups=med,
                                bias=bias)
        self.pwconv2 = nn.Linear(med, dim, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act1(self.pwconv1(x))
        x = self.dwconv(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
        return self.pwconv2(x)


class Attention(nn.Module):
    """Multi-head self-attention over all positions of a channels-last map (head width 32)."""

    def __init__(self, dim: int, head_dim: int = 32, qkv_bias: bool = False,
                 proj_bias: bool = False, attn_drop: float = 0.) -> None:
        super().__init__()
        self.head_dim = head_dim
        self.num_heads = max(dim // head_dim, 1)
        self.attention_dim = self.num_heads * head_dim
        self.qkv = nn.Linear(dim, self.attention_dim * 3, bias=qkv_bias)
        self.attn_drop = attn_drop
        self.proj = nn.Linear(self.attention_dim, dim, bias=proj_bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, h, w, _ = x.shape
        qkv = self.qkv(x).reshape(b, h * w, 3, self.num_heads, self.head_dim)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        out = F.scaled_dot_product_attention(
            q, k, v, dropout_p=self.attn_drop if self.training else 0.)
        return self.proj(out.transpose(1, 2).reshape(b, h, w, self.attention_dim))


class Mlp(nn.Module):
    """Bias-free two-layer MLP with StarReLU (ratio 4)."""

    def __init__(self, dim: int, mlp_ratio: float = 4, drop: float = 0.) -> None:
        super().__init__()
        hidden = int(mlp_ratio * dim)
        self.fc1 = nn.Linear(dim, hidden, bias=False)
        self.act = StarReLU()
        self.fc2 = nn.Linear(hidden, dim, bias=False)
        self.drop = nn.Dropout(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


TOKEN_MIXERS: dict[str, Callable[[int], nn.Module]] = {
    'identity': IdentityMixer,
    'pooling': Pooling,
    'sepconv': SepConv,
    'attention': Attention,
}


class MetaFormerBlock(nn.Module):
    """``x = rs1 * x + ls1 * mixer(norm1(x)); x = rs2 * x + ls2 * mlp(norm2(x))``.

    Args:
        dim: Channel width.
        token_mixer: Name of the token mixer (a key of ``TOKEN_MIXERS``).
        norm: ``'ln'`` (over channels) or ``'gn'`` (over H, W and C); both bias-free.
        drop: Dropout rate in the MLP.
        drop_path: Stochastic depth rate.
        layer_scale_init_value: Layer scale init (``None`` disables it).
        res_scale_init_value: Residual scale init (``None`` disables it).
    """

    def __init__(self, dim: int, token_mixer: str = 'identity', norm: str = 'ln',
                 drop: float = 0., drop_path: float = 0.,
                 layer_scale_init_value: Optional[float] = None,
                 res_scale_init_value: Optional[float] = None) -> None:
        super().__init__()
        if token_mixer not in TOKEN_MIXERS:
            raise ValueError(f'Unknown token mixer {token_mixer!r}; choose from '
                             f'{sorted(TOKEN_MIXERS)}')
        norm_dims = {'ln': (-1, ), 'gn': (1, 2, 3)}[norm]

        def make_norm() -> LayerNormGeneral:
            return LayerNormGeneral(dim, normalized_dim=norm_dims, bias=False, eps=1e-6)

        def make_scale(value: Optional[float]) -> nn.Module:
            return Scale(dim, value) if value else nn.Identity()

        self.norm1 = make_norm()
        self.token_mixer = TOKEN_MIXERS[token_mixer](dim)
        self.layer_scale1 = make_scale(layer_scale_init_value)
        self.res_scale1 = make_scale(res_scale_init_value)
        self.norm2 = make_norm()
        self.mlp = Mlp(dim, drop=drop)
        self.layer_scale2 = make_scale(layer_scale_init_value)
        self.res_scale2 = make_scale(res_scale_init_value)
        self.drop_path = DropPath(drop_path) if drop_path > 0. else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.res_scale1(x) + self.layer_scale1(
            self.drop_path(self.token_mixer(self.norm1(x))))
        x = self.res_scale2(x) + self.layer_scale2(self.drop_path(self.mlp(self.norm2(x))))
        return x


_FAMILIES = {
    # name: (token mixers, norm, sizes)
    'identityformer': ('identity', 'gn', ('s12', 's24', 's36', 'm36', 'm48')),
    'poolformerv2': ('pooling', 'gn', ('s12', 's24', 's36', 'm36', 'm48')),
    'convformer': ('sepconv', 'ln', ('s12', 's18', 's36', 'm36', 'b36')),
    'attentionformer': ('attention', 'ln', ('s12', 's18', 's36', 'm36', 'b36')),
    'caformer': (('sepconv', 'sepconv', 'attention', 'attention'), 'ln',
                 ('s12', 's18', 's36', 'm36', 'b36')),
}
# Sizes differ between the two official groups (IdentityFormer/PoolFormerV2 vs.
# ConvFormer/CAFormer); S12 is shared (the BOCB size).
_SIZES_POOL = {'s12': ([2, 2, 6, 2], [64, 128, 320, 512]),
               's24': ([4, 4, 12, 4], [64, 128, 320, 512]),
               's36': ([6, 6, 18, 6], [64, 128, 320, 512]),
               'm36': ([6, 6, 18, 6], [96, 192, 384, 768]),
               'm48': ([8, 8, 24, 8], [96, 192, 384, 768])}
_SIZES_CONV = {'s12': ([2, 2, 6, 2], [64, 128, 320, 512]),
               's18': ([3, 3, 9, 3], [64, 128, 320, 512]),
               's36': ([3, 12, 18, 3], [64, 128, 320, 512]),
               'm36': ([3, 12, 18, 3], [96, 192, 384, 576]),
               'b36': ([3, 12, 18, 3], [128, 256, 512, 768])}


def _build_arch_settings() -> dict[str, dict]:
    settings = {}
    for family, (mixers, norm, sizes) in _FAMILIES.items():
        table = _SIZES_POOL if norm == 'gn' else _SIZES_CONV
        for size in sizes:
            depths, dims = table[size]
            mixer_list = [mixers] * 4 if isinstance(mixers, str) else list(mixers)
            settings[f'{family}_{size}'] = dict(depths=depths, embed_dims=dims,
                                                token_mixers=mixer_list, norm=norm)
    return settings


@MODELS.register_module()
class MetaFormer(BaseBackbone):
    """MetaFormer baselines backbone (TPAMI 2024, arXiv:2210.13452).

    Args:
        arch: A preset of ``MetaFormer.arch_settings`` such as ``'identityformer_s12'``,
            ``'poolformerv2_s12'``, ``'convformer_s12'``, ``'attentionformer_s12'`` or
            ``'caformer_s12'``, or a dict with ``depths``, ``embed_dims``, ``token_mixers``
            (one name or one per stage) and ``norm`` (``'ln'`` or ``'gn'``).
        in_channels: Input image channels.
        drop_rate: Dropout rate in the MLPs.
        drop_path_rate: Maximum stochastic depth rate.
        layer_scale_init_values: Layer scale init, one value or one per stage (None: off).
        res_scale_init_values: Residual scale init per stage (None: off).
        out_indices: Stages whose features are returned.
        gap_before_final_norm: For the last stage, return ``LayerNorm(GAP(x))`` of shape
            ``(B, C)`` (the official classification path).
        frozen_stages: Number of leading stages (with their down-sampling) to freeze.
        init_cfg: mmengine init config; ``None`` uses truncated-normal init (std 0.02).
    """

    arch_settings = _build_arch_settings()

    def __init__(self,
                 arch: Union[str, dict] = 'caformer_s12',
                 in_channels: int = 3,
                 drop_rate: float = 0.,
                 drop_path_rate: float = 0.,
                 layer_scale_init_values: Union[None, float, Sequence[Optional[float]]] = None,
                 res_scale_init_values: Union[None, float, Sequence[Optional[float]]] = (
                     None, None, 1.0, 1.0),
                 out_indices: Union[int, Sequence[int]] = (3, ),
                 gap_before_final_norm: bool = True,
                 frozen_stages: int = 0,
                 init_cfg: Optional[Union[dict, list]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if isinstance(arch, str):
            if arch.lower() not in self.arch_settings:
                raise ValueError(f'Unknown MetaFormer arch {arch!r}; '
                                 f'choose from {sorted(self.arch_settings)}')
            arch = self.arch_settings[arch.lower()]
        depths, dims = list(arch['depths']), list(arch['embed_dims'])
        self.num_stages = len(depths)
        mixers = arch['token_mixers']
        mixers = [mixers] * self.num_stages if isinstance(mixers, str) else list(mixers)
        norm = arch.get('norm', 'ln')
        self.depths, self.embed_dims, self.token_mixers = depths, dims, mixers
        self.out_indices = parse_out_indices(out_indices, self.num_stages)
        self.gap_before_final_norm = gap_before_final_norm
        self.frozen_stages = frozen_stages

        def per_stage(value):
            if isinstance(value, (list, tuple)):
                return list(value)
            return [value] * self.num_stages

        layer_scales = per_stage(layer_scale_init_values)
        res_scales = per_stage(res_scale_init_values)

        self.downsample_layers = nn.ModuleList(
            [Downsampling(in_channels, dims[0], 7, stride=4, padding=2, post_norm=True)] +
            [Downsampling(dims[i], dims[i + 1], 3, stride=2, padding=1, pre_norm=True)
             for i in range(self.num_stages - 1)])
        dpr = torch.linspace(0, drop_path_rate, sum(depths)).tolist()
        cur = 0
        self.stages = nn.ModuleList()
        for i, depth in enumerate(depths):
            self.stages.append(nn.Sequential(*[
                MetaFormerBlock(dims[i], mixers[i], norm, drop=drop_rate,
                                drop_path=dpr[cur + j],
                                layer_scale_init_value=layer_scales[i],
                                res_scale_init_value=res_scales[i]) for j in range(depth)]))
            cur += depth
        for i in self.out_indices:
            self.add_module(f'norm{i}', nn.LayerNorm(dims[i], eps=1e-6))
        self._freeze_stages()

    def init_weights(self) -> None:
        """Truncated-normal init unless ``init_cfg`` says otherwise (e.g. Pretrained)."""
        if self.init_cfg is None and not self.is_init:
            self.apply(trunc_normal_init)
        super().init_weights()

    def _freeze_stages(self) -> None:
        for i in range(self.frozen_stages):
            freeze([self.downsample_layers[i], self.stages[i]])

    def train(self, mode: bool = True) -> 'MetaFormer':
        super().train(mode)
        self._freeze_stages()
        return self

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        outs = []
        for i in range(self.num_stages):
            x = self.stages[i](self.downsample_layers[i](x))  # channels-last
            if i in self.out_indices:
                norm = getattr(self, f'norm{i}')
                if i == self.num_stages - 1 and self.gap_before_final_norm:
                    outs.append(norm(x.mean((1, 2))))
                else:
                    outs.append(norm(x).permute(0, 3, 1, 2).contiguous())
        return tuple(outs)
