"""Same-padded convolutions that skip the kernel taps which can only ever see padding.

A stride-1, dilation-1 convolution with an odd ``K x K`` kernel and zero padding ``K // 2``
reads, for an output pixel ``i``, the input pixels ``i - K // 2 .. i + K // 2``. On a feature
map of height ``H`` only offsets ``|d| <= H - 1`` can land on a real pixel; every tap further
out multiplies zeros of the padding, for every output pixel. So on that map the convolution is
exactly the one with the centre ``min(K, 2H - 1)`` rows (and likewise columns) of its kernel and
padding ``min(K // 2, H - 1)``; the outer taps get an exactly zero gradient either way.

Small maps with big kernels are common in the study's CIFAR variants and in the demo's mini
backbones: ConvNeXt's 7 x 7 depthwise kernels on a 2 x 2 last stage (a 3 x 3 kernel does the
same work), a CIFAR ResNet's 3 x 3 kernels on a 1 x 1 last stage (a 1 x 1 kernel).
``tools/benchmark/train_step.py`` measures the step time with and without trimming
(docs/benchmarks.md).

:func:`trim_padded_convs` switches the eligible ``nn.Conv2d`` modules of a model to
:class:`TrimmedConv2d` in place: parameters, ``state_dict`` keys and checkpoints do not change,
so an optimizer already built over the model keeps working.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ['TrimmedConv2d', 'trim_padded_convs', 'trimmable']


def _span(kernel: int, size: int) -> int:
    """The kernel extent that can touch a real pixel on a map of ``size`` pixels."""
    return min(kernel, 2 * size - 1)


class TrimmedConv2d(nn.Conv2d):
    """``nn.Conv2d`` (same padding, stride 1) that drops the taps which only see padding.

    Built by :func:`trim_padded_convs` from an eligible ``nn.Conv2d`` (see :func:`trimmable`);
    its output equals the untrimmed convolution's up to float rounding, and so do the
    gradients of its input, weight and bias.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Convolve ``x`` with the part of the kernel that reaches real pixels."""
        (kh, kw), (h, w) = self.kernel_size, x.shape[-2:]
        eh, ew = _span(kh, h), _span(kw, w)
        if (eh, ew) == (kh, kw):
            return super().forward(x)
        top, left = (kh - eh) // 2, (kw - ew) // 2
        weight = self.weight[:, :, top:top + eh, left:left + ew]
        return F.conv2d(x, weight, self.bias, 1, (eh // 2, ew // 2), 1, self.groups)


def trimmable(module: nn.Module) -> bool:
    """Whether ``module`` is a plain ``nn.Conv2d`` that :class:`TrimmedConv2d` can stand in for.

    That is: odd kernel larger than 1, stride 1, dilation 1, zero padding of ``kernel // 2``
    given as numbers (not ``'same'``).
    """
    if type(module) is not nn.Conv2d:
        return False
    padding = module.padding
    return (module.stride == (1, 1) and module.dilation == (1, 1)
            and module.padding_mode == 'zeros' and isinstance(padding, tuple)
            and max(module.kernel_size) > 1
            and all(k % 2 == 1 and p == k // 2 for k, p in zip(module.kernel_size, padding)))


def trim_padded_convs(model: nn.Module) -> int:
    """Switch every :func:`trimmable` convolution of ``model`` to :class:`TrimmedConv2d`.

    Args:
        model: Any module; changed in place (the modules' classes, nothing else).

    Returns:
        How many convolutions were switched.
    """
    count = 0
    for module in model.modules():
        if trimmable(module):
            module.__class__ = TrimmedConv2d
            count += 1
    return count
