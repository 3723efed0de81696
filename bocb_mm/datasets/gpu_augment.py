"""Batched, on-device counterparts of the CIFAR recipes' per-image CPU transforms.

Each op takes a batch of images as a float tensor ``(B, C, H, W)`` holding uint8 values
(0..255, integral), draws one set of random parameters per image on the batch's device and
returns the augmented batch in the same form. The ops are configured with the same dicts as the
CPU pipeline (``dict(type='RandomCrop', crop_size=32, padding=4)`` ...), sample their parameters
from the same distributions as mmpretrain / mmcv, and given the parameters compute what the CPU
transform computes: exactly for crop, flip and the photometric ops of RandAugment (OpenCV's
float arithmetic included); up to the CPU library's fixed-point rounding (a grey level, rarely)
for the resizes; up to OpenCV's 1/32-pixel grid for the affine ops of RandAugment.

The mmcv photometric ops treat channel 0 as blue (``cv2.COLOR_BGR2GRAY``); the CIFAR pickles are
RGB, so the CPU pipeline's grey image weights R by 0.114 and B by 0.299. The batched ops follow
the CPU pipeline here too (``gray_weights``), so both paths train on the same distribution.

:func:`build_batch_pipeline` turns a CPU pipeline (without ``PackInputs``) into a
:class:`BatchPipeline`; :func:`use_gpu_data_path` rewrites a loaded config so that its loaders
hand out raw uint8 images and :class:`bocb_mm.models.GPUAugDataPreprocessor` runs the pipeline.
"""
from __future__ import annotations

import copy
import functools
import math
from typing import Any, Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ['BatchPipeline', 'BatchRandomCrop', 'BatchRandomFlip', 'BatchResize',
           'BatchRandomResizedCrop', 'BatchRandAugment', 'BatchRandomErasing', 'BATCH_OPS',
           'build_batch_pipeline', 'use_gpu_data_path', 'crop_with_padding', 'pil_resize',
           'cv2_resize', 'affine_cv2', 'randaug_op']

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


def _pair(value: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(value, (int, float)):
        return int(value), int(value)
    if len(value) != 2:
        raise ValueError(f'expected an int or (h, w), got {value!r}')
    return int(value[0]), int(value[1])


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
#: mmcv ``impad`` padding modes -> torch ``F.pad`` modes (reflect is OpenCV's REFLECT_101).
_PAD_MODES = {'constant': 'constant', 'edge': 'replicate', 'reflect': 'reflect'}


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
        imgs = F.pad(imgs - fill, (padding,) * 4) + fill
    elif padding:
        imgs = F.pad(imgs, (padding,) * 4, mode=_PAD_MODES[padding_mode])
    h, w = size
    rows = top.view(-1, 1) + torch.arange(h, device=imgs.device)
    cols = left.view(-1, 1) + torch.arange(w, device=imgs.device)
    batch = torch.arange(imgs.shape[0], device=imgs.device).view(-1, 1, 1)
    out = imgs.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]]
    return out.permute(0, 3, 1, 2).contiguous()


