"""TransNeXt: foveal-style aggregated attention with a convolutional GLU, in plain PyTorch.

Paper: "TransNeXt: Robust Foveal Visual Perception for Vision Transformers", Dai Shi, CVPR 2024,
arXiv:2311.17132. Official code: https://github.com/DaiShiResearch/TransNeXt

A 4-stage pyramid (overlapping conv patch embeddings, LayerNorm after every stage). Stages 1-3
use *aggregated attention*: each query attends, through one softmax, to (a) its 3x3 neighbourhood
(pixel-focused sliding window, with a learnable positional bias and query-dependent learnable
tokens added to the weights) and (b) a pooled ``H/sr x W/sr`` summary of the whole map (with a
continuous relative position bias from a small MLP). Queries and keys are L2-normalised and
scaled by a learnable temperature and by ``log(number of keys)``; a learnable query embedding is
added. Stage 4 uses the same length-scaled cosine attention over all tokens. The channel mixer
is a convolutional GLU (a 3x3 depth-wise conv on the gate branch).

Unlike the official classification code (fixed input size, buffers built in ``__init__``), the
padding mask, the length scale and the relative-position tables are computed for the actual
input size and cached, so one model serves 224x224 classification and any detection input.
The sliding window uses ``F.unfold`` instead of the official CUDA kernels.
"""
from __future__ import annotations

import math
from typing import Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn.bricks import DropPath
from mmpretrain.models.backbones.base_backbone import BaseBackbone

from bocb_mm.registry import MODELS
from ._utils import conv_fan_out_init, freeze, parse_out_indices


