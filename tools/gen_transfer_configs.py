"""Generate the COCO transfer configs of the BOCB study: RetinaNet detection and TopDown pose.

    python tools/gen_transfer_configs.py            # (re)write configs/coco_det/** and coco_pose/**
    python tools/gen_transfer_configs.py --check    # exit 1 (listing the files) if any is stale
    python tools/gen_transfer_configs.py --list     # print the grid: column, optimizer, lr, wd
    python tools/gen_transfer_configs.py --markdown # the lr / wd tables of docs/transfer.md

The paper (arXiv 2410.06373, "Transfer Learning") fine-tunes pre-trained backbones on COCO with
each of the 20 optimizers: RetinaNet (mmdet, 1x) on R-50 pre-trained six ways, Swin-T and CX-T,
and TopDown heatmap pose (mmpose, 256x192, 210 epochs) on VGG, R-50 and Swin-T. It gives no
fine-tuning hyper-parameters; the rule used here is :data:`LR_RULE` (docs/transfer.md).

Sources (one place each; the configs are never edited by hand):

* the columns (task, backbone, pre-training: optimizer, recipe, epochs, data set; default
  checkpoint): ``bocb_mm/data/transfer.csv``. Besides the paper's ImageNet-1K columns, the
  ``(Adan CIFAR-100)`` columns name a backbone from a bocb_mm CIFAR-100 run, so that its
  fine-tuning runs carry their own identity (``pretrain='adan-cifar100'``) in sweeps and reports;
* the 20 optimizers, their config type and fixed arguments: ``bocb_mm.optim.zoo``; the optimizer
  wrapper per optimizer: the optimizer zoo (``OptimizerInfo.wrapper``);
* the published fine-tuning settings the rule starts from: :data:`ANCHORS` below;
* the lr ratios between optimizers, per backbone: the paper's CIFAR-100 hyper-parameter table
  (``cifar100_hparams.csv``, read through ``tools/gen_configs.py``);
* how each backbone plugs into RetinaNet / TopDown (type, out_indices, FPN and head channels):
  :data:`ADAPTERS` below.
"""
from __future__ import annotations

import argparse
import csv
import os
import os.path as osp
import sys
from dataclasses import dataclass, field
from typing import Any, Iterable

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)
sys.path.insert(0, osp.join(REPO, 'tools'))

import gen_configs as pretrain_gen  # noqa: E402  (tools/gen_configs.py: tables and rendering)
from bocb_mm.optim import zoo as optim_zoo  # noqa: E402

Num = pretrain_gen.Num  # a number written as given ('1e-4', not 0.0001)


def _flat(obj: Any) -> str:
    if isinstance(obj, Num):
        return str(obj)
    if isinstance(obj, dict):
        if all(isinstance(k, str) and k.isidentifier() for k in obj):
            return 'dict(' + ', '.join(f'{k}={_flat(v)}' for k, v in obj.items()) + ')'
        return '{' + ', '.join(f'{k!r}: {_flat(v)}' for k, v in obj.items()) + '}'
    if isinstance(obj, list):
        return '[' + ', '.join(_flat(v) for v in obj) + ']'
    if isinstance(obj, tuple):
        inner = ', '.join(_flat(v) for v in obj)
        return f'({inner},)' if len(obj) == 1 else f'({inner})'
    if isinstance(obj, float):
        return repr(obj)
    if obj is None or isinstance(obj, (bool, int, str)):
        return repr(obj)
    raise TypeError(f'cannot render {type(obj).__name__} {obj!r} into a config')


