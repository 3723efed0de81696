"""Check a config's ``optim_wrapper`` when the config is loaded, before data or model are built.

Without these checks the mistakes below surface late, after the data set and the model are built,
and with messages that name neither the config key nor the fix:

* a misspelled type (``bocb_mm.Adann``): ``TypeError: None is not a callable object``;
* an argument the optimizer does not take, typically merged from a base config of another MM
  project (mmdet's and mmpose's schedules use ``SGD`` with ``momentum``; a child that sets
  ``optimizer=dict(type='bocb_mm.Lion', ...)`` keeps it): ``unexpected keyword argument``;
* a number written as a string (``lr='0.1'``, from YAML or ``--cfg-options``).
* a Muon left to mmengine's default constructor: torch's ``Muon`` (``type='Muon'``, torch >=
  2.9) raises on the first conv kernel or bias, timm's (``bocb_mm.Muon``) orthogonalises the
  head and the input layer; the fix is ``BOCBOptimWrapperConstructor``'s Muon routing.

:func:`check_optim_cfg` raises :class:`OptimConfigError` naming the key, the scope it was looked
up in and the closest known names, or the keys inherited from the base and how to drop them
(``_delete_=True``). ``tools/train.py`` and the sweep's plan call it.
"""
from __future__ import annotations

import difflib
import inspect
from typing import Any, Iterator, Mapping

__all__ = ['OptimConfigError', 'check_optim_cfg', 'closest_zoo_types', 'optimizer_classes']

_DELETE_HINT = ('replace the base\'s optimizer instead of merging into it: '
                "optim_wrapper = dict(optimizer=dict(_delete_=True, type={type!r}, ...)) "
                "(README, 'Use from any OpenMMLab config')")


class OptimConfigError(ValueError):
    """A config's optimizer, optim wrapper or constructor cannot be built as written."""


def closest_zoo_types(name: str, n: int = 3) -> list[str]:
    """Config types of the zoo's optimizers whose names are closest to ``name``.

    ``'bocb_mm.Adann'`` -> ``['bocb_mm.Adan', ...]``; the scope prefix is ignored and the zoo's
    aliases count (``'sophia'`` -> ``'bocb_mm.SophiaG'``).
    """
    from bocb_mm.optim.zoo import get_info, list_optimizers
    key = name.rsplit('.', 1)[-1].lower()
    types: dict[str, str] = {}
    for paper_name in list_optimizers():
        info = get_info(paper_name)
        for alias in (info.name, info.class_name, *info.aliases):
            types.setdefault(alias.lower(), info.type)
    matches = difflib.get_close_matches(key, list(types), n=2 * n, cutoff=0.6)
    return list(dict.fromkeys(types[m] for m in matches))[:n]


def check_optim_cfg(cfg: Any) -> None:
    """Check the types and the optimizer arguments of ``cfg.optim_wrapper``.

    Args:
        cfg: An mmengine ``Config`` (its ``filename`` locates the base configs for the
            inherited-keys message) or a plain dict.

    Raises:
        OptimConfigError: naming the first problem and its fix.
    """
    wrapper = cfg.get('optim_wrapper')
    if not isinstance(wrapper, Mapping):
        return
    scope = cfg.get('default_scope')
    filename = getattr(cfg, 'filename', None)
    for key, sub in _wrappers(wrapper, 'optim_wrapper'):
        _check_type(sub.get('type', 'OptimWrapper'), f'{key}.type', 'OPTIM_WRAPPERS', scope)
        if 'constructor' in sub:
            _check_type(sub['constructor'], f'{key}.constructor', 'OPTIM_WRAPPER_CONSTRUCTORS',
                        scope)
        optimizer = sub.get('optimizer')
        if isinstance(optimizer, Mapping):
            cls = _check_type(optimizer.get('type'), f'{key}.optimizer.type', 'OPTIMIZERS', scope)
            _check_numbers(optimizer, f'{key}.optimizer')
            if cls is not None:
                _check_arguments(cls, optimizer, f'{key}.optimizer', filename)
                _check_relative_step(cls, optimizer, f'{key}.optimizer',
                                     cfg.get('param_scheduler'))
                _check_schedule_free(cls, optimizer, f'{key}.optimizer',
                                     cfg.get('param_scheduler'))
                _check_muon_constructor(cls, sub, key)


