"""A tuning protocol for a BOCB grid: per pair an lr grid, successive halving, seeded finals.

For every backbone x optimizer pair:

1. **Grid.** A few learning rates, log-spaced around the optimizer's typical value
   (``typical_lr x lr_factors``); weight decay fixed per optimizer.
2. **Successive halving.** Every grid point trains with ``tune_seed`` on the fit split for the
   first ``halving_epochs`` of the full schedule and is scored on the validation split; the
   ``keep`` best by the selection rule below continue (resumed from their checkpoint, same
   schedule) to ``epochs`` and are scored again. With ``keep=1`` nothing continues: the first
   rung chooses, and the seeded finals are the last rung (a single survivor's continuation
   would choose nothing). With ``halving_epochs=None`` every grid point trains the full
   ``epochs``.
3. **Selection.** The highest validation top-1 of the selection rung (:attr:`~TuningProtocol.
   selection_stage`) wins; ties go to the lr closest (in log scale) to the typical one, then the
   smaller. Runs with a non-finite loss are recorded as ``diverged`` with their lr and rank last.
   The test split is never read.
   **Stalls.** With ``stall_top1`` set, a score at or below it (e.g. twice the chance rate) is
   no signal, at every selection (survivors, edges, the choice). When no point scores above
   it, the side of the grid away from the trouble is chosen: if a point of the original grid
   diverged (not merely failed), the smallest lr that trained (next to the divergence wall
   a run often stalls at chance instead of overflowing: the mini ConvNeXt's LARS sat at chance
   at 0.38 and 1.2 after 3 epochs, diverged above, and learned at 0.12); if none diverged, the
   largest (the whole grid is too small to move in the first rung: LION's typical lr on the
   mini ResNet after 2 epochs).
   **Edges.** When the first rung's choice sits at an edge of the grid (or every point
   diverged: the lower edge), a grid of 3 or more points grows by one point beyond that edge
   (the edge's spacing), up to ``extend_edges`` times per pair: a grid centred on a big
   backbone's lr must not decide for a small one by hitting its wall (LARS's typical lr
   diverged at every point on the mini ViT).
4. **Finals.** The chosen setting trains again with each of ``final_seeds`` (fresh seeds, same
   training images and budget as the tuning runs); its test top-1 is evaluated once, at the end.
   The table reports their mean with a bootstrap CI.

The driver (:func:`run_protocol`) is independent of what a run is: the caller gives a function
that writes a run's config (:data:`MakeRun`) and an executor (in-process workers or
subprocesses). A pair's next stage is queued as soon as its previous stage ends, so the workers
never wait for the slowest pair.
"""
from __future__ import annotations

import dataclasses
import math
from concurrent.futures import FIRST_COMPLETED, Future, wait
from typing import Callable, Collection, Iterable, Protocol, Sequence

from .collect import is_finished, read_record, result_row
from .plan import Run

STAGES = ('rung0', 'rung1', 'final')
"""``rung0``: every grid point, first budget; ``rung1``: the survivors (``keep`` > 1), full budget
(resumed from ``rung0``), or every grid point at the full budget without halving; ``final``: the
chosen setting, one run per seed, evaluated on the test split."""

TUNING_FIELDS = ('backbone', 'optimizer', 'lr', 'lr_factor', 'typical_lr', 'weight_decay',
                 'stage', 'epochs', 'val_top1', 'status', 'chosen', 'wall_time', 'overhead',
                 'work_dir')
FINAL_FIELDS = ('backbone', 'optimizer', 'seed', 'top1', 'last_top1', 'top5', 'metric', 'epochs',
                'iters', 'wall_time', 'overhead', 'status', 'dataset', 'lr', 'weight_decay',
                'typical_lr', 'config', 'work_dir')


