"""Batched kernels: deterministic image operations on a whole batch, given its parameters.

Every kernel takes a batch of images as a float tensor ``(B, C, H, W)`` holding uint8 values
(0..255, integral) and the per-image parameters (offsets, boxes, magnitudes, masks) as tensors,
and returns the batch in the same form; nothing here draws random numbers (the transforms of
:mod:`.transforms` do). Given the parameters a kernel computes what the CPU transform of mmcv /
mmpretrain computes: exactly for crop, flip, erasing and the photometric ops of RandAugment
(OpenCV's float arithmetic included); up to the CPU library's fixed-point rounding (a grey
level, rarely) for the resizes; up to OpenCV's 1/32-pixel grid for the affine ops.

The mmcv photometric ops treat channel 0 as blue (``cv2.COLOR_BGR2GRAY``); the CIFAR pickles are
RGB, so the CPU pipeline's grey image weights R by 0.114 and B by 0.299. The kernels follow the
CPU pipeline here too (:func:`gray`), so both paths train on the same distribution.
"""
from __future__ import annotations

import functools
from typing import Any, Callable, Sequence

import torch
from torch import Tensor
from torch.nn.functional import conv2d, grid_sample, interpolate, pad

__all__ = ['crop_with_padding', 'flip', 'cv2_resize', 'pil_resize', 'affine_cv2', 'randaug_op',
           'erase', 'gray', 'PAD_MODES', 'RANDAUG_OPS', 'RANDAUG_GEOMETRIC']

#: cv2.COLOR_BGR2GRAY for uint8 in fixed point, (shift, weights of channels 0, 1, 2): OpenCV 5
#: (15 bits), OpenCV 4 (14 bits). The one the installed OpenCV uses is picked by _gray_fixed().
_GRAY_CANDIDATES = ((15, (3735, 19235, 9798)), (14, (1868, 9617, 4899)))


# ----------------------------------------------------------------------------- helpers
def _to_uint8_round(x: Tensor) -> Tensor:
    """Round half to even and saturate, as OpenCV's ``saturate_cast<uchar>``."""
    return x.round().clamp_(0, 255)


def _to_uint8_trunc(x: Tensor) -> Tensor:
    """Clip and truncate, as ``np.clip(x, 0, 255).astype(np.uint8)``."""
    return x.clamp(0, 255).floor_()


def _per_image(values: Tensor, ndim: int = 4) -> Tensor:
    """``(B,)`` -> ``(B, 1, 1, 1)`` for broadcasting over images."""
    return values.view(-1, *([1] * (ndim - 1)))


def _channel_values(value: float | Sequence[float], channels: int, like: Tensor) -> Tensor:
    """A per-channel fill value ``(1, C, 1, 1)`` from a number or a sequence."""
    values = [value] * channels if isinstance(value, (int, float)) else list(value)
    return torch.tensor(values, dtype=like.dtype, device=like.device).view(1, -1, 1, 1)


@functools.lru_cache(maxsize=1)
def _gray_fixed() -> tuple[int, tuple[int, int, int]]:
    """The fixed-point grey conversion of the installed OpenCV (mmcv's), checked on a sample."""
    try:
        import cv2
        import numpy as np
    except ImportError:  # pragma: no cover - mmcv always brings OpenCV
        return _GRAY_CANDIDATES[0]
    sample = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    ref = cv2.cvtColor(sample, cv2.COLOR_BGR2GRAY).astype(np.int64)
    q = sample.astype(np.int64)
    for shift, (w0, w1, w2) in _GRAY_CANDIDATES:
        y = (q[..., 0] * w0 + q[..., 1] * w1 + q[..., 2] * w2 + (1 << (shift - 1))) >> shift
        if (y == ref).all():
            return shift, (w0, w1, w2)
    return _GRAY_CANDIDATES[0]


def gray(imgs: Tensor) -> Tensor:
    """``cv2.cvtColor(img, COLOR_BGR2GRAY)`` of uint8-valued images, exactly: ``(B, 1, H, W)``."""
    shift, (w0, w1, w2) = _gray_fixed()
    q = imgs.to(torch.int32)
    y = (q[:, 0] * w0 + q[:, 1] * w1 + q[:, 2] * w2 + (1 << (shift - 1))) >> shift
    return y.unsqueeze(1).to(imgs.dtype)


