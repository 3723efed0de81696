"""Optimizer wrappers, the BOCB parameter-group constructor and hooks.

Registered in the ``bocb_mm`` scope (config ``type='bocb_mm.<Name>'``):

* ``OPTIM_WRAPPERS``: :class:`SophiaOptimWrapper`, :class:`SophiaAmpOptimWrapper`,
  :class:`StatsOptimWrapper`, :class:`BF16OptimWrapper`, :class:`SophiaBF16OptimWrapper`;
* ``OPTIM_WRAPPER_CONSTRUCTORS``: :class:`BOCBOptimWrapperConstructor`;
* ``HOOKS``: :class:`OptimStatsHook`, :class:`ConventionCheckHook`, and the throughput hooks
  :class:`ChannelsLastHook`, :class:`TrimPaddedConvsHook`, :class:`EagerStepHook`,
  :class:`StepTimerHook`, :class:`StopOnSignalHook` (checkpoint and stop on a signal) and
  :class:`ScheduleFreeHook` (train/eval modes of Schedule-Free optimizers).

:mod:`.conventions` checks optimizer conventions when a wrapper is built; :mod:`.audit` lists
every parameter's group, lr, weight decay and trust-ratio exclusion
(``tools/analysis/param_groups.py``).

See ``docs/wrappers.md``.
"""
from .constructor import EMBEDDING_KEYS, BOCBOptimWrapperConstructor, is_norm_module
from .conventions import (ConventionCheckHook, ConventionError, ConventionIssue,
                          check_conventions)
from .sophia_wrapper import SophiaAmpOptimWrapper, SophiaMixin, SophiaOptimWrapper
from .stats import OptimizerStats, OptimStatsHook, StatsOptimWrapper, layer_group
from .amp import BF16OptimWrapper, SophiaBF16OptimWrapper  # noqa: E402  (after sophia_wrapper)
from .preemption import STOPPED_EXIT, StopOnSignalHook
from .schedule_free import ScheduleFreeHook, add_schedule_free_hook
from .throughput import (ChannelsLastHook, EagerStepHook, StepTimerHook, TrimPaddedConvsHook,
                         apply_throughput_options)

__all__ = [
    'SophiaOptimWrapper', 'SophiaAmpOptimWrapper', 'SophiaMixin', 'StatsOptimWrapper',
    'OptimStatsHook', 'OptimizerStats', 'layer_group', 'BOCBOptimWrapperConstructor',
    'is_norm_module', 'EMBEDDING_KEYS', 'ConventionCheckHook', 'ConventionError',
    'ConventionIssue', 'check_conventions', 'BF16OptimWrapper', 'SophiaBF16OptimWrapper',
    'ChannelsLastHook', 'EagerStepHook', 'StepTimerHook', 'TrimPaddedConvsHook',
    'apply_throughput_options', 'StopOnSignalHook', 'STOPPED_EXIT',
    'ScheduleFreeHook', 'add_schedule_free_hook'
]
