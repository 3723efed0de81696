"""Convention checks: the optimizer mistakes that train without an error but not as intended.

Each check has a code (pass codes to ``ignore`` to silence one):

=========================== =====================================================================
code                        fires when
=========================== =====================================================================
sophia_no_refresh           a SophiaG is driven by a wrapper that never refreshes its Hessian
                            (not a ``SophiaOptimWrapper``, or ``hessian_interval`` 0): every step
                            is a sign step
adan_betas                  Adan betas below 0.5: the paper's ``1 - beta`` form, where the class
                            (official code, timm) takes decay factors ``(0.98, 0.92, 0.99)``
lion_lr                     a Lion lr above every lr the study found best for Lion (AdamW scale)
adafactor_relative_step     Adafactor with an explicit lr and ``relative_step=True`` (the lr is
                            ignored by fairseq's semantics; bocb_mm's class refuses it)
adafactor_scale_parameter   Adafactor with an explicit lr and ``scale_parameter=True`` (the lr
                            is multiplied by RMS(param); the study's lrs assume False)
trust_ratio_on_norms        LARS / LAMB adapting (trust ratio) norm-layer or bias tensors
wd_exempt                   weight decay on tensors the study's constructor exempts (biases,
                            norm layers) that no trust ratio adapts
muon_head_or_norm           a Muon (timm's or torch's) orthogonalising the classifier head or
                            a norm layer's tensors (``muon_routing=dict(head='muon')``, or
                            timm's shape rule under mmengine's default constructor)

The last two look at groups built by other constructors (mmengine's default, ...): a group built
by ``BOCBOptimWrapperConstructor`` (it carries ``trust_exclude``) follows the config's own
``paramwise_cfg``, where ``norm_decay_mult=1.0`` is a decision (the official SGD-M recipe), not
an accident.
=========================== =====================================================================

Where they run (docs/wrappers.md, "Convention checks"): :class:`ConventionCheckHook`, in the
``default_hooks`` of the shipped base runtimes, checks the Runner's optimizer wrapper right after
it is built (``before_run``), whatever constructor and wrapper the config uses;
``tools/analysis/param_groups.py`` runs the same checks (plus the config-level Adafactor check)
on any config. ``mode='warn'`` logs through mmengine's ``MMLogger``, ``mode='errors'`` raises
:class:`ConventionError`, ``mode='off'`` skips.
"""
from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.optim import OptimWrapper, OptimWrapperDict
from torch import nn
from torch.optim import Optimizer

from bocb_mm.optim.cards import fmt_value
from bocb_mm.optim.zoo import study_hparams
from bocb_mm.registry import HOOKS

from .audit import (TRUST_RATIO_OPTIMIZERS, iter_params, named_optimizers, optimizer_name,
                    policy_exempt, trust_ratio_excluded)
from .muon_routing import categorize, is_muon, optimizer_route
from .sophia_wrapper import SophiaMixin

__all__ = ['CODES', 'MODES', 'ConventionIssue', 'ConventionError', 'check_optimizer_cfg',
           'check_optim_wrapper', 'report', 'check_conventions', 'ConventionCheckHook']

#: Check code -> one-line description.
CODES: dict[str, str] = {
    'sophia_no_refresh': 'SophiaG without a Hessian refresh',
    'adan_betas': "Adan betas in the paper's 1 - beta form",
    'lion_lr': 'Lion with an AdamW-scale lr',
    'adafactor_relative_step': 'Adafactor with an explicit lr and relative_step=True',
    'adafactor_scale_parameter': 'Adafactor with an explicit lr and scale_parameter=True',
    'trust_ratio_on_norms': 'LARS / LAMB adapting norms or biases',
    'wd_exempt': "weight decay on tensors the study's constructor exempts",
    'muon_head_or_norm': 'Muon orthogonalising the head or a norm layer',
}
MODES = ('warn', 'errors', 'off')
_EXAMPLES = 3
_FIX_POLICY = ("constructor='bocb_mm.BOCBOptimWrapperConstructor' exempts them (or mmengine's "
               'paramwise_cfg=dict(norm_decay_mult=0, bias_decay_mult=0))')


