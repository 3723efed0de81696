"""Run the whole BOCB table analysis on a :class:`~bocb_mm.analysis.io.ResultSet`."""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd

from . import coupling
from . import paper
from . import stats
from ..optim.zoo import UnknownOptimizerError, get_info
from .io import ResultSet

UNCATEGORIZED = 'uncategorized'
"""Category label given to an optimizer that the optimizer zoo does not know."""


def optimizer_categories(names: Sequence[str]) -> dict[str, str]:
    """Look up the paper category of each optimizer in :mod:`bocb_mm.optim.zoo`.

    Args:
        names: Optimizer names as they appear in the results.

    Returns:
        Mapping name -> category label; names the zoo does not know map to
        :data:`UNCATEGORIZED` (with a warning).
    """
    out: dict[str, str] = {}
    unknown: list[str] = []
    for name in names:
        try:
            out[name] = get_info(name).category.value
        except UnknownOptimizerError:
            out[name] = UNCATEGORIZED
            unknown.append(name)
    if unknown:
        warnings.warn(f'optimizers unknown to bocb_mm.optim.zoo (category {UNCATEGORIZED!r}): '
                      f'{", ".join(unknown)}', stacklevel=2)
    return out


def category_order(categories: dict[str, str]) -> list[str]:
    """Order the category labels: sorted, with :data:`UNCATEGORIZED` last.

    Args:
        categories: Mapping optimizer -> category label.

    Returns:
        The distinct labels in display order.
    """
    labels = sorted(set(categories.values()) - {UNCATEGORIZED})
    if UNCATEGORIZED in categories.values():
        labels.append(UNCATEGORIZED)
    return labels


@dataclass
class Analysis:
    """Everything the report shows.

    Attributes:
        results: The input results.
        matrix: Seed-averaged top-1, optimizers x backbones.
        categories: Optimizer -> category label (from ``bocb_mm.optim.zoo``).
        category_order: Category labels in display order.
        cells: One row per optimizer x backbone with value, rank, gap and flags.
        bottom: Drop-worst ``mean/std/range`` rows (index) x backbones (columns).
        backbones: Per-backbone summary (best, worst, drop-worst stats, coupling, CIs).
        optimizers: Per-optimizer generality and coupling (with CIs).
        printed: Paper's printed vs recomputed bottom rows, when the input is the paper's table.
        conventions: Max |difference| to the printed rows under other conventions, or None.
        rules: Rule name -> the stated rule.
        level: CI coverage.
        n_boot: Bootstrap replicates (0 when no CIs).
        replicates: The bootstrap replicate matrices ``(n_boot, O, B)``, or None.
        groups: Row indices of each optimizer category used by the coupling scores.
    """

    results: ResultSet
    matrix: pd.DataFrame
    categories: dict[str, str]
    category_order: list[str]
    cells: pd.DataFrame
    bottom: pd.DataFrame
    backbones: pd.DataFrame
    optimizers: pd.DataFrame
    printed: pd.DataFrame | None = None
    conventions: pd.DataFrame | None = None
    rules: dict[str, str] = field(default_factory=dict)
    level: float = 0.95
    n_boot: int = 0
    replicates: np.ndarray | None = None
    groups: list[np.ndarray] = field(default_factory=list)

    @property
    def has_ci(self) -> bool:
        """Whether confidence intervals were computed (several seeds per cell somewhere)."""
        return self.n_boot > 0

    def top4(self, backbone: str) -> list[str]:
        """Top-4 optimizers of a backbone, best first.

        Args:
            backbone: Backbone name.

        Returns:
            Optimizer names.
        """
        c = self.cells[(self.cells['backbone'] == backbone) & self.cells['top4']]
        return list(c.sort_values('top1', ascending=False)['optimizer'])

    def trivial(self, backbone: str) -> list[str]:
        """Trivial results of a backbone, worst first.

        Args:
            backbone: Backbone name.

        Returns:
            Optimizer names.
        """
        c = self.cells[(self.cells['backbone'] == backbone) & self.cells['trivial']]
        return list(c.sort_values('top1')['optimizer'])


