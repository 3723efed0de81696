"""The tuning protocol's rules: the grid, successive-halving survivors, the selection (ties,
divergence) and the cost model."""
from __future__ import annotations

import pytest

from bocb_mm.sweep.protocol import Stage, TuningProtocol, select_lr, survivors
from bocb_mm.training import TrainOptions


def test_grid_is_log_spaced_around_the_typical_lr() -> None:
    protocol = TuningProtocol(lr_factors=(0.316, 1.0, 3.16, 10.0), epochs=12, halving_epochs=4)
    assert protocol.grid(1e-3) == [3.16e-4, 1e-3, 3.16e-3, 1e-2]
    assert protocol.runs_per_pair() == 4 + 2 + 3
    assert protocol.epoch_cost() == pytest.approx(4 / 3 + 2 * 2 / 3 + 3)
    described = protocol.describe()
    assert described['successive_halving'] == dict(first_rung_epochs=4, keep=2, of=4)
    assert described['cost_per_pair']['trainings'] == 9


@pytest.mark.parametrize('kwargs, match', [
    (dict(lr_factors=(), epochs=4), 'lr_factors'),
    (dict(lr_factors=(1.0, -1.0), epochs=4), 'lr_factors'),
    (dict(lr_factors=(1.0, 2.0), epochs=4, halving_epochs=4), 'halving_epochs'),
    (dict(lr_factors=(1.0, 2.0), epochs=4, halving_epochs=2, keep=2), 'keep'),
    (dict(lr_factors=(1.0,), epochs=4, final_seeds=()), 'final_seeds'),
    (dict(lr_factors=(1.0,), epochs=4, stall_top1=100.0), 'stall_top1'),
    (dict(lr_factors=(1.0,), epochs=4, stall_top1=-1.0), 'stall_top1'),
])
def test_bad_protocols(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        TuningProtocol(**kwargs)


def test_selection_rules() -> None:
    assert select_lr({1e-3: 90.0, 3e-3: 95.0, 1e-2: None}, 1e-3) == 3e-3
    # ties: closest to the typical lr in log scale, then the smaller
    assert select_lr({1e-4: 95.0, 1e-3: 95.0, 1e-2: 95.0}, 1e-3) == 1e-3
    assert select_lr({1e-4: 95.0, 1e-2: 95.0}, 1e-3) == 1e-4
    # every grid point diverged: no choice
    assert select_lr({1e-3: None, 1e-2: float('nan')}, 1e-3) is None
    scores = {1e-4: 50.0, 1e-3: 80.0, 1e-2: None, 1e-1: 70.0}
    assert survivors(scores, 1e-3, keep=2) == [1e-3, 1e-1]
    assert survivors({1e-3: None, 1e-2: 10.0}, 1e-3, keep=2) == [1e-2]


def test_stalled_points_are_no_signal() -> None:
    """With stall_top1, scores at or below it do not compete; with none above it, the side away
    from the trouble: the smallest lr that trained when a point diverged (the mini ConvNeXt's
    LARS grid), else the largest (the mini ResNet's LION grid after 2 epochs)."""
    lars = {0.379: 9.76, 1.2: 10.10, 3.79: None, 12.0: None}
    assert select_lr(lars, 1.2) == 1.2  # without the rule, noise at chance decides
    assert select_lr(lars, 1.2, stall_top1=20.0) == 0.379
    lion = {1.58e-5: 14.63, 5e-5: 16.72, 1.58e-4: 16.38, 5e-4: 16.72}
    assert select_lr(lion, 5e-5) == 5e-5
    assert select_lr(lion, 5e-5, stall_top1=20.0) == 5e-4
    assert select_lr({0.1: 15.0, 1.0: 60.0, 3.0: 70.0, 10.0: None}, 1.0, stall_top1=20.0) == 3.0
    assert select_lr({0.1: 15.0, 1.0: 60.0}, 1.0, stall_top1=20.0) == 1.0
    assert select_lr({1.0: None, 3.0: float('inf')}, 1.0, stall_top1=20.0) is None
    assert survivors({0.1: 15.0, 1.0: 60.0, 3.0: 18.0}, 1.0, keep=2, stall_top1=20.0) == [1.0, 3.0]
    # the side is decided by divergence, not by a run that crashed (``diverged`` given)
    crashed = {0.1: None, 1.0: 12.0, 3.0: 15.0}
    assert select_lr(crashed, 1.0, stall_top1=20.0) == 1.0
    assert select_lr(crashed, 1.0, stall_top1=20.0, diverged=[]) == 3.0
    protocol = TuningProtocol(lr_factors=(1.0, 2.0), epochs=4, stall_top1=20.0)
    assert protocol.describe()['stall_top1'] == 20.0
    assert TuningProtocol(lr_factors=(1.0, 2.0), epochs=4).describe()['stall_top1'] is None


def test_single_survivor_means_the_first_rung_chooses() -> None:
    """keep=1: no survivor continues (it would choose nothing); the finals are the last rung."""
    protocol = TuningProtocol(lr_factors=(0.316, 1.0, 3.16, 10.0), epochs=10, halving_epochs=3,
                              keep=1)
    assert not protocol.continues and protocol.selection_stage == 'rung0'
    assert protocol.runs_per_pair() == 4 + 3
    assert protocol.epoch_cost() == pytest.approx(4 * 0.3 + 3)
    assert protocol.selection_stage is Stage.RUNG0
    assert protocol.describe()['selection'] == dict(stage='rung0', epochs=3)
    two = TuningProtocol(lr_factors=(0.316, 1.0, 3.16, 10.0), epochs=10, halving_epochs=3, keep=2)
    assert two.continues and two.selection_stage == 'rung1'
    assert two.describe()['selection'] == dict(stage='rung1', epochs=10)
    flat = TuningProtocol(lr_factors=(1.0, 3.16), epochs=10)
    assert not flat.continues and flat.selection_stage == 'rung1'


def test_grid_grows_beyond_the_edge_its_best_sits_on() -> None:
    """A best on the grid's edge (or nothing but divergence) adds one point beyond that edge."""
    protocol = TuningProtocol(lr_factors=(0.316, 1.0, 3.16, 10.0), epochs=10, halving_epochs=3,
                              keep=1, extend_edges=1)
    lrs = protocol.grid(1.2)
    assert lrs == [0.379, 1.2, 3.79, 12.0]
    assert protocol.beyond_edge(lrs, 0.379) == 0.12  # the lower edge's own spacing
    assert protocol.beyond_edge(lrs, 12.0) == 38.0  # 12 x 12 / 3.79, to 3 digits
    assert protocol.beyond_edge(lrs, None) == 0.12  # every point diverged: go lower
    assert protocol.beyond_edge(lrs, 1.2) is None  # an interior best stays
    assert protocol.beyond_edge([1.0, 3.16], 1.0) is None  # no interior, no edge rule
    assert protocol.describe()['extend_edges'] == 1
    assert TuningProtocol(lr_factors=(1.0, 2.0), epochs=4).describe()['extend_edges'] == 0
    with pytest.raises(ValueError, match='extend_edges'):
        TuningProtocol(lr_factors=(1.0,), epochs=4, extend_edges=-1)


class _ScoreByLr:
    """An executor that 'trains' instantly: validation top-1 is a function of the lr alone, and an
    lr at or above ``wall`` diverges. It writes what a real run leaves (record and scalars)."""

    def __init__(self, best_lr: float, wall: float, stall: float = float('inf'),
                 slow_below: float = 0.0) -> None:
        self.best_lr, self.wall, self.lrs = best_lr, wall, []
        self.stall, self.slow_below = stall, slow_below

    def submit(self, run):
        import json
        import math
        import os
        from concurrent.futures import Future

        from bocb_mm.sweep.plan import run_fingerprint

        lr = float(run.options.cfg_options['lr'])
        self.lrs.append(lr)
        os.makedirs(os.path.join(run.work_dir, 't', 'vis_data'), exist_ok=True)
        status = 'diverged' if lr >= self.wall else 'finished'
        if status == 'finished':
            # at or above ``stall`` (past the wall) or below ``slow_below`` (too small to
            # move): stuck at the chance rate
            stuck = lr >= self.stall or lr < self.slow_below
            top1 = 10.0 if stuck else 90.0 - 10 * abs(math.log10(lr / self.best_lr))
            with open(os.path.join(run.work_dir, 't', 'vis_data', 'scalars.json'), 'w') as f:
                f.write(json.dumps({'accuracy/top1': top1, 'step': 1}) + '\n')
        record = dict(status=status, wall_time=0.0, fingerprint=run_fingerprint(run))
        with open(os.path.join(run.work_dir, 'bocb_run.json'), 'w') as f:
            json.dump(record, f)
        future = Future()
        future.set_result(record)
        return future


@pytest.mark.parametrize('best_lr, wall, added, chosen', [
    (0.1, 100.0, 0.12, 0.12),   # best below the grid: one point beyond the lower edge, chosen
    (1.2, 100.0, None, 1.2),    # interior best: the grid stays
    (0.05, 0.3, 0.12, 0.12),    # every grid point diverged: the lower edge grows
    (1e-3, 100.0, 0.12, 0.12),  # extend_edges=1: only one point is added, however far the best
])
def test_driver_grows_the_grid_once(tmp_path, best_lr: float, wall: float,
                                    added: float | None, chosen: float) -> None:
    from bocb_mm.sweep.plan import Run
    from bocb_mm.sweep.protocol import Pair, run_protocol

    protocol = TuningProtocol(lr_factors=(0.316, 1.0, 3.16, 10.0), epochs=10, halving_epochs=3,
                              keep=1, final_seeds=(1, 2, 3), extend_edges=1)
    executor = _ScoreByLr(best_lr, wall)

    def make_run(trial) -> Run:
        work_dir = tmp_path / f'{trial.stage}_{trial.lr:g}_s{trial.seed}'
        work_dir.mkdir(parents=True, exist_ok=True)
        return Run(config='mini.py', seed=trial.seed, work_dir=str(work_dir), backbone='mini',
                   optimizer='LARS', options=TrainOptions(cfg_options={'lr': trial.lr}))

    result = run_protocol([Pair('mini', 'LARS', 1.2, 0.0)], protocol, make_run, executor)
    grid = [0.379, 1.2, 3.79, 12.0]
    tuned = sorted({row['lr'] for row in result.tuning})
    assert tuned == sorted(grid + ([added] if added else []))
    finals = {row['lr'] for row in result.finals}
    assert finals == {chosen} and len(result.finals) == 3
    assert [row['lr'] for row in result.tuning if row['chosen']] == [chosen]


def _mini_lars(tmp_path, executor, **kwargs):
    from bocb_mm.sweep.plan import Run
    from bocb_mm.sweep.protocol import Pair, run_protocol

    options = {**dict(keep=1, final_seeds=(1, 2, 3), extend_edges=1), **kwargs}
    protocol = TuningProtocol(lr_factors=(0.316, 1.0, 3.16, 10.0), epochs=10, halving_epochs=3,
                              **options)

    def make_run(trial) -> Run:
        work_dir = tmp_path / f'{trial.stage}_{trial.lr:g}_s{trial.seed}'
        work_dir.mkdir(parents=True, exist_ok=True)
        return Run(config='mini.py', seed=trial.seed, work_dir=str(work_dir), backbone='mini',
                   optimizer='LARS', options=TrainOptions(cfg_options={'lr': trial.lr}))

    return run_protocol([Pair('mini', 'LARS', 1.2, 0.0)], protocol, make_run, executor)


@pytest.mark.parametrize('stall_from, chosen, blind', [
    (0.3, 0.12, False),  # 0.379 and 1.2 stall, above diverges: the grid grows below, 0.12 learns
    (0.1, 0.12, True),   # 0.12 stalls too: the smallest lr that trained, flagged as blind
])
def test_driver_grows_a_stalled_grid_away_from_its_wall(tmp_path, stall_from: float,
                                                         chosen: float, blind: bool) -> None:
    from bocb_mm.sweep.protocol import choices_without_signal

    executor = _ScoreByLr(best_lr=0.05, wall=3.0, stall=stall_from)
    result = _mini_lars(tmp_path / 'stall', executor, stall_top1=20.0)
    assert sorted({row['lr'] for row in result.tuning}) == [0.12, 0.379, 1.2, 3.79, 12.0]
    assert {row['lr'] for row in result.finals} == {chosen}
    without = choices_without_signal(result)
    assert [(c['backbone'], c['lr']) for c in without] == ([('mini', chosen)] if blind else [])
    if blind:
        grid = dict(without[0]['grid'])
        assert grid[3.79] == 'diverged' and grid[1.2] == 10.0
    # without the rule, the noise at chance picks 1.2 (interior: no growth)
    plain = _mini_lars(tmp_path / 'plain', _ScoreByLr(0.05, 3.0, stall_from))
    assert {row['lr'] for row in plain.finals} == {1.2}
    assert choices_without_signal(plain) == []


def test_driver_grows_a_grid_with_no_signal_and_no_divergence_upwards(tmp_path) -> None:
    from bocb_mm.sweep.protocol import choices_without_signal

    result = _mini_lars(tmp_path, _ScoreByLr(best_lr=50.0, wall=float('inf'), slow_below=20.0),
                        stall_top1=20.0)
    assert sorted({row['lr'] for row in result.tuning}) == [0.379, 1.2, 3.79, 12.0, 38.0]
    assert {row['lr'] for row in result.finals} == {38.0}
    assert choices_without_signal(result) == []


def test_a_grid_grown_upwards_keeps_its_side_when_the_new_point_diverges(tmp_path) -> None:
    """No signal and no divergence in the grid: it grows up; if the new point diverges, the
    choice stays the largest lr that trained (the grid's side is decided by the grid)."""
    from bocb_mm.sweep.protocol import choices_without_signal

    result = _mini_lars(tmp_path, _ScoreByLr(best_lr=1.0, wall=20.0, stall=0.0), stall_top1=20.0)
    assert sorted({row['lr'] for row in result.tuning}) == [0.379, 1.2, 3.79, 12.0, 38.0]
    assert [row['status'] for row in result.tuning if row['lr'] == 38.0] == ['diverged']
    assert {row['lr'] for row in result.finals} == {12.0}
    assert [c['lr'] for c in choices_without_signal(result)] == [12.0]


def test_survivors_and_rung1_follow_the_stall_rule(tmp_path) -> None:
    """keep=2: the grid grows below its stalled points, the learning point and the smallest
    stalled one continue, and the rung-1 choice is the one with signal."""
    result = _mini_lars(tmp_path, _ScoreByLr(best_lr=0.05, wall=3.0, stall=0.3), stall_top1=20.0,
                        keep=2)
    rung1 = sorted(row['lr'] for row in result.tuning if row['stage'] == 'rung1')
    assert rung1 == [0.12, 0.379]
    assert [row['lr'] for row in result.tuning if row['chosen']] == [0.12]
    assert {row['lr'] for row in result.finals} == {0.12}


def test_fixed_lr_runs_train_each_pair_once_per_seed_without_a_protocol(tmp_path) -> None:
    """run_fixed: no grid, no tuning rows, no protocol in the result; one final per seed at the
    pair's own lr."""
    from bocb_mm.sweep.plan import Run
    from bocb_mm.sweep.protocol import Pair, choices_without_signal, diverged_runs, run_fixed

    trials = []

    def make_run(trial) -> Run:
        trials.append(trial)
        work_dir = tmp_path / f'{trial.pair.optimizer}_{trial.stage}_s{trial.seed}'
        work_dir.mkdir(parents=True, exist_ok=True)
        return Run(config='mini.py', seed=trial.seed, work_dir=str(work_dir), backbone='mini',
                   optimizer=trial.pair.optimizer,
                   options=TrainOptions(cfg_options={'lr': trial.lr}))

    pairs = [Pair('mini', 'LARS', 1.2, 0.0), Pair('mini', 'SGD-M', 5.0, 0.0)]
    result = run_fixed(pairs, (2, 1), make_run, _ScoreByLr(best_lr=1.0, wall=3.0))
    assert result.protocol is None and result.tuning == []
    assert {t.stage for t in trials} == {Stage.FINAL} and len(trials) == 4
    assert [(r['optimizer'], r['seed'], r['lr'], r['status']) for r in result.finals] == [
        ('LARS', 1, 1.2, 'finished'), ('LARS', 2, 1.2, 'finished'),
        ('SGD-M', 1, 5.0, 'diverged'), ('SGD-M', 2, 5.0, 'diverged')]
    assert len(result.records) == 4 and choices_without_signal(result) == []
    assert [(d['stage'], d['seed']) for d in diverged_runs(result)] == [('final', 1),
                                                                         ('final', 2)]