@dataclasses.dataclass(frozen=True)
class TuningProtocol:
    """The protocol's parameters (see the module docstring for the steps).

    Attributes:
        lr_factors: Multiples of the typical lr forming the grid (log-spaced).
        epochs: The full training budget (tuning survivors and finals).
        halving_epochs: Budget of the first rung; None: no halving (every grid point trains
            ``epochs``).
        keep: Grid points that continue after the first rung (1: none continues, the first
            rung chooses).
        tune_seed: Seed of the tuning runs.
        final_seeds: Seeds of the final runs of the chosen setting.
        extend_edges: Grid points a pair may add beyond an edge of its grid when the first
            rung's choice (:func:`select_lr`; every point diverged: the lowest lr) sits on it.
        stall_top1: Validation top-1 (%) at or below which a run counts as stalled (no signal;
            see the module docstring); None: every finite score is signal.
    """

    lr_factors: tuple[float, ...]
    epochs: int
    halving_epochs: int | None = None
    keep: int = 2
    tune_seed: int = 0
    final_seeds: tuple[int, ...] = (1, 2, 3)
    extend_edges: int = 0
    stall_top1: float | None = None

    def __post_init__(self) -> None:
        if not self.lr_factors or any(f <= 0 for f in self.lr_factors):
            raise ValueError(f'lr_factors must be positive, got {self.lr_factors}')
        if self.halving_epochs is not None and not 0 < self.halving_epochs < self.epochs:
            raise ValueError(f'halving_epochs must be in (0, epochs={self.epochs}), got '
                             f'{self.halving_epochs}')
        if self.halving_epochs is not None and not 0 < self.keep < len(self.lr_factors):
            raise ValueError(f'keep must be in (0, {len(self.lr_factors)}), got {self.keep}')
        if not self.final_seeds:
            raise ValueError('final_seeds is empty')
        if self.extend_edges < 0:
            raise ValueError(f'extend_edges must be >= 0, got {self.extend_edges}')
        if self.stall_top1 is not None and not 0 <= self.stall_top1 < 100:
            raise ValueError(f'stall_top1 must be in [0, 100), got {self.stall_top1}')

    @property
    def halving(self) -> bool:
        """Whether the grid is pruned after a first rung."""
        return self.halving_epochs is not None

    @property
    def continues(self) -> bool:
        """Whether survivors of the first rung continue to the full budget (``keep`` > 1)."""
        return self.halving and self.keep > 1

    @property
    def selection_stage(self) -> str:
        """The rung whose validation scores choose the lr: ``rung0`` when nothing continues."""
        return 'rung0' if self.halving and not self.continues else 'rung1'

    def grid(self, typical_lr: float) -> list[float]:
        """The lr grid of a pair: ``typical_lr x lr_factors`` to three significant digits."""
        return [float(f'{typical_lr * f:.3g}') for f in self.lr_factors]

    def beyond_edge(self, lrs: Sequence[float], best: float | None) -> float | None:
        """The grid point to add when ``best`` sits on an edge of ``lrs`` (None: none to add).

        ``best`` None (every point diverged) counts as the lower edge. The step is the
        spacing of the two points at that edge. A grid of fewer than 3 points has no interior
        (its best is always on an edge) and never grows.
        """
        ordered = sorted(lrs)
        if len(ordered) < 3 or best not in (None, ordered[0], ordered[-1]):
            return None
        if best is None or best == ordered[0]:
            return float(f'{ordered[0] * ordered[0] / ordered[1]:.3g}')
        return float(f'{ordered[-1] * ordered[-1] / ordered[-2]:.3g}')

    def runs_per_pair(self) -> int:
        """Trainings a pair needs when nothing diverges and its grid does not grow (edge
        extension adds at most ``extend_edges`` first-rung trainings)."""
        rungs = len(self.lr_factors) + (self.keep if self.continues else 0)
        return rungs + len(self.final_seeds)

    def epoch_cost(self) -> float:
        """Training epochs a pair costs, in units of ``epochs`` (finals included)."""
        n = len(self.lr_factors)
        if not self.halving:
            return n + len(self.final_seeds)
        head = self.halving_epochs / self.epochs
        return n * head + (self.keep * (1 - head) if self.continues else 0) + len(self.final_seeds)

    def _selection_epochs(self) -> int:
        return self.halving_epochs if self.selection_stage == 'rung0' else self.epochs

    def describe(self) -> dict:
        """The protocol as a JSON-ready dict (written into summary.json and the report)."""
        return dict(
            lr_grid='typical lr x ' + ', '.join(f'{f:.3g}' for f in self.lr_factors),
            lr_factors=list(self.lr_factors), epochs=self.epochs,
            successive_halving=(dict(first_rung_epochs=self.halving_epochs, keep=self.keep,
                                     of=len(self.lr_factors)) if self.halving else None),
            edge_extension=(f'up to {self.extend_edges} grid point(s) beyond an edge of the '
                            'grid when the first rung\'s choice sits on it (or all diverged)'
                            if self.extend_edges and self.halving else None),
            stall=(f'a validation top-1 <= {self.stall_top1:g} % is no signal; when no grid '
                   'point scores above it, the smallest lr that trained is chosen if a point '
                   'of the original grid diverged, else the largest'
                   if self.stall_top1 is not None else None),
            tune_seed=self.tune_seed, final_seeds=list(self.final_seeds),
            selection=(f'highest validation top-1 after {self._selection_epochs()} epochs'
                       + ('' if self.continues or not self.halving else
                          ' (the first rung; the seeded finals are the last rung)')
                       + '; ties: the lr closest to the typical lr (log scale), then the smaller; '
                       'diverged runs (non-finite loss) rank last and are listed with their lr'),
            finals=(f'the chosen setting trains {self.epochs} epochs again (same training images) '
                    f'with seeds {", ".join(map(str, self.final_seeds))}; test top-1 is '
                    'evaluated once, at the end; table: seed mean with a percentile bootstrap CI'),
            cost_per_pair=dict(trainings=self.runs_per_pair(),
                               extra_first_rung_trainings_at_most=(
                                   self.extend_edges if self.halving else 0),
                               epochs=round(self.epoch_cost() * self.epochs, 2)))


