# Runtime shared by every bocb_mm config (mmpretrain style).
default_scope = 'mmpretrain'
# bocb_mm registers the optimizers, wrappers, backbones and data sets the configs name
# (type='bocb_mm.X'); importing it also applies the stack fixes in bocb_mm/compat.py.
custom_imports = dict(imports=['bocb_mm'], allow_failed_imports=False)

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=100),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # keep the latest checkpoint (for --resume), the last one and the best by top-1 accuracy
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=1, save_last=True,
                    save_best='accuracy/top1', rule='greater'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='VisualizationHook', enable=False),
    # optimizer convention checks once the optim wrapper is built (docs/wrappers.md);
    # mode='errors' raises, ignore=[codes] silences single checks
    conventions=dict(type='bocb_mm.ConventionCheckHook', mode='warn'),
)

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    # CPU runs: --cfg-options env_cfg.dist_cfg.backend=gloo
    dist_cfg=dict(backend='nccl'),
)

# LocalVisBackend writes <work_dir>/<timestamp>/vis_data/scalars.json (loss, lr, accuracy/top1 ...)
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='UniversalVisualizer', vis_backends=vis_backends)

log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=None, deterministic=False)
