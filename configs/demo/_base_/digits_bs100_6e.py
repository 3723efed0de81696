# The mini-BOCB demo: scikit-learn's handwritten digits (1,797 real 8x8 images, 10 classes)
# written as CIFAR pickles (bocb_mm/datasets/digits.py, 32x32 RGB) and read through mmpretrain's
# CIFAR code path, resized to 16x16 (the digits are 8x8: nothing is lost, 4x less compute);
# 6 epochs of batch 100, cosine schedule. tools/bocb_demo.py writes the data and
# the leaf configs (one per backbone x optimizer, the optimizer taken from the shipped CIFAR-100
# config of the paper backbone each mini backbone stands for).
_base_ = ['../../_base_/default_runtime.py']

data_root = 'work_dirs/bocb_demo/data'
classes = [str(i) for i in range(10)]
data_preprocessor = dict(num_classes=10, mean=[127.5] * 3, std=[127.5] * 3, to_rgb=False)

train_pipeline = [dict(type='Resize', scale=(16, 16)), dict(type='RandomCrop', crop_size=16, padding=1),
                  dict(type='PackInputs')]
test_pipeline = [dict(type='Resize', scale=(16, 16)), dict(type='PackInputs')]
_dataset = dict(type='bocb_mm.UnverifiedCIFAR100', data_root=data_root,
                metainfo=dict(classes=classes))
train_dataloader = dict(batch_size=100, num_workers=0,
                        dataset=dict(_dataset, split='train', pipeline=train_pipeline),
                        sampler=dict(type='DefaultSampler', shuffle=True))
val_dataloader = dict(batch_size=200, num_workers=0,
                      dataset=dict(_dataset, split='test', pipeline=test_pipeline),
                      sampler=dict(type='DefaultSampler', shuffle=False))
val_evaluator = dict(type='Accuracy', topk=(1, 5))
test_dataloader, test_evaluator = val_dataloader, val_evaluator

max_epochs = 6
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=2)
val_cfg = dict()
test_cfg = dict()
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=1, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=1, end=max_epochs, eta_min=0.0,
         convert_to_iter_based=True),
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=5),
    checkpoint=dict(type='CheckpointHook', interval=max_epochs, max_keep_ckpts=1, save_last=True,
                    save_best=None))
randomness = dict(seed=0)