def _blend(img: Tensor, degenerate: Tensor | float, factor: Tensor) -> Tensor:
    """``cv2.addWeighted(img, f, degenerate, 1 - f, 0)`` (mmcv's enhance ops), bit for bit.

    OpenCV computes ``fma(img, f, degenerate * (1 - f))`` with float32 weights; the fused
    multiply-add (one rounding) is emulated in float64. A float32 ``img * f + d * (1 - f)``
    differs in the last bit often enough to change the truncated grey level of ~1 % of pixels.
    """
    factor = factor.to(torch.float64)
    alpha = _per_image(factor.to(torch.float32).to(torch.float64))
    beta = _per_image((1 - factor).to(torch.float32).to(torch.float64))
    degenerate = torch.as_tensor(degenerate, dtype=torch.float64, device=img.device)
    rest = (degenerate * beta).to(torch.float32).to(torch.float64)
    return (img.to(torch.float64) * alpha + rest).to(torch.float32)


# ----------------------------------------------------------------------------- crop / flip
#: mmcv ``impad`` padding modes -> ``torch.nn.functional.pad`` modes (reflect is OpenCV's
#: REFLECT_101).
PAD_MODES = {'constant': 'constant', 'edge': 'replicate', 'reflect': 'reflect'}


def crop_with_padding(imgs: Tensor, top: Tensor, left: Tensor, size: tuple[int, int],
                      padding: int = 0, pad_val: float | Sequence[float] = 0,
                      padding_mode: str = 'constant') -> Tensor:
    """Pad every side by ``padding``, then crop ``size`` at (``top``, ``left``).

    Args:
        imgs: ``(B, C, H, W)`` images.
        top: ``(B,)`` integer row offsets into the padded images.
        left: ``(B,)`` integer column offsets into the padded images.
        size: ``(h, w)`` of the crop.
        padding: Pixels added on each side (mmcv ``impad`` with an int).
        pad_val: Fill value of ``'constant'`` padding, a number or one per channel.
        padding_mode: mmcv's ``'constant'``, ``'edge'`` or ``'reflect'``.

    Returns:
        ``(B, C, h, w)`` crops; equal to ``mmcv.impad`` + ``mmcv.imcrop`` image by image.
    """
    if padding and padding_mode == 'constant':
        fill = _channel_values(pad_val, imgs.shape[1], imgs)
        imgs = pad(imgs - fill, (padding,) * 4) + fill
    elif padding:
        imgs = pad(imgs, (padding,) * 4, mode=PAD_MODES[padding_mode])
    h, w = size
    rows = top.view(-1, 1) + torch.arange(h, device=imgs.device)
    cols = left.view(-1, 1) + torch.arange(w, device=imgs.device)
    batch = torch.arange(imgs.shape[0], device=imgs.device).view(-1, 1, 1)
    out = imgs.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]]
    return out.permute(0, 3, 1, 2).contiguous()


def flip(imgs: Tensor, flipped: Tensor, dim: int = -1) -> Tensor:
    """Flip the images where ``flipped`` is true (mmcv ``imflip``), leave the others.

    Args:
        imgs: ``(B, C, H, W)`` images.
        flipped: ``(B,)`` booleans.
        dim: ``-1`` flips horizontally, ``-2`` vertically.

    Returns:
        ``(B, C, H, W)`` images.
    """
    return torch.where(_per_image(flipped), imgs.flip(dim), imgs)


# ----------------------------------------------------------------------------- resizes
def cv2_resize(imgs: Tensor, size: tuple[int, int], interpolation: str = 'bilinear') -> Tensor:
    """``cv2.resize`` (mmcv's default backend) of the whole batch to ``size`` = (h, w).

    torch's ``interpolate`` (``align_corners=False``, replicated border, cubic a=-0.75) is
    OpenCV's formula; OpenCV computes it in fixed point, so values may differ by one grey level.
    """
    if interpolation == 'nearest':
        out = interpolate(imgs, size=size, mode='nearest')
    elif interpolation in ('bilinear', 'bicubic'):
        out = interpolate(imgs, size=size, mode=interpolation, align_corners=False)
    else:
        raise NotImplementedError(f'cv2_resize: interpolation {interpolation!r}')
    return _to_uint8_round(out)


