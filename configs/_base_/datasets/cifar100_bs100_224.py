# CIFAR-100 up-sampled to 224x224 (the paper's input size for AlexNet, VGG-13, MobV2, RVGG-A1 and
# the modern backbones it trains at 224), torch-style augmentation: crop with 4-pixel reflect
# padding and flip at 32x32, then bicubic up-sampling to 224x224 (the BOCB release has no
# torch-style 224 base: docs/fidelity.md). Test: bicubic up-sampling.
_base_ = ['./cifar100_bs100.py']

train_pipeline = [
    dict(type='RandomCrop', crop_size=32, padding=4, padding_mode='reflect'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='Resize', scale=224, interpolation='bicubic'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='Resize', scale=224, interpolation='bicubic'),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
