"""The report's sections: what each one says, shows as a table and links as a figure.

A :class:`Section` is rendered by :mod:`bocb_mm.analysis.report.render` to Markdown and HTML.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..core import Analysis
from ..coupling import RULES as COUPLING_RULES
from ..hparams import RULE as HPARAM_RULE
from ..post_paper import RULE as POST_PAPER_RULE
from ..post_paper import PostPaperComparison
from ..profiles import RULE as PROFILE_RULE
from ..profiles import TAUS, PerformanceProfile, rho_column
from ..tables import LEGEND, fmt, short_category
from ..tuning import best_per_backbone

#: Figure name -> (section title, caption).
FIGURE_TEXT = {
    'performance_stability': ('Performance stability',
                              'Distribution of each backbone\'s top-1 over optimizers (points '
                              'coloured by optimizer category).'),
    'optimizer_generality': ('Optimizer generality',
                             'Gap to the backbone\'s best result and rank, over backbones, per '
                             'optimizer.'),
    'coupling_scores': ('Coupling scores',
                        'Backbone and optimizer coupling scores (bootstrap CIs when there are '
                        'seeds).'),
    'hparam_robustness': ('Hyper-parameter robustness',
                          'Distance of each backbone\'s optimal (lr, wd) from the optimizer\'s '
                          'mode setting.'),
    'weight_entropy_ridge': ('Layer-wise weight entropy',
                             'Standardised weight distributions by layer (ridge plot) and '
                             'histogram entropy.'),
}
#: The figures every report has, in the order they are shown.
CORE_FIGURES = ('performance_stability', 'optimizer_generality', 'coupling_scores')
BACKBONE_COLUMNS = ['best_optimizer', 'best', 'worst_optimizer', 'worst', 'mean_drop_worst',
                    'std_drop_worst', 'range_drop_worst', 'n_trivial', 'coupling', 'coupling_mean']
OPTIMIZER_COLUMNS = ['category', 'mean_rank', 'mean_gap', 'median_gap', 'worst_gap', 'coupling',
                     'n_top4', 'n_trivial']
PAPER_ROWS_TEXT = (
    'The paper prints Mean and Std/Range rows "on statistics that removed the worst result '
    'for all models". Recomputed here from the paper\'s own table (drop worst, population '
    'std), they do not match: max |diff| mean {mean:.2f}, std {std:.2f}, range {range:.2f} '
    'points. No convention tried reproduces them (max |diff| per convention below).')


@dataclass
class Section:
    """One report section, rendered to Markdown and HTML.

    Attributes:
        title: Heading.
        text: Paragraphs / bullet lines (Markdown-ish plain text).
        table: ``(header, rows)`` or None.
        bocb: Whether to show the BOCB table here.
        image: Relative path of a PNG, or None.
    """

    title: str
    text: list[str] = field(default_factory=list)
    table: tuple | None = None
    bocb: bool = False
    image: str | None = None


def _cell(col: str, value: Any) -> str:
    """Format one score-table cell (counts ``n_*`` as integers).

    Args:
        col: Column name.
        value: The value.

    Returns:
        The text.
    """
    if isinstance(value, (float, np.floating, int, np.integer)) and not isinstance(value, bool):
        if col.startswith('n_') and not np.isnan(value):
            return str(int(value))
        return fmt(float(value))
    return str(value)


def _interval(low: float, high: float) -> str:
    """``[low, high]`` with both ends formatted."""
    return f'[{fmt(low)}, {fmt(high)}]'


def _score_table(frame: pd.DataFrame, cols: Sequence[str], ci: bool) -> tuple:
    """Header and rows of a score table, CI columns as ``[lo, hi]``.

    Args:
        frame: Score frame.
        cols: Columns to show.
        ci: Whether to append CI columns where present.

    Returns:
        ``(header, rows)``.
    """
    header = [frame.index.name or ''] + list(cols)
    rows = []
    ci_keys = [c for c in cols if f'{c}_ci_low' in frame.columns] if ci else []
    header += [f'{c} CI' for c in ci_keys]
    for idx, r in frame.iterrows():
        row = [str(idx)] + [_cell(c, r[c]) for c in cols]
        row += [_interval(r[c + '_ci_low'], r[c + '_ci_high']) for c in ci_keys]
        rows.append(row)
    return header, rows


def _input_section(an: Analysis) -> Section:
    """Source, sizes, seeds per cell, optimizer categories and input notes."""
    res = an.results
    n = res.seed_counts().to_numpy()
    categories = '; '.join(
        f'{c}: ' + ', '.join(o for o in res.optimizers if an.categories[o] == c)
        for c in an.category_order)
    return Section('Input', [
        f'- source: `{res.source}` ({res.fmt} format)',
        f'- {len(res.backbones)} backbones x {len(res.optimizers)} optimizers, {len(res.runs)} '
        f'runs; seeds per cell: {int(n[n > 0].min())}-{int(n.max())}; missing cells: '
        f'{int((n == 0).sum())}',
        '- optimizer categories from `bocb_mm.optim.zoo.get_info`: ' + categories,
    ] + [f'- {an.rules[k]}' for k in ('input_notes', 'dropped_runs') if k in an.rules])


def _rules_section(an: Analysis) -> Section:
    """The rules of the analysis, one bullet each."""
    return Section('Rules', [f'- {v}' for k, v in an.rules.items()
                             if k not in ('dropped_runs', 'input_notes')] + [f'- {HPARAM_RULE}'])


def _paper_sections(an: Analysis) -> list[Section]:
    """The paper's printed bottom rows against the recomputed ones, and the conventions tried."""
    stats = ('mean', 'std', 'range')
    header = ['backbone'] + [f'{s} {k}' for s in stats for k in ('printed', 'recomp.', 'diff')]
    rows = [[b] + [fmt(r[f'{s}_{k}']) for s in stats for k in ('printed', 'recomputed', 'diff')]
            for b, r in an.printed.iterrows()]
    max_diff = {s: an.printed[f'{s}_diff'].abs().max() for s in stats}
    conventions = an.conventions
    convention_rows = [[_convention_cell(v) for v in r]
                       for r in conventions.itertuples(index=False)]
    return [Section('Paper\'s printed bottom rows vs recomputed',
                    [PAPER_ROWS_TEXT.format(**max_diff)], table=(header, rows)),
            Section('Conventions tried', table=(list(conventions.columns), convention_rows))]


