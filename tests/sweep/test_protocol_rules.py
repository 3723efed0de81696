"""The tuning protocol's rules: the grid, successive-halving survivors, the selection (ties,
divergence) and the cost model."""
from __future__ import annotations

import pytest

from bocb_mm.sweep.protocol import TuningProtocol, select_lr, survivors


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


def test_single_survivor_means_the_first_rung_chooses() -> None:
    """keep=1: no survivor continues (it would choose nothing); the finals are the last rung."""
    protocol = TuningProtocol(lr_factors=(0.316, 1.0, 3.16, 10.0), epochs=10, halving_epochs=3,
                              keep=1)
    assert not protocol.continues and protocol.selection_stage == 'rung0'
    assert protocol.runs_per_pair() == 4 + 3
    assert protocol.epoch_cost() == pytest.approx(4 * 0.3 + 3)
    assert 'after 3 epochs (the first rung' in protocol.describe()['selection']
    two = TuningProtocol(lr_factors=(0.316, 1.0, 3.16, 10.0), epochs=10, halving_epochs=3, keep=2)
    assert two.continues and two.selection_stage == 'rung1'
    assert 'after 10 epochs;' in two.describe()['selection']
    flat = TuningProtocol(lr_factors=(1.0, 3.16), epochs=10)
    assert not flat.continues and flat.selection_stage == 'rung1'