def render(obj: Any, column: int = 0, level: int = 0, width: int = 100) -> str:
    """Config source for ``obj`` (``dict(k=v)`` style) starting at ``column``, nested blocks
    indented by 4 spaces per ``level``; one line where it fits in ``width``. Long strings (the
    checkpoint URLs) stay on one line."""
    flat = _flat(obj)
    if column + len(flat) <= width or not isinstance(obj, (dict, list, tuple)) or not obj:
        return flat
    pad = ' ' * (4 * (level + 1))
    if isinstance(obj, dict):
        if all(isinstance(k, str) and k.isidentifier() for k in obj):
            items = [f'{pad}{k}={render(v, len(pad) + len(k) + 1, level + 1, width)}'
                     for k, v in obj.items()]
            return 'dict(\n' + ',\n'.join(items) + ')'
        items = [f'{pad}{k!r}: {render(v, len(pad) + len(repr(k)) + 2, level + 1, width)}'
                 for k, v in obj.items()]
        return '{\n' + ',\n'.join(items) + '}'
    open_, close = ('[', ']') if isinstance(obj, list) else ('(', ')')
    items = [f'{pad}{render(v, len(pad), level + 1, width)}' for v in obj]
    tail = ',' if isinstance(obj, tuple) and len(obj) == 1 else ''
    return open_ + '\n' + ',\n'.join(items) + tail + close


def fmt_lr(x: float) -> str:
    """An lr with at most 3 significant digits: ``0.125``, ``2``, ``5e-4``, ``1.25e-3``."""
    if x == 0:
        return '0'
    if abs(x) >= 1e-2:
        return f'{x:.3g}'
    mant, exp = f'{x:.2e}'.split('e')
    mant = mant.rstrip('0').rstrip('.')
    return f'{mant}e{int(exp)}'

TRANSFER_CSV = osp.join(REPO, 'bocb_mm', 'data', 'transfer.csv')
CONFIGS = osp.join(REPO, 'configs')
TASK_DIRS = {'det': 'coco_det', 'pose': 'coco_pose'}
TASK_BASES = {'det': '_base_/coco/retinanet_fpn_1x_coco.py',
              'pose': '_base_/coco/td-hm_256x192_coco.py'}
TASK_MODELS = {'det': 'RetinaNet', 'pose': 'TopDown'}

# Environment variable naming the pre-trained checkpoint (mmengine's ``{{$VAR:default}}``,
# substituted when the config is loaded); the default is the column's ``checkpoint`` in
# transfer.csv. ``--cfg-options model.backbone.init_cfg.checkpoint=...`` works as well.
CKPT_ENV = 'BOCB_PRETRAINED'

# ----------------------------------------------------------------------------------------------
# lr / weight decay. The paper gives no fine-tuning values. Each task starts from the settings
# its library publishes for these models (ANCHORS); every other optimizer gets the anchor's lr
# times the lr ratio the paper's CIFAR-100 table gives between the two optimizers on the same
# backbone, so each optimizer keeps its tuned scale relative to the anchor.
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Anchor:
    lr: str
    weight_decay: str
    source: str


ANCHORS: dict[str, dict[str, Anchor]] = {
    'det': {
        'SGD-M': Anchor('0.01', '1e-4', 'mmdet retinanet/retinanet_r50_fpn_1x_coco.py: SGD lr '
                        '0.01, momentum 0.9, weight decay 1e-4, 8 GPUs x 2 images'),
        'AdamW': Anchor('1e-4', '5e-2', 'mmdet swin/mask-rcnn_swin-t-p4-w7_fpn_1x_coco.py (also '
                        'convnext/mask-rcnn_convnext-t-*): AdamW lr 1e-4, weight decay 0.05, '
                        '8 GPUs x 2 images'),
    },
    'pose': {
        'Adam': Anchor('5e-4', '0', 'mmpose td-hm_res50_8xb64-210e_coco-256x192.py (and the '
                       'td-hm VGG-16-BN and Swin-T configs): Adam lr 5e-4, no weight decay'),
    },
}
# Detection: optimizers whose step is lr x (momentum) gradient (SGD-M, SGDP; LARS with its
# trust ratio) scale from the SGD anchor, every other one (normalised or adaptive steps) from
# AdamW. Pose: mmpose publishes Adam only, so every optimizer scales from Adam.
SGD_FAMILY = ('SGD-M', 'SGDP', 'LARS')

LR_RULE = ('lr = anchor lr x (CIFAR-100 lr of the optimizer / CIFAR-100 lr of the anchor '
           'optimizer), both from the paper\'s CIFAR-100 table for the same backbone; weight '
           'decay = the CIFAR-100 table\'s value for the pair; an anchor optimizer itself keeps '
           'its published lr and weight decay. Anchors: detection SGD-M (for SGD-M, SGDP, LARS) '
           'and AdamW (the rest); pose Adam (all).')


