"""Each wrapper / the constructor / the hook builds from mmpretrain-, mmdet- and mmpose-scoped
configs via ``type='bocb_mm.X'`` and runs a few iterations of a real mmengine Runner on CPU
(tiny real models: ImageClassifier, RetinaNet, TopdownPoseEstimator); a Runner resume of the
Sophia wrapper mid-interval continues bit-identically."""
from __future__ import annotations

import glob
import os

import pytest
import torch
from engine_helpers import TinyClsDataset, cls_model_cfg, make_runner, read_scalars
from torch.utils.data import Dataset


def _mmcv_ops() -> bool:
    try:
        import mmcv.ops  # noqa: F401
        return True
    except Exception:  # noqa: BLE001
        return False


needs_mmcv_ops = pytest.mark.skipif(not _mmcv_ops(), reason='mmdet / mmpose models import '
                                    'mmcv.ops (full mmcv, not mmcv-lite)')


# --------------------------------------------------------------------------------------------
# mmdet: RetinaNet with a tiny ResNet-18 on 64x64 images
# --------------------------------------------------------------------------------------------
class TinyDetDataset(Dataset):
    def __init__(self, n: int = 8, size: int = 64, seed: int = 0) -> None:
        g = torch.Generator().manual_seed(seed)
        self.images = torch.randint(0, 256, (n, 3, size, size), generator=g, dtype=torch.uint8)
        xy = torch.rand(n, 2, generator=g) * size / 2
        wh = size / 4 + torch.rand(n, 2, generator=g) * size / 4
        self.boxes = torch.cat([xy, xy + wh], 1)
        self.labels = torch.randint(0, 2, (n,), generator=g)
        self.size = size

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> dict:
        from mmdet.structures import DetDataSample
        from mmengine.structures import InstanceData
        s = self.size
        sample = DetDataSample(metainfo=dict(img_shape=(s, s), ori_shape=(s, s),
                                             scale_factor=(1.0, 1.0), img_id=i))
        sample.gt_instances = InstanceData(bboxes=self.boxes[i:i + 1],
                                           labels=self.labels[i:i + 1])
        return dict(inputs=self.images[i], data_samples=sample)


def det_model_cfg() -> dict:
    return dict(
        type='RetinaNet',
        data_preprocessor=dict(type='DetDataPreprocessor', mean=[127.5] * 3, std=[127.5] * 3,
                               pad_size_divisor=32),
        backbone=dict(type='ResNet', depth=18, stem_channels=8, base_channels=8,
                      out_indices=(3, ), norm_eval=False),
        neck=dict(type='FPN', in_channels=[64], out_channels=16, num_outs=1),
        bbox_head=dict(
            type='RetinaHead', num_classes=2, in_channels=16, stacked_convs=1,
            feat_channels=16,
            anchor_generator=dict(type='AnchorGenerator', octave_base_scale=4,
                                  scales_per_octave=1, ratios=[1.0], strides=[32]),
            bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[0.0] * 4,
                            target_stds=[1.0] * 4),
            loss_cls=dict(type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25,
                          loss_weight=1.0),
            loss_bbox=dict(type='L1Loss', loss_weight=1.0)),
        train_cfg=dict(assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.5, neg_iou_thr=0.4,
                                     min_pos_iou=0, ignore_iof_thr=-1),
                       sampler=dict(type='PseudoSampler'), allowed_border=-1, pos_weight=-1,
                       debug=False),
        test_cfg=dict(nms_pre=100, min_bbox_size=0, score_thr=0.05,
                      nms=dict(type='nms', iou_threshold=0.5), max_per_img=10))


# --------------------------------------------------------------------------------------------
# mmpose: top-down heatmap estimator with a tiny ResNet-18 on 64x64 crops
# --------------------------------------------------------------------------------------------
class TinyPoseDataset(Dataset):
    K = 3

    def __init__(self, n: int = 8, size: int = 64, heatmap: int = 4, seed: int = 0) -> None:
        g = torch.Generator().manual_seed(seed)
        self.images = torch.randint(0, 256, (n, 3, size, size), generator=g, dtype=torch.uint8)
        self.heatmaps = torch.rand(n, self.K, heatmap, heatmap, generator=g)
        self.size = size

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> dict:
        from mmengine.structures import InstanceData, PixelData
        from mmpose.structures import PoseDataSample
        s = self.size
        sample = PoseDataSample(metainfo=dict(img_shape=(s, s), ori_shape=(s, s),
                                              input_size=(s, s), id=i))
        sample.gt_fields = PixelData(heatmaps=self.heatmaps[i])
        sample.gt_instance_labels = InstanceData(keypoint_weights=torch.ones(1, self.K))
        return dict(inputs=self.images[i], data_samples=sample)


def pose_model_cfg() -> dict:
    return dict(
        type='TopdownPoseEstimator',
        data_preprocessor=dict(type='PoseDataPreprocessor', mean=[127.5] * 3,
                               std=[127.5] * 3),
        backbone=dict(type='ResNet', depth=18, stem_channels=8, base_channels=8),
        head=dict(type='HeatmapHead', in_channels=64, out_channels=TinyPoseDataset.K,
                  deconv_out_channels=(16, ), deconv_kernel_sizes=(4, ),
                  loss=dict(type='KeypointMSELoss', use_target_weight=True)),
        test_cfg=dict(flip_test=False))