@dataclass(frozen=True)
class ConventionIssue:
    """One convention problem: its :data:`CODES` key and a message that says what to change."""

    code: str
    message: str

    def __str__(self) -> str:
        return f'[{self.code}] {self.message}'


class ConventionError(ValueError):
    """Raised in ``mode='errors'``; ``issues`` holds the :class:`ConventionIssue` list."""

    def __init__(self, issues: Sequence[ConventionIssue]) -> None:
        self.issues = list(issues)
        super().__init__('optimizer convention check failed:\n'
                         + '\n'.join(f'  {i}' for i in self.issues))


def _num(x: float) -> str:
    return fmt_value(float(x))  # as the paper and the cards write numbers: 5e-4, 0.05


# ---------------------------------------------------------------------------------------------
# config-level check (before the optimizer exists)
# ---------------------------------------------------------------------------------------------
def _adafactor_relative(lr: Any, relative_step: Any) -> ConventionIssue | None:
    if lr is None or not relative_step:
        return None
    return ConventionIssue(
        'adafactor_relative_step',
        f'Adafactor with lr={lr!r} and relative_step=True: the relative step replaces the lr '
        "(fairseq ignores it silently; HF's and bocb_mm's classes refuse it). The study's "
        'configs use an explicit lr with relative_step=False and scale_parameter=False.')


def check_optimizer_cfg(optimizer_cfg: Mapping[str, Any]) -> list[ConventionIssue]:
    """Checks that need only the optimizer config (run before the build, which may refuse it).

    Args:
        optimizer_cfg: ``optim_wrapper.optimizer`` of a config.
    """
    if optimizer_name(optimizer_cfg.get('type', '')) != 'AdaFactor':
        return []
    issue = _adafactor_relative(optimizer_cfg.get('lr'), optimizer_cfg.get('relative_step'))
    return [issue] if issue else []


# ---------------------------------------------------------------------------------------------
# checks on a built wrapper
# ---------------------------------------------------------------------------------------------
def _check_sophia(wrapper: OptimWrapper) -> list[ConventionIssue]:
    if isinstance(wrapper, SophiaMixin) and wrapper.hessian_interval > 0:
        return []
    where = (f'{type(wrapper).__name__} with hessian_interval=0' if isinstance(wrapper, SophiaMixin)
             else f'a plain {type(wrapper).__name__}')
    return [ConventionIssue(
        'sophia_no_refresh',
        f'SophiaG in {where}: Hessian never refreshed: every step is a sign step '
        "(lr * sign(m)). Use optim_wrapper=dict(type='bocb_mm.SophiaOptimWrapper', "
        'hessian_interval=10, ...) (bocb_mm/engine/sophia_wrapper.py).')]


def _check_adan(groups: Iterable[Mapping[str, Any]]) -> list[ConventionIssue]:
    for group in groups:
        betas = tuple(group.get('betas', ()))
        if any(b < 0.5 for b in betas):
            fixed = tuple(round(1 - b, 6) if b < 0.5 else b for b in betas)
            return [ConventionIssue(
                'adan_betas',
                f'Adan betas={betas} look like the paper\'s 1 - beta form; the class takes decay '
                f'factors as the official code and timm (default (0.98, 0.92, 0.99)): did you '
                f'mean betas={fixed}?')]
    return []


def _lr(group: Mapping[str, Any]) -> float | None:
    return group.get('initial_lr', group.get('lr'))


def _check_lion(groups: Sequence[Mapping[str, Any]]) -> list[ConventionIssue]:
    lion = [lr for lr, _ in study_hparams('LION').values()]
    adamw = [lr for lr, _ in study_hparams('AdamW').values()]
    lrs = [lr for lr in map(_lr, groups) if lr is not None]
    if not lrs or not lion or max(lrs) <= max(lion):
        return []
    return [ConventionIssue(
        'lion_lr',
        f'Lion lr={_num(max(lrs))} is AdamW-scale: the study\'s best Lion lrs are '
        f'{_num(min(lion))} to {_num(max(lion))} (AdamW: {_num(min(adamw))} to '
        f'{_num(max(adamw))}). A sign update moves every weight by lr per step: use a 3-10x '
        'smaller lr than AdamW and a 3-10x larger weight decay.')]


