"""The parameter-group audit (bocb_mm.engine.audit; tools/analysis/param_groups.py, whose code is
bocb_mm.cli.param_groups) on the three config kinds the study ships: a CIFAR-100 classifier
(mmpretrain), a RetinaNet (mmdet) and a TopDown pose estimator (mmpose). Building them needs no
data and loads no checkpoint."""
from __future__ import annotations

import csv
import os.path as osp

import pytest

import bocb_mm  # noqa: F401
from bocb_mm.cli import param_groups as audit_tool
from bocb_mm.engine import audit
from helpers import REPO

CIFAR_LARS = osp.join(REPO, 'configs', 'cifar100', 'resnet50',
                      'resnet50_lars_1xb100-200e_cifar100.py')
RETINANET = osp.join(REPO, 'configs', 'coco_det', 'resnet50_lars-100e',
                     'retinanet_resnet50-lars-100e_fpn_lars_8xb2-1x_coco.py')
TOPDOWN = osp.join(REPO, 'configs', 'coco_pose', 'resnet50_sgd-100e',
                   'td-hm_resnet50-sgd-100e_sgdm_8xb64-210e_coco-256x192.py')
BOCB = {'optim_wrapper.constructor': 'bocb_mm.BOCBOptimWrapperConstructor'}


def _audit(config: str, options: dict | None = None):
    cfg = audit.load_config(config, options)
    model, ow = audit.build_from_config(cfg)
    return cfg, model, audit.audit_param_groups(model, ow)



def _summary(rows):
    return {s['module_type']: s for s in audit.summarize_by_module_type(rows)}


DEFAULT = {'optim_wrapper.constructor': 'DefaultOptimWrapperConstructor',
           'optim_wrapper.paramwise_cfg': {}}


def test_cifar_lars_default_constructor_decays_and_adapts_norms():
    _, model, rows = _audit(CIFAR_LARS, DEFAULT)
    assert [r.name for r in rows] == [n for n, _ in model.named_parameters()]
    norms = [r for r in rows if r.kind == 'norm']
    assert len(norms) == 106 and {r.module_type for r in norms} == {'BatchNorm2d'}
    assert all(r.weight_decay == 1e-4 and r.exempt is False for r in norms)
    assert all(r.lr == 1.2 and r.lr_mult == 1.0 and r.decay_mult == 1.0 for r in rows)
    summary = _summary(rows)
    assert summary['Conv2d']['tensors'] == 53 and summary['Linear']['tensors'] == 2
    assert summary['BatchNorm2d']['exempt'] == '0/106'
    assert audit.derive_statement(rows) == (
        'DefaultOptimWrapperConstructor; weight decay on all parameters')


def test_cifar_lars_bocb_constructor_exempts_norms_and_biases():
    _, _, rows = _audit(CIFAR_LARS, BOCB)
    exempt = [r for r in rows if r.kind in ('norm', 'bias')]
    assert len(exempt) == 107  # 106 BatchNorm tensors + the classifier's bias
    assert all(r.weight_decay == 0 and r.decay_mult == 0 and r.exempt and r.trust_excluded
               for r in exempt)
    assert all(r.weight_decay == 1e-4 and not r.exempt for r in rows if r.kind == 'weight')
    assert {r.group for r in rows} == {'pg0', 'pg1'}
    assert _summary(rows)['BatchNorm2d']['trust_excluded'] == '106/106'
    line = audit.derive_statement(rows, BOCB['optim_wrapper.constructor'])
    assert line == 'bocb: no decay or trust-ratio adaptation on norm, bias'
    assert audit.statement_problems(line, rows, 'bocb_mm.BOCBOptimWrapperConstructor') == []