class BatchRandomCrop:
    """mmpretrain ``RandomCrop`` (``crop_size``, ``padding``, ``pad_val``), batched.

    Offsets are uniform over the padded image, as ``np.random.randint(0, h - th + 1)``.
    ``padding_mode`` applies to ``padding``, as it does in the CPU transform once bocb_mm is
    imported (``bocb_mm.compat``; mmpretrain 1.2 alone ignores it there).
    """

    def __init__(self, crop_size: int | Sequence[int], padding: int | None = None,
                 pad_val: float | Sequence[float] = 0, padding_mode: str = 'constant',
                 pad_if_needed: bool = False) -> None:
        if pad_if_needed or not isinstance(padding, (int, type(None))):
            raise NotImplementedError('BatchRandomCrop supports an int padding without '
                                      'pad_if_needed (the CIFAR recipes)')
        if padding_mode not in _PAD_MODES:
            raise NotImplementedError(f'BatchRandomCrop: padding_mode={padding_mode!r}; '
                                      f'supported: {", ".join(_PAD_MODES)}')
        self.crop_size = _pair(crop_size)
        self.padding = padding or 0
        self.pad_val = pad_val
        self.padding_mode = padding_mode

    def params(self, batch: int, height: int, width: int, device: torch.device
               ) -> tuple[Tensor, Tensor]:
        """Random (top, left) offsets into the padded images, ``(B,)`` each."""
        h, w = height + 2 * self.padding, width + 2 * self.padding
        th, tw = min(self.crop_size[0], h), min(self.crop_size[1], w)
        top = torch.randint(0, h - th + 1, (batch,), device=device)
        left = torch.randint(0, w - tw + 1, (batch,), device=device)
        return top, left

    def __call__(self, imgs: Tensor) -> Tensor:
        b, _, h, w = imgs.shape
        top, left = self.params(b, h, w, imgs.device)
        size = (min(self.crop_size[0], h + 2 * self.padding),
                min(self.crop_size[1], w + 2 * self.padding))
        return crop_with_padding(imgs, top, left, size, self.padding, self.pad_val,
                                 self.padding_mode)


class BatchRandomFlip:
    """mmcv ``RandomFlip`` with one probability and one direction, batched."""

    def __init__(self, prob: float = 0.5, direction: str = 'horizontal') -> None:
        if direction not in ('horizontal', 'vertical') or not isinstance(prob, (int, float)):
            raise NotImplementedError('BatchRandomFlip supports one prob and a horizontal or '
                                      'vertical direction')
        self.prob = float(prob)
        self.dim = -1 if direction == 'horizontal' else -2

    def __call__(self, imgs: Tensor) -> Tensor:
        flip = torch.rand(imgs.shape[0], device=imgs.device) < self.prob
        return torch.where(_per_image(flip), imgs.flip(self.dim), imgs)


# ----------------------------------------------------------------------------- resizes
def cv2_resize(imgs: Tensor, size: tuple[int, int], interpolation: str = 'bilinear') -> Tensor:
    """``cv2.resize`` (mmcv's default backend) of the whole batch to ``size`` = (h, w).

    torch's ``interpolate`` (``align_corners=False``, replicated border, cubic a=-0.75) is
    OpenCV's formula; OpenCV computes it in fixed point, so values may differ by one grey level.
    """
    if interpolation == 'nearest':
        out = F.interpolate(imgs, size=size, mode='nearest')
    elif interpolation in ('bilinear', 'bicubic'):
        out = F.interpolate(imgs, size=size, mode=interpolation, align_corners=False)
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


class BatchResize:
    """mmcv ``Resize`` to a fixed ``scale`` (no ``keep_ratio``), cv2 backend, batched."""

    def __init__(self, scale: int | Sequence[int], interpolation: str = 'bilinear',
                 backend: str = 'cv2', keep_ratio: bool = False) -> None:
        if keep_ratio or backend != 'cv2':
            raise NotImplementedError('BatchResize supports a fixed scale with the cv2 backend')
        w, h = _pair(scale)  # mmcv's scale is (w, h)
        self.size = (h, w)
        self.interpolation = interpolation

    def __call__(self, imgs: Tensor) -> Tensor:
        return cv2_resize(imgs, self.size, self.interpolation)


