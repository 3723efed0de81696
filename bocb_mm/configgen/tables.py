"""The tables the configs are generated from (``bocb_mm/data/``), read and validated.

* lr / weight decay per backbone x optimizer on CIFAR-100: the paper's appendix tables,
  ``paper/cifar100_hparams.csv``;
* the backbones without a column there and the column they borrow: ``cifar100_hparams_from.csv``;
* the per-backbone CIFAR-100 recipe of the official BOCB release: ``official_cifar100.csv`` (and
  the release's own lr / wd: ``official_cifar100_hparams.csv``; docs/fidelity.md);
* the recipes -> schedule bases, ImageNet batch, lr reference batch, drop path, exclusions:
  ``recipes.csv``;
* the post-paper optimizers' CIFAR-100 lr / weight decay, as a rule on a paper optimizer's
  values in the same column, their fixed arguments and schedule, each with its source:
  ``post_paper_cifar100_hparams.csv`` (:func:`load_post_paper_hparams`).
"""
from __future__ import annotations

import ast
import csv
import os.path as osp
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Mapping

from bocb_mm.optim import zoo as optim_zoo

from .files import REPO
from .render import Num, fmt_number

DATA = osp.join(REPO, 'bocb_mm', 'data')
HPARAMS = osp.join(DATA, 'paper', 'cifar100_hparams.csv')
HPARAMS_FROM = osp.join(DATA, 'cifar100_hparams_from.csv')
RECIPES = osp.join(DATA, 'recipes.csv')
OFFICIAL = osp.join(DATA, 'official_cifar100.csv')
OFFICIAL_HPARAMS = osp.join(DATA, 'official_cifar100_hparams.csv')
POST_PAPER_HPARAMS = osp.join(DATA, 'post_paper_cifar100_hparams.csv')

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
#: Backbone columns of the appendix table that are not in the 20-backbone grid.
EXTRA_COLUMNS = ('R-101', 'R-101 (DeiT)')


def read_csv(path: str) -> list[dict[str, str]]:
    """Rows of a table, keys and values stripped."""
    with open(path, newline='', encoding='utf-8') as f:
        return [{k.strip(): (v or '').strip() for k, v in row.items()} for row in csv.DictReader(f)]


def split(value: str) -> list[str]:
    """``'a;b'`` -> ``['a', 'b']``; ``'-'`` / ``''`` -> ``[]``."""
    return [v.strip() for v in value.split(';') if v.strip() and v.strip() != '-']


def load_hparams(path: str | None = None) -> dict[tuple[str, str], tuple[str, str]]:
    """``{(backbone column, optimizer): (lr, weight_decay)}`` as the table spells the numbers."""
    table: dict[tuple[str, str], tuple[str, str]] = {}
    for row in read_csv(path or HPARAMS):
        key = (row['backbone'], optim_zoo.resolve_name(row['optimizer']))
        if key in table:
            raise ValueError(f'cifar100_hparams.csv: duplicate row {key}')
        float(row['lr']), float(row['weight_decay'])  # noqa: B018 (validate)
        table[key] = (row['lr'], row['weight_decay'])
    return table


def load_hparams_from() -> dict[str, tuple[str, str]]:
    """``{backbone: (column it borrows, reason)}`` for the backbones without a column."""
    return {r['backbone']: (r['hparams_from'], r['reason']) for r in read_csv(HPARAMS_FROM)}


def hparams_column(backbone: str, table: dict | None = None) -> tuple[str, str]:
    """The table column whose lr / wd a backbone uses, and why ('' for its own column)."""
    table = load_hparams() if table is None else table
    columns = {b for b, _ in table}
    if backbone in columns:
        return backbone, ''
    borrowed = load_hparams_from()
    if backbone not in borrowed:
        raise KeyError(f'{backbone} has no column in {HPARAMS} and no row in '
                       f'{HPARAMS_FROM}')
    column, reason = borrowed[backbone]
    if column not in columns:
        raise KeyError(f'{HPARAMS_FROM}: {backbone} borrows {column!r}, which is not a column')
    return column, reason


def load_recipes() -> dict[str, dict[str, str]]:
    """``{recipe: row}`` of ``recipes.csv``."""
    return {r['recipe']: r for r in read_csv(RECIPES)}


