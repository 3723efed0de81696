"""The driver: trains the protocol's trials on an executor, pipelined per pair.

The driver is independent of what a run is: the caller gives a function that writes a trial's
config and returns its :class:`~bocb_mm.sweep.plan.Run` (:data:`MakeRun`) and an executor
(in-process workers, subprocesses, Slurm arrays). A pair's next stage is queued as soon as its
previous stage ends, so the workers never wait for the slowest pair. An executor that trains
runs in batches (a Slurm array per batch) is told before the driver waits that the trials
queued so far are all there is (its ``flush``): each batch holds every trial the previous one
unlocked (every pair's first rung, then the survivors, then the finals). Trials whose run has
ended before are not trained again, so an interrupted call resumes where it stopped.
"""
from __future__ import annotations

from concurrent.futures import FIRST_COMPLETED, Future, wait
from typing import Callable, Protocol, Sequence

from ..collect import is_finished, read_record, result_row
from ..plan import Run
from .records import Outcome, Pair, ProtocolResult, Stage, Trial, final_rows, tuning_row
from .rules import TuningProtocol, select_lr, survivors

MakeRun = Callable[[Trial], Run]
"""Writes the config of a trial and returns its :class:`Run`."""
Progress = Callable[[Outcome], None]
"""Called with every outcome (e.g. to advance a progress bar)."""


class Executor(Protocol):
    """What the driver needs of an executor (in-process workers, subprocesses, Slurm arrays).

    An executor may also have a ``flush()`` method, which the driver calls before it waits for
    results: it trains the runs submitted since the last call as one batch
    (:class:`~bocb_mm.sweep.slurm_executor.SlurmExecutor`).
    """

    def submit(self, run: Run) -> Future:
        """Queue a run; the future's result is its record."""


class PairState:
    """One pair's way through the protocol: its grid, the outcomes per stage, its choice.

    Args:
        pair: The pair.
        protocol: The protocol.
    """

    def __init__(self, pair: Pair, protocol: TuningProtocol) -> None:
        self.pair = pair
        self.protocol = protocol
        self.lrs = protocol.grid(pair.typical_lr)
        self.grid = tuple(self.lrs)  # the original grid (self.lrs may grow)
        self.outcomes: dict[Stage, dict[float, Outcome]] = {Stage.RUNG0: {}, Stage.RUNG1: {}}
        self.finals: list[Outcome] = []
        self.chosen: float | None = None
        self.extended = 0

    def first_trials(self) -> list[Trial]:
        """Every grid point in the first stage."""
        return [self._trial(lr, self.protocol.first_stage) for lr in self.lrs]

    def add(self, outcome: Outcome) -> list[Trial]:
        """Record an outcome; returns the trials it unlocks."""
        stage = outcome.trial.stage
        if stage == Stage.FINAL:
            self.finals.append(outcome)
            return []
        self.outcomes[stage][outcome.trial.lr] = outcome
        if stage == Stage.RUNG0 and len(self.outcomes[Stage.RUNG0]) == len(self.lrs):
            return self._after_first_rung()
        if stage == Stage.RUNG1 and len(self.outcomes[Stage.RUNG1]) == self._expected_rung1():
            return self._finals()
        return []

    def tuning_rows(self) -> list[dict]:
        """One row per tuning trial (both rungs), with its validation score and status."""
        selection = self.protocol.selection_stage
        return [tuning_row(self.pair, o, chosen=stage == selection and lr == self.chosen)
                for stage, outcomes in self.outcomes.items()
                for lr, o in sorted(outcomes.items())]

    def final_rows(self) -> list[dict]:
        """One row per final run, at the chosen lr."""
        return final_rows(self.pair, self.chosen, self.finals)

    def _trial(self, lr: float, stage: Stage, resume_from: Trial | None = None) -> Trial:
        return Trial(self.pair, lr, stage, self.protocol.tune_seed, resume_from=resume_from)

    def _after_first_rung(self) -> list[Trial]:
        """A point beyond the grid's edge, else the survivors (or the finals)."""
        extra = self._edge_trial()
        if extra:
            return extra
        if not self.protocol.continues:
            return self._finals()
        rung0 = self.outcomes[Stage.RUNG0]
        return [self._trial(lr, Stage.RUNG1, resume_from=rung0[lr].trial)
                for lr in self._survivors()] or self._finals()

    def _scores(self, stage: Stage) -> dict[float, float | None]:
        return {lr: o.score for lr, o in self.outcomes[stage].items()}

    def _diverged(self) -> list[float]:
        """The original grid's diverged points (they decide the no-signal side)."""
        first = self.outcomes[self.protocol.first_stage]
        return [lr for lr in self.grid if lr in first and first[lr].status == 'diverged']

    def _select(self, stage: Stage) -> float | None:
        return select_lr(self._scores(stage), self.pair.typical_lr, self.protocol.stall_top1,
                         self._diverged())

    def _survivors(self) -> list[float]:
        return survivors(self._scores(Stage.RUNG0), self.pair.typical_lr, self.protocol.keep,
                         self.protocol.stall_top1, self._diverged())

    def _edge_trial(self) -> list[Trial]:
        """One more first-rung trial beyond the grid's edge, when the choice sits on it."""
        if self.extended >= self.protocol.extend_edges:
            return []
        lr = self.protocol.beyond_edge(self.lrs, self._select(Stage.RUNG0))
        if lr is None or lr in self.lrs:
            return []
        self.extended += 1
        self.lrs.append(lr)
        return [self._trial(lr, Stage.RUNG0)]

    def _expected_rung1(self) -> int:
        if not self.protocol.halving:
            return len(self.lrs)
        return len(self._survivors())

    def _finals(self) -> list[Trial]:
        self.chosen = self._select(self.protocol.selection_stage)
        if self.chosen is None:
            return []
        return [Trial(self.pair, self.chosen, Stage.FINAL, s) for s in self.protocol.final_seeds]


