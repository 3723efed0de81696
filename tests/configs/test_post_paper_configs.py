"""The post-paper optimizers on CIFAR-100: their sourced table (``post_paper_cifar100_hparams.csv``)
and its validation, the zoo's recommended values, and the generated configs of
``configs/cifar100_post_paper/`` (load, lr / wd by the rule, Muon's constructor, Schedule-Free's
warm-up-only schedule, the optim wrapper built through the real constructor).

The paper grid's tests (test_configs.py) glob ``configs/cifar100/`` and so leave these out.
"""
from __future__ import annotations

import csv
import functools
import glob
import io
import os.path as osp
from fractions import Fraction

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from torch import nn

import bocb_mm  # noqa: F401
from bocb_mm.analysis.hparams import typical_hparams
from bocb_mm.configgen import fragments, pretrain, tables
from bocb_mm.optim import config_check
from bocb_mm.optim import zoo as optim_zoo

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
POST_PAPER = sorted(glob.glob(osp.join(REPO, 'configs', 'cifar100_post_paper', '*', '*.py')))
SUITE = optim_zoo.list_optimizers('post-paper')


def _rel(path: str) -> str:
    return osp.relpath(path, REPO)


@functools.lru_cache(maxsize=None)
def _table_rows() -> tuple[dict[str, str], ...]:
    """The post-paper table read directly (not through tables.py)."""
    with open(tables.POST_PAPER_HPARAMS, newline='', encoding='utf-8') as f:
        return tuple(csv.DictReader(f))


@functools.lru_cache(maxsize=None)
def _paper_hparams() -> dict[tuple[str, str], tuple[float, float]]:
    with open(tables.HPARAMS, newline='', encoding='utf-8') as f:
        return {(r['backbone'], optim_zoo.resolve_name(r['optimizer'])):
                (float(r['lr']), float(r['weight_decay'])) for r in csv.DictReader(f)}


def _expected(column: str, optimizer: str) -> tuple[float, float]:
    """The rule of the table applied to the reference's appendix value in ``column``."""
    row = next(r for r in _table_rows() if optim_zoo.resolve_name(r['optimizer']) == optimizer)
    lr, wd = _paper_hparams()[(column, optim_zoo.resolve_name(row['reference']))]
    return lr * float(Fraction(row['lr_factor'])), wd * float(Fraction(row['wd_factor']))


# ----------------------------------------------------------------------------------------------
# the table
# ----------------------------------------------------------------------------------------------
def test_table_has_one_sourced_rule_per_post_paper_optimizer():
    rules = tables.load_post_paper_hparams()
    assert list(rules) == SUITE
    for rule in rules.values():
        assert 'arXiv:' in rule.source or 'https://' in rule.source, rule.optimizer
        assert optim_zoo.get_info(rule.reference).suite == 'paper'
    assert rules['Muon'].args['adjust_lr_fn'] == 'match_rms_adamw'
    assert rules['Kron'].args == {'deterministic': True}
    assert rules['AdEMAMix'].args['t_alpha_beta3'] == tables.RUN_ITERS
    assert rules['Schedule-Free AdamW'].schedule == 'warmup-only'


def _write_table(tmp_path, change) -> str:
    """The shipped table with ``change(rows)`` applied, written to a temporary file."""
    rows = [dict(r) for r in _table_rows()]
    rows = change(rows) or rows
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(_table_rows()[0]))
    writer.writeheader()
    writer.writerows(rows)
    path = tmp_path / 'post_paper.csv'
    path.write_text(out.getvalue(), encoding='utf-8')
    return str(path)


def _set(column: str, value: str, index: int = 0):
    def change(rows):
        rows[index][column] = value
    return change


@pytest.mark.parametrize('change,match', [
    (_set('optimizer', 'Nope'), "Unknown optimizer 'Nope'"),
    (_set('optimizer', 'AdamW'), 'AdamW is not a post-paper optimizer'),
    (_set('reference', 'Kron'), 'reference Kron is not one of the paper'),
    (_set('source', ''), 'Muon: no source'),
    (_set('lr_factor', 'ten'), "lr_factor 'ten' is not a number"),
    (_set('lr_factor', '0'), "lr_factor '0' must be positive"),
    (_set('wd_factor', '-1'), "wd_factor '-1' must be non-negative"),
    (_set('args', 'nesterov'), "argument 'nesterov': expected name=value"),
    (_set('args', 'nesterov=yes please'), 'is not a Python literal'),
    (_set('args', 'lr=0.1'), 'lr not a fixed argument of Muon'),
    (_set('args', 'momentun=0.9'), 'momentun not a fixed argument of Muon'),
    (_set('schedule', 'cosine'), "schedule 'cosine' is not one of"),
    (_set('min_warmup_epochs', 'five'), "min_warmup_epochs 'five' is not a whole number"),
    (lambda rows: rows[1:], 'no row for Muon'),
    (lambda rows: rows + rows[:1], 'duplicate row Muon'),
])
def test_table_validation_errors(tmp_path, change, match):
    path = _write_table(tmp_path, change)
    with pytest.raises(ValueError, match=match) as err:
        tables.load_post_paper_hparams(path)
    assert path in str(err.value)


