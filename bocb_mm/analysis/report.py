"""Build the full BOCB report: tables, figures, ``report.md``, ``report.html``, ``summary.json``."""
from __future__ import annotations

import base64
import html
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from . import figures as F
from . import hparams as H
from . import paper
from . import tables as T
from .core import Analysis, analyze
from .io import ResultSet, load_results

Log = Callable[[str], None]


def _noop(_: str) -> None:
    """Discard a progress line."""


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


def build_summary(an: Analysis, hp_summary: pd.DataFrame | None, entropy: pd.DataFrame | None,
                  files: dict[str, str], tuned: dict[str, Any] | None = None) -> dict[str, Any]:
    """The content of ``summary.json``.

    Args:
        an: The analysis.
        hp_summary: Per-optimizer hyper-parameter robustness, or None.
        entropy: Per-layer entropy, or None.
        files: Output name -> relative path.
        tuned: Keys ``protocol``, ``final_table``, ``coupling_differences`` of a tuned grid.

    Returns:
        A JSON-ready dict.
    """
    res = an.results
    n = res.seed_counts().to_numpy()
    backbones: dict[str, Any] = {}
    for b, r in an.backbones.iterrows():
        backbones[b] = {
            'top4': an.top4(b),
            'trivial': an.trivial(b),
            'best': {'optimizer': r['best_optimizer'], 'top1': r['best']},
            'worst': {'optimizer': r['worst_optimizer'], 'top1': r['worst']},
            'drop_worst': {k: r[f'{k}_drop_worst'] for k in ('mean', 'std', 'range')},
            'drop_worst_ci': ({k: _ci(r, f'{k}_drop_worst') for k in ('mean', 'std', 'range')}
                              if an.has_ci else None),
            'coupling': {'score': r['coupling'], 'ci': _ci(r, 'coupling'), 'std': r['coupling_std'],
                         'range_of_category_means': r['coupling_mean'],
                         'category_medians': {c: r[f'median[{c}]'] for c in an.category_order
                                              if f'median[{c}]' in r.index}},
        }
    optimizers: dict[str, Any] = {}
    for o, r in an.optimizers.iterrows():
        gen = {k: r[k] for k in ('mean_rank', 'mean_gap', 'median_gap', 'worst_gap', 'n_top4',
                                 'n_trivial', 'n_backbones')}
        optimizers[o] = {'category': r['category'], 'generality': gen,
                         'generality_ci': ({k: _ci(r, k) for k in ('mean_rank', 'mean_gap')}
                                           if an.has_ci else None),
                         'coupling': {'score': r['coupling'], 'ci': _ci(r, 'coupling')}}
    out: dict[str, Any] = {
        'input': {'path': res.source, 'format': res.fmt, 'n_runs': len(res.runs),
                  'n_backbones': len(res.backbones), 'n_optimizers': len(res.optimizers),
                  'seeds_per_cell': {'min': int(n[n > 0].min()) if (n > 0).any() else 0,
                                     'max': int(n.max())},
                  'missing_cells': int((n == 0).sum()), 'dropped_runs': res.dropped,
                  'is_paper_cifar100': an.printed is not None},
        'rules': {**an.rules, 'hparam_distance': H.RULE},
        'confidence_intervals': ({'method': 'percentile bootstrap over seeds', 'level': an.level,
                                  'n_boot': an.n_boot} if an.has_ci else None),
        'categories': an.categories,
        'backbones': backbones,
        'optimizers': optimizers,
        'coupling_scores': {
            'backbone': {b: r['coupling'] for b, r in an.backbones.iterrows()},
            'optimizer': {o: r['coupling'] for o, r in an.optimizers.iterrows()},
        },
        'paper_printed_bottom_rows': None,
        'hparam_robustness': None,
        'weight_entropy': None,
        'protocol': None,
        'final_table': None,
        'coupling_differences': None,
        'files': files,
    }
    out.update(tuned or {})
    if an.printed is not None:
        out['paper_printed_bottom_rows'] = {
            'note': ('the paper\'s printed Mean / Std/Range rows are not reproducible from its own '
                     'table under any of the conventions tried; differences are recomputed - printed'),
            'per_backbone': {b: r.to_dict() for b, r in an.printed.iterrows()},
            'max_abs_diff': {k: float(an.printed[f'{k}_diff'].abs().max()) for k in ('mean', 'std', 'range')},
            'conventions': an.conventions.to_dict(orient='records'),
        }
    if hp_summary is not None:
        out['hparam_robustness'] = {o: r.to_dict() for o, r in hp_summary.iterrows()}
    if entropy is not None and not entropy.empty:
        g = entropy.groupby('checkpoint', sort=False)['entropy']
        out['weight_entropy'] = {ck: {'n_layers': int(v.size), 'mean_entropy_bits': float(v.mean()),
                                      'min_entropy_bits': float(v.min()), 'max_entropy_bits': float(v.max())}
                                 for ck, v in g}
    return jsonable(out)


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
        return T.fmt(float(value))
    return str(value)


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
    header += [f'{c} {""}CI' for c in ci_keys]
    for idx, r in frame.iterrows():
        row = [str(idx)] + [_cell(c, r[c]) for c in cols]
        row += [f'[{T.fmt(r[c + "_ci_low"])}, {T.fmt(r[c + "_ci_high"])}]' for c in ci_keys]
        rows.append(row)
    return header, rows