def drive(trials: Sequence[Trial], make_run: MakeRun, executor: Executor,
          on_outcome: Callable[[Outcome], list[Trial]]) -> list[dict]:
    """Train trials; every outcome may unlock more (queued at once).

    Trials whose run has ended before (``bocb_run.json`` finished or diverged) are not trained
    again: their outcome is read from their record.

    Args:
        trials: The trials to start with.
        make_run: Writes a trial's config, returns its run.
        executor: Where runs train.
        on_outcome: Called with every outcome; returns the trials it unlocks.

    Returns:
        The records of the runs trained by this call.
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
        flush = getattr(executor, 'flush', None)
        if flush is not None:
            flush()
        done, _ = wait(list(pending), return_when=FIRST_COMPLETED)
        for future in [f for f in pending if f in done]:  # in the order of submission
            trial, run, trained = pending.pop(future)
            record = future.result()
            if trained:
                records.append(record)
            queue += on_outcome(Outcome(trial, run, record, result_row(run)))
    return records


def _pair_key(pair: Pair) -> tuple[str, str]:
    return pair.backbone, pair.optimizer


def run_protocol(pairs: Sequence[Pair], protocol: TuningProtocol, make_run: MakeRun,
                 executor: Executor, progress: Progress | None = None) -> ProtocolResult:
    """Run the protocol over all pairs, pipelined: a pair's next stage starts when it may.

    Args:
        pairs: The pairs.
        protocol: The protocol.
        make_run: Writes a trial's config, returns its run.
        executor: Where runs train.
        progress: Called with every outcome.

    Returns:
        The tuning and final rows, and the records of the runs trained now.
    """
    states = {_pair_key(p): PairState(p, protocol) for p in pairs}

    def on_outcome(outcome: Outcome) -> list[Trial]:
        if progress:
            progress(outcome)
        return states[_pair_key(outcome.trial.pair)].add(outcome)

    records = drive([t for s in states.values() for t in s.first_trials()], make_run, executor,
                    on_outcome)
    return ProtocolResult(protocol, [r for s in states.values() for r in s.tuning_rows()],
                          [r for s in states.values() for r in s.final_rows()], records)


def run_fixed(pairs: Sequence[Pair], seeds: Sequence[int], make_run: MakeRun,
              executor: Executor, progress: Progress | None = None) -> ProtocolResult:
    """No tuning: train every pair once per seed at its given lr (``Pair.typical_lr``).

    Args:
        pairs: The pairs, each with the lr to use (e.g. the paper's).
        seeds: Seeds of the ``final`` runs.
        make_run: Writes a trial's config, returns its run.
        executor: Where runs train.
        progress: Called with every outcome.

    Returns:
        Final rows (no protocol, no tuning rows) and the records of the runs trained now.
    """
    by_key = {_pair_key(p): p for p in pairs}
    finals: dict[tuple[str, str], list[Outcome]] = {key: [] for key in by_key}

    def on_outcome(outcome: Outcome) -> list[Trial]:
        if progress:
            progress(outcome)
        finals[_pair_key(outcome.trial.pair)].append(outcome)
        return []

    trials = [Trial(p, p.typical_lr, Stage.FINAL, s) for p in pairs for s in seeds]
    records = drive(trials, make_run, executor, on_outcome)
    rows = [r for key, p in by_key.items() for r in final_rows(p, p.typical_lr, finals[key])]
    return ProtocolResult(None, [], rows, records)