@dataclasses.dataclass(frozen=True)
class Pair:
    """A backbone x optimizer pair to tune.

    Attributes:
        backbone: Backbone name.
        optimizer: Optimizer name.
        typical_lr: Centre of the grid.
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
        stage: One of :data:`STAGES`.
        seed: Random seed.
        resume_from: ``rung1``: the ``rung0`` trial it continues.
    """

    pair: Pair
    lr: float
    stage: str
    seed: int
    resume_from: 'Trial | None' = None


MakeRun = Callable[[Trial], Run]
"""Writes the config of a trial and returns its :class:`Run` (work_dir, seed, extra args)."""


class Executor(Protocol):
    """What :func:`run_protocol` needs of an executor (in-process workers, subprocesses)."""

    def submit(self, run: Run) -> Future:
        """Queue a run; the future's result is its record."""


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


def with_signal(scores: dict[float, float | None], stall_top1: float | None = None,
                ) -> dict[float, float]:
    """The grid points that trained and score above ``stall_top1`` (None: every finite one)."""
    return {lr: s for lr, s in scores.items() if s is not None and math.isfinite(s)
            and (stall_top1 is None or s > stall_top1)}


def select_lr(scores: dict[float, float | None], typical_lr: float,
              stall_top1: float | None = None,
              diverged: Collection[float] | None = None) -> float | None:
    """The protocol's choice among a pair's grid points.

    Args:
        scores: lr -> validation top-1 (None: diverged or failed).
        typical_lr: The grid's centre, for ties.
        stall_top1: Scores at or below it are no signal (:class:`TuningProtocol`).
        diverged: The lrs whose divergence decides the no-signal side (the driver passes the
            diverged points of the pair's original grid, so neither a crashed run nor a point
            the grid grew to changes the side); None: every lr of ``scores`` without a finite
            score.

    Returns:
        The best-scoring lr with signal; when none has signal, the smallest lr that trained if
        a point diverged, else the largest; None when no point trained.
    """
    signal = with_signal(scores, stall_top1)
    if not signal:
        trained = with_signal(scores)
        if not trained:
            return None
        if diverged is None:
            diverged = [lr for lr in scores if lr not in trained]
        return min(trained) if diverged else max(trained)
    return min(signal, key=lambda lr: (-signal[lr], abs(math.log10(lr / typical_lr)), lr))