def _pil_filter(name: str) -> tuple[Callable[[Tensor], Tensor], float]:
    """Pillow's resampling filter and its support (``libImaging/Resample.c``)."""
    if name == 'bicubic':
        a = -0.5

        def cubic(x: Tensor) -> Tensor:
            x = x.abs()
            near = ((a + 2.0) * x - (a + 3.0)) * x * x + 1
            far = (((x - 5) * x + 8) * x - 4) * a
            return torch.where(x < 1, near, torch.where(x < 2, far, torch.zeros_like(x)))
        return cubic, 2.0
    if name == 'bilinear':
        return (lambda x: (1 - x.abs()).clamp_(min=0)), 1.0
    raise NotImplementedError(f'pil_resize: interpolation {name!r}')


def _pil_weights(start: Tensor, length: Tensor, in_size: int, out_size: int,
                 interpolation: str) -> Tensor:
    """Pillow's resampling coefficients of a crop ``[start, start + length)`` per image.

    Returns ``(B, out_size, in_size)`` float64 weights (rows sum to 1) over the full input axis.
    """
    filt, support = _pil_filter(interpolation)
    length = length.to(torch.float64).view(-1, 1, 1)
    scale = length / out_size
    filterscale = scale.clamp(min=1.0)
    center = (torch.arange(out_size, device=start.device, dtype=torch.float64).view(1, -1, 1)
              + 0.5) * scale
    rel = (torch.arange(in_size, device=start.device, dtype=torch.float64).view(1, 1, -1)
           - start.to(torch.float64).view(-1, 1, 1))
    weights = filt((rel - center + 0.5) / filterscale)
    inside = (rel >= 0) & (rel < length) & ((rel + 0.5 - center).abs() < support * filterscale)
    weights = torch.where(inside, weights, torch.zeros_like(weights))
    total = weights.sum(-1, keepdim=True)
    return weights / torch.where(total == 0, torch.ones_like(total), total)


def pil_resize(imgs: Tensor, boxes: Tensor, size: tuple[int, int],
               interpolation: str = 'bicubic') -> Tensor:
    """Crop ``boxes`` and resize each crop to ``size`` as Pillow does (``mmcv.imresize``, pillow).

    Pillow resamples separably, horizontal pass first, rounding to uint8 after each pass; the
    same is done here with one batched matrix product per pass (Pillow's fixed point can give
    one grey level of difference).

    Args:
        imgs: ``(B, C, H, W)`` uint8-valued images.
        boxes: ``(B, 4)`` integer ``(top, left, height, width)`` per image.
        size: Output ``(h, w)``.
        interpolation: ``'bicubic'`` or ``'bilinear'``.

    Returns:
        ``(B, C, h, w)`` uint8-valued images.
    """
    _, _, h_in, w_in = imgs.shape
    top, left, height, width = boxes.unbind(1)
    wx = _pil_weights(left, width, w_in, size[1], interpolation).to(imgs.dtype)
    wy = _pil_weights(top, height, h_in, size[0], interpolation).to(imgs.dtype)
    rows = torch.matmul(imgs, wx.transpose(1, 2).unsqueeze(1))  # (B, C, H, w)
    rows = (rows + 0.5).floor_().clamp_(0, 255)
    out = torch.matmul(wy.unsqueeze(1), rows)  # (B, C, h, w)
    return (out + 0.5).floor_().clamp_(0, 255)


# ----------------------------------------------------------------------------- RandAugment ops
def affine_cv2(imgs: Tensor, matrix: Tensor, pad_val: float | Sequence[float],
               interpolation: str = 'bicubic') -> Tensor:
    """``cv2.warpAffine(img, M, (w, h), borderValue=pad_val)`` per image, batched.

    Args:
        imgs: ``(B, C, H, W)`` uint8-valued images.
        matrix: ``(B, 2, 3)`` forward (source -> destination) matrices in pixel coordinates,
            as passed to ``cv2.warpAffine``.
        pad_val: Constant border value (number or one per channel).
        interpolation: ``'nearest'``, ``'bilinear'`` or ``'bicubic'``.

    Returns:
        ``(B, C, H, W)`` uint8-valued images (OpenCV samples on a 1/32-pixel grid in fixed
        point; this samples exactly, so edges may differ by a few grey levels).
    """
    b, c, h, w = imgs.shape
    m = matrix.to(torch.float64)
    a, t = m[:, :, :2], m[:, :, 2:]
    inv = torch.linalg.inv(a)
    ys, xs = torch.meshgrid(torch.arange(h, device=imgs.device, dtype=torch.float64),
                            torch.arange(w, device=imgs.device, dtype=torch.float64),
                            indexing='ij')
    dst = torch.stack([xs.flatten(), ys.flatten()], 0).unsqueeze(0) - t  # (B, 2, HW)
    src = torch.bmm(inv, dst)  # (B, 2, HW) source pixel coordinates
    grid = torch.stack([src[:, 0] * (2 / max(w - 1, 1)) - 1,
                        src[:, 1] * (2 / max(h - 1, 1)) - 1], -1).view(b, h, w, 2)
    fill = _channel_values(pad_val, c, imgs)
    out = grid_sample(imgs - fill, grid.to(imgs.dtype), mode=interpolation,
                        padding_mode='zeros', align_corners=True) + fill
    return _to_uint8_round(out)


