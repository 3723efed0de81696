# Classic CNN of the demo: a narrow CIFAR ResNet-18 (stands for R-50 in the paper's grid).
_base_ = ['./_base_/digits_bs100_6e.py']
model = dict(
    type='ImageClassifier',
    backbone=dict(type='ResNet_CIFAR', depth=18, stem_channels=16, base_channels=16),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=10, in_channels=128,
              loss=dict(type='CrossEntropyLoss')))