def _cells(res: ResultSet, m: np.ndarray, categories: dict[str, str], level: float,
           reps: np.ndarray | None) -> pd.DataFrame:
    """Long table of cells with flags (and seed statistics when there are seeds).

    Args:
        res: Results.
        m: Seed-averaged matrix ``(O, B)``.
        categories: Optimizer -> category.
        level: CI coverage.
        reps: Bootstrap replicate matrices or None.

    Returns:
        One row per optimizer x backbone that has a result.
    """
    o_names, b_names = res.optimizers, res.backbones
    oo, bb = np.meshgrid(np.arange(len(o_names)), np.arange(len(b_names)), indexing='ij')
    worst = np.zeros_like(m, dtype=bool)
    worst[stats.worst_index(m), np.arange(m.shape[1])] = True
    frame = pd.DataFrame({
        'optimizer': [o_names[i] for i in oo.ravel()],
        'category': [categories[o_names[i]] for i in oo.ravel()],
        'backbone': [b_names[j] for j in bb.ravel()],
        'top1': m.ravel(),
        'n_seeds': res.seed_counts().to_numpy().ravel(),
        'rank': stats.ranks(m).ravel(),
        'gap_to_best': stats.gap_to_best(m).ravel(),
        'top4': stats.top_k_mask(m).ravel(),
        'trivial': stats.trivial_mask(m).ravel(),
        'worst': worst.ravel(),
    })
    if reps is not None:
        t = coupling.cell_t_ci(res.cube(), level)
        frame['std'] = t['std'].ravel()
        frame['ci_low'] = t['ci_low'].ravel()
        frame['ci_high'] = t['ci_high'].ravel()
        boot = coupling.percentile_ci(reps, level)
        frame['boot_ci_low'] = boot[0].ravel()
        frame['boot_ci_high'] = boot[1].ravel()
        frame['top4_freq'] = stats.top_k_mask(reps).mean(axis=0).ravel()
    return frame[~np.isnan(m.ravel())].reset_index(drop=True)


def _with_ci(table: pd.DataFrame, ci: dict[str, np.ndarray], keys: list[str]) -> pd.DataFrame:
    """Add ``<key>_ci_low`` / ``<key>_ci_high`` columns.

    Args:
        table: Frame with one row per item.
        ci: Key -> ``(2, n_items)`` bounds.
        keys: Which keys to add.

    Returns:
        The frame with the columns added.
    """
    for k in keys:
        table[f'{k}_ci_low'] = ci[k][0]
        table[f'{k}_ci_high'] = ci[k][1]
    return table


def _printed_comparison(bottom: pd.DataFrame, m: np.ndarray, backbones: list[str]):
    """Paper's printed bottom rows vs recomputed, and the fit of other conventions.

    Args:
        bottom: Drop-worst stats (rows mean/std/range) x backbones.
        m: The matrix ``(O, B)``.
        backbones: Column names.

    Returns:
        ``(comparison, conventions)`` frames.
    """
    printed = paper.load_printed_stats()
    comp = paper.compare_printed_stats(bottom.T, printed)
    rows = []
    for drop in (True, False):
        for ddof in (0, 1):
            st = stats.drop_worst_stats(m, ddof) if drop else stats.all_stats(m, ddof)
            rec = pd.DataFrame(st, index=backbones)
            diff = paper.compare_printed_stats(rec, printed)
            name = 'drop worst' if drop else 'all results'
            rows.append({'convention': f'{name}, std ddof={ddof}',
                         **{f'max_abs_{k}_diff': float(diff[f'{k}_diff'].abs().max())
                            for k in ('mean', 'std', 'range')},
                         **{f'n_{k}_match': int((diff[f'{k}_diff'].abs() <= tol).sum())
                            for k, tol in (('mean', 0.005), ('std', 0.05), ('range', 0.5))}})
    return comp, pd.DataFrame(rows)