def test_statement_problems():
    cfg, _, rows = _audit(CIFAR_LARS, {**BOCB, 'optim_wrapper.paramwise_cfg': dict(
        bias_decay_mult=1.0, no_decay_keys=('downsample',))})
    constructor = cfg.optim_wrapper.constructor
    assert audit.derive_statement(rows, constructor) == (
        'bocb: no decay or trust-ratio adaptation on norm, downsample')
    problems = audit.statement_problems(
        'bocb: no decay or trust-ratio adaptation on norm, bias', rows, constructor)
    assert problems == [
        '1 tensor(s) the line exempts decay: head.fc.bias',
        '4 exempt tensor(s) the line does not name: backbone.layer1.0.downsample.0.weight, '
        'backbone.layer2.0.downsample.0.weight, backbone.layer3.0.downsample.0.weight']
    assert audit.statement_problems(
        'bocb: no decay or trust-ratio adaptation on norm, downsample', rows, constructor) == []
    assert audit.statement_problems('bocb: no decay or trust-ratio adaptation on norm, '
                                    'downsample', rows, None)[0].startswith('the line describes')
    assert audit.parse_statement(
        'bocb: no decay or trust-ratio adaptation on every ndim<=1 tensor (norms, biases, '
        'scales) and embeddings, gamma') == (audit.ONE_D, 'gamma')
    assert audit.parse_statement('bocb: weight decay on all parameters') == ()
    assert 'unknown' in audit.statement_problems('anything', rows, constructor)[0]


def test_tool_markdown_and_csv(tmp_path, capsys):
    out = tmp_path / 'groups.csv'
    assert audit_tool.main([CIFAR_LARS, '--out', str(out), '--cfg-options', *_flat(BOCB)]) == 0
    text = capsys.readouterr().out
    assert '## Parameters' in text and '## Summary by module type' in text
    assert ('| backbone.conv1.weight | 64x3x3x3 | Conv2d | weight | pg0 | 1.2 | 0.0001 | 1 | 1 '
            '| no | no |') in text
    assert 'built groups: bocb: no decay or trust-ratio adaptation on norm, bias' in text
    with out.open(newline='') as f:
        table = list(csv.DictReader(f))
    assert len(table) == 161
    assert table[0]['name'] == 'backbone.conv1.weight' and table[0]['shape'] == '64x3x3x3'
    assert set(table[0]) == set(audit.ParamRow.__dataclass_fields__)


def _flat(options: dict) -> list[str]:
    return [f'{k}={v}' for k, v in options.items()]


def test_tool_checks_the_shipped_statement(capsys):
    cfg = audit.load_config(CIFAR_LARS)
    stated = cfg.bocb.get('param_groups')
    if stated is None:
        pytest.skip('this config states no bocb.param_groups')
    assert audit_tool.main([CIFAR_LARS, '--summary-only']) == 0
    assert f'bocb.param_groups: the built groups match {stated!r}' in capsys.readouterr().out
    status = audit_tool.main([CIFAR_LARS, '--summary-only', '--conventions', 'off',
                              '--cfg-options', 'optim_wrapper.paramwise_cfg.bias_decay_mult=1.0'])
    assert status == 1
    assert ('bocb.param_groups differs: 1 tensor(s) the line exempts decay: head.fc.bias'
            in capsys.readouterr().out)


def test_retinanet():
    _, _, rows = _audit(RETINANET)
    by_name = {r.name: r for r in rows}
    assert by_name['backbone.conv1.weight'].group == 'frozen'  # frozen_stages=1
    assert by_name['backbone.layer1.0.conv1.weight'].group == 'frozen'
    head = by_name['bbox_head.retina_cls.bias']
    assert head.group == 'pg0' and head.kind == 'bias' and head.trust_excluded is False
    assert by_name['neck.fpn_convs.0.conv.weight'].lr == pytest.approx(0.12)
    summary = _summary(rows)
    assert summary['BatchNorm2d']['frozen'] == 22  # the stem's and layer1's norms
    assert summary['Conv2d']['tensors'] == 89  # 53 backbone + 8 FPN and 10 head convs (w, b)


def test_topdown():
    _, _, rows = _audit(TOPDOWN)
    summary = _summary(rows)
    assert 'ConvTranspose2d' in summary  # the heatmap head's deconvolutions
    assert all(r.trust_excluded is None for r in rows)  # SGD has no trust ratio
    assert {r.group for r in rows} <= {'pg0', 'frozen'}
    assert any(r.name.startswith('head.') for r in rows)
