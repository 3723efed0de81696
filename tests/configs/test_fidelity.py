"""Recipe fidelity against the official BOCB release (docs/fidelity.md).

* every value of ``bocb_mm/data/official_cifar100.csv`` is asserted against the built configs of
  the backbones that have an official config (crop, RandAugment, erasing, clipping, warm-up in
  iterations, final lr, drop path / dropout, init, parameter groups, optimizer extras, loss and
  batch augments), for all 20 optimizers;
* the release's own R-50 grid disagrees with the paper's appendix for 6 of its 8 optimizers, and
  the configs keep the appendix;
* the ImageNet lr rule reproduces both published anchors;
* the LARS trust-ratio option, both ways;
* the sweep's collector records both scoring rules.
"""
from __future__ import annotations

import functools
import json
import math
import os
import os.path as osp
import re
import statistics

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import PARAM_SCHEDULERS, init_default_scope

import bocb_mm  # noqa: F401
from bocb_mm.engine.constructor import is_norm_module
from bocb_mm.optim import zoo as optim_zoo
from bocb_mm.configgen import fragments, pretrain, tables
from bocb_mm.configgen.render import plain as _plain
from bocb_mm.optim.lars import LARS

from test_configs import REPO, _model, _paper_hparams  # tests/configs is on sys.path

OFFICIAL = tables.load_official()
WITH_OFFICIAL = [b for b, row in OFFICIAL.items() if row['official_config'] != 'n/a']
ITERS_PER_EPOCH = 50000 // 100  # CIFAR-100 train set, batch 100
FIDELITY_DOC = osp.join(REPO, 'docs', 'fidelity.md')
SOURCE_COLUMNS = ('crop_source', 'aug_source', 'clip_source', 'warmup_source', 'min_lr_source',
                  'drop_source', 'loss_source', 'init_source', 'no_decay_source')


@functools.lru_cache(maxsize=None)
def _cfg(backbone: str, optimizer: str) -> Config:
    return Config.fromfile(osp.join(REPO, pretrain.cifar100_path(backbone, optimizer)))


def test_table_has_a_source_for_every_value():
    assert set(WITH_OFFICIAL) == {'R-50', 'DeiT-S', 'MLP-S', 'Swin-T', 'CNX-T', 'Moga-S'}
    for backbone, row in OFFICIAL.items():
        official = row['official_config'] != 'n/a'
        for col in SOURCE_COLUMNS:
            if official:
                assert row[col].startswith('openmixup/configs/'), (backbone, col, row[col])
            else:  # no config in the release: the recipe family's value and where it comes from
                assert row[col].startswith('n/a; family: '), (backbone, col, row[col])
                assert len(row[col]) > len('n/a; family: ') + 5


def _train_step(cfg: Config, type_: str) -> dict | None:
    return next((t for t in cfg.train_dataloader.dataset.pipeline if t.type == type_), None)


def _param_schedulers(cfg: Config, optim_wrapper) -> list:
    """The config's schedulers as the Runner builds them (epoch -> iteration conversion)."""
    out = []
    for item in cfg.param_scheduler:
        item = dict(item)
        cls = PARAM_SCHEDULERS.get(item.pop('type'))
        assert item.pop('convert_to_iter_based') and item['by_epoch']
        out.append(cls.build_iter_from_epoch(optim_wrapper, **item, epoch_length=ITERS_PER_EPOCH))
    return out