def anchor_of(task: str, optimizer: str) -> str:
    """The anchor optimizer of ``optimizer`` for ``task`` ('det' or 'pose')."""
    optimizer = optim_zoo.resolve_name(optimizer)
    if task == 'pose':
        return 'Adam'
    return 'SGD-M' if optimizer in SGD_FAMILY else 'AdamW'


def transfer_hparams(task: str, backbone: str, optimizer: str,
                     table: dict | None = None) -> tuple[str, str, str]:
    """(lr, weight decay, source) of a fine-tuning pair, by :data:`LR_RULE`."""
    optimizer = optim_zoo.resolve_name(optimizer)
    anchor_name = anchor_of(task, optimizer)
    anchor = ANCHORS[task][anchor_name]
    if optimizer == anchor_name:
        return anchor.lr, anchor.weight_decay, f'published: {anchor.source}'
    table = pretrain_gen.load_hparams() if table is None else table
    column, _ = pretrain_gen.hparams_column(backbone, table)
    lr_pair, wd_pair = table[(column, optimizer)]
    lr_anchor, _ = table[(column, anchor_name)]
    lr = fmt_lr(float(anchor.lr) * float(lr_pair) / float(lr_anchor))
    return lr, wd_pair, (f'{anchor_name} anchor {anchor.lr} x CIFAR-100 {column} lr ratio '
                         f'{lr_pair} / {lr_anchor}; weight decay {wd_pair} (CIFAR-100 {column})')


# ----------------------------------------------------------------------------------------------
# Backbone adapters: how each pre-trained backbone plugs into RetinaNet + FPN and TopDown. The
# backbone type, its ImageNet (224 px) arguments and the channels of each stage come from the
# backbone zoo (bocb_mm.models.zoo: multiscale_cfg, channels); here: which stages feed the FPN /
# the pose head, and what the detection and pose libraries' own configs of the model add.
# ResNet-50 keeps the host library's ``ResNet`` of the base config (its parameter names are those
# of mmpretrain's ResNet, so an mmpretrain checkpoint loads with prefix 'backbone.'): the
# published RetinaNet / TopDown R-50 exactly, only the checkpoint changes.
# Output strides: R-50, Swin-T, ConvNeXt-T stages 0-3: 4/8/16/32; VGG stages 0-4 (after each
# max-pool): 2/4/8/16/32. RetinaNet takes strides 8-32 (plus two extra levels), the pose head the
# stride-32 map (3 deconvolutions to stride 4).
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Adapter:
    det_out_indices: tuple[int, ...] | None  # None: the base config's ResNet-50 and FPN
    pose_out_indices: tuple[int, ...] | None  # None: the base config's ResNet-50
    det_extra: dict = field(default_factory=dict)
    pose_extra: dict = field(default_factory=dict)
    det_paramwise: dict | None = None
    pose_batch: int = 64  # per GPU, 8 GPUs (mmpose's td-hm config of the backbone)
    note: str = ''


_SWIN_PARAMWISE = dict(custom_keys={'absolute_pos_embed': dict(decay_mult=0.),
                                    'relative_position_bias_table': dict(decay_mult=0.),
                                    'norm': dict(decay_mult=0.)})