# ----------------------------------------------------------------------------------------------
# the zoo: recommended values, the wrapper
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize('name', SUITE)
def test_recommended_hparams_are_the_rule_on_the_reference(name):
    rule = tables.load_post_paper_hparams()[name]
    recommended = optim_zoo.recommended_hparams(name)
    assert list(recommended) == list(optim_zoo.study_hparams(rule.reference))
    for column, (lr, wd) in recommended.items():
        want_lr, want_wd = _expected(column, name)
        assert lr == pytest.approx(want_lr, rel=5e-3) and wd == pytest.approx(want_wd, rel=5e-3)
    assert optim_zoo.study_hparams(name) == {}
    lr, _ = typical_hparams(name)  # the demo's grid centre: a mode of the recommended values
    assert lr in {lr for lr, _ in recommended.values()}


def test_recommended_hparams_of_a_paper_optimizer_are_the_study_values():
    assert optim_zoo.recommended_hparams('AdamW') == optim_zoo.study_hparams('AdamW')
    assert typical_hparams('Muon') == typical_hparams('AdamW')  # the same values, factor 1
    kron_lr, kron_wd = typical_hparams('Kron')
    adamw_lr, adamw_wd = typical_hparams('AdamW')
    assert kron_lr == pytest.approx(adamw_lr / 3, rel=5e-3)
    assert kron_wd == pytest.approx(adamw_wd * 3, rel=5e-3)


def test_muon_alone_needs_the_bocb_constructor():
    for name in optim_zoo.list_optimizers('all'):
        wrapper = optim_zoo.wrapper_cfg(name, lr=1e-3, weight_decay=0.0)
        assert (wrapper.get('constructor') == fragments.CONSTRUCTOR) == (name == 'Muon'), name
    assert 'constructor' in fragments.optim_wrapper_cfg('Muon', '1e-3', '5e-2')
    assert 'constructor' not in fragments.optim_wrapper_cfg('AdamW', '1e-3', '5e-2')


# ----------------------------------------------------------------------------------------------
# the configs
# ----------------------------------------------------------------------------------------------
def test_grid_and_paths():
    from bocb_mm.models import zoo as model_zoo
    assert len(POST_PAPER) == len(model_zoo.list_backbones()) * len(SUITE)
    assert {e.path for e, _ in pretrain.post_paper_entries()} == {_rel(p) for p in POST_PAPER}
    assert pretrain.cifar100_path('R-50', 'Schedule-Free AdamW') == (
        'configs/cifar100_post_paper/resnet50/resnet50_schedulefreeadamw_1xb100-200e_cifar100.py')
    assert pretrain.cifar100_path('R-50', 'AdamW').startswith('configs/cifar100/resnet50/')


@functools.lru_cache(maxsize=None)
def _paper_config(backbone: str) -> Config:
    """The backbone's paper AdamW config (the same base as its post-paper configs)."""
    return Config.fromfile(osp.join(REPO, pretrain.cifar100_path(backbone, 'AdamW')))


def _lr_schedulers(cfg: Config) -> list[dict]:
    return [s for s in cfg.param_scheduler if s.get('param_name', 'lr') == 'lr']