SCOPES = {
    'mmpretrain': (cls_model_cfg, TinyClsDataset),
    'mmdet': (det_model_cfg, TinyDetDataset),
    'mmpose': (pose_model_cfg, TinyPoseDataset),
}


def scope_params():
    return [pytest.param(s, marks=() if s == 'mmpretrain' else needs_mmcv_ops) for s in SCOPES]


@pytest.mark.parametrize('scope', scope_params())
def test_sophia_wrapper_runs(tmp_path, scope):
    model_cfg, dataset_cls = SCOPES[scope]
    optim_wrapper = dict(type='bocb_mm.SophiaOptimWrapper', hessian_interval=2,
                         optimizer=dict(type='bocb_mm.SophiaG', lr=1e-3, weight_decay=0.1),
                         constructor='bocb_mm.BOCBOptimWrapperConstructor',
                         clip_grad=dict(max_norm=10.0))
    runner = make_runner(str(tmp_path), model_cfg(), dataset_cls(), optim_wrapper, scope=scope,
                         max_iters=4, batch_size=2)
    runner.train()
    wrapper = runner.optim_wrapper
    estimator = wrapper.resolve_estimator(runner.model)
    assert estimator == ('gnb' if scope == 'mmpretrain' else 'hutchinson')
    assert wrapper.num_updates == 4 and wrapper._num_refreshes == 2
    assert all(g['bs'] == (2.0 if estimator == 'gnb' else 1.0)
               for g in wrapper.optimizer.param_groups)
    assert len(wrapper.optimizer.param_groups) == 2
    hess = [s['hessian'] for s in wrapper.optimizer.state.values()]
    assert all(torch.isfinite(h).all() for h in hess)
    assert sum(float(h.sum()) for h in hess) > 0
    assert all(torch.isfinite(p).all() for p in runner.model.parameters())


@pytest.mark.parametrize('scope', scope_params())
def test_stats_wrapper_and_hook_run(tmp_path, scope):
    model_cfg, dataset_cls = SCOPES[scope]
    opt = dict(type='bocb_mm.LARS', lr=0.1, momentum=0.9, weight_decay=1e-4)
    optim_wrapper = dict(type='bocb_mm.StatsOptimWrapper', interval=2, optimizer=opt,
                         constructor='bocb_mm.BOCBOptimWrapperConstructor')
    runner = make_runner(str(tmp_path / 'wrapper'), model_cfg(), dataset_cls(), optim_wrapper,
                         scope=scope, max_iters=4, batch_size=2, log_interval=2)
    runner.train()
    records = read_scalars(str(tmp_path / 'wrapper'))
    assert [r['iter'] for r in records] == [2, 4]
    for key in ('optim/grad_l2', 'optim/update_l2', 'optim/weight_l2', 'optim/update_ratio',
                'optim/eff_lr', 'optim/trust_ratio'):
        assert all(r[key] > 0 for r in records), key
    assert any(k.startswith('optim/grad_l2/backbone.') for k in records[-1])

    # the hook front end on mmengine's plain OptimWrapper, same scope
    optim_wrapper = dict(type='OptimWrapper', optimizer=opt,
                         constructor='bocb_mm.BOCBOptimWrapperConstructor')
    runner = make_runner(str(tmp_path / 'hook'), model_cfg(), dataset_cls(), optim_wrapper,
                         scope=scope, max_iters=2, batch_size=2, log_interval=2,
                         custom_hooks=[dict(type='bocb_mm.OptimStatsHook', interval=2)])
    runner.train()
    assert read_scalars(str(tmp_path / 'hook'))[-1]['optim/trust_ratio'] > 0


def test_runner_resume_mid_interval_bit_identical(tmp_path):
    """8 iterations straight vs 5 + checkpoint + Runner resume + 3 (refreshes after 3, 6)."""
    optim_wrapper = dict(type='bocb_mm.SophiaOptimWrapper', hessian_interval=3,
                         optimizer=dict(type='bocb_mm.SophiaG', lr=1e-3),
                         constructor='bocb_mm.BOCBOptimWrapperConstructor')
    straight = make_runner(str(tmp_path / 'a'), cls_model_cfg(), TinyClsDataset(n=32),
                           optim_wrapper, scope='mmpretrain', max_iters=8)
    straight.train()

    first = make_runner(str(tmp_path / 'b'), cls_model_cfg(), TinyClsDataset(n=32),
                        optim_wrapper, scope='mmpretrain', max_iters=5, checkpoint_interval=5)
    first.train()
    ckpt = os.path.join(str(tmp_path / 'b'), 'iter_5.pth')
    assert os.path.exists(ckpt), glob.glob(str(tmp_path / 'b' / '*'))

    resumed = make_runner(str(tmp_path / 'b'), cls_model_cfg(), TinyClsDataset(n=32),
                          optim_wrapper, scope='mmpretrain', max_iters=8, resume=True,
                          load_from=ckpt)
    resumed.train()
    assert resumed.optim_wrapper.num_updates == 8
    assert resumed.optim_wrapper._num_refreshes == 2  # after updates 3 (restored) and 6
    for (n, a), b in zip(straight.model.state_dict().items(),
                         resumed.model.state_dict().values()):
        assert torch.equal(a, b), n
    sa, sb = straight.optim_wrapper.optimizer.state, resumed.optim_wrapper.optimizer.state
    for pa, pb in zip(straight.model.parameters(), resumed.model.parameters()):
        assert torch.equal(sa[pa]['hessian'], sb[pb]['hessian'])
