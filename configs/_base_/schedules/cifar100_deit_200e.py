# The paper's "DeiT" recipe on CIFAR-100: label smoothing 0.1, Mixup 0.8 / CutMix 1.0 (batch
# augments), RandAugment + random erasing 0.25 (datasets/cifar100_bs100*_randaug.py), drop path
# (set on the backbone by each config), 5 warm-up epochs then cosine over 200 epochs, no weight
# decay on norms, biases and tokens. The optimizer is set by each config.
model = dict(
    head=dict(loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original')),
    train_cfg=dict(augments=[dict(type='Mixup', alpha=0.8), dict(type='CutMix', alpha=1.0)]),
)

optim_wrapper = dict(
    type='OptimWrapper',
    paramwise_cfg=dict(
        norm_decay_mult=0.0,
        bias_decay_mult=0.0,
        flat_decay_mult=0.0,
        custom_keys={
            '.cls_token': dict(decay_mult=0.0),
            '.pos_embed': dict(decay_mult=0.0),
        }),
)

param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0, end=5,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min_ratio=1e-2, by_epoch=True, begin=5, end=200,
         convert_to_iter_based=True),
]

train_cfg = dict(by_epoch=True, max_epochs=200, val_interval=1)
val_cfg = dict()
test_cfg = dict()

auto_scale_lr = dict(base_batch_size=100)
