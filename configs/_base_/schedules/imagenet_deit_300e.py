# The DeiT recipe on ImageNet-1K, 300 epochs (the paper's ImageNet-1K benchmark for DeiT-S), as
# the BOCB release's imagenet/deit/deit_small_8xb128_ep300.py: label smoothing 0.1, Mixup 0.8 /
# CutMix 1.0, RandAugment + erasing (datasets/imagenet_bs128_deit_224.py), drop path 0.1 (set by
# each config), 5 warm-up epochs from 1e-6 x lr, cosine to 1e-5, gradient clipping at 5;
# batch 1024.
_base_ = ['./cifar100_deit_200e.py']

optim_wrapper = dict(clip_grad=dict(max_norm=5.0))

param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=True, begin=0, end=5,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=5, end=300,
         convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=300, val_interval=1)

# the learning rates of the configs are for 8 GPUs x 128 images
auto_scale_lr = dict(base_batch_size=1024)
