# The mini-BOCB main job: scikit-learn's handwritten digits (1,797 real 8x8 images, 10 classes)
# written as CIFAR pickles (bocb_mm/datasets/digits.py, 32x32 RGB, each pixel a 4x4 block) and read
# through mmpretrain's CIFAR code path, brought back to the native 8x8 (area resize of constant
# 4x4 blocks: exact), batch 100. tools/bocb_demo.py writes the data (a `tune` root: fit /
# validation split; a `final` root: train / test split) and one leaf config per run (optimizer,
# lr, epochs, schedule, data root); the values below are the defaults those leaves override.
_base_ = ['../../_base_/default_runtime.py']

data_root = 'work_dirs/bocb_demo/data/final'
classes = [str(i) for i in range(10)]
data_preprocessor = dict(num_classes=10, mean=[127.5] * 3, std=[127.5] * 3, to_rgb=False)

# no augmentation: runs are a few hundred steps long, too short for it to pay
train_pipeline = [dict(type='Resize', scale=(8, 8), interpolation='area'), dict(type='PackInputs')]
test_pipeline = train_pipeline
# serialize_data=False: with num_workers=0 nothing shares the list, and serializing it (with a
# gc.collect()) costs a quarter of a second per data set and run. PackedCIFAR100
# (bocb_mm/datasets/digits.py): mmpretrain's CIFAR reader that runs this deterministic pipeline
# once per image and worker process, not once per image, epoch and run (a fifth of a run's time)
_dataset = dict(type='bocb_mm.PackedCIFAR100', data_root=data_root,
                metainfo=dict(classes=classes), serialize_data=False)
# default_collate stacks the images into one uint8 tensor, which mmpretrain's data preprocessor
# normalises in one operation (pseudo_collate: a list it normalises image by image, 300 small
# operations per batch); the data samples stay a list either way
_collate = dict(type='default_collate')
train_dataloader = dict(batch_size=100, num_workers=0, collate_fn=_collate,
                        dataset=dict(_dataset, split='train', pipeline=train_pipeline),
                        sampler=dict(type='DefaultSampler', shuffle=True))
val_dataloader = dict(batch_size=500, num_workers=0, collate_fn=_collate,
                      dataset=dict(_dataset, split='test', pipeline=test_pipeline),
                      sampler=dict(type='DefaultSampler', shuffle=False))
val_evaluator = dict(type='Accuracy', topk=(1, 5))
test_dataloader, test_evaluator = val_dataloader, val_evaluator

max_epochs = 10
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=max_epochs)
val_cfg = dict()
test_cfg = dict()
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=1, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=1, end=max_epochs, eta_min=0.0,
         convert_to_iter_based=True),
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=5),
    checkpoint=dict(type='CheckpointHook', interval=-1, max_keep_ckpts=1, save_last=False,
                    save_best=None))
# a run whose loss turns NaN / inf stops at once (mmdet's CheckInvalidLossHook logs 'loss become
# infinite or NaN!' and raises); the sweep records it as diverged. ChannelsLastHook (NHWC) and
# TrimPaddedConvsHook (a 7x7 depthwise kernel on a 2x2 map computes as the 3x3 it is, a 3x3 on
# 1x1 as a 1x1; exact) make a mini ResNet / ConvNeXt step 0.76x / 0.69x as long on one CPU
# thread (tools/benchmark/train_step.py); the mini ViT is unchanged by them
custom_imports = dict(imports=['bocb_mm', 'bocb_mm.datasets.digits', 'mmdet.engine.hooks'],
                      allow_failed_imports=False)
custom_hooks = [dict(type='mmdet.CheckInvalidLossHook', interval=1),
                dict(type='bocb_mm.ChannelsLastHook'), dict(type='bocb_mm.TrimPaddedConvsHook')]
randomness = dict(seed=0)
