"""Generate the pre-training configs of the BOCB grid from the paper's tables.

    python tools/gen_configs.py            # (re)write configs/cifar100/** and configs/imagenet/**
    python tools/gen_configs.py --check    # exit 1 (listing the files) if any is out of date
    python tools/gen_configs.py --list     # print the grid: backbone, optimizer, recipe, lr, wd

Sources (one place each; the configs are never edited by hand):

* the 20 backbones, their recipe, input size, file-name slug and model config:
  ``bocb_mm.models.zoo`` (``list_backbones``, ``get_backbone_info``, ``classifier_cfg``);
* the 20 optimizers, their config type and fixed arguments: ``bocb_mm.optim.zoo``;
* lr / weight decay per backbone x optimizer on CIFAR-100: the paper's appendix tables,
  ``bocb_mm/data/paper/cifar100_hparams.csv`` (or ``../shared/paper/`` in a work tree without it);
* the backbones without a column there and the column they borrow:
  ``bocb_mm/data/cifar100_hparams_from.csv``;
* the per-backbone CIFAR-100 recipe (crop, RandAugment, erasing, clipping, warm-up, final lr,
  drop path / dropout, init, weight-decay exclusions, optimizer extras), read from the official
  BOCB release: ``bocb_mm/data/official_cifar100.csv`` (deviations: ``docs/fidelity.md``);
* the recipes -> schedule bases (loss, batch augments), ImageNet batch, lr reference batch,
  drop path and exclusions: ``bocb_mm/data/recipes.csv``;
* the optimizer wrapper per optimizer: the zoo's ``OptimizerInfo.wrapper``;
* the ImageNet-1K lr rule: :data:`IMAGENET_PUBLISHED` and :func:`imagenet_hparams` below.
"""
from __future__ import annotations

import argparse
import csv
import difflib
import keyword
import os
import os.path as osp
import sys
import textwrap
from dataclasses import dataclass
from typing import Any, Iterable

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)

from bocb_mm.optim import zoo as optim_zoo  # noqa: E402


class Num(str):
    """A number written as given (``Num('1e-3')`` renders ``1e-3``, not ``0.001``)."""


DATA = osp.join(REPO, 'bocb_mm', 'data')
CONFIGS = osp.join(REPO, 'configs')
HPARAMS_CANDIDATES = (osp.join(DATA, 'paper', 'cifar100_hparams.csv'),
                      osp.join(osp.dirname(REPO), 'shared', 'paper', 'cifar100_hparams.csv'))
HPARAMS_FROM = osp.join(DATA, 'cifar100_hparams_from.csv')
RECIPES = osp.join(DATA, 'recipes.csv')
OFFICIAL = osp.join(DATA, 'official_cifar100.csv')

# Which optimizer wrapper an optimizer's configs use is a fact of the optimizer zoo
# (``OptimizerInfo.wrapper``: Sophia needs the periodic Hessian refresh of
# bocb_mm.engine.SophiaOptimWrapper); this map only lists the ones that differ from the default.
DEFAULT_WRAPPER = 'OptimWrapper'
OPTIM_WRAPPER_TYPES: dict[str, str] = {
    name: optim_zoo.get_info(name).wrapper for name in optim_zoo.list_optimizers()
    if optim_zoo.get_info(name).wrapper != DEFAULT_WRAPPER}

# Backbone columns of the appendix table that are not in the 20-backbone grid.
EXTRA_COLUMNS = ('R-101', 'R-101 (DeiT)')

# ----------------------------------------------------------------------------------------------
# The per-backbone CIFAR-100 recipe of the official BOCB release, bocb_mm/data/official_cifar100.csv
# (one row per backbone, with the release's file for every value), and how its values become
# config pieces. Where this project still departs from the release: docs/fidelity.md.
# ----------------------------------------------------------------------------------------------
OFFICIAL_HPARAMS = osp.join(DATA, 'official_cifar100_hparams.csv')
CIFAR100_EPOCHS = 200
#: (crop, RandAugment magnitude, erasing probability) of the table -> configs/_base_/datasets base
CIFAR100_DATA_BASES: dict[tuple[str, str, str], str] = {
    ('pad4-reflect', '-', '0'): 'cifar100_bs100',
    ('pad4-reflect+resize224', '-', '0'): 'cifar100_bs100_224',
    ('pad4-reflect', '9', '0.25'): 'cifar100_bs100_randaug',
    ('pad4-reflect', '7', '0'): 'cifar100_bs100_rsb',
    ('rrc-0.8-1.0', '9', '0.25'): 'cifar100_bs100_224_randaug',
    ('rrc-0.8-1.0', '7', '0'): 'cifar100_bs100_224_rsb',
}
#: ``init`` of the table -> the classifier's ``init_cfg`` (None: each module's own init). The
#: release's DeiT-S / MLP-S / Swin-T configs set the ViT-family init on the whole classifier.
INIT_CFGS: dict[str, list | None] = {
    'default': None,
    'trunc_normal_linear': [
        dict(type='TruncNormal', layer='Linear', std=Num('0.02'), bias=Num('0.0')),
        dict(type='Constant', layer=['LayerNorm', 'BatchNorm'], val=Num('1.0'), bias=Num('0.0')),
    ],
}
#: Linear warm-up from this fraction of the lr: the release's ``warmup_ratio=1e-5``.
WARMUP_START_FACTOR = '1e-5'
#: The LARS trust ratio (docs/fidelity.md, "lars-trust-ratio"): on, applied to the parameters
#: with weight decay (timm; the release's detection copy of LARS). ``False`` is the release's
#: classification LARS default (no trust ratio: SGD with momentum). The appendix lrs decide it.
LARS_TRUST_RATIO = True
#: The parameter-group constructor of every generated config (no decay / no trust-ratio
#: adaptation on what the table's ``no_decay`` lists).
CONSTRUCTOR = 'bocb_mm.BOCBOptimWrapperConstructor'

