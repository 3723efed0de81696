# ViT of the demo: a 4-layer ViT with 4x4 patches on 16x16 inputs (stands for DeiT-S in the paper's grid).
_base_ = ['./_base_/digits_bs100_6e.py']
model = dict(
    type='ImageClassifier',
    backbone=dict(type='VisionTransformer', img_size=16, patch_size=4, drop_path_rate=0.0,
                  arch=dict(embed_dims=96, num_layers=4, num_heads=3, feedforward_channels=192)),
    neck=None,
    head=dict(type='VisionTransformerClsHead', num_classes=10, in_channels=96,
              loss=dict(type='CrossEntropyLoss')))