def survivors(scores: dict[float, float | None], typical_lr: float, keep: int,
              stall_top1: float | None = None,
              diverged: Collection[float] | None = None) -> list[float]:
    """The ``keep`` best grid points after the first rung (the same order as :func:`select_lr`)."""
    ranked = []
    rest = dict(scores)
    while rest and len(ranked) < keep:
        best = select_lr(rest, typical_lr, stall_top1, diverged)
        if best is None:
            break
        ranked.append(best)
        del rest[best]
    return ranked


class _PairState:
    """Bookkeeping of one pair while the protocol runs."""

    def __init__(self, pair: Pair, protocol: TuningProtocol) -> None:
        self.pair = pair
        self.protocol = protocol
        self.lrs = protocol.grid(pair.typical_lr)
        self.grid = tuple(self.lrs)  # the original grid (self.lrs may grow)
        self.rung0: dict[float, Outcome] = {}
        self.rung1: dict[float, Outcome] = {}
        self.finals: list[Outcome] = []
        self.chosen: float | None = None
        self.extended = 0

    def first_trials(self) -> list[Trial]:
        stage = 'rung0' if self.protocol.halving else 'rung1'
        return [Trial(self.pair, lr, stage, self.protocol.tune_seed) for lr in self.lrs]

    def _scores(self, outcomes: dict[float, Outcome]) -> dict[float, float | None]:
        return {lr: o.score for lr, o in outcomes.items()}

    def _diverged(self) -> list[float]:
        """The original grid's diverged points (they decide the no-signal side)."""
        first = self.rung0 if self.protocol.halving else self.rung1
        return [lr for lr in self.grid if lr in first and first[lr].status == 'diverged']

    def _select(self, outcomes: dict[float, Outcome]) -> float | None:
        return select_lr(self._scores(outcomes), self.pair.typical_lr, self.protocol.stall_top1,
                         self._diverged())

    def _survivors(self) -> list[float]:
        return survivors(self._scores(self.rung0), self.pair.typical_lr, self.protocol.keep,
                         self.protocol.stall_top1, self._diverged())

    def add(self, outcome: Outcome) -> list[Trial]:
        """Record an outcome; returns the trials it unlocks."""
        stage = outcome.trial.stage
        if stage == 'final':
            self.finals.append(outcome)
            return []
        done = self.rung0 if stage == 'rung0' else self.rung1
        done[outcome.trial.lr] = outcome
        if stage == 'rung0' and len(self.rung0) == len(self.lrs):
            extra = self._edge_trial()
            if extra:
                return extra
            if not self.protocol.continues:
                return self._finals()
            return [Trial(self.pair, lr, 'rung1', self.protocol.tune_seed,
                          resume_from=self.rung0[lr].trial)
                    for lr in self._survivors()] or self._finals()
        if stage == 'rung1' and len(self.rung1) == self.expected_rung1():
            return self._finals()
        return []

    def _edge_trial(self) -> list[Trial]:
        """One more first-rung trial beyond the grid's edge, when the choice sits on it."""
        if self.extended >= self.protocol.extend_edges:
            return []
        lr = self.protocol.beyond_edge(self.lrs, self._select(self.rung0))
        if lr is None or lr in self.lrs:
            return []
        self.extended += 1
        self.lrs.append(lr)
        return [Trial(self.pair, lr, 'rung0', self.protocol.tune_seed)]

    def expected_rung1(self) -> int:
        if not self.protocol.halving:
            return len(self.lrs)
        return len(self._survivors())

    def _finals(self) -> list[Trial]:
        selection = self.rung0 if self.protocol.selection_stage == 'rung0' else self.rung1
        self.chosen = self._select(selection)
        if self.chosen is None:
            return []
        return [Trial(self.pair, self.chosen, 'final', s) for s in self.protocol.final_seeds]

    def tuning_rows(self) -> list[dict]:
        """One row per tuning trial (both rungs), with its validation score and status."""
        rows = []
        for outcomes in (self.rung0, self.rung1):
            for lr, o in sorted(outcomes.items()):
                rows.append(dict(
                    backbone=self.pair.backbone, optimizer=self.pair.optimizer, lr=lr,
                    lr_factor=round(lr / self.pair.typical_lr, 4),
                    typical_lr=self.pair.typical_lr, weight_decay=self.pair.weight_decay,
                    stage=o.trial.stage, epochs=o.row.get('epochs'), val_top1=o.score,
                    status=o.status,
                    chosen=(o.trial.stage == self.protocol.selection_stage and lr == self.chosen),
                    wall_time=o.record.get('wall_time'), overhead=o.record.get('overhead'),
                    work_dir=o.run.work_dir))
        return rows

    def final_rows(self) -> list[dict]:
        """One row per final run (test top-1 of its single, last evaluation)."""
        return [dict(o.row, lr=self.chosen, weight_decay=self.pair.weight_decay,
                     typical_lr=self.pair.typical_lr, overhead=o.record.get('overhead'),
                     top1=o.score, last_top1=o.score, status=o.status)
                for o in sorted(self.finals, key=lambda o: o.trial.seed)]


