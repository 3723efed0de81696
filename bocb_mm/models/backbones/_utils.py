"""Small helpers shared by the bocb_mm backbones (argument checks, freezing, default init)."""
from __future__ import annotations

import math
from typing import Iterable, Sequence, Union

import torch.nn as nn
from torch.nn.modules.batchnorm import _BatchNorm


def parse_out_indices(out_indices: Union[int, Sequence[int]], num_stages: int) -> tuple[int, ...]:
    """Normalise ``out_indices`` to a sorted tuple of non-negative stage indices.

    Args:
        out_indices: One index or a sequence of indices; negative values count from the end.
        num_stages: Number of stages of the backbone.

    Returns:
        The indices as a sorted tuple of ints in ``[0, num_stages)``.

    Raises:
        ValueError: If an index is out of range.
    """
    if isinstance(out_indices, int):
        out_indices = [out_indices]
    parsed = []
    for index in out_indices:
        pos = index + num_stages if index < 0 else index
        if not 0 <= pos < num_stages:
            raise ValueError(f'Invalid out_indices {index} for a backbone with {num_stages} stages')
        parsed.append(int(pos))
    return tuple(sorted(set(parsed)))


def freeze(modules: Iterable[nn.Module]) -> None:
    """Put modules in eval mode and stop the gradients of their parameters."""
    for module in modules:
        module.eval()
        for param in module.parameters():
            param.requires_grad = False


def set_bn_eval(module: nn.Module) -> None:
    """Put every batch-norm layer inside ``module`` in eval mode (``norm_eval`` for transfer)."""
    for m in module.modules():
        if isinstance(m, _BatchNorm):
            m.eval()


def conv_fan_out_init(module: nn.Module) -> None:
    """The ImageNet initialisation of MogaNet/TransNeXt-style networks for one module.

    Conv: normal with std ``sqrt(2 / fan_out)`` (fan-out divided by groups); Linear: truncated
    normal std 0.02; norms: weight 1, bias 0.
    """
    if isinstance(module, nn.Conv2d):
        fan_out = module.kernel_size[0] * module.kernel_size[1] * module.out_channels
        fan_out //= module.groups
        nn.init.normal_(module.weight, 0.0, math.sqrt(2.0 / fan_out))
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.Linear):
        nn.init.trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, (_BatchNorm, nn.LayerNorm, nn.GroupNorm)):
        if module.weight is not None:
            nn.init.ones_(module.weight)
        if module.bias is not None:
            nn.init.zeros_(module.bias)


def trunc_normal_init(module: nn.Module) -> None:
    """timm-style initialisation: conv and linear weights truncated normal std 0.02, bias 0."""
    if isinstance(module, (nn.Conv2d, nn.Linear)):
        nn.init.trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, (_BatchNorm, nn.LayerNorm, nn.GroupNorm)):
        if module.weight is not None:
            nn.init.ones_(module.weight)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
