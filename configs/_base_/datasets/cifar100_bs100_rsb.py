# CIFAR-100 at 32x32 with the RSB A2 augmentation (the BOCB release's sz32_randaug_bs100.py):
# reflect-padded crop + flip and RandAugment
# (rand-m7-mstd0.5-inc1); no random erasing.
_base_ = ['./cifar100_bs100.py']

_rgb_mean = [129.304, 124.070, 112.434]
train_pipeline = [
    dict(type='RandomCrop', crop_size=32, padding=4, padding_mode='reflect'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandAugment', policies='timm_increasing', num_policies=2, total_level=10,
         magnitude_level=7, magnitude_std=0.5,
         hparams=dict(pad_val=[round(x) for x in _rgb_mean], interpolation='bicubic')),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
