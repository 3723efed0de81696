"""Parameter-group audit: what lr, weight decay and trust-ratio treatment each tensor really gets.

Builds the model and the optimizer wrapper of any MM config (mmpretrain, mmdet, mmpose: no data
is needed) through mmengine's own builders, then lists per parameter: name, shape, module type,
kind (``weight`` / ``bias`` / ``norm`` / ``embedding`` / ``1d``), param group, lr, weight decay,
lr and decay multipliers (relative to the optimizer's base values), whether the group's policy
exempts it from decay and adaptation and, for LARS / LAMB, whether the tensor is excluded from the
layer-wise trust ratio; plus a summary by module type.

Front end: ``python tools/analysis/param_groups.py CONFIG [--cfg-options ...] [--out x.csv]``.

The shipped configs state their policy in their ``bocb`` identity
(``bocb_mm/configgen/fragments.py``)::

    bocb = dict(..., param_groups='bocb: no decay or trust-ratio adaptation on norm, bias, gamma')

(``norm``, ``bias``, name substrings such as ``gamma``, or ``every ndim<=1 tensor (norms, biases,
scales) and embeddings``; ``bocb: weight decay on all parameters`` when nothing is exempt).
:func:`statement_problems` checks the built groups against such a line: every tensor it names is
exempt, every exempt tensor is named, and the constructor is ``BOCBOptimWrapperConstructor``;
:func:`derive_statement` writes the line the built groups imply.
"""
from __future__ import annotations

import csv
from collections import OrderedDict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from mmengine.config import Config
from mmengine.optim import OptimWrapper, OptimWrapperDict, build_optim_wrapper
from mmengine.registry import MODELS, init_default_scope
from torch import nn
from torch.optim import Optimizer

from bocb_mm.optim.zoo import UnknownOptimizerError, get_info

from ._utils import unwrap_model
from .constructor import EMBEDDING_KEYS, BOCBOptimWrapperConstructor, is_norm_module

__all__ = ['ParamRow', 'KINDS', 'param_kind', 'iter_params', 'optimizer_name',
           'trust_ratio_excluded', 'policy_exempt', 'named_optimizers', 'audit_param_groups',
           'summarize_by_module_type', 'parse_statement', 'derive_statement', 'statement_problems',
           'ONE_D', 'load_config', 'build_from_config', 'to_markdown', 'write_csv']

#: Parameter kinds.
KINDS = ('weight', 'bias', 'norm', 'embedding', '1d')
#: Optimizers of the zoo with a layer-wise trust ratio.
TRUST_RATIO_OPTIMIZERS = ('LARS', 'LAMB')


@dataclass(frozen=True)
class ParamRow:
    """One parameter of the audited model.

    Attributes:
        name: Full parameter name (``backbone.layer1.0.bn1.weight``).
        shape: Tensor shape.
        numel: Number of elements.
        module_type: Class name of the module that owns it.
        kind: One of :data:`KINDS`.
        group: ``pg<i>`` (``<wrapper>/pg<i>`` for an ``OptimWrapperDict``), ``frozen`` (not
            trainable) or ``-`` (trainable but in no optimizer).
        lr: The group's lr (``initial_lr`` once a scheduler ran), None outside the optimizer.
        weight_decay: The group's weight decay, None where the optimizer takes none.
        lr_mult: ``lr / base lr`` (None when the base lr is 0 or unknown).
        decay_mult: ``weight_decay / base weight decay`` (None when the base is 0 or unknown).
        trust_excluded: Excluded from the layer-wise trust ratio (LARS / LAMB); None for other
            optimizers.
        exempt: Exempt by the group's policy: ``trust_exclude`` of a
            :class:`BOCBOptimWrapperConstructor` group, else no weight decay where the base has
            some; None when that cannot be told (base weight decay 0, no policy flag).
        route: Muon only: ``'muon'`` (orthogonalised) or ``'adamw'`` (the fallback); None for
            other optimizers.
        lr_scale: Muon only: the factor on the group's lr for this tensor
            (:func:`bocb_mm.engine.muon_routing.lr_scale`); None for other optimizers.
    """

    name: str
    shape: tuple[int, ...]
    numel: int
    module_type: str
    kind: str
    group: str
    lr: float | None
    weight_decay: float | None
    lr_mult: float | None
    decay_mult: float | None
    trust_excluded: bool | None
    exempt: bool | None
    route: str | None = None
    lr_scale: float | None = None


