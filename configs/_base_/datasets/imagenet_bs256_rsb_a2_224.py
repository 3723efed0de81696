# ImageNet-1K at 224x224 with the RSB A2 augmentation ("ResNet strikes back"): random resized
# crop (bicubic), flip, RandAugment (rand-m7-mstd0.5-inc1), no erasing; repeated-augmentation
# sampler; test: resize the short edge to 236 and centre crop 224 (crop ratio 0.95).
# 256 images per GPU (8 GPUs: batch 2048).
_base_ = ['./imagenet_bs128_deit_224.py']

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=224, backend='pillow', interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandAugment', policies='timm_increasing', num_policies=2, total_level=10,
         magnitude_level=7, magnitude_std=0.5,
         hparams=dict(pad_val=[round(x) for x in [103.53, 116.28, 123.675]],
                      interpolation='bicubic')),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=236, edge='short', backend='pillow', interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=256,
    dataset=dict(pipeline=train_pipeline),
    sampler=dict(type='RepeatAugSampler', shuffle=True),
)
val_dataloader = dict(batch_size=256, dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
