"""Performance profiles and the post-paper optimizers in the report: the profile on a matrix
checked by hand, the report's sections present or absent, the paper's tables unchanged by
post-paper rows, and the verdict on synthetic per-seed results."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_report import CIFAR, png_size, write_long

from bocb_mm.analysis.profiles import TAUS, performance_profile, rho_column, step_curve

MAIN_TABLES = ('bocb_table.csv', 'bocb_table.md', 'bocb_table.tex', 'bocb_matrix.csv',
               'backbone_scores.csv', 'optimizer_scores.csv')


def test_profile_on_a_small_matrix():
    # errors: b1 10/10/20 (a tie for best), b2 5/10/missing, b3 20/25/40
    matrix = pd.DataFrame({'b1': [90.0, 90.0, 80.0], 'b2': [95.0, 90.0, np.nan],
                           'b3': [80.0, 75.0, 60.0]}, index=['A', 'B', 'C'])
    profile = performance_profile(matrix)
    ratios = profile.ratios
    assert ratios.loc['A'].tolist() == [1.0, 1.0, 1.0]
    assert ratios.loc['B'].tolist() == pytest.approx([1.0, 2.0, 1.25])
    assert ratios.at['C', 'b2'] == np.inf
    assert profile.tau_max == pytest.approx(2.0)  # the largest finite ratio, at least 2
    table = profile.table
    best = (matrix == matrix.max()).sum(axis=1) / matrix.shape[1]
    for opt in matrix.index:  # rho(1) = the fraction of backbones where it is the best (ties)
        assert table.at[opt, rho_column(1.0)] == pytest.approx(best[opt])
    assert table.loc['B', [rho_column(t) for t in TAUS]].tolist() == pytest.approx(
        [1 / 3, 1 / 3, 1 / 3, 2 / 3, 2 / 3, 1.0])
    assert table.loc['C', [rho_column(t) for t in TAUS]].tolist() == pytest.approx(
        [0, 0, 0, 0, 0, 2 / 3])  # the NaN cell never counts
    # area: mean over backbones of 1 - log r / log tau_max (0 where r is infinite)
    assert table.at['A', 'area'] == 1.0
    assert table.at['B', 'area'] == pytest.approx((1 + 0 + 1 - np.log(1.25) / np.log(2)) / 3)
    assert table.at['C', 'area'] == pytest.approx(0.0)
    assert list(table.index) == ['A', 'B', 'C']
    assert table['n_best'].tolist() == [3, 1, 0] and table['n_backbones'].tolist() == [3, 3, 2]
    x, y = step_curve(ratios.loc['B'].to_numpy(), 2.5)
    assert x.tolist() == pytest.approx([1.0, 1.25, 2.0, 2.5])
    assert y.tolist() == pytest.approx([1 / 3, 2 / 3, 1.0, 1.0])


def test_a_perfect_score_keeps_ratios_finite():
    profile = performance_profile(pd.DataFrame({'b': [100.0, 99.0]}, index=['A', 'B']))
    assert profile.ratios['b'].tolist() == pytest.approx([1.0, 100.0])


@pytest.fixture(scope='module')
def paper_grid_report(tmp_path_factory):
    from bocb_mm.analysis.report import make_report
    out = tmp_path_factory.mktemp('paper_profiles')
    return out, make_report(CIFAR, out, hparams=False)


def test_paper_grid_has_profiles_and_no_post_paper_section(paper_grid_report):
    out, summary = paper_grid_report
    md = (out / 'report.md').read_text()
    assert '## Performance profiles' in md and 'figures/performance_profiles.png' in md
    assert '## Optimizers after the paper' not in md and summary['post_paper'] is None
    assert png_size(out / 'figures' / 'performance_profiles.png') == (1400, 700)
    with open(out / 'performance_profiles.csv', newline='') as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 20 and {r['suite'] for r in rows} == {'paper'}
    areas = [float(r['area']) for r in rows]
    assert areas == sorted(areas, reverse=True)
    best_counts = pd.read_csv(CIFAR, index_col=0).idxmax().value_counts()
    for r in rows:  # rho(1) from the paper's table read independently
        assert float(r['rho(1)']) == pytest.approx(best_counts.get(r['optimizer'], 0) / 20)
    profiles = summary['performance_profiles']
    assert list(profiles['optimizers']) == [r['optimizer'] for r in rows]
    assert profiles['tau_max'] >= 2 and profiles['seed_means'] is False
    assert summary['files']['performance_profiles.csv'] == 'performance_profiles.csv'


# ---------------------------------------------------------------------------------------------
# post-paper optimizers

BACKBONES = ('R-50', 'Swin-T', 'CF-12', 'DeiT-S')
# paper optimizer -> offset per backbone (points): each one's gap to the best varies by backbone
PAPER = {'SGD-M': (1.0, -6.0, -2.0, -9.0), 'AdamW': (0.0, 1.0, -1.5, 0.5),
         'LAMB': (-1.0, 0.5, 0.0, -2.0), 'AdaGrad': (-8.0, -3.0, -12.0, -5.0)}
# post-paper: best on every backbone (flat gap 0), coupled, and LAMB's pattern one point lower
POST = {'Muon': (3.0, 3.0, 3.0, 3.0), 'Kron': (2.5, -10.0, 2.0, -14.0),
        'ADOPT': (-2.0, -0.5, -1.0, -3.0)}
SEEDS = 3


def _synthetic_runs(path: Path, optimizers: dict[str, tuple], noise: float = 0.15) -> Path:
    """Per-seed results: base 80 + the optimizer's offset on the backbone + Gaussian noise."""
    rng = np.random.default_rng(7)
    rows = [dict(backbone=b, optimizer=o, seed=s, top1=round(80 + off + rng.normal(0, noise), 3),
                 status='finished')
            for o, offsets in optimizers.items() for b, off in zip(BACKBONES, offsets)
            for s in range(SEEDS)]
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