# ----------------------------------------------------------------------------------------------
# ImageNet-1K (the paper: DeiT-S with the DeiT recipe, R-50 with RSB A2, 300 epochs, 20
# optimizers). The paper gives no ImageNet lr table; these pairs have published values, and
# every other pair follows IMAGENET_RULE.
# ----------------------------------------------------------------------------------------------
IMAGENET_BACKBONES = ('DeiT-S', 'R-50')
IMAGENET_RECIPES = {'DeiT-S': 'DeiT', 'R-50': 'RSB A2'}
IMAGENET_EPOCHS = 300
IMAGENET_PUBLISHED: dict[tuple[str, str], tuple[str, str, str]] = {
    # (backbone, optimizer): (lr at the config's batch, weight decay, source)
    ('DeiT-S', 'AdamW'): ('1e-3', '5e-2', 'DeiT (Touvron et al., 2021): lr 5e-4 x 1024 / 512'),
    ('R-50', 'LAMB'): ('5e-3', '2e-2', 'ResNet strikes back A2 (Wightman et al., 2021), batch 2048'),
}
#: The rule for every other pair: the pair's CIFAR-100 lr (same backbone) x total batch / the
#: recipe's reference batch (``imagenet_lr_ref_batch`` of recipes.csv: the batch its published
#: base lr is stated for), weight decay unchanged. It reproduces both published lrs.
IMAGENET_RULE = ('lr = (the pair\'s CIFAR-100 lr, same backbone) x total batch / the recipe\'s '
                 'reference batch (DeiT: 512, DeiT\'s lr 5e-4 per 512 images; RSB A2: 2048, '
                 'its lr 5e-3 at batch 2048); weight decay unchanged. Both published lrs '
                 '(DeiT-S + AdamW 1e-3, R-50 + LAMB 5e-3) follow from their CIFAR-100 lrs by it')


@dataclass(frozen=True)
class Entry:
    """One generated config."""

    path: str  # relative to the repository root
    backbone: str
    optimizer: str
    recipe: str
    dataset: str
    input_size: int
    hparams_from: str
    lr: str
    weight_decay: str
    lr_source: str


# ----------------------------------------------------------------------------------------------
# tables
# ----------------------------------------------------------------------------------------------
def hparams_path() -> str:
    for path in HPARAMS_CANDIDATES:
        if osp.isfile(path):
            return path
    raise FileNotFoundError(f'cifar100_hparams.csv not found at any of {HPARAMS_CANDIDATES}')


def _read_csv(path: str) -> list[dict[str, str]]:
    with open(path, newline='', encoding='utf-8') as f:
        return [{k.strip(): (v or '').strip() for k, v in row.items()} for row in csv.DictReader(f)]


def load_hparams(path: str | None = None) -> dict[tuple[str, str], tuple[str, str]]:
    """``{(backbone column, optimizer): (lr, weight_decay)}`` as the table spells the numbers."""
    table: dict[tuple[str, str], tuple[str, str]] = {}
    for row in _read_csv(path or hparams_path()):
        key = (row['backbone'], optim_zoo.resolve_name(row['optimizer']))
        if key in table:
            raise ValueError(f'cifar100_hparams.csv: duplicate row {key}')
        float(row['lr']), float(row['weight_decay'])  # noqa: B018 (validate)
        table[key] = (row['lr'], row['weight_decay'])
    return table


def load_hparams_from() -> dict[str, tuple[str, str]]:
    """``{backbone: (column it borrows, reason)}`` for the backbones without a column."""
    return {r['backbone']: (r['hparams_from'], r['reason']) for r in _read_csv(HPARAMS_FROM)}


def load_recipes() -> dict[str, dict[str, str]]:
    return {r['recipe']: r for r in _read_csv(RECIPES)}


