# CIFAR-100 up-sampled to 224x224 with the DeiT / ConvNeXt augmentation (the BOCB release's
# sz224_swin_bs100.py: DeiT-S, MLP-S): random resized crop to 224 of 80-100 % of the image
# (bicubic), flip, RandAugment (rand-m9-mstd0.5) and random erasing 0.25.
_base_ = ['./cifar100_bs100_224.py']

_rgb_mean = [129.304, 124.070, 112.434]
_rgb_std = [68.170, 65.392, 70.418]
train_pipeline = [
    dict(type='RandomResizedCrop', scale=224, crop_ratio_range=(0.8, 1.0), backend='pillow',
         interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandAugment', policies='timm_increasing', num_policies=2, total_level=10,
         magnitude_level=9, magnitude_std=0.5,
         hparams=dict(pad_val=[round(x) for x in _rgb_mean], interpolation='bicubic')),
    dict(type='RandomErasing', erase_prob=0.25, mode='rand', min_area_ratio=0.02,
         max_area_ratio=1 / 3, fill_color=_rgb_mean, fill_std=_rgb_std),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
