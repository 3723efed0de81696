# Classic CNN of the main job: a narrow CIFAR ResNet-18 on 8x8 digits (stands for R-50 in the
# paper's grid); stages at 8, 4, 2 and 1 pixels, 12 to 96 channels.
_base_ = ['./_base_/digits_8px_bs100.py']
model = dict(
    type='ImageClassifier',
    backbone=dict(type='ResNet_CIFAR', depth=18, stem_channels=12, base_channels=12),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=10, in_channels=96,
              loss=dict(type='CrossEntropyLoss')))