# ---------------------------------------------------------------------------------------------
# per-parameter facts
# ---------------------------------------------------------------------------------------------
def param_kind(module: nn.Module, local_name: str, full_name: str, ndim: int) -> str:
    """Kind of a parameter: ``norm`` (any parameter of a norm layer, by the constructor's rule),
    ``bias``, ``embedding`` (names ending with one of ``EMBEDDING_KEYS``), ``1d`` (other
    ``ndim <= 1``: layer scales, ...) or ``weight``."""
    if is_norm_module(module):
        return 'norm'
    if local_name == 'bias':
        return 'bias'
    if any(full_name.endswith(k) for k in EMBEDDING_KEYS):
        return 'embedding'
    return '1d' if ndim <= 1 else 'weight'


def iter_params(model: nn.Module) -> Iterator[tuple[str, nn.Module, str, nn.Parameter]]:
    """``(full name, owning module, local name, parameter)`` once per parameter, in module order
    (shared parameters once, under their first name)."""
    seen: set[int] = set()
    for mod_name, module in unwrap_model(model).named_modules():
        for local_name, param in module.named_parameters(recurse=False):
            if id(param) in seen:
                continue
            seen.add(id(param))
            full = f'{mod_name}.{local_name}' if mod_name else local_name
            yield full, module, local_name, param


def optimizer_name(optimizer: Any) -> str | None:
    """The zoo's paper name of an optimizer (instance, class or config type such as
    ``'bocb_mm.Adan'``), or None when the zoo does not know it."""
    if isinstance(optimizer, str):
        key = optimizer.rpartition('.')[2]
    else:
        key = (optimizer if isinstance(optimizer, type) else type(optimizer)).__name__
    try:
        return get_info(key).name
    except UnknownOptimizerError:
        return None


def trust_ratio_excluded(optimizer: Optimizer, group: Mapping[str, Any]) -> bool | None:
    """Whether ``group`` is excluded from a LARS / LAMB trust ratio; None for other optimizers.

    bocb_mm's LARS / LAMB (and timm's Lars / Lamb) adapt a group where ``weight_decay != 0`` or
    ``always_adapt``, and none with ``trust_ratio=False``; mmpretrain's LARS honours a
    ``lars_exclude`` key of the group.
    """
    if optimizer_name(optimizer) not in TRUST_RATIO_OPTIMIZERS:
        return None
    if group.get('trust_ratio', True) is False:
        return True
    if 'lars_exclude' in group:
        return bool(group['lars_exclude'])
    return not (group.get('weight_decay', 0) != 0 or group.get('always_adapt', False))


def policy_exempt(model: nn.Module) -> dict[int, str]:
    """``id(param) -> kind`` of the trainable parameters the study's constructor
    (:class:`BOCBOptimWrapperConstructor`, default options) exempts from weight decay and
    adaptation."""
    probe = BOCBOptimWrapperConstructor(dict(optimizer=dict(type='SGD', lr=1.0, weight_decay=1.0)))
    excluded = {id(p) for g in probe.param_groups(unwrap_model(model)) if g['trust_exclude']
                for p in g['params']}
    return {id(p): param_kind(m, local, full, p.ndim)
            for full, m, local, p in iter_params(model) if id(p) in excluded}


def named_optimizers(optim_wrapper: OptimWrapper | OptimWrapperDict
                     ) -> list[tuple[str, OptimWrapper]]:
    """``[(prefix, wrapper)]``: ``('', wrapper)`` or one entry per wrapper of a dict."""
    if isinstance(optim_wrapper, OptimWrapperDict):
        return [(f'{k}/', w) for k, w in optim_wrapper.items()]
    return [('', optim_wrapper)]