def _convention_cell(value: Any) -> str:
    """A cell of the conventions table: floats formatted, anything else as text."""
    if isinstance(value, float):
        return fmt(value)
    return str(value)


def _figure_section(name: str, image: str | None) -> Section:
    """A figure with its title and caption (:data:`FIGURE_TEXT`)."""
    title, caption = FIGURE_TEXT[name]
    return Section(title, [caption], image=image)


def _backbone_scores_section(an: Analysis) -> Section:
    """Best / worst, drop-worst stats and coupling per backbone."""
    cols = BACKBONE_COLUMNS + [c for c in an.backbones.columns if c.startswith('median[')]
    header, rows = _score_table(an.backbones, cols, an.has_ci)
    header = [f'median {short_category(h[7:-1])}' if h.startswith('median[') else h
              for h in header]
    return Section('Backbone coupling scores', [an.rules['backbone_coupling']],
                   table=(header, rows))


def _optimizer_scores_section(an: Analysis) -> Section:
    """Generality and coupling per optimizer, by mean rank."""
    return Section('Optimizer generality and coupling', [an.rules['optimizer_coupling']],
                   table=_score_table(an.optimizers.sort_values('mean_rank'), OPTIMIZER_COLUMNS,
                                      an.has_ci))


def _hparam_section(hp_summary: pd.DataFrame, image: str | None) -> Section:
    """Distance of the optimal (lr, wd) from each optimizer's mode setting."""
    title, caption = FIGURE_TEXT['hparam_robustness']
    return Section(title, [caption, HPARAM_RULE], image=image,
                   table=_score_table(hp_summary.sort_values('mean_distance'),
                                      list(hp_summary.columns), False))