def build_sections(an: Analysis, figs: dict[str, Path], hp_summary: pd.DataFrame | None,
                   entropy: pd.DataFrame | None, out: Path,
                   extra: dict[str, list[Section]] | None = None) -> list[Section]:
    """Assemble the report's sections.

    Args:
        an: The analysis.
        figs: Figure name -> PNG path.
        hp_summary: Hyper-parameter robustness per optimizer, or None.
        entropy: Per-layer entropy, or None.
        out: Report folder (image paths are made relative to it).
        extra: Sections of a tuned grid: ``'head'`` ones follow the rules, ``'tail'`` ones the
            coupling scores.

    Returns:
        The sections.
    """
    extra = extra or {}
    res = an.results
    n = res.seed_counts().to_numpy()
    rel = {k: str(Path(v).relative_to(out)) for k, v in figs.items()}
    secs = [Section('Input', [
        f'- source: `{res.source}` ({res.fmt} format)',
        f'- {len(res.backbones)} backbones x {len(res.optimizers)} optimizers, {len(res.runs)} runs; '
        f'seeds per cell: {int(n[n > 0].min())}-{int(n.max())}; missing cells: {int((n == 0).sum())}',
        '- optimizer categories from `bocb_mm.optim.zoo.get_info`: '
        + '; '.join(f'{c}: ' + ', '.join(o for o in res.optimizers if an.categories[o] == c)
                    for c in an.category_order),
    ] + [f'- {an.rules[k]}' for k in ('input_notes', 'dropped_runs') if k in an.rules])]
    secs.append(Section('Rules', [f'- {v}' for k, v in an.rules.items() if k not in ('dropped_runs', 'input_notes')]
                        + [f'- {H.RULE}']))
    secs += extra.get('head', [])
    secs.append(Section('BOCB table', [T.LEGEND, 'Values are seed means when there are several seeds '
                                       '(per-seed CIs in `bocb_table.csv`).'], bocb=True))
    if an.printed is not None:
        hdr = ['backbone'] + [f'{s} {k}' for s in ('mean', 'std', 'range') for k in ('printed', 'recomp.', 'diff')]
        rows = [[b] + [T.fmt(r[f'{s}_{k}']) for s in ('mean', 'std', 'range')
                       for k in ('printed', 'recomputed', 'diff')] for b, r in an.printed.iterrows()]
        conv = an.conventions
        secs.append(Section('Paper\'s printed bottom rows vs recomputed', [
            'The paper prints Mean and Std/Range rows "on statistics that removed the worst result '
            'for all models". Recomputed here from the paper\'s own table (drop worst, population '
            'std), they do not match: max |diff| mean '
            f'{an.printed["mean_diff"].abs().max():.2f}, std {an.printed["std_diff"].abs().max():.2f}, '
            f'range {an.printed["range_diff"].abs().max():.2f} points. No convention tried reproduces '
            'them (max |diff| per convention below).'], table=(hdr, rows)))
        secs.append(Section('Conventions tried', table=(list(conv.columns),
                                                        [[str(v) if isinstance(v, str) else T.fmt(v) if
                                                          isinstance(v, float) else str(v) for v in r]
                                                         for r in conv.itertuples(index=False)])))
    figures = {
        'performance_stability': ('Performance stability',
                                  'Distribution of each backbone\'s top-1 over optimizers (points coloured by '
                                  'optimizer category).'),
        'optimizer_generality': ('Optimizer generality',
                                 'Gap to the backbone\'s best result and rank, over backbones, per optimizer.'),
        'coupling_scores': ('Coupling scores',
                            'Backbone and optimizer coupling scores (bootstrap CIs when there are seeds).'),
        'hparam_robustness': ('Hyper-parameter robustness',
                              'Distance of each backbone\'s optimal (lr, wd) from the optimizer\'s mode setting.'),
        'weight_entropy_ridge': ('Layer-wise weight entropy',
                                 'Standardised weight distributions by layer (ridge plot) and histogram entropy.'),
    }
    for k in ('performance_stability', 'optimizer_generality', 'coupling_scores'):
        secs.append(Section(figures[k][0], [figures[k][1]], image=rel[k]))
    bcols = ['best_optimizer', 'best', 'worst_optimizer', 'worst', 'mean_drop_worst', 'std_drop_worst',
             'range_drop_worst', 'n_trivial', 'coupling', 'coupling_mean'] + [
                 c for c in an.backbones.columns if c.startswith('median[')]
    hdr, rows = _score_table(an.backbones, bcols, an.has_ci)
    hdr = [f'median {T.short_category(h[7:-1])}' if h.startswith('median[') else h for h in hdr]
    secs.append(Section('Backbone coupling scores', [an.rules['backbone_coupling']], table=(hdr, rows)))
    ocols = ['category', 'mean_rank', 'mean_gap', 'median_gap', 'worst_gap', 'coupling', 'n_top4', 'n_trivial']
    secs.append(Section('Optimizer generality and coupling', [an.rules['optimizer_coupling']],
                        table=_score_table(an.optimizers.sort_values('mean_rank'), ocols, an.has_ci)))
    secs += extra.get('tail', [])
    if hp_summary is not None:
        secs.append(Section(figures['hparam_robustness'][0], [figures['hparam_robustness'][1], H.RULE],
                            image=rel.get('hparam_robustness'),
                            table=_score_table(hp_summary.sort_values('mean_distance'), list(hp_summary.columns),
                                               False)))
    if entropy is not None and 'weight_entropy_ridge' in rel:
        g = entropy.groupby('checkpoint', sort=False)['entropy'].agg(['size', 'mean', 'min', 'max'])
        g.index.name = 'checkpoint'
        secs.append(Section(figures['weight_entropy_ridge'][0], [figures['weight_entropy_ridge'][1]],
                            image=rel['weight_entropy_ridge'],
                            table=_score_table(g.rename(columns={'size': 'layers'}).astype(float),
                                               ['layers', 'mean', 'min', 'max'], False)))
    return secs


