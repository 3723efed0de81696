"""A tuning protocol for a BOCB grid: per pair an lr grid, successive halving, seeded finals.

* :mod:`.rules` - the parameters (:class:`TuningProtocol`) and the selection rules
  (:func:`select_lr`, :func:`survivors`): pure functions of validation scores;
* :mod:`.driver` - :func:`run_protocol` (the per-pair state machine that submits trials to an
  executor) and :func:`run_fixed` (no tuning: every pair at its given lr, once per seed);
* :mod:`.records` - stages, pairs, trials, outcomes and the result rows.

The protocol's steps and rules are described in ``docs/protocol.md``.
"""
from .driver import Executor, MakeRun, PairState, run_fixed, run_protocol
from .records import (FINAL_FIELDS, STAGES, TUNING_FIELDS, Outcome, Pair, ProtocolResult, Stage,
                      Trial, choices_without_signal, diverged_runs)
from .rules import TuningProtocol, select_lr, survivors, with_signal

__all__ = ['Executor', 'FINAL_FIELDS', 'MakeRun', 'Outcome', 'Pair', 'PairState',
           'ProtocolResult', 'STAGES', 'Stage', 'TUNING_FIELDS', 'Trial', 'TuningProtocol',
           'choices_without_signal', 'diverged_runs', 'run_fixed', 'run_protocol', 'select_lr',
           'survivors', 'with_signal']
