"""BOCBOptimWrapperConstructor: group count / membership, policy, LARS/LAMB exclusion."""
from __future__ import annotations

import pytest
import torch
from mmengine.optim import build_optim_wrapper
from torch import nn

from bocb_mm.engine import BOCBOptimWrapperConstructor, is_norm_module

CTOR = 'bocb_mm.BOCBOptimWrapperConstructor'


@pytest.fixture(scope='module')
def resnet50():
    from mmpretrain.models import ResNet
    return ResNet(depth=50)


@pytest.fixture(scope='module')
def deit_small():
    from mmpretrain.models import VisionTransformer
    return VisionTransformer(arch='deit-small')


def build(model, optimizer, paramwise_cfg=None, constructor=CTOR):
    cfg = dict(optimizer=optimizer, constructor=constructor)
    if paramwise_cfg is not None:
        cfg['paramwise_cfg'] = paramwise_cfg
    return build_optim_wrapper(model, cfg)


def excluded_names(model: nn.Module) -> set[str]:
    """Biases and every parameter of a norm layer (by module type)."""
    out = set()
    for mod_name, module in model.named_modules():
        for name, _ in module.named_parameters(recurse=False):
            full = f'{mod_name}.{name}' if mod_name else name
            if name == 'bias' or is_norm_module(module):
                out.add(full)
    return out


def check_against_default(model, optimizer):
    """Same parameters, lr and weight decay per tensor as mmengine's default constructor with
    norm_decay_mult = bias_decay_mult = 0; none lost or duplicated."""
    ours = build(model, optimizer).optimizer
    ref = build(model, optimizer, dict(norm_decay_mult=0.0, bias_decay_mult=0.0),
                constructor='DefaultOptimWrapperConstructor').optimizer
    ids = [id(p) for g in ours.param_groups for p in g['params']]
    assert len(ids) == len(set(ids))  # no duplicates
    ref_ids = [id(p) for g in ref.param_groups for p in g['params']]
    assert set(ids) == set(ref_ids) == {id(p) for p in model.parameters()}
    settings = {id(p): (g['lr'], g['weight_decay']) for g in ours.param_groups
                for p in g['params']}
    for g in ref.param_groups:
        for p in g['params']:
            assert settings[id(p)] == (g['lr'], g['weight_decay'])
    return ours, len(ref.param_groups)


def test_resnet50_groups(resnet50):
    opt, n_default = check_against_default(resnet50, dict(type='SGD', lr=0.1,
                                                          weight_decay=1e-4))
    assert len(opt.param_groups) == 2 <= 4 and n_default == sum(1 for _ in
                                                                 resnet50.parameters())
    names = {id(p): n for n, p in resnet50.named_parameters()}
    decay, no_decay = opt.param_groups
    assert decay['weight_decay'] == 1e-4 and not decay['trust_exclude']
    assert no_decay['weight_decay'] == 0.0 and no_decay['trust_exclude']
    assert {names[id(p)] for p in no_decay['params']} == excluded_names(resnet50)
    assert all(p.ndim == 4 for p in decay['params'])  # only conv weights decay
    assert len(decay['params']) == 53 and len(no_decay['params']) == 106


def test_deit_small_groups(deit_small):
    opt, _ = check_against_default(deit_small, dict(type='AdamW', lr=1e-3, weight_decay=0.05))
    assert len(opt.param_groups) == 2
    names = {id(p): n for n, p in deit_small.named_parameters()}
    decay = {names[id(p)] for p in opt.param_groups[0]['params']}
    no_decay = {names[id(p)] for p in opt.param_groups[1]['params']}
    assert no_decay == excluded_names(deit_small)
    assert {'cls_token', 'pos_embed'} <= decay  # default: embeddings keep weight decay
    assert any(n.endswith('ln1.weight') for n in no_decay)

    # option: no decay for every 1-d parameter and the token / position embeddings
    opt = build(deit_small, dict(type='AdamW', lr=1e-3, weight_decay=0.05),
                dict(no_decay_1d=True)).optimizer
    assert len(opt.param_groups) == 2
    groups = {g['trust_exclude']: {names[id(p)] for p in g['params']} for g in opt.param_groups}
    assert {'cls_token', 'pos_embed'} <= groups[True]
    assert all(deit_small.get_parameter(n).ndim >= 2 for n in groups[False])