# ---------------------------------------------------------------------------------------------
# the audit
# ---------------------------------------------------------------------------------------------
def _ratio(value: float | None, base: float | None) -> float | None:
    if value is None or not base:
        return None
    return value / base


def _group_index(optim_wrapper: OptimWrapper | OptimWrapperDict
                 ) -> dict[int, tuple[str, Optimizer, dict]]:
    index: dict[int, tuple[str, Optimizer, dict]] = {}
    for prefix, wrapper in named_optimizers(optim_wrapper):
        for gi, group in enumerate(wrapper.optimizer.param_groups):
            for p in group['params']:
                index.setdefault(id(p), (f'{prefix}pg{gi}', wrapper.optimizer, group))
    return index


def audit_param_groups(model: nn.Module, optim_wrapper: OptimWrapper | OptimWrapperDict
                       ) -> list[ParamRow]:
    """One :class:`ParamRow` per parameter of ``model`` (module order).

    Args:
        model: The model the wrapper was built for (a DDP wrapper is unwrapped).
        optim_wrapper: The built optimizer wrapper (or dict of wrappers).

    Returns:
        The rows; multipliers are relative to the optimizer's constructor values
        (``optimizer.defaults``: the config's lr and weight decay).
    """
    from .muon_routing import lr_scale, optimizer_route  # it builds on this module's helpers
    index = _group_index(optim_wrapper)
    rows = []
    for full, module, local, param in iter_params(model):
        kind = param_kind(module, local, full, param.ndim)
        common = dict(name=full, shape=tuple(param.shape), numel=param.numel(),
                      module_type=type(module).__name__, kind=kind)
        if not param.requires_grad or id(param) not in index:
            rows.append(ParamRow(**common, group='frozen' if not param.requires_grad else '-',
                                 lr=None, weight_decay=None, lr_mult=None, decay_mult=None,
                                 trust_excluded=None, exempt=None))
            continue
        label, optimizer, group = index[id(param)]
        lr = group.get('initial_lr', group.get('lr'))
        wd = group.get('weight_decay')
        decay_mult = _ratio(wd, optimizer.defaults.get('weight_decay'))
        exempt = group.get('trust_exclude', None if decay_mult is None else decay_mult == 0)
        route = optimizer_route(optimizer, group, param)
        rows.append(ParamRow(
            **common, group=label, lr=lr, weight_decay=wd,
            lr_mult=_ratio(lr, optimizer.defaults.get('lr')), decay_mult=decay_mult,
            trust_excluded=trust_ratio_excluded(optimizer, group), exempt=exempt,
            route=route, lr_scale=lr_scale(tuple(param.shape), group, route)))
    return rows


def _values(rows: Sequence[ParamRow], field: str) -> str:
    vals = sorted({getattr(r, field) for r in rows if getattr(r, field) is not None})
    return ', '.join(_fmt(v) for v in vals) if vals else '-'


def _share(flags: Sequence[bool | None]) -> str:
    known = [f for f in flags if f is not None]
    return f'{sum(known)}/{len(known)}' if known else '-'


def summarize_by_module_type(rows: Sequence[ParamRow]) -> list[dict[str, Any]]:
    """One entry per module type (first-seen order): tensors, elements, frozen tensors, groups,
    the distinct lrs and weight decays, how many tensors are exempt (no decay / adaptation) and
    how many skip the trust ratio (``k/n``; ``-`` where it cannot be told)."""
    by_type: OrderedDict[str, list[ParamRow]] = OrderedDict()
    for row in rows:
        by_type.setdefault(row.module_type, []).append(row)
    out = []
    for mtype, items in by_type.items():
        out.append(OrderedDict(
            module_type=mtype, tensors=len(items), params=sum(r.numel for r in items),
            frozen=sum(r.group == 'frozen' for r in items),
            groups=', '.join(sorted({r.group for r in items
                                     if r.group not in ('frozen', '-')})) or '-',
            lr=_values(items, 'lr'), weight_decay=_values(items, 'weight_decay'),
            exempt=_share([r.exempt for r in items]),
            trust_excluded=_share([r.trust_excluded for r in items])))
        if any(r.route for r in rows):
            out[-1]['muon'] = _share([None if r.route is None else r.route == 'muon'
                                      for r in items])
    return out