@pytest.mark.parametrize('path', POST_PAPER, ids=_rel)
def test_post_paper_config(path):
    cfg = Config.fromfile(path)
    bocb = cfg.bocb
    info = optim_zoo.get_info(bocb['optimizer'])
    assert info.suite == 'post-paper' and bocb['suite'] == 'post-paper'
    assert bocb['hparams_source'] == _rel(tables.POST_PAPER_HPARAMS)
    # the recipe is the paper grid's: the same base as the backbone's 20 paper configs
    paper = _paper_config(bocb['backbone'])
    assert cfg.model == paper.model and cfg.train_dataloader == paper.train_dataloader
    assert cfg.optim_wrapper.paramwise_cfg == paper.optim_wrapper.paramwise_cfg
    assert cfg.optim_wrapper.get('clip_grad') == paper.optim_wrapper.get('clip_grad')
    # lr / weight decay: the rule on the reference's appendix value, same column
    opt = cfg.optim_wrapper.optimizer
    assert opt.type == info.type
    want_lr, want_wd = _expected(bocb['hparams_from'], info.name)
    assert opt.lr == pytest.approx(want_lr, rel=5e-3)
    assert opt.weight_decay == pytest.approx(want_wd, rel=5e-3, abs=1e-12)
    assert cfg.optim_wrapper.constructor == fragments.CONSTRUCTOR
    if info.name == 'Muon':
        with open(path, encoding='utf-8') as f:  # stated in the config itself, not inherited
            assert f"constructor='{fragments.CONSTRUCTOR}'" in f.read()
    # the schedule: Schedule-Free keeps a warm-up only, the others the recipe's
    if info.name == 'Schedule-Free AdamW':
        warmup = max(int(tables.load_official()[bocb['backbone']]['warmup_epochs']), 5)
        assert [(s.type, s.end) for s in _lr_schedulers(cfg)] == [('LinearLR', warmup)]
        assert all(s.get('end_factor', 1.0) == 1.0 for s in cfg.param_scheduler)
    else:
        assert cfg.param_scheduler == paper.param_scheduler
    config_check.check_optim_cfg(cfg)  # what bocb_mm.training.entry.check_config runs


def test_schedule_free_with_the_recipe_schedule_is_refused():
    """The check that accepts the warm-up-only configs refuses the recipe's cosine decay."""
    path = osp.join(REPO, pretrain.cifar100_path('CNX-T', 'Schedule-Free AdamW'))
    cfg = Config.fromfile(path)
    cfg.param_scheduler = Config.fromfile(
        osp.join(REPO, pretrain.cifar100_path('CNX-T', 'AdamW'))).param_scheduler
    with pytest.raises(config_check.OptimConfigError, match='CosineAnnealingLR'):
        config_check.check_optim_cfg(cfg)


class _TinyNet(nn.Module):
    """A stem conv, a hidden conv with BatchNorm, a linear head: one tensor of each route."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3)
        self.conv = nn.Conv2d(8, 16, 3, bias=False)
        self.bn = nn.BatchNorm2d(16)
        self.head = nn.Linear(16, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bn(self.conv(torch.relu(self.stem(x))))
        return self.head(x.mean(dim=(2, 3)))


#: Kron compiles its preconditioner kernels with torch.compile at the first step (a minute on CPU).
BUILD_CASES = [pytest.param(n, marks=pytest.mark.slow) if n == 'Kron' else n for n in SUITE]


@pytest.mark.parametrize('name', BUILD_CASES)
def test_optim_wrapper_builds_through_the_constructor_and_steps(name):
    """The R-50 config's optim_wrapper on a tiny model, through the configs' constructor."""
    cfg = Config.fromfile(osp.join(REPO, pretrain.cifar100_path('R-50', name)))
    info = optim_zoo.get_info(name)
    init_default_scope('mmpretrain')
    torch.manual_seed(0)
    model = _TinyNet()
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    assert type(wrapper.optimizer) is info.cls
    groups = wrapper.optimizer.param_groups
    assert {g['lr'] for g in groups} == {cfg.optim_wrapper.optimizer.lr}
    assert max(g['weight_decay'] for g in groups) == pytest.approx(
        cfg.optim_wrapper.optimizer.weight_decay)
    assert min(g['weight_decay'] for g in groups) == 0  # BatchNorm and biases: no decay
    if name == 'Muon':  # the routing: the stem and the head to the AdamW fallback
        fallback = {id(p) for g in groups if g.get('use_fallback') for p in g['params']}
        assert id(model.stem.weight) in fallback and id(model.head.weight) in fallback
        assert id(model.conv.weight) not in fallback
    if hasattr(wrapper.optimizer, 'train'):
        wrapper.optimizer.train()  # Schedule-Free: the ScheduleFreeHook does this in a Runner
    before = [p.detach().clone() for p in model.parameters()]
    for _ in range(2):  # ADOPT and SOAP only initialise their state at the first step
        wrapper.update_params(model(torch.randn(4, 3, 8, 8)).square().mean())
    assert any(not torch.equal(b, p) for b, p in zip(before, model.parameters()))
