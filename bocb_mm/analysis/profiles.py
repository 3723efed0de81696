"""Performance profiles of optimizers over backbones (Dolan & More, 2002).

The aggregation optimizer benchmarks use (e.g. AlgoPerf, Dahl et al., 2023), here on the error
rate: for optimizer ``o`` and backbone ``b``,

* ``error(o, b) = 100 - top1(o, b)`` (points; seeds averaged first), floored at
  :data:`ERROR_FLOOR` so that a perfect score keeps the ratios finite;
* the performance ratio ``r(o, b) = error(o, b) / min_o' error(o', b)`` (1 = the backbone's best;
  a missing cell, e.g. every seed diverged, has ``r = inf``);
* the profile ``rho_o(tau)`` = the fraction of all backbones with ``r(o, b) <= tau``: a step
  function of ``tau >= 1``; ``rho_o(1)`` is the fraction of backbones on which ``o`` is the best
  (ties included), ``rho_o(tau_max)`` the fraction on which it has a result;
* the area under ``rho_o`` over ``log tau`` from 1 to ``tau_max``, divided by ``log tau_max``:
  ``mean_b max(0, 1 - log r(o, b) / log tau_max)``, in [0, 1] (1 = best on every backbone).
  ``tau_max`` is the largest finite ratio, at least the largest tabled ``tau``
  (:data:`TAUS`), so that every finite ratio is covered.

Reference: E. D. Dolan and J. J. More, "Benchmarking optimization software with performance
profiles", Mathematical Programming 91 (2002) 201-213.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

TAUS: tuple[float, ...] = (1.0, 1.05, 1.1, 1.25, 1.5, 2.0)
"""The ``tau`` at which the table gives ``rho``."""

ERROR_FLOOR = 0.01
"""Smallest error rate (points) used in a ratio: a 100 % top-1 counts as 99.99 %."""

RTOL = 1e-9
"""Relative tolerance of ``r <= tau`` (a ratio of equal errors is exactly 1)."""

RULE = ('performance profile (Dolan & More 2002): error = 100 - top-1 (seed means, floored at '
        f'{ERROR_FLOOR:g} points); ratio r = error / the backbone\'s smallest error (inf where '
        'the cell is missing or diverged); rho(tau) = fraction of all backbones with r <= tau; '
        'area = integral of rho over log tau from 1 to tau_max divided by log tau_max, in [0, 1] '
        '(tau_max = the largest finite ratio, at least 2)')


def error_ratios(top1: np.ndarray) -> np.ndarray:
    """Performance ratios of the error rate to each backbone's smallest error.

    Args:
        top1: Top-1 accuracy (%) ``(O, B)``, NaN where a cell has no result.

    Returns:
        ``(O, B)`` ratios >= 1; ``inf`` where the cell has no result (or the backbone none).
    """
    err = np.maximum(100.0 - np.asarray(top1, dtype=float), ERROR_FLOOR)
    err = np.where(np.isnan(err), np.inf, err)
    best = err.min(axis=0, keepdims=True)
    with np.errstate(invalid='ignore'):
        return np.where(np.isfinite(err), err / best, np.inf)


def rho(ratios: np.ndarray, tau: float) -> np.ndarray:
    """The profile at one ``tau``: fraction of backbones with ``r <= tau``.

    Args:
        ratios: ``(O, B)`` performance ratios.
        tau: The factor (>= 1).

    Returns:
        ``(O,)`` fractions.
    """
    return np.mean(ratios <= tau * (1.0 + RTOL), axis=-1)


def default_tau_max(ratios: np.ndarray, taus: Sequence[float] = TAUS) -> float:
    """The largest finite ratio, at least the largest tabled ``tau``.

    Args:
        ratios: ``(O, B)`` performance ratios.
        taus: The tabled factors.

    Returns:
        ``tau_max``.
    """
    finite = ratios[np.isfinite(ratios)]
    return float(max(max(taus), finite.max(initial=1.0)))


def area(ratios: np.ndarray, tau_max: float) -> np.ndarray:
    """Area under ``rho`` over ``log tau`` on ``[1, tau_max]``, divided by ``log tau_max``.

    Args:
        ratios: ``(O, B)`` performance ratios.
        tau_max: Upper end; at 1 the area is ``rho(1)``.

    Returns:
        ``(O,)`` areas in [0, 1].
    """
    if tau_max <= 1.0:
        return rho(ratios, 1.0)
    with np.errstate(divide='ignore', invalid='ignore'):
        share = 1.0 - np.log(ratios) / np.log(tau_max)
    return np.mean(np.clip(np.nan_to_num(share, neginf=0.0), 0.0, 1.0), axis=-1)


def step_curve(ratios: np.ndarray, tau_end: float) -> tuple[np.ndarray, np.ndarray]:
    """One optimizer's profile as step points (``matplotlib``'s ``where='post'``).

    Args:
        ratios: ``(B,)`` the optimizer's ratios.
        tau_end: Right end of the curve.

    Returns:
        ``(tau, rho)``: ``tau`` from 1 through every finite ratio to ``tau_end``.
    """
    inner = np.unique(ratios[np.isfinite(ratios) & (ratios > 1.0) & (ratios < tau_end)])
    taus = np.concatenate([[1.0], inner, [tau_end]])
    return taus, np.mean(ratios[None, :] <= taus[:, None] * (1.0 + RTOL), axis=-1)


@dataclass
class PerformanceProfile:
    """Performance profiles of a result matrix.

    Attributes:
        ratios: Optimizer x backbone performance ratios (``inf`` where missing).
        tau_max: Upper end of the area and of the figure.
        table: Per optimizer (sorted by ``area``, best first): ``rho(tau)`` for each
            :data:`TAUS`, ``area``, ``n_best`` (backbones where it is the best, ties
            included) and ``n_backbones`` (backbones where it has a result).
    """

    ratios: pd.DataFrame
    tau_max: float
    table: pd.DataFrame


def rho_column(tau: float) -> str:
    """Name of the table column holding ``rho(tau)``, e.g. ``'rho(1.05)'``."""
    return f'rho({tau:g})'


def performance_profile(matrix: pd.DataFrame, taus: Sequence[float] = TAUS,
                        tau_max: float | None = None) -> PerformanceProfile:
    """Performance profiles of every optimizer of a result matrix.

    Args:
        matrix: Seed-averaged top-1 (%), optimizers (index) x backbones (columns), NaN where
            missing.
        taus: Where the table gives ``rho``.
        tau_max: Upper end of the area; default :func:`default_tau_max`.

    Returns:
        The profile.
    """
    r = error_ratios(matrix.to_numpy(float))
    tau_max = default_tau_max(r, taus) if tau_max is None else float(tau_max)
    table = pd.DataFrame({rho_column(t): rho(r, t) for t in taus},
                         index=pd.Index(matrix.index, name='optimizer'))
    table['area'] = area(r, tau_max)
    table['n_best'] = np.sum(r <= 1.0 + RTOL, axis=-1)
    table['n_backbones'] = np.sum(np.isfinite(r), axis=-1)
    table = table.sort_values('area', ascending=False, kind='stable')
    ratios = pd.DataFrame(r, index=matrix.index, columns=matrix.columns)
    return PerformanceProfile(ratios, tau_max, table)