@pytest.mark.parametrize('optimizer', optim_zoo.list_optimizers())
@pytest.mark.parametrize('backbone', WITH_OFFICIAL)
def test_config_follows_official_table(backbone, optimizer):
    row, cfg = OFFICIAL[backbone], _cfg(backbone, optimizer)
    assert cfg.bocb.official == row['official_config']

    # crop, RandAugment, erasing
    if row['crop'].startswith('rrc-'):
        lo, hi = map(float, row['crop'][len('rrc-'):].split('-'))
        crop = _train_step(cfg, 'RandomResizedCrop')
        assert tuple(crop.crop_ratio_range) == (lo, hi) and crop.scale == 224
    else:
        crop = _train_step(cfg, 'RandomCrop')
        assert (crop.crop_size, crop.padding, crop.padding_mode) == (32, 4, 'reflect')
        assert (_train_step(cfg, 'Resize') is not None) == row['crop'].endswith('resize224')
    randaug = _train_step(cfg, 'RandAugment')
    if row['randaug_magnitude'] == '-':
        assert randaug is None
    else:
        assert randaug.magnitude_level == int(row['randaug_magnitude'])
    erasing = _train_step(cfg, 'RandomErasing')
    assert (erasing.erase_prob if erasing else 0.0) == float(row['erasing'])

    # loss, label smoothing, batch augments
    loss = cfg.model.head.loss
    if row['loss'] == 'BCE':
        assert loss.type == 'CrossEntropyLoss' and loss.use_sigmoid
    elif float(row['label_smoothing']):
        assert loss.type == 'LabelSmoothLoss'
        assert loss.label_smooth_val == float(row['label_smoothing'])
    else:
        assert loss.type == 'CrossEntropyLoss' and not loss.get('use_sigmoid', False)
    augments = {a.type: a.alpha for a in cfg.model.get('train_cfg', {}).get('augments', [])}
    assert augments.get('Mixup', 0.0) == float(row['mixup'])
    assert augments.get('CutMix', 0.0) == float(row['cutmix'])

    # model: drop path, dropout, init
    assert cfg.model.backbone.get('drop_path_rate', 0.0) == float(row['drop_path'])
    assert cfg.model.backbone.get('drop_rate', 0.0) == float(row['dropout'])
    assert cfg.model.get('init_cfg') == _plain(tables.INIT_CFGS[row['init']])

    # optimizer: clipping, extras, parameter groups
    wrapper_cfg = cfg.optim_wrapper
    if row['clip_grad'] == '-':
        assert 'clip_grad' not in wrapper_cfg
    else:
        assert wrapper_cfg.clip_grad == dict(max_norm=float(row['clip_grad']))
    for arg, value in tables.optimizer_args(row).get(optimizer, {}).items():
        assert wrapper_cfg.optimizer[arg] == float(value)
    decay_all = optimizer in row['decay_all_optimizers'].split(';')
    assert wrapper_cfg.constructor == fragments.CONSTRUCTOR
    assert wrapper_cfg.paramwise_cfg == _plain(fragments.paramwise_cfg(row['no_decay'], decay_all))

    init_default_scope('mmpretrain')
    model = _model(cfg)
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    wd = float(wrapper_cfg.optimizer.weight_decay)
    decay_of = {id(p): g['weight_decay'] for g in wrapper.optimizer.param_groups
                for p in g['params']}
    keys = [k for k in row['no_decay'].split(';') if k not in ('norm', 'bias', '1d', '-')]
    for mod_name, module in model.named_modules():
        for local, param in module.named_parameters(recurse=False):
            name = f'{mod_name}.{local}'
            exempt = not decay_all and (is_norm_module(module) or local == 'bias'
                                        or any(k in name for k in keys))
            assert decay_of[id(param)] == (0.0 if exempt else pytest.approx(wd)), name
    # every exclusion key names parameters of this backbone, but Swin-T's absolute position
    # embedding, which the release lists and mmpretrain's Swin-T (like the release's) does not use
    missing = [k for k in keys if not any(k in n for n, _ in model.named_parameters())]
    assert missing == (['absolute_pos_embed'] if backbone == 'Swin-T' else []), missing

    # schedule: warm-up length in iterations, final lr
    schedulers = _param_schedulers(cfg, wrapper)
    warmup = int(row['warmup_epochs'])
    cosine = schedulers[-1]
    if warmup:
        linear = schedulers[0]
        assert type(linear).__name__ == 'LinearLR'
        assert (linear.begin, linear.end) == (0, warmup * ITERS_PER_EPOCH)
        assert linear.start_factor == float(fragments.WARMUP_START_FACTOR)
    else:
        assert len(schedulers) == 1
    assert type(cosine).__name__ == 'CosineAnnealingLR'
    assert (cosine.begin, cosine.end) == (warmup * ITERS_PER_EPOCH, 200 * ITERS_PER_EPOCH)
    assert cosine.eta_min == float(row['min_lr'])


