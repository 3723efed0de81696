# ViT of the main job: a 4-layer ViT with 2x2 patches on 8x8 digits, 16 tokens, average-pooled
# (stands for DeiT-S in the paper's grid; pooling instead of a [CLS] token learns faster in runs
# of a few hundred steps).
_base_ = ['./_base_/digits_8px_bs100.py']
model = dict(
    type='ImageClassifier',
    backbone=dict(type='VisionTransformer', img_size=8, patch_size=2, drop_path_rate=0.0,
                  arch=dict(embed_dims=64, num_layers=4, num_heads=4, feedforward_channels=128),
                  with_cls_token=False, out_type='avg_featmap'),
    neck=None,
    head=dict(type='VisionTransformerClsHead', num_classes=10, in_channels=64,
              loss=dict(type='CrossEntropyLoss')))
# batch 50: twice the steps per epoch (a ViT needs more steps than the CNNs on so little data)
train_dataloader = dict(batch_size=50)
