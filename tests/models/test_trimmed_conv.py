"""TrimmedConv2d: same-padded convolutions that skip the taps which only see padding.

The claim is exactness: on every map size, the trimmed convolution gives the untrimmed one's
output and the gradients of its input, weight and bias (checked in float64, where rounding
cannot hide a wrong tap), and switching a model changes no parameter or state_dict key.
"""
from __future__ import annotations

import pytest
import torch
from torch import nn

from bocb_mm.models.trimmed_conv import TrimmedConv2d, trim_padded_convs, trimmable


def _pair(conv: nn.Conv2d) -> tuple[nn.Conv2d, nn.Conv2d]:
    """``conv`` (float64) and a trimmed copy with the same parameters."""
    conv = conv.double()
    trimmed = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size,
                        padding=conv.padding, groups=conv.groups,
                        bias=conv.bias is not None).double()
    trimmed.load_state_dict(conv.state_dict())
    assert trim_padded_convs(trimmed) == 1 and type(trimmed) is TrimmedConv2d
    return conv, trimmed


def _forward_backward(conv: nn.Module, x: torch.Tensor, grad: torch.Tensor) -> list[torch.Tensor]:
    x = x.clone().requires_grad_()
    out = conv(x)
    out.backward(grad)
    return [out.detach(), x.grad] + [p.grad for p in conv.parameters()]


@pytest.mark.parametrize('kernel', [3, 5, 7, (7, 3)])
@pytest.mark.parametrize('size', [(1, 1), (2, 2), (3, 3), (4, 4), (8, 8), (2, 5), (1, 4)])
@pytest.mark.parametrize('depthwise', [False, True])
@pytest.mark.parametrize('channels_last', [False, True])
def test_trimmed_equals_untrimmed(kernel, size, depthwise, channels_last):
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    channels = 6
    torch.manual_seed(0)
    conv, trimmed = _pair(nn.Conv2d(channels, channels, (kh, kw), padding=(kh // 2, kw // 2),
                                    groups=channels if depthwise else 1, bias=True))
    x = torch.randn(3, channels, *size, dtype=torch.float64)
    grad = torch.randn(3, channels, *size, dtype=torch.float64)
    if channels_last:  # what ChannelsLastHook does to the model and its batches
        trimmed = trimmed.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    expected, got = _forward_backward(conv, x, grad), _forward_backward(trimmed, x, grad)
    for want, have in zip(expected, got):
        torch.testing.assert_close(have, want, rtol=1e-12, atol=1e-12)
    reach_h, reach_w = min(kh, 2 * size[0] - 1), min(kw, 2 * size[1] - 1)
    outer = torch.ones_like(trimmed.weight.grad, dtype=torch.bool)
    top, left = (kh - reach_h) // 2, (kw - reach_w) // 2
    outer[..., top:top + reach_h, left:left + reach_w] = False
    assert torch.all(trimmed.weight.grad[outer] == 0), 'a tap that only sees padding got a grad'


@pytest.mark.parametrize('conv, eligible', [
    (nn.Conv2d(4, 4, 3, padding=1), True),
    (nn.Conv2d(4, 4, 7, padding=3, groups=4), True),
    (nn.Conv2d(4, 4, 1), False),                              # nothing to trim
    (nn.Conv2d(4, 4, 3, padding=1, stride=2), False),
    (nn.Conv2d(4, 4, 3, padding=2, dilation=2), False),
    (nn.Conv2d(4, 4, 3, padding=0), False),                   # valid, not same, padding
    (nn.Conv2d(4, 4, 4, padding=2), False),                   # even kernel
    (nn.Conv2d(4, 4, 3, padding='same'), False),
    (nn.Conv2d(4, 4, 3, padding=1, padding_mode='reflect'), False),
    (nn.ConvTranspose2d(4, 4, 3, padding=1), False),
])
def test_only_same_padded_stride_one_convs_are_trimmable(conv, eligible):
    assert trimmable(conv) is eligible


@pytest.mark.parametrize('config, switched', [('mini-resnet', 14), ('mini-convnext', 3),
                                              ('mini-vit', 0)])
def test_mini_backbones_keep_their_function_and_checkpoint(config, switched):
    """The demo's mini backbones: same state_dict keys, outputs and gradients after switching."""
    pytest.importorskip('mmpretrain')
    from mmengine.config import Config
    from mmpretrain.registry import MODELS

    import bocb_mm  # noqa: F401
    from helpers import REPO

    model_cfg = Config.fromfile(f'{REPO}/configs/demo/{config}_digits.py').model
    torch.manual_seed(0)
    plain = MODELS.build(model_cfg).double().train()
    trimmed = MODELS.build(model_cfg).double().train()
    trimmed.load_state_dict(plain.state_dict())
    keys = list(plain.state_dict())
    assert trim_padded_convs(trimmed) == switched
    assert list(trimmed.state_dict()) == keys
    assert trim_padded_convs(trimmed) == 0, 'a second pass switched modules again'
    x = torch.randn(8, 3, 8, 8, dtype=torch.float64)
    results = []
    for model in (plain, trimmed):
        out = model.head(model.extract_feat(x))
        out.square().sum().backward()
        results.append([out.detach()] + [p.grad for p in model.parameters()])
    for want, have in zip(*results):
        torch.testing.assert_close(have, want, rtol=1e-10, atol=1e-12)