def test_backbones_without_official_config_follow_their_family():
    for backbone, row in OFFICIAL.items():
        if row['official_config'] != 'n/a':
            continue
        cfg = _cfg(backbone, 'AdamW')
        assert cfg.bocb.official == 'n/a'
        assert cfg.model.backbone.get('drop_path_rate', 0.0) == float(row['drop_path'])
        assert cfg.optim_wrapper.get('clip_grad', {}).get('max_norm') == (
            None if row['clip_grad'] == '-' else float(row['clip_grad']))
        assert cfg.param_scheduler[-1].eta_min == float(row['min_lr'])
        assert cfg.param_scheduler[-1].begin == int(row['warmup_epochs'])


# ------------------------------------------------------------------------- paper vs release
def test_r50_grid_of_the_release_disagrees_with_the_appendix_for_6_of_8():
    official = {o: r for (b, o), r in tables.load_official_hparams().items() if b == 'R-50'}
    assert len(official) == 8
    differ = {o for o, r in official.items()
              if (float(r['lr']), float(r['weight_decay'])) != _paper_hparams()[('R-50', o)]}
    assert differ == {'Adam', 'AdamP', 'LAMB', 'Adan', 'AdaBelief', 'AdaFactor'}
    for optimizer in official:  # the configs keep the appendix, and say so where it differs
        cfg = _cfg('R-50', optimizer)
        lr, wd = _paper_hparams()[('R-50', optimizer)]
        assert float(cfg.optim_wrapper.optimizer.lr) == lr
        assert float(cfg.optim_wrapper.optimizer.weight_decay) == wd
        assert ('paper-lr-vs-release' in cfg.bocb.deviations) == (optimizer in differ)


def test_fidelity_doc_explains_every_deviation_id():
    with open(FIDELITY_DOC, encoding='utf-8') as f:
        doc = f.read()
    ids = set(re.findall(r'^\| `([a-z0-9-]+)` \|', doc, flags=re.M))
    used = set()
    for entry, _ in pretrain.all_entries():
        cfg = Config.fromfile(osp.join(REPO, entry.path))
        used |= set(cfg.bocb.deviations)
    assert used <= ids, used - ids
    for optimizer in ('Adam', 'AdamP', 'LAMB', 'Adan', 'AdaBelief', 'AdaFactor'):
        assert re.search(rf'^\| {optimizer} \|', doc, flags=re.M), optimizer


# ------------------------------------------------------------------------- ImageNet lr rule
@pytest.mark.parametrize('backbone,optimizer', sorted(pretrain.IMAGENET_PUBLISHED))
def test_imagenet_rule_reproduces_published_anchor(backbone, optimizer):
    recipe = tables.load_recipes()[pretrain.IMAGENET_RECIPES[backbone]]
    batch = int(recipe['imagenet_gpus']) * int(recipe['imagenet_batch_per_gpu'])
    rule_lr, _, _ = pretrain.imagenet_rule_lr(backbone, optimizer, batch)
    published_lr, _, _ = pretrain.IMAGENET_PUBLISHED[(backbone, optimizer)]
    assert float(rule_lr) == pytest.approx(float(published_lr), rel=1e-12)