@torch.no_grad()
def relative_position_table(query_size: tuple[int, int], key_size: tuple[int, int],
                            pretrain_size: tuple[int, int], device: torch.device,
                            dtype: torch.dtype = torch.float32
                            ) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-spaced relative coordinates between a query grid and a (pooled) key grid.

    Key positions are the averages of the query positions they pool. Coordinates are scaled by
    the pre-training grid size so that the bias MLP extrapolates to other resolutions. The table
    is computed in float32 (as the official code does, so the same pairs are merged whatever the
    model's precision) and returned in ``dtype``, the dtype of the bias MLP that reads it.

    Returns:
        ``(index, table)``: ``table`` holds the unique coordinate pairs (``(U, 2)``, ``dtype``),
        ``index`` maps each (query, key) pair to its row of ``table`` (``(Nq * Nk,)``).
    """
    def axis(n_q: int, n_k: int) -> tuple[torch.Tensor, torch.Tensor]:
        q = torch.arange(n_q, dtype=torch.float32, device=device)
        k = F.adaptive_avg_pool1d(q[None, None], n_k)[0, 0]
        return q, k

    qh, kh = axis(query_size[0], key_size[0])
    qw, kw = axis(query_size[1], key_size[1])
    qh, qw = torch.meshgrid(qh, qw, indexing='ij')
    kh, kw = torch.meshgrid(kh, kw, indexing='ij')
    rel_h = (qh.reshape(-1, 1) - kh.reshape(1, -1)) / max(pretrain_size[0] - 1, 1) * 8
    rel_w = (qw.reshape(-1, 1) - kw.reshape(1, -1)) / max(pretrain_size[1] - 1, 1) * 8
    rel = torch.stack([rel_h, rel_w], dim=-1).reshape(-1, 2)
    table, index = torch.unique(rel, return_inverse=True, dim=0)
    table = torch.sign(table) * torch.log2(table.abs() + 1.0) / math.log2(8)
    return index, table.to(dtype)


@torch.no_grad()
def local_window_mask(size: tuple[int, int], window: int,
                      device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Which of the ``window**2`` neighbours of each pixel lie outside the map (zero padding).

    Returns:
        ``(valid_count, pad_mask)`` of shapes ``(N, 1)`` (float32) and ``(N, window**2)``.
    """
    ones = torch.ones(1, 1, *size, device=device)
    cols = F.unfold(ones, window, padding=window // 2)[0].transpose(0, 1)  # (N, w*w)
    return cols.sum(-1, keepdim=True), cols == 0


class ConvolutionalGLU(nn.Module):
    """Gated linear unit whose gate branch passes through a 3x3 depth-wise conv and GELU.

    Args:
        in_features: Input/output width.
        hidden_features: Nominal hidden width; the GLU uses ``int(2 * hidden / 3)`` channels.
        drop: Dropout rate.
    """

    def __init__(self, in_features: int, hidden_features: int, drop: float = 0.) -> None:
        super().__init__()
        hidden = int(2 * hidden_features / 3)
        self.fc1 = nn.Linear(in_features, hidden * 2)
        self.dwconv = nn.Conv2d(hidden, hidden, 3, padding=1, groups=hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, in_features)
        self.drop = nn.Dropout(drop)

    def forward(self, x: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
        x, v = self.fc1(x).chunk(2, dim=-1)
        b, n, c = x.shape
        x = self.dwconv(x.transpose(1, 2).reshape(b, c, *hw)).flatten(2).transpose(1, 2)
        x = self.drop(self.act(x) * v)
        return self.drop(self.fc2(x))


class _CPBMixin(nn.Module):
    """Continuous relative position bias: an MLP on log-spaced relative coordinates."""

    def _init_cpb(self, num_heads: int) -> None:
        self.cpb_fc1 = nn.Linear(2, 512)
        self.cpb_act = nn.ReLU(inplace=True)
        self.cpb_fc2 = nn.Linear(512, num_heads)

    def _position_bias(self, index: torch.Tensor, table: torch.Tensor, n_q: int,
                       n_k: int) -> torch.Tensor:
        bias = self.cpb_fc2(self.cpb_act(self.cpb_fc1(table))).transpose(0, 1)  # (heads, U)
        return bias[:, index].reshape(-1, n_q, n_k)


def _init_temperature(num_heads: int) -> nn.Parameter:
    # softplus(t) = 1 / 0.24 at initialisation
    return nn.Parameter(torch.log(torch.expm1(torch.full((num_heads, 1, 1), 1 / 0.24))))


class AggregatedAttention(_CPBMixin):
    """Pixel-focused 3x3 sliding-window attention fused with pooled global attention.

    Args:
        dim: Token width.
        num_heads: Number of heads.
        window_size: Odd sliding-window size.
        sr_ratio: Pooling ratio of the global branch (pooled grid ``H // sr x W // sr``).
        qkv_bias: Bias of the query and key/value projections.
        attn_drop: Attention dropout.
        proj_drop: Output dropout.
    """

    def __init__(self, dim: int, num_heads: int, window_size: int = 3, sr_ratio: int = 2,
                 qkv_bias: bool = True, attn_drop: float = 0., proj_drop: float = 0.) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f'dim {dim} is not divisible by num_heads {num_heads}')
        if window_size % 2 != 1:
            raise ValueError('window_size must be odd')
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.sr_ratio = sr_ratio
        self.window_size = window_size
        self.local_len = window_size ** 2

        self.temperature = _init_temperature(num_heads)
        self.q = nn.Linear(dim, dim, bias=qkv_bias)
        self.query_embedding = nn.Parameter(
            nn.init.trunc_normal_(torch.empty(num_heads, 1, self.head_dim), std=0.02))
        self.kv = nn.Linear(dim, dim * 2, bias=qkv_bias)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)
        # pooled-feature branch
        self.sr = nn.Conv2d(dim, dim, 1)
        self.norm = nn.LayerNorm(dim)
        self.act = nn.GELU()
        self._init_cpb(num_heads)
        # local branch: static positional bias and query-dependent learnable tokens
        self.relative_pos_bias_local = nn.Parameter(
            nn.init.trunc_normal_(torch.empty(num_heads, self.local_len), std=0.0004))
        self.learnable_tokens = nn.Parameter(
            nn.init.trunc_normal_(torch.empty(num_heads, self.head_dim, self.local_len),
                                  std=0.02))
        self.learnable_bias = nn.Parameter(torch.zeros(num_heads, 1, self.local_len))

    def pool_size(self, hw: tuple[int, int]) -> tuple[int, int]:
        return max(hw[0] // self.sr_ratio, 1), max(hw[1] // self.sr_ratio, 1)

    def forward(self, x: torch.Tensor, hw: tuple[int, int], pos: dict) -> torch.Tensor:
        b, n, c = x.shape
        h, w = hw
        heads, hd = self.num_heads, self.head_dim
        ph, pw = self.pool_size(hw)
        pool_len = ph * pw
        valid, pad_mask = pos['local']
        # (N, 1): log of the number of keys, computed in float32 as the official buffer is
        seq_scale = torch.log(valid + pool_len).to(x.dtype)

        q_norm = F.normalize(self.q(x).reshape(b, n, heads, hd).transpose(1, 2), dim=-1)
        q_scaled = (q_norm + self.query_embedding) * F.softplus(self.temperature) * seq_scale

        # local keys/values: unfold the 3x3 neighbourhood of every pixel
        k_loc, v_loc = self.kv(x).chunk(2, dim=-1)
        k_loc = F.normalize(k_loc.reshape(b, n, heads, hd), dim=-1).reshape(b, n, c)
        kv = torch.cat([k_loc, v_loc], dim=-1).transpose(1, 2).reshape(b, 2 * c, h, w)
        kv = F.unfold(kv, self.window_size, padding=self.window_size // 2)
        kv = kv.reshape(b, 2 * heads, hd, self.local_len, n).permute(0, 1, 4, 2, 3)
        k_loc, v_loc = kv.chunk(2, dim=1)  # (B, heads, N, hd, L)
        attn_local = (q_scaled.unsqueeze(-2) @ k_loc).squeeze(-2)
        attn_local = attn_local + self.relative_pos_bias_local.unsqueeze(1)
        attn_local = attn_local.masked_fill(pad_mask, float('-inf'))

        # pooled keys/values
        pooled = x.transpose(1, 2).reshape(b, c, h, w)
        pooled = F.adaptive_avg_pool2d(self.act(self.sr(pooled)), (ph, pw))
        pooled = self.norm(pooled.reshape(b, c, pool_len).transpose(1, 2))
        kv_pool = self.kv(pooled).reshape(b, pool_len, 2 * heads, hd).transpose(1, 2)
        k_pool, v_pool = kv_pool.chunk(2, dim=1)
        pool_bias = self._position_bias(*pos['pool'], n, pool_len)
        attn_pool = q_scaled @ F.normalize(k_pool, dim=-1).transpose(-2, -1) + pool_bias

        # one softmax over both key sets
        attn = self.attn_drop(torch.cat([attn_local, attn_pool], dim=-1).softmax(dim=-1))
        attn_local, attn_pool = attn.split([self.local_len, pool_len], dim=-1)
        weights_local = (q_norm @ self.learnable_tokens) + self.learnable_bias + attn_local
        x_local = (weights_local.unsqueeze(-2) @ v_loc.transpose(-2, -1)).squeeze(-2)
        out = (x_local + attn_pool @ v_pool).transpose(1, 2).reshape(b, n, c)
        return self.proj_drop(self.proj(out))


class LengthScaledAttention(_CPBMixin):
    """Full self-attention with length-scaled cosine similarity (the last TransNeXt stage)."""

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool = True, attn_drop: float = 0.,
                 proj_drop: float = 0.) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f'dim {dim} is not divisible by num_heads {num_heads}')
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.temperature = _init_temperature(num_heads)
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.query_embedding = nn.Parameter(
            nn.init.trunc_normal_(torch.empty(num_heads, 1, self.head_dim), std=0.02))
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)
        self._init_cpb(num_heads)

    def forward(self, x: torch.Tensor, hw: tuple[int, int], pos: dict) -> torch.Tensor:
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3 * self.num_heads, self.head_dim).transpose(1, 2)
        q, k, v = qkv.chunk(3, dim=1)
        bias = self._position_bias(*pos['pool'], n, n)
        q = (F.normalize(q, dim=-1) + self.query_embedding) * F.softplus(self.temperature)
        attn = (q * math.log(n)) @ F.normalize(k, dim=-1).transpose(-2, -1) + bias
        attn = self.attn_drop(attn.softmax(dim=-1))
        out = (attn @ v).transpose(1, 2).reshape(b, n, c)
        return self.proj_drop(self.proj(out))