OFFICIAL_VALUE_COLUMNS = ('crop', 'randaug_magnitude', 'erasing', 'clip_grad', 'warmup_epochs',
                          'min_lr', 'drop_path', 'dropout', 'loss', 'label_smoothing', 'mixup',
                          'cutmix', 'init', 'no_decay', 'decay_all_optimizers', 'optimizer_args')


def load_official(path: str | None = None) -> dict[str, dict[str, str]]:
    """``{backbone: row}`` of ``official_cifar100.csv``, checked against the model zoo.

    Args:
        path: The table (default: :data:`OFFICIAL`).

    Returns:
        One row per backbone of the grid, values as written.

    Raises:
        ValueError: A missing / extra / duplicate backbone, a recipe or input size that is not the
            zoo's, a value without its source, or a value the generator cannot turn into a config.
    """
    path = path or OFFICIAL
    table: dict[str, dict[str, str]] = {}
    for row in _read_csv(path):
        name = row['backbone']
        if name in table:
            raise ValueError(f'{path}: duplicate row {name}')
        table[name] = row
    zoo = _models_zoo()
    if set(table) != set(zoo.list_backbones()):
        raise ValueError(f'{path}: rows {sorted(table)} are not the grid\'s backbones '
                         f'{zoo.list_backbones()}')
    for name, row in table.items():
        info = zoo.get_backbone_info(name)
        if (row['recipe'], int(row['input_size'])) != (info.recipe, int(info.input_size)):
            raise ValueError(f'{path}: {name} says {row["recipe"]} at {row["input_size"]}, the '
                             f'zoo {info.recipe} at {info.input_size}')
        if (row['crop'], row['randaug_magnitude'], row['erasing']) not in CIFAR100_DATA_BASES:
            raise ValueError(f'{path}: {name}: no data base for crop / RandAugment / erasing '
                             f'{row["crop"]} / {row["randaug_magnitude"]} / {row["erasing"]}')
        if row['init'] not in INIT_CFGS:
            raise ValueError(f'{path}: {name}: unknown init {row["init"]!r}')
        for col in ('warmup_epochs', 'min_lr', 'drop_path', 'dropout', 'label_smoothing',
                    'mixup', 'cutmix') + (('clip_grad',) if row['clip_grad'] != '-' else ()):
            float(row[col])
        for src in ('crop_source', 'aug_source', 'clip_source', 'warmup_source', 'min_lr_source',
                    'drop_source', 'loss_source', 'init_source', 'no_decay_source'):
            if not row[src]:
                raise ValueError(f'{path}: {name}: empty {src}')
        optimizer_args(row)  # validate
        for opt in _split(row['decay_all_optimizers']):
            optim_zoo.resolve_name(opt)
    return table


def load_official_hparams() -> dict[tuple[str, str], dict[str, str]]:
    """``{(backbone, optimizer): row}`` of the release's own CIFAR-100 lr / weight decay (the
    R-50 optimizer grid and the AdamW configs of the modern backbones)."""
    return {(r['backbone'], optim_zoo.resolve_name(r['optimizer'])): r
            for r in _read_csv(OFFICIAL_HPARAMS)}


def _split(value: str) -> list[str]:
    """``'a;b'`` -> ``['a', 'b']``; ``'-'`` / ``''`` -> ``[]``."""
    return [v.strip() for v in value.split(';') if v.strip() and v.strip() != '-']


def optimizer_args(row: dict[str, str]) -> dict[str, dict[str, Num]]:
    """``{optimizer: {arg: value}}`` from ``optimizer_args`` (``'Adan.max_grad_norm=5.0'``)."""
    out: dict[str, dict[str, Num]] = {}
    for item in _split(row['optimizer_args']):
        key, _, value = item.partition('=')
        optimizer, _, arg = key.partition('.')
        if not (arg and value):
            raise ValueError(f'optimizer_args item {item!r}: expected Optimizer.arg=value')
        float(value)
        out.setdefault(optim_zoo.resolve_name(optimizer), {})[arg] = Num(value)
    return out


def paramwise_cfg(no_decay: str, decay_all: bool = False) -> dict:
    """The :data:`CONSTRUCTOR` options for a ``no_decay`` entry of the tables.

    ``norm`` and ``bias`` are the constructor's own rules (norm layers by type, parameters named
    ``bias``); ``1d`` is every tensor with ``ndim <= 1`` and the embeddings; anything else is a
    parameter-name substring. ``decay_all`` (or an empty entry): weight decay on every parameter.
    """
    tokens = [] if decay_all else _split(no_decay)
    cfg: dict[str, Any] = {}
    if '1d' in tokens:
        cfg['no_decay_1d'] = True
    else:
        if 'norm' not in tokens:
            cfg['norm_decay_mult'] = Num('1.0')
        if 'bias' not in tokens:
            cfg['bias_decay_mult'] = Num('1.0')
    keys = tuple(t for t in tokens if t not in ('norm', 'bias', '1d'))
    if keys:
        cfg['no_decay_keys'] = keys
    return cfg