ADAPTERS: dict[str, Adapter] = {
    'R-50': Adapter(
        det_out_indices=None, pose_out_indices=None,
        note='mmdet ResNet-50 (stages 0-3, FPN from stage 1, frozen stem + stage 0, BN in eval '
             'mode); mmpose ResNet-50 (stage 3)'),
    'Swin-T': Adapter(
        det_out_indices=(1, 2, 3), pose_out_indices=(3,),
        # pad_small_map: pad a feature map smaller than the 7x7 window (the stride-32 map of a
        # 256x192 pose crop is 8x6) as the official Swin and mmdet's / mmpose's Swin do
        det_extra=dict(drop_path_rate=0.2, with_cp=False, pad_small_map=True),
        pose_extra=dict(drop_path_rate=0.2, with_cp=False, pad_small_map=True),
        det_paramwise=_SWIN_PARAMWISE, pose_batch=32,
        note='mmdet swin/retinanet_swin-t-p4-w7_fpn_1x_coco.py (stages 1-3, drop path 0.2) with '
             'the no-decay keys of swin/mask-rcnn_swin-t-p4-w7_fpn_1x_coco.py; mmpose '
             'td-hm_swin-t-p4-w7_8xb32-210e_coco-256x192.py (stage 3, drop path 0.2, 8x32)'),
    'CNX-T': Adapter(
        det_out_indices=(1, 2, 3), pose_out_indices=(3,),
        det_extra=dict(drop_path_rate=0.2, layer_scale_init_value=1.0),
        pose_extra=dict(drop_path_rate=0.2),
        det_paramwise=dict(custom_keys={'norm': dict(decay_mult=0.)}),
        note='mmdet convnext/mask-rcnn_convnext-t-p4-w7_fpn_*.py (mmpretrain ConvNeXt, no '
             'decay on norms), stages 1-3 so that no output norm is left out of the loss'),
    'VGG-13': Adapter(
        det_out_indices=(2, 3, 4), pose_out_indices=(4,),
        det_extra=dict(norm_cfg=dict(type='BN', requires_grad=True), norm_eval=True,
                       frozen_stages=2),
        note='VGG-13-BN: detection from stages 2-4 (strides 8-32), the stride-2 and stride-4 '
             'stages frozen and BN statistics fixed, as mmdet does for ResNet; pose as mmpose '
             'td-hm_vgg16-bn_8xb64-210e_coco-256x192.py with depth 13 (stage 4)'),
}


def _zoo():
    from bocb_mm.models import zoo
    return zoo


def slug(backbone: str) -> str:
    return _zoo().get_backbone_info(backbone).slug


def stage_channels(backbone: str) -> dict[int, int]:
    """``{stage index: channels}`` of a backbone's multi-scale outputs (the zoo's)."""
    info = _zoo().get_backbone_info(backbone)
    return dict(zip(info.multiscale_cfg()['out_indices'], info.channels))


def backbone_cfg(backbone: str, out_indices: tuple[int, ...], extra: dict) -> dict:
    """The zoo's ImageNet (224 px) backbone with the given outputs and extra arguments."""
    cfg = _zoo().get_backbone_info(backbone).multiscale_cfg(cifar=False)
    cfg.update(out_indices=tuple(out_indices), **extra)
    if cfg.get('num_classes', 0) != -1:
        cfg.pop('num_classes', None)
    return cfg


# ----------------------------------------------------------------------------------------------
# tables
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Column:
    """One pre-trained backbone of the transfer table (a row of transfer.csv)."""

    column: str
    task: str
    backbone: str
    pretrain: str
    pretrain_optimizer: str
    pretrain_recipe: str
    pretrain_epochs: int
    pretrain_dataset: str  # 'ImageNet-1K' (the paper's), or 'CIFAR-100' (a bocb_mm CIFAR run)
    in_paper: bool
    checkpoint: str
    checkpoint_source: str


def load_columns(path: str = TRANSFER_CSV) -> list[Column]:
    """The rows of ``bocb_mm/data/transfer.csv``, validated."""
    out, seen = [], set()
    with open(path, newline='', encoding='utf-8') as f:
        for row in csv.DictReader(f):
            row = {k.strip(): (v or '').strip() for k, v in row.items()}
            col = Column(column=row['column'], task=row['task'], backbone=row['backbone'],
                         pretrain=row['pretrain'],
                         pretrain_optimizer=optim_zoo.resolve_name(row['pretrain_optimizer']),
                         pretrain_recipe=row['pretrain_recipe'],
                         pretrain_epochs=int(row['pretrain_epochs']),
                         pretrain_dataset=row['pretrain_dataset'],
                         in_paper=row['in_paper'].lower() in ('yes', 'true', '1'),
                         checkpoint=row['checkpoint'],
                         checkpoint_source=row['checkpoint_source'])
            if col.task not in TASK_DIRS:
                raise ValueError(f'{path}: {col.column}: unknown task {col.task!r}')
            if col.backbone not in ADAPTERS:
                raise ValueError(f'{path}: {col.column}: no adapter for backbone '
                                 f'{col.backbone!r} (ADAPTERS in {__file__})')
            if not col.column.startswith(f'{col.task}:') or col.column in seen:
                raise ValueError(f'{path}: bad or duplicate column {col.column!r}')
            if any(c.isspace() for c in col.checkpoint) or '}' in col.checkpoint:
                raise ValueError(f'{path}: {col.column}: checkpoint must have no spaces or braces')
            seen.add(col.column)
            out.append(col)
    return out