def render_markdown(an: Analysis, secs: list[Section]) -> str:
    """Render the report as Markdown (images linked relatively).

    Args:
        an: The analysis.
        secs: Sections.

    Returns:
        Markdown text.
    """
    parts = ['# BOCB report\n']
    for s in secs:
        parts.append(f'## {s.title}\n')
        if s.text:
            parts.append(''.join(t + ('\n' if t.startswith('- ') else '\n\n') for t in s.text))
        if s.bocb:
            parts.append(T.markdown_table(['Optimizer', 'Cat.'] + list(an.matrix.columns), T.table_cells(an, 'md')))
        if s.image:
            parts.append(f'![{s.title}]({s.image})\n')
        if s.table:
            parts.append(T.markdown_table(s.table[0], s.table[1], 'l' * len(s.table[0])))
    return '\n'.join(parts)


_CSS = ('body{font-family:sans-serif;margin:2em;max-width:1500px} table{border-collapse:collapse;'
        'font-size:12px;margin:1em 0} td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}'
        ' td:first-child,th:first-child{text-align:left} .trivial{color:#999} img{max-width:100%}')


def _inline(text: str) -> str:
    """Escape a text line for HTML, turning ``**x**`` into bold and backticks into code.

    Args:
        text: One line.

    Returns:
        HTML.
    """
    import re
    t = html.escape(text)
    t = re.sub(r'\*\*(.+?)\*\*', r'<b>\1</b>', t)
    return re.sub(r'`(.+?)`', r'<code>\1</code>', t)