def param_groups_statement(cfg: dict) -> str:
    """One line saying what :data:`CONSTRUCTOR` does with ``paramwise_cfg`` ``cfg`` (the
    ``param_groups`` of a config's ``bocb`` identity)."""
    exempt = []
    if cfg.get('no_decay_1d'):
        exempt.append('every ndim<=1 tensor (norms, biases, scales) and embeddings')
    else:
        if 'norm_decay_mult' not in cfg:
            exempt.append('norm')
        if 'bias_decay_mult' not in cfg:
            exempt.append('bias')
    exempt += list(cfg.get('no_decay_keys', ()))
    if not exempt:
        return 'bocb: weight decay on all parameters'
    return 'bocb: no decay or trust-ratio adaptation on ' + ', '.join(exempt)


def cifar100_param_scheduler(row: dict[str, str]) -> list[dict]:
    """Linear warm-up (if any) then cosine to the table's final lr, 200 epochs, per iteration."""
    warmup = int(row['warmup_epochs'])
    out = []
    if warmup:
        out.append(dict(type='LinearLR', start_factor=Num(WARMUP_START_FACTOR), by_epoch=True,
                        begin=0, end=warmup, convert_to_iter_based=True))
    min_lr = row['min_lr'] if float(row['min_lr']) else '0.0'
    out.append(dict(type='CosineAnnealingLR', eta_min=Num(min_lr), by_epoch=True, begin=warmup,
                    end=CIFAR100_EPOCHS, convert_to_iter_based=True))
    return out


#: docs/fidelity.md rows (their ``id``) that every CIFAR-100 config departs by.
CIFAR100_DEVIATIONS = ('normalisation', 'schedule-shape')


def deviations(dataset: str, backbone: str, optimizer: str, row: dict[str, str] | None,
               lr: str, weight_decay: str) -> tuple[str, ...]:
    """The docs/fidelity.md rows (ids) where a generated config departs from the release."""
    out: list[str] = []
    if dataset == 'cifar100':
        out += CIFAR100_DEVIATIONS
        if row is not None and row['randaug_magnitude'] != '-':
            out.append('randaug-ops')
        official = load_official_hparams().get((backbone, optimizer))
        if official is not None and (float(official['lr']), float(official['weight_decay'])) \
                != (float(lr), float(weight_decay)):
            out.append('paper-lr-vs-release')
        if row is not None and row['recipe'] == 'PyTorch' and \
                optimizer not in _split(row['decay_all_optimizers']):
            out.append('norm-by-type')
    else:
        out.append('imagenet-precision')
        if backbone == 'R-50':
            out.append('imagenet-syncbn')
    if optimizer == 'LARS':
        out.append('lars-trust-ratio')
    return tuple(out)


def _models_zoo():
    from bocb_mm.models import zoo
    return zoo


def hparams_column(backbone: str, table: dict | None = None) -> tuple[str, str]:
    """The table column whose lr / wd a backbone uses, and why ('' for its own column)."""
    table = load_hparams() if table is None else table
    columns = {b for b, _ in table}
    if backbone in columns:
        return backbone, ''
    borrowed = load_hparams_from()
    if backbone not in borrowed:
        raise KeyError(f'{backbone} has no column in {hparams_path()} and no row in '
                       f'{HPARAMS_FROM}')
    column, reason = borrowed[backbone]
    if column not in columns:
        raise KeyError(f'{HPARAMS_FROM}: {backbone} borrows {column!r}, which is not a column')
    return column, reason


# ----------------------------------------------------------------------------------------------
# naming
# ----------------------------------------------------------------------------------------------
def optimizer_slug(name: str) -> str:
    return optim_zoo.resolve_name(name).lower().replace('-', '')


def cifar100_path(backbone: str, optimizer: str) -> str:
    slug = _models_zoo().get_backbone_info(backbone).slug
    return f'configs/cifar100/{slug}/{slug}_{optimizer_slug(optimizer)}_1xb100-200e_cifar100.py'


def imagenet_path(backbone: str, optimizer: str) -> str:
    slug = _models_zoo().get_backbone_info(backbone).slug
    recipe = load_recipes()[IMAGENET_RECIPES[backbone]]
    gpus, per_gpu = int(recipe['imagenet_gpus']), int(recipe['imagenet_batch_per_gpu'])
    tag = '' if recipe['key'] == 'deit' else f'-{recipe["key"]}'
    return (f'configs/imagenet/{slug}/{slug}_{optimizer_slug(optimizer)}_{gpus}xb{per_gpu}'
            f'{tag}-{IMAGENET_EPOCHS}e_in1k.py')