def _check_adafactor(groups: Iterable[Mapping[str, Any]]) -> list[ConventionIssue]:
    out: list[ConventionIssue] = []
    for group in groups:
        lr, relative = group.get('lr'), group.get('relative_step')
        issue = _adafactor_relative(lr, relative)
        if issue is None and lr is not None and not relative and group.get('scale_parameter'):
            issue = ConventionIssue(
                'adafactor_scale_parameter',
                f'Adafactor with lr={lr!r} and scale_parameter=True: the step is lr * '
                "RMS(param), not lr; the study's lrs were tuned with timm's port (explicit lr "
                "used as is): set scale_parameter=False as the zoo's optimizer_cfg does.")
        if issue is not None:
            out.append(issue)
            break
    return out


def _examples(names: list[str]) -> str:
    more = f', ... ({len(names)} in all)' if len(names) > _EXAMPLES else ''
    return ', '.join(names[:_EXAMPLES]) + more


def _check_policy(optimizer: Optimizer, model: nn.Module, name: str | None,
                  names: Mapping[int, str]) -> list[ConventionIssue]:
    exempt = policy_exempt(model)
    trust = name in TRUST_RATIO_OPTIMIZERS
    hit: list[tuple[str, str]] = []
    wds: set[float] = set()
    adapted_hit = False
    for group in optimizer.param_groups:
        if 'trust_exclude' in group:
            continue  # built by the study's constructor: its paramwise_cfg is the config's choice
        wd = group.get('weight_decay') or 0
        adapted = trust and not trust_ratio_excluded(optimizer, group)
        if wd == 0 and not adapted:
            continue
        for p in group['params']:
            if p.requires_grad and id(p) in exempt:
                hit.append((names.get(id(p), '?'), exempt[id(p)]))
                wds.add(wd)
                adapted_hit = adapted_hit or adapted
    if not hit:
        return []
    kinds = ', '.join(f'{k}: {n}' for k, n in sorted(Counter(k for _, k in hit).items()))
    examples = _examples([n for n, _ in hit])
    wd_text = ', '.join(_num(w) for w in sorted(wds))
    if adapted_hit:
        return [ConventionIssue(
            'trust_ratio_on_norms',
            f'{name} applies weight decay {wd_text} and the layer-wise trust ratio to '
            f'{len(hit)} tensors the study exempts ({kinds}), e.g. {examples}. {_FIX_POLICY}.')]
    return [ConventionIssue(
        'wd_exempt',
        f'weight decay {wd_text} on {len(hit)} tensors the study\'s constructor exempts '
        f'({kinds}), e.g. {examples}. {_FIX_POLICY}; ignore this check where the recipe decays '
        'them on purpose.')]


def _check_muon(optimizer: Optimizer, model: nn.Module) -> list[ConventionIssue]:
    categories = categorize(iter_params(model))
    hit = [categories[id(p)] for group in optimizer.param_groups for p in group['params']
           if id(p) in categories and categories[id(p)][1] in ('head', 'norm')
           and optimizer_route(optimizer, group, p) == 'muon']
    if not hit:
        return []
    kinds = ', '.join(f'{k}: {n}' for k, n in sorted(Counter(k for _, k in hit).items()))
    return [ConventionIssue(
        'muon_head_or_norm',
        f'Muon orthogonalises {len(hit)} tensors of the head or of norm layers ({kinds}), e.g. '
        f'{_examples([n for n, _ in hit])}. The routing policy sends them to the AdamW fallback: '
        "constructor='bocb_mm.BOCBOptimWrapperConstructor' with type='bocb_mm.Muon', without "
        "muon_routing=dict(head='muon') (docs/wrappers.md, 'Muon routing').")]