@pytest.fixture(scope='module')
def post_paper_report(tmp_path_factory):
    from bocb_mm.analysis.report import make_report
    tmp = tmp_path_factory.mktemp('post_paper')
    results = _synthetic_runs(tmp / 'runs.csv', {**PAPER, **POST})
    out = tmp / 'report'
    return out, make_report(results, out, n_boot=300)


def test_post_paper_verdict_on_synthetic_seeds(post_paper_report):
    out, summary = post_paper_report
    entry = summary['post_paper']
    assert entry['least_coupled_paper_optimizer'] == 'LAMB'
    rows = entry['optimizers']
    assert rows['Muon']['finding'] == 'less coupled'
    assert rows['Muon']['difference_ci_high'] < 0
    assert rows['Kron']['finding'] == 'more coupled' and rows['Kron']['difference_ci_low'] > 0
    assert rows['ADOPT']['finding'] == 'cannot tell'
    assert rows['ADOPT']['difference_ci_low'] < 0 < rows['ADOPT']['difference_ci_high']
    assert entry['less_coupled_than_every_paper_optimizer'] == ['Muon']
    assert entry['verdict'].startswith('Yes: Muon')
    assert entry['best_paper_optimizer'] == {'R-50': 'SGD-M', 'Swin-T': 'AdamW',
                                             'CF-12': 'LAMB', 'DeiT-S': 'AdamW'}
    for b in BACKBONES:  # Muon is best everywhere: rank 1 of the 7 optimizers
        assert rows['Muon'][f'rank[{b}]'] == 1.0 and entry['n_optimizers'][b] == 7
        assert rows['AdamW'][f'rank[{b}]'] >= 2.0
    lo, hi = rows['Muon']['coupling_ci_low'], rows['Muon']['coupling_ci_high']
    assert lo <= rows['Muon']['coupling'] <= hi
    md = (out / 'report.md').read_text()
    assert '## Optimizers after the paper' in md and '**Yes: Muon' in md
    table = pd.read_csv(out / 'post_paper_optimizers.csv', index_col=0)
    assert list(table.index[:3]) == list(POST) and 'LAMB' in table.index
    assert json.loads((out / 'summary.json').read_text()) == summary


