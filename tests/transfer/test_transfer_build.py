"""Every shipped COCO transfer config loads, builds its model and its optimizer wrapper on CPU.

The model of a column does not depend on the fine-tuning optimizer (checked), and columns that
differ only by their checkpoint share the model, so one model is built per distinct model config
and each config (20 optimizers per column) builds its optimizer wrapper on it.
"""
from __future__ import annotations

import copy
import glob
import json
import os.path as osp

import pytest
import torch

from bocb_mm.configgen import transfer as gen_transfer
from bocb_mm.optim import zoo as optim_zoo
from helpers import REPO

CONFIGS = sorted(glob.glob(osp.join(REPO, 'configs', 'coco_det', '**', '*.py'), recursive=True)
                 + glob.glob(osp.join(REPO, 'configs', 'coco_pose', '**', '*.py'),
                             recursive=True))


def _model_key(model_cfg, loss: bool = True) -> str:
    """The model config without the checkpoint path (and without the classification loss,
    which the Sophia detection configs change), as a comparable string."""
    cfg = copy.deepcopy(model_cfg.to_dict() if hasattr(model_cfg, 'to_dict') else model_cfg)
    cfg['backbone'].get('init_cfg', {}).pop('checkpoint', None)
    if not loss and 'bbox_head' in cfg:
        cfg['bbox_head'].pop('loss_cls')
    return json.dumps(cfg, sort_keys=True, default=str)


def _build(cfg, what: str, *args):
    from mmengine.registry import DefaultScope
    from mmengine.utils import import_modules_from_strings
    import_modules_from_strings(**cfg.custom_imports)
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        if what == 'model':
            from mmengine.registry import MODELS
            return MODELS.build(cfg.model)
        from mmengine.optim import build_optim_wrapper
        return build_optim_wrapper(args[0], cfg.optim_wrapper)


def test_all_transfer_configs_build(monkeypatch):
    from mmengine.config import Config
    monkeypatch.delenv('BOCB_PRETRAINED', raising=False)
    monkeypatch.delenv('BOCB_COCO_ROOT', raising=False)
    expected = {e.path: e for e, _ in gen_transfer.entries()}
    assert sorted(osp.relpath(p, REPO) for p in CONFIGS) == sorted(expected)
    assert len(CONFIGS) % 20 == 0 and len(CONFIGS) >= 240, len(CONFIGS)
    models: dict[str, torch.nn.Module] = {}
    column_model: dict[str, str] = {}
    for path in CONFIGS:
        cfg = Config.fromfile(path)
        entry = expected[osp.relpath(path, REPO)]
        bocb = cfg.bocb
        assert (bocb.backbone, bocb.optimizer, bocb.task, bocb.pretrain, bocb.dataset,
                bocb.column) == (entry.backbone, entry.optimizer, entry.task, entry.pretrain,
                                 'coco', entry.column)
        init = cfg.model.backbone.init_cfg
        assert init.type == 'Pretrained' and init.prefix == 'backbone.'
        assert init.checkpoint == entry.checkpoint  # the default, BOCB_PRETRAINED unset
        # the COCO layout that check_data_roots and the evaluators read
        for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
            ds = cfg[key].dataset
            assert ds.data_root == 'data/coco/' and ds.ann_file.startswith('annotations/')
        assert cfg.val_evaluator.type == 'CocoMetric'
        assert cfg.val_evaluator.ann_file.startswith('data/coco/annotations/')
        if entry.task == 'det':
            assert cfg.default_scope == 'mmdet' and cfg.model.type == 'RetinaNet'
            assert cfg.train_cfg.max_epochs == 12
        else:
            assert cfg.default_scope == 'mmpose' and cfg.model.type == 'TopdownPoseEstimator'
            assert cfg.train_cfg.max_epochs == 210
            assert tuple(cfg.codec.input_size) == (192, 256)

        key = _model_key(cfg.model)
        arch = _model_key(cfg.model, loss=False)
        assert column_model.setdefault(entry.column, arch) == arch, \
            f'{path}: the model differs from the other configs of {entry.column}'
        if key not in models:
            models[key] = _build(cfg, 'model')
        model = models[key]
        if entry.task == 'det':
            sophia = 'Sophia' in cfg.optim_wrapper.type
            loss = type(model.bbox_head.loss_cls).__name__
            assert loss == ('FocalCustomLoss' if sophia else 'FocalLoss'), (path, loss)

        wrapper = _build(cfg, 'optim_wrapper', model)
        optimizer = wrapper.optimizer
        info = optim_zoo.get_info(entry.optimizer)
        assert isinstance(optimizer, info.cls), (path, type(optimizer))
        group = optimizer.param_groups[0]
        assert group['lr'] == pytest.approx(float(entry.lr)), path
        decays = {g['weight_decay'] for g in optimizer.param_groups}
        assert float(entry.weight_decay) in decays, (path, decays)
        for arg, value in info.defaults.items():
            assert group[arg] == value, (path, arg)
        n_params = sum(len(g['params']) for g in optimizer.param_groups)
        assert n_params == len(list(model.parameters()))  # frozen ones included, as mmengine does
        if entry.backbone in ('Swin-T', 'CNX-T') and entry.task == 'det' \
                and float(entry.weight_decay) > 0:
            assert 0 in decays  # no decay on norms (mmdet's Swin / ConvNeXt configs)
    # det R-50, Swin-T, CX-T, VGG (each also with the Sophia loss); pose VGG, R-50, Swin-T
    assert len(models) == 11, len(models)
