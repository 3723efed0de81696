# The RSB A2 recipe on ImageNet-1K, 300 epochs (the paper's ImageNet-1K benchmark for R-50), as
# the BOCB release's imagenet/mixups/rsb_a2/r50_rsb_a2_*.py: binary cross-entropy, Mixup 0.1 /
# CutMix 1.0, RandAugment m7 with repeated augmentation (datasets/imagenet_bs256_rsb_a2_224.py),
# drop path 0.05 (set by each config), 5 warm-up epochs from 1e-5 x lr, cosine to 1e-6, no
# clipping; batch 2048.
_base_ = ['./cifar100_rsb_a2_200e.py']

param_scheduler = [
    dict(type='LinearLR', start_factor=1e-5, by_epoch=True, begin=0, end=5,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-6, by_epoch=True, begin=5, end=300,
         convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=300, val_interval=1)

# the learning rates of the configs are for 8 GPUs x 256 images
auto_scale_lr = dict(base_batch_size=2048)
