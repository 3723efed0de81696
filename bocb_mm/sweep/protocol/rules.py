"""The protocol's parameters and its selection rules: pure functions of scores, no I/O.

The rules are described in ``docs/protocol.md``.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Collection, Sequence

from .records import Stage


@dataclasses.dataclass(frozen=True)
class TuningProtocol:
    """The protocol's parameters (the steps they govern: ``docs/protocol.md``).

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
        stall_top1: Validation top-1 (%) at or below which a run counts as stalled (no
            signal); None: every finite score is signal.
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
    def first_stage(self) -> Stage:
        """The stage every grid point trains in: ``rung0``, or ``rung1`` without halving."""
        return Stage.RUNG0 if self.halving else Stage.RUNG1

    @property
    def selection_stage(self) -> Stage:
        """The rung whose validation scores choose the lr: ``rung0`` when nothing continues."""
        return Stage.RUNG0 if self.halving and not self.continues else Stage.RUNG1

    @property
    def selection_epochs(self) -> int:
        """The training epochs behind the scores that choose the lr."""
        return self.halving_epochs if self.selection_stage == Stage.RUNG0 else self.epochs

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

    def describe(self) -> dict:
        """The parameters and the cost per pair as a JSON-ready dict (for ``summary.json``)."""
        return dict(
            lr_factors=list(self.lr_factors), epochs=self.epochs,
            successive_halving=(dict(first_rung_epochs=self.halving_epochs, keep=self.keep,
                                     of=len(self.lr_factors)) if self.halving else None),
            extend_edges=self.extend_edges if self.halving else 0,
            stall_top1=self.stall_top1, tune_seed=self.tune_seed,
            final_seeds=list(self.final_seeds),
            selection=dict(stage=self.selection_stage.value, epochs=self.selection_epochs),
            cost_per_pair=dict(trainings=self.runs_per_pair(),
                               extra_first_rung_trainings_at_most=(
                                   self.extend_edges if self.halving else 0),
                               epochs=round(self.epoch_cost() * self.epochs, 2)))


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
        The best-scoring lr with signal (ties: the lr closest to ``typical_lr`` in log scale,
        then the smaller); when none has signal, the smallest lr that trained if a point
        diverged, else the largest; None when no point trained.
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