class TransNeXtBlock(nn.Module):
    """Pre-norm block: (aggregated or full) attention, then convolutional GLU."""

    def __init__(self, dim: int, num_heads: int, window_size: int = 3, mlp_ratio: float = 4.,
                 qkv_bias: bool = True, drop: float = 0., attn_drop: float = 0.,
                 drop_path: float = 0., sr_ratio: int = 1, norm_eps: float = 1e-6) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=norm_eps)
        if sr_ratio == 1:
            self.attn = LengthScaledAttention(dim, num_heads, qkv_bias, attn_drop, drop)
        else:
            self.attn = AggregatedAttention(dim, num_heads, window_size, sr_ratio, qkv_bias,
                                            attn_drop, drop)
        self.norm2 = nn.LayerNorm(dim, eps=norm_eps)
        self.mlp = ConvolutionalGLU(dim, int(dim * mlp_ratio), drop=drop)
        self.drop_path = DropPath(drop_path) if drop_path > 0. else nn.Identity()

    def forward(self, x: torch.Tensor, hw: tuple[int, int], pos: dict) -> torch.Tensor:
        x = x + self.drop_path(self.attn(self.norm1(x), hw, pos))
        return x + self.drop_path(self.mlp(self.norm2(x), hw))


class OverlapPatchEmbed(nn.Module):
    """Overlapping conv patch embedding followed by LayerNorm over channels."""

    def __init__(self, patch_size: int, stride: int, in_channels: int, embed_dim: int,
                 norm_eps: float = 1e-5) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_channels, embed_dim, patch_size, stride=stride,
                              padding=patch_size // 2)
        self.norm = nn.LayerNorm(embed_dim, eps=norm_eps)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
        x = self.proj(x)
        hw = (x.shape[2], x.shape[3])
        return self.norm(x.flatten(2).transpose(1, 2)), hw


