"""Every shipped pre-training config loads, builds its model and optimizer wrapper on CPU, and
says what the paper's tables say (optimizer, lr, weight decay, recipe, input size).

Models are built once per distinct model config (22: 20 CIFAR-100 backbones, 2 ImageNet) and
reused for the configs that share it; every config is loaded and its optimizer wrapper built.
"""
from __future__ import annotations

import csv
import functools
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope

import bocb_mm  # noqa: F401
from bocb_mm.configgen import fragments, pretrain, tables
from bocb_mm.optim import zoo as optim_zoo

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CIFAR = sorted(glob.glob(osp.join(REPO, 'configs', 'cifar100', '**', '*.py'), recursive=True))
IMAGENET = sorted(glob.glob(osp.join(REPO, 'configs', 'imagenet', '**', '*.py'), recursive=True))
ALL = CIFAR + IMAGENET
RECIPE_LOSS = {'PyTorch': ('CrossEntropyLoss', False), 'DeiT': ('LabelSmoothLoss', None),
               'ConvNeXt': ('LabelSmoothLoss', None), 'RSB A2': ('CrossEntropyLoss', True)}


def _rel(path: str) -> str:
    return osp.relpath(path, REPO)


@functools.lru_cache(maxsize=None)
def _paper_hparams() -> dict:
    """The appendix table read directly (not through the generator)."""
    with open(tables.HPARAMS, newline='') as f:
        return {(r['backbone'], optim_zoo.resolve_name(r['optimizer'])): (float(r['lr']),
                                                                         float(r['weight_decay']))
                for r in csv.DictReader(f)}


@functools.lru_cache(maxsize=None)
def _borrowed() -> dict:
    with open(osp.join(REPO, 'bocb_mm', 'data', 'cifar100_hparams_from.csv'), newline='') as f:
        return {r['backbone']: r['hparams_from'] for r in csv.DictReader(f)}


_MODELS: dict[str, torch.nn.Module] = {}


def _model(cfg: Config) -> torch.nn.Module:
    """Build (once per distinct model config) the config's model on CPU."""
    from mmpretrain.registry import MODELS
    key = repr(cfg.model.to_dict())
    if key not in _MODELS:
        _MODELS[key] = MODELS.build(cfg.model)
    return _MODELS[key]


def test_grid_counts():
    from bocb_mm.models import zoo as model_zoo
    n_bb, n_opt = len(model_zoo.list_backbones()), len(optim_zoo.list_optimizers())
    assert (n_bb, n_opt) == (20, 20)
    assert len(CIFAR) == n_bb * n_opt
    assert len(IMAGENET) == len(pretrain.IMAGENET_BACKBONES) * n_opt


def test_generated_configs_up_to_date():
    problems = pretrain.check(pretrain.all_entries(), verbose=True)
    assert not problems, '\n'.join(problems[:10]) + '\nrun: python tools/gen_configs.py'


def test_wrapper_per_optimizer_is_the_zoos():
    """The wrapper type of an optimizer's configs is ``OptimizerInfo.wrapper``: Sophia's the
    periodic Hessian refresh of bocb_mm.SophiaOptimWrapper, every other mmengine's OptimWrapper."""
    for name in optim_zoo.list_optimizers():
        wrapper = optim_zoo.get_info(name).wrapper
        assert 'OptimWrapper' in wrapper
        assert (wrapper == 'bocb_mm.SophiaOptimWrapper') == (name == 'Sophia'), name


