# The paper's "ConvNeXt" recipe on CIFAR-100: as the DeiT recipe (label smoothing 0.1, Mixup 0.8 /
# CutMix 1.0, RandAugment; the BOCB release's ConvNeXt-T / MogaNet-S / Swin-T configs). Each
# config sets its backbone's warm-up, final lr, clipping, drop path and parameter groups from
# bocb_mm/data/official_cifar100.csv; the schedule below is the release's ConvNeXt-T one (5
# warm-up epochs from 1e-5 x lr, cosine to 0 over 200 epochs).
_base_ = ['./cifar100_deit_200e.py']

param_scheduler = [
    dict(type='LinearLR', start_factor=1e-5, by_epoch=True, begin=0, end=5,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=0.0, by_epoch=True, begin=5, end=200,
         convert_to_iter_based=True),
]