# ----------------------------------------------------------------------------------------------
# rendering
# ----------------------------------------------------------------------------------------------
def fmt_number(x: float) -> str:
    """Short spelling of a computed number: ``2e-3``, ``5.12e-3``, ``0.4``, ``4.8``."""
    if x != 0 and abs(x) < 0.1:
        mant, exp = f'{x:.6e}'.split('e')
        mant = mant.rstrip('0').rstrip('.')
        return f'{mant}e{int(exp)}'
    return f'{x:.6g}'


def _is_ident(key: Any) -> bool:
    return isinstance(key, str) and key.isidentifier() and not keyword.iskeyword(key)


def render(obj: Any, indent: int = 0, used: int = 0, width: int = 100) -> str:
    """Python source for ``obj`` in mmengine config style (``dict(k=v)``).

    ``indent`` is the indentation of the line the value starts on and ``used`` the number of
    characters already on it; values that do not fit are broken one item per line, indented
    by 4 more.
    """
    flat = _render_flat(obj)
    if used + len(flat) <= width or not isinstance(obj, (dict, list, tuple)) or not obj:
        return flat
    pad = ' ' * (indent + 4)
    if isinstance(obj, dict):
        if all(_is_ident(k) for k in obj):
            items = [f'{pad}{k}={render(v, indent + 4, len(pad) + len(k) + 2, width)}'
                     for k, v in obj.items()]
            return 'dict(\n' + ',\n'.join(items) + ')'
        items = [f'{pad}{k!r}: {render(v, indent + 4, len(pad) + len(repr(k)) + 3, width)}'
                 for k, v in obj.items()]
        return '{\n' + ',\n'.join(items) + '}'
    open_, close = ('[', ']') if isinstance(obj, list) else ('(', ')')
    items = [f'{pad}{render(v, indent + 4, len(pad) + 1, width)}' for v in obj]
    tail = ',' if isinstance(obj, tuple) and len(obj) == 1 else ''
    return open_ + '\n' + ',\n'.join(items) + tail + close


def _render_flat(obj: Any) -> str:
    if isinstance(obj, Num):
        return str(obj)
    if isinstance(obj, dict):
        if all(_is_ident(k) for k in obj):
            return 'dict(' + ', '.join(f'{k}={_render_flat(v)}' for k, v in obj.items()) + ')'
        return '{' + ', '.join(f'{k!r}: {_render_flat(v)}' for k, v in obj.items()) + '}'
    if isinstance(obj, list):
        return '[' + ', '.join(_render_flat(v) for v in obj) + ']'
    if isinstance(obj, tuple):
        inner = ', '.join(_render_flat(v) for v in obj)
        return f'({inner},)' if len(obj) == 1 else f'({inner})'
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return repr(obj)
    raise TypeError(f'cannot render {type(obj).__name__} {obj!r} into a config')


def accepts(backbone_type: str, arg: str) -> bool:
    """Whether a registered backbone class (or a base class it forwards ``**kwargs`` to) takes
    ``arg``."""
    import inspect

    import bocb_mm  # noqa: F401  (registers the bocb_mm backbones)
    from mmpretrain.registry import MODELS
    cls = MODELS.get(backbone_type)
    if cls is None:
        raise KeyError(f'backbone type {backbone_type!r} is not registered')
    for klass in cls.__mro__:
        if '__init__' not in klass.__dict__:
            continue
        params = inspect.signature(klass.__init__).parameters
        if arg in params:
            return True
        if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
            return False
    return False


def model_cfg(backbone: str, num_classes: int, drop_path_rate: float = 0.0,
              dropout: float = 0.0, init: str = 'default') -> dict:
    """The backbone's classifier: the zoo's config with a drop path rate / dropout and the
    classifier's init (:data:`INIT_CFGS`), minus what the recipe's schedule base sets (head loss,
    batch augments).

    Raises:
        ValueError: A non-zero drop path / dropout that the backbone class does not take.
    """
    zoo = _models_zoo()
    cifar = None if num_classes == 100 else False
    backbone_type = zoo.get_backbone_info(backbone).backbone_cfg(cifar)['type']
    overrides: dict[str, float] = {}
    for arg, value in (('drop_path_rate', drop_path_rate), ('drop_rate', dropout)):
        if value > 0:
            if not accepts(backbone_type, arg):
                raise ValueError(f'{backbone} ({backbone_type}) takes no {arg}')
            overrides[arg] = value
    cfg = dict(zoo.classifier_cfg(backbone, num_classes=num_classes, cifar=cifar, **overrides))
    if isinstance(cfg.get('head'), dict):
        cfg['head'] = {k: v for k, v in cfg['head'].items() if k != 'loss'}
    cfg.pop('train_cfg', None)
    if INIT_CFGS[init] is not None:
        cfg['init_cfg'] = INIT_CFGS[init]
    return cfg


