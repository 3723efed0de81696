# The paper's "RSB A2" recipe ("ResNet strikes back") on CIFAR-100: binary cross-entropy,
# Mixup 0.1 / CutMix 1.0, RandAugment m7 without erasing (datasets/cifar100_bs100_224_rsb.py).
# The release has no CIFAR-100 config of an RSB A2 backbone; the family values (5 warm-up epochs
# from 1e-5 x lr, cosine to 1e-6, no clipping, drop path) are those of its ImageNet RSB A2
# configs, set by each config from bocb_mm/data/official_cifar100.csv.
model = dict(
    head=dict(loss=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0)),
    train_cfg=dict(augments=[dict(type='Mixup', alpha=0.1), dict(type='CutMix', alpha=1.0)]),
)

optim_wrapper = dict(type='OptimWrapper')

param_scheduler = [
    dict(type='LinearLR', start_factor=1e-5, by_epoch=True, begin=0, end=5,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-6, by_epoch=True, begin=5, end=200,
         convert_to_iter_based=True),
]

train_cfg = dict(by_epoch=True, max_epochs=200, val_interval=1)
val_cfg = dict()
test_cfg = dict()

auto_scale_lr = dict(base_batch_size=100)
