"""The optimizers published after the paper, measured against the paper's 20.

The report's main analysis keeps the paper's optimizers (``bocb_mm.optim.zoo`` suite
``'paper'``, and names the zoo does not know); the post-paper suite is set aside
(:func:`split_post_paper`) and answered on its own, from an analysis of every optimizer
present (:func:`compare_post_paper`): for each new optimizer its optimizer coupling score (std over
backbones of the gap to the best, :func:`bocb_mm.analysis.coupling.optimizer_generality`) with
its bootstrap CI, its rank on each backbone among all optimizers, next to the least coupled paper
optimizer and the best paper optimizer of each backbone; and whether it is less coupled than every
paper optimizer: the paired bootstrap interval of its difference to the least coupled paper
optimizer (:func:`bocb_mm.analysis.coupling.difference`) must lie below 0. Only optimizers with a
result on every backbone are compared (a score over fewer backbones is not comparable).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np
import pandas as pd

from . import coupling
from ..optim.zoo import UnknownOptimizerError, get_info
from .core import Analysis
from .io import ResultSet

POST_PAPER = 'post-paper'
"""The zoo's suite of the optimizers published after the paper."""

#: Finding of one post-paper optimizer against the least coupled paper optimizer.
LESS, MORE, CANNOT_TELL, NOT_COMPARED = ('less coupled', 'more coupled', 'cannot tell',
                                         'not compared')

RULE = ('post-paper optimizers (bocb_mm.optim.zoo suite post-paper) are left out of the main '
        'analysis and compared in an analysis of all optimizers: coupling score = std over '
        'backbones of the gap to the best of all optimizers; a post-paper optimizer is less '
        'coupled than every paper optimizer when the percentile bootstrap interval of its '
        'difference to the least coupled paper optimizer (paired replicates) lies below 0, more '
        'coupled when it lies above 0; otherwise (or without seeds, hence without CIs) the data '
        'cannot tell; only optimizers with a result on every backbone are compared')


def suite(name: str) -> str:
    """The zoo suite of an optimizer: ``'paper'``, ``'post-paper'``, or ``'unknown'``."""
    try:
        return get_info(name).suite
    except UnknownOptimizerError:
        return 'unknown'


def split_post_paper(res: ResultSet) -> tuple[ResultSet, list[str]]:
    """The results without the post-paper optimizers, and those optimizers.

    Args:
        res: All results.

    Returns:
        ``(main results, post-paper names)``; the main results are ``res`` itself when it has no
        post-paper optimizer, or fewer than two others (too few to compare: the main analysis
        then covers every optimizer).
    """
    post = [o for o in res.optimizers if suite(o) == POST_PAPER]
    if not post or len(res.optimizers) - len(post) < 2:
        return res, post
    runs = res.runs[~res.runs['optimizer'].isin(post)].reset_index(drop=True)
    kept = set(runs['backbone'])
    note = (f'post-paper optimizers left out of the main analysis: {", ".join(post)} (see '
            '"Optimizers after the paper")')
    main = replace(res, runs=runs, backbones=[b for b in res.backbones if b in kept],
                   optimizers=[o for o in res.optimizers if o not in post],
                   dropped=dict(res.dropped), notes=list(res.notes) + [note])
    return main, post


def extended_replicates(main: Analysis, res: ResultSet, n_boot: int,
                        seed: int) -> np.ndarray | None:
    """Bootstrap replicates of all results that reuse the main analysis's draws.

    The cells of the main analysis keep their replicates (so a cell's CI is the same in both
    analyses); the other cells are resampled with seed ``seed + 1``.

    Args:
        main: Analysis of the paper's optimizers.
        res: All results.
        n_boot: Replicates (when the main analysis has none).
        seed: Bootstrap seed of the main analysis.

    Returns:
        ``(R, O, B)`` in ``res``'s order, or None when the main analysis has no replicates.
    """
    if main.replicates is None:
        return None
    cube = res.cube()
    out = coupling.bootstrap_matrices(cube, len(main.replicates), seed + 1)
    rows = np.array([res.optimizers.index(o) for o in main.results.optimizers])
    cols = np.array([res.backbones.index(b) for b in main.results.backbones])
    out[:, rows[:, None], cols[None, :]] = main.replicates
    return out


@dataclass
class PostPaperComparison:
    """The post-paper optimizers against the paper's.

    Attributes:
        table: One row per post-paper optimizer, then the reference paper optimizers (the least
            coupled one, the best of each backbone): ``role, category, coupling`` (+ CI),
            ``difference`` to the least coupled paper optimizer (+ CI), ``finding``,
            ``mean_rank``, and per backbone ``rank[<b>]`` (among all optimizers) and
            ``top1[<b>]``.
        reference: The least coupled paper optimizer (None without one).
        best_paper: Backbone -> its best paper optimizer.
        n_optimizers: Backbone -> number of optimizers ranked on it.
        less_coupled: Post-paper optimizers less coupled than every paper optimizer (CI < 0).
        verdict: The answer, one sentence.
        has_ci: Whether there are bootstrap CIs (several seeds).
    """

    table: pd.DataFrame
    reference: str | None
    best_paper: dict[str, str]
    n_optimizers: dict[str, int]
    less_coupled: list[str]
    verdict: str
    has_ci: bool


def _finding(diff: dict[str, float | bool] | None, complete: bool) -> str:
    """One optimizer's finding from its difference to the reference (None: no CI)."""
    if not complete:
        return NOT_COMPARED
    if diff is None or not diff['exceeds_ci']:
        return CANNOT_TELL
    return LESS if diff['ci_high'] < 0 else MORE