@dataclasses.dataclass
class ProtocolResult:
    """Everything the protocol produced.

    Attributes:
        protocol: The protocol.
        tuning: One row per tuning trial (:data:`TUNING_FIELDS`).
        finals: One row per final run (:data:`FINAL_FIELDS`).
        records: The records of the runs trained by this call (not the ones skipped as done).
    """

    protocol: TuningProtocol
    tuning: list[dict]
    finals: list[dict]
    records: list[dict]


def _drive(trials: Sequence[Trial], make_run: MakeRun, executor: Executor,
           on_outcome: Callable[[Outcome], list[Trial]]) -> list[dict]:
    """Train trials; every outcome may unlock more (queued at once). Returns the new records.

    Trials whose run has ended before (``bocb_run.json`` finished or diverged) are not trained
    again, so an interrupted call resumes where it stopped.
    """
    pending: dict[Future, tuple[Trial, Run, bool]] = {}
    records: list[dict] = []
    queue = list(trials)
    while queue or pending:
        for trial in queue:
            run = make_run(trial)
            trained = not is_finished(run)
            if trained:
                future = executor.submit(run)
            else:
                future = Future()
                future.set_result(read_record(run.work_dir))
            pending[future] = (trial, run, trained)
        queue = []
        done, _ = wait(list(pending), return_when=FIRST_COMPLETED)
        for future in done:
            trial, run, trained = pending.pop(future)
            record = future.result()
            if trained:
                records.append(record)
            queue += on_outcome(Outcome(trial, run, record, result_row(run)))
    return records


def run_protocol(pairs: Sequence[Pair], protocol: TuningProtocol, make_run: MakeRun,
                 executor: Executor, progress: Callable[[Outcome], None] | None = None,
                 ) -> ProtocolResult:
    """Run the protocol over all pairs, pipelined: a pair's next stage starts when it may.

    Args:
        pairs: The pairs.
        protocol: The protocol.
        make_run: Writes a trial's config, returns its run.
        executor: Where runs train.
        progress: Called with every outcome (e.g. to advance a progress bar).

    Returns:
        The tuning and final rows, and the records of the runs trained now.
    """
    states = {(p.backbone, p.optimizer): _PairState(p, protocol) for p in pairs}

    def on_outcome(outcome: Outcome) -> list[Trial]:
        if progress:
            progress(outcome)
        return states[(outcome.trial.pair.backbone, outcome.trial.pair.optimizer)].add(outcome)

    records = _drive([t for s in states.values() for t in s.first_trials()], make_run, executor,
                     on_outcome)
    return ProtocolResult(protocol, [r for s in states.values() for r in s.tuning_rows()],
                          [r for s in states.values() for r in s.final_rows()], records)