def analyze(res: ResultSet, n_boot: int = 1000, level: float = 0.95, seed: int = 0,
            categories: dict[str, str] | None = None,
            replicates: np.ndarray | None = None) -> Analysis:
    """Compute the BOCB table, bottom rows, coupling scores and (with seeds) their CIs.

    Args:
        res: Loaded results.
        n_boot: Bootstrap replicates when some cell has several seeds.
        level: CI coverage.
        seed: Bootstrap RNG seed.
        categories: Optimizer -> category; by default looked up in ``bocb_mm.optim.zoo``.
        replicates: Bootstrap replicate matrices ``(n_boot, O, B)`` in ``res``'s order to use
            instead of drawing them from the seeds (so that two analyses share their draws);
            only used when some cell has several seeds.

    Returns:
        The analysis.
    """
    if categories is None:
        categories = optimizer_categories(res.optimizers)
    cats = category_order(categories)
    used = [c for c in cats if c != UNCATEGORIZED]
    named_groups = coupling.category_groups(res.optimizers, categories, used)
    groups = [idx for _, idx in named_groups]
    mat = res.matrix()
    m = mat.to_numpy(float)
    reps = None
    if res.has_seeds and (replicates is not None or n_boot > 0):
        reps = (replicates if replicates is not None
                else coupling.bootstrap_matrices(res.cube(), n_boot, seed))

    cells = _cells(res, m, categories, level, reps)
    dw = stats.drop_worst_stats(m)
    bottom = pd.DataFrame(dw, index=res.backbones).T

    wi = stats.worst_index(m)
    bi = np.argmax(np.where(np.isnan(m), -np.inf, m), axis=0)
    bc = (coupling.backbone_coupling(m, groups) if groups else
          {k: np.full(m.shape[1], np.nan) for k in ('coupling', 'coupling_std', 'coupling_mean')})
    btab = pd.DataFrame({
        'best': stats.best(m), 'best_optimizer': [res.optimizers[i] for i in bi],
        'worst': m[wi, np.arange(m.shape[1])], 'worst_optimizer': [res.optimizers[i] for i in wi],
        'n_optimizers': np.sum(~np.isnan(m), axis=0),
        'mean_drop_worst': dw['mean'], 'std_drop_worst': dw['std'], 'range_drop_worst': dw['range'],
        'n_trivial': stats.trivial_mask(m).sum(axis=0),
        'coupling': bc['coupling'], 'coupling_std': bc['coupling_std'],
        'coupling_mean': bc['coupling_mean'],
    }, index=pd.Index(res.backbones, name='backbone'))
    if groups:
        cm = coupling.category_stat(m, groups, 'median')
        for k, (cat, _) in enumerate(named_groups):
            btab[f'median[{cat}]'] = cm[k]
    gen = coupling.optimizer_generality(m)
    otab = pd.DataFrame({'category': [categories[o] for o in res.optimizers], **gen},
                        index=pd.Index(res.optimizers, name='optimizer'))
    if reps is not None:
        bci = coupling.bootstrap_ci(
            reps, lambda r: {**coupling.backbone_coupling(r, groups),
                             **{f'{k}_drop_worst': v
                                for k, v in stats.drop_worst_stats(r).items()}}, level)
        _with_ci(btab, bci, ['coupling', 'mean_drop_worst', 'std_drop_worst', 'range_drop_worst'])
        oci = coupling.bootstrap_ci(reps, coupling.optimizer_generality, level)
        _with_ci(otab, oci, ['mean_rank', 'mean_gap', 'coupling'])

    printed = conventions = None
    if res.fmt == 'wide' and paper.is_paper_cifar100(mat):
        printed, conventions = _printed_comparison(bottom, m, res.backbones)

    rules = {**stats.RULES, **coupling.RULES}
    if res.notes:
        rules['input_notes'] = '; '.join(res.notes)
    if res.dropped:
        rules['dropped_runs'] = ('runs left out: '
                                 + ', '.join(f'{k}: {v}' for k, v in res.dropped.items()))
    return Analysis(res, mat, categories, cats, cells, bottom, btab, otab, printed, conventions,
                    rules, level, len(reps) if reps is not None else 0, reps, groups)