# ---------------------------------------------------------------------------------------------
# the statement of a config's policy
# ---------------------------------------------------------------------------------------------
_PREFIX = 'bocb: '
_ALL = 'weight decay on all parameters'
_EXEMPT = 'no decay or trust-ratio adaptation on '
#: The statement's token for ``no_decay_1d=True``.
ONE_D = 'every ndim<=1 tensor (norms, biases, scales) and embeddings'


def parse_statement(statement: str) -> tuple[str, ...]:
    """The exempt tokens of a ``bocb.param_groups`` line (``()`` for "all parameters").

    Raises:
        ValueError: If the line is not in the generator's format.
    """
    text = statement.strip()
    if text == _PREFIX + _ALL:
        return ()
    if not text.startswith(_PREFIX + _EXEMPT):
        raise ValueError(f'unknown bocb.param_groups statement {statement!r}; expected '
                         f'{_PREFIX + _ALL!r} or {_PREFIX + _EXEMPT!r} + tokens')
    rest = text[len(_PREFIX + _EXEMPT):]
    tokens = [ONE_D] if rest.startswith(ONE_D) else []
    rest = rest[len(ONE_D):] if tokens else rest
    return tuple(tokens + [t.strip() for t in rest.split(',') if t.strip()])


def _covered(row: ParamRow, token: str) -> bool:
    if token == ONE_D:
        return len(row.shape) <= 1 or row.kind == 'embedding'
    if token in ('norm', 'bias'):
        return row.kind == token
    return token in row.name  # a no_decay_keys name substring


def _constructor_name(constructor: str | None) -> str:
    return (constructor or 'DefaultOptimWrapperConstructor').rpartition('.')[2]


def _own_name(name: str) -> str:
    """The last component of a parameter name that is not ``weight`` / ``bias`` / an index:
    ``blocks.0.gamma`` -> ``gamma``, ``layer1.0.downsample.0.weight`` -> ``downsample``."""
    parts = [p for p in name.split('.') if p not in ('weight', 'bias') and not p.isdigit()]
    return parts[-1] if parts else name


def derive_statement(rows: Sequence[ParamRow], constructor: str | None = None) -> str:
    """The ``bocb.param_groups`` line the built groups imply: ``norm`` / ``bias`` when every
    tensor of that kind is exempt, then the own names of the other exempt tensors (e.g.
    ``gamma``); prefixed with the constructor when it is not the BOCB one."""
    live = [r for r in rows if r.exempt is not None]
    tokens = [k for k in ('norm', 'bias')
              if any(r.kind == k for r in live) and all(r.exempt for r in live if r.kind == k)]
    extra = {_own_name(r.name) for r in live
             if r.exempt and not any(_covered(r, t) for t in tokens)}
    tokens += sorted(extra)
    line = _PREFIX + (_EXEMPT + ', '.join(tokens) if tokens else _ALL)
    name = _constructor_name(constructor)
    return line if name == 'BOCBOptimWrapperConstructor' else f'{name}; {line[len(_PREFIX):]}'


