"""StatsOptimWrapper / OptimStatsHook: values against direct computation, Runner logging."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from engine_helpers import (SmallNet, TinyClsDataset, batches, cls_model_cfg, make_runner,
                            read_scalars)
from mmengine.logging import MessageHub

from bocb_mm.engine import BOCBOptimWrapperConstructor, StatsOptimWrapper, layer_group
from bocb_mm.engine.stats import METRICS
from bocb_mm.optim import LAMB, LARS


def norm(ts) -> float:
    return math.sqrt(sum(float(t.double().pow(2).sum()) for t in ts))


def one_logged_step(model, wrapper):
    """Run one update; return (stats, names->grad, names->old, names->new)."""
    MessageHub.get_instance(f'stats_test_{id(wrapper)}')  # fresh hub without 'iter' info
    x, y = batches(1)[0]
    with wrapper.optim_context(model):
        loss = F.cross_entropy(model(x), y)
    wrapper.backward(loss)
    old = {n: p.detach().clone() for n, p in model.named_parameters()}
    grads = {n: p.grad.detach().clone() for n, p in model.named_parameters()}
    wrapper.step()
    new = {n: p.detach().clone() for n, p in model.named_parameters()}
    return wrapper.stats.last_stats, grads, old, new


def check_norms(stats, grads, old, new):
    groups = {}
    for n in grads:
        groups.setdefault(layer_group(n), []).append(n)
    for suffix, names in [('', list(grads))] + [('/' + g, ns) for g, ns in groups.items()]:
        g = norm([grads[n] for n in names])
        w = norm([old[n] for n in names])
        u = norm([new[n] - old[n] for n in names])
        expect = dict(grad_l2=g, weight_l2=w, update_l2=u, update_ratio=u / w, eff_lr=u / g)
        for key, value in expect.items():
            assert stats[key + suffix] == pytest.approx(value, rel=1e-5), key + suffix


def test_values_match_direct_norms_sgd():
    torch.manual_seed(0)
    model = SmallNet()
    wrapper = StatsOptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9,
                                                weight_decay=1e-3), interval=1)
    stats, grads, old, new = one_logged_step(model, wrapper)
    assert set(layer_group(n) for n in grads) == {'fc1', 'bn', 'fc2'}
    check_norms(stats, grads, old, new)
    assert 'trust_ratio' not in stats


def test_lars_trust_ratio_per_group_mean():
    torch.manual_seed(0)
    model = SmallNet()
    ctor = BOCBOptimWrapperConstructor(dict(
        type='bocb_mm.StatsOptimWrapper', interval=1,
        optimizer=dict(type='bocb_mm.LARS', lr=0.5, weight_decay=1e-2, trust_coeff=0.01)))
    wrapper = ctor(model)
    assert isinstance(wrapper.optimizer, LARS)
    stats, grads, old, new = one_logged_step(model, wrapper)
    check_norms(stats, grads, old, new)
    # only the two Linear weights are adapted (biases and BN are excluded by the policy)
    ratios = {}
    for n in ('fc1.weight', 'fc2.weight'):
        w, g = old[n].norm(), grads[n].norm()
        ratios[n] = float(0.01 * w / (g + 1e-2 * w + 1e-8))
        # the applied update is exactly -lr * ratio * (g + wd * p) (momentum 0)
        torch.testing.assert_close(new[n] - old[n],
                                   -0.5 * ratios[n] * (grads[n] + 1e-2 * old[n]))
    for n in ('fc1.bias', 'bn.weight', 'bn.bias', 'fc2.bias'):  # excluded: plain SGD step
        torch.testing.assert_close(new[n] - old[n], -0.5 * grads[n])
    assert stats['trust_ratio'] == pytest.approx(sum(ratios.values()) / 2, rel=1e-5)
    assert stats['trust_ratio/fc1'] == pytest.approx(ratios['fc1.weight'], rel=1e-5)
    assert 'trust_ratio/bn' not in stats  # no adapted tensor in that group


def test_lamb_trust_ratio_first_step():
    torch.manual_seed(0)
    model = SmallNet()
    wd, eps = 0.02, 1e-6
    ctor = BOCBOptimWrapperConstructor(dict(
        type='bocb_mm.StatsOptimWrapper', interval=1,
        optimizer=dict(type='bocb_mm.LAMB', lr=1e-2, weight_decay=wd, eps=eps,
                       max_grad_norm=None)))
    wrapper = ctor(model)
    assert isinstance(wrapper.optimizer, LAMB)
    stats, grads, old, new = one_logged_step(model, wrapper)
    check_norms(stats, grads, old, new)
    ratios = []
    for n in ('fc1.weight', 'fc2.weight'):
        g = grads[n]
        u = g / (g.abs() + eps) + wd * old[n]  # step 1: bias-corrected moments are g and g^2
        ratios.append(float(old[n].norm() / u.norm()))
    assert stats['trust_ratio'] == pytest.approx(sum(ratios) / 2, rel=1e-4)
    assert stats['trust_ratio/fc2'] == pytest.approx(ratios[1], rel=1e-4)


def test_interval_and_message_hub():
    torch.manual_seed(0)
    model = SmallNet()
    hub = MessageHub.get_instance('stats_interval_test')
    wrapper = StatsOptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1), interval=3)
    logged = []
    for it, (x, y) in enumerate(batches(9)):
        hub.update_info('iter', it)
        wrapper.stats.last_stats = {}
        with wrapper.optim_context(model):
            loss = F.cross_entropy(model(x), y)
        wrapper.update_params(loss)
        logged.append(bool(wrapper.stats.last_stats))
    assert logged == [False, False, True] * 3  # iterations 3, 6, 9 (as LoggerHook interval 3)
    assert hub.get_scalar('train/optim/grad_l2').current() > 0
    assert 'train/optim/eff_lr/fc2' in hub.log_scalars


@pytest.mark.parametrize('front_end', ['wrapper', 'hook'])
def test_runner_logs_keys(tmp_path, front_end):
    opt = dict(type='SGD', lr=0.05, momentum=0.9, weight_decay=1e-4)
    if front_end == 'wrapper':
        optim_wrapper = dict(type='bocb_mm.StatsOptimWrapper', optimizer=opt, interval=2)
        hooks = None
    else:
        optim_wrapper = dict(type='OptimWrapper', optimizer=opt)
        hooks = [dict(type='bocb_mm.OptimStatsHook', interval=2)]
    runner = make_runner(str(tmp_path), cls_model_cfg(), TinyClsDataset(), optim_wrapper,
                         scope='mmpretrain', max_iters=4, log_interval=2, custom_hooks=hooks)
    runner.train()
    records = read_scalars(str(tmp_path))
    assert [r['iter'] for r in records] == [2, 4]
    for r in records:
        for m in METRICS:
            assert r[f'optim/{m}'] > 0
            assert r[f'optim/{m}/backbone.layer1'] > 0
            assert r[f'optim/{m}/head.fc'] > 0
    assert 'train/optim/update_ratio/backbone.layer4' in runner.message_hub.log_scalars
