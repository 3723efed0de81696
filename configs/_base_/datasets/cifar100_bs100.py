# CIFAR-100 at its native 32x32, torch-style augmentation (random crop with 4-pixel reflect
# padding and horizontal flip); batch 100 on one GPU, as in the paper. The BOCB release's
# sz32_bs100.py (docs/fidelity.md). Layout: docs/datasets.md.
dataset_type = 'CIFAR100'
data_root = 'data/cifar100'  # <data_root>/cifar-100-python/{train,test,meta}

data_preprocessor = dict(
    num_classes=100,
    # RGB mean / std of the CIFAR-100 training set (the pickles hold RGB images)
    mean=[129.304, 124.070, 112.434],
    std=[68.170, 65.392, 70.418],
    to_rgb=False)

train_pipeline = [
    dict(type='RandomCrop', crop_size=32, padding=4, padding_mode='reflect'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [dict(type='PackInputs')]

train_dataloader = dict(
    batch_size=100,
    num_workers=4,
    dataset=dict(type=dataset_type, data_root=data_root, split='train',
                 pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True),
)
val_dataloader = dict(
    batch_size=100,
    num_workers=4,
    dataset=dict(type=dataset_type, data_root=data_root, split='test',
                 pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False),
)
val_evaluator = dict(type='Accuracy', topk=(1, 5))  # accuracy/top1, accuracy/top5

test_dataloader = val_dataloader
test_evaluator = val_evaluator