def _entropy_section(entropy: pd.DataFrame, image: str) -> Section:
    """Layer count and mean / min / max layer entropy per checkpoint."""
    per_checkpoint = (entropy.groupby('checkpoint', sort=False)['entropy']
                      .agg(['size', 'mean', 'min', 'max']))
    per_checkpoint.index.name = 'checkpoint'
    per_checkpoint = per_checkpoint.rename(columns={'size': 'layers'}).astype(float)
    title, caption = FIGURE_TEXT['weight_entropy_ridge']
    return Section(title, [caption], image=image,
                   table=_score_table(per_checkpoint, ['layers', 'mean', 'min', 'max'], False))


def _profile_section(profile: PerformanceProfile, seeds: bool, image: str | None) -> Section:
    """The performance profiles: figure and ``rho`` table, by area."""
    table = profile.table
    header = ['optimizer', 'suite', 'cat.'] + [f'rho({t:g})' for t in TAUS] + [
        'area', 'best on', 'results']
    rows = [[str(o), r['suite'], short_category(r['category'])]
            + [fmt(r[rho_column(t)]) for t in TAUS]
            + [f'{r["area"]:.3f}', str(int(r['n_best'])), str(int(r['n_backbones']))]
            for o, r in table.iterrows()]
    text = [PROFILE_RULE + '.',
            f'tau_max = {profile.tau_max:.3g}; the table and the legend list the optimizers by '
            'area (higher = closer to the best on more backbones).']
    if seeds:
        text.append('Each cell is the mean over its seeds (no bootstrap band).')
    return Section('Performance profiles', text, image=image, table=(header, rows))


def _rank_cell(rank: float, top1: float, n: int) -> str:
    """``rank/n (top-1)`` of a cell (rank among ``n`` optimizers), ``-`` without a result."""
    if np.isnan(rank):
        return '-'
    return f'{rank:g}/{n} ({fmt(top1)})'


def _post_paper_section(cmp: PostPaperComparison, level: float) -> Section:
    """The post-paper optimizers' coupling and ranks next to the paper's references."""
    table = cmp.table
    backbones = [c[5:-1] for c in table.columns if c.startswith('rank[')]
    ci = f' {level:.0%} CI' if cmp.has_ci else ''
    header = (['optimizer', 'role', 'cat.', 'coupling']
              + ([f'coupling{ci}'] if cmp.has_ci else [])
              + [f'diff. to {cmp.reference}'] + ([f'diff.{ci}'] if cmp.has_ci else [])
              + ['finding', 'mean rank'] + [f'{b}: rank (top-1)' for b in backbones])
    rows = []
    for o, r in table.iterrows():
        row = [str(o), r['role'], short_category(r['category']), fmt(r['coupling'])]
        row += [_interval(r['coupling_ci_low'], r['coupling_ci_high'])] if cmp.has_ci else []
        row += [fmt(r['difference'])]
        row += ([_interval(r['difference_ci_low'], r['difference_ci_high'])
                 if not np.isnan(r['difference_ci_low']) else '-'] if cmp.has_ci else [])
        row += [r['finding'], fmt(r['mean_rank'])]
        row += [_rank_cell(r[f'rank[{b}]'], r[f'top1[{b}]'], cmp.n_optimizers[b])
                for b in backbones]
        rows.append(row)
    best = [f'- best paper optimizer on {b}: {o} '
            + _rank_cell(table.at[o, f'rank[{b}]'], table.at[o, f'top1[{b}]'], cmp.n_optimizers[b])
            for b, o in cmp.best_paper.items()]
    return Section('Optimizers after the paper', [
        f'**{cmp.verdict}**', POST_PAPER_RULE + '.',
        'Scores and ranks here come from the analysis of all optimizers (the gap to the best '
        'counts the post-paper ones too), so the paper optimizers\' scores can differ from the '
        'tables above.'] + best, table=(header, rows))