def paper_columns() -> list[str]:
    """Columns of the paper's COCO table (``coco_transfer.csv``), or [] where it is absent."""
    for path in (osp.join(REPO, 'bocb_mm', 'data', 'paper', 'coco_transfer.csv'),
                 osp.join(osp.dirname(REPO), 'shared', 'paper', 'coco_transfer.csv')):
        if osp.isfile(path):
            with open(path, newline='', encoding='utf-8') as f:
                return next(csv.reader(f))[1:]
    return []


# ----------------------------------------------------------------------------------------------
# configs
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Entry:
    """One generated config."""

    path: str  # relative to the repository root
    task: str
    column: str
    backbone: str
    pretrain: str
    optimizer: str
    lr: str
    weight_decay: str
    lr_source: str
    checkpoint: str


def column_dir(col: Column) -> str:
    return f'configs/{TASK_DIRS[col.task]}/{slug(col.backbone)}_{col.pretrain}'


def config_path(col: Column, optimizer: str) -> str:
    name, opt = slug(col.backbone), pretrain_gen.optimizer_slug(optimizer)
    if col.task == 'det':
        name = f'retinanet_{name}-{col.pretrain}_fpn_{opt}_8xb2-1x_coco.py'
    else:
        batch = ADAPTERS[col.backbone].pose_batch
        name = f'td-hm_{name}-{col.pretrain}_{opt}_8xb{batch}-210e_coco-256x192.py'
    return f'{column_dir(col)}/{name}'


def pretrained_init(col: Column) -> dict:
    return dict(type='Pretrained', checkpoint=f'{{{{${CKPT_ENV}:{col.checkpoint}}}}}',
                prefix='backbone.')


def adapter_cfg(col: Column) -> dict:
    """The ``model`` changes a backbone needs in its task (backbone, FPN / head channels).

    Written once per column, into its base (:func:`column_base`); empty where the task's own
    model already fits the backbone.
    """
    ad = ADAPTERS[col.backbone]
    channels = stage_channels(col.backbone)
    if col.task == 'det':
        if ad.det_out_indices is None:
            return {}
        return dict(
            backbone=dict(_delete_=True, **backbone_cfg(col.backbone, ad.det_out_indices,
                                                        ad.det_extra)),
            neck=dict(in_channels=[channels[i] for i in ad.det_out_indices], start_level=0,
                      num_outs=5))
    if ad.pose_out_indices is None:
        return {}
    return dict(
        backbone=dict(_delete_=True, **backbone_cfg(col.backbone, ad.pose_out_indices,
                                                    ad.pose_extra)),
        head=dict(in_channels=channels[ad.pose_out_indices[-1]]))


def model_cfg(col: Column) -> dict:
    """The leaf's ``model`` part: the pre-trained checkpoint of the backbone."""
    return dict(backbone=dict(init_cfg=pretrained_init(col)))


def optim_wrapper_cfg(col: Column, optimizer: str, lr: str, wd: str) -> dict:
    opt = optim_zoo.optimizer_cfg(optimizer, lr=Num(lr), weight_decay=Num(wd))
    wrapper = dict(type=pretrain_gen.optim_wrapper_cfg(optimizer, lr, wd)['type'],
                   optimizer=dict(_delete_=True, **opt))
    paramwise = ADAPTERS[col.backbone].det_paramwise if col.task == 'det' else None
    if paramwise:
        wrapper['paramwise_cfg'] = paramwise
    return wrapper


HEADER = ('# Generated by tools/gen_transfer_configs.py from bocb_mm/data/transfer.csv and the\n'
          '# optimizer zoo. Do not edit: change the tables and run  '
          'python tools/gen_transfer_configs.py\n')


COLUMN_BASES = 'configs/_base_/coco/columns'


