"""What the protocol trains and what it produces: stages, pairs, trials, outcomes, result rows."""
from __future__ import annotations

import dataclasses
import enum
from typing import TYPE_CHECKING, Iterable, Sequence

if TYPE_CHECKING:
    from ..plan import Run
    from .rules import TuningProtocol

TUNING_FIELDS = ('backbone', 'optimizer', 'lr', 'lr_factor', 'typical_lr', 'weight_decay',
                 'stage', 'epochs', 'val_top1', 'status', 'chosen', 'wall_time', 'overhead',
                 'work_dir')
FINAL_FIELDS = ('backbone', 'optimizer', 'seed', 'top1', 'last_top1', 'top5', 'metric', 'epochs',
                'iters', 'wall_time', 'overhead', 'status', 'dataset', 'lr', 'weight_decay',
                'typical_lr', 'config', 'work_dir')


class Stage(str, enum.Enum):
    """The stage of a trial; its value is what rows, paths and configs spell."""

    RUNG0 = 'rung0'
    """Every grid point, first-rung budget (``halving_epochs``)."""
    RUNG1 = 'rung1'
    """The survivors at the full budget (resumed from ``rung0``), or every grid point at the full
    budget without halving."""
    FINAL = 'final'
    """The chosen setting, one run per final seed, evaluated on the test split."""

    def __str__(self) -> str:
        return self.value


STAGES = tuple(stage.value for stage in Stage)
"""The stages' names, in order."""


@dataclasses.dataclass(frozen=True)
class Pair:
    """A backbone x optimizer pair to tune.

    Attributes:
        backbone: Backbone name.
        optimizer: Optimizer name.
        typical_lr: Centre of the grid (a fixed-lr run: the lr itself).
        weight_decay: Weight decay of every run of the pair.
    """

    backbone: str
    optimizer: str
    typical_lr: float
    weight_decay: float


@dataclasses.dataclass(frozen=True)
class Trial:
    """One training of the protocol: a pair at an lr, a stage, a seed.

    Attributes:
        pair: The pair.
        lr: Learning rate.
        stage: Its stage (a stage's name is accepted and converted).
        seed: Random seed.
        resume_from: ``rung1``: the ``rung0`` trial it continues.
    """

    pair: Pair
    lr: float
    stage: Stage
    seed: int
    resume_from: Trial | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, 'stage', Stage(self.stage))  # 'final' -> Stage.FINAL


@dataclasses.dataclass
class Outcome:
    """A finished (or diverged / failed) trial and what it scored.

    Attributes:
        trial: The trial.
        run: Its run.
        record: The run's ``bocb_run.json`` record.
        row: Its result row (:func:`~bocb_mm.sweep.collect.result_row`).
    """

    trial: Trial
    run: Run
    record: dict
    row: dict

    @property
    def status(self) -> str:
        """``finished``, ``diverged`` or ``failed``."""
        return self.record.get('status', 'failed')

    @property
    def score(self) -> float | None:
        """The last evaluation's top-1 (validation while tuning, test for finals)."""
        return self.row.get('last_top1') if self.status == 'finished' else None


def tuning_row(pair: Pair, outcome: Outcome, chosen: bool) -> dict:
    """The :data:`TUNING_FIELDS` row of a tuning trial (its validation score and status)."""
    lr = outcome.trial.lr
    return dict(backbone=pair.backbone, optimizer=pair.optimizer, lr=lr,
                lr_factor=round(lr / pair.typical_lr, 4), typical_lr=pair.typical_lr,
                weight_decay=pair.weight_decay, stage=outcome.trial.stage.value,
                epochs=outcome.row.get('epochs'), val_top1=outcome.score, status=outcome.status,
                chosen=chosen, wall_time=outcome.record.get('wall_time'),
                overhead=outcome.record.get('overhead'), work_dir=outcome.run.work_dir)


def final_rows(pair: Pair, lr: float | None, finals: Iterable[Outcome]) -> list[dict]:
    """The :data:`FINAL_FIELDS` rows of a pair's final runs at ``lr``, by seed (test top-1 of
    each run's single, last evaluation)."""
    return [dict(o.row, lr=lr, weight_decay=pair.weight_decay, typical_lr=pair.typical_lr,
                 overhead=o.record.get('overhead'), top1=o.score, last_top1=o.score,
                 status=o.status)
            for o in sorted(finals, key=lambda o: o.trial.seed)]


@dataclasses.dataclass
class ProtocolResult:
    """Everything a call of the driver produced.

    Attributes:
        protocol: The tuning protocol; None for fixed-lr runs (no tuning).
        tuning: One row per tuning trial (:data:`TUNING_FIELDS`).
        finals: One row per final run (:data:`FINAL_FIELDS`).
        records: The records of the runs trained by this call (not the ones skipped as done).
    """

    protocol: TuningProtocol | None
    tuning: list[dict]
    finals: list[dict]
    records: list[dict]


def diverged_runs(result: ProtocolResult) -> list[dict]:
    """Every diverged (or failed) run of the result, tuning and finals, with its lr."""
    rows: Sequence[dict] = [*result.tuning, *result.finals]
    return [dict(backbone=r['backbone'], optimizer=r['optimizer'], lr=r['lr'],
                 stage=r.get('stage', Stage.FINAL.value), seed=r.get('seed'), status=r['status'])
            for r in rows if r['status'] != 'finished']


def choices_without_signal(result: ProtocolResult) -> list[dict]:
    """Pairs chosen by the no-signal rule of :func:`~bocb_mm.sweep.protocol.rules.select_lr`.

    Args:
        result: The driver's result.

    Returns:
        One dict per pair whose chosen lr scored no better than ``stall_top1``: backbone,
        optimizer, the chosen lr and ``grid``: ``[lr, validation top-1]`` pairs of the selection
        stage (the run's status instead of a score when it did not finish), by lr. Empty when
        there was no tuning or the protocol has no stall rule.
    """
    stall = result.protocol.stall_top1 if result.protocol is not None else None
    if stall is None:
        return []
    out = []
    for r in result.tuning:
        if r['chosen'] and r['val_top1'] is not None and r['val_top1'] <= stall:
            key = (r['backbone'], r['optimizer'], r['stage'])
            grid = sorted([row['lr'], row['val_top1'] if row['status'] == 'finished'
                           else row['status']]
                          for row in result.tuning
                          if (row['backbone'], row['optimizer'], row['stage']) == key)
            out.append(dict(backbone=r['backbone'], optimizer=r['optimizer'], lr=r['lr'],
                            grid=grid))
    return out