def render_html(an: Analysis, secs: list[Section], out: Path) -> str:
    """Render the report as self-contained HTML (figures embedded as base64 PNG).

    Args:
        an: The analysis.
        secs: Sections.
        out: Report folder, to resolve image paths.

    Returns:
        HTML text.
    """
    parts = ['<!DOCTYPE html><html><head><meta charset="utf-8"><title>BOCB report</title>',
             f'<style>{_CSS}</style></head><body><h1>BOCB report</h1>']
    for s in secs:
        parts.append(f'<h2>{html.escape(s.title)}</h2>')
        bullets = [t for t in s.text if t.startswith('- ')]
        for t in s.text:
            if not t.startswith('- '):
                parts.append(f'<p>{_inline(t)}</p>')
        if bullets:
            parts.append('<ul>' + ''.join(f'<li>{_inline(t[2:])}</li>' for t in bullets) + '</ul>')
        if s.bocb:
            parts.append(T.bocb_html(an))
        if s.image:
            data = base64.b64encode((out / s.image).read_bytes()).decode('ascii')
            parts.append(f'<img alt="{html.escape(s.title)}" src="data:image/png;base64,{data}">')
        if s.table:
            parts.append(T.html_table(s.table[0], s.table[1]))
    parts.append('</body></html>')
    return '\n'.join(parts)


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
    from .tuning import best_per_backbone
    hdr = ['backbone', 'optimizer', 'typical lr', 'chosen lr', 'wd', 'test top-1 (mean)',
           f'{level:.0%} CI (bootstrap)', 'seeds', 'diverged']
    rows = [[r['backbone'], r['optimizer'], f'{r["typical_lr"]:.3g}', f'{r["lr"]:.3g}',
             f'{r["weight_decay"]:.3g}', T.fmt(r['test_mean']),
             f'[{T.fmt(r["ci_low"])}, {T.fmt(r["ci_high"])}]', str(r['n_seeds']),
             str(r['n_diverged'])] for _, r in final.iterrows()]
    best = [f'- best on {r["backbone"]}: {r["optimizer"]} {T.fmt(r["test_mean"])} '
            f'[{T.fmt(r["ci_low"])}, {T.fmt(r["ci_high"])}] at lr {r["lr"]:.3g}'
            for _, r in best_per_backbone(final).iterrows()]
    return Section('Final table: chosen learning rate, test top-1 over seeds', [
        'Each cell trains the lr chosen on the validation split again with every final seed; '
        'test top-1 is its single evaluation at the end of training.'] + best,
        table=(hdr, rows))


