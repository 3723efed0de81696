# The paper's "RSB A2" recipe ("ResNet strikes back") on CIFAR-100: binary cross-entropy,
# Mixup 0.1 / CutMix 1.0, RandAugment m7 (datasets/cifar100_bs100_224_rsb.py), drop path (set on
# the backbone by each config), 5 warm-up epochs then cosine over 200 epochs, no weight decay on
# norms and biases.
model = dict(
    head=dict(loss=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0)),
    train_cfg=dict(augments=[dict(type='Mixup', alpha=0.1), dict(type='CutMix', alpha=1.0)]),
)

optim_wrapper = dict(
    type='OptimWrapper',
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0, flat_decay_mult=0.0),
)

param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=5,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min_ratio=2e-4, by_epoch=True, begin=5, end=200,
         convert_to_iter_based=True),
]

train_cfg = dict(by_epoch=True, max_epochs=200, val_interval=1)
val_cfg = dict()
test_cfg = dict()

auto_scale_lr = dict(base_batch_size=100)
