"""The report of a tuned grid: final table with bootstrap CIs, coupling differences beyond their
CIs, lr-sensitivity figures, the protocol in summary.json; the typical lr from the zoo's table."""
from __future__ import annotations

import csv
import json
import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

BACKBONES = {'R-50': 80.0, 'Swin-T': 82.0}
# optimizer -> (typical lr, offset on R-50, offset on Swin-T): SGD-M is far worse on Swin-T only
OPTIMIZERS = {'SGD-M': (0.1, 1.0, -12.0), 'AdamW': (5e-4, 0.5, 0.8), 'LAMB': (5e-3, 0.0, 0.5),
              'AdaGrad': (5e-4, -0.5, -1.0)}
SEEDS = (1, 2, 3)


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b'\x89PNG\r\n\x1a\n'
    return struct.unpack('>II', data[16:24])


def _write_tuned(tmp: Path) -> tuple[Path, pd.DataFrame, list[dict]]:
    """Final runs (3 seeds at the chosen lr) and the tuning rows of a 2 x 4 grid."""
    rng = np.random.default_rng(0)
    finals, tuning = [], []
    for b, base in BACKBONES.items():
        for k, (o, (typical, off_r, off_s)) in enumerate(OPTIMIZERS.items()):
            off = off_r if b == 'R-50' else off_s
            chosen = typical * 3.16
            for s in SEEDS:
                finals.append(dict(backbone=b, optimizer=o, seed=s, lr=chosen, weight_decay=0.0,
                                   top1=round(base + off + rng.normal(0, 0.2), 2),
                                   status='finished'))
            for factor in (1.0, 3.16):
                for stage, val in (('rung0', 60.0 + 10 * factor), ('rung1', 90.0 + factor)):
                    tuning.append(dict(backbone=b, optimizer=o, lr=typical * factor,
                                       typical_lr=typical, weight_decay=0.0, stage=stage,
                                       epochs=2 if stage == 'rung0' else 6, val_top1=val,
                                       status='finished', chosen=stage == 'rung1' and factor > 1))
    tuning.append(dict(backbone='R-50', optimizer='AdamW', lr=5e-4 * 10, typical_lr=5e-4,
                       weight_decay=0.0, stage='rung0', epochs=2, val_top1=None,
                       status='diverged', chosen=False))
    path = tmp / 'results.csv'
    pd.DataFrame(finals).to_csv(path, index=False)
    diverged = [dict(backbone='R-50', optimizer='AdamW', lr=5e-3, stage='rung0', seed=0,
                     status='diverged')]
    return path, pd.DataFrame(tuning), diverged


def test_pairwise_differences_use_paired_replicates():
    from bocb_mm.analysis.coupling import pairwise_differences
    rng = np.random.default_rng(0)
    shared = rng.normal(0, 5, size=(500, 1))  # large noise common to both: cancels in the diff
    reps = np.hstack([10 + shared + rng.normal(0, 0.1, (500, 1)),
                      9 + shared + rng.normal(0, 0.1, (500, 1)),
                      9.05 + rng.normal(0, 0.5, (500, 1))])
    rows = pairwise_differences(np.array([10.0, 9.0, 9.05]), reps, ['a', 'b', 'c'])
    by_pair = {(r['higher'], r['lower']): r for r in rows}
    assert set(by_pair) == {('a', 'b'), ('a', 'c'), ('c', 'b')}
    assert by_pair[('a', 'b')]['exceeds_ci'] and by_pair[('a', 'b')]['difference'] == 1.0
    assert not by_pair[('c', 'b')]['exceeds_ci']
    assert all(r['ci_low'] <= r['ci_high'] for r in rows)


def test_typical_hparams_are_the_tables_modes():
    from bocb_mm.analysis.hparams import typical_hparams
    from bocb_mm.optim.zoo import study_hparams
    assert typical_hparams('SGD-M') == (0.1, 1e-4)
    assert typical_hparams('AdamW') == (5e-4, 0.05)
    assert typical_hparams('adam') == (5e-4, 0.0)  # 1e-8 and 0 both mean no decay
    lr, _ = typical_hparams('LARS')
    assert lr in {v[0] for v in study_hparams('LARS').values()}
    with pytest.raises(KeyError):
        typical_hparams('nope')


def test_tuned_report(tmp_path):
    from bocb_mm.analysis.report import make_report
    results, tuning, diverged = _write_tuned(tmp_path)
    blind = [dict(backbone='R-50', optimizer='LAMB', lr=1e-3,
                  grid=[[1e-3, 10.1], [3.16e-3, 9.8], [1e-2, 'diverged']])]
    protocol = dict(name='tuned', lr_grid='typical lr x 1, 3.16', diverged=diverged,
                    chosen_without_signal=blind)
    summary = make_report(results, tmp_path / 'report', protocol=protocol, tuning=tuning,
                          n_boot=400)
    assert summary['protocol']['lr_grid'] == 'typical lr x 1, 3.16'
    assert summary['protocol']['diverged'] == diverged
    final = {(r['backbone'], r['optimizer']): r for r in summary['final_table']}
    assert len(final) == 8
    with open(results, newline='') as f:
        rows = list(csv.DictReader(f))
    for (b, o), cell in final.items():
        vals = [float(r['top1']) for r in rows if r['backbone'] == b and r['optimizer'] == o]
        assert cell['n_seeds'] == 3 and cell['n_diverged'] == 0
        assert cell['test_mean'] == pytest.approx(np.mean(vals), abs=1e-4)
        assert min(vals) - 1e-6 <= cell['ci_low'] <= cell['test_mean'] <= cell['ci_high'] \
            <= max(vals) + 1e-6
        assert cell['lr'] == pytest.approx(OPTIMIZERS[o][0] * 3.16)
        assert cell['typical_lr'] == pytest.approx(OPTIMIZERS[o][0])
    diffs = summary['coupling_differences']
    assert diffs['n_pairs'] == {'backbone': 1, 'optimizer': 6}
    exceeding = {(d['kind'], d['higher'], d['lower']) for d in diffs['exceeding_ci']}
    assert ('backbone', 'Swin-T', 'R-50') in exceeding  # SGD-M's collapse on Swin-T only
    assert ('optimizer', 'SGD-M', 'LAMB') in exceeding
    out = tmp_path / 'report'
    for b in BACKBONES:
        png = out / 'figures' / f'lr_sensitivity_{b}.png'
        assert _png_size(png) == (1600, 500)
    md = (out / 'report.md').read_text()
    for title in ('Tuning protocol', 'Final table', 'Diverged runs', 'Choices without signal',
                  'Coupling differences larger than their CIs', 'Learning-rate sensitivity: R-50'):
        assert f'## {title}' in md
    assert '0.001: 10.1, 0.00316: 9.8, 0.01: diverged' in md
    assert 'chosen_without_signal' not in md.split('## Final table')[0]  # not a protocol bullet
    assert json.loads((out / 'summary.json').read_text()) == summary
    assert (out / 'final_table.csv').is_file() and (out / 'coupling_differences.csv').is_file()
