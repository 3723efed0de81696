"""Muon's routing through the BOCB constructor: a CNN, a ViT and a ConvNeXt from the zoo."""
from __future__ import annotations

import os.path as osp

import pytest
import torch
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope
from mmpretrain.registry import MODELS
from torch import nn

import bocb_mm  # noqa: F401  (registers bocb_mm.Muon and the constructor)
from bocb_mm.cli import param_groups as audit_tool
from bocb_mm.engine import audit
from bocb_mm.engine.conventions import check_optim_wrapper
from bocb_mm.engine.muon_routing import check_routing, lr_scale, route_model
from bocb_mm.models.zoo import classifier_cfg
from bocb_mm.optim.config_check import OptimConfigError, check_optim_cfg
from helpers import REPO

pytest.importorskip('timm.optim.muon')

BOCB = 'bocb_mm.BOCBOptimWrapperConstructor'
MUON = dict(type='bocb_mm.Muon', lr=0.02, weight_decay=0.01)
#: backbone -> (zoo arguments at a small input, expected route per parameter-name pattern)
BACKBONES = {
    'R-50': (dict(cifar=True), {
        'backbone.conv1.weight': ('embed', 'adamw'),  # the stem conv: the input layer
        'backbone.layer1.0.conv2.weight': ('hidden', 'muon'),  # 3x3 kernel, flattened
        'backbone.layer1.0.conv1.weight': ('hidden', 'muon'),  # 1x1
        'backbone.layer2.0.downsample.0.weight': ('hidden', 'muon'),
        'backbone.bn1.weight': ('norm', 'adamw'),
        'backbone.layer1.0.bn1.bias': ('norm', 'adamw'),
        'head.fc.weight': ('head', 'adamw'),
        'head.fc.bias': ('bias', 'adamw')}),
    'DeiT-S': (dict(cifar=False, img_size=32, patch_size=8), {
        'backbone.patch_embed.projection.weight': ('embed', 'adamw'),
        'backbone.cls_token': ('token', 'adamw'),
        'backbone.pos_embed': ('token', 'adamw'),
        'backbone.layers.0.attn.qkv.weight': ('hidden', 'muon'),
        'backbone.layers.0.attn.proj.weight': ('hidden', 'muon'),
        'backbone.layers.0.ffn.layers.0.0.weight': ('hidden', 'muon'),
        'backbone.layers.0.ffn.layers.1.weight': ('hidden', 'muon'),
        'backbone.layers.0.attn.qkv.bias': ('bias', 'adamw'),
        'backbone.layers.0.ln1.weight': ('norm', 'adamw'),
        'backbone.ln1.bias': ('norm', 'adamw'),
        'head.layers.head.weight': ('head', 'adamw')}),
    'CNX-T': (dict(cifar=True), {
        'backbone.downsample_layers.0.0.weight': ('embed', 'adamw'),  # the stem (patchify)
        'backbone.downsample_layers.1.1.weight': ('hidden', 'muon'),  # 2x2 downsample conv
        'backbone.stages.0.0.depthwise_conv.weight': ('depthwise', 'adamw'),  # 7x7
        'backbone.stages.0.0.pointwise_conv1.weight': ('hidden', 'muon'),
        'backbone.stages.0.0.pointwise_conv2.weight': ('hidden', 'muon'),
        'backbone.stages.0.0.gamma': ('vector', 'adamw'),
        'backbone.stages.0.0.norm.weight': ('norm', 'adamw'),
        'backbone.downsample_layers.1.0.weight': ('norm', 'adamw'),
        'head.fc.weight': ('head', 'adamw')}),
}



@pytest.fixture(autouse=True)
def root_scope():
    """Each test resolves unprefixed types in mmengine's root scope (``'Muon'``: torch's), as
    a config without ``default_scope`` does, whatever scope an earlier test's Runner left."""
    with DefaultScope.overwrite_default_scope('mmengine'):
        yield

def _model(name: str) -> nn.Module:
    """A classifier built in mmpretrain's scope (whatever default scope an earlier Runner left)."""
    kwargs, _ = BACKBONES[name]
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return MODELS.build(classifier_cfg(name, num_classes=10, **kwargs))


def _routes(optim_wrapper) -> dict[int, bool]:
    """id(param) -> the group's use_fallback flag."""
    return {id(p): g['use_fallback'] for g in optim_wrapper.optimizer.param_groups
            for p in g['params']}


@pytest.mark.parametrize('name', list(BACKBONES))
def test_routing_per_family(name):
    model = _model(name)
    routes = {n: (c, r) for n, c, r in route_model(model).values()}
    for param_name, expected in BACKBONES[name][1].items():
        assert routes[param_name] == expected, param_name
    assert all(r == 'adamw' for c, r in routes.values() if c != 'hidden')


@pytest.mark.parametrize('name', list(BACKBONES))
def test_constructor_groups_and_one_step(name):
    model = _model(name)
    ow = build_optim_wrapper(model, dict(optimizer=MUON, constructor=BOCB))
    flags = _routes(ow)
    named = dict(model.named_parameters())
    for param_name, (_, route) in BACKBONES[name][1].items():
        assert flags[id(named[param_name])] == (route == 'adamw'), param_name
    assert len(ow.optimizer.param_groups) <= 4  # (decay, no decay) x (muon, fallback)
    before = {n: p.detach().clone() for n, p in named.items()}
    model.train()
    logits = model(torch.randn(2, 3, 32, 32), mode='tensor')
    ow.update_params(logits.square().mean())
    state = ow.optimizer.state
    for param_name, (_, route) in BACKBONES[name][1].items():
        param = named[param_name]
        assert state[param]['use_muon'] == (route == 'muon'), param_name
        assert not torch.equal(param, before[param_name]), param_name