def _rotate_matrix(angle: Tensor, h: int, w: int) -> Tensor:
    """mmcv ``imrotate`` (clockwise degrees about the centre): ``getRotationMatrix2D(-angle)``."""
    rad = torch.deg2rad(-angle.to(torch.float64))
    alpha, beta = torch.cos(rad), torch.sin(rad)
    cx, cy = (w - 1) * 0.5, (h - 1) * 0.5
    row0 = torch.stack([alpha, beta, (1 - alpha) * cx - beta * cy], -1)
    row1 = torch.stack([-beta, alpha, beta * cx + (1 - alpha) * cy], -1)
    return torch.stack([row0, row1], 1)


def _sparse_affine(value: Tensor, row: int, col: int) -> Tensor:
    """``(B, 2, 3)`` identity affine matrices with ``value`` at ``[row, col]`` (shear, shift)."""
    matrix = torch.eye(2, 3, dtype=torch.float64, device=value.device).repeat(len(value), 1, 1)
    matrix[:, row, col] = value.to(torch.float64)
    return matrix


def _auto_contrast(imgs: Tensor) -> Tensor:
    """mmcv ``auto_contrast`` (cutoff 0): a float64 LUT per image and channel, truncated."""
    low = imgs.amin(dim=(-2, -1), keepdim=True).to(torch.float64)
    high = imgs.amax(dim=(-2, -1), keepdim=True).to(torch.float64)
    scale = 255.0 / torch.where(high > low, high - low, torch.ones_like(high))
    mapped = (imgs.to(torch.float64) * scale + (-low * scale)).clamp_(0, 255).floor_()
    return torch.where(high > low, mapped.to(imgs.dtype), imgs)


def _equalize(imgs: Tensor) -> Tensor:
    """mmcv ``imequalize`` = Pillow's ``ImageOps.equalize``: torchvision's batched equalize."""
    from torchvision.transforms.v2.functional import equalize
    return equalize(imgs.to(torch.uint8)).to(imgs.dtype)


def _posterize(imgs: Tensor, bits: Tensor) -> Tensor:
    shift = _per_image((8 - bits).to(torch.int32))
    q = imgs.to(torch.int32)
    return ((q >> shift) << shift).to(imgs.dtype)


def _sharpness_degenerate(imgs: Tensor) -> Tensor:
    """``cv2.filter2D(img, -1, SMOOTH / 13)`` (reflect-101 border), rounded: exact in float."""
    kernel = torch.ones(3, 3, dtype=imgs.dtype, device=imgs.device)
    kernel[1, 1] = 5
    c = imgs.shape[1]
    padded = pad(imgs, (1, 1, 1, 1), mode='reflect')
    total = conv2d(padded, kernel.expand(c, 1, 3, 3), groups=c)
    return _to_uint8_round(total / 13)


