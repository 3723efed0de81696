"""Statistics of a BOCB result matrix: top-k, trivial results, drop-worst rows, ranks, gaps.

Every function takes an array shaped ``(..., n_optimizers, n_backbones)`` (optimizers on the
second-to-last axis, as in the paper's table) so that the same code runs on one matrix and on a
stack of bootstrap replicates. Missing cells are NaN and are ignored.

Rules (also written into the outputs, see :data:`RULES`):

* top-k: per backbone, the results >= its k-th best result (k = 4; ties at the k-th value kept).
* trivial: per backbone, the results below Tukey's lower fence ``Q1 - 1.5 * IQR`` of that
  backbone's results (quartiles by linear interpolation): the paper colours "top-4 and trivial
  results, while others are inliers", i.e. trivial results are the low outliers.
* drop-worst rows: per backbone, remove its single worst result, then the mean, the population
  standard deviation (ddof = 0) and the range (max - min) of the rest.
"""
from __future__ import annotations

import warnings
from contextlib import contextmanager
from typing import Iterator

import numpy as np
from scipy import stats as sps

TOP_K = 4
TUKEY_WHISKER = 1.5
STD_DDOF = 0

RULES: dict[str, str] = {
    'top_k': (f'top-{TOP_K}: per backbone, the results >= its {TOP_K}th best result '
              f'(ties at the {TOP_K}th value are all marked); seeds averaged first'),
    'trivial': (f'trivial: per backbone, results below Tukey\'s lower fence '
                f'Q1 - {TUKEY_WHISKER} x IQR of that backbone\'s results over all optimizers '
                '(quartiles by linear '
                'interpolation); the paper marks "top-4 and trivial results, while others are '
                'inliers" but gives no numeric threshold'),
    'drop_worst': ('bottom rows: per backbone, its single worst result is removed, then mean, '
                   f'std (population, ddof={STD_DDOF}) and range (max - min) of the remaining '
                   'results ("statistics that removed the worst result for all models")'),
    'gap_to_best': 'gap to best: backbone\'s best result minus the result, in top-1 points',
    'rank': 'rank: 1 = best optimizer on that backbone; ties get the average rank',
}


@contextmanager
def _quiet() -> Iterator[None]:
    """Silence numpy's all-NaN-slice and empty-mean RuntimeWarnings."""
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', RuntimeWarning)
        yield


def best(m: np.ndarray) -> np.ndarray:
    """Best result per backbone.

    Args:
        m: Results ``(..., O, B)``.

    Returns:
        ``(..., B)`` maxima over optimizers.
    """
    with np.errstate(all='ignore'):
        return np.nanmax(np.where(np.isnan(m), -np.inf, m), axis=-2)


def gap_to_best(m: np.ndarray) -> np.ndarray:
    """Points below the backbone's best result.

    Args:
        m: Results ``(..., O, B)``.

    Returns:
        ``(..., O, B)`` non-negative gaps (NaN where missing).
    """
    return best(m)[..., None, :] - m


def ranks(m: np.ndarray) -> np.ndarray:
    """Rank of each optimizer on each backbone (1 = best, ties averaged, NaN where missing).

    Args:
        m: Results ``(..., O, B)``.

    Returns:
        ``(..., O, B)`` ranks.
    """
    return sps.rankdata(-m, axis=-2, method='average', nan_policy='omit')


def kth_best(m: np.ndarray, k: int = TOP_K) -> np.ndarray:
    """k-th best result per backbone (the smallest one if a backbone has fewer than k).

    Args:
        m: Results ``(..., O, B)``.
        k: Which place.

    Returns:
        ``(..., B)`` values.
    """
    desc = -np.sort(np.where(np.isnan(m), np.inf, -m), axis=-2)  # descending, NaN (-inf) last
    n = np.sum(~np.isnan(m), axis=-2)
    idx = np.clip(np.minimum(k, n) - 1, 0, None)
    return np.take_along_axis(desc, idx[..., None, :], axis=-2)[..., 0, :]


def top_k_mask(m: np.ndarray, k: int = TOP_K) -> np.ndarray:
    """Mark each backbone's top-k results (ties at the k-th value included).

    Args:
        m: Results ``(..., O, B)``.
        k: How many.

    Returns:
        Boolean ``(..., O, B)``.
    """
    with np.errstate(invalid='ignore'):
        return np.nan_to_num(m, nan=-np.inf) >= kth_best(m, k)[..., None, :]


def tukey_lower_fence(m: np.ndarray, whisker: float = TUKEY_WHISKER) -> np.ndarray:
    """Tukey's lower fence ``Q1 - whisker * IQR`` per backbone.

    Args:
        m: Results ``(..., O, B)``.
        whisker: The IQR multiple.

    Returns:
        ``(..., B)`` fences.
    """
    q1, q3 = np.nanpercentile(m, [25, 75], axis=-2)
    return q1 - whisker * (q3 - q1)


def trivial_mask(m: np.ndarray, whisker: float = TUKEY_WHISKER) -> np.ndarray:
    """Mark trivial results: below the backbone's Tukey lower fence.

    Args:
        m: Results ``(..., O, B)``.
        whisker: The IQR multiple.

    Returns:
        Boolean ``(..., O, B)``.
    """
    with np.errstate(invalid='ignore'):
        return np.nan_to_num(m, nan=np.inf) < tukey_lower_fence(m, whisker)[..., None, :]


def worst_index(m: np.ndarray) -> np.ndarray:
    """Row index of each backbone's worst result.

    Args:
        m: Results ``(O, B)`` (no leading axes).

    Returns:
        ``(B,)`` optimizer indices (first one on ties).
    """
    return np.argmin(np.where(np.isnan(m), np.inf, m), axis=-2)


def drop_worst_stats(m: np.ndarray, ddof: int = STD_DDOF) -> dict[str, np.ndarray]:
    """Mean, std and range per backbone after removing its single worst result.

    Args:
        m: Results ``(..., O, B)``.
        ddof: Delta degrees of freedom of the std.

    Returns:
        ``{'mean', 'std', 'range'}`` each ``(..., B)``; NaN where fewer than two results remain
        for the std (``ddof=1``) or none remain.
    """
    asc = np.sort(m, axis=-2)  # NaN last
    rest = asc[..., 1:, :]
    with np.errstate(all='ignore'), _quiet():
        mean = np.nanmean(rest, axis=-2)
        std = np.nanstd(rest, axis=-2, ddof=ddof)
        rng = np.nanmax(rest, axis=-2) - np.nanmin(rest, axis=-2)
    return {'mean': mean, 'std': std, 'range': rng}


def all_stats(m: np.ndarray, ddof: int = STD_DDOF) -> dict[str, np.ndarray]:
    """Mean, std and range per backbone over all results (no drop), for comparison.

    Args:
        m: Results ``(..., O, B)``.
        ddof: Delta degrees of freedom of the std.

    Returns:
        ``{'mean', 'std', 'range'}`` each ``(..., B)``.
    """
    with np.errstate(all='ignore'), _quiet():
        return {'mean': np.nanmean(m, axis=-2), 'std': np.nanstd(m, axis=-2, ddof=ddof),
                'range': np.nanmax(m, axis=-2) - np.nanmin(m, axis=-2)}