def test_overrides_and_the_convention_warning():
    model = _model('CNX-T')
    ow = build_optim_wrapper(model, dict(
        optimizer=MUON, constructor=BOCB,
        paramwise_cfg=dict(muon_routing=dict(head='muon', depthwise='muon'))))
    named = dict(model.named_parameters())
    flags = _routes(ow)
    assert not flags[id(named['head.fc.weight'])]
    assert not flags[id(named['backbone.stages.0.0.depthwise_conv.weight'])]
    assert flags[id(named['backbone.downsample_layers.0.0.weight'])]  # embed keeps its default
    issues = check_optim_wrapper(ow, model)
    assert [i.code for i in issues] == ['muon_head_or_norm']
    assert 'head.fc.weight' in issues[0].message and 'head: 1' in issues[0].message
    default = build_optim_wrapper(model, dict(optimizer=MUON, constructor=BOCB))
    assert check_optim_wrapper(default, model) == []


def test_routing_options_are_checked():
    assert check_routing(None) == {'embed': 'adamw', 'depthwise': 'adamw', 'head': 'adamw'}
    with pytest.raises(ValueError, match='unknown categories'):
        check_routing(dict(norm='muon'))
    with pytest.raises(ValueError, match='must be one of'):
        check_routing(dict(head='sgd'))
    with pytest.raises(ValueError, match='muon_routing is for bocb_mm.Muon'):
        build_optim_wrapper(nn.Linear(4, 4), dict(
            optimizer=dict(type='AdamW', lr=1e-3), constructor=BOCB,
            paramwise_cfg=dict(muon_routing=dict(head='muon'))))


def test_lr_scale_on_the_flattened_shape():
    group = dict(adjust_lr_fn='match_rms_adamw', conv_mode='flatten', fallback_lr_scale=0.5)
    assert lr_scale((64, 64, 3, 3), group, 'muon') == pytest.approx(0.2 * 576 ** 0.5)
    assert lr_scale((256, 64), dict(group, adjust_lr_fn='original'), 'muon') == 2.0
    assert lr_scale((64,), group, 'adamw') == 0.5
    assert lr_scale((64, 64), group, None) is None


@pytest.mark.parametrize('optimizer_type,says', [
    ('Muon', "torch's Muon"), ('bocb_mm.Muon', 'routes by tensor shape alone')])
def test_bare_muon_with_the_default_constructor_names_the_fix(optimizer_type, says):
    if optimizer_type == 'Muon' and not hasattr(torch.optim, 'Muon'):
        pytest.skip('torch < 2.9 has no Muon')
    cfg = dict(optim_wrapper=dict(optimizer=dict(type=optimizer_type, lr=0.02)))
    with pytest.raises(OptimConfigError, match=says) as err:
        check_optim_cfg(cfg)
    assert f"constructor='{BOCB}'" in str(err.value)
    cfg['optim_wrapper']['constructor'] = BOCB
    if optimizer_type == 'bocb_mm.Muon':
        check_optim_cfg(cfg)  # the fix passes


def test_torch_muon_under_the_default_constructor_fails_on_a_conv():
    """The failure the config check prevents; the BOCB constructor refuses torch's Muon."""
    if not hasattr(torch.optim, 'Muon'):
        pytest.skip('torch < 2.9 has no Muon')
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.Flatten(), nn.LazyLinear(4))
    with pytest.raises(ValueError):
        build_optim_wrapper(model, dict(optimizer=dict(type='Muon', lr=0.02)))
    with pytest.raises(ValueError, match="use type='bocb_mm.Muon'"):
        build_optim_wrapper(model, dict(optimizer=dict(type='Muon', lr=0.02), constructor=BOCB))


def test_param_groups_tool_shows_routes(capsys):
    config = osp.join(REPO, 'configs', 'cifar100', 'resnet50',
                      'resnet50_adamw_1xb100-200e_cifar100.py')
    options = {'model.backbone.depth': 18, 'model.head.in_channels': 512,
               'optim_wrapper.optimizer': dict(_delete_=True, **MUON),
               'optim_wrapper.constructor': BOCB}
    cfg = audit.load_config(config, options)
    model, ow = audit.build_from_config(cfg)
    rows = {r.name: r for r in audit.audit_param_groups(model, ow)}
    assert rows['backbone.layer1.0.conv1.weight'].route == 'muon'
    assert rows['backbone.layer1.0.conv1.weight'].lr_scale == pytest.approx(0.2 * 576 ** 0.5)
    assert (rows['head.fc.weight'].route, rows['head.fc.weight'].lr_scale) == ('adamw', 1.0)
    assert rows['backbone.bn1.weight'].route == 'adamw'
    argv = [config, '--cfg-options', 'model.backbone.depth=18',
            'model.head.in_channels=512', f'optim_wrapper.constructor={BOCB}',
            'optim_wrapper.optimizer.type=bocb_mm.Muon']
    audit_tool.main(argv)
    text = capsys.readouterr().out
    assert '| route | lr_scale |' in text
    assert '| muon |' in text and '| adamw |' in text
