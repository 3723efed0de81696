"""The pieces of a config: the classifier, the optimizer and its wrapper, the parameter groups,
the CIFAR-100 schedule. Per-optimizer facts (config type, fixed arguments, wrapper type) are the
optimizer zoo's (:class:`bocb_mm.optim.zoo.OptimizerInfo`)."""
from __future__ import annotations

import inspect
from typing import Any

from bocb_mm.optim import zoo as optim_zoo

from .render import Num
from .tables import INIT_CFGS, split

#: Linear warm-up from this fraction of the lr: the release's ``warmup_ratio=1e-5``.
WARMUP_START_FACTOR = '1e-5'
#: The LARS trust ratio (docs/fidelity.md, "lars-trust-ratio"): on, applied to the parameters
#: with weight decay (timm; the release's detection copy of LARS). ``False`` is the release's
#: classification LARS default (no trust ratio: SGD with momentum). The appendix lrs decide it.
LARS_TRUST_RATIO = True
#: The parameter-group constructor of every generated pre-training config (no decay / no
#: trust-ratio adaptation on what the table's ``no_decay`` lists).
CONSTRUCTOR = optim_zoo.BOCB_CONSTRUCTOR
CIFAR100_EPOCHS = 200
#: Iterations per CIFAR-100 epoch: 50,000 training images in batches of 100.
CIFAR100_ITERS_PER_EPOCH = 50_000 // 100


def accepts(backbone_type: str, arg: str) -> bool:
    """Whether a registered backbone class (or a base class it forwards ``**kwargs`` to) takes
    ``arg``."""
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
    classifier's init (:data:`~bocb_mm.configgen.tables.INIT_CFGS`), minus what the recipe's
    schedule base sets (head loss, batch augments).

    Raises:
        ValueError: A non-zero drop path / dropout that the backbone class does not take.
    """
    from bocb_mm.models import zoo
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


def optim_wrapper_cfg(optimizer: str, lr: str, weight_decay: str, *,
                      extra_args: dict | None = None, replace: bool = False) -> dict:
    """A run's ``optim_wrapper``: the optimizer's wrapper type, the constructor it needs (Muon's
    routing) and the optimizer (:func:`bocb_mm.optim.zoo.wrapper_cfg`).

    Args:
        optimizer: Any name the optimizer zoo accepts.
        lr: Learning rate as written in the tables.
        weight_decay: Weight decay as written in the tables.
        extra_args: Optimizer arguments besides the zoo's defaults (e.g. Adan's
            ``max_grad_norm``, LARS's ``trust_ratio``).
        replace: Mark the optimizer ``_delete_=True`` (it replaces a base's optimizer instead
            of merging into it).
    """
    wrapper = optim_zoo.wrapper_cfg(optimizer, lr=Num(lr), weight_decay=Num(weight_decay),
                                    **(extra_args or {}))
    if replace:
        wrapper['optimizer'] = dict(_delete_=True, **wrapper['optimizer'])
    return wrapper


def pretrain_extra_args(optimizer: str, table_args: dict | None = None) -> dict:
    """A pre-training optimizer's arguments besides the zoo's defaults: the table's (e.g. Adan's
    ``max_grad_norm``) and, for LARS, ``trust_ratio`` (:data:`LARS_TRUST_RATIO`)."""
    args = dict(table_args or {})
    if optim_zoo.resolve_name(optimizer) == 'LARS':
        args.setdefault('trust_ratio', LARS_TRUST_RATIO)
    return args


def post_paper_args(rule: Any,
                    run_iters: int = CIFAR100_EPOCHS * CIFAR100_ITERS_PER_EPOCH) -> dict:
    """A post-paper optimizer's fixed arguments (:class:`~bocb_mm.configgen.tables.PostPaperRule`
    ``args``), :data:`~bocb_mm.configgen.tables.RUN_ITERS` replaced by ``run_iters`` (default:
    the iterations of a CIFAR-100 config, 200 epochs x 500)."""
    from .tables import RUN_ITERS
    return {key: run_iters if value == RUN_ITERS else value for key, value in rule.args.items()}


def post_paper_param_scheduler(rule: Any, row: dict[str, str]) -> list[dict] | None:
    """The ``param_scheduler`` of a post-paper optimizer whose schedule is ``'warmup-only'``: the
    recipe's linear warm-up (at least ``rule.min_warmup_epochs``), then the constant lr; None for
    ``'recipe'`` (the base's schedule)."""
    if rule.schedule != 'warmup-only':
        return None
    warmup = max(int(row['warmup_epochs']), rule.min_warmup_epochs)
    if not warmup:
        return []
    return [dict(type='LinearLR', start_factor=Num(WARMUP_START_FACTOR), by_epoch=True, begin=0,
                 end=warmup, convert_to_iter_based=True)]


def recipe_wrapper_cfg(paramwise: dict, clip_grad: str | None = None) -> dict:
    """The per-backbone part of ``optim_wrapper``: clipping and the parameter groups.

    Args:
        paramwise: :data:`CONSTRUCTOR` options (:func:`paramwise_cfg`).
        clip_grad: ``max_norm`` of the wrapper's gradient clipping (None: no clipping).
    """
    cfg: dict[str, Any] = {}
    if clip_grad is not None:
        cfg['clip_grad'] = dict(max_norm=Num(clip_grad))
    cfg['constructor'] = CONSTRUCTOR
    cfg['paramwise_cfg'] = paramwise
    return cfg


def paramwise_cfg(no_decay: str, decay_all: bool = False) -> dict:
    """The :data:`CONSTRUCTOR` options for a ``no_decay`` entry of the tables.

    ``norm`` and ``bias`` are the constructor's own rules (norm layers by type, parameters named
    ``bias``); ``1d`` is every tensor with ``ndim <= 1`` and the embeddings; anything else is a
    parameter-name substring. ``decay_all`` (or an empty entry): weight decay on every parameter.
    """
    tokens = [] if decay_all else split(no_decay)
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