def load_official_hparams() -> dict[tuple[str, str], dict[str, str]]:
    """``{(backbone, optimizer): row}`` of the release's own CIFAR-100 lr / weight decay (the
    R-50 optimizer grid and the AdamW configs of the modern backbones)."""
    return {(r['backbone'], optim_zoo.resolve_name(r['optimizer'])): r
            for r in read_csv(OFFICIAL_HPARAMS)}


def optimizer_args(row: dict[str, str]) -> dict[str, dict[str, Num]]:
    """``{optimizer: {arg: value}}`` from ``optimizer_args`` (``'Adan.max_grad_norm=5.0'``)."""
    out: dict[str, dict[str, Num]] = {}
    for item in split(row['optimizer_args']):
        key, _, value = item.partition('=')
        optimizer, _, arg = key.partition('.')
        if not (arg and value):
            raise ValueError(f'optimizer_args item {item!r}: expected Optimizer.arg=value')
        float(value)
        out.setdefault(optim_zoo.resolve_name(optimizer), {})[arg] = Num(value)
    return out


_SOURCE_COLUMNS = ('crop_source', 'aug_source', 'clip_source', 'warmup_source', 'min_lr_source',
                   'drop_source', 'loss_source', 'init_source', 'no_decay_source')


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
    from bocb_mm.models import zoo
    path = path or OFFICIAL
    table: dict[str, dict[str, str]] = {}
    for row in read_csv(path):
        name = row['backbone']
        if name in table:
            raise ValueError(f'{path}: duplicate row {name}')
        table[name] = row
    if set(table) != set(zoo.list_backbones()):
        raise ValueError(f'{path}: rows {sorted(table)} are not the grid\'s backbones '
                         f'{zoo.list_backbones()}')
    for name, row in table.items():
        _check_official_row(path, name, row, zoo.get_backbone_info(name))
    return table


def _check_official_row(path: str, name: str, row: dict[str, str], info) -> None:
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
    for src in _SOURCE_COLUMNS:
        if not row[src]:
            raise ValueError(f'{path}: {name}: empty {src}')
    optimizer_args(row)  # validate
    for opt in split(row['decay_all_optimizers']):
        optim_zoo.resolve_name(opt)


# ----------------------------------------------------------------------------------------------
# the post-paper optimizers
# ----------------------------------------------------------------------------------------------
#: An ``args`` value of ``post_paper_cifar100_hparams.csv`` that stands for the number of
#: iterations of the run (the config generator puts the number in).
RUN_ITERS = 'RUN_ITERS'
#: ``schedule`` of the table: the recipe's (warm-up, cosine), or its warm-up alone then constant.
POST_PAPER_SCHEDULES = ('recipe', 'warmup-only')
#: Significant digits of a rule's lr / weight decay.
RULE_DIGITS = 3


@dataclass(frozen=True)
class PostPaperRule:
    """A post-paper optimizer's CIFAR-100 values: a rule on a paper optimizer's per-backbone lr
    and weight decay (``lr = reference's lr x lr_factor``), its fixed arguments and schedule.

    ``lr_factor`` / ``wd_factor`` are spelled as in the table (``'1/3'``, ``'10'``); ``args``
    holds Python values, :data:`RUN_ITERS` left as the string.
    """

    optimizer: str
    reference: str
    lr_factor: str
    wd_factor: str
    args: Mapping[str, Any] = field(default_factory=dict, hash=False)
    schedule: str = 'recipe'
    min_warmup_epochs: int = 0
    source: str = ''
    note: str = ''

    def apply(self, lr: str | float, weight_decay: str | float) -> tuple[str, str]:
        """(lr, weight decay) as config text from the reference's values in one column."""
        return (fmt_number(float(lr) * float(Fraction(self.lr_factor)), RULE_DIGITS),
                fmt_number(float(weight_decay) * float(Fraction(self.wd_factor)), RULE_DIGITS))

    @property
    def statement(self) -> str:
        """The rule in words: ``"lr = AdamW's x 1/3, weight decay = AdamW's x 3"``."""
        return (f"lr = {self.reference}'s x {self.lr_factor}, weight decay = "
                f"{self.reference}'s x {self.wd_factor}")