@dataclass(frozen=True)
class ColumnBase:
    """The generated base shared by a column's 20 optimizer configs."""

    path: str


def column_base_path(col: Column) -> str:
    return f'{COLUMN_BASES}/{TASK_DIRS[col.task]}_{osp.basename(column_dir(col))}.py'


def column_base(col: Column) -> tuple[ColumnBase, str]:
    """The column's base: the task's model and data with the backbone's adapters."""
    ad = ADAPTERS[col.backbone]
    lines = [HEADER.rstrip('\n'),
             f'# Base of the {col.column} column: {TASK_MODELS[col.task]} with {col.backbone}; '
             'each optimizer\'s config',
             f'# in {column_dir(col)}/ adds the checkpoint and its optimizer.',
             f"_base_ = ['../{osp.basename(TASK_BASES[col.task])}']"]
    extra: dict[str, Any] = {}
    adapters = adapter_cfg(col)
    if adapters:
        extra['model'] = adapters
    if col.task == 'pose' and ad.pose_batch != 64:
        extra['train_dataloader'] = dict(batch_size=ad.pose_batch)
        extra['auto_scale_lr'] = dict(base_batch_size=8 * ad.pose_batch)
    for key, value in extra.items():
        lines += ['', f'{key} = {render(value, len(key) + 3)}']
    return ColumnBase(column_base_path(col)), '\n'.join(lines) + '\n'


def column_bases() -> list[tuple[ColumnBase, str]]:
    return [column_base(col) for col in load_columns()]


def _text(entry: Entry, col: Column, comments: list[str], extra: dict[str, Any]) -> str:
    bocb = dict(backbone=col.backbone, optimizer=entry.optimizer, task=col.task,
                pretrain=col.pretrain, pretrain_dataset=col.pretrain_dataset, dataset='coco',
                column=col.column,
                in_paper=col.in_paper, model=TASK_MODELS[col.task],
                hparams_from=f'{anchor_of(col.task, entry.optimizer)} anchor')
    depth = entry.path.count('/') - 1  # configs/<task>/<column>/<file>
    base = osp.relpath(column_base_path(col), 'configs')
    lines = [HEADER.rstrip('\n')]
    lines += [f'# {c}' for c in comments]
    lines.append(f"_base_ = ['{'../' * depth}{base}']")
    lines.append('')
    lines.append(f'bocb = {render(bocb, 7)}')
    for key, value in extra.items():
        lines.append('')
        lines.append(f'{key} = {render(value, len(key) + 3)}')
    return '\n'.join(lines) + '\n'


def entries() -> list[tuple[Entry, str]]:
    """Every transfer config (column x 20 optimizers) with its text."""
    table = pretrain_gen.load_hparams()
    out = []
    for col in load_columns():
        ad = ADAPTERS[col.backbone]
        for optimizer in optim_zoo.list_optimizers():
            lr, wd, source = transfer_hparams(col.task, col.backbone, optimizer, table)
            path = config_path(col, optimizer)
            entry = Entry(path=path, task=col.task, column=col.column, backbone=col.backbone,
                          pretrain=col.pretrain, optimizer=optimizer, lr=lr, weight_decay=wd,
                          lr_source=source, checkpoint=col.checkpoint)
            pre = (f'pre-trained on {col.pretrain_dataset} by {col.pretrain_optimizer} '
                   f'({col.pretrain_recipe}, {col.pretrain_epochs} epochs)')
            if col.task == 'det':
                what = (f'RetinaNet + FPN, {col.backbone} {pre}, fine-tuned on COCO by '
                        f'{optimizer}: 1x schedule (12 epochs), 8 GPUs x 2 images.')
            else:
                what = (f'TopDown heatmap pose, {col.backbone} {pre}, fine-tuned on COCO by '
                        f'{optimizer} at 256x192: 210 epochs, 8 GPUs x {ad.pose_batch} images.')
            comments = [what,
                        f'Paper column: {col.column}' + ('' if col.in_paper else
                                                         ' (not in the paper\'s table)') + '.',
                        f'lr / weight decay: {source}.',
                        f'Checkpoint: ${CKPT_ENV} or {col.checkpoint_source}.']
            wrapper = optim_wrapper_cfg(col, optimizer, lr, wd)
            model = model_cfg(col)
            if col.task == 'det' and 'Sophia' in wrapper['type']:
                # the Hessian refresh back-propagates twice; on GPU mmdet's FocalLoss runs mmcv's
                # sigmoid_focal_loss kernel, whose backward is once-differentiable. The same loss
                # in mmdet's pure-torch implementation (FocalCustomLoss, num_classes = all)
                comments.append('Sophia: FocalCustomLoss (= FocalLoss in pure torch) so that the '
                                'Hessian refresh can back-propagate twice on GPU.')
                model['bbox_head'] = dict(loss_cls=dict(type='FocalCustomLoss', num_classes=80))
            extra: dict[str, Any] = dict(model=model, optim_wrapper=wrapper)
            out.append((entry, _text(entry, col, _wrap(comments), extra)))
    return out


