# The paper's "DeiT" recipe on CIFAR-100: label smoothing 0.1, Mixup 0.8 / CutMix 1.0 (batch
# augments; the BOCB release's DeiT-S config), RandAugment + random erasing 0.25
# (datasets/cifar100_bs100*_randaug.py). The optimizer, its parameter groups, gradient clipping,
# drop path and the warm-up / final lr of each backbone are set by each config from
# bocb_mm/data/official_cifar100.csv; the schedule below is the release's DeiT-S one (20 warm-up
# epochs from 1e-5 x lr, cosine to 1e-6 over 200 epochs).
model = dict(
    head=dict(loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original')),
    train_cfg=dict(augments=[dict(type='Mixup', alpha=0.8), dict(type='CutMix', alpha=1.0)]),
)

optim_wrapper = dict(type='OptimWrapper')

param_scheduler = [
    dict(type='LinearLR', start_factor=1e-5, by_epoch=True, begin=0, end=20,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-6, by_epoch=True, begin=20, end=200,
         convert_to_iter_based=True),
]

train_cfg = dict(by_epoch=True, max_epochs=200, val_interval=1)
val_cfg = dict()
test_cfg = dict()

auto_scale_lr = dict(base_batch_size=100)