def randaug_op(name: str, imgs: Tensor, magnitude: Tensor, *, pad_val: Any = 128,
               interpolation: str = 'bicubic', thr: float = 128,
               direction: str = 'horizontal') -> Tensor:
    """One RandAugment op of mmpretrain applied to every image with its own magnitude.

    Args:
        name: The mmpretrain transform name (``'Rotate'``, ``'Posterize'`` ...).
        imgs: ``(B, C, H, W)`` uint8-valued images.
        magnitude: ``(B,)`` float64 signed magnitudes, as the CPU op passes them to mmcv
            (angle in degrees, bits, threshold, ``factor - 1``, shear, translate fraction).
        pad_val: Border fill of the geometric ops.
        interpolation: Interpolation of the geometric ops.
        thr: ``SolarizeAdd``'s threshold.
        direction: Direction of ``Shear`` / ``Translate``.

    Returns:
        The transformed ``(B, C, H, W)`` images.
    """
    _, _, h, w = imgs.shape
    m = magnitude.to(torch.float64)
    if name == 'AutoContrast':
        return _auto_contrast(imgs)
    if name == 'Equalize':
        return _equalize(imgs)
    if name == 'Invert':
        return 255 - imgs
    if name == 'Posterize':
        return _posterize(imgs, torch.ceil(m))
    if name == 'Solarize':
        thr_b = _per_image(m).to(imgs.dtype)
        return torch.where(imgs < thr_b, imgs, 255 - imgs)
    if name == 'SolarizeAdd':
        added = (imgs.to(torch.float64) + _per_image(m)).clamp_(max=255).floor_()
        return torch.where(imgs < thr, added.to(imgs.dtype), imgs)
    if name == 'ColorTransform':
        return _to_uint8_round(_blend(imgs, gray(imgs), 1 + m)).to(imgs.dtype)
    if name == 'Contrast':
        mean = gray(imgs).to(torch.float64).mean(dim=(1, 2, 3)).round()
        return _to_uint8_trunc(_blend(imgs, _per_image(mean), 1 + m)).to(imgs.dtype)
    if name == 'Brightness':
        return _to_uint8_trunc(_blend(imgs, 0.0, 1 + m)).to(imgs.dtype)
    if name == 'Sharpness':
        degenerate = _sharpness_degenerate(imgs)
        return _to_uint8_trunc(_blend(imgs, degenerate, 1 + m)).to(imgs.dtype)
    return affine_cv2(imgs, _affine(name, m, h, w, direction), pad_val, interpolation)


def _affine(name: str, m: Tensor, h: int, w: int, direction: str) -> Tensor:
    """The forward matrix mmcv builds for a geometric RandAugment op."""
    horizontal = direction == 'horizontal'
    if name == 'Rotate':
        return _rotate_matrix(m, h, w)
    if name == 'Shear':  # mmcv: [[1, m, 0], [0, 1, 0]] / [[1, 0, 0], [m, 1, 0]]
        return _sparse_affine(m, 0, 1) if horizontal else _sparse_affine(m, 1, 0)
    if name == 'Translate':  # mmcv: offset = magnitude * width (height)
        return _sparse_affine(m * w, 0, 2) if horizontal else _sparse_affine(m * h, 1, 2)
    raise NotImplementedError(f'BatchRandAugment: no batched op for {name!r}')


#: The photometric ops of mmpretrain's RandAugment that :func:`randaug_op` computes.
RANDAUG_PHOTOMETRIC = ('AutoContrast', 'Equalize', 'Invert', 'Posterize', 'Solarize',
                       'SolarizeAdd', 'ColorTransform', 'Contrast', 'Brightness', 'Sharpness')
#: Its geometric (affine) ops.
RANDAUG_GEOMETRIC = ('Rotate', 'Shear', 'Translate')
#: Every op :func:`randaug_op` computes.
RANDAUG_OPS = RANDAUG_PHOTOMETRIC + RANDAUG_GEOMETRIC


# ----------------------------------------------------------------------------- erasing
def erase(imgs: Tensor, erased: Tensor, boxes: Tensor, fill: Tensor) -> Tensor:
    """Replace one rectangle per image by the pixels of ``fill`` there (mmpretrain's erasing).

    Args:
        imgs: ``(B, C, H, W)`` images.
        erased: ``(B,)`` booleans: which images get their rectangle replaced.
        boxes: ``(B, 4)`` integer ``(top, left, height, width)`` rectangles.
        fill: ``(B, C, H, W)`` replacement pixels (or a tensor broadcast to that shape).

    Returns:
        ``(B, C, H, W)`` images.
    """
    _, _, height, width = imgs.shape
    top, left, h, w = (v.view(-1, 1, 1, 1) for v in boxes.unbind(1))
    rows = torch.arange(height, device=imgs.device).view(1, 1, -1, 1)
    cols = torch.arange(width, device=imgs.device).view(1, 1, 1, -1)
    inside = (rows >= top) & (rows < top + h) & (cols >= left) & (cols < left + w)
    return torch.where(inside & _per_image(erased), fill, imgs)
