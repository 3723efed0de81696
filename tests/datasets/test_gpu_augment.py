"""The batched (GPU data path) ops against the CPU transforms of mmpretrain / mmcv, on CPU.

For each op: given the same random parameters the batched op computes what the CPU transform
computes (exactly, or within the CPU library's fixed-point rounding, measured and bounded here),
and its parameters follow the CPU transform's distribution (same support and ranges; means and
spreads over many draws agree within sampling error).
"""
from __future__ import annotations

import math
import os

import numpy as np
import pytest
import torch

mmcv = pytest.importorskip('mmcv')
pytest.importorskip('mmpretrain')
from mmpretrain.registry import TRANSFORMS  # noqa: E402

from bocb_mm.datasets.gpu_augment.config import _split_pipeline  # noqa: E402
from bocb_mm.datasets.gpu_augment.functional import (  # noqa: E402
    crop_with_padding, cv2_resize, erase, flip, pil_resize, randaug_op)
from bocb_mm.datasets.gpu_augment.pipeline import BatchPipeline  # noqa: E402
from bocb_mm.datasets.gpu_augment.transforms import (  # noqa: E402
    BatchRandAugment, BatchRandomCrop, BatchRandomErasing, BatchRandomFlip,
    BatchRandomResizedCrop, BatchResize)

#: Where the batched ops run: CPU here; ``BOCB_TEST_DEVICE=cuda`` checks the GPU kernels too.
DEVICE = torch.device(os.environ.get('BOCB_TEST_DEVICE', 'cpu'))
CIFAR_MEAN = [129.304, 124.070, 112.434]
CIFAR_STD = [68.170, 65.392, 70.418]
PAD = [round(x) for x in CIFAR_MEAN]


