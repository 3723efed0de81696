"""Convention checks when an optimizer wrapper is built (bocb_mm.engine.conventions).

Each check fires on its mistake and stays quiet on the study's own setting, warns through
mmengine's MMLogger in 'warn' mode and raises in 'errors' mode; the hook does the same inside a
Runner built from a shipped config, and the audit tool prints the warning for mistakes injected
into shipped configs through --cfg-options.
"""
from __future__ import annotations

import argparse
import logging
import os.path as osp

import pytest
from mmengine.config import Config, DictAction
from mmengine.logging import MMLogger
from mmengine.optim import build_optim_wrapper
from mmengine.runner import Runner
from torch import nn

import bocb_mm  # noqa: F401  (registers the optimizers, wrappers and hooks)
from bocb_mm.cli import param_groups as audit_tool
from bocb_mm.engine.conventions import (CODES, ConventionCheckHook, ConventionError,
                                        check_conventions, check_optim_wrapper,
                                        check_optimizer_cfg)
from engine_helpers import SmallNet
from helpers import REPO

CIFAR = osp.join(REPO, 'configs', 'cifar100', 'resnet50')
NARROW = ['model.backbone.depth=18', 'model.head.in_channels=512']  # a faster build
DEFAULT = 'optim_wrapper.constructor=DefaultOptimWrapperConstructor'  # decays norms and biases


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture
def logged():
    """Warnings logged through mmengine's current MMLogger."""
    logger = MMLogger.get_current_instance()
    handler = _Records()
    logger.addHandler(handler)
    try:
        yield handler.messages
    finally:
        logger.removeHandler(handler)


def _codes(optimizer: dict, model: nn.Module | None = None, **wrapper) -> list[str]:
    model = model or SmallNet()
    ow = build_optim_wrapper(model, dict(optimizer=optimizer, **wrapper))
    return [i.code for i in check_optim_wrapper(ow, model)]


BOCB = dict(constructor='bocb_mm.BOCBOptimWrapperConstructor')


def test_sophia_outside_its_wrapper():
    sophia = dict(type='bocb_mm.SophiaG', lr=1e-4, weight_decay=0.1)
    model = SmallNet()
    ow = build_optim_wrapper(model, dict(type='OptimWrapper', optimizer=sophia, **BOCB))
    (issue,) = check_optim_wrapper(ow, model)
    assert issue.code == 'sophia_no_refresh'
    assert 'Hessian never refreshed: every step is a sign step' in issue.message
    assert _codes(sophia, type='bocb_mm.SophiaOptimWrapper', hessian_interval=0,
                  **BOCB) == ['sophia_no_refresh']
    assert _codes(sophia, type='bocb_mm.SophiaOptimWrapper', **BOCB) == []


def test_adan_betas_in_the_papers_form():
    adan = dict(type='bocb_mm.Adan', lr=2e-3, weight_decay=0.02)
    assert _codes(dict(adan, betas=(0.02, 0.08, 0.01)), **BOCB) == ['adan_betas']
    model = SmallNet()
    ow = build_optim_wrapper(model, dict(optimizer=dict(adan, betas=(0.02, 0.08, 0.01)), **BOCB))
    assert 'betas=(0.98, 0.92, 0.99)' in check_optim_wrapper(ow, model)[0].message
    assert _codes(adan, **BOCB) == []


def test_lion_with_an_adamw_scale_lr():
    assert _codes(dict(type='bocb_mm.Lion', lr=1e-3), **BOCB) == ['lion_lr']
    assert _codes(dict(type='bocb_mm.Lion', lr=1e-4), **BOCB) == []


def test_adafactor_explicit_lr_with_relative_step():
    cfg = dict(type='bocb_mm.Adafactor', lr=1e-3, relative_step=True)
    assert [i.code for i in check_optimizer_cfg(cfg)] == ['adafactor_relative_step']
    assert check_optimizer_cfg(dict(cfg, relative_step=False)) == []
    with pytest.raises(ValueError, match='relative_step'):  # and the class refuses to build
        build_optim_wrapper(SmallNet(), dict(optimizer=cfg))


