# RetinaNet + FPN on COCO, 1x schedule (12 epochs, 8 GPUs x 2 images): mmdet's own config, with
# the data root settable once and the checkpoints kept small. The generated configs in
# configs/coco_det/ inherit this file and set the backbone, its pre-trained checkpoint, the FPN
# inputs and the fine-tuning optimizer (tools/gen_transfer_configs.py; docs/transfer.md).
_base_ = ['mmdet::retinanet/retinanet_r50_fpn_1x_coco.py']

# mmpretrain backbones (type='mmpretrain.X') and the bocb_mm optimizers (type='bocb_mm.X')
custom_imports = dict(imports=['mmpretrain.models', 'bocb_mm'], allow_failed_imports=False)

# <data_root>/annotations/instances_{train,val}2017.json, <data_root>/{train,val}2017/*.jpg;
# set with the environment variable BOCB_COCO_ROOT (read when the config is loaded).
data_root = '{{$BOCB_COCO_ROOT:data/coco}}'.rstrip('/') + '/'
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val2017.json')
test_evaluator = val_evaluator

# keep the latest checkpoint (for --resume), the last one and the best by box mAP
default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=1, save_last=True,
                    save_best='coco/bbox_mAP', rule='greater'),
    # optimizer convention checks (docs/wrappers.md); mmdet's recipe decays biases and norms
    conventions=dict(type='bocb_mm.ConventionCheckHook', ignore=['wd_exempt']))