def parse_args(text: str) -> dict[str, Any]:
    """``"betas=(0.9, 0.95); gamma=0.025"`` -> ``{'betas': (0.9, 0.95), 'gamma': 0.025}``
    (Python literals; :data:`RUN_ITERS` kept as the string; ``'-'`` / ``''``: none).

    Raises:
        ValueError: An item that is not ``name=literal``.
    """
    out: dict[str, Any] = {}
    for item in split(text):
        key, _, value = (part.strip() for part in item.partition('='))
        if not (key.isidentifier() and value):
            raise ValueError(f'argument {item!r}: expected name=value')
        if value == RUN_ITERS:
            out[key] = value
            continue
        try:
            out[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError) as err:
            raise ValueError(f'argument {item!r}: {value!r} is not a Python literal') from err
    return out


def _factor(path: str, name: str, column: str, text: str, positive: bool) -> str:
    try:
        value = Fraction(text)
    except (ValueError, ZeroDivisionError) as err:
        raise ValueError(f'{path}: {name}: {column} {text!r} is not a number') from err
    if value < 0 or (positive and value == 0):
        raise ValueError(f'{path}: {name}: {column} {text!r} must be '
                         f'{"positive" if positive else "non-negative"}')
    return text


def _post_paper_rule(path: str, row: dict[str, str]) -> PostPaperRule:
    try:
        info = optim_zoo.get_info(row['optimizer'])
        reference = optim_zoo.get_info(row['reference'])
    except optim_zoo.UnknownOptimizerError as err:
        raise ValueError(f'{path}: {err}') from err
    name = info.name
    if info.suite != 'post-paper':
        raise ValueError(f'{path}: {name} is not a post-paper optimizer')
    if reference.suite != 'paper':
        raise ValueError(f'{path}: {name}: reference {reference.name} is not one of the '
                         "paper's optimizers")
    if row['source'] in ('', '-'):
        raise ValueError(f'{path}: {name}: no source')
    if row['schedule'] not in POST_PAPER_SCHEDULES:
        raise ValueError(f'{path}: {name}: schedule {row["schedule"]!r} is not one of '
                         f'{POST_PAPER_SCHEDULES}')
    warmup = row['min_warmup_epochs']
    if warmup not in ('', '-') and not warmup.isdigit():
        raise ValueError(f'{path}: {name}: min_warmup_epochs {warmup!r} is not a whole number')
    try:
        args = parse_args(row['args'])
    except ValueError as err:
        raise ValueError(f'{path}: {name}: {err}') from err
    _check_arg_names(path, info, args)
    return PostPaperRule(
        optimizer=name, reference=reference.name,
        lr_factor=_factor(path, name, 'lr_factor', row['lr_factor'], True),
        wd_factor=_factor(path, name, 'wd_factor', row['wd_factor'], False),
        args=args, schedule=row['schedule'],
        min_warmup_epochs=int(warmup) if warmup.isdigit() else 0, source=row['source'],
        note=row['note'])


def _check_arg_names(path: str, info: optim_zoo.OptimizerInfo, args: Mapping[str, Any]) -> None:
    try:
        accepted = optim_zoo.constructor_defaults(info.cls)
    except ImportError:
        return  # the library is missing: building the optimizer names it
    unknown = sorted(set(args) - set(accepted) | set(args) & {'lr', 'weight_decay'})
    if unknown:
        raise ValueError(f'{path}: {info.name}: {", ".join(unknown)} not a fixed argument of '
                         f'{info.class_name} (lr and weight decay come from the rule)')


def load_post_paper_hparams(path: str | None = None) -> dict[str, PostPaperRule]:
    """``{optimizer: rule}`` of ``post_paper_cifar100_hparams.csv``, one per post-paper optimizer
    in the zoo's order.

    Args:
        path: The table (default: :data:`POST_PAPER_HPARAMS`).

    Raises:
        ValueError: An unknown optimizer or one of the paper's, a reference that is not one of
            the paper's optimizers, a missing / duplicate row, a factor that is not a
            (non-negative; for lr positive) number such as ``1/3``, an argument that is not
            ``name=literal`` or not the class's, an unknown schedule, an empty source.
    """
    path = path or POST_PAPER_HPARAMS
    rules: dict[str, PostPaperRule] = {}
    for row in read_csv(path):
        rule = _post_paper_rule(path, row)
        if rule.optimizer in rules:
            raise ValueError(f'{path}: duplicate row {rule.optimizer}')
        rules[rule.optimizer] = rule
    missing = [o for o in optim_zoo.list_optimizers('post-paper') if o not in rules]
    if missing:
        raise ValueError(f'{path}: no row for {", ".join(missing)}')
    return {o: rules[o] for o in optim_zoo.list_optimizers('post-paper')}