def build_sections(an: Analysis, figs: dict[str, Path], hp_summary: pd.DataFrame | None,
                   entropy: pd.DataFrame | None, out: Path,
                   extra: dict[str, list[Section]] | None = None,
                   profile: PerformanceProfile | None = None,
                   post_paper: PostPaperComparison | None = None) -> list[Section]:
    """Assemble the report's sections.

    Args:
        an: The analysis.
        figs: Figure name -> PNG path.
        hp_summary: Hyper-parameter robustness per optimizer, or None.
        entropy: Per-layer entropy, or None.
        out: Report folder (image paths are made relative to it).
        extra: Sections of a tuned grid: ``'head'`` ones follow the rules, ``'tail'`` ones the
            coupling scores (:func:`tuned_sections`).
        profile: Performance profiles (a section after the optimizer scores), or None.
        post_paper: The post-paper comparison (a section after the profiles), or None.

    Returns:
        The sections.
    """
    extra = extra or {}
    rel = {k: str(Path(v).relative_to(out)) for k, v in figs.items()}
    secs = [_input_section(an), _rules_section(an)]
    secs += extra.get('head', [])
    secs.append(Section('BOCB table', [LEGEND, 'Values are seed means when there are several '
                                       'seeds (per-seed CIs in `bocb_table.csv`).'], bocb=True))
    if an.printed is not None:
        secs += _paper_sections(an)
    secs += [_figure_section(name, rel[name]) for name in CORE_FIGURES]
    secs += [_backbone_scores_section(an), _optimizer_scores_section(an)]
    if profile is not None:
        secs.append(_profile_section(profile, an.results.has_seeds,
                                     rel.get('performance_profiles')))
    if post_paper is not None:
        secs.append(_post_paper_section(post_paper, an.level))
    secs += extra.get('tail', [])
    if hp_summary is not None:
        secs.append(_hparam_section(hp_summary, rel.get('hparam_robustness')))
    if entropy is not None and 'weight_entropy_ridge' in rel:
        secs.append(_entropy_section(entropy, rel['weight_entropy_ridge']))
    return secs


# ---------------------------------------------------------------------------------------------
# a tuned grid
# ---------------------------------------------------------------------------------------------
def _bullets(info: dict[str, Any]) -> list[str]:
    """``- key: value`` lines of a (shallow) dict; nested dicts as ``k=v`` lists.

    Args:
        info: The dict.

    Returns:
        The lines.
    """
    lines = []
    for key, value in info.items():
        if isinstance(value, dict):
            value = ', '.join(f'{k}={v}' for k, v in value.items())
        elif isinstance(value, (list, tuple)):
            value = ', '.join(str(v) for v in value)
        lines.append(f'- {key.replace("_", " ")}: {value}')
    return lines


def _final_section(final: pd.DataFrame, level: float) -> Section:
    """The final table: per pair chosen lr, test mean, bootstrap CI, seeds.

    Args:
        final: Output of :func:`bocb_mm.analysis.tuning.final_table` (with ``typical_lr``).
        level: CI coverage.

    Returns:
        The section.
    """
    header = ['backbone', 'optimizer', 'typical lr', 'chosen lr', 'wd', 'test top-1 (mean)',
              f'{level:.0%} CI (bootstrap)', 'seeds', 'diverged']
    rows = [[r['backbone'], r['optimizer'], f'{r["typical_lr"]:.3g}', f'{r["lr"]:.3g}',
             f'{r["weight_decay"]:.3g}', fmt(r['test_mean']), _interval(r['ci_low'], r['ci_high']),
             str(r['n_seeds']), str(r['n_diverged'])] for _, r in final.iterrows()]
    best = [f'- best on {r["backbone"]}: {r["optimizer"]} {fmt(r["test_mean"])} '
            f'{_interval(r["ci_low"], r["ci_high"])} at lr {r["lr"]:.3g}'
            for _, r in best_per_backbone(final).iterrows()]
    return Section('Final table: chosen learning rate, test top-1 over seeds', [
        'Each cell trains the lr chosen on the validation split again with every final seed; '
        'test top-1 is its single evaluation at the end of training.'] + best,
        table=(header, rows))


