# Modern CNN of the main job: a narrow 3-stage ConvNeXt on 8x8 digits (stands for CNX-T in the
# paper's grid); a 2x2 patchify stem (4x4 grid), then stages at 4, 2 and 1 pixels. Layer scale
# starts at 1 (not ConvNeXt's 1e-6): in a run of a few hundred steps the blocks would otherwise
# stay close to the identity.
_base_ = ['./_base_/digits_8px_bs100.py']
model = dict(
    type='ImageClassifier',
    backbone=dict(type='ConvNeXt', arch=dict(depths=[1, 1, 1], channels=[32, 64, 128]),
                  stem_patch_size=2, out_indices=(2, ), drop_path_rate=0.0,
                  layer_scale_init_value=1.0, gap_before_final_norm=True),
    head=dict(type='LinearClsHead', num_classes=10, in_channels=128,
              loss=dict(type='CrossEntropyLoss')))