def _differences_section(diffs: pd.DataFrame) -> Section:
    """The coupling-score differences whose bootstrap interval excludes zero.

    Args:
        diffs: Output of :func:`bocb_mm.analysis.tuning.coupling_differences`.

    Returns:
        The section.
    """
    from .coupling import RULES
    text = [RULES['differences'] + '.']
    for kind in ('backbone', 'optimizer'):
        d = diffs[diffs['kind'] == kind]
        text.append(f'- {kind} coupling: {int(d["exceeds_ci"].sum())} of {len(d)} pairwise '
                    'differences exceed their CI')
    sig = diffs[diffs['exceeds_ci']]
    rows = [[r['kind'], r['higher'], r['lower'], T.fmt(r['difference']),
             f'[{T.fmt(r["ci_low"])}, {T.fmt(r["ci_high"])}]'] for _, r in sig.iterrows()]
    return Section('Coupling differences larger than their CIs', text,
                   table=(['score', 'higher', 'lower', 'difference', 'CI'], rows) if rows else None)


def _tuned_parts(an: Analysis, protocol: dict[str, Any], tuning: pd.DataFrame | None,
                 out: Path, fig_dir: Path, files: dict[str, str]):
    """Tables, figures, sections and summary entries of a tuned grid.

    Args:
        an: Analysis of the final runs.
        protocol: The protocol's description (``diverged``: the runs that did not finish;
            ``chosen_without_signal``: pairs chosen with no grid point above the stall
            threshold).
        tuning: Tuning rows, or None.
        out: Report folder.
        fig_dir: Figure folder.
        files: Output name -> relative path (updated).

    Returns:
        ``(extra sections, summary entries, figures)``.
    """
    from . import tuning as TU
    final = TU.final_table(an, protocol.get('diverged', []))
    if tuning is not None:
        typical = tuning.groupby(['backbone', 'optimizer'])['typical_lr'].first()
        final['typical_lr'] = [typical.get((b, o), np.nan)
                               for b, o in zip(final['backbone'], final['optimizer'])]
    else:
        final['typical_lr'] = np.nan
    diffs = TU.coupling_differences(an)
    final.to_csv(out / 'final_table.csv', index=False, float_format='%.6g')
    diffs.to_csv(out / 'coupling_differences.csv', index=False, float_format='%.4f')
    files.update({'final_table.csv': 'final_table.csv',
                  'coupling_differences.csv': 'coupling_differences.csv'})
    figs: dict[str, Path] = {}
    if tuning is not None:
        for b in [b for b in an.results.backbones if b in set(tuning['backbone'])]:
            figs[f'lr_sensitivity:{b}'] = F.plot_lr_sensitivity(tuning, b, an.categories,
                                                                an.category_order, fig_dir)
    described = {k: v for k, v in protocol.items()
                 if k not in ('diverged', 'chosen_without_signal')}
    diverged = protocol.get('diverged', [])
    head = [Section('Tuning protocol', _bullets(described)), _final_section(final, an.level),
            Section('Diverged runs', [f'{len(diverged)} run(s) stopped on a non-finite loss (or '
                                      'failed); they are not averaged into any cell.'],
                    table=(['backbone', 'optimizer', 'stage', 'seed', 'lr', 'status'],
                           [[str(d.get(k)) for k in ('backbone', 'optimizer', 'stage', 'seed', 'lr',
                                                      'status')] for d in diverged])
                    if diverged else None)]
    blind = protocol.get('chosen_without_signal') or []
    if blind:
        head.append(Section('Choices without signal', [
            f'{len(blind)} pair(s) had no grid point above the stall threshold on validation; '
            'each took its smallest lr that trained when a point of its grid diverged, else its '
            'largest (see the protocol).'],
            table=(['backbone', 'optimizer', 'chosen lr', 'grid (lr: validation top-1)'],
                   [[c['backbone'], c['optimizer'], f'{c["lr"]:g}',
                     ', '.join(f'{lr:g}: {v:.1f}' if isinstance(v, float) else f'{lr:g}: {v}'
                               for lr, v in c['grid'])] for c in blind])))
    tail = [_differences_section(diffs)] + [
        Section(f'Learning-rate sensitivity: {k.split(":", 1)[1]}', [
            'Validation top-1 of every grid point (x: lr over the optimizer\'s typical lr).'],
            image=str(p.relative_to(out))) for k, p in figs.items()]
    summary = {'protocol': protocol,
               'final_table': final.to_dict(orient='records'),
               'coupling_differences': {
                   'rule': TU.C.RULES['differences'],
                   'n_pairs': {k: int((diffs['kind'] == k).sum()) for k in ('backbone', 'optimizer')},
                   'exceeding_ci': diffs[diffs['exceeds_ci']].to_dict(orient='records')}}
    return {'head': head, 'tail': tail}, summary, figs