def _wrapper(optimizer: str) -> str:
    return OPTIM_WRAPPER_TYPES.get(optim_zoo.resolve_name(optimizer), DEFAULT_WRAPPER)


def optim_wrapper_cfg(optimizer: str, lr: str, weight_decay: str, *,
                      extra_args: dict | None = None, clip_grad: str | None = None,
                      paramwise: dict | None = None) -> dict:
    """The ``optim_wrapper`` of a config.

    Args:
        optimizer: Any name the optimizer zoo accepts.
        lr: Learning rate as written in the tables.
        weight_decay: Weight decay as written in the tables.
        extra_args: Optimizer arguments besides the zoo's defaults (e.g. Adan's
            ``max_grad_norm``); LARS always gets ``trust_ratio`` (:data:`LARS_TRUST_RATIO`).
        clip_grad: ``max_norm`` of the wrapper's gradient clipping (None: no clipping).
        paramwise: :data:`CONSTRUCTOR` options (None: no constructor is named).
    """
    name = optim_zoo.resolve_name(optimizer)
    args = dict(extra_args or {})
    if name == 'LARS':
        args.setdefault('trust_ratio', LARS_TRUST_RATIO)
    opt = optim_zoo.optimizer_cfg(optimizer, lr=Num(lr), weight_decay=Num(weight_decay), **args)
    cfg: dict[str, Any] = dict(type=_wrapper(optimizer), optimizer=opt)
    if clip_grad is not None:
        cfg['clip_grad'] = dict(max_norm=Num(clip_grad))
    if paramwise is not None:
        cfg['constructor'] = CONSTRUCTOR
        cfg['paramwise_cfg'] = paramwise
    return cfg


HEADER = ('# Generated by tools/gen_configs.py from the tables in bocb_mm/data/ and the model and\n'
          '# optimizer zoos. Do not edit: change the tables and run  python tools/gen_configs.py\n')


def _text(entry: Entry, bases: list[str], comments: list[str], model: dict, wrapper: dict,
          official: str, deviation_ids: tuple[str, ...],
          schedule: list[dict] | None = None) -> str:
    bocb = dict(backbone=entry.backbone, optimizer=entry.optimizer, recipe=entry.recipe,
                dataset=entry.dataset, input_size=entry.input_size,
                hparams_from=entry.hparams_from, official=official,
                param_groups=param_groups_statement(wrapper.get('paramwise_cfg', {})),
                deviations=deviation_ids)
    lines = [HEADER.rstrip('\n')]
    for comment in comments:
        lines += textwrap.wrap(comment, 100, initial_indent='# ', subsequent_indent='#   ')
    lines.append('_base_ = [')
    lines += [f"    '{b}'," for b in bases]
    lines.append(']')
    lines.append('')
    lines.append(f'bocb = {render(bocb, 0, 7)}')
    lines.append('')
    lines.append(f'model = {render(model, 0, 8)}')
    lines.append('')
    lines.append(f'optim_wrapper = {render(wrapper, 0, 16)}')
    if schedule is not None:
        lines.append('')
        lines.append(f'param_scheduler = {render(schedule, 0, 18)}')
    return '\n'.join(lines) + '\n'


def _base(rel_dir: str, kind: str, name: str) -> str:
    """``_base_`` entry (relative to the config's folder ``configs/<rel_dir>``)."""
    rel = f'{kind}/{name}.py' if kind else f'{name}.py'
    path = osp.join(CONFIGS, '_base_', rel)
    if not osp.isfile(path):
        raise FileNotFoundError(f'base config {path} (named in {RECIPES}) does not exist')
    depth = rel_dir.count('/') + 1
    return '../' * depth + f'_base_/{rel}'


