"""The shipped COCO transfer configs train and evaluate on a tiny generated COCO.

* RetinaNet R-50 and TopDown R-50 start from a checkpoint of a tiny bocb_mm pre-training run
  (conftest.py), train one epoch through ``tools/train.py`` (validating at its end) and are
  evaluated through ``tools/test.py`` (both in-process: ``bocb_mm.cli``): mmdet's and mmpose's
  ``CocoMetric`` run pycocotools / xtcocotools on the model's predictions and print the COCO AP
  table.
* The R-50 RetinaNet and TopDown configs of each of the 20 optimizers run 2 iterations
  (in-process ``Runner`` from the shipped config with the small-input overrides).
* Missing COCO data stops ``tools/train.py`` with the expected layout.

The overrides (transfer_helpers.det_options / pose_options) shrink inputs (128 px images,
128x96 pose crops), batches and workers; model, optimizer, wrapper, schedule, pipeline and
evaluator are the configs' as shipped.
"""
from __future__ import annotations

import argparse
import math
import os.path as osp

import pytest
import torch
from transfer_helpers import DET_R50, POSE_R50, det_options, pose_options, transfer_config

from bocb_mm.cli import test as test_tool
from bocb_mm.cli import train as train_tool
from bocb_mm.optim import zoo as optim_zoo
from helpers import experiment_name

# 8 training images, batch 2: 4 iterations in the epoch
DET_TEST_OPTIONS = ['model.test_cfg.score_thr=0.0']  # keep the low scores of a 4-iteration model


def _parse(options: list[str]) -> dict:
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser()
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(['--cfg-options', *options]).cfg_options


def _coco_env(monkeypatch, root: str, ckpt: str | None) -> None:
    monkeypatch.setenv('BOCB_COCO_ROOT', root)
    if ckpt:
        monkeypatch.setenv('BOCB_PRETRAINED', ckpt)
    else:
        monkeypatch.delenv('BOCB_PRETRAINED', raising=False)


def test_det_r50_train_and_test(tiny_coco, r50_transfer_checkpoint, tmp_path, monkeypatch,
                                capsys):
    _coco_env(monkeypatch, tiny_coco, r50_transfer_checkpoint)
    config = transfer_config(DET_R50, 'SGD-M')
    work_dir = str(tmp_path / 'det')
    opts = det_options() + DET_TEST_OPTIONS
    train_tool.main([config, '--work-dir', work_dir, '--cfg-options',
                     f'experiment_name={experiment_name("det")}', *opts])
    ckpt_path = osp.join(work_dir, 'epoch_1.pth')
    ckpt = torch.load(ckpt_path, map_location='cpu', weights_only=False)
    assert ckpt['meta']['iter'] == 4 and ckpt['meta']['epoch'] == 1
    # mmdet's RetinaNet freezes the stem and stage 0: they still hold the pre-trained tensors
    pre = torch.load(r50_transfer_checkpoint, map_location='cpu')['state_dict']
    for key in ('backbone.conv1.weight', 'backbone.layer1.0.conv2.weight'):
        assert torch.equal(ckpt['state_dict'][key], pre[key]), key
    # (a trained tensor moved away from it)
    assert not torch.equal(ckpt['state_dict']['backbone.layer4.2.conv3.weight'],
                           pre['backbone.layer4.2.conv3.weight'])
    out = capsys.readouterr().out
    assert 'Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all' in out  # validation

    metrics = test_tool.main([config, ckpt_path, '--work-dir', str(tmp_path / 'det_test'),
                              '--cfg-options', f'experiment_name={experiment_name("dtest")}',
                              *opts])
    out = capsys.readouterr().out
    assert 'Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all' in out
    for key in ('coco/bbox_mAP', 'coco/bbox_mAP_50', 'coco/bbox_mAP_75'):
        assert -1 <= metrics[key] <= 1, metrics
    print({k: v for k, v in metrics.items() if k.startswith('coco/')})

    # tools/test.py needs no pre-trained checkpoint (the Adan column's default is a local file
    # that is not there), and a test that yields no metric is an error: with the shipped
    # score_thr (0.05) the 4-iteration detector predicts nothing
    monkeypatch.delenv('BOCB_PRETRAINED')
    with pytest.raises(SystemExit, match='no metric.*score_thr=0'):
        test_tool.main([transfer_config('det:R-50 (Adan)', 'SGD-M'), ckpt_path,
                        '--work-dir', str(tmp_path / 'det_test_empty'), '--cfg-options',
                        f'experiment_name={experiment_name("dtest")}', *det_options()])


