# The paper's "ConvNeXt" recipe on CIFAR-100: the DeiT recipe (label smoothing 0.1, Mixup 0.8 /
# CutMix 1.0, RandAugment, random erasing 0.25, drop path) with ConvNeXt's 20 warm-up epochs,
# cosine over 200 epochs, no weight decay on norms, biases and layer scales.
_base_ = ['./cifar100_deit_200e.py']

optim_wrapper = dict(
    paramwise_cfg=dict(custom_keys={
        '.cls_token': dict(decay_mult=0.0),
        '.pos_embed': dict(decay_mult=0.0),
        '.absolute_pos_embed': dict(decay_mult=0.0),
        '.relative_position_bias_table': dict(decay_mult=0.0),
    }))

param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0, end=20,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min_ratio=1e-2, by_epoch=True, begin=20, end=200,
         convert_to_iter_based=True),
]