def check_optim_wrapper(optim_wrapper: OptimWrapper | OptimWrapperDict,
                        model: nn.Module | None = None) -> list[ConventionIssue]:
    """All checks on a built optimizer wrapper (or dict of wrappers).

    Args:
        optim_wrapper: The wrapper the Runner (or ``build_optim_wrapper``) built.
        model: The model it was built for; without it the decay-policy checks are skipped.

    Returns:
        The issues found, in :data:`CODES` order per wrapper.
    """
    names = {id(p): n for n, _, _, p in iter_params(model)} if model is not None else {}
    issues: list[ConventionIssue] = []
    for _, wrapper in named_optimizers(optim_wrapper):
        optimizer = wrapper.optimizer
        name = optimizer_name(optimizer)
        groups = optimizer.param_groups
        if name == 'Sophia':
            issues += _check_sophia(wrapper)
        elif name == 'Adan':
            issues += _check_adan(groups)
        elif name == 'LION':
            issues += _check_lion(groups)
        elif name == 'AdaFactor':
            issues += _check_adafactor(groups)
        if model is not None:
            issues += _check_policy(optimizer, model, name, names)
            if is_muon(optimizer):
                issues += _check_muon(optimizer, model)
    return issues


# ---------------------------------------------------------------------------------------------
# reporting
# ---------------------------------------------------------------------------------------------
def _validate(mode: str, ignore: Iterable[str]) -> None:
    if mode not in MODES:
        raise ValueError(f'Invalid mode: {mode!r}; expected one of {MODES}')
    unknown = sorted(set(ignore) - set(CODES))
    if unknown:
        raise ValueError(f'Invalid ignore codes {unknown}; known: {sorted(CODES)}')


def report(issues: Sequence[ConventionIssue], mode: str = 'warn',
           ignore: Iterable[str] = ()) -> list[ConventionIssue]:
    """Log (``warn``, through ``MMLogger``'s current instance) or raise (``errors``) the issues
    whose code is not in ``ignore``; return them.

    Raises:
        ConventionError: In ``errors`` mode when an issue remains.
        ValueError: On an unknown mode or code.
    """
    ignore = tuple(ignore)
    _validate(mode, ignore)
    kept = [i for i in issues if i.code not in ignore]
    if mode == 'off' or not kept:
        return kept
    if mode == 'errors':
        raise ConventionError(kept)
    for issue in kept:
        print_log(f'Optimizer convention check: {issue}', logger='current', level=logging.WARNING)
    return kept


def check_conventions(optim_wrapper: OptimWrapper | OptimWrapperDict | None = None,
                      model: nn.Module | None = None,
                      optimizer_cfg: Mapping[str, Any] | None = None, mode: str = 'warn',
                      ignore: Iterable[str] = ()) -> list[ConventionIssue]:
    """Run the config-level and the wrapper-level checks and :func:`report` them.

    Args:
        optim_wrapper: A built wrapper (None: config-level checks only).
        model: Its model (for the decay-policy checks).
        optimizer_cfg: ``optim_wrapper.optimizer`` of the config (config-level checks).
        mode: ``'warn'`` (default), ``'errors'`` or ``'off'``.
        ignore: Codes to skip.

    Returns:
        The reported issues.
    """
    ignore = tuple(ignore)
    _validate(mode, ignore)
    if mode == 'off':
        return []
    issues = check_optimizer_cfg(optimizer_cfg) if optimizer_cfg else []
    if optim_wrapper is not None:
        built = check_optim_wrapper(optim_wrapper, model)
        issues += [i for i in built if i not in issues]
    return report(issues, mode, ignore)


@HOOKS.register_module()
class ConventionCheckHook(Hook):
    """Check the Runner's optimizer wrapper right after it is built (``before_run``).

    ``default_hooks = dict(conventions=dict(type='bocb_mm.ConventionCheckHook', mode='warn',
    ignore=()))``; the shipped base runtimes set it, so every shipped config is checked with
    mmengine's default constructor as well as with ``BOCBOptimWrapperConstructor``. Test / val
    runs (no wrapper built) are skipped.

    Args:
        mode: ``'warn'`` (log through MMLogger), ``'errors'`` (raise :class:`ConventionError`)
            or ``'off'``.
        ignore: Check codes to skip (:data:`CODES`).
    """

    priority = 'VERY_HIGH'

    def __init__(self, mode: str = 'warn', ignore: Sequence[str] = ()) -> None:
        _validate(mode, ignore)
        self.mode = mode
        self.ignore = tuple(ignore)

    def before_run(self, runner) -> None:
        wrapper = runner.optim_wrapper
        if isinstance(wrapper, (OptimWrapper, OptimWrapperDict)):
            check_conventions(wrapper, runner.model, mode=self.mode, ignore=self.ignore)