class BatchRandomResizedCrop:
    """mmpretrain ``RandomResizedCrop`` (pillow backend), batched.

    The crop is drawn as mmpretrain draws it: up to ``max_attempts`` (area, log-aspect) pairs,
    the first that fits, else the central fallback; all attempts are drawn at once per batch.
    """

    def __init__(self, scale: int | Sequence[int],
                 crop_ratio_range: tuple[float, float] = (0.08, 1.0),
                 aspect_ratio_range: tuple[float, float] = (3. / 4., 4. / 3.),
                 max_attempts: int = 10, interpolation: str = 'bilinear',
                 backend: str = 'cv2') -> None:
        if backend != 'pillow':
            raise NotImplementedError('BatchRandomResizedCrop reproduces the pillow backend '
                                      '(the recipes use it)')
        self.size = _pair(scale)
        self.crop_ratio_range = tuple(crop_ratio_range)
        self.aspect_ratio_range = tuple(aspect_ratio_range)
        self.max_attempts = max_attempts
        self.interpolation = interpolation

    def params(self, batch: int, height: int, width: int, device: torch.device) -> Tensor:
        """``(B, 4)`` integer ``(top, left, height, width)`` crop boxes."""
        shape = (batch, self.max_attempts)
        f64 = dict(device=device, dtype=torch.float64)
        lo, hi = self.crop_ratio_range
        area = (torch.rand(shape, **f64) * (hi - lo) + lo) * (height * width)
        log_lo, log_hi = (math.log(r) for r in self.aspect_ratio_range)
        ratio = torch.exp(torch.rand(shape, **f64) * (log_hi - log_lo) + log_lo)
        tw = torch.sqrt(area * ratio).round()
        th = torch.sqrt(area / ratio).round()
        ok = (tw > 0) & (tw <= width) & (th > 0) & (th <= height)
        first = torch.argmax(ok.to(torch.int8), dim=1, keepdim=True)  # first fitting attempt
        found = ok.any(dim=1)
        tw, th = tw.gather(1, first).squeeze(1), th.gather(1, first).squeeze(1)
        fb_h, fb_w = self._fallback(height, width)
        th = torch.where(found, th, torch.full_like(th, fb_h))
        tw = torch.where(found, tw, torch.full_like(tw, fb_w))
        u_top, u_left = torch.rand(batch, **f64), torch.rand(batch, **f64)
        top = torch.where(found, (u_top * (height - th + 1)).floor(),
                          torch.full_like(th, (height - fb_h) // 2))
        left = torch.where(found, (u_left * (width - tw + 1)).floor(),
                           torch.full_like(tw, (width - fb_w) // 2))
        return torch.stack([top, left, th, tw], dim=1).to(torch.long)

    def _fallback(self, height: int, width: int) -> tuple[int, int]:
        in_ratio = width / height
        if in_ratio < min(self.aspect_ratio_range):
            return int(round(width / min(self.aspect_ratio_range))), width
        if in_ratio > max(self.aspect_ratio_range):
            return height, int(round(height * max(self.aspect_ratio_range)))
        return height, width

    def __call__(self, imgs: Tensor) -> Tensor:
        b, _, h, w = imgs.shape
        boxes = self.params(b, h, w, imgs.device)
        return pil_resize(imgs, boxes, self.size, self.interpolation)


# ----------------------------------------------------------------------------- RandAugment
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
    out = F.grid_sample(imgs - fill, grid.to(imgs.dtype), mode=interpolation,
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
    from torchvision.transforms.v2 import functional as TF
    return TF.equalize(imgs.to(torch.uint8)).to(imgs.dtype)


def _posterize(imgs: Tensor, bits: Tensor) -> Tensor:
    shift = _per_image((8 - bits).to(torch.int32))
    q = imgs.to(torch.int32)
    return ((q >> shift) << shift).to(imgs.dtype)


def _sharpness_degenerate(imgs: Tensor) -> Tensor:
    """``cv2.filter2D(img, -1, SMOOTH / 13)`` (reflect-101 border), rounded: exact in float."""
    kernel = torch.ones(3, 3, dtype=imgs.dtype, device=imgs.device)
    kernel[1, 1] = 5
    c = imgs.shape[1]
    padded = F.pad(imgs, (1, 1, 1, 1), mode='reflect')
    total = F.conv2d(padded, kernel.expand(c, 1, 3, 3), groups=c)
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


_GEOMETRIC = ('Rotate', 'Shear', 'Translate')
#: Ops whose magnitude mmpretrain never negates (``random_negative_prob=0``).
_NEVER_NEGATIVE = ('Posterize', 'Solarize', 'SolarizeAdd')


class BatchRandAugment:
    """mmpretrain ``RandAugment`` (``policies``, ``num_policies``, magnitudes), batched.

    Per image and per slot (``num_policies`` slots, ops drawn with replacement as
    ``np.random.choice``), the chosen op runs with its probability (0.5 by default), a magnitude
    ``N(magnitude_level, magnitude_std)`` clipped to ``[0, total_level]`` (uniform for
    ``'inf'``) mapped linearly to the op's ``magnitude_range``, and a random sign. Per slot the
    images are grouped by the op they drew and each op runs on its group only (one host
    synchronisation per slot for the group sizes), with the policy's own ``pad_val`` and
    ``interpolation``.
    """

    def __init__(self, policies: str | list[dict], num_policies: int, magnitude_level: float,
                 magnitude_std: float | str = 0., total_level: float = 10,
                 hparams: dict | None = None) -> None:
        if isinstance(policies, str):
            from mmpretrain.datasets.transforms.auto_augment import RANDAUG_POLICIES
            policies = RANDAUG_POLICIES[policies]
        hparams = dict(pad_val=128) if hparams is None else dict(hparams)
        self.policies = [self._merge(dict(p), hparams) for p in policies]
        for policy in self.policies:
            if policy['type'] not in _OP_NAMES:
                raise NotImplementedError(f'BatchRandAugment: no batched op for {policy["type"]}')
        self.num_policies = num_policies
        self.magnitude_level = magnitude_level
        self.magnitude_std = magnitude_std
        self.total_level = total_level

    @staticmethod
    def _merge(policy: dict, hparams: dict) -> dict:
        """mmpretrain's ``merge_hparams``: the geometric ops take pad_val / interpolation."""
        if policy['type'] in _GEOMETRIC:
            for key in ('pad_val', 'interpolation'):
                if key in hparams:
                    policy.setdefault(key, hparams[key])
        policy.setdefault('prob', 0.5)
        default_neg = 0.0 if policy['type'] in _NEVER_NEGATIVE else 0.5
        policy.setdefault('random_negative_prob', default_neg)
        policy.setdefault('interpolation', 'bicubic' if policy['type'] == 'Shear' else 'nearest')
        policy.setdefault('pad_val', 128)
        return policy

    def magnitudes(self, policy: dict, batch: int, device: torch.device) -> Tensor:
        """``(B,)`` float64 signed magnitudes of ``policy``, as mmpretrain draws them."""
        f64 = dict(device=device, dtype=torch.float64)
        if 'magnitude_range' not in policy:
            fixed = next((policy[k] for k in ('magnitude', 'angle', 'bits', 'thr')
                          if policy.get(k) is not None), 0.0)
            level = torch.full((batch,), float(fixed), **f64)
        else:
            level = torch.full((batch,), float(self.magnitude_level), **f64)
            if self.magnitude_std == 'inf':
                level = torch.rand(batch, **f64) * self.magnitude_level
            elif self.magnitude_std > 0:
                level = (level + torch.randn(batch, **f64) * self.magnitude_std).clamp_(
                    0, self.total_level)
            val1, val2 = policy['magnitude_range']
            level = level / self.total_level * (val2 - val1) + val1
        negative = torch.rand(batch, **f64) < policy['random_negative_prob']
        return torch.where(negative, -level, level)

    def __call__(self, imgs: Tensor) -> Tensor:
        for _ in range(self.num_policies):
            imgs = self._slot(imgs)
        return imgs

    def _slot(self, imgs: Tensor) -> Tensor:
        """One slot: each image draws a policy and applies it with the policy's probability.

        The images are grouped by the op they apply (one host synchronisation for the group
        sizes); each op runs once, on its group only.
        """
        b, device = imgs.shape[0], imgs.device
        n = len(self.policies)
        choice = torch.randint(0, n, (b,), device=device)
        probs = torch.tensor([p['prob'] for p in self.policies], device=device)
        choice = torch.where(torch.rand(b, device=device) < probs[choice], choice, n)  # n: none
        order = torch.argsort(choice, stable=True)
        groups = torch.split(order, torch.bincount(choice, minlength=n + 1).tolist())
        out = imgs.clone()
        for policy, idx in zip(self.policies, groups):
            if len(idx):
                out[idx] = self._apply(policy, imgs[idx])
        return out

    def _apply(self, policy: dict, imgs: Tensor) -> Tensor:
        """``policy``'s op on ``imgs``, with a magnitude drawn per image."""
        magnitude = self.magnitudes(policy, imgs.shape[0], imgs.device)
        return randaug_op(policy['type'], imgs, magnitude, pad_val=policy['pad_val'],
                          interpolation=policy['interpolation'], thr=policy.get('thr', 128),
                          direction=policy.get('direction', 'horizontal'))


_OP_NAMES = ('AutoContrast', 'Equalize', 'Invert', 'Posterize', 'Solarize', 'SolarizeAdd',
             'ColorTransform', 'Contrast', 'Brightness', 'Sharpness') + _GEOMETRIC


# ----------------------------------------------------------------------------- erasing
class BatchRandomErasing:
    """mmpretrain ``RandomErasing`` (one rectangle per image with ``erase_prob``), batched."""

    def __init__(self, erase_prob: float = 0.5, min_area_ratio: float = 0.02,
                 max_area_ratio: float = 0.4, aspect_range: Sequence[float] = (3 / 10, 10 / 3),
                 mode: str = 'const', fill_color: Sequence[float] = (128, 128, 128),
                 fill_std: Sequence[float] | None = None) -> None:
        if isinstance(aspect_range, (int, float)):
            aspect_range = (min(aspect_range, 1 / aspect_range),
                            max(aspect_range, 1 / aspect_range))
        self.erase_prob = erase_prob
        self.area_range = (min_area_ratio, max_area_ratio)
        self.aspect_range = tuple(aspect_range)
        self.mode = mode
        self.fill_color = fill_color
        self.fill_std = fill_std

    def params(self, batch: int, height: int, width: int, device: torch.device
               ) -> tuple[Tensor, Tensor]:
        """``(B,)`` on/off and ``(B, 4)`` integer ``(top, left, h, w)`` rectangles."""
        f64 = dict(device=device, dtype=torch.float64)
        on = torch.rand(batch, **f64) <= self.erase_prob
        log_lo, log_hi = (math.log(float(torch.tensor(a, dtype=torch.float32)))
                          for a in self.aspect_range)
        aspect = torch.exp(torch.rand(batch, **f64) * (log_hi - log_lo) + log_lo)
        lo, hi = self.area_range
        area = height * width * (torch.rand(batch, **f64) * (hi - lo) + lo)
        h = torch.sqrt(area * aspect).round().clamp(max=height)
        w = torch.sqrt(area / aspect).round().clamp(max=width)
        top = torch.where(h < height, (torch.rand(batch, **f64) * (height - h)).floor(),
                          torch.zeros_like(h))
        left = torch.where(w < width, (torch.rand(batch, **f64) * (width - w)).floor(),
                           torch.zeros_like(w))
        return on, torch.stack([top, left, h, w], 1).to(torch.long)

    def fill(self, imgs: Tensor) -> Tensor:
        """The replacement pixels for the whole batch (patches are cut from it)."""
        c = imgs.shape[1]
        color = _channel_values(self.fill_color, c, imgs)
        if self.mode == 'const':
            return color.floor().expand_as(imgs)
        if self.fill_std is None:
            return torch.randint(0, 256, imgs.shape, device=imgs.device).to(imgs.dtype)
        noise = torch.randn_like(imgs) * _channel_values(self.fill_std, c, imgs) + color
        return noise.trunc().clamp_(0, 255)

    def __call__(self, imgs: Tensor) -> Tensor:
        b, _, height, width = imgs.shape
        on, box = self.params(b, height, width, imgs.device)
        top, left, h, w = (v.view(-1, 1, 1, 1) for v in box.unbind(1))
        rows = torch.arange(height, device=imgs.device).view(1, 1, -1, 1)
        cols = torch.arange(width, device=imgs.device).view(1, 1, 1, -1)
        inside = (rows >= top) & (rows < top + h) & (cols >= left) & (cols < left + w)
        return torch.where(inside & _per_image(on), self.fill(imgs), imgs)


# ----------------------------------------------------------------------------- pipeline
#: CPU transform name -> batched op.
BATCH_OPS: dict[str, type] = {
    'RandomCrop': BatchRandomCrop,
    'RandomFlip': BatchRandomFlip,
    'Resize': BatchResize,
    'RandomResizedCrop': BatchRandomResizedCrop,
    'RandAugment': BatchRandAugment,
    'RandomErasing': BatchRandomErasing,
}


def _op_name(cfg: dict) -> str:
    return str(cfg['type']).rpartition('.')[2]


class BatchPipeline:
    """A list of batched ops built from CPU transform dicts, applied in order."""

    def __init__(self, transforms: Sequence[dict] = ()) -> None:
        self.transforms = []
        for cfg in transforms:
            cfg = dict(copy.deepcopy(cfg))
            name = _op_name(cfg)
            cfg.pop('type')
            if name not in BATCH_OPS:
                raise NotImplementedError(f'No batched op for the CPU transform {name!r} (known: '
                                          f'{", ".join(BATCH_OPS)})')
            self.transforms.append(BATCH_OPS[name](**cfg))

    def __call__(self, imgs: Tensor) -> Tensor:
        for transform in self.transforms:
            imgs = transform(imgs)
        return imgs

    def __len__(self) -> int:
        return len(self.transforms)


def build_batch_pipeline(pipeline: Sequence[dict]) -> BatchPipeline:
    """The batched form of a CPU pipeline given without its ``PackInputs``."""
    return BatchPipeline(pipeline)


def _split_pipeline(pipeline: Sequence[dict], where: str) -> list[dict]:
    """The transforms before ``PackInputs``; every one must have a batched op."""
    names = [_op_name(t) for t in pipeline]
    if not names or names[-1] != 'PackInputs':
        raise ValueError(f'{where}: expected a pipeline ending in PackInputs, got {names}')
    ops = [dict(t) for t in pipeline[:-1]]
    missing = [n for n in names[:-1] if n not in BATCH_OPS]
    if missing:
        raise ValueError(f'{where}: no batched op for {missing}; the GPU data path covers '
                         f'{", ".join(BATCH_OPS)} (images the dataset hands out whole, as CIFAR)')
    return ops


def use_gpu_data_path(cfg: Any) -> Any:
    """Rewrite a loaded config for the GPU data path, in place.

    The train / val / test pipelines are reduced to ``PackInputs`` (raw uint8 images), the
    loaders stack them (``default_collate``), and the data preprocessor becomes
    ``bocb_mm.GPUAugDataPreprocessor`` with the former transforms as ``train_augments`` /
    ``test_augments``. Normalisation and Mixup / CutMix (``model.train_cfg.augments``) are
    unchanged.

    Args:
        cfg: An mmengine ``Config`` (or dict) of a CIFAR recipe.

    Returns:
        ``cfg``.

    Raises:
        ValueError: If a pipeline holds a transform without a batched op.
    """
    augments = {}
    for split in ('train', 'val', 'test'):
        loader = cfg.get(f'{split}_dataloader')
        if not loader:
            continue
        dataset = loader['dataset']
        augments[split] = _split_pipeline(dataset['pipeline'], f'{split}_dataloader')
        dataset['pipeline'] = [dict(type='PackInputs')]
        loader['collate_fn'] = dict(type='default_collate')
    if augments.get('val') is not None and augments.get('test') is not None \
            and augments['val'] != augments['test']:
        raise ValueError('use_gpu_data_path: val and test pipelines differ; the preprocessor '
                         'has one eval pipeline')
    preprocessor = dict(cfg.get('data_preprocessor') or {})
    preprocessor.update(type='bocb_mm.GPUAugDataPreprocessor',
                        train_augments=augments.get('train', []),
                        test_augments=augments.get('val', augments.get('test', [])))
    cfg['data_preprocessor'] = preprocessor
    model = cfg.get('model')
    if model is not None and model.get('data_preprocessor') is not None:
        model['data_preprocessor'] = dict(model['data_preprocessor'], **preprocessor)
    return cfg