def test_custom_keys(deit_small):
    opt = build(deit_small, dict(type='AdamW', lr=1e-3, weight_decay=0.05),
                dict(custom_keys={'layers.11': dict(lr_mult=2.0),
                                  'pos_embed': dict(decay_mult=0.0)})).optimizer
    names = {id(p): n for n, p in deit_small.named_parameters()}
    by_name = {names[id(p)]: g for g in opt.param_groups for p in g['params']}
    assert len(opt.param_groups) == 5  # (decay, no decay) x (lr, 2 lr) + pos_embed
    assert by_name['layers.11.attn.qkv.weight']['lr'] == pytest.approx(2e-3)
    assert by_name['layers.11.attn.qkv.weight']['weight_decay'] == 0.05
    # a custom key without decay_mult keeps the policy: the bias still gets no decay
    assert by_name['layers.11.attn.qkv.bias']['weight_decay'] == 0.0
    assert by_name['layers.11.attn.qkv.bias']['lr'] == pytest.approx(2e-3)
    assert by_name['pos_embed']['weight_decay'] == 0.0
    assert by_name['layers.0.attn.qkv.weight']['lr'] == 1e-3


class LNorm2d(nn.Module):
    """A custom norm layer recognised by its class name."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(c))
        self.bias = nn.Parameter(torch.zeros(c))

    def forward(self, x):
        return x * self.weight[:, None, None] + self.bias[:, None, None]


def test_norm_detection():
    from mmpretrain.models.utils import LayerNorm2d
    for m in (nn.BatchNorm2d(3), nn.SyncBatchNorm(3), nn.GroupNorm(1, 3), nn.LayerNorm(3),
              nn.InstanceNorm2d(3, affine=True), LayerNorm2d(3), LNorm2d(3)):
        assert is_norm_module(m), type(m)
    assert not is_norm_module(nn.Conv2d(3, 3, 1))


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, bias=True)
        self.norm = LNorm2d(4)
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        return self.fc(self.norm(self.conv(x)).mean((2, 3)))


@pytest.mark.parametrize('optimizer', ['LARS', 'LAMB'])
def test_excluded_from_layerwise_adaptation(optimizer):
    """Even with always_adapt=True, biases and norm parameters take the plain step."""
    torch.manual_seed(0)
    model = Net().double()
    cfg = dict(type=f'bocb_mm.{optimizer}', lr=0.1, weight_decay=0.01, always_adapt=True)
    if optimizer == 'LAMB':
        cfg.update(max_grad_norm=None, eps=1e-6)
    else:
        cfg.update(trust_coeff=0.02)
    opt = build(model, cfg).optimizer
    assert [g['always_adapt'] for g in opt.param_groups] == [True, False]
    model(torch.randn(2, 3, 5, 5, dtype=torch.double)).sum().backward()
    old = {n: p.detach().clone() for n, p in model.named_parameters()}
    grads = {n: p.grad.clone() for n, p in model.named_parameters()}
    opt.step()
    for n, p in model.named_parameters():
        delta = p.detach() - old[n]
        g = grads[n]
        if optimizer == 'LARS':
            plain = -0.1 * g
        else:
            plain = -0.1 * g / (g.abs() + 1e-6)  # step 1, no decay, no trust ratio
        if n in ('conv.weight', 'fc.weight'):
            assert not torch.allclose(delta, plain)  # adapted (and decayed)
        else:
            torch.testing.assert_close(delta, plain)


@pytest.mark.parametrize('optimizer', [
    dict(type='SGD', lr=0.1, weight_decay=1e-4), dict(type='AdamW', lr=1e-3, weight_decay=0.05),
    dict(type='bocb_mm.LARS', lr=0.1, weight_decay=1e-4),
    dict(type='bocb_mm.LAMB', lr=1e-3, weight_decay=0.02),
    dict(type='bocb_mm.Lion', lr=1e-4, weight_decay=0.1)], ids=lambda o: o['type'])
def test_groups_carry_only_optimizer_keys_and_the_policy_marker(optimizer):
    """Every group key is one of the optimizer's defaults (which its step reads from the group),
    except the constructor's ``trust_exclude`` marker, read by the convention checks."""
    opt = build(Net(), optimizer, dict(custom_keys={'fc': dict(lr_mult=0.5)})).optimizer
    assert len(opt.param_groups) == 4  # (decay, no decay) x (lr, lr / 2)
    for group in opt.param_groups:
        assert set(group) - set(opt.defaults) == {'params', 'trust_exclude'}
        assert group['trust_exclude'] == (group['weight_decay'] == 0)


def test_frozen_and_shared_parameters():
    model = Net()
    model.conv.weight.requires_grad_(False)
    model.fc2 = model.fc  # shared module
    opt = build(model, dict(type='SGD', lr=0.1, weight_decay=1e-4)).optimizer
    ids = [id(p) for g in opt.param_groups for p in g['params']]
    assert len(ids) == len(set(ids)) == 5 and id(model.conv.weight) not in ids


def test_bad_options():
    with pytest.raises(ValueError, match='unknown paramwise_cfg'):
        BOCBOptimWrapperConstructor(dict(optimizer=dict(type='SGD', lr=0.1)),
                                    dict(bias_lr_mult=2.0))
