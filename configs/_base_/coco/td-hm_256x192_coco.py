# TopDown heatmap pose estimation (SimpleBaseline head) on COCO at 256x192, 210 epochs: mmpose's
# own ResNet-50 config, with the data root settable once and the checkpoints kept small. The
# generated configs in configs/coco_pose/ inherit this file and set the backbone, its
# pre-trained checkpoint, the head's input channels and the fine-tuning optimizer
# (tools/gen_transfer_configs.py; docs/transfer.md).
_base_ = ['mmpose::body_2d_keypoint/topdown_heatmap/coco/td-hm_res50_8xb64-210e_coco-256x192.py']

# mmpretrain backbones (type='mmpretrain.X') and the bocb_mm optimizers (type='bocb_mm.X')
custom_imports = dict(imports=['mmpretrain.models', 'bocb_mm'], allow_failed_imports=False)

# <data_root>/annotations/person_keypoints_{train,val}2017.json, <data_root>/{train,val}2017/,
# and the person detections used for validation,
# <data_root>/person_detection_results/COCO_val2017_detections_AP_H_56_person.json;
# set with the environment variable BOCB_COCO_ROOT (read when the config is loaded).
data_root = '{{$BOCB_COCO_ROOT:data/coco}}'.rstrip('/') + '/'
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(
    dataset=dict(
        data_root=data_root,
        bbox_file=data_root +
        'person_detection_results/COCO_val2017_detections_AP_H_56_person.json'))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/person_keypoints_val2017.json')
test_evaluator = val_evaluator

# keep the latest checkpoint (for --resume), the last one and the best by keypoint AP
default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=1, save_last=True,
                    save_best='coco/AP', rule='greater'),
    # optimizer convention checks (docs/wrappers.md); mmpose's recipe decays biases and norms
    conventions=dict(type='bocb_mm.ConventionCheckHook', ignore=['wd_exempt']))