def _wrap(comments: list[str], width: int = 98) -> list[str]:
    out = []
    for c in comments:
        words, line = c.split(' '), ''
        for w in words:
            if line and len(line) + 1 + len(w) > width:
                out.append(line)
                line = '  ' + w
            else:
                line = f'{line} {w}' if line else w
        out.append(line)
    return out


# ----------------------------------------------------------------------------------------------
# write / check
# ----------------------------------------------------------------------------------------------
def _existing_generated() -> set[str]:
    dirs = [osp.join(CONFIGS, sub) for sub in TASK_DIRS.values()]
    return pretrain_gen.generated_files(dirs + [osp.join(REPO, COLUMN_BASES)], HEADER)


def check(items: Iterable[tuple[Entry, str]], verbose: bool = True) -> list[str]:
    """Paths that differ from what the generator writes (stale, missing or left over);
    the column bases are always checked with the leaves."""
    return pretrain_gen.check(list(items) + column_bases(), verbose,
                              existing=_existing_generated())


def write(items: Iterable[tuple[Entry, str]]) -> tuple[int, int]:
    """Write the leaves and column bases that changed, remove what is no longer generated."""
    return pretrain_gen.write(list(items) + column_bases(), existing=_existing_generated())


def markdown(items: list[tuple[Entry, str]]) -> str:
    """lr / weight-decay tables (optimizer x column) per task, for docs/transfer.md."""
    out = []
    for task, title in (('det', 'Detection (RetinaNet, batch 16)'),
                        ('pose', 'Pose (TopDown 256x192, batch 512; Swin-T 256)')):
        cols = [c for c in load_columns() if c.task == task]
        cells = {(e.column, e.optimizer): f'{e.lr} / {e.weight_decay}'
                 for e, _ in items if e.task == task}
        out.append(f'{title}: lr / weight decay\n')
        out.append('| optimizer | ' + ' | '.join(c.column.split(':', 1)[1] for c in cols) + ' |')
        out.append('|---' * (len(cols) + 1) + '|')
        for opt in optim_zoo.list_optimizers():
            out.append(f'| {opt} | ' + ' | '.join(cells[(c.column, opt)] for c in cols) + ' |')
        out.append('')
    return '\n'.join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--check', action='store_true',
                        help='write nothing; exit 1 if a generated config is out of date')
    parser.add_argument('--list', action='store_true', help='print the grid and exit')
    parser.add_argument('--markdown', action='store_true',
                        help='print the lr / weight-decay tables (docs/transfer.md) and exit')
    args = parser.parse_args(argv)
    items = entries()
    if args.list:
        for e, _ in items:
            print(f'{e.column:20s} {e.optimizer:9s} lr={e.lr:8s} wd={e.weight_decay:6s} '
                  f'{e.path}')
        return 0
    if args.markdown:
        print(markdown(items))
        return 0
    if args.check:
        problems = check(items)
        if problems:
            print('\n'.join(problems))
            print(f'{len(problems)} generated config(s) out of date: run  python '
                  'tools/gen_transfer_configs.py')
            return 1
        print(f'OK: {len(items)} generated transfer configs up to date')
        return 0
    written, unchanged = write(items)
    print(f'{written} config(s) written, {unchanged} unchanged ({len(items)} in all)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
