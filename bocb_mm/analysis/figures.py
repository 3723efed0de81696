"""Figures of the BOCB report (matplotlib Agg backend, fixed size and dpi).

Each figure has a fixed pixel size ``FIGURES[name] = (width_in, height_in, dpi)`` and is saved
without ``bbox_inches='tight'``, so the PNG is exactly ``width_in*dpi x height_in*dpi`` pixels.
"""
from __future__ import annotations

import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

FIGURES: dict[str, tuple[float, float, int]] = {
    'performance_stability': (14, 6, 100),
    'optimizer_generality': (14, 9, 100),
    'hparam_robustness': (14, 6, 100),
    'coupling_scores': (14, 9, 100),
    'weight_entropy_ridge': (12, 10, 100),
    'lr_sensitivity': (16, 5, 100),
    'performance_profiles': (14, 7, 100),
}
"""Figure name -> (width in inches, height in inches, dpi)."""


@contextmanager
def _quiet_plotting():
    """Silence seaborn's internal matplotlib deprecation warnings (e.g. ``vert``)."""
    with warnings.catch_warnings():
        warnings.filterwarnings('ignore', category=DeprecationWarning)
        warnings.filterwarnings('ignore', category=PendingDeprecationWarning)
        warnings.filterwarnings('ignore', message='.*vert: bool was deprecated.*')
        yield


def _legend_on_top(fig, ax, title: str) -> None:
    """Move an axes' legend above the plot, outside it, in one row.

    Args:
        fig: The figure (constrained layout).
        ax: Axes whose handles to use.
        title: Legend title.
    """
    handles, labels = ax.get_legend_handles_labels()
    if ax.get_legend() is not None:
        ax.get_legend().remove()
    if handles:
        fig.legend(handles, labels, title=title, loc='outside upper center',
                   ncols=max(len(labels), 1), fontsize=8, title_fontsize=8, frameon=False)


def pixel_size(name: str) -> tuple[int, int]:
    """Pixel size (width, height) of a figure's PNG.

    Args:
        name: Key of :data:`FIGURES`.

    Returns:
        ``(width, height)`` in pixels.
    """
    w, h, dpi = FIGURES[name]
    return int(round(w * dpi)), int(round(h * dpi))