def test_adafactor_explicit_lr_scaled_by_rms():
    ada = dict(type='bocb_mm.Adafactor', lr=1e-3, weight_decay=0.01)
    assert _codes(dict(ada, scale_parameter=True), **BOCB) == ['adafactor_scale_parameter']
    assert _codes(dict(ada, scale_parameter=False), **BOCB) == []


@pytest.mark.parametrize('optimizer', ['bocb_mm.LARS', 'bocb_mm.LAMB'])
def test_trust_ratio_on_norms_and_biases(optimizer):
    opt = dict(type=optimizer, lr=0.1, weight_decay=1e-4)
    model = SmallNet()
    ow = build_optim_wrapper(model, dict(optimizer=opt))
    (issue,) = check_optim_wrapper(ow, model)
    assert issue.code == 'trust_ratio_on_norms'
    assert 'norm: 2' in issue.message and 'bias: 2' in issue.message
    assert 'bn.weight' in issue.message
    assert _codes(opt, **BOCB) == []
    mm_policy = dict(paramwise_cfg=dict(norm_decay_mult=0, bias_decay_mult=0))
    assert _codes(opt, **mm_policy) == []
    # wd 0 on norms but always_adapt: the trust ratio still rescales them
    assert _codes(dict(opt, always_adapt=True), **mm_policy) == ['trust_ratio_on_norms']


def test_weight_decay_on_exempt_tensors():
    adamw = dict(type='AdamW', lr=1e-3, weight_decay=0.05)
    assert _codes(adamw) == ['wd_exempt']
    assert _codes(adamw, **BOCB) == []
    decay_all = dict(norm_decay_mult=1.0, bias_decay_mult=1.0)  # stated in the config: no issue
    assert _codes(adamw, paramwise_cfg=decay_all, **BOCB) == []
    assert _codes(dict(adamw, weight_decay=0.0)) == []


def test_warn_mode_logs_through_mmlogger(logged):
    model = SmallNet()
    ow = build_optim_wrapper(model, dict(optimizer=dict(type='bocb_mm.Lion', lr=1e-3,
                                                        weight_decay=1.0)))
    issues = check_conventions(ow, model)
    assert [i.code for i in issues] == ['lion_lr', 'wd_exempt']
    assert len(logged) == 2 and all(m.startswith('Optimizer convention check: [') for m in logged)
    assert check_conventions(ow, model, ignore=['wd_exempt']) == issues[:1]
    assert check_conventions(ow, model, mode='off') == []
    assert len(logged) == 3


def test_errors_mode_raises():
    model = SmallNet()
    ow = build_optim_wrapper(model, dict(optimizer=dict(type='bocb_mm.Lion', lr=1e-3)))
    with pytest.raises(ConventionError, match=r'\[lion_lr\]') as err:
        check_conventions(ow, model, mode='errors')
    assert [i.code for i in err.value.issues] == ['lion_lr']
    assert check_conventions(ow, model, mode='errors', ignore=['lion_lr']) == []


def test_bad_mode_or_code():
    with pytest.raises(ValueError, match='mode'):
        ConventionCheckHook(mode='loud')
    with pytest.raises(ValueError, match='codes'):
        ConventionCheckHook(ignore=['lion'])
    assert set(CODES) >= {'sophia_no_refresh', 'adan_betas', 'lion_lr', 'wd_exempt'}


# --------------------------------------------------------------------------------------------
# shipped configs: the Runner's hook and the audit tool
# --------------------------------------------------------------------------------------------
def _options(options: list[str]) -> dict:
    """``--cfg-options`` parsed as the tools parse them (mmengine's DictAction)."""
    parser = argparse.ArgumentParser()
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(['--cfg-options', *options]).cfg_options


def _runner(config: str, options: list[str], tmp_path) -> Runner:
    cfg = Config.fromfile(config)
    cfg.merge_from_dict(_options(options))
    cfg.work_dir = str(tmp_path)
    return Runner.from_cfg(cfg)