def test_pose_r50_train_and_test(tiny_coco, r50_transfer_checkpoint, tmp_path, monkeypatch,
                                 capsys):
    _coco_env(monkeypatch, tiny_coco, r50_transfer_checkpoint)
    config = transfer_config(POSE_R50, 'Adam')
    work_dir = str(tmp_path / 'pose')
    opts = pose_options()
    train_tool.main([config, '--work-dir', work_dir, '--cfg-options',
                     f'experiment_name={experiment_name("pose")}', *opts])
    ckpt_path = osp.join(work_dir, 'epoch_1.pth')
    ckpt = torch.load(ckpt_path, map_location='cpu', weights_only=False)
    assert ckpt['meta']['iter'] == 4
    # 4 warm-up iterations of Adam move each weight by at most ~4 x lr x 0.008: still the
    # pre-trained tensors, not a fresh initialisation
    pre = torch.load(r50_transfer_checkpoint, map_location='cpu')['state_dict']
    for key in ('backbone.conv1.weight', 'backbone.layer3.0.conv2.weight'):
        torch.testing.assert_close(ckpt['state_dict'][key], pre[key], atol=1e-4, rtol=0)
    out = capsys.readouterr().out
    assert 'Average Precision' in out and 'IoU=0.50:0.95' in out

    metrics = test_tool.main([config, ckpt_path, '--work-dir', str(tmp_path / 'pose_test'),
                              '--cfg-options', f'experiment_name={experiment_name("ptest")}',
                              *opts])
    out = capsys.readouterr().out
    assert 'Average Precision' in out
    for key in ('coco/AP', 'coco/AP .5', 'coco/AR'):
        assert -1 <= metrics[key] <= 1, metrics
    print({k: v for k, v in metrics.items() if k.startswith('coco/')})


def _run_two_iterations(config: str, options: list[str], work_dir: str):
    """The shipped config with small-input options (2 training iterations), no validation and
    no checkpoint files; returns the trained Runner."""
    from mmengine.config import Config
    from mmengine.runner import Runner
    cfg = Config.fromfile(config)
    cfg.merge_from_dict(_parse(options))
    cfg.work_dir = work_dir
    cfg.experiment_name = experiment_name(osp.basename(work_dir))
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.default_hooks.checkpoint = None
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner


@pytest.mark.parametrize('optimizer', optim_zoo.list_optimizers())
@pytest.mark.parametrize('task', ['det', 'pose'])
def test_optimizer_finetunes_r50(task, optimizer, tiny_coco, r50_transfer_checkpoint, tmp_path,
                                 monkeypatch):
    _coco_env(monkeypatch, tiny_coco, r50_transfer_checkpoint)
    column, options = ((DET_R50, det_options(n_train=2, scale=64, batch=1)) if task == 'det'
                       else (POSE_R50, pose_options(n_train=2, batch=1)))
    config = transfer_config(column, optimizer)
    wrapper_type = optim_zoo.get_info(optimizer).wrapper
    if 'Sophia' in wrapper_type:  # refresh the Hessian at every update, not every 10th
        options = options + ['optim_wrapper.hessian_interval=1']
    runner = _run_two_iterations(config, options, str(tmp_path / f'{task}_{optimizer}'))
    assert runner.iter == 2
    assert type(runner.optim_wrapper).__name__ == wrapper_type.split('.')[-1]
    if 'Sophia' in wrapper_type:  # Hutchinson estimates on the detector / pose model
        assert runner.optim_wrapper.state_dict()['sophia']['num_refreshes'] == 2
    loss = runner.message_hub.get_scalar('train/loss').current()
    assert math.isfinite(loss), loss
    info = optim_zoo.get_info(optimizer)
    opt = runner.optim_wrapper.optimizer
    assert isinstance(opt, info.cls)
    if info.state_tensors:
        assert opt.state, f'{optimizer}: no optimizer state after 2 steps'
    if task == 'det':  # frozen stem: the pre-trained tensor, loaded through init_cfg
        pre = torch.load(r50_transfer_checkpoint, map_location='cpu')['state_dict']
        assert torch.equal(runner.model.backbone.conv1.weight.detach(),
                           pre['backbone.conv1.weight'])


def test_missing_coco_stops_with_the_layout(tmp_path, monkeypatch):
    _coco_env(monkeypatch, str(tmp_path / 'no_coco'), None)
    with pytest.raises(SystemExit) as err:
        train_tool.main([transfer_config(DET_R50, 'AdamW')])
    msg = str(err.value)
    assert 'no_coco' in msg and 'instances_{train,val}2017.json' in msg, msg
    with pytest.raises(SystemExit) as err:
        train_tool.main([transfer_config(POSE_R50, 'AdamW')])
    msg = str(err.value)
    assert 'person_keypoints_{train,val}2017.json' in msg and 'Expected layout' in msg, msg
    # a root without the annotation file: the message names the file
    (tmp_path / 'empty_coco').mkdir()
    _coco_env(monkeypatch, str(tmp_path / 'empty_coco'), None)
    with pytest.raises(SystemExit) as err:
        test_tool.main([transfer_config(DET_R50, 'AdamW'), __file__])
    assert 'annotations/instances_' in str(err.value), str(err.value)


# the other backbones: 2 iterations each, without a pre-trained checkpoint (their defaults are
# downloads); slow on a CPU
OTHER_COLUMNS = ['det:Swin-T (AdamW)', 'det:CX-T (AdamW)', 'det:VGG (SGD)', 'pose:VGG (SGD)',
                 'pose:Swin-T (AdamW)']


@pytest.mark.slow
@pytest.mark.parametrize('column', OTHER_COLUMNS)
def test_other_backbones_finetune(column, tiny_coco, tmp_path, monkeypatch):
    _coco_env(monkeypatch, tiny_coco, None)
    task = column.split(':')[0]
    options = (det_options(n_train=2, scale=64, batch=1) if task == 'det' else
               pose_options(n_train=2, batch=1)) + [
        'model.backbone.init_cfg=None']
    runner = _run_two_iterations(transfer_config(column, 'AdamW'), options,
                                 str(tmp_path / column.replace(':', '_').replace(' ', '')))
    assert runner.iter == 2
    assert math.isfinite(runner.message_hub.get_scalar('train/loss').current())