# ------------------------------------------------------------------------- LARS trust ratio
def _lars_vs_manual(trust_ratio: bool, foreach: bool) -> None:
    torch.manual_seed(0)
    w = torch.randn(6, 5)
    b = torch.randn(5)
    lr, wd, mom, coeff = 0.5, 1e-4, 0.9, 1e-3
    p_lars = [w.clone().requires_grad_(), b.clone().requires_grad_()]
    groups = [dict(params=[p_lars[0]]), dict(params=[p_lars[1]], weight_decay=0.0)]
    opt = LARS(groups, lr=lr, momentum=mom, weight_decay=wd, trust_coeff=coeff,
               trust_ratio=trust_ratio, foreach=foreach)
    ref = [w.clone(), b.clone()]
    bufs = [None, None]
    for step in range(3):
        grads = [torch.randn(6, 5), torch.randn(5)]
        for p, g in zip(p_lars, grads):
            p.grad = g.clone()
        opt.step()
        for i, (p, g) in enumerate(zip(ref, grads)):
            decay = wd if i == 0 else 0.0
            d = g + decay * p
            if trust_ratio and decay != 0:  # the ratio only where weight decay applies
                d = d * (coeff * p.norm() / (g.norm() + decay * p.norm() + 1e-8))
            bufs[i] = d.clone() if bufs[i] is None else bufs[i] * mom + d
            p -= lr * bufs[i]
    for got, want in zip(p_lars, ref):
        torch.testing.assert_close(got.detach(), want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize('foreach', [False, True])
@pytest.mark.parametrize('trust_ratio', [True, False])
def test_lars_trust_ratio_option(trust_ratio, foreach):
    _lars_vs_manual(trust_ratio, foreach)


def test_lars_without_trust_ratio_is_sgd_with_momentum():
    torch.manual_seed(1)
    w = torch.randn(4, 3)
    a, b = w.clone().requires_grad_(), w.clone().requires_grad_()
    lars = LARS([a], lr=0.1, momentum=0.9, weight_decay=1e-4, trust_ratio=False)
    sgd = torch.optim.SGD([b], lr=0.1, momentum=0.9, weight_decay=1e-4)
    for _ in range(4):
        g = torch.randn(4, 3)
        a.grad, b.grad = g.clone(), g.clone()
        lars.step()
        sgd.step()
    torch.testing.assert_close(a.detach(), b.detach())


def test_lars_configs_state_the_trust_ratio():
    for entry, _ in pretrain.all_entries():
        if entry.optimizer == 'LARS':
            cfg = Config.fromfile(osp.join(REPO, entry.path))
            assert cfg.optim_wrapper.optimizer.trust_ratio is fragments.LARS_TRUST_RATIO is True
            assert 'lars-trust-ratio' in cfg.bocb.deviations


# ------------------------------------------------------------------------- scoring rules
def test_collector_records_both_scoring_rules(tmp_path):
    from bocb_mm.sweep.collect import CSV_FIELDS, collect, summarize_metrics
    from bocb_mm.sweep.plan import Run
    accs = [10.0, 50.0, 90.0, 60.0, 61.0, 62.0, 63.0, 64.0, 65.0, 66.0, 67.0, 68.0]
    vis = tmp_path / 'run' / '20260101_000000' / 'vis_data'
    os.makedirs(vis)
    with open(vis / 'scalars.json', 'w') as f:
        for epoch, acc in enumerate(accs, 1):
            f.write(json.dumps(dict(loss=1.0, epoch=epoch, iter=epoch * 10, step=epoch)) + '\n')
            f.write(json.dumps({'accuracy/top1': acc, 'accuracy/top5': acc + 1, 'step': epoch})
                    + '\n')
    median = (64.0 + 65.0) / 2  # the last 10: 90, 60..68
    run = Run(config='c.py', seed=0, work_dir=str(tmp_path / 'run'), backbone='R-50',
              optimizer='AdamW', dataset='cifar100')
    rows = collect([run], str(tmp_path / 'results.csv'))
    row = rows[0]
    assert row['top1_best'] == 90.0 and row['top1_median_last10'] == median
    assert row['score_rule'] == 'median_last10' and row['top1'] == median  # official default
    assert row['top5'] == median + 1  # top-5 under the same rule as top-1
    best = summarize_metrics([json.loads(line) for line in open(vis / 'scalars.json')],
                             score='best')
    assert best['top1'] == 90.0 and best['top1_median_last10'] == median
    assert best['top5'] == 91.0
    # COCO transfer (12 evaluations, most before the lr drop): the final evaluation, not the median
    coco = [{'coco/bbox_mAP': m, 'step': e} for e, m in enumerate([.1, .2, .3, .4, .5, .6, .7,
                                                                    .8, .9, .35, .36, .37], 1)]
    scored = summarize_metrics(coco)
    assert scored['score_rule'] == 'last' and scored['top1'] == 0.37
    assert scored['top1_median_last10'] == statistics.median(m['coco/bbox_mAP'] for m in coco[2:])
    assert summarize_metrics(coco, score='best')['top1'] == 0.9
    header = open(tmp_path / 'results.csv').readline().strip().split(',')
    assert header == list(CSV_FIELDS)
    assert {'top1_best', 'top1_median_last10', 'score_rule'} <= set(header)
    with pytest.raises(ValueError, match='score'):
        summarize_metrics([], score='max')
    assert math.isclose(median, 64.5)