def optimizer_classes(cfg: Any) -> list[tuple[str, type]]:
    """``(config key, class)`` of each optimizer of ``cfg.optim_wrapper`` that resolves."""
    wrapper = cfg.get('optim_wrapper')
    if not isinstance(wrapper, Mapping):
        return []
    found = []
    for key, sub in _wrappers(wrapper, 'optim_wrapper'):
        optimizer = sub.get('optimizer')
        if isinstance(optimizer, Mapping) and optimizer.get('type') is not None:
            try:
                cls = _check_type(optimizer['type'], f'{key}.optimizer.type', 'OPTIMIZERS',
                                  cfg.get('default_scope'))
            except OptimConfigError:
                continue
            if cls is not None:
                found.append((f'{key}.optimizer', cls))
    return found


def _wrappers(wrapper: Mapping, key: str) -> Iterator[tuple[str, Mapping]]:
    """``optim_wrapper`` itself, or its named sub-wrappers (``MultiOptimWrapperConstructor``)."""
    if 'optimizer' in wrapper or 'type' in wrapper:
        yield key, wrapper
    else:
        for name, sub in wrapper.items():
            if isinstance(sub, Mapping) and 'optimizer' in sub:
                yield f'{key}.{name}', sub


def _registry(name: str) -> Any:
    import mmengine.registry
    return getattr(mmengine.registry, name)


def _lookup(registry_name: str, type_name: str, scope: str | None) -> tuple[Any, list[str], str]:
    """``(class or None, known names, scope searched)`` for ``type_name`` under ``scope``."""
    root = _registry(registry_name)
    with root.switch_scope_and_registry(scope) as registry:
        found = registry.get(type_name)
        prefix, _, _ = type_name.rpartition('.')
        if prefix:
            child = root._search_child(prefix)
            names = [f'{prefix}.{k}' for k in (child.module_dict if child else {})]
            where = f'scope {prefix!r}'
        else:
            names, node = [], registry
            while node is not None:  # the scope's registry, then its parents up to the root
                names += list(node.module_dict)
                node = node.parent
            where = f'scope {registry.scope!r}' + ('' if registry is root else
                                                   f" or its parent {root.scope!r}")
    return found, names, where


def _check_type(type_name: Any, key: str, registry_name: str, scope: str | None) -> type | None:
    """The class ``type_name`` names; ``OptimConfigError`` if no registry has it."""
    if type_name is None and registry_name == 'OPTIMIZERS':
        raise OptimConfigError(f'{key} is missing: the optimizer needs a type, e.g. '
                               "type='AdamW' or type='bocb_mm.Lion'")
    if not isinstance(type_name, str):
        return type_name if inspect.isclass(type_name) else None  # a class given directly
    try:
        found, names, where = _lookup(registry_name, type_name, scope)
    except Exception:  # noqa: BLE001 - a scope that does not import here: the Runner will say
        return None
    if found is not None:
        return found
    close = difflib.get_close_matches(type_name, names, n=3, cutoff=0.6)
    if registry_name == 'OPTIMIZERS':
        close = list(dict.fromkeys(closest_zoo_types(type_name) + close))[:4]
    hint = f'; closest known names: {", ".join(map(repr, close))}' if close else ''
    what = registry_name.lower().replace('_', ' ').rstrip('s')
    raise OptimConfigError(f'{key}={type_name!r}: no {what} of that name is registered in '
                           f'{where}{hint}. The paper\'s 20 optimizers and their types: '
                           'python -c "from bocb_mm.optim import list_optimizers, get_info; '
                           '[print(n, get_info(n).type) for n in list_optimizers()]"')