def smooth_images(n: int, size: int = 32, seed: int = 0) -> np.ndarray:
    """``(n, size, size, 3)`` uint8 images with edges and smooth regions (not white noise)."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, size=(n, 3, size // 4, size // 4)).astype(np.float32)
    up = torch.nn.functional.interpolate(torch.from_numpy(coarse), size=(size, size),
                                         mode='bilinear', align_corners=False)
    noise = torch.from_numpy(rng.normal(0, 12, size=up.shape).astype(np.float32))
    return (up + noise).clamp(0, 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()


def to_batch(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float().to(DEVICE)


def to_numpy(batch: torch.Tensor) -> np.ndarray:
    return batch.permute(0, 2, 3, 1).round().to(torch.uint8).cpu().numpy()


def cpu_apply(transform: dict, img: np.ndarray) -> np.ndarray:
    out = TRANSFORMS.build(transform)(dict(img=img.copy()))
    return out['img']


def assert_close_uint8(ours: np.ndarray, ref: np.ndarray, max_diff: int, max_frac: float) -> None:
    diff = np.abs(ours.astype(np.int32) - ref.astype(np.int32))
    assert ours.shape == ref.shape
    assert diff.max() <= max_diff, diff.max()
    assert (diff > 0).mean() <= max_frac, (diff > 0).mean()


def assert_same_distribution(ours: np.ndarray, ref: np.ndarray, name: str,
                             percentiles: tuple[float, ...] = (2, 25, 75, 98)) -> None:
    """Means agree within 5 standard errors, spreads within 10 %, and the ``percentiles``
    within 5 % of the range."""
    ours, ref = np.asarray(ours, np.float64), np.asarray(ref, np.float64)
    se = math.sqrt(ours.var() / len(ours) + ref.var() / len(ref)) + 1e-12
    assert abs(ours.mean() - ref.mean()) < 5 * se, (name, ours.mean(), ref.mean())
    assert abs(ours.std() - ref.std()) <= 0.1 * ref.std() + 1e-9, (name, ours.std(), ref.std())
    span = ref.max() - ref.min() + 1e-9
    q_ours, q_ref = np.percentile(ours, percentiles), np.percentile(ref, percentiles)
    assert (np.abs(q_ours - q_ref) <= 0.05 * span).all(), (name, q_ours, q_ref)


# ----------------------------------------------------------------------------- crop / flip
def test_crop_with_padding_equals_mmcv():
    images = smooth_images(6)
    top = torch.tensor([0, 8, 3, 5, 1, 7], device=DEVICE)
    left = torch.tensor([8, 0, 4, 2, 6, 3], device=DEVICE)
    ours = to_numpy(crop_with_padding(to_batch(images), top, left, (32, 32), 4, 0))
    for i, img in enumerate(images):
        padded = mmcv.impad(img, padding=4, pad_val=0)
        ref = mmcv.imcrop(padded, np.array([left[i], top[i], left[i] + 31, top[i] + 31]))
        np.testing.assert_array_equal(ours[i], ref)


@pytest.mark.parametrize('mode', ['constant', 'reflect', 'edge'])
def test_random_crop_follows_the_padding_mode(mode: str):
    """``padding_mode`` applies to ``padding`` on both paths (mmpretrain 1.2 alone ignores it
    there; ``bocb_mm.compat`` fixes the CPU transform)."""
    images = smooth_images(3)
    cfg = dict(type='RandomCrop', crop_size=32, padding=4, padding_mode=mode)
    np.random.seed(0)
    ref = np.stack([cpu_apply(cfg, img) for img in images])
    np.random.seed(0)
    cpu = TRANSFORMS.build(cfg)
    offsets = [cpu.rand_crop_params(np.zeros((40, 40, 3))) for _ in images]
    top, left = (torch.tensor([o[k] for o in offsets], device=DEVICE) for k in (0, 1))
    ours = to_numpy(crop_with_padding(to_batch(images), top, left, (32, 32), 4, 0, mode))
    np.testing.assert_array_equal(ours, ref)
    for img, o, out in zip(images, offsets, ref):  # the CPU transform itself pads in that mode
        padded = mmcv.impad(img, padding=4, pad_val=0, padding_mode=mode)
        np.testing.assert_array_equal(out, padded[o[0]:o[0] + 32, o[1]:o[1] + 32])
    assert BatchPipeline([cfg]).transforms[0].padding_mode == mode


def test_random_crop_offsets_follow_mmpretrain():
    cpu = TRANSFORMS.build(dict(type='RandomCrop', crop_size=32, padding=4))
    padded = np.zeros((40, 40, 3), np.uint8)
    np.random.seed(0)
    ref = np.array([cpu.rand_crop_params(padded)[:2] for _ in range(4000)])
    torch.manual_seed(0)
    top, left = BatchRandomCrop(32, padding=4).params(4000, 32, 32, DEVICE)
    assert set(top.tolist()) == set(ref[:, 0].tolist()) == set(range(9))
    assert_same_distribution(top.cpu().numpy(), ref[:, 0], 'top')
    assert_same_distribution(left.cpu().numpy(), ref[:, 1], 'left')


def test_random_flip_equals_mmcv_and_has_its_rate():
    images = to_batch(smooth_images(400))
    torch.manual_seed(0)
    out = BatchRandomFlip(prob=0.5)(images)
    flipped = (out != images).flatten(1).any(1)
    assert abs(flipped.float().mean().item() - 0.5) < 0.1
    for i in torch.nonzero(flipped).flatten()[:5].tolist():
        ref = mmcv.imflip(to_numpy(images[i:i + 1])[0], 'horizontal')
        np.testing.assert_array_equal(to_numpy(out[i:i + 1])[0], ref)


@pytest.mark.parametrize('direction,dim', [('horizontal', -1), ('vertical', -2)])
def test_flip_kernel_flips_the_chosen_images_as_mmcv(direction: str, dim: int):
    images = smooth_images(4)
    flipped = torch.tensor([True, False, True, False], device=DEVICE)
    ours = to_numpy(flip(to_batch(images), flipped, dim))
    for img, out, chosen in zip(images, ours, flipped.tolist()):
        np.testing.assert_array_equal(out, mmcv.imflip(img, direction) if chosen else img)


# ----------------------------------------------------------------------------- resizes
def test_resize_matches_mmcv_cv2_bicubic():
    images = smooth_images(4)
    ours = to_numpy(BatchResize(224, interpolation='bicubic')(to_batch(images)))
    for i, img in enumerate(images):
        ref = cpu_apply(dict(type='Resize', scale=224, interpolation='bicubic'), img)
        assert_close_uint8(ours[i], ref, max_diff=1, max_frac=0.05)


def test_pil_resize_of_a_crop_matches_mmcv_pillow():
    images = smooth_images(5)
    boxes = torch.tensor([[0, 0, 32, 32], [3, 5, 20, 17], [10, 0, 9, 30], [0, 12, 32, 8],
                          [7, 7, 1, 2]])
    ours = to_numpy(pil_resize(to_batch(images), boxes.to(DEVICE), (224, 224), 'bicubic'))
    for i, img in enumerate(images):
        top, left, h, w = boxes[i].tolist()
        crop = mmcv.imcrop(img, np.array([left, top, left + w - 1, top + h - 1]))
        ref = mmcv.imresize(crop, (224, 224), interpolation='bicubic', backend='pillow')
        # Pillow's 22-bit fixed-point coefficients: one grey level, rarely two (one per pass)
        assert_close_uint8(ours[i], ref, max_diff=2, max_frac=0.005)


def test_random_resized_crop_boxes_follow_mmpretrain():
    cpu = TRANSFORMS.build(dict(type='RandomResizedCrop', scale=224, backend='pillow',
                                interpolation='bicubic'))
    img = np.zeros((32, 32, 3), np.uint8)
    np.random.seed(0)
    ref = np.array([cpu.rand_crop_params(img) for _ in range(4000)])
    torch.manual_seed(0)
    op = BatchRandomResizedCrop(224, backend='pillow', interpolation='bicubic')
    ours = op.params(4000, 32, 32, DEVICE).cpu().numpy()
    for k, name in enumerate(('top', 'left', 'height', 'width')):
        assert_same_distribution(ours[:, k], ref[:, k], name)
    assert_same_distribution(ours[:, 2] * ours[:, 3], ref[:, 2] * ref[:, 3], 'area')
    assert (ours[:, 0] + ours[:, 2] <= 32).all() and (ours[:, 1] + ours[:, 3] <= 32).all()


# ----------------------------------------------------------------------------- RandAugment
# (op, magnitude passed to the batched op, the CPU transform with that magnitude fixed,
#  max grey-level difference, max fraction of differing values)
EXACT = 0, 0.0
OPS = [
    ('AutoContrast', 0.0, dict(type='AutoContrast'), *EXACT),
    ('Equalize', 0.0, dict(type='Equalize'), *EXACT),
    ('Invert', 0.0, dict(type='Invert'), *EXACT),
    ('Posterize', 1.6, dict(type='Posterize', bits=1.6), *EXACT),
    ('Posterize', 0.0, dict(type='Posterize', bits=0), *EXACT),
    ('Solarize', 97.3, dict(type='Solarize', thr=97.3), *EXACT),
    ('SolarizeAdd', 77.7, dict(type='SolarizeAdd', magnitude=77.7), *EXACT),
    ('ColorTransform', 0.63, dict(type='ColorTransform', magnitude=0.63), *EXACT),
    ('ColorTransform', -0.71, dict(type='ColorTransform', magnitude=-0.71), *EXACT),
    ('Contrast', 0.77, dict(type='Contrast', magnitude=0.77), *EXACT),
    ('Contrast', -0.58, dict(type='Contrast', magnitude=-0.58), *EXACT),
    ('Brightness', 0.81, dict(type='Brightness', magnitude=0.81), *EXACT),
    ('Brightness', -0.66, dict(type='Brightness', magnitude=-0.66), *EXACT),
    ('Sharpness', 0.85, dict(type='Sharpness', magnitude=0.85), *EXACT),
    ('Sharpness', -0.77, dict(type='Sharpness', magnitude=-0.77), *EXACT),
]


@pytest.mark.parametrize('name,magnitude,cpu,max_diff,max_frac', OPS,
                         ids=[f'{o[0]}{o[1]}' for o in OPS])
def test_photometric_op_matches_cpu(name, magnitude, cpu, max_diff, max_frac):
    images = np.concatenate([smooth_images(6, seed=1),
                             np.random.default_rng(2).integers(0, 256, (2, 32, 32, 3),
                                                               dtype=np.uint8)])
    images[0, :, :, 1] = 77  # a flat channel (auto-contrast / equalize leave it alone)
    mags = torch.full((len(images),), magnitude, dtype=torch.float64, device=DEVICE)
    ours = to_numpy(randaug_op(name, to_batch(images), mags))
    cpu = dict(cpu, prob=1.0)
    if name in ('ColorTransform', 'Contrast', 'Brightness', 'Sharpness'):
        cpu['random_negative_prob'] = 0.0  # the sign is in the magnitude
    ref = np.stack([cpu_apply(cpu, img) for img in images])
    assert_close_uint8(ours, ref, max_diff, max_frac)


GEOMETRIC = [
    ('Rotate', 23.5, dict(type='Rotate', angle=23.5)),
    ('Rotate', -17.0, dict(type='Rotate', angle=-17.0)),
    ('Shear', 0.27, dict(type='Shear', magnitude=0.27, direction='horizontal')),
    ('Shear', -0.21, dict(type='Shear', magnitude=-0.21, direction='vertical')),
    ('Translate', 0.41, dict(type='Translate', magnitude=0.41, direction='horizontal')),
    ('Translate', -0.33, dict(type='Translate', magnitude=-0.33, direction='vertical')),
]


@pytest.mark.parametrize('name,magnitude,cpu', GEOMETRIC,
                         ids=[f'{g[0]}{g[1]}{g[2].get("direction", "")}' for g in GEOMETRIC])
def test_geometric_op_matches_cpu(name, magnitude, cpu):
    """OpenCV samples on a 1/32-pixel grid in fixed point: a few grey levels at edges."""
    images = smooth_images(6, seed=3)
    mags = torch.full((len(images),), magnitude, dtype=torch.float64, device=DEVICE)
    direction = cpu.get('direction', 'horizontal')
    ours = to_numpy(randaug_op(name, to_batch(images), mags, pad_val=PAD,
                               interpolation='bicubic', direction=direction))
    cpu = dict(cpu, prob=1.0, random_negative_prob=0.0, pad_val=PAD, interpolation='bicubic')
    ref = np.stack([cpu_apply(cpu, img) for img in images])
    diff = np.abs(ours.astype(np.int32) - ref.astype(np.int32))
    assert diff.mean() < 1.0, diff.mean()
    assert np.percentile(diff, 99) <= 8, np.percentile(diff, 99)


def test_randaugment_magnitudes_follow_mmpretrain():
    op = BatchRandAugment('timm_increasing', num_policies=2, magnitude_level=9,
                          magnitude_std=0.5, total_level=10)
    cpu = TRANSFORMS.build(dict(type='RandAugment', policies='timm_increasing', num_policies=2,
                                magnitude_level=9, magnitude_std=0.5, total_level=10))
    np.random.seed(0)
    torch.manual_seed(0)
    for policy, transform in zip(op.policies, cpu.transforms):
        if 'magnitude_range' not in policy:
            continue
        ref = []
        for _ in range(3000):
            m = transform.random_magnitude()
            ref.append(transform.random_negative(m)
                       if transform.random_negative_prob else m)
        ours = op.magnitudes(policy, 3000, DEVICE).cpu().numpy()
        assert_same_distribution(ours, np.array(ref), policy['type'])
        assert policy['prob'] == transform.prob


def test_randaugment_output_statistics_follow_cpu():
    """Over many images, per-image mean and spread after RandAugment agree with the CPU op."""
    images = smooth_images(600, seed=4)
    hparams = dict(pad_val=PAD, interpolation='bicubic')
    cpu = TRANSFORMS.build(dict(type='RandAugment', policies='timm_increasing', num_policies=2,
                                total_level=10, magnitude_level=9, magnitude_std=0.5,
                                hparams=hparams))
    np.random.seed(0)
    ref = np.stack([cpu(dict(img=img.copy()))['img'] for img in images]).astype(np.float64)
    torch.manual_seed(0)
    op = BatchRandAugment('timm_increasing', num_policies=2, total_level=10,
                          magnitude_level=9, magnitude_std=0.5, hparams=hparams)
    ours = op(to_batch(images)).permute(0, 2, 3, 1).cpu().numpy().astype(np.float64)
    assert ((ours == np.round(ours)) & (ours >= 0) & (ours <= 255)).all()
    src = images.astype(np.float64)
    for stat in (lambda x: x.mean((1, 2, 3)), lambda x: x.std((1, 2, 3)),
                 lambda x: np.abs(x - src).mean((1, 2, 3))):
        assert_same_distribution(stat(ours), stat(ref), 'randaugment statistic', (10, 25, 75, 90))
    unchanged = lambda x: (x == src).all((1, 2, 3)).mean()  # noqa: E731
    assert abs(unchanged(ours) - unchanged(ref)) < 0.06, (unchanged(ours), unchanged(ref))


# ----------------------------------------------------------------------------- erasing
def test_random_erasing_follows_mmpretrain():
    cfg = dict(erase_prob=0.25, mode='rand', min_area_ratio=0.02, max_area_ratio=1 / 3,
               fill_color=CIFAR_MEAN, fill_std=CIFAR_STD)
    n = 3000
    blank = np.zeros((n, 32, 32, 3), np.uint8)
    np.random.seed(0)
    cpu = TRANSFORMS.build(dict(type='RandomErasing', **cfg))
    ref = np.stack([cpu(dict(img=img.copy()))['img'] for img in blank])
    torch.manual_seed(0)
    ours = to_numpy(BatchRandomErasing(**cfg)(to_batch(blank)))
    ref_area = (ref != 0).any(-1).sum((1, 2))  # erased pixels (the fill is ~never 0 in all 3)
    our_area = (ours != 0).any(-1).sum((1, 2))
    assert abs((our_area > 0).mean() - (ref_area > 0).mean()) < 0.04
    assert_same_distribution(our_area[our_area > 0], ref_area[ref_area > 0], 'erased area')
    fill_ref, fill_ours = ref[ref_area > 0].reshape(-1, 3), ours[our_area > 0].reshape(-1, 3)
    fill_ref = fill_ref[(fill_ref != 0).any(-1)]
    fill_ours = fill_ours[(fill_ours != 0).any(-1)]
    for c in range(3):
        assert abs(fill_ours[:, c].mean() - fill_ref[:, c].mean()) < 2.0
        assert abs(fill_ours[:, c].std() - fill_ref[:, c].std()) < 2.0


def test_erase_kernel_replaces_the_box_of_the_chosen_images():
    images = smooth_images(3)
    boxes = torch.tensor([[2, 3, 5, 7], [0, 0, 32, 32], [30, 1, 2, 4]], device=DEVICE)
    erased = torch.tensor([True, True, False], device=DEVICE)
    fill = torch.full((3, 3, 32, 32), 128.0, device=DEVICE)
    ours = to_numpy(erase(to_batch(images), erased, boxes, fill))
    ref = images.copy()
    for i, (top, left, h, w) in enumerate(boxes.tolist()[:2]):
        ref[i, top:top + h, left:left + w] = 128
    np.testing.assert_array_equal(ours, ref)


# ----------------------------------------------------------------------------- pipeline
def test_pipeline_rejects_ops_without_a_batched_form():
    with pytest.raises(NotImplementedError, match='ColorJitter'):
        BatchPipeline([dict(type='ColorJitter', brightness=0.4)])
    with pytest.raises(ValueError, match='PackInputs'):
        _split_pipeline([dict(type='RandomCrop', crop_size=32)], 'train_dataloader')


def test_data_preprocessor_augments_on_the_device_then_normalises_and_mixes():
    from mmpretrain.structures import DataSample

    from bocb_mm.registry import MODELS
    pre = MODELS.build(dict(
        type='bocb_mm.GPUAugDataPreprocessor', num_classes=10, mean=CIFAR_MEAN, std=CIFAR_STD,
        train_augments=[dict(type='RandomCrop', crop_size=32, padding=4),
                        dict(type='Resize', scale=64, interpolation='bicubic')],
        test_augments=[dict(type='Resize', scale=64, interpolation='bicubic')],
        batch_augments=dict(augments=[dict(type='Mixup', alpha=0.8)]))).to(DEVICE)
    images = torch.from_numpy(smooth_images(4)).permute(0, 3, 1, 2).contiguous()
    samples = [DataSample().set_gt_label(i) for i in range(4)]
    train = pre(dict(inputs=images, data_samples=samples), training=True)
    assert train['inputs'].shape == (4, 3, 64, 64) and train['inputs'].dtype == torch.float32
    assert train['data_samples'][0].gt_score.shape == (10,)  # Mixup's soft labels
    test = pre(dict(inputs=list(images), data_samples=samples), training=False)
    expected = cv2_resize(images.float().to(DEVICE), (64, 64), 'bicubic')
    mean = torch.tensor(CIFAR_MEAN, device=DEVICE).view(1, 3, 1, 1)
    std = torch.tensor(CIFAR_STD, device=DEVICE).view(1, 3, 1, 1)
    torch.testing.assert_close(test['inputs'], (expected - mean) / std)
