# The paper's "PyTorch" recipe (torch-style) on CIFAR-100: cross-entropy, no mixup / label
# smoothing / drop path, cosine learning rate over 200 epochs without warm-up, batch 100.
# Augmentation: datasets/cifar100_bs100{,_224}.py. The optimizer is set by each config.
model = dict(head=dict(loss=dict(type='CrossEntropyLoss', loss_weight=1.0)))

optim_wrapper = dict(type='OptimWrapper')

param_scheduler = [
    dict(type='CosineAnnealingLR', eta_min=0.0, by_epoch=True, begin=0, end=200,
         convert_to_iter_based=True),
]

train_cfg = dict(by_epoch=True, max_epochs=200, val_interval=1)
val_cfg = dict()
test_cfg = dict()

# the learning rates of the configs are the paper's for batch 100 (1 GPU x 100)
auto_scale_lr = dict(base_batch_size=100)