def cifar100_entries() -> list[tuple[Entry, str]]:
    """Every CIFAR-100 config of the grid (20 backbones x 20 optimizers) with its text."""
    zoo = _models_zoo()
    table, recipes, official = load_hparams(), load_recipes(), load_official()
    out = []
    for backbone in zoo.list_backbones():
        info = zoo.get_backbone_info(backbone)
        recipe, row = recipes[info.recipe], official[backbone]
        size = int(info.input_size)
        column, reason = hparams_column(backbone, table)
        model = model_cfg(backbone, 100, float(row['drop_path']), float(row['dropout']),
                          row['init'])
        data_base = CIFAR100_DATA_BASES[(row['crop'], row['randaug_magnitude'], row['erasing'])]
        extra = optimizer_args(row)
        clip = row['clip_grad'] if row['clip_grad'] != '-' else None
        schedule = cifar100_param_scheduler(row)
        decay_all = {optim_zoo.resolve_name(o) for o in _split(row['decay_all_optimizers'])}
        source = ('the official BOCB release, ' + row['official_config']
                  if row['official_config'] != 'n/a' else
                  'no official config: the recipe family\'s values')
        for optimizer in optim_zoo.list_optimizers():
            lr, wd = table[(column, optimizer)]
            path = cifar100_path(backbone, optimizer)
            rel_dir = osp.dirname(path)[len('configs/'):]
            entry = Entry(path=path, backbone=backbone, optimizer=optimizer,
                          recipe=info.recipe, dataset='cifar100', input_size=size,
                          hparams_from=column, lr=lr, weight_decay=wd,
                          lr_source=f'cifar100_hparams.csv column {column}')
            comments = [f'{backbone} + {optimizer} on CIFAR-100 ({size}x{size}), '
                        f'"{info.recipe}" recipe, 200 epochs, batch 100 on 1 GPU.']
            if column == backbone:
                comments.append(f'lr / weight decay: the paper\'s appendix table, column {column}.')
            else:
                comments.append(f'lr / weight decay: the paper\'s appendix table has no {backbone} '
                                f'column; taken from {column}: {reason}.')
            comments.append(f'Recipe values (bocb_mm/data/official_cifar100.csv): {source}; '
                            'deviations: docs/fidelity.md.')
            bases = [_base(rel_dir, 'datasets', data_base),
                     _base(rel_dir, 'schedules', recipe['cifar100_schedule']),
                     _base(rel_dir, '', 'default_runtime')]
            wrapper = optim_wrapper_cfg(optimizer, lr, wd, extra_args=extra.get(optimizer),
                                        clip_grad=clip,
                                        paramwise=paramwise_cfg(row['no_decay'],
                                                                optimizer in decay_all))
            out.append((entry, _text(entry, bases, comments, model, wrapper,
                                     row['official_config'],
                                     deviations('cifar100', backbone, optimizer, row, lr, wd),
                                     schedule)))
    return out


def imagenet_rule_lr(backbone: str, optimizer: str, total_batch: int,
                     table: dict | None = None) -> tuple[str, str, str]:
    """(lr, weight decay, how) of a pair by :data:`IMAGENET_RULE` alone."""
    optimizer = optim_zoo.resolve_name(optimizer)
    table = load_hparams() if table is None else table
    column, _ = hparams_column(backbone, table)
    lr, wd = table[(column, optimizer)]
    ref = int(load_recipes()[IMAGENET_RECIPES[backbone]]['imagenet_lr_ref_batch'])
    scaled = fmt_number(float(lr) * total_batch / ref)
    return scaled, wd, f'CIFAR-100 lr {lr} ({column}) x {total_batch} / {ref}; weight decay {wd}'


def imagenet_hparams(backbone: str, optimizer: str, total_batch: int,
                     table: dict | None = None) -> tuple[str, str, str]:
    """(lr, weight decay, source) of an ImageNet-1K pair: published, else :data:`IMAGENET_RULE`."""
    optimizer = optim_zoo.resolve_name(optimizer)
    if (backbone, optimizer) in IMAGENET_PUBLISHED:
        return IMAGENET_PUBLISHED[(backbone, optimizer)]
    return imagenet_rule_lr(backbone, optimizer, total_batch, table)


def imagenet_entries() -> list[tuple[Entry, str]]:
    """The ImageNet-1K configs: DeiT-S (DeiT) and R-50 (RSB A2) x 20 optimizers."""
    table, recipes = load_hparams(), load_recipes()
    out = []
    for backbone in IMAGENET_BACKBONES:
        recipe_name = IMAGENET_RECIPES[backbone]
        recipe = recipes[recipe_name]
        gpus, per_gpu = int(recipe['imagenet_gpus']), int(recipe['imagenet_batch_per_gpu'])
        model = model_cfg(backbone, 1000, float(recipe['imagenet_drop_path_rate']))
        paramwise = paramwise_cfg(recipe['imagenet_no_decay'])
        for optimizer in optim_zoo.list_optimizers():
            lr, wd, source = imagenet_hparams(backbone, optimizer, gpus * per_gpu, table)
            path = imagenet_path(backbone, optimizer)
            rel_dir = osp.dirname(path)[len('configs/'):]
            column = hparams_column(backbone, table)[0]
            entry = Entry(path=path, backbone=backbone, optimizer=optimizer, recipe=recipe_name,
                          dataset='imagenet', input_size=224,
                          hparams_from=('published' if (backbone, optimizer) in
                                        IMAGENET_PUBLISHED else column),
                          lr=lr, weight_decay=wd, lr_source=source)
            comments = [f'{backbone} + {optimizer} on ImageNet-1K (224x224), "{recipe_name}" '
                        f'recipe, {IMAGENET_EPOCHS} epochs, {gpus} GPUs x {per_gpu} images.',
                        f'lr / weight decay: {source}.']
            if (backbone, optimizer) not in IMAGENET_PUBLISHED:
                comments.append('(no published ImageNet value: see IMAGENET_RULE in '
                                'tools/gen_configs.py / docs/configs.md)')
            comments.append(f'Recipe values: {recipe["imagenet_source"]}; deviations: '
                            'docs/fidelity.md.')
            bases = [_base(rel_dir, 'datasets', recipe['imagenet_dataset']),
                     _base(rel_dir, 'schedules', recipe['imagenet_schedule']),
                     _base(rel_dir, '', 'default_runtime')]
            wrapper = optim_wrapper_cfg(optimizer, lr, wd, paramwise=paramwise)
            out.append((entry, _text(entry, bases, comments, model, wrapper,
                                     recipe['imagenet_source'].split(' ')[0],
                                     deviations('imagenet', backbone, optimizer, None, lr, wd))))
    return out