def statement_problems(statement: str, rows: Sequence[ParamRow],
                       constructor: str | None = None) -> list[str]:
    """Where the built groups contradict a config's ``bocb.param_groups`` line.

    Args:
        statement: The line (see the module docstring).
        rows: Output of :func:`audit_param_groups`.
        constructor: The config's ``optim_wrapper.constructor``.

    Returns:
        One message per contradiction (empty when they agree): a wrong constructor, tensors the
        line names that decay, exempt tensors the line does not name, an unparsable line.
    """
    try:
        tokens = parse_statement(statement)
    except ValueError as err:
        return [str(err)]
    problems = []
    name = _constructor_name(constructor)
    if name != 'BOCBOptimWrapperConstructor':
        problems.append(f"the line describes bocb_mm.BOCBOptimWrapperConstructor's policy, the "
                        f'config uses {name}')
    live = [r for r in rows if r.exempt is not None]
    named_decayed = [r.name for r in live if not r.exempt and any(_covered(r, t) for t in tokens)]
    unnamed_exempt = [r.name for r in live if r.exempt and not any(_covered(r, t) for t in tokens)]
    if named_decayed:
        problems.append(f'{len(named_decayed)} tensor(s) the line exempts decay: '
                        f'{", ".join(named_decayed[:3])}')
    if unnamed_exempt:
        problems.append(f'{len(unnamed_exempt)} exempt tensor(s) the line does not name: '
                        f'{", ".join(unnamed_exempt[:3])}')
    return problems


# ---------------------------------------------------------------------------------------------
# building from a config
# ---------------------------------------------------------------------------------------------
def load_config(path: str | Path, cfg_options: Mapping[str, Any] | None = None) -> Config:
    """``Config.fromfile`` (custom imports run) with ``--cfg-options`` merged in."""
    cfg = Config.fromfile(str(path))
    if cfg_options:
        cfg.merge_from_dict(dict(cfg_options))
    return cfg


def build_from_config(cfg: Config) -> tuple[nn.Module, OptimWrapper | OptimWrapperDict]:
    """The model and the optimizer wrapper of a config, as mmengine's Runner builds them
    (default scope, ``MODELS``, ``build_optim_wrapper``); no data, no weights loaded."""
    init_default_scope(cfg.get('default_scope') or 'mmengine')
    model = MODELS.build(cfg.model)
    ow_cfg = cfg.optim_wrapper
    if 'type' in ow_cfg or 'optimizer' in ow_cfg or 'constructor' in ow_cfg:
        return model, build_optim_wrapper(model, ow_cfg)
    wrappers = {k: build_optim_wrapper(getattr(model, k), v) for k, v in ow_cfg.items()}
    return model, OptimWrapperDict(**wrappers)


# ---------------------------------------------------------------------------------------------
# output
# ---------------------------------------------------------------------------------------------
def _fmt(value: Any) -> str:
    if value is None:
        return '-'
    if isinstance(value, bool):
        return 'yes' if value else 'no'
    if isinstance(value, float):
        return f'{value:.4g}'
    if isinstance(value, tuple):
        return 'x'.join(str(v) for v in value) or 'scalar'
    return str(value)


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    lines += ['| ' + ' | '.join(_fmt(v) for v in row) + ' |' for row in rows]
    return lines


_COLUMNS = ('name', 'shape', 'module_type', 'kind', 'group', 'lr', 'weight_decay', 'lr_mult',
            'decay_mult', 'exempt', 'trust_excluded')
_MUON_COLUMNS = ('route', 'lr_scale')


def to_markdown(rows: Sequence[ParamRow], title: str = '', per_parameter: bool = True) -> str:
    """The audit as Markdown: optional per-parameter table, then the summary by module type."""
    out = [f'# {title}', ''] if title else []
    if per_parameter:
        out += ['## Parameters', '']
        columns = _COLUMNS + (_MUON_COLUMNS if any(r.route for r in rows) else ())
        out += _table(columns, [[getattr(r, c) for c in columns] for r in rows]) + ['']
    summary = summarize_by_module_type(rows)
    out += ['## Summary by module type', '']
    if summary:
        out += _table(list(summary[0]), [list(s.values()) for s in summary])
    return '\n'.join(out) + '\n'


def write_csv(rows: Sequence[ParamRow], path: str | Path) -> Path:
    """Write one line per parameter (all :class:`ParamRow` fields; shape as ``AxB``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fields = list(ParamRow.__dataclass_fields__)
    with path.open('w', newline='', encoding='utf-8') as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        for row in rows:
            record = asdict(row)
            record['shape'] = 'x'.join(str(s) for s in row.shape)
            writer.writerow({k: '' if v is None else v for k, v in record.items()})
    return path
