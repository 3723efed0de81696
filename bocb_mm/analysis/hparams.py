"""Hyper-parameter robustness: how far each backbone's optimal lr / wd lie from the optimizer's
mode.

For optimizer ``o`` and backbone ``b`` with optimal learning rate ``lr`` and weight decay ``wd``::

    d(b, o) = |log10(lr / lr_mode(o))| + |log10(wd' / wd'_mode(o))|,   wd' = max(wd, WD_FLOOR)

``lr_mode(o)`` / ``wd'_mode(o)`` are the most common values of that optimizer over backbones
(ties: the tied value with the smallest summed log-distance to all values, then the smaller one).
Weight decays at or below ``WD_FLOOR`` (including 0 and the paper's 1e-8) count as "no weight
decay" and all equal ``WD_FLOOR``: two settings without decay are at distance 0, and switching
decay on from nothing costs ``log10(wd / WD_FLOOR)``. ``d`` is in decades (orders of magnitude).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .io import BocbInputError, _numeric, check_csv_rows

WD_FLOOR = 1e-6

RULE = ('hyper-parameter distance: d = |log10(lr/lr_mode)| + '
        '|log10(max(wd,1e-6)/max(wd,1e-6)_mode)|, modes per optimizer over backbones (ties: the '
        'tied value closest in summed log-distance to all values, then the smaller); weight decay '
        '<= 1e-6 (incl. 0) counts as no decay')


def load_hparams(path: str | Path) -> pd.DataFrame:
    """Load optimal hyper-parameters: columns ``backbone, optimizer, lr, weight_decay``.

    If a (backbone, optimizer) pair has several rows with a ``top1`` column (a sweep's grid),
    the row with the best mean top-1 (over seeds) is the optimum.

    Args:
        path: The CSV.

    Returns:
        One row per backbone x optimizer with ``lr`` and ``weight_decay``.

    Raises:
        BocbInputError: On missing columns, non-numeric or non-positive lr, negative wd, or a
            row that is cut, malformed or has no backbone / optimizer.
    """
    path = Path(path)
    if not path.is_file() or not path.read_text(encoding='utf-8-sig').strip():
        raise BocbInputError(f'hyper-parameter file missing or empty: {path}')
    check_csv_rows(path, ('backbone', 'optimizer'))
    raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding='utf-8-sig')
    raw.columns = [c.strip().lower() for c in raw.columns]
    return optimal_hparams(raw)


def optimal_hparams(frame: pd.DataFrame) -> pd.DataFrame:
    """Reduce a table of runs or optima to one (lr, weight_decay) per backbone x optimizer.

    Args:
        frame: Columns ``backbone, optimizer, lr, weight_decay`` and optionally ``top1``.

    Returns:
        Frame with ``backbone, optimizer, lr, weight_decay``.

    Raises:
        BocbInputError: On missing columns or bad values.
    """
    need = ['backbone', 'optimizer', 'lr', 'weight_decay']
    missing = [c for c in need if c not in frame.columns]
    if missing:
        raise BocbInputError(f'hyper-parameter table needs columns {", ".join(need)}; missing: '
                             f'{", ".join(missing)}')
    frame = frame.copy()
    labels = [f'line {i + 2}' for i in range(len(frame))]
    for c in ('lr', 'weight_decay') + (('top1',) if 'top1' in frame.columns else ()):
        if not pd.api.types.is_float_dtype(frame[c]):
            frame[c] = _numeric(frame[c], c, labels)
    if frame['lr'].isna().any() or (frame['lr'] <= 0).any():
        raise BocbInputError('learning rates must be positive numbers')
    if frame['weight_decay'].isna().any() or (frame['weight_decay'] < 0).any():
        raise BocbInputError('weight decays must be non-negative numbers')
    if 'top1' in frame.columns and frame.duplicated(['backbone', 'optimizer']).any():
        per_setting = frame.groupby(['backbone', 'optimizer', 'lr', 'weight_decay'], sort=False)
        best = per_setting['top1'].mean().reset_index().sort_values('top1', ascending=False)
        frame = best.drop_duplicates(['backbone', 'optimizer'])
    elif frame.duplicated(['backbone', 'optimizer']).any():
        raise BocbInputError('several hyper-parameter rows for one backbone x optimizer and no '
                             'top1 column to pick the optimum')
    return frame[['backbone', 'optimizer', 'lr', 'weight_decay']].reset_index(drop=True)


def log_mode(values: np.ndarray) -> float:
    """Most common value; ties: the smallest summed |log10| distance, then the smaller value.

    Args:
        values: Positive values.

    Returns:
        The mode.
    """
    vals, counts = np.unique(np.asarray(values, float), return_counts=True)
    tied = vals[counts == counts.max()]
    if tied.size == 1:
        return float(tied[0])
    logs = np.log10(np.asarray(values, float))
    cost = np.array([np.abs(logs - np.log10(t)).sum() for t in tied])
    return float(tied[np.argmin(cost)])  # argmin takes the first (smallest) on equal cost


def hparam_distance(hp: pd.DataFrame, wd_floor: float = WD_FLOOR) -> pd.DataFrame:
    """Distance of each backbone's optimal (lr, wd) from the optimizer's mode setting.

    Args:
        hp: Output of :func:`optimal_hparams`.
        wd_floor: Weight decays at or below this count as no decay.

    Returns:
        ``hp`` with ``lr_mode, wd_mode, d_lr, d_wd, distance`` columns.
    """
    out = hp.copy()
    out['wd_eff'] = np.maximum(out['weight_decay'].to_numpy(float), wd_floor)
    modes = out.groupby('optimizer', sort=False).agg(lr_mode=('lr', log_mode),
                                                     wd_mode=('wd_eff', log_mode))
    out = out.join(modes, on='optimizer')
    out['d_lr'] = np.abs(np.log10(out['lr'] / out['lr_mode']))
    out['d_wd'] = np.abs(np.log10(out['wd_eff'] / out['wd_mode']))
    out['distance'] = out['d_lr'] + out['d_wd']
    return out


def robustness_summary(dist: pd.DataFrame) -> pd.DataFrame:
    """Per-optimizer summary of the distances (lower = more robust hyper-parameters).

    Args:
        dist: Output of :func:`hparam_distance`.

    Returns:
        Frame indexed by optimizer: ``lr_mode, wd_mode, mean, median, max, n_at_mode, n``.
    """
    g = dist.groupby('optimizer', sort=False)
    return pd.DataFrame({
        'lr_mode': g['lr_mode'].first(), 'wd_mode': g['wd_mode'].first(),
        'mean_distance': g['distance'].mean(), 'median_distance': g['distance'].median(),
        'max_distance': g['distance'].max(),
        'n_at_mode': g['distance'].apply(lambda d: int((d < 1e-12).sum())),
        'n_backbones': g.size(),
    })


def hparams_from_results(runs: pd.DataFrame) -> pd.DataFrame | None:
    """Optimal hyper-parameters from a long-format sweep that has ``lr`` and ``weight_decay``.

    Args:
        runs: Long-format runs.

    Returns:
        The optima, or None when the runs have no lr / weight_decay columns.
    """
    if not {'lr', 'weight_decay'} <= set(runs.columns):
        return None
    runs = runs.dropna(subset=['lr', 'weight_decay'])
    return optimal_hparams(runs) if not runs.empty else None


def typical_hparams(optimizer: str, wd_floor: float = WD_FLOOR) -> tuple[float, float]:
    """An optimizer's typical ``(lr, weight_decay)``: its modes over the study's backbones.

    The values come from the study's CIFAR-100 table as the optimizer zoo serves it
    (:func:`bocb_mm.optim.zoo.study_hparams`); for an optimizer the study predates (the
    post-paper suite), from its recommended values per backbone
    (:func:`bocb_mm.optim.zoo.recommended_hparams`: a rule on a paper optimizer's values). The
    modes follow :func:`log_mode`, the rule of
    :func:`hparam_distance`. A weight-decay mode at or below ``wd_floor`` means "no decay" and is
    returned as 0.0.

    Args:
        optimizer: Any name the optimizer zoo accepts.
        wd_floor: Weight decays at or below this count as no decay.

    Returns:
        ``(lr, weight_decay)``.

    Raises:
        KeyError: If the table has no row for the optimizer.
    """
    from bocb_mm.optim.zoo import recommended_hparams, study_hparams
    table = study_hparams(optimizer) or recommended_hparams(optimizer)
    if not table:
        raise KeyError(f'the study\'s hyper-parameter table has no row for {optimizer!r}')
    lr = log_mode(np.array([v[0] for v in table.values()]))
    wd = log_mode(np.maximum([v[1] for v in table.values()], wd_floor))
    return lr, (0.0 if wd <= wd_floor else wd)
