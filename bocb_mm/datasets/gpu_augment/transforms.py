"""Batched transforms: the CIFAR recipes' CPU transforms, one random draw per image.

Each transform is built from the arguments of its CPU counterpart (the same dict as in the CPU
pipeline, without ``type``), draws its random parameters per image on the batch's device from
the distribution mmpretrain / mmcv draw them from (``params`` / ``magnitudes``), and applies a
kernel of :mod:`.functional` to the ``(B, C, H, W)`` uint8-valued float batch it is called on.
:data:`BATCH_OPS` maps each CPU transform name to its batched transform.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import Tensor

from . import functional
from .functional import _channel_values

__all__ = ['BatchRandomCrop', 'BatchRandomFlip', 'BatchResize', 'BatchRandomResizedCrop',
           'BatchRandAugment', 'BatchRandomErasing', 'BATCH_OPS']


def _pair(value: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(value, (int, float)):
        return int(value), int(value)
    if len(value) != 2:
        raise ValueError(f'expected an int or (h, w), got {value!r}')
    return int(value[0]), int(value[1])


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
        if padding_mode not in functional.PAD_MODES:
            raise NotImplementedError(f'BatchRandomCrop: padding_mode={padding_mode!r}; '
                                      f'supported: {", ".join(functional.PAD_MODES)}')
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
        return functional.crop_with_padding(imgs, top, left, size, self.padding, self.pad_val,
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
        flipped = torch.rand(imgs.shape[0], device=imgs.device) < self.prob
        return functional.flip(imgs, flipped, self.dim)


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
        return functional.cv2_resize(imgs, self.size, self.interpolation)


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
        return functional.pil_resize(imgs, boxes, self.size, self.interpolation)


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
            if policy['type'] not in functional.RANDAUG_OPS:
                raise NotImplementedError(f'BatchRandAugment: no batched op for {policy["type"]}')
        self.num_policies = num_policies
        self.magnitude_level = magnitude_level
        self.magnitude_std = magnitude_std
        self.total_level = total_level

    @staticmethod
    def _merge(policy: dict, hparams: dict) -> dict:
        """mmpretrain's ``merge_hparams``: the geometric ops take pad_val / interpolation."""
        if policy['type'] in functional.RANDAUG_GEOMETRIC:
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
        return functional.randaug_op(
            policy['type'], imgs, magnitude, pad_val=policy['pad_val'],
            interpolation=policy['interpolation'], thr=policy.get('thr', 128),
            direction=policy.get('direction', 'horizontal'))


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
        return functional.erase(imgs, on, box, self.fill(imgs))


#: CPU transform name -> batched op.
BATCH_OPS: dict[str, type] = {
    'RandomCrop': BatchRandomCrop,
    'RandomFlip': BatchRandomFlip,
    'Resize': BatchResize,
    'RandomResizedCrop': BatchRandomResizedCrop,
    'RandAugment': BatchRandAugment,
    'RandomErasing': BatchRandomErasing,
}
