"""The installed OpenMMLab stack is real: compiled mmcv ops, and one training step of mmdet's
RetinaNet, mmpose's TopDown heatmap model and mmpretrain's CIFAR ResNet-50, each built from its
library's own config. A missing part of the stack fails here; nothing is skipped or mocked."""
from __future__ import annotations

import copy

import pytest
import torch
from mmengine.config import Config
from mmengine.hub import get_config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData, PixelData

import bocb_mm  # noqa: F401  (applies bocb_mm.compat)


def _random_boxes(n: int, size: float = 100.0, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    xy = torch.rand(n, 2, generator=gen) * size
    wh = torch.rand(n, 2, generator=gen) * size / 3 + 1
    scores = torch.rand(n, generator=gen)
    return torch.cat([xy, xy + wh], dim=1), scores


@pytest.mark.parametrize('iou', [0.3, 0.5, 0.7])
def test_mmcv_nms_matches_torchvision(iou: float) -> None:
    from mmcv.ops import nms
    from torchvision.ops import nms as tv_nms
    boxes, scores = _random_boxes(300)
    _, keep = nms(boxes, scores, iou)
    assert keep.numel() > 0
    assert torch.equal(keep, tv_nms(boxes, scores, iou))


def test_mmcv_batched_nms_matches_torchvision() -> None:
    from mmcv.ops import batched_nms
    from torchvision.ops import batched_nms as tv_batched_nms
    boxes, scores = _random_boxes(400, seed=1)
    idxs = torch.randint(0, 5, (400,), generator=torch.Generator().manual_seed(2))
    _, keep = batched_nms(boxes, scores, idxs, dict(type='nms', iou_threshold=0.5))
    expected = tv_batched_nms(boxes, scores, idxs, 0.5)
    assert torch.equal(torch.sort(keep).values, torch.sort(expected).values)


def _train_step(model: torch.nn.Module, data: dict) -> dict:
    """One real mmengine train_step (data preprocessor, loss, backward, SGD step)."""
    wrapper = build_optim_wrapper(model, dict(optimizer=dict(type='SGD', lr=0.01, momentum=0.9)))
    before = [p.detach().clone() for p in model.parameters() if p.requires_grad]
    model.train()
    losses = model.train_step(data, wrapper)
    after = [p.detach() for p in model.parameters() if p.requires_grad]
    assert all(torch.isfinite(v).all() for v in losses.values())
    assert any(not torch.equal(a, b) for a, b in zip(before, after)), 'no parameter was updated'
    return losses


def test_mmdet_retinanet_r50_fpn_train_step() -> None:
    from mmdet.registry import MODELS
    from mmdet.structures import DetDataSample
    init_default_scope('mmdet')
    cfg = get_config('mmdet::retinanet/retinanet_r50_fpn_1x_coco.py')
    cfg.model.backbone.init_cfg = None  # no download: random init
    model = MODELS.build(cfg.model)
    inputs, samples = [], []
    for i in range(2):
        inputs.append(torch.randint(0, 255, (3, 128, 160), dtype=torch.uint8))
        sample = DetDataSample(metainfo=dict(img_shape=(128, 160), ori_shape=(128, 160),
                                             scale_factor=(1.0, 1.0), pad_shape=(128, 160)))
        boxes, _ = _random_boxes(3, size=100.0, seed=i)
        sample.gt_instances = InstanceData(bboxes=boxes, labels=torch.tensor([0, 5, 17]))
        samples.append(sample)
    losses = _train_step(model, dict(inputs=inputs, data_samples=samples))
    assert {'loss_cls', 'loss_bbox'} <= set(losses)


def test_mmpose_topdown_heatmap_r50_train_step() -> None:
    from mmpose.registry import MODELS
    from mmpose.structures import PoseDataSample
    init_default_scope('mmpose')
    cfg = get_config(
        'mmpose::body_2d_keypoint/topdown_heatmap/coco/td-hm_res50_8xb64-210e_coco-256x192.py')
    cfg.model.backbone.init_cfg = None
    model = MODELS.build(cfg.model)
    inputs, samples = [], []
    gen = torch.Generator().manual_seed(0)
    for _ in range(2):
        inputs.append(torch.randint(0, 255, (3, 256, 192), dtype=torch.uint8, generator=gen))
        sample = PoseDataSample(metainfo=dict(img_shape=(256, 192), input_size=(192, 256),
                                              input_center=(96.0, 128.0),
                                              input_scale=(192.0, 256.0)))
        sample.gt_instance_labels = InstanceData(keypoint_weights=torch.ones(1, 17))
        sample.gt_fields = PixelData(heatmaps=torch.rand(17, 64, 48, generator=gen))
        samples.append(sample)
    losses = _train_step(model, dict(inputs=inputs, data_samples=samples))
    assert 'loss_kpt' in losses


def test_mmpretrain_resnet50_cifar_train_step() -> None:
    from mmpretrain.registry import MODELS
    from mmpretrain.structures import DataSample
    init_default_scope('mmpretrain')
    cfg = get_config('mmpretrain::resnet/resnet50_8xb16_cifar100.py')
    model = MODELS.build(cfg.model)
    inputs = [torch.randint(0, 255, (3, 32, 32), dtype=torch.uint8) for _ in range(2)]
    samples = [DataSample().set_gt_label(label) for label in (3, 77)]
    losses = _train_step(model, dict(inputs=inputs, data_samples=samples))
    assert 'loss' in losses


def test_bocb_mm_registries_are_children_of_mmengine_roots() -> None:
    from mmengine import registry as mm
    from bocb_mm import registry
    pairs = [(registry.OPTIMIZERS, mm.OPTIMIZERS), (registry.OPTIM_WRAPPERS, mm.OPTIM_WRAPPERS),
             (registry.OPTIM_WRAPPER_CONSTRUCTORS, mm.OPTIM_WRAPPER_CONSTRUCTORS),
             (registry.MODELS, mm.MODELS), (registry.HOOKS, mm.HOOKS)]
    for child, root in pairs:
        assert child.scope == 'bocb_mm'
        assert child.parent is root
        assert root.children['bocb_mm'] is child


@pytest.mark.parametrize('scope', ['mmpretrain', 'mmdet', 'mmpose', None])
def test_custom_imports_reach_bocb_mm_from_any_scope(scope: str | None, tmp_path) -> None:
    """A config of any scope builds a ``bocb_mm.`` optimizer after ``custom_imports``."""
    from mmengine.registry import DefaultScope
    cfg_file = tmp_path / 'cfg.py'
    cfg_file.write_text(
        "custom_imports = dict(imports=['bocb_mm'], allow_failed_imports=False)\n"
        f"default_scope = {scope!r}\n"
        "optim_wrapper = dict(optimizer=dict(type='bocb_mm.Lion', lr=1e-4, weight_decay=0.1))\n")
    cfg = Config.fromfile(str(cfg_file))  # runs custom_imports
    model = torch.nn.Linear(4, 2)
    with DefaultScope.overwrite_default_scope(scope):
        wrapper = build_optim_wrapper(model, copy.deepcopy(cfg.optim_wrapper))
    assert type(wrapper.optimizer).__module__ == 'bocb_mm.optim.lion'