def _plt():
    """Import pyplot on the Agg backend.

    Returns:
        The ``matplotlib.pyplot`` module.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    return plt


def _figure(name: str, **kw):
    """New figure of the registered size.

    Args:
        name: Key of :data:`FIGURES`.
        **kw: Passed to ``plt.subplots``.

    Returns:
        ``(fig, axes)``.
    """
    w, h, dpi = FIGURES[name]
    return _plt().subplots(figsize=(w, h), dpi=dpi, layout='constrained', **kw)


def _save(fig, name: str, out: Path, stem: str | None = None) -> Path:
    """Save a figure as ``out/<stem or name>.png`` at its registered dpi and close it.

    Args:
        fig: The figure.
        name: Key of :data:`FIGURES`.
        out: Folder.
        stem: File name without extension (default: ``name``).

    Returns:
        The PNG path.
    """
    out.mkdir(parents=True, exist_ok=True)
    path = out / f'{stem or name}.png'
    fig.savefig(path, dpi=FIGURES[name][2])
    _plt().close(fig)
    return path


def category_palette(categories: Sequence[str]) -> dict[str, tuple]:
    """One colour per category (tab10 order).

    Args:
        categories: Category labels in display order.

    Returns:
        Label -> RGB tuple.
    """
    import matplotlib
    cmap = matplotlib.colormaps['tab10']
    return {c: cmap(i % 10)[:3] for i, c in enumerate(categories)}


def _cells_with_category(cells: pd.DataFrame, categories: dict[str, str]) -> pd.DataFrame:
    """Cells with a ``category`` column.

    Args:
        cells: Long frame with an ``optimizer`` column.
        categories: Optimizer -> category.

    Returns:
        The frame with ``category``.
    """
    if 'category' not in cells.columns:
        cells = cells.assign(category=[categories.get(o, '?') for o in cells['optimizer']])
    return cells


def _violin(sns, cells: pd.DataFrame, backbones: Sequence[str], category_order: Sequence[str],
            ax) -> None:
    """Draw the violins and the per-optimizer points.

    Args:
        sns: The seaborn module.
        cells: Long frame with ``backbone, top1, category``.
        backbones: Backbone order.
        category_order: Category order.
        ax: Target axes.
    """
    sns.violinplot(data=cells, x='backbone', y='top1', order=list(backbones), ax=ax, inner='quart',
                   color='#d9e6f2', cut=0, density_norm='width', linewidth=0.8)
    sns.stripplot(data=cells, x='backbone', y='top1', order=list(backbones), hue='category',
                  hue_order=list(category_order), palette=category_palette(category_order), ax=ax,
                  size=3.5, jitter=0.15, alpha=0.85)


def plot_performance_stability(cells: pd.DataFrame, backbones: Sequence[str],
                               categories: dict[str, str], category_order: Sequence[str],
                               out: Path) -> Path:
    """Violin plot: each backbone's top-1 distribution over optimizers (points by category).

    Args:
        cells: Long frame ``optimizer, backbone, top1``.
        backbones: Backbone order.
        categories: Optimizer -> category.
        category_order: Category order.
        out: Folder.

    Returns:
        The PNG path.
    """
    import seaborn as sns
    name = 'performance_stability'
    cells = _cells_with_category(cells, categories)
    fig, ax = _figure(name)
    with _quiet_plotting():
        _violin(sns, cells, backbones, category_order, ax)
    ax.set_title('Performance stability: top-1 of each backbone over optimizers')
    ax.set_xlabel('backbone')
    ax.set_ylabel('top-1 accuracy (%)')
    ax.tick_params(axis='x', rotation=45)
    ax.grid(axis='y', alpha=0.3)
    _legend_on_top(fig, ax, 'optimizer category')
    return _save(fig, name, out)


def plot_optimizer_generality(cells: pd.DataFrame, optimizers: Sequence[str],
                              categories: dict[str, str], category_order: Sequence[str],
                              out: Path) -> Path:
    """Box plots per optimizer over backbones: gap to the backbone's best (top) and rank (bottom).

    Args:
        cells: Long frame ``optimizer, backbone, gap_to_best, rank``.
        optimizers: Optimizer order.
        categories: Optimizer -> category.
        category_order: Category order.
        out: Folder.

    Returns:
        The PNG path.
    """
    import seaborn as sns
    name = 'optimizer_generality'
    cells = _cells_with_category(cells, categories)
    pal = category_palette(category_order)
    fig, (ax1, ax2) = _figure(name, nrows=2, sharex=True)
    for ax, col, label in ((ax1, 'gap_to_best', 'gap to backbone best (points, symlog)'),
                           (ax2, 'rank', 'rank on backbone (1 = best)')):
        with _quiet_plotting():
            sns.boxplot(data=cells, x='optimizer', y=col, order=list(optimizers), hue='category',
                        hue_order=list(category_order), palette=pal, ax=ax, dodge=False,
                        fliersize=2.5, linewidth=0.8, legend=ax is ax1)
        ax.set_ylabel(label)
        ax.grid(axis='y', alpha=0.3)
    ax1.set_yscale('symlog', linthresh=5)
    top = float(np.nanmax(cells['gap_to_best'].to_numpy(float), initial=1.0))
    ax1.set_ylim(0, max(top, 5.0) * 1.15)
    ax1.set_title('Optimizer generality over backbones (lower = more general)')
    _legend_on_top(fig, ax1, 'optimizer category')
    ax2.invert_yaxis()
    ax2.set_xlabel('optimizer')
    ax2.tick_params(axis='x', rotation=45)
    return _save(fig, name, out)


def plot_hparam_robustness(dist: pd.DataFrame, optimizers: Sequence[str],
                           categories: dict[str, str], category_order: Sequence[str],
                           out: Path) -> Path:
    """Box plot per optimizer of the backbones' distance from its mode (lr, wd) setting.

    Args:
        dist: Output of :func:`bocb_mm.analysis.hparams.hparam_distance`.
        optimizers: Optimizer order (those absent from ``dist`` are skipped).
        categories: Optimizer -> category.
        category_order: Category order.
        out: Folder.

    Returns:
        The PNG path.
    """
    import seaborn as sns
    name = 'hparam_robustness'
    dist = _cells_with_category(dist, categories)
    order = [o for o in optimizers if o in set(dist['optimizer'])]
    order += [o for o in dict.fromkeys(dist['optimizer']) if o not in order]
    cats = [c for c in category_order if c in set(dist['category'])]
    cats += [c for c in dict.fromkeys(dist['category']) if c not in cats]
    pal = category_palette(cats)
    fig, ax = _figure(name)
    with _quiet_plotting():
        sns.boxplot(data=dist, x='optimizer', y='distance', order=order, hue='category',
                    hue_order=cats, palette=pal, ax=ax, dodge=False, fliersize=0, linewidth=0.8)
        sns.stripplot(data=dist, x='optimizer', y='distance', order=order, color='k', size=2.5,
                      jitter=0.2, alpha=0.6, ax=ax)
    ax.set_title('Hyper-parameter robustness: distance of each backbone\'s optimal (lr, wd) '
                 'from the optimizer\'s mode setting')
    ax.set_ylabel('|log10 lr/lr_mode| + |log10 wd/wd_mode|  (decades)')
    ax.set_xlabel('optimizer')
    ax.tick_params(axis='x', rotation=45)
    ax.grid(axis='y', alpha=0.3)
    _legend_on_top(fig, ax, 'optimizer category')
    return _save(fig, name, out)


def plot_coupling_scores(backbones: pd.DataFrame, optimizers: pd.DataFrame,
                         category_order: Sequence[str], out: Path) -> Path:
    """Bar charts of the backbone coupling scores and the optimizer coupling scores (CIs if any).

    Args:
        backbones: Per-backbone table with ``coupling`` (and ``coupling_ci_low/high``).
        optimizers: Per-optimizer table with ``category``, ``coupling`` (and CI columns).
        category_order: Category order.
        out: Folder.

    Returns:
        The PNG path.
    """
    name = 'coupling_scores'
    pal = category_palette(category_order)
    fig, (ax1, ax2) = _figure(name, nrows=2)
    for ax, tab, colors, title in (
            (ax1, backbones, ['#4c72b0'] * len(backbones),
             'Backbone coupling score: range over optimizer categories of the category-median '
             'top-1 (points)'),
            (ax2, optimizers, [pal.get(c, (0.5, 0.5, 0.5)) for c in optimizers['category']],
             'Optimizer coupling score: std over backbones of the gap to best (points)')):
        y = tab['coupling'].to_numpy(float)
        err = None
        if 'coupling_ci_low' in tab.columns:
            err = np.vstack([y - tab['coupling_ci_low'].to_numpy(float),
                             tab['coupling_ci_high'].to_numpy(float) - y])
            err = np.clip(np.nan_to_num(err), 0, None)
        ax.bar(np.arange(len(y)), y, color=colors, yerr=err, capsize=2)
        ax.set_xticks(np.arange(len(y)), [str(i) for i in tab.index], rotation=45, ha='right')
        ax.set_title(title)
        ax.grid(axis='y', alpha=0.3)
    from matplotlib.patches import Patch
    fig.legend(handles=[Patch(color=pal[c], label=c) for c in category_order],
               title='optimizer category', fontsize=8, title_fontsize=8,
               ncols=max(len(category_order), 1), loc='outside lower center', frameon=False)
    return _save(fig, name, out)


def plot_weight_entropy_ridge(layers: list[str],
                              densities: dict[str, list[tuple[np.ndarray, np.ndarray]]],
                              entropy: pd.DataFrame, out: Path) -> Path:
    """Ridge (joy) plot of standardised weight distributions by layer, with per-layer entropy.

    Args:
        layers: Layer names, top to bottom (from
            :func:`~bocb_mm.analysis.entropy.layer_histograms`).
        densities: Checkpoint -> one ``(x, density)`` per layer.
        entropy: Output of :func:`~bocb_mm.analysis.entropy.layer_entropy`.
        out: Folder.

    Returns:
        The PNG path.
    """
    import matplotlib
    name = 'weight_entropy_ridge'
    fig, (ax, axe) = _figure(name, ncols=2, gridspec_kw={'width_ratios': [3, 1.3]}, sharey=True)
    cmap = matplotlib.colormaps['tab10']
    n = len(layers)
    for ci, (ck, rows) in enumerate(densities.items()):
        color = cmap(ci % 10)
        for li, (x, d) in enumerate(rows):
            if len(x) == 0:
                continue
            base = n - 1 - li
            peak = max((r[li][1].max() for r in densities.values() if len(r[li][1])),
                       default=1.0) or 1.0
            yy = base + 0.9 * d / peak
            ax.fill_between(x, base, yy, color=color, alpha=0.25, lw=0)
            ax.plot(x, yy, color=color, lw=1, label=ck if li == 0 else None)
        ent = entropy[entropy['checkpoint'] == ck].set_index('layer')['entropy']
        ys = [n - 1 - li for li, lay in enumerate(layers) if lay in ent.index]
        xs = [ent[lay] for lay in layers if lay in ent.index]
        axe.plot(xs, ys, 'o-', color=color, ms=3, lw=1, label=ck)
    short = [lay if len(lay) <= 34 else '\u2026' + lay[-33:] for lay in layers]
    ax.set_yticks(np.arange(n)[::-1], short, fontsize=7)
    ax.set_xlim(-4, 4)
    ax.set_xlabel('weight value (standardised per layer, std units)')
    ax.set_title('Layer-wise weight distributions')
    ax.legend(fontsize=8, loc='upper right')
    axe.set_xlabel('histogram entropy (bits)')
    axe.set_title('Layer-wise weight entropy')
    axe.grid(alpha=0.3)
    return _save(fig, name, out)


def _sensitivity_lines(ax, rows: pd.DataFrame, stage: str, color) -> None:
    """One optimizer's curves on a sensitivity panel.

    Args:
        ax: Target axes.
        rows: The optimizer's tuning rows (one backbone).
        stage: Stage whose scores form the line (every grid point has one).
        color: Line colour.
    """
    line = rows[rows['stage'] == stage].sort_values('lr')
    x = (line['lr'] / line['typical_lr']).to_numpy(float)
    ok = line['status'].eq('finished').to_numpy()
    name = f'{rows["optimizer"].iloc[0]} ({rows["typical_lr"].iloc[0]:.2g})'
    ax.plot(x[ok], line['val_top1'].to_numpy(float)[ok], 'o-', color=color, ms=4, lw=1.3,
            label=name)
    if (~ok).any():
        ax.plot(x[~ok], np.zeros((~ok).sum()), 'x', color=color, ms=8, mew=2)
    if stage == 'rung0':
        full = rows[(rows['stage'] == 'rung1') & rows['status'].eq('finished')]
        ax.plot(full['lr'] / full['typical_lr'], full['val_top1'], '^', color=color, ms=6,
                mfc='none', mew=1.3)
    chosen = rows[rows['chosen']]
    ax.plot(chosen['lr'] / chosen['typical_lr'], chosen['val_top1'], '*', color=color, ms=13,
            mec='k', mew=0.6)


def plot_lr_sensitivity(tuning: pd.DataFrame, backbone: str, categories: dict[str, str],
                        category_order: Sequence[str], out: Path) -> Path:
    """Validation top-1 against the learning rate for one backbone: a line per optimizer.

    One panel per optimizer category; the x axis is the lr over the optimizer's typical lr (the
    legend gives the typical lr). Lines: every grid point after the first rung (or the full budget
    when there is no halving); triangles: survivors after the full budget; star: the chosen lr;
    crosses at 0: diverged.

    Args:
        tuning: Tuning rows (:func:`bocb_mm.analysis.tuning.load_tuning`).
        backbone: The backbone.
        categories: Optimizer -> category.
        category_order: Category order (one panel each).
        out: Folder.

    Returns:
        The PNG path (``lr_sensitivity_<backbone>.png``).
    """
    import matplotlib
    from .tuning import sensitivity_stage
    name = 'lr_sensitivity'
    rows = tuning[tuning['backbone'] == backbone]
    stage = sensitivity_stage(rows)
    cats = [c for c in category_order if any(categories.get(o) == c for o in rows['optimizer'])]
    fig, axes = _figure(name, ncols=max(len(cats), 1), sharey=True, squeeze=False)
    cmap = matplotlib.colormaps['tab10']
    factors = sorted({float(f'{f:.3g}') for f in rows['lr'] / rows['typical_lr']})
    for ax, cat in zip(axes[0], cats):
        opts = [o for o in dict.fromkeys(rows['optimizer']) if categories.get(o) == cat]
        for k, opt in enumerate(opts):
            _sensitivity_lines(ax, rows[rows['optimizer'] == opt], stage, cmap(k % 10))
        ax.set_xscale('log')
        ax.set_xticks(factors, [f'{f:g}' for f in factors])
        ax.minorticks_off()
        ax.set_title(cat, fontsize=10)
        ax.set_xlabel('lr / typical lr')
        ax.set_ylim(-3, 102)
        ax.grid(alpha=0.3, which='both')
        ax.legend(fontsize=7, loc='lower center', title='optimizer (typical lr)', title_fontsize=7)
    axes[0][0].set_ylabel('validation top-1 (%)')
    budget = rows.loc[rows['stage'] == stage, 'epochs'].max()
    fig.suptitle(f'{backbone}: validation top-1 vs learning rate (lines: every grid point after '
                 f'{budget:g} epoch(s); triangles: survivors at the full budget; star: chosen; '
                 'x at 0: diverged)', fontsize=10)
    safe = ''.join(ch if ch.isalnum() or ch in '-_' else '_' for ch in backbone)
    return _save(fig, name, out, stem=f'{name}_{safe}')


#: Line styles and shades (mixed toward black < 0 or white > 0) that tell apart the optimizers of
#: one category in the performance profiles; post-paper ones are thicker and carry markers.
PROFILE_LINESTYLES = ('-', '--', '-.', ':')
PROFILE_SHADES = (0.0, -0.4, 0.4, -0.65)
PROFILE_MARKERS = ('o', 's', '^', 'D', 'v', 'P', 'X', '*', '<', '>')


def _shade(color: tuple, amount: float) -> tuple:
    """Mix an RGB colour toward black (``amount < 0``) or white (``amount > 0``)."""
    target = 1.0 if amount > 0 else 0.0
    return tuple(c + abs(amount) * (target - c) for c in color[:3])


def profile_styles(optimizers: Sequence[str], categories: dict[str, str],
                   category_order: Sequence[str], post_paper: Sequence[str]) -> dict[str, dict]:
    """Line properties of each optimizer's performance profile.

    Colour: its category's; within a category (paper and post-paper counted apart) the line
    style cycles, then the shade. Post-paper optimizers: thicker lines with a marker each.

    Args:
        optimizers: Names, in display order.
        categories: Optimizer -> category.
        category_order: Category order (the palette's).
        post_paper: The post-paper optimizers.

    Returns:
        Name -> keyword arguments of ``Axes.step``.
    """
    palette = category_palette(category_order)
    seen: dict[tuple[str, bool], int] = {}
    styles = {}
    for name in optimizers:
        post = name in post_paper
        key = (categories.get(name, '?'), post)
        k = seen[key] = seen.get(key, -1) + 1
        base = palette.get(key[0], (0.5, 0.5, 0.5))
        style = dict(color=_shade(base, PROFILE_SHADES[(k // len(PROFILE_LINESTYLES))
                                                       % len(PROFILE_SHADES)]),
                     linestyle=PROFILE_LINESTYLES[k % len(PROFILE_LINESTYLES)],
                     linewidth=2.6 if post else 1.4)
        if post:
            style.update(marker=PROFILE_MARKERS[len(styles) % len(PROFILE_MARKERS)],
                         markersize=7, zorder=3)
        styles[name] = style
    return styles


def plot_performance_profiles(ratios: pd.DataFrame, area: pd.Series, tau_max: float,
                              categories: dict[str, str], category_order: Sequence[str],
                              post_paper: Sequence[str], out: Path) -> Path:
    """Performance profiles: ``rho(tau)`` step curves over a log ``tau`` axis, one per optimizer.

    Args:
        ratios: Optimizer x backbone error ratios (:mod:`bocb_mm.analysis.profiles`).
        area: Optimizer -> area under its profile; the legend lists the optimizers by it.
        tau_max: Largest ratio covered (the axis ends a little after it).
        categories: Optimizer -> category (the colour).
        category_order: Category order.
        post_paper: Post-paper optimizers (thick lines with markers).
        out: Folder.

    Returns:
        The PNG path.
    """
    from matplotlib.ticker import NullFormatter
    from .profiles import TAUS, step_curve
    name = 'performance_profiles'
    styles = profile_styles(list(ratios.index), categories, category_order, post_paper)
    tau_end = tau_max * 1.1
    fig, ax = _figure(name)
    for opt in area.sort_values(ascending=False, kind='stable').index:
        x, y = step_curve(ratios.loc[opt].to_numpy(float), tau_end)
        suffix = ', post-paper' if opt in post_paper else ''
        ax.step(x, y, where='post', label=f'{opt} ({area[opt]:.3f}{suffix})', **styles[opt])
    ax.set_xscale('log')
    # the tabled taus but 1.05 (its label would overlap 1 and 1.1), then 1-2-5 steps above 2
    decades = {m * 10.0 ** k for k in range(0, 4) for m in (1, 2, 5)}
    ticks = sorted({t for t in TAUS if t != 1.05} | {t for t in decades if 2 < t <= tau_end})
    ax.set_xticks(ticks, [f'{t:g}' for t in ticks])
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlim(1.0, tau_end)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel('tau: error rate within a factor tau of the backbone\'s best (log scale)')
    ax.set_ylabel('fraction of backbones')
    ax.set_title('Performance profiles (error = 100 - top-1 of each cell)')
    ax.grid(alpha=0.3)
    title = 'optimizer (area)' + ('\nthick, markers: post-paper' if post_paper else '')
    fig.legend(*ax.get_legend_handles_labels(), title=title, loc='outside right upper',
               fontsize=8, title_fontsize=8, frameon=False, handlelength=3.5)
    from matplotlib.patches import Patch
    palette = category_palette(category_order)
    used = [c for c in category_order if c in set(categories.get(o) for o in ratios.index)]
    fig.legend(handles=[Patch(color=palette[c], label=c) for c in used],
               title='colour: optimizer category', fontsize=8, title_fontsize=8,
               ncols=max(len(used), 1), loc='outside lower center', frameon=False)
    return _save(fig, name, out)