@pytest.mark.parametrize('path', ALL, ids=_rel)
def test_config(path):
    cfg = Config.fromfile(path)
    assert cfg.default_scope == 'mmpretrain'
    assert cfg.custom_imports == dict(imports=['bocb_mm'], allow_failed_imports=False)
    bocb = cfg.bocb
    assert set(bocb) == {'backbone', 'optimizer', 'recipe', 'dataset', 'input_size',
                         'hparams_from', 'official', 'param_groups', 'deviations'}
    # the parameter-group statement is what the constructor options say
    assert cfg.optim_wrapper.constructor == fragments.CONSTRUCTOR
    assert bocb['param_groups'] == fragments.param_groups_statement(cfg.optim_wrapper.paramwise_cfg)
    info = optim_zoo.get_info(bocb['optimizer'])

    # the optimizer, lr and weight decay the paper's table gives this pair
    opt = cfg.optim_wrapper.optimizer
    assert opt.type == info.type
    for key, value in info.defaults.items():
        assert opt[key] == value, (key, opt[key], value)
    if bocb['dataset'] == 'cifar100':
        column = bocb['backbone'] if (bocb['backbone'], info.name) in _paper_hparams() \
            else _borrowed()[bocb['backbone']]
        assert bocb['hparams_from'] == column
        assert bocb['backbone'] not in tables.EXTRA_COLUMNS
        lr, wd = _paper_hparams()[(column, info.name)]
        assert cfg.train_cfg.max_epochs == 200
        assert cfg.train_dataloader.batch_size == 100
        assert cfg.auto_scale_lr.base_batch_size == 100
        assert cfg.train_dataloader.dataset.type == 'CIFAR100'
        assert cfg.data_preprocessor.num_classes == 100
    else:
        batch = cfg.train_dataloader.batch_size * 8
        lr, wd, _ = pretrain.imagenet_hparams(bocb['backbone'], info.name, batch)
        lr, wd = float(lr), float(wd)
        ref = int(tables.load_recipes()[bocb['recipe']]['imagenet_lr_ref_batch'])
        if (bocb['backbone'], info.name) not in pretrain.IMAGENET_PUBLISHED:
            cifar_lr, cifar_wd = _paper_hparams()[(bocb['backbone'], info.name)]
            assert lr == pytest.approx(cifar_lr * batch / ref) and wd == cifar_wd
        assert cfg.train_cfg.max_epochs == 300
        assert cfg.auto_scale_lr.base_batch_size == batch
        assert cfg.data_preprocessor.num_classes == 1000
    assert float(opt.lr) == pytest.approx(lr, rel=1e-9)
    assert float(opt.weight_decay) == pytest.approx(wd, rel=1e-9, abs=0)
    assert cfg.optim_wrapper.type == info.wrapper

    # recipe: loss, input size, evaluation, checkpoints
    loss = cfg.model.head.loss
    want_loss, sigmoid = RECIPE_LOSS[bocb['recipe']]
    assert loss.type == want_loss and (sigmoid is None or loss.get('use_sigmoid', False) == sigmoid)
    test_sizes = [t.get('scale', t.get('crop_size')) for t in cfg.val_dataloader.dataset.pipeline
                  if t.type in ('Resize', 'CenterCrop')]
    assert (test_sizes[-1] if test_sizes else 32) == bocb['input_size']
    assert cfg.val_evaluator == dict(type='Accuracy', topk=(1, 5))
    assert cfg.default_hooks.checkpoint.save_best == 'accuracy/top1'
    assert cfg.default_hooks.checkpoint.save_last

    # builds on CPU: the model (once per distinct model) and this config's optimizer wrapper
    init_default_scope('mmpretrain')
    model = _model(cfg)
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    assert type(wrapper.optimizer) is info.cls
    assert wrapper.optimizer.defaults['lr'] == pytest.approx(lr)
    decays = {g['weight_decay'] for g in wrapper.optimizer.param_groups}
    assert max(decays) == pytest.approx(wd)
    # the groups reproduce the statement: exempt tensors get no decay, the others the config's
    exempt = {g.get('trust_exclude') for g in wrapper.optimizer.param_groups}
    assert exempt == ({False} if bocb['param_groups'].endswith('on all parameters')
                      else {False, True})


BASES = sorted(glob.glob(osp.join(REPO, 'configs', '_base_', '**', '*.py'), recursive=True))


@pytest.mark.parametrize('path', BASES, ids=_rel)
def test_base_config_loads(path):
    """Each base on its own (the leaves cover the combinations they use)."""
    cfg = Config.fromfile(path)
    if osp.basename(path) == 'default_runtime.py':
        assert cfg.default_scope == 'mmpretrain'
        assert cfg.custom_imports.imports == ['bocb_mm']
    if '/datasets/' in path:
        assert cfg.train_dataloader.dataset.pipeline[-1] == dict(type='PackInputs')
        assert cfg.val_evaluator.topk == (1, 5)
    if '/schedules/' in path:
        assert cfg.param_scheduler[-1].end == cfg.train_cfg.max_epochs
        assert 'optimizer' not in cfg.optim_wrapper  # each leaf config sets its own
        assert 'paramwise_cfg' not in cfg.optim_wrapper  # so is its parameter-group policy


def test_recipe_table_matches_model_zoo():
    from bocb_mm.models import zoo as model_zoo
    recipes = tables.load_recipes()
    for backbone in model_zoo.list_backbones():
        assert model_zoo.get_backbone_info(backbone).recipe in recipes
    borrowed = tables.load_hparams_from()
    columns = {b for b, _ in tables.load_hparams()}
    for backbone in model_zoo.list_backbones():
        # a backbone borrows a column exactly when it has none, from a backbone of its recipe
        assert (backbone in borrowed) == (backbone not in columns), backbone
        if backbone in borrowed:
            donor = borrowed[backbone][0]
            assert donor in columns
            assert (model_zoo.get_backbone_info(donor).recipe ==
                    model_zoo.get_backbone_info(backbone).recipe), backbone
    assert set(tables.EXTRA_COLUMNS) == columns - set(model_zoo.list_backbones())


def test_check_detects_stale_and_left_over():
    entries = pretrain.all_entries()
    entry, text = entries[0]
    stale = [(entry, text + '# edited\n')] + entries[2:]
    assert pretrain.check(stale, verbose=False) == [
        f'out of date: {entry.path}', f'left over (no longer generated): {entries[1][0].path}']