def test_main_analysis_keeps_the_paper_optimizers(post_paper_report):
    out, summary = post_paper_report
    assert set(summary['optimizers']) == set(PAPER)
    assert summary['input']['n_optimizers'] == len(PAPER)
    profiles = summary['performance_profiles']['optimizers']
    assert set(profiles) == set(PAPER) | set(POST)
    assert next(iter(profiles)) == 'Muon' and profiles['Muon']['rho(1)'] == 1.0
    assert {profiles[o]['suite'] for o in POST} == {'post-paper'}


def test_post_paper_optimizers_alone_are_analysed_together(tmp_path):
    from bocb_mm.analysis.report import make_report
    results = _synthetic_runs(tmp_path / 'runs.csv', {'AdamW': PAPER['AdamW'], **POST})
    summary = make_report(results, tmp_path / 'report', hparams=False, n_boot=100)
    assert set(summary['optimizers']) == {'AdamW'} | set(POST)  # one paper optimizer: all in
    entry = summary['post_paper']
    assert entry['least_coupled_paper_optimizer'] == 'AdamW'
    assert entry['optimizers']['Muon']['finding'] == 'less coupled'


def test_post_paper_rows_leave_the_paper_tables_unchanged(tmp_path):
    from bocb_mm.analysis.report import make_report
    rng = np.random.default_rng(3)
    extra = [{'backbone': b, 'optimizer': o, 'seed': s, 'top1': f'{75 + rng.normal(0, 2):.2f}',
              'status': 'done'}
             for o in ('Muon', 'Schedule-Free AdamW') for b in ('R-50', 'Swin-T', 'CF-12')
             for s in range(3)]
    write_long(tmp_path / 'paper.csv')
    write_long(tmp_path / 'all.csv', extra_rows=extra)
    make_report(tmp_path / 'paper.csv', tmp_path / 'paper', hparams=False, n_boot=200)
    summary = make_report(tmp_path / 'all.csv', tmp_path / 'all', hparams=False, n_boot=200)
    for name in MAIN_TABLES:
        assert (tmp_path / 'paper' / name).read_bytes() == (tmp_path / 'all' / name).read_bytes()
    assert summary['post_paper'] is not None
    assert len(summary['performance_profiles']['optimizers']) == 7


def test_tuned_grid_lists_post_paper_pairs_apart_from_the_paper_scores(tmp_path):
    from test_tuning_report import BACKBONES as TUNED_BACKBONES
    from test_tuning_report import _write_tuned

    from bocb_mm.analysis.report import make_report
    results, tuning, diverged = _write_tuned(tmp_path)
    rng = np.random.default_rng(5)
    muon = [dict(backbone=b, optimizer='Muon', seed=s, lr=0.02, weight_decay=0.0,
                 top1=round(base + 1.0 + rng.normal(0, 0.2), 2), status='finished')
            for b, base in TUNED_BACKBONES.items() for s in (1, 2, 3)]
    pd.concat([pd.read_csv(results), pd.DataFrame(muon)]).to_csv(results, index=False)
    tuning = pd.concat([tuning, pd.DataFrame(
        [dict(backbone=b, optimizer='Muon', lr=0.02 * f, typical_lr=0.02, weight_decay=0.0,
              stage='rung1', epochs=6, val_top1=90.0 + f, status='finished', chosen=f > 1)
         for b in TUNED_BACKBONES for f in (1.0, 3.16)])])
    summary = make_report(results, tmp_path / 'report', protocol=dict(diverged=diverged),
                          tuning=tuning, n_boot=200)
    final = {(r['backbone'], r['optimizer']) for r in summary['final_table']}
    assert len(final) == 10 and ('R-50', 'Muon') in final  # every pair trained
    assert summary['coupling_differences']['n_pairs']['optimizer'] == 6  # the paper's 4
    assert 'Muon' not in summary['optimizers'] and 'Muon' in summary['post_paper']['optimizers']
    assert (tmp_path / 'report' / 'figures' / 'lr_sensitivity_R-50.png').is_file()