def make_report(results: str | Path | ResultSet, out: str | Path,
                hparams: str | Path | None | bool = None, checkpoints: Sequence | None = None,
                checkpoint_labels: Sequence[str] | None = None, n_boot: int = 1000,
                level: float = 0.95, seed: int = 0, log: Log = _noop,
                protocol: dict[str, Any] | None = None,
                tuning: str | Path | pd.DataFrame | None = None) -> dict[str, Any]:
    """Analyse results and write the whole report into a folder.

    Args:
        results: A results CSV (long or wide format) or a loaded :class:`ResultSet`.
        out: Output folder (created).
        hparams: Optimal lr / wd table: a path; None = automatic (the sweep's own ``lr`` /
            ``weight_decay`` columns, else the paper's ``cifar100_hparams.csv`` when the input is
            the paper's CIFAR-100 table); False = no hyper-parameter figure.
        checkpoints: Checkpoint paths or state dicts for the weight-entropy ridge plot.
        checkpoint_labels: Names of the checkpoints.
        n_boot: Bootstrap replicates (used when cells have several seeds).
        level: CI coverage.
        seed: Bootstrap seed.
        log: Receives progress lines.
        protocol: For a tuned grid (``results`` = the final runs of each pair's chosen setting):
            the protocol's description, shown in the report and ``summary.json``; its
            ``diverged`` entry lists the runs that did not finish. Adds the final table and the
            coupling differences larger than their CIs.
        tuning: The protocol's tuning rows (``tuning.csv`` or frame): adds one lr-sensitivity
            figure per backbone.

    Returns:
        The summary dict (also written to ``summary.json``).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    fig_dir = out / 'figures'
    res = results if isinstance(results, ResultSet) else load_results(results)
    log(f'loaded {res.source or "results"}: {res.fmt} format, {len(res.backbones)} backbones x '
        f'{len(res.optimizers)} optimizers, {len(res.runs)} runs')
    an = analyze(res, n_boot=n_boot, level=level, seed=seed)
    log('analysis done' + (f' (bootstrap CIs, {an.n_boot} replicates)' if an.has_ci else ' (single seed per cell: no CIs)'))
    files = {k: p.name for k, p in T.write_tables(an, out).items()}
    log(f'tables written: {", ".join(sorted(files))}')

    figs: dict[str, Path] = {}
    figs['performance_stability'] = F.plot_performance_stability(an.cells, res.backbones, an.categories,
                                                                 an.category_order, fig_dir)
    figs['optimizer_generality'] = F.plot_optimizer_generality(an.cells, res.optimizers, an.categories,
                                                               an.category_order, fig_dir)
    figs['coupling_scores'] = F.plot_coupling_scores(an.backbones, an.optimizers, an.category_order, fig_dir)

    hp_summary = None
    hp_frame = None
    if hparams is not False:
        if hparams is not None:
            hp_frame = H.load_hparams(hparams)
        else:
            hp_frame = H.hparams_from_results(res.runs)
            if hp_frame is None and an.printed is not None:  # input is the paper's CIFAR-100 table
                hp_frame = H.load_hparams(paper.CIFAR100_HPARAMS)
    if hp_frame is not None:
        dist = H.hparam_distance(hp_frame)
        hp_summary = H.robustness_summary(dist)
        cats = dict(an.categories)
        missing = [o for o in dict.fromkeys(dist['optimizer']) if o not in cats]
        if missing:
            from .zoo_lookup import optimizer_categories
            cats.update(optimizer_categories(missing))
        figs['hparam_robustness'] = F.plot_hparam_robustness(dist, res.optimizers, cats, an.category_order, fig_dir)
        dist.to_csv(out / 'hparam_distance.csv', index=False, float_format='%.6g')
        hp_summary.to_csv(out / 'hparam_robustness.csv', float_format='%.6g')
        files['hparam_distance.csv'] = 'hparam_distance.csv'
        files['hparam_robustness.csv'] = 'hparam_robustness.csv'

    entropy = None
    if checkpoints:
        from . import entropy as E
        loaded = E.load_checkpoints(checkpoints, checkpoint_labels)
        names = [n for n, _ in loaded]
        sds = [sd for _, sd in loaded]
        entropy = E.layer_entropy(sds, names)
        layers, dens = E.layer_histograms(sds, names)
        figs['weight_entropy_ridge'] = F.plot_weight_entropy_ridge(layers, dens, entropy, fig_dir)
        entropy.to_csv(out / 'weight_entropy.csv', index=False, float_format='%.6g')
        files['weight_entropy.csv'] = 'weight_entropy.csv'
    extra, tuned = None, None
    if protocol is not None:
        from .tuning import load_tuning
        frame = load_tuning(tuning) if tuning is not None else None
        extra, tuned, tuned_figs = _tuned_parts(an, protocol, frame, out, fig_dir, files)
        figs.update(tuned_figs)
    log(f'figures written: {", ".join(sorted(figs))}')
    for k, p in figs.items():
        files[f'figure:{k}'] = str(p.relative_to(out))

    secs = build_sections(an, figs, hp_summary, entropy, out, extra)
    (out / 'report.md').write_text(render_markdown(an, secs), encoding='utf-8')
    (out / 'report.html').write_text(render_html(an, secs, out), encoding='utf-8')
    files['report.md'] = 'report.md'
    files['report.html'] = 'report.html'
    files['summary.json'] = 'summary.json'
    summary = build_summary(an, hp_summary, entropy, files, tuned)
    (out / 'summary.json').write_text(json.dumps(summary, indent=2), encoding='utf-8')
    log(f'report written: {out / "report.md"}, {out / "report.html"}, {out / "summary.json"}')
    return summary


def short_summary(summary: dict[str, Any], n: int = 3) -> str:
    """A few lines for the terminal.

    Args:
        summary: Output of :func:`make_report`.
        n: How many items in each top / bottom list.

    Returns:
        The text.
    """
    inp = summary['input']
    bc = {k: v for k, v in summary['coupling_scores']['backbone'].items() if v is not None}
    ob = summary['optimizers']
    by_rank = sorted(ob, key=lambda o: ob[o]['generality']['mean_rank'] or 1e9)
    strong = sorted(bc, key=bc.get, reverse=True)
    lines = [f'BOCB summary: {inp["n_backbones"]} backbones x {inp["n_optimizers"]} optimizers '
             f'({inp["format"]} format, seeds per cell {inp["seeds_per_cell"]["min"]}-{inp["seeds_per_cell"]["max"]})',
             'strongest backbone coupling: ' + ', '.join(f'{b} {bc[b]:.2f}' for b in strong[:n]),
             'weakest backbone coupling:   ' + ', '.join(f'{b} {bc[b]:.2f}' for b in strong[::-1][:n]),
             'most general optimizers (mean rank): '
             + ', '.join(f'{o} {ob[o]["generality"]["mean_rank"]:.2f}' for o in by_rank[:n]),
             'least general optimizers (mean rank): '
             + ', '.join(f'{o} {ob[o]["generality"]["mean_rank"]:.2f}' for o in by_rank[::-1][:n])]
    pp = summary.get('paper_printed_bottom_rows')
    if pp:
        d = pp['max_abs_diff']
        lines.append(f'paper printed bottom rows vs recomputed: max |diff| mean {d["mean"]:.2f}, '
                     f'std {d["std"]:.2f}, range {d["range"]:.2f}')
    return '\n'.join(lines)
