# CIFAR-100 up-sampled to 224x224 with the RSB A2 augmentation (the BOCB release's
# sz224_randaug_bs100.py: Swin-T): random resized crop to 224 of 80-100 % of the image (bicubic),
# flip and RandAugment (rand-m7-mstd0.5); no random erasing.
_base_ = ['./cifar100_bs100_224.py']

_rgb_mean = [129.304, 124.070, 112.434]
train_pipeline = [
    dict(type='RandomResizedCrop', scale=224, crop_ratio_range=(0.8, 1.0), backend='pillow',
         interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandAugment', policies='timm_increasing', num_policies=2, total_level=10,
         magnitude_level=7, magnitude_std=0.5,
         hparams=dict(pad_val=[round(x) for x in _rgb_mean], interpolation='bicubic')),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
