# Modern CNN of the demo: a narrow ConvNeXt with a 2x2 stem (stands for CNX-T in the paper's grid).
_base_ = ['./_base_/digits_bs100_6e.py']
model = dict(
    type='ImageClassifier',
    backbone=dict(type='ConvNeXt', arch=dict(depths=[1, 1, 2, 1], channels=[24, 48, 96, 192]),
                  stem_patch_size=2, drop_path_rate=0.0, gap_before_final_norm=True),
    head=dict(type='LinearClsHead', num_classes=10, in_channels=192,
              loss=dict(type='CrossEntropyLoss')))