def _differences(an: Analysis, post: Sequence[str],
                 reference: str | None) -> dict[str, dict[str, float | bool] | None]:
    """Each post-paper optimizer's coupling difference to the reference (CI None without
    replicates)."""
    if reference is None:
        return {}
    names = list(an.optimizers.index)
    point = an.optimizers['coupling'].to_numpy(float)
    ref = names.index(reference)
    if an.replicates is None:
        return {o: {'difference': float(point[names.index(o)] - point[ref]), 'ci_low': np.nan,
                    'ci_high': np.nan, 'exceeds_ci': False} for o in post}
    boot = coupling.optimizer_generality(an.replicates)['coupling']
    return {o: coupling.difference(point, boot, names.index(o), ref, an.level) for o in post}


def _roles(post: Sequence[str], reference: str | None,
           best_paper: dict[str, str]) -> dict[str, str]:
    """Row -> its role in the table, post-paper optimizers first."""
    roles = {o: POST_PAPER for o in post}
    if reference is not None:
        roles[reference] = 'paper: least coupled'
    for o in dict.fromkeys(best_paper.values()):
        on = ', '.join(b for b, best in best_paper.items() if best == o)
        roles[o] = f'{roles[o]}; best paper on {on}' if o in roles else f'paper: best on {on}'
    return roles


def _verdict(findings: dict[str, str], diffs: dict, reference: str | None, has_ci: bool) -> str:
    """The answer to "is any post-paper optimizer less coupled than every paper optimizer?"."""
    if reference is None:
        return 'No paper optimizer has a result on every backbone: nothing to compare with.'
    compared = [o for o, f in findings.items() if f != NOT_COMPARED]
    if not compared:
        return 'No post-paper optimizer has a result on every backbone: the data cannot tell.'
    missing = [o for o, f in findings.items() if f == NOT_COMPARED]
    tail = (f' Not compared (no result on every backbone): {", ".join(missing)}.'
            if missing else '')
    less = [o for o in compared if findings[o] == LESS]
    text = ', '.join(f'{o} ({diffs[o]["difference"]:+.2f}'
                     + (f' [{diffs[o]["ci_low"]:+.2f}, {diffs[o]["ci_high"]:+.2f}])' if has_ci
                        else ')') for o in (less or compared))
    if less:
        verb = 'has' if len(less) == 1 else 'have'
        return (f'Yes: {text} {verb} a smaller coupling score than every paper optimizer; the CI '
                f'of the difference to the least coupled paper optimizer, {reference}, '
                'excludes 0.' + tail)
    if all(findings[o] == MORE for o in compared):
        return (f'No: every post-paper optimizer compared is more coupled than {reference}, the '
                f'least coupled paper optimizer (CIs exclude 0): {text}.' + tail)
    why = ('no CI excludes 0 below it' if has_ci
           else 'one seed per cell, so no CIs: point estimates only')
    return (f'The data cannot tell: against {reference}, the least coupled paper optimizer, '
            f'{why}; differences: {text}.' + tail)


def compare_post_paper(an: Analysis, post: Sequence[str]) -> PostPaperComparison:
    """The post-paper optimizers' coupling and ranks next to the paper's.

    Args:
        an: Analysis of every optimizer present (paper and post-paper).
        post: The post-paper optimizers.

    Returns:
        The comparison.
    """
    m = an.matrix
    complete = m.notna().all(axis=1)
    paper_names = [o for o in m.index if suite(o) == 'paper']
    ref_pool = an.optimizers.loc[[o for o in paper_names if complete[o]], 'coupling'].dropna()
    reference = str(ref_pool.idxmin()) if not ref_pool.empty else None
    best_paper = {b: str(m.loc[paper_names, b].idxmax()) for b in m.columns
                  if m.loc[paper_names, b].notna().any()}
    diffs = _differences(an, [o for o in post if complete[o]], reference)
    findings = {o: _finding(diffs.get(o) if an.has_ci else None, bool(complete[o]))
                for o in post}
    roles = _roles(post, reference, best_paper)
    rows = list(roles)
    ci_cols = [c for c in ('coupling_ci_low', 'coupling_ci_high') if c in an.optimizers.columns]
    table = an.optimizers.loc[rows, ['category', 'coupling'] + ci_cols].copy()
    table.insert(0, 'role', [roles[o] for o in rows])
    for col, key in (('difference', 'difference'), ('difference_ci_low', 'ci_low'),
                     ('difference_ci_high', 'ci_high')):
        table[col] = [diffs[o][key] if o in diffs else np.nan for o in rows]
    table['finding'] = [findings.get(o, '') for o in rows]
    table['mean_rank'] = an.optimizers.loc[rows, 'mean_rank']
    rank = an.cells.pivot(index='optimizer', columns='backbone', values='rank')
    rank = rank.reindex(index=rows, columns=m.columns)
    for b in m.columns:
        table[f'rank[{b}]'] = rank[b]
    for b in m.columns:
        table[f'top1[{b}]'] = m.loc[rows, b]
    less = [o for o in post if findings[o] == LESS]
    n_opt = {b: int(n) for b, n in an.backbones['n_optimizers'].items()}
    return PostPaperComparison(table, reference, best_paper, n_opt, less,
                               _verdict(findings, diffs, reference, an.has_ci), an.has_ci)
