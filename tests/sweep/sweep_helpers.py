"""Shared by the sweep tests: the config template of a tiny real run (generated CIFAR pickles)."""
from __future__ import annotations

CONFIG = """
custom_imports = dict(imports=['bocb_mm'], allow_failed_imports=False)
default_scope = 'mmpretrain'
bocb = dict(backbone={backbone!r}, optimizer={optimizer!r}, dataset='cifar100', input_size=32)
model = dict(type='ImageClassifier',
             backbone=dict(type='ResNet_CIFAR', depth=18, stem_channels=8, base_channels={width}),
             neck=dict(type='GlobalAveragePooling'),
             head=dict(type='LinearClsHead', num_classes=10, in_channels={channels},
                       loss=dict(type='CrossEntropyLoss')))
data_preprocessor = dict(num_classes=10, mean=[127.5] * 3, std=[64.0] * 3, to_rgb=False)
pipeline = [dict(type='PackInputs')]
_data = dict(type='bocb_mm.UnverifiedCIFAR100', data_root={data_root!r},
             metainfo=dict(classes=[str(i) for i in range(10)]), pipeline=pipeline)
train_dataloader = dict(batch_size=8, num_workers=0, dataset=dict(_data, split='train'),
                        sampler=dict(type='DefaultSampler', shuffle=True))
val_dataloader = dict(batch_size=8, num_workers=0, dataset=dict(_data, split='test'),
                      sampler=dict(type='DefaultSampler', shuffle=False))
val_evaluator = dict(type='Accuracy', topk=(1, 5))
test_dataloader, test_evaluator = val_dataloader, val_evaluator
optim_wrapper = dict(optimizer={optimizer_cfg})
train_cfg = dict(by_epoch=True, max_epochs={epochs}, val_interval=1)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=1),
                     logger=dict(type='LoggerHook', interval=1))
"""

# appended to a CONFIG: mmdet's hook stops a run whose loss turns NaN / inf
DIVERGENCE_CHECK = """
custom_imports = dict(imports=['bocb_mm', 'mmdet.engine.hooks'], allow_failed_imports=False)
custom_hooks = [dict(type='mmdet.CheckInvalidLossHook', interval=1)]
"""