@MODELS.register_module()
class TransNeXt(BaseBackbone):
    """TransNeXt backbone (CVPR 2024, arXiv:2311.17132), pure PyTorch.

    Args:
        arch: One of ``TransNeXt.arch_settings`` ('micro', 'tiny', 'small', 'base') or a dict
            with ``embed_dims``, ``num_heads``, ``depths`` and ``mlp_ratios``.
        in_channels: Input image channels.
        patch_size: Stride of the stage-1 patch embedding (kernel ``2 * patch_size - 1``).
        pretrain_size: Input size at pre-training, scales the relative coordinates.
        window_size: Sliding-window size of the aggregated attention (stages 1-3).
        sr_ratios: Pooling ratio per stage (1 means full attention).
        qkv_bias: Bias of the attention projections.
        drop_rate: Dropout rate.
        attn_drop_rate: Attention dropout rate.
        drop_path_rate: Maximum stochastic depth rate.
        out_indices: Stages whose (normed) feature maps ``(B, C, H, W)`` are returned.
        frozen_stages: Number of leading stages to freeze.
        init_cfg: mmengine init config; ``None`` uses the official initialisation.
    """

    arch_settings = {
        'micro': dict(embed_dims=(48, 96, 192, 384), num_heads=(2, 4, 8, 16),
                      depths=(2, 2, 15, 2), mlp_ratios=(8, 8, 4, 4)),
        'tiny': dict(embed_dims=(72, 144, 288, 576), num_heads=(3, 6, 12, 24),
                     depths=(2, 2, 15, 2), mlp_ratios=(8, 8, 4, 4)),
        'small': dict(embed_dims=(72, 144, 288, 576), num_heads=(3, 6, 12, 24),
                      depths=(5, 5, 22, 5), mlp_ratios=(8, 8, 4, 4)),
        'base': dict(embed_dims=(96, 192, 384, 768), num_heads=(4, 8, 16, 32),
                     depths=(5, 5, 23, 5), mlp_ratios=(8, 8, 4, 4)),
    }

    def __init__(self,
                 arch: Union[str, dict] = 'tiny',
                 in_channels: int = 3,
                 patch_size: int = 4,
                 pretrain_size: int = 224,
                 window_size: int = 3,
                 sr_ratios: Sequence[int] = (8, 4, 2, 1),
                 qkv_bias: bool = True,
                 drop_rate: float = 0.,
                 attn_drop_rate: float = 0.,
                 drop_path_rate: float = 0.,
                 out_indices: Union[int, Sequence[int]] = (3, ),
                 frozen_stages: int = 0,
                 init_cfg: Optional[Union[dict, list]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if isinstance(arch, str):
            if arch.lower() not in self.arch_settings:
                raise ValueError(f'Unknown TransNeXt arch {arch!r}; '
                                 f'choose from {set(self.arch_settings)}')
            arch = self.arch_settings[arch.lower()]
        self.embed_dims = tuple(arch['embed_dims'])
        self.depths = tuple(arch['depths'])
        self.num_stages = len(self.depths)
        self.sr_ratios = tuple(sr_ratios)
        self.window_size = window_size
        self.out_indices = parse_out_indices(out_indices, self.num_stages)
        self.frozen_stages = frozen_stages
        # pre-training grid of each stage (224 -> 56, 28, 14, 7)
        self.pretrain_grids = [max(pretrain_size // (patch_size * 2 ** i), 1)
                               for i in range(self.num_stages)]
        self._pos_cache: dict = {}

        dpr = torch.linspace(0, drop_path_rate, sum(self.depths)).tolist()
        cur = 0
        for i in range(self.num_stages):
            patch_embed = OverlapPatchEmbed(
                patch_size=2 * patch_size - 1 if i == 0 else 3,
                stride=patch_size if i == 0 else 2,
                in_channels=in_channels if i == 0 else self.embed_dims[i - 1],
                embed_dim=self.embed_dims[i])
            blocks = nn.ModuleList([
                TransNeXtBlock(self.embed_dims[i], arch['num_heads'][i], window_size,
                               arch['mlp_ratios'][i], qkv_bias, drop_rate, attn_drop_rate,
                               dpr[cur + j], self.sr_ratios[i]) for j in range(self.depths[i])])
            cur += self.depths[i]
            self.add_module(f'patch_embed{i + 1}', patch_embed)
            self.add_module(f'block{i + 1}', blocks)
            self.add_module(f'norm{i + 1}', nn.LayerNorm(self.embed_dims[i], eps=1e-6))
        self._freeze_stages()

    def init_weights(self) -> None:
        """Official initialisation unless ``init_cfg`` says otherwise (e.g. Pretrained)."""
        if self.init_cfg is None and not self.is_init:
            self.apply(conv_fan_out_init)
        super().init_weights()

    def _freeze_stages(self) -> None:
        for i in range(self.frozen_stages):
            freeze([getattr(self, f'{name}{i + 1}') for name in ('patch_embed', 'block', 'norm')])

    def train(self, mode: bool = True) -> 'TransNeXt':
        super().train(mode)
        self._freeze_stages()
        return self

    def _positions(self, stage: int, hw: tuple[int, int], device: torch.device,
                   dtype: torch.dtype) -> dict:
        """Relative-position tables and local-window masks of one stage for one input size,
        on ``device`` and in ``dtype`` (the dtype of the stage's parameters)."""
        key = (stage, hw, str(device), dtype)
        if key not in self._pos_cache:
            grid = (self.pretrain_grids[stage], ) * 2
            sr = self.sr_ratios[stage]
            if sr == 1:
                pos = dict(pool=relative_position_table(hw, hw, grid, device, dtype))
            else:
                pooled = (max(hw[0] // sr, 1), max(hw[1] // sr, 1))
                pos = dict(pool=relative_position_table(hw, pooled, grid, device, dtype),
                           local=local_window_mask(hw, self.window_size, device))
            if len(self._pos_cache) > 64:
                self._pos_cache.clear()
            self._pos_cache[key] = pos
        return self._pos_cache[key]

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        outs = []
        for i in range(self.num_stages):
            x, hw = getattr(self, f'patch_embed{i + 1}')(x)
            blocks = getattr(self, f'block{i + 1}')
            # the tables feed the blocks' bias MLPs: their dtype, not the input's (autocast)
            pos = self._positions(i, hw, x.device, blocks[0].attn.cpb_fc1.weight.dtype)
            for block in blocks:
                x = block(x, hw, pos)
            x = getattr(self, f'norm{i + 1}')(x)
            x = x.transpose(1, 2).reshape(x.shape[0], -1, *hw)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)
