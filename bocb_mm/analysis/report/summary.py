"""The report's ``summary.json`` content and its few-line terminal summary."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..core import Analysis
from ..coupling import RULES as COUPLING_RULES
from ..hparams import RULE as HPARAM_RULE
from ..post_paper import RULE as POST_PAPER_RULE
from ..post_paper import PostPaperComparison
from ..profiles import RULE as PROFILE_RULE
from ..profiles import PerformanceProfile

PAPER_ROWS_NOTE = ('the paper\'s printed Mean / Std/Range rows are not reproducible from its own '
                   'table under any of the conventions tried; differences are recomputed - printed')


def jsonable(obj: Any) -> Any:
    """Convert numpy / pandas values to JSON-ready Python (NaN and inf -> None).

    Args:
        obj: Any nesting of dicts, lists, numbers, arrays.

    Returns:
        The converted object.
    """
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, (np.bool_, bool)):
        return bool(obj)
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        f = float(obj)
        return None if math.isnan(f) or math.isinf(f) else round(f, 6)
    if isinstance(obj, Path):
        return str(obj)
    return obj


def _ci(row: pd.Series, key: str) -> list[float] | None:
    """A ``[low, high]`` pair from ``<key>_ci_low/high`` columns, or None.

    Args:
        row: Table row.
        key: Statistic name.

    Returns:
        The interval or None.
    """
    lo, hi = f'{key}_ci_low', f'{key}_ci_high'
    return [row[lo], row[hi]] if lo in row.index else None


def _input_entry(an: Analysis) -> dict[str, Any]:
    """What was read: source, format, sizes, seeds per cell, missing cells, dropped runs.

    Args:
        an: The analysis.

    Returns:
        The ``input`` entry.
    """
    res = an.results
    n = res.seed_counts().to_numpy()
    return {'path': res.source, 'format': res.fmt, 'n_runs': len(res.runs),
            'n_backbones': len(res.backbones), 'n_optimizers': len(res.optimizers),
            'seeds_per_cell': {'min': int(n[n > 0].min()) if (n > 0).any() else 0,
                               'max': int(n.max())},
            'missing_cells': int((n == 0).sum()), 'dropped_runs': res.dropped,
            'is_paper_cifar100': an.printed is not None}


def _backbone_entry(an: Analysis, backbone: str, row: pd.Series) -> dict[str, Any]:
    """One backbone's top-4, trivial results, best / worst, drop-worst stats and coupling.

    Args:
        an: The analysis.
        backbone: The backbone.
        row: Its row of ``an.backbones``.

    Returns:
        The entry.
    """
    stats = ('mean', 'std', 'range')
    return {
        'top4': an.top4(backbone),
        'trivial': an.trivial(backbone),
        'best': {'optimizer': row['best_optimizer'], 'top1': row['best']},
        'worst': {'optimizer': row['worst_optimizer'], 'top1': row['worst']},
        'drop_worst': {k: row[f'{k}_drop_worst'] for k in stats},
        'drop_worst_ci': ({k: _ci(row, f'{k}_drop_worst') for k in stats}
                          if an.has_ci else None),
        'coupling': {'score': row['coupling'], 'ci': _ci(row, 'coupling'),
                     'std': row['coupling_std'],
                     'range_of_category_means': row['coupling_mean'],
                     'category_medians': {c: row[f'median[{c}]'] for c in an.category_order
                                          if f'median[{c}]' in row.index}},
    }


def _optimizer_entry(an: Analysis, row: pd.Series) -> dict[str, Any]:
    """One optimizer's category, generality (with CIs) and coupling.

    Args:
        an: The analysis.
        row: Its row of ``an.optimizers``.

    Returns:
        The entry.
    """
    generality = {k: row[k] for k in ('mean_rank', 'mean_gap', 'median_gap', 'worst_gap',
                                      'n_top4', 'n_trivial', 'n_backbones')}
    return {'category': row['category'], 'generality': generality,
            'generality_ci': ({k: _ci(row, k) for k in ('mean_rank', 'mean_gap')}
                              if an.has_ci else None),
            'coupling': {'score': row['coupling'], 'ci': _ci(row, 'coupling')}}


def _paper_rows_entry(an: Analysis) -> dict[str, Any] | None:
    """The paper's printed bottom rows against the recomputed ones (paper table input only).

    Args:
        an: The analysis.

    Returns:
        The entry, or None when the input is not the paper's CIFAR-100 table.
    """
    if an.printed is None:
        return None
    return {
        'note': PAPER_ROWS_NOTE,
        'per_backbone': {b: r.to_dict() for b, r in an.printed.iterrows()},
        'max_abs_diff': {k: float(an.printed[f'{k}_diff'].abs().max())
                         for k in ('mean', 'std', 'range')},
        'conventions': an.conventions.to_dict(orient='records'),
    }


def _entropy_entry(entropy: pd.DataFrame | None) -> dict[str, Any] | None:
    """Per checkpoint: layer count and mean / min / max layer entropy.

    Args:
        entropy: Per-layer entropy, or None.

    Returns:
        The entry, or None without checkpoints.
    """
    if entropy is None or entropy.empty:
        return None
    per_checkpoint = entropy.groupby('checkpoint', sort=False)['entropy']
    return {ck: {'n_layers': int(v.size), 'mean_entropy_bits': float(v.mean()),
                 'min_entropy_bits': float(v.min()), 'max_entropy_bits': float(v.max())}
            for ck, v in per_checkpoint}


def _profile_entry(profile: PerformanceProfile | None, seeds: bool) -> dict[str, Any] | None:
    """The performance profiles: rule, ``tau_max`` and per optimizer (by area) its row.

    Args:
        profile: The profiles, or None.
        seeds: Whether cells are seed means.

    Returns:
        The entry, or None without profiles.
    """
    if profile is None:
        return None
    return {'rule': PROFILE_RULE, 'seed_means': seeds, 'tau_max': profile.tau_max,
            'optimizers': {o: r.to_dict() for o, r in profile.table.iterrows()}}


def _post_paper_entry(cmp: PostPaperComparison | None) -> dict[str, Any] | None:
    """The post-paper comparison: verdict, reference, best paper per backbone, table rows.

    Args:
        cmp: The comparison, or None without post-paper optimizers.

    Returns:
        The entry, or None.
    """
    if cmp is None:
        return None
    return {'rule': POST_PAPER_RULE, 'verdict': cmp.verdict,
            'less_coupled_than_every_paper_optimizer': cmp.less_coupled,
            'least_coupled_paper_optimizer': cmp.reference,
            'best_paper_optimizer': cmp.best_paper, 'n_optimizers': cmp.n_optimizers,
            'has_ci': cmp.has_ci,
            'optimizers': {o: r.to_dict() for o, r in cmp.table.iterrows()}}


def tuned_entries(protocol: dict[str, Any], final: pd.DataFrame,
                  diffs: pd.DataFrame) -> dict[str, Any]:
    """The summary entries of a tuned grid.

    Args:
        protocol: The protocol's description.
        final: The final table (:func:`bocb_mm.analysis.tuning.final_table`).
        diffs: The coupling differences (:func:`bocb_mm.analysis.tuning.coupling_differences`).

    Returns:
        Keys ``protocol``, ``final_table`` and ``coupling_differences``.
    """
    return {'protocol': protocol,
            'final_table': final.to_dict(orient='records'),
            'coupling_differences': {
                'rule': COUPLING_RULES['differences'],
                'n_pairs': {k: int((diffs['kind'] == k).sum()) for k in ('backbone', 'optimizer')},
                'exceeding_ci': diffs[diffs['exceeds_ci']].to_dict(orient='records')}}


def build_summary(an: Analysis, hp_summary: pd.DataFrame | None, entropy: pd.DataFrame | None,
                  files: dict[str, str], tuned: dict[str, Any] | None = None,
                  profile: PerformanceProfile | None = None,
                  post_paper: PostPaperComparison | None = None) -> dict[str, Any]:
    """The content of ``summary.json``.

    Args:
        an: The analysis.
        hp_summary: Per-optimizer hyper-parameter robustness, or None.
        entropy: Per-layer entropy, or None.
        files: Output name -> relative path.
        tuned: Keys ``protocol``, ``final_table``, ``coupling_differences`` of a tuned grid
            (:func:`tuned_entries`).
        profile: Performance profiles of every optimizer, or None.
        post_paper: The post-paper comparison, or None.

    Returns:
        A JSON-ready dict.
    """
    out: dict[str, Any] = {
        'input': _input_entry(an),
        'rules': {**an.rules, 'hparam_distance': HPARAM_RULE},
        'confidence_intervals': ({'method': 'percentile bootstrap over seeds', 'level': an.level,
                                  'n_boot': an.n_boot} if an.has_ci else None),
        'categories': an.categories,
        'backbones': {b: _backbone_entry(an, b, r) for b, r in an.backbones.iterrows()},
        'optimizers': {o: _optimizer_entry(an, r) for o, r in an.optimizers.iterrows()},
        'coupling_scores': {
            'backbone': {b: r['coupling'] for b, r in an.backbones.iterrows()},
            'optimizer': {o: r['coupling'] for o, r in an.optimizers.iterrows()},
        },
        'paper_printed_bottom_rows': _paper_rows_entry(an),
        'hparam_robustness': ({o: r.to_dict() for o, r in hp_summary.iterrows()}
                              if hp_summary is not None else None),
        'weight_entropy': _entropy_entry(entropy),
        'performance_profiles': _profile_entry(profile, an.results.has_seeds),
        'post_paper': _post_paper_entry(post_paper),
        'protocol': None,
        'final_table': None,
        'coupling_differences': None,
        'files': files,
    }
    out.update(tuned or {})
    return jsonable(out)


def short_summary(summary: dict[str, Any], n: int = 3) -> str:
    """A few lines for the terminal.

    Args:
        summary: Output of :func:`~bocb_mm.analysis.report.make_report`.
        n: How many items in each top / bottom list.

    Returns:
        The text.
    """
    inp = summary['input']
    bc = {k: v for k, v in summary['coupling_scores']['backbone'].items() if v is not None}
    ob = summary['optimizers']
    by_rank = sorted(ob, key=lambda o: ob[o]['generality']['mean_rank'] or 1e9)
    strong = sorted(bc, key=bc.get, reverse=True)
    seeds = inp['seeds_per_cell']
    lines = [f'BOCB summary: {inp["n_backbones"]} backbones x {inp["n_optimizers"]} optimizers '
             f'({inp["format"]} format, seeds per cell {seeds["min"]}-{seeds["max"]})',
             'strongest backbone coupling: ' + ', '.join(f'{b} {bc[b]:.2f}' for b in strong[:n]),
             'weakest backbone coupling:   '
             + ', '.join(f'{b} {bc[b]:.2f}' for b in strong[::-1][:n]),
             'most general optimizers (mean rank): '
             + ', '.join(f'{o} {ob[o]["generality"]["mean_rank"]:.2f}' for o in by_rank[:n]),
             'least general optimizers (mean rank): '
             + ', '.join(f'{o} {ob[o]["generality"]["mean_rank"]:.2f}' for o in by_rank[::-1][:n])]
    profiles = (summary.get('performance_profiles') or {}).get('optimizers') or {}
    if profiles:
        lines.append('largest performance-profile area: ' + ', '.join(
            f'{o} {v["area"]:.3f}' for o, v in list(profiles.items())[:n]))
    if summary.get('post_paper'):
        lines.append('post-paper optimizers: ' + summary['post_paper']['verdict'])
    printed = summary.get('paper_printed_bottom_rows')
    if printed:
        d = printed['max_abs_diff']
        lines.append(f'paper printed bottom rows vs recomputed: max |diff| mean {d["mean"]:.2f}, '
                     f'std {d["std"]:.2f}, range {d["range"]:.2f}')
    return '\n'.join(lines)