def _diverged_section(diverged: list[dict[str, Any]]) -> Section:
    """The runs that stopped on a non-finite loss or failed."""
    keys = ('backbone', 'optimizer', 'stage', 'seed', 'lr', 'status')
    table = (list(keys), [[str(d.get(k)) for k in keys] for d in diverged]) if diverged else None
    return Section('Diverged runs', [f'{len(diverged)} run(s) stopped on a non-finite loss (or '
                                     'failed); they are not averaged into any cell.'], table=table)


def _grid_text(grid: Sequence[Sequence[Any]]) -> str:
    """``lr: validation top-1`` of every point of a pair's grid."""
    return ', '.join(f'{lr:g}: {v:.1f}' if isinstance(v, float) else f'{lr:g}: {v}'
                     for lr, v in grid)


def _blind_section(blind: list[dict[str, Any]]) -> Section:
    """The pairs whose lr was chosen with no grid point above the stall threshold."""
    return Section('Choices without signal', [
        f'{len(blind)} pair(s) had no grid point above the stall threshold on validation; '
        'each took its smallest lr that trained when a point of its grid diverged, else its '
        'largest (see the protocol).'],
        table=(['backbone', 'optimizer', 'chosen lr', 'grid (lr: validation top-1)'],
               [[c['backbone'], c['optimizer'], f'{c["lr"]:g}', _grid_text(c['grid'])]
                for c in blind]))


def _differences_section(diffs: pd.DataFrame) -> Section:
    """The coupling-score differences whose bootstrap interval excludes zero.

    Args:
        diffs: Output of :func:`bocb_mm.analysis.tuning.coupling_differences`.

    Returns:
        The section.
    """
    text = [COUPLING_RULES['differences'] + '.']
    for kind in ('backbone', 'optimizer'):
        d = diffs[diffs['kind'] == kind]
        text.append(f'- {kind} coupling: {int(d["exceeds_ci"].sum())} of {len(d)} pairwise '
                    'differences exceed their CI')
    sig = diffs[diffs['exceeds_ci']]
    rows = [[r['kind'], r['higher'], r['lower'], fmt(r['difference']),
             _interval(r['ci_low'], r['ci_high'])] for _, r in sig.iterrows()]
    return Section('Coupling differences larger than their CIs', text,
                   table=(['score', 'higher', 'lower', 'difference', 'CI'], rows) if rows else None)


def _sensitivity_section(name: str, image: str) -> Section:
    """One backbone's lr-sensitivity figure (``name``: ``'lr_sensitivity:<backbone>'``)."""
    return Section(f'Learning-rate sensitivity: {name.split(":", 1)[1]}', [
        'Validation top-1 of every grid point (x: lr over the optimizer\'s typical lr).'],
        image=image)


def tuned_sections(an: Analysis, protocol: dict[str, Any], final: pd.DataFrame,
                   diffs: pd.DataFrame, figs: dict[str, Path],
                   out: Path) -> dict[str, list[Section]]:
    """The sections of a tuned grid, for :func:`build_sections`'s ``extra``.

    Args:
        an: Analysis of the final runs.
        protocol: The protocol's description (``diverged``: the runs that did not finish;
            ``chosen_without_signal``: pairs chosen with no grid point above the stall
            threshold).
        final: The final table, with ``typical_lr``.
        diffs: The coupling differences.
        figs: The lr-sensitivity figures (``'lr_sensitivity:<backbone>'`` -> PNG path).
        out: Report folder (image paths are made relative to it).

    Returns:
        ``{'head': [...], 'tail': [...]}``.
    """
    described = {k: v for k, v in protocol.items()
                 if k not in ('diverged', 'chosen_without_signal')}
    head = [Section('Tuning protocol', _bullets(described)), _final_section(final, an.level),
            _diverged_section(protocol.get('diverged', []))]
    blind = protocol.get('chosen_without_signal') or []
    if blind:
        head.append(_blind_section(blind))
    tail = [_differences_section(diffs)] + [
        _sensitivity_section(name, str(path.relative_to(out))) for name, path in figs.items()]
    return {'head': head, 'tail': tail}