def _is_number_text(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        float(value)
    except ValueError:
        return False
    return True


def _check_numbers(optimizer: Mapping, key: str) -> None:
    """Numbers written as strings (``lr='0.1'``), in scalars and tuples (``betas``)."""
    for name, value in optimizer.items():
        items = value if isinstance(value, (list, tuple)) else (value,)
        if any(_is_number_text(item) for item in items):
            fixed = type(value)(float(v) if _is_number_text(v) else v for v in items) \
                if isinstance(value, (list, tuple)) else float(value)
            raise OptimConfigError(f'{key}.{name}={value!r} is a string, not a number; write '
                                   f'{name}={fixed!r} (in YAML or --cfg-options, without '
                                   'quotes)')


def _accepted(cls: type) -> set[str] | None:
    """Keyword arguments ``cls`` takes (None when it takes ``**kwargs``)."""
    params = inspect.signature(cls).parameters
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return None
    return {n for n, p in params.items() if p.kind is not p.VAR_POSITIONAL} - {'params'}


def _check_arguments(cls: type, optimizer: Mapping, key: str, filename: str | None) -> None:
    """Arguments ``cls`` does not take, with those inherited from a base config named."""
    accepted = _accepted(cls)
    if accepted is None:
        return
    unknown = [k for k in optimizer if k not in accepted and k not in ('type', '_scope_')]
    if not unknown:
        return
    type_name = optimizer.get('type')
    base, base_files = _base_optimizer(filename, key)
    inherited = [k for k in unknown if k in base and base[k] == optimizer[k]]
    own = [k for k in unknown if k not in inherited]
    parts = [f'{key}: {type_name} takes no argument {", ".join(unknown)} (it takes '
             f'{", ".join(sorted(accepted))})']
    if inherited:
        parts.append(f'{", ".join(inherited)} come(s) from the base config '
                     f'({", ".join(base_files)}, optimizer type {base.get("type")!r}): mmengine '
                     'merges a child\'s dict into its base\'s, so the base\'s arguments stay; '
                     + _DELETE_HINT.format(type=type_name))
    for name in own:
        close = difflib.get_close_matches(name, sorted(accepted), n=1)
        if close:
            parts.append(f'{name}: did you mean {close[0]}?')
    if own and not inherited:
        parts.append('if a base config sets them, ' + _DELETE_HINT.format(type=type_name))
    raise OptimConfigError('; '.join(parts))


def _lr_schedulers(param_scheduler: Any) -> list[str]:
    """The types of the schedulers in ``param_scheduler`` that drive the learning rate."""
    schedulers = param_scheduler if isinstance(param_scheduler, (list, tuple)) \
        else [param_scheduler]
    types = []
    for scheduler in schedulers:
        if not isinstance(scheduler, Mapping):
            continue
        type_name = str(scheduler.get('type', ''))
        if scheduler.get('param_name') == 'lr' or type_name.endswith('LR'):
            types.append(type_name)
    return types


def _check_relative_step(cls: type, optimizer: Mapping, key: str, param_scheduler: Any) -> None:
    """Adafactor in relative-step mode (no lr) with an lr scheduler: the scheduler would
    multiply ``None`` at its first decay, deep into training."""
    from bocb_mm.optim.adafactor import Adafactor
    if not (isinstance(cls, type) and issubclass(cls, Adafactor)):
        return
    relative = optimizer.get('relative_step')
    if relative is None:
        relative = optimizer.get('lr') is None
    schedulers = _lr_schedulers(param_scheduler)
    if relative and schedulers:
        raise OptimConfigError(
            f'{key}: {optimizer.get("type")} in relative-step mode (lr=None) computes its own '
            f'step size, but param_scheduler drives the lr ({", ".join(schedulers)}); give an '
            'explicit lr (e.g. lr=1e-3, relative_step=False, as the BOCB configs do) or drop '
            'the lr schedulers')


def _is_warm_up(scheduler: Mapping) -> bool:
    """A scheduler that only raises the lr: ``LinearLR`` / ``LinearParamScheduler`` with
    ``end_factor >= start_factor`` (mmengine's defaults 1/3 -> 1), or ``ConstantLR`` (a lower lr
    until ``end``, then the base lr)."""
    name = str(scheduler.get('type', '')).rsplit('.', 1)[-1]
    if name == 'ConstantLR' or (name == 'ConstantParamScheduler'
                                and scheduler.get('param_name') == 'lr'):
        return float(scheduler.get('factor', 1.0 / 3)) <= 1.0
    if name in ('LinearLR', 'LinearParamScheduler'):
        return float(scheduler.get('end_factor', 1.0)) >= float(scheduler.get('start_factor',
                                                                                1.0 / 3))
    return False


def _check_schedule_free(cls: type, optimizer: Mapping, key: str, param_scheduler: Any) -> None:
    """A Schedule-Free optimizer with a decaying lr schedule: the averaging replaces the
    schedule, and a decay on top of it changes the method (the library's authors advise
    against it)."""
    from bocb_mm.engine.schedule_free import is_schedule_free
    if not is_schedule_free(cls):
        return
    schedulers = param_scheduler if isinstance(param_scheduler, (list, tuple)) \
        else [param_scheduler]
    for scheduler in schedulers:
        if not isinstance(scheduler, Mapping) or _is_warm_up(scheduler):
            continue
        type_name = str(scheduler.get('type', ''))
        if scheduler.get('param_name') == 'lr' or type_name.endswith('LR'):
            raise OptimConfigError(
                f'{key}: {optimizer.get("type")} is Schedule-Free (its average of the iterates '
                f'replaces the lr schedule) but param_scheduler has {type_name}, a decaying lr '
                'schedule; drop it and keep at most a warm-up (LinearLR with end_factor=1.0 '
                "and end <= the warm-up, or the optimizer's own warmup_steps): "
                '_delete_=True on param_scheduler, e.g. param_scheduler=[dict(type=\'LinearLR\', '
                'start_factor=0.01, by_epoch=False, begin=0, end=500)]')


def _check_muon_constructor(cls: type, wrapper: Mapping, key: str) -> None:
    """A Muon left to mmengine's default constructor: torch's ``Muon`` (registered as ``'Muon'``
    with torch >= 2.9) raises on the first conv kernel or bias, timm's routes by shape alone
    (head and input layer to Muon)."""
    from bocb_mm.engine.muon_routing import is_muon, is_timm_muon
    constructor = str(wrapper.get('constructor', 'DefaultOptimWrapperConstructor'))
    if not is_muon(cls) or constructor.rsplit('.', 1)[-1] != 'DefaultOptimWrapperConstructor':
        return
    what = ('routes by tensor shape alone: the classifier head and the input layer would be '
            'orthogonalised' if is_timm_muon(cls) else
            "is torch's Muon: it takes 2-d parameters only and raises on the first conv kernel "
            'or bias')
    raise OptimConfigError(
        f"{key}.optimizer.type={wrapper['optimizer'].get('type')!r} with mmengine's default "
        f'constructor {what}. Fix: optimizer=dict(type=\'bocb_mm.Muon\', ...) and '
        f"{key}.constructor='bocb_mm.BOCBOptimWrapperConstructor', which sends hidden matrices "
        'and conv kernels to Muon and the input layer, depthwise kernels, head, tokens, norms '
        "and biases to its AdamW fallback (docs/wrappers.md, 'Muon routing').")


def _base_optimizer(filename: str | None, key: str) -> tuple[dict, list[str]]:
    """The optimizer dict the base configs of ``filename`` define at ``key`` (merged in order),
    and the bases that define one. Empty when there is no base or it cannot be read."""
    if not filename or not str(filename).endswith('.py'):
        return {}, []
    from mmengine.config import Config
    merged: dict = {}
    files: list[str] = []
    try:
        for base in Config._get_base_files(filename):
            path, _ = Config._get_cfg_path(base, filename)
            node: Any = Config.fromfile(path).to_dict()
            for part in key.split('.'):
                node = node.get(part) if isinstance(node, Mapping) else None
            if isinstance(node, Mapping):
                merged.update(node)
                files.append(base)
    except Exception:  # noqa: BLE001 - the attribution is a hint; the error stands without it
        return {}, []
    return merged, files