def _shipped(optimizer: str) -> str:
    return osp.join(CIFAR, f'resnet50_{optimizer}_1xb100-200e_cifar100.py')


def test_runner_hook_warns_after_the_build(tmp_path):
    runner = _runner(_shipped('lion'), NARROW + ['optim_wrapper.optimizer.lr=1e-3'], tmp_path)
    assert any(isinstance(h, ConventionCheckHook) for h in runner.hooks)
    records = _Records()
    runner.logger.addHandler(records)  # the Runner's MMLogger is the current instance
    runner.optim_wrapper = runner.build_optim_wrapper(runner.optim_wrapper)
    runner.call_hook('before_run')  # what Runner.train() calls right after the build
    runner.logger.removeHandler(records)
    assert any('[lion_lr]' in m for m in records.messages)


def test_runner_hook_errors_mode(tmp_path):
    runner = _runner(_shipped('sophia'), NARROW + ['optim_wrapper.type=OptimWrapper',
                                                   'default_hooks.conventions.mode=errors'],
                     tmp_path)
    runner.optim_wrapper = runner.build_optim_wrapper(runner.optim_wrapper)
    with pytest.raises(ConventionError, match='Hessian never refreshed'):
        runner.call_hook('before_run')


@pytest.mark.parametrize('optimizer,options,code', [
    ('adan', ['optim_wrapper.optimizer.betas=(0.02,0.08,0.01)'], 'adan_betas'),
    ('lion', ['optim_wrapper.optimizer.lr=3e-3'], 'lion_lr'),
    ('sophia', ['optim_wrapper.type=OptimWrapper'], 'sophia_no_refresh'),
    ('adafactor', ['optim_wrapper.optimizer.scale_parameter=True'], 'adafactor_scale_parameter'),
    ('lars', [DEFAULT], 'trust_ratio_on_norms'),
    ('adamw', [DEFAULT], 'wd_exempt'),
])
def test_tool_warns_on_injected_mistakes(optimizer, options, code, logged, capsys):
    config = _shipped(optimizer)
    status = audit_tool.main([config, '--summary-only', '--cfg-options', *NARROW, *options])
    stated = Config.fromfile(config).get('bocb', {}).get('param_groups')
    assert status == (1 if DEFAULT in options and stated else 0)  # 1: the statement contradicted
    assert any(f'[{code}]' in m for m in logged), logged
    assert '## Summary by module type' in capsys.readouterr().out


def test_tool_adafactor_relative_step(logged):
    with pytest.raises(ValueError, match='relative_step'):
        audit_tool.main([_shipped('adafactor'), '--summary-only', '--cfg-options', *NARROW,
                         'optim_wrapper.optimizer.relative_step=True'])
    assert any('[adafactor_relative_step]' in m for m in logged)


def test_tool_errors_mode(capsys):
    assert audit_tool.main([_shipped('lion'), '--summary-only', '--conventions', 'errors',
                            '--cfg-options', *NARROW, 'optim_wrapper.optimizer.lr=3e-3']) == 2
    assert '[lion_lr]' in capsys.readouterr().err


def test_tool_warns_on_detection_and_pose_configs(logged):
    """RetinaNet (mmdet) and TopDown (mmpose) configs go through the same checks."""
    det = osp.join(REPO, 'configs', 'coco_det', 'resnet50_adan-300e',
                   'retinanet_resnet50-adan-300e_fpn_adan_8xb2-1x_coco.py')
    assert audit_tool.main([det, '--summary-only', '--ignore', 'wd_exempt', '--cfg-options',
                            'optim_wrapper.optimizer.betas=(0.02,0.08,0.01)']) == 0
    assert any('[adan_betas]' in m for m in logged)
    pose = osp.join(REPO, 'configs', 'coco_pose', 'resnet50_sgd-100e',
                    'td-hm_resnet50-sgd-100e_lion_8xb64-210e_coco-256x192.py')
    assert audit_tool.main([pose, '--summary-only', '--ignore', 'wd_exempt', '--cfg-options',
                            'optim_wrapper.optimizer.lr=1e-3']) == 0
    assert any('[lion_lr]' in m for m in logged)
