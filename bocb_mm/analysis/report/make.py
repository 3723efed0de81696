"""Write the whole report into a folder: tables, figures, ``report.md``, ``report.html``,
``summary.json``."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from .. import figures, paper
from ..core import Analysis, analyze, optimizer_categories
from ..entropy import layer_entropy, layer_histograms, load_checkpoints
from ..hparams import hparam_distance, hparams_from_results, load_hparams, robustness_summary
from ..io import ResultSet, load_results
from ..post_paper import (PostPaperComparison, compare_post_paper, extended_replicates,
                          split_post_paper, suite)
from ..profiles import PerformanceProfile, performance_profile
from ..tables import write_tables
from ..tuning import coupling_differences, final_table, load_tuning
from .render import render_html, render_markdown
from .sections import build_sections, tuned_sections
from .summary import build_summary, tuned_entries

Log = Callable[[str], None]


def _noop(_: str) -> None:
    """Discard a progress line."""


@dataclass
class Written:
    """What the report has written so far.

    Attributes:
        out: Report folder.
        files: Output name -> path relative to ``out`` (``summary.json``'s ``files``).
        figs: Figure name -> PNG path, in the order they were drawn.
    """

    out: Path
    files: dict[str, str] = field(default_factory=dict)
    figs: dict[str, Path] = field(default_factory=dict)

    @property
    def fig_dir(self) -> Path:
        """Where the figures go."""
        return self.out / 'figures'

    def csv(self, frame: pd.DataFrame, name: str, **to_csv: Any) -> None:
        """Write a table into the report folder and list it.

        Args:
            frame: The table.
            name: File name.
            **to_csv: Passed to :meth:`pandas.DataFrame.to_csv`.
        """
        frame.to_csv(self.out / name, **to_csv)
        self.files[name] = name


def _core_figures(an: Analysis, written: Written) -> None:
    """Draw the figures every report has: stability, generality, coupling scores."""
    res = an.results
    written.figs['performance_stability'] = figures.plot_performance_stability(
        an.cells, res.backbones, an.categories, an.category_order, written.fig_dir)
    written.figs['optimizer_generality'] = figures.plot_optimizer_generality(
        an.cells, res.optimizers, an.categories, an.category_order, written.fig_dir)
    written.figs['coupling_scores'] = figures.plot_coupling_scores(
        an.backbones, an.optimizers, an.category_order, written.fig_dir)


def _hparam_frame(an: Analysis, hparams: str | Path | None | bool) -> pd.DataFrame | None:
    """The optimal lr / wd table the hyper-parameter figure is drawn from, or None.

    Args:
        an: The analysis.
        hparams: As :func:`make_report` takes it.

    Returns:
        The table, or None when there is none (or ``hparams`` is False).
    """
    if hparams is False:
        return None
    if hparams is not None:
        return load_hparams(hparams)
    frame = hparams_from_results(an.results.runs)
    if frame is None and an.printed is not None:  # input is the paper's CIFAR-100 table
        frame = load_hparams(paper.CIFAR100_HPARAMS)
    return frame


def _hparam_outputs(an: Analysis, frame: pd.DataFrame, written: Written) -> pd.DataFrame:
    """Distances from the mode setting, their summary and figure.

    Args:
        an: The analysis.
        frame: Optimal lr / wd per backbone and optimizer.
        written: Updated with the tables and the figure.

    Returns:
        The per-optimizer robustness summary.
    """
    dist = hparam_distance(frame)
    hp_summary = robustness_summary(dist)
    categories = dict(an.categories)
    missing = [o for o in dict.fromkeys(dist['optimizer']) if o not in categories]
    if missing:
        categories.update(optimizer_categories(missing))
    written.figs['hparam_robustness'] = figures.plot_hparam_robustness(
        dist, an.results.optimizers, categories, an.category_order, written.fig_dir)
    written.csv(dist, 'hparam_distance.csv', index=False, float_format='%.6g')
    written.csv(hp_summary, 'hparam_robustness.csv', float_format='%.6g')
    return hp_summary


def _entropy_outputs(checkpoints: Sequence, labels: Sequence[str] | None,
                     written: Written) -> pd.DataFrame:
    """Per-layer weight entropy of checkpoints, its table and ridge plot.

    Args:
        checkpoints: Checkpoint paths or state dicts.
        labels: Their names.
        written: Updated with the table and the figure.

    Returns:
        The per-layer entropy.
    """
    loaded = load_checkpoints(checkpoints, labels)
    names = [name for name, _ in loaded]
    state_dicts = [sd for _, sd in loaded]
    entropy = layer_entropy(state_dicts, names)
    layers, densities = layer_histograms(state_dicts, names)
    written.figs['weight_entropy_ridge'] = figures.plot_weight_entropy_ridge(
        layers, densities, entropy, written.fig_dir)
    written.csv(entropy, 'weight_entropy.csv', index=False, float_format='%.6g')
    return entropy


def _with_typical_lr(final: pd.DataFrame, tuning: pd.DataFrame | None) -> pd.DataFrame:
    """Add each pair's typical lr (from the tuning rows; NaN without them) to the final table."""
    if tuning is None:
        final['typical_lr'] = np.nan
        return final
    typical = tuning.groupby(['backbone', 'optimizer'])['typical_lr'].first()
    final['typical_lr'] = [typical.get((b, o), np.nan)
                           for b, o in zip(final['backbone'], final['optimizer'])]
    return final


def _profile_outputs(an_all: Analysis, post: list[str],
                     written: Written) -> PerformanceProfile:
    """Performance profiles of every optimizer present: table and figure.

    Args:
        an_all: Analysis of all optimizers (post-paper ones included).
        post: The post-paper optimizers.
        written: Updated with ``performance_profiles.csv`` and the figure.

    Returns:
        The profile; its table gains ``suite`` and ``category`` columns.
    """
    profile = performance_profile(an_all.matrix)
    table = profile.table
    table.insert(0, 'category', [an_all.categories[o] for o in table.index])
    table.insert(0, 'suite', [suite(o) for o in table.index])
    written.csv(table, 'performance_profiles.csv', float_format='%.6g')
    written.figs['performance_profiles'] = figures.plot_performance_profiles(
        profile.ratios, table['area'], profile.tau_max, an_all.categories,
        an_all.category_order, post, written.fig_dir)
    return profile


def _post_paper_outputs(an_all: Analysis, post: list[str],
                        written: Written) -> PostPaperComparison | None:
    """The post-paper optimizers against the paper's: ``post_paper_optimizers.csv``.

    Returns:
        The comparison, or None without post-paper optimizers.
    """
    if not post:
        return None
    comparison = compare_post_paper(an_all, post)
    written.csv(comparison.table, 'post_paper_optimizers.csv', float_format='%.6g')
    return comparison


def _tuned_outputs(an: Analysis, an_all: Analysis, protocol: dict[str, Any],
                   tuning: pd.DataFrame | None,
                   written: Written) -> tuple[dict[str, list], dict[str, Any]]:
    """Tables, figures, sections and summary entries of a tuned grid.

    The final table and the lr-sensitivity figures show every pair that was trained; the
    coupling differences are the main analysis's.

    Args:
        an: Main analysis of the final runs (the paper's optimizers).
        an_all: Analysis of every optimizer's final runs (``an`` without post-paper ones).
        protocol: The protocol's description (see :func:`make_report`).
        tuning: Tuning rows, or None.
        written: Updated with the tables and the lr-sensitivity figures.

    Returns:
        ``(extra sections, summary entries)``.
    """
    final = _with_typical_lr(final_table(an_all, protocol.get('diverged', [])), tuning)
    diffs = coupling_differences(an)
    written.csv(final, 'final_table.csv', index=False, float_format='%.6g')
    written.csv(diffs, 'coupling_differences.csv', index=False, float_format='%.4f')
    sensitivity: dict[str, Path] = {}
    if tuning is not None:
        tuned_backbones = set(tuning['backbone'])
        for b in [b for b in an.results.backbones if b in tuned_backbones]:
            sensitivity[f'lr_sensitivity:{b}'] = figures.plot_lr_sensitivity(
                tuning, b, an_all.categories, an_all.category_order, written.fig_dir)
    written.figs.update(sensitivity)
    extra = tuned_sections(an, protocol, final, diffs, sensitivity, written.out)
    return extra, tuned_entries(protocol, final, diffs)


def _write_documents(an: Analysis, hp_summary: pd.DataFrame | None,
                     entropy: pd.DataFrame | None, extra: dict[str, list] | None,
                     tuned: dict[str, Any] | None, profile: PerformanceProfile,
                     post_paper: PostPaperComparison | None, written: Written) -> dict[str, Any]:
    """Write ``report.md``, ``report.html`` and ``summary.json``.

    Returns:
        The summary.
    """
    out = written.out
    secs = build_sections(an, written.figs, hp_summary, entropy, out, extra, profile,
                          post_paper)
    (out / 'report.md').write_text(render_markdown(an, secs), encoding='utf-8')
    (out / 'report.html').write_text(render_html(an, secs, out), encoding='utf-8')
    for name in ('report.md', 'report.html', 'summary.json'):
        written.files[name] = name
    summary = build_summary(an, hp_summary, entropy, written.files, tuned, profile, post_paper)
    (out / 'summary.json').write_text(json.dumps(summary, indent=2), encoding='utf-8')
    return summary


def make_report(results: str | Path | ResultSet, out: str | Path,
                hparams: str | Path | None | bool = None, checkpoints: Sequence | None = None,
                checkpoint_labels: Sequence[str] | None = None, n_boot: int = 1000,
                level: float = 0.95, seed: int = 0, log: Log = _noop,
                protocol: dict[str, Any] | None = None,
                tuning: str | Path | pd.DataFrame | None = None) -> dict[str, Any]:
    """Analyse results and write the whole report into a folder.

    The main analysis (BOCB table, scores, their figures) keeps the paper's optimizers; the
    post-paper ones (``bocb_mm.optim.zoo`` suite ``'post-paper'``), when present, are compared
    with them in their own section (:mod:`bocb_mm.analysis.post_paper`), and the performance
    profiles (:mod:`bocb_mm.analysis.profiles`) include every optimizer.

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
            ``diverged`` entry lists the runs that did not finish, its ``chosen_without_signal``
            entry the pairs chosen with no grid point above the stall threshold. Adds the final
            table (every pair trained) and the coupling differences larger than their CIs.
        tuning: The protocol's tuning rows (``tuning.csv`` or frame): adds one lr-sensitivity
            figure per backbone.

    Returns:
        The summary dict (also written to ``summary.json``).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    res = results if isinstance(results, ResultSet) else load_results(results)
    log(f'loaded {res.source or "results"}: {res.fmt} format, {len(res.backbones)} backbones x '
        f'{len(res.optimizers)} optimizers, {len(res.runs)} runs')
    main, post = split_post_paper(res)
    an = analyze(main, n_boot=n_boot, level=level, seed=seed)
    an_all = an if main is res else analyze(
        res, n_boot=n_boot, level=level, seed=seed,
        replicates=extended_replicates(an, res, n_boot, seed))
    log('analysis done' + (f' (bootstrap CIs, {an.n_boot} replicates)' if an.has_ci
                           else ' (single seed per cell: no CIs)')
        + (f'; post-paper optimizers apart: {", ".join(post)}' if post else ''))
    written = Written(out, {k: p.name for k, p in write_tables(an, out).items()})
    log(f'tables written: {", ".join(sorted(written.files))}')

    _core_figures(an, written)
    hp_frame = _hparam_frame(an, hparams)
    hp_summary = _hparam_outputs(an, hp_frame, written) if hp_frame is not None else None
    entropy = _entropy_outputs(checkpoints, checkpoint_labels, written) if checkpoints else None
    profile = _profile_outputs(an_all, post, written)
    post_paper = _post_paper_outputs(an_all, post, written)
    extra, tuned = None, None
    if protocol is not None:
        frame = load_tuning(tuning) if tuning is not None else None
        extra, tuned = _tuned_outputs(an, an_all, protocol, frame, written)
    log(f'figures written: {", ".join(sorted(written.figs))}')
    for k, p in written.figs.items():
        written.files[f'figure:{k}'] = str(p.relative_to(out))

    summary = _write_documents(an, hp_summary, entropy, extra, tuned, profile, post_paper,
                               written)
    log(f'report written: {out / "report.md"}, {out / "report.html"}, {out / "summary.json"}')
    return summary