def run_fixed(pairs: Sequence[Pair], seeds: Sequence[int], make_run: MakeRun,
              executor: Executor, progress: Callable[[Outcome], None] | None = None,
              ) -> ProtocolResult:
    """No tuning: train every pair once per seed at its given lr (``Pair.typical_lr``).

    Args:
        pairs: The pairs, each with the lr to use (e.g. the paper's).
        seeds: Seeds of the ``final`` runs.
        make_run: Writes a trial's config, returns its run.
        executor: Where runs train.
        progress: Called with every outcome.

    Returns:
        Final rows (no tuning rows) and the records of the runs trained now.
    """
    protocol = TuningProtocol(lr_factors=(1.0,), epochs=1, final_seeds=tuple(seeds))
    states = {(p.backbone, p.optimizer): _PairState(p, protocol) for p in pairs}
    for state in states.values():
        state.chosen = state.pair.typical_lr

    def on_outcome(outcome: Outcome) -> list[Trial]:
        if progress:
            progress(outcome)
        return states[(outcome.trial.pair.backbone, outcome.trial.pair.optimizer)].add(outcome)

    trials = [Trial(p, p.typical_lr, 'final', s) for p in pairs for s in seeds]
    records = _drive(trials, make_run, executor, on_outcome)
    return ProtocolResult(protocol, [], [r for s in states.values() for r in s.final_rows()],
                          records)


def pairs_without_result(result: ProtocolResult) -> list[tuple[str, str]]:
    """Pairs whose every grid point diverged or failed (no chosen lr, no finals)."""
    chosen = {(r['backbone'], r['optimizer']) for r in result.tuning if r['chosen']}
    tuned = dict.fromkeys((r['backbone'], r['optimizer']) for r in result.tuning)
    return [p for p in tuned if p not in chosen]


def diverged_runs(result: ProtocolResult) -> list[dict]:
    """Every diverged (or failed) run of the protocol, tuning and finals, with its lr."""
    rows: Iterable[dict] = [*result.tuning, *result.finals]
    return [dict(backbone=r['backbone'], optimizer=r['optimizer'], lr=r['lr'],
                 stage=r.get('stage', 'final'), seed=r.get('seed'), status=r['status'])
            for r in rows if r['status'] != 'finished']


def choices_without_signal(result: ProtocolResult) -> list[dict]:
    """Pairs chosen by the no-signal rule of :func:`select_lr`.

    Args:
        result: The protocol's result.

    Returns:
        One dict per pair whose chosen lr scored no better than ``stall_top1``: backbone,
        optimizer, the chosen lr and ``grid``: ``[lr, validation top-1]`` pairs of the selection
        stage (the run's status instead of a score when it did not finish), by lr. Empty when
        the protocol has no stall rule.
    """
    stall = result.protocol.stall_top1
    if stall is None:
        return []
    out = []
    for r in result.tuning:
        if r['chosen'] and r['val_top1'] is not None and r['val_top1'] <= stall:
            grid = sorted([row['lr'], row['val_top1'] if row['status'] == 'finished'
                           else row['status']]
                          for row in result.tuning if (row['backbone'], row['optimizer'],
                                                       row['stage'])
                          == (r['backbone'], r['optimizer'], r['stage']))
            out.append(dict(backbone=r['backbone'], optimizer=r['optimizer'], lr=r['lr'],
                            grid=grid))
    return out
