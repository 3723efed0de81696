"""BOCB coupling scores and optimizer generality, with multi-seed confidence intervals.

Definitions (see ``docs/analysis.md``; all on seed-averaged top-1, arrays ``(..., O, B)``):

* backbone coupling score: the range (max - min), over the optimizer categories, of the
  backbone's median result within each category (top-1 points). A backbone that trains equally
  well with every optimizer family scores ~0; one that needs a particular family scores high.
  The median (not the mean) keeps one catastrophic run from standing for its whole family
  (such runs are flagged as trivial separately); the std over the category medians and the
  range of the category means are reported alongside.
* optimizer generality: over backbones, the optimizer's mean rank, mean / median / worst gap to
  the backbone's best result, and its top-4 and trivial counts.
* optimizer coupling score: the std (ddof = 0), over backbones, of its gap to best: an optimizer
  that is close to the best on some backbones and far on others is coupled to them.

Confidence intervals: when some cells have several seeds, the seeds of every cell are resampled
with replacement (independently per cell; a single-seed cell stays fixed), every statistic is
recomputed on each replicate, and the percentile interval is reported. Per-cell means also get a
t-based interval ``mean +- t_{n-1} * s / sqrt(n)``.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
from scipy import stats as sps

from . import stats

STD_DDOF = 0

RULES: dict[str, str] = {
    'backbone_coupling': ('backbone coupling score: max - min over optimizer categories of the '
                          'backbone\'s median top-1 within each category (seeds averaged first; '
                          'uncategorized optimizers left out); higher = stronger '
                          'backbone-optimizer coupling; also reported: std of the category '
                          'medians, range of the category means'),
    'optimizer_coupling': ('optimizer coupling score: std (ddof=0) over backbones of the '
                           'optimizer\'s gap to the backbone\'s best result; generality: its mean '
                           'rank and mean gap to best (lower = more general)'),
    'ci': ('confidence intervals (when cells have >= 2 seeds): percentile bootstrap over seeds, '
           'resampled with replacement within each backbone x optimizer cell (single-seed cells '
           'fixed), for the scores and for each cell\'s seed mean (boot_ci_low/high); per-cell '
           'means also get a t-interval mean +- t(n-1) s/sqrt(n)'),
    'differences': ('a difference between two coupling scores exceeds its CI when the percentile '
                    'bootstrap interval of the difference (both scores recomputed on the same '
                    'replicates) excludes 0'),
}


def category_stat(m: np.ndarray, groups: Sequence[np.ndarray], how: str = 'median') -> np.ndarray:
    """Median (or mean) result of each optimizer category per backbone.

    Args:
        m: Results ``(..., O, B)``.
        groups: For each category, the optimizer (row) indices in it.
        how: ``'median'`` or ``'mean'``.

    Returns:
        ``(..., C, B)`` category statistics (NaN where a category has no result).
    """
    fn = {'median': np.nanmedian, 'mean': np.nanmean}[how]
    with stats._quiet():
        return np.stack([fn(m[..., idx, :], axis=-2) for idx in groups], axis=-2)


def backbone_coupling(m: np.ndarray, groups: Sequence[np.ndarray]) -> dict[str, np.ndarray]:
    """Backbone coupling scores from the spread of the category medians.

    Args:
        m: Results ``(..., O, B)``.
        groups: Row indices of each optimizer category.

    Returns:
        ``coupling`` (range of category medians), ``coupling_std`` (their std, ddof 0) and
        ``coupling_mean`` (range of category means), each ``(..., B)``.
    """
    med = category_stat(m, groups, 'median')
    mean = category_stat(m, groups, 'mean')
    with stats._quiet():
        return {'coupling': np.nanmax(med, axis=-2) - np.nanmin(med, axis=-2),
                'coupling_std': np.nanstd(med, axis=-2, ddof=STD_DDOF),
                'coupling_mean': np.nanmax(mean, axis=-2) - np.nanmin(mean, axis=-2)}


def optimizer_generality(m: np.ndarray) -> dict[str, np.ndarray]:
    """Generality statistics of each optimizer over backbones.

    Args:
        m: Results ``(..., O, B)``.

    Returns:
        Arrays ``(..., O)``: ``mean_rank``, ``mean_gap``, ``median_gap``, ``worst_gap``,
        ``coupling`` (std of gap), ``n_top4``, ``n_trivial``, ``n_backbones``.
    """
    gap = stats.gap_to_best(m)
    with stats._quiet():
        return {
            'mean_rank': np.nanmean(stats.ranks(m), axis=-1),
            'mean_gap': np.nanmean(gap, axis=-1),
            'median_gap': np.nanmedian(gap, axis=-1),
            'worst_gap': np.nanmax(gap, axis=-1),
            'coupling': np.nanstd(gap, axis=-1, ddof=STD_DDOF),
            'n_top4': np.sum(stats.top_k_mask(m), axis=-1).astype(float),
            'n_trivial': np.sum(stats.trivial_mask(m), axis=-1).astype(float),
            'n_backbones': np.sum(~np.isnan(m), axis=-1).astype(float),
        }


def bootstrap_matrices(cube: np.ndarray, n_boot: int = 1000, seed: int = 0) -> np.ndarray:
    """Resample seeds within each cell and average them: bootstrap replicates of the matrix.

    Args:
        cube: Per-seed results ``(O, B, S)``, NaN-padded along the seeds.
        n_boot: Number of replicates.
        seed: RNG seed (results are reproducible).

    Returns:
        ``(n_boot, O, B)`` replicate matrices (NaN where a cell has no run).
    """
    rng = np.random.default_rng(seed)
    n = np.sum(~np.isnan(cube), axis=-1)  # (O, B)
    draws = rng.random((n_boot,) + cube.shape)  # (R, O, B, S)
    idx = np.floor(draws * np.maximum(n, 1)[None, :, :, None]).astype(int)
    vals = np.take_along_axis(np.broadcast_to(cube, (n_boot,) + cube.shape), idx, axis=-1)
    keep = np.arange(cube.shape[-1])[None, None, None, :] < n[None, :, :, None]
    with stats._quiet():
        return np.nanmean(np.where(keep, vals, np.nan), axis=-1)


def percentile_ci(samples: np.ndarray, level: float = 0.95) -> np.ndarray:
    """Percentile interval over the first axis.

    Args:
        samples: ``(R, ...)`` bootstrap statistics.
        level: Coverage.

    Returns:
        ``(2, ...)`` lower and upper bounds.
    """
    a = (1.0 - level) / 2.0
    with stats._quiet():
        return np.nanpercentile(samples, [100 * a, 100 * (1 - a)], axis=0)


def cell_t_ci(cube: np.ndarray, level: float = 0.95) -> dict[str, np.ndarray]:
    """Per-cell mean, sample std and t-based interval over seeds.

    Args:
        cube: Per-seed results ``(O, B, S)``, NaN-padded.
        level: Coverage.

    Returns:
        ``mean``, ``std`` (ddof 1), ``n``, ``ci_low``, ``ci_high`` each ``(O, B)``; the interval
        is NaN for cells with fewer than two seeds.
    """
    n = np.sum(~np.isnan(cube), axis=-1)
    with stats._quiet(), np.errstate(all='ignore'):
        mean = np.nanmean(cube, axis=-1)
        std = np.where(n >= 2, np.nanstd(cube, axis=-1, ddof=1), np.nan)
        half = sps.t.ppf(0.5 + level / 2.0, np.maximum(n - 1, 1)) * std / np.sqrt(np.maximum(n, 1))
    return {'mean': mean, 'std': std, 'n': n, 'ci_low': mean - half, 'ci_high': mean + half}


def bootstrap_ci(replicates: np.ndarray, fn: Callable[[np.ndarray], dict[str, np.ndarray]],
                 level: float = 0.95) -> dict[str, np.ndarray]:
    """Apply a vectorised statistic to bootstrap replicates and take percentile intervals.

    Args:
        replicates: ``(R, O, B)`` replicate matrices.
        fn: Statistic taking ``(..., O, B)`` and returning a dict of arrays.
        level: Coverage.

    Returns:
        For each key of ``fn``'s result, ``(2, ...)`` lower/upper bounds.
    """
    return {k: percentile_ci(v, level) for k, v in fn(replicates).items()}


def category_groups(optimizers: Sequence[str], categories: dict[str, str],
                    order: Sequence[str]) -> list[tuple[str, np.ndarray]]:
    """Row indices of each category, in the given category order.

    Args:
        optimizers: Row names of the matrix.
        categories: Optimizer -> category label.
        order: Categories to use, in order (e.g. without ``uncategorized``).

    Returns:
        ``(category, row indices)`` for each category with at least one optimizer.
    """
    groups = []
    for cat in order:
        idx = np.array([i for i, o in enumerate(optimizers) if categories.get(o) == cat], dtype=int)
        if idx.size:
            groups.append((cat, idx))
    return groups


def pairwise_differences(point: np.ndarray, replicates: np.ndarray, names: Sequence[str],
                         level: float = 0.95) -> list[dict[str, object]]:
    """Differences of a score between every two items, with paired bootstrap intervals.

    Args:
        point: The scores ``(N,)``.
        replicates: The scores on each bootstrap replicate ``(R, N)`` (the same replicates for
            all items, so the interval of a difference accounts for their correlation).
        names: Item names ``(N,)``.
        level: Coverage.

    Returns:
        One dict per pair, higher score first: ``higher, lower, difference, ci_low, ci_high,
        exceeds_ci`` (the interval excludes 0); pairs with a missing score are left out.
    """
    rows: list[dict[str, object]] = []
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            a, b = (i, j) if point[i] >= point[j] else (j, i)
            if np.isnan(point[a] - point[b]):
                continue
            rows.append(dict(higher=names[a], lower=names[b],
                             **difference(point, replicates, a, b, level)))
    return rows


def difference(point: np.ndarray, replicates: np.ndarray, a: int, b: int,
               level: float = 0.95) -> dict[str, float | bool]:
    """Difference of a score between items ``a`` and ``b``, with its paired bootstrap interval.

    Args:
        point: The scores ``(N,)``.
        replicates: The scores on each bootstrap replicate ``(R, N)``.
        a: Index of the first item.
        b: Index of the second item.
        level: Coverage.

    Returns:
        ``difference`` (``point[a] - point[b]``), ``ci_low``, ``ci_high`` and ``exceeds_ci``
        (the interval excludes 0).
    """
    low, high = percentile_ci(replicates[:, a] - replicates[:, b], level)
    return dict(difference=float(point[a] - point[b]), ci_low=float(low), ci_high=float(high),
                exceeds_ci=bool(low > 0 or high < 0))
