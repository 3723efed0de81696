"""A tuned grid in the report: the final table, coupling differences, learning-rate sensitivity.

Inputs besides the :class:`~bocb_mm.analysis.core.Analysis` of the final runs (the seeds of each
pair's chosen setting): the protocol's tuning rows (``tuning.csv``, one row per grid point and
rung with its validation top-1, written by :func:`bocb_mm.sweep.protocol.run_protocol`) and the
list of runs that diverged.
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Sequence, Union

import numpy as np
import pandas as pd

from . import coupling
from .core import Analysis
from .io import BocbInputError, _numeric, check_csv_rows

TUNING_REQUIRED = ('backbone', 'optimizer', 'lr', 'typical_lr', 'stage', 'val_top1', 'status')
"""Columns a tuning table must have."""

TUNING_NONEMPTY = ('backbone', 'optimizer', 'lr', 'typical_lr', 'stage', 'status')
"""Columns no row of a tuning table may leave blank (``val_top1`` may be: a diverged run)."""


def load_tuning(tuning: Union[str, Path, pd.DataFrame]) -> pd.DataFrame:
    """Read a tuning table (``tuning.csv`` or its frame).

    Args:
        tuning: Path or frame with :data:`TUNING_REQUIRED` columns (``epochs``, ``chosen``
            optional).

    Returns:
        The frame with numeric ``lr, typical_lr, val_top1, epochs`` and boolean ``chosen``.

    Raises:
        BocbInputError: On a missing file, missing columns, non-numeric values, or a row that
            is cut, malformed or leaves a required field blank.
    """
    if isinstance(tuning, pd.DataFrame):
        frame = tuning.copy()
    else:
        if not Path(tuning).is_file():
            raise BocbInputError(f'tuning table not found: {tuning}')
        check_csv_rows(tuning, TUNING_NONEMPTY)
        frame = pd.read_csv(tuning, dtype=str, keep_default_na=False)
    missing = [c for c in TUNING_REQUIRED if c not in frame.columns]
    if missing:
        raise BocbInputError(f'tuning table needs columns {", ".join(TUNING_REQUIRED)}; missing: '
                             f'{", ".join(missing)}')
    labels = [f'line {i + 2}' for i in range(len(frame))]
    for col in ('lr', 'typical_lr', 'val_top1', 'epochs'):
        if col in frame.columns and not pd.api.types.is_float_dtype(frame[col]):
            frame[col] = _numeric(frame[col].astype(str).replace('None', ''), col, labels)
    chosen = frame['chosen'] if 'chosen' in frame.columns else pd.Series(False, index=frame.index)
    frame['chosen'] = chosen.astype(str).str.lower().isin(['true', '1'])
    return frame


def final_table(an: Analysis, diverged: Sequence[Dict] = ()) -> pd.DataFrame:
    """Per backbone x optimizer: chosen lr, test mean with its bootstrap CI, seeds.

    Args:
        an: Analysis of the final runs (long format with ``lr`` and ``weight_decay`` columns).
        diverged: Runs that did not finish (``backbone, optimizer, stage, seed, lr, status``);
            final-stage ones are counted per cell.

    Returns:
        One row per cell: ``backbone, optimizer, category, lr, weight_decay, test_mean,
        ci_low, ci_high, std, n_seeds, n_diverged``; the CI is NaN for single-seed cells.
    """
    runs = an.results.runs
    hp = {}
    if {'lr', 'weight_decay'} <= set(runs.columns):
        per_pair = runs.groupby(['backbone', 'optimizer'])[['lr', 'weight_decay']]
        hp = per_pair.first().to_dict('index')
    lost = pd.Series([(d['backbone'], d['optimizer']) for d in diverged
                      if d.get('stage') == 'final'], dtype=object).value_counts().to_dict()
    cells = an.cells
    ci = ('boot_ci_low', 'boot_ci_high') if 'boot_ci_low' in cells.columns else (None, None)
    rows = []
    for _, c in cells.iterrows():
        key = (c['backbone'], c['optimizer'])
        rows.append(dict(backbone=c['backbone'], optimizer=c['optimizer'], category=c['category'],
                         lr=hp.get(key, {}).get('lr', np.nan),
                         weight_decay=hp.get(key, {}).get('weight_decay', np.nan),
                         test_mean=c['top1'],
                         ci_low=c[ci[0]] if ci[0] and c['n_seeds'] > 1 else np.nan,
                         ci_high=c[ci[1]] if ci[1] and c['n_seeds'] > 1 else np.nan,
                         std=c.get('std', np.nan), n_seeds=int(c['n_seeds']),
                         n_diverged=int(lost.get(key, 0))))
    return pd.DataFrame(rows)


def coupling_differences(an: Analysis) -> pd.DataFrame:
    """Every pairwise difference of backbone and of optimizer coupling scores, with its CI.

    Args:
        an: The analysis (needs bootstrap replicates, i.e. several seeds per cell).

    Returns:
        Columns ``kind`` (``backbone`` / ``optimizer``), ``higher, lower, difference, ci_low,
        ci_high, exceeds_ci``; empty without replicates.
    """
    cols = ['kind', 'higher', 'lower', 'difference', 'ci_low', 'ci_high', 'exceeds_ci']
    if an.replicates is None:
        return pd.DataFrame(columns=cols)
    reps = an.replicates
    rows: List[Dict] = []
    if an.groups:
        boot = coupling.backbone_coupling(reps, an.groups)['coupling']
        rows += [dict(kind='backbone', **r) for r in coupling.pairwise_differences(
            an.backbones['coupling'].to_numpy(float), boot, list(an.backbones.index), an.level)]
    boot = coupling.optimizer_generality(reps)['coupling']
    rows += [dict(kind='optimizer', **r) for r in coupling.pairwise_differences(
        an.optimizers['coupling'].to_numpy(float), boot, list(an.optimizers.index), an.level)]
    return pd.DataFrame(rows, columns=cols)


def sensitivity_stage(tuning: pd.DataFrame) -> str:
    """The stage at which every grid point of a pair has a validation score (the curve's)."""
    return 'rung0' if (tuning['stage'] == 'rung0').any() else 'rung1'


def best_per_backbone(final: pd.DataFrame) -> pd.DataFrame:
    """Each backbone's best cell of the final table (highest test mean).

    Args:
        final: Output of :func:`final_table`.

    Returns:
        One row per backbone.
    """
    idx = final.groupby('backbone', sort=False)['test_mean'].idxmax()
    return final.loc[idx.to_numpy()].reset_index(drop=True)