def all_entries() -> list[tuple[Entry, str]]:
    return cifar100_entries() + imagenet_entries()


def _generated_dirs() -> list[str]:
    return [osp.join(CONFIGS, 'cifar100'), osp.join(CONFIGS, 'imagenet')]


def generated_files(dirs: Iterable[str], header: str) -> set[str]:
    """Generated configs on disk under ``dirs`` (files starting with ``header``), repo-relative."""
    found = set()
    for top in dirs:
        for dirpath, _, files in os.walk(top):
            for name in files:
                if name.endswith('.py'):
                    path = osp.join(dirpath, name)
                    with open(path, encoding='utf-8') as f:
                        if f.read(len(header)) == header:
                            found.add(osp.relpath(path, REPO))
    return found


def _existing_generated() -> set[str]:
    return generated_files(_generated_dirs(), HEADER)


def check(entries: Iterable[tuple[Any, str]], verbose: bool = True,
          existing: set[str] | None = None) -> list[str]:
    """Paths that differ from what the generator writes (stale, missing or left over).

    Args:
        entries: (entry with a repo-relative ``path``, file text) pairs.
        verbose: add the start of a diff to the first few problems.
        existing: the generated files on disk (default: this generator's).
    """
    problems = []
    wanted = {}
    for entry, text in entries:
        wanted[entry.path] = text
        full = osp.join(REPO, entry.path)
        if not osp.isfile(full):
            problems.append(f'missing: {entry.path}')
            continue
        with open(full, encoding='utf-8') as f:
            current = f.read()
        if current != text:
            problems.append(f'out of date: {entry.path}')
            if verbose and len(problems) <= 3:
                diff = difflib.unified_diff(current.splitlines(), text.splitlines(),
                                            'on disk', 'generated', lineterm='', n=1)
                problems[-1] += '\n' + '\n'.join(list(diff)[:20])
    existing = _existing_generated() if existing is None else existing
    for path in sorted(existing - set(wanted)):
        problems.append(f'left over (no longer generated): {path}')
    return problems


def write(entries: Iterable[tuple[Any, str]],
          existing: set[str] | None = None) -> tuple[int, int]:
    """Write what changed, remove generated files no longer generated; (written, unchanged)."""
    written = unchanged = 0
    wanted = set()
    for entry, text in entries:
        wanted.add(entry.path)
        full = osp.join(REPO, entry.path)
        if osp.isfile(full):
            with open(full, encoding='utf-8') as f:
                if f.read() == text:
                    unchanged += 1
                    continue
        os.makedirs(osp.dirname(full), exist_ok=True)
        with open(full, 'w', encoding='utf-8') as f:
            f.write(text)
        written += 1
    existing = _existing_generated() if existing is None else existing
    for path in sorted(existing - wanted):
        os.remove(osp.join(REPO, path))
        print(f'removed {path} (no longer generated)')
        folder = osp.dirname(osp.join(REPO, path))
        if not os.listdir(folder):
            os.rmdir(folder)
    return written, unchanged


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--check', action='store_true',
                        help='write nothing; exit 1 if a generated config is out of date')
    parser.add_argument('--list', action='store_true', help='print the grid and exit')
    args = parser.parse_args(argv)
    entries = all_entries()
    if args.list:
        for e, _ in entries:
            print(f'{e.dataset:9s} {e.backbone:8s} {e.optimizer:9s} {e.recipe:8s} '
                  f'{e.input_size:3d}  lr={e.lr:8s} wd={e.weight_decay:6s} '
                  f'from={e.hparams_from:8s} {e.path}')
        return 0
    if args.check:
        problems = check(entries)
        if problems:
            print('\n'.join(problems))
            print(f'{len(problems)} generated config(s) out of date: run  python '
                  'tools/gen_configs.py')
            return 1
        print(f'OK: {len(entries)} generated configs up to date')
        return 0
    written, unchanged = write(entries)
    print(f'{written} config(s) written, {unchanged} unchanged ({len(entries)} in all)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
