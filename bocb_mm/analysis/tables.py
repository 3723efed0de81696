"""Render the BOCB table and score tables as Markdown, LaTeX, HTML and CSV."""
from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from .core import Analysis

BOTTOM_LABELS = {'mean': 'Mean (drop worst)', 'std': 'Std (drop worst)',
                 'range': 'Range (drop worst)'}
TRIVIAL_MARK = '\u2020'  # dagger

LEGEND = ('**bold** = top-4 of the backbone; value' + TRIVIAL_MARK + ' = trivial result; bottom '
          'rows after removing each backbone\'s worst result.')


def fmt(x: float, digits: int = 2) -> str:
    """Format a number, ``-`` for NaN.

    Args:
        x: The value.
        digits: Decimals.

    Returns:
        The text.
    """
    if x is None or (isinstance(x, (float, np.floating)) and np.isnan(x)):
        return '-'
    if x != 0 and abs(x) < 10 ** -digits:
        return f'{x:.3g}'
    return f'{x:.{digits}f}'


def short_category(label: str) -> str:
    """Short form of a category label: ``'(a) fixed lr, ...'`` -> ``'(a)'``.

    Args:
        label: Category label.

    Returns:
        The leading parenthesised tag when there is one, else the label.
    """
    m = re.match(r'^\s*(\([^)]{1,3}\))', label)
    return m.group(1) if m else label


def _flags(an: Analysis) -> dict[str, pd.DataFrame]:
    """Top-4 / trivial flags as optimizer x backbone boolean frames.

    Args:
        an: The analysis.

    Returns:
        ``{'top4': frame, 'trivial': frame}``.
    """
    out = {}
    for k in ('top4', 'trivial'):
        f = an.cells.pivot(index='optimizer', columns='backbone', values=k)
        f = f.reindex(index=an.matrix.index, columns=an.matrix.columns)
        out[k] = f.fillna(False).astype(bool)
    return out


def _sorted_optimizers(an: Analysis) -> list[str]:
    """Optimizers grouped by category (category order), data order inside.

    Args:
        an: The analysis.

    Returns:
        Row order.
    """
    order = {c: i for i, c in enumerate(an.category_order)}
    return sorted(an.matrix.index, key=lambda o: (order.get(an.categories[o], len(order)),
                                                  list(an.matrix.index).index(o)))


def table_cells(an: Analysis, style: str) -> list[list[str]]:
    """Body rows of the BOCB table with marks in the given style.

    Args:
        an: The analysis.
        style: ``'md'``, ``'latex'`` or ``'html'``.

    Returns:
        Rows ``[optimizer, category, v1, ..., vB]`` then the three bottom rows.
    """
    fl = _flags(an)
    rows = []
    for o in _sorted_optimizers(an):
        row = [o, short_category(an.categories[o])]
        for b in an.matrix.columns:
            v = an.matrix.at[o, b]
            s = fmt(v)
            if np.isnan(v):
                row.append(s)
                continue
            if style == 'md':
                s = f'**{s}**' if fl['top4'].at[o, b] else s
                s = s + TRIVIAL_MARK if fl['trivial'].at[o, b] else s
            elif style == 'latex':
                s = f'\\textbf{{{s}}}' if fl['top4'].at[o, b] else s
                s = f'\\textcolor{{gray}}{{{s}}}' if fl['trivial'].at[o, b] else s
            else:
                s = f'<b>{s}</b>' if fl['top4'].at[o, b] else s
                s = f'<span class="trivial">{s}</span>' if fl['trivial'].at[o, b] else s
            row.append(s)
        rows.append(row)
    for stat, label in BOTTOM_LABELS.items():
        rows.append([label, ''] + [fmt(an.bottom.at[stat, b]) for b in an.matrix.columns])
    return rows


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]],
                   align: str | None = None) -> str:
    """A GitHub-flavoured Markdown table.

    Args:
        header: Column titles.
        rows: Cell texts.
        align: One of ``l``/``r`` per column (default: first two left, rest right).

    Returns:
        The table text.
    """
    align = align or ('ll' + 'r' * (len(header) - 2))
    esc = [[str(c).replace('|', '\\|') for c in r]
           for r in [list(header)] + [list(r) for r in rows]]
    sep = ['---:' if a == 'r' else ':---' for a in align]
    lines = ['| ' + ' | '.join(esc[0]) + ' |', '| ' + ' | '.join(sep) + ' |']
    lines += ['| ' + ' | '.join(r) + ' |' for r in esc[1:]]
    return '\n'.join(lines) + '\n'


def latex_escape(text: str) -> str:
    """Escape LaTeX special characters in a name.

    Args:
        text: Plain text.

    Returns:
        LaTeX-safe text.
    """
    rep = {'\\': r'\textbackslash{}', '&': r'\&', '%': r'\%', '$': r'\$', '#': r'\#',
           '_': r'\_', '{': r'\{', '}': r'\}', '~': r'\textasciitilde{}', '^': r'\^{}'}
    return ''.join(rep.get(ch, ch) for ch in text)


def bocb_markdown(an: Analysis) -> str:
    """The BOCB table in Markdown, with legend and rules.

    Args:
        an: The analysis.

    Returns:
        Markdown text.
    """
    header = ['Optimizer', 'Cat.'] + list(an.matrix.columns)
    text = markdown_table(header, table_cells(an, 'md'))
    return (f'{text}\n{LEGEND}\n\n- {an.rules["top_k"]}\n- {an.rules["trivial"]}\n'
            f'- {an.rules["drop_worst"]}\n')


def bocb_latex(an: Analysis,
               caption: str = 'Top-1 accuracy (\\%) of backbones x optimizers.') -> str:
    """The BOCB table as a LaTeX ``table`` (needs ``booktabs`` and ``xcolor``).

    Args:
        an: The analysis.
        caption: Table caption.

    Returns:
        LaTeX text.
    """
    cols = list(an.matrix.columns)
    rows = table_cells(an, 'latex')
    n_body = len(rows) - len(BOTTOM_LABELS)
    out = ['% requires \\usepackage{booktabs} and \\usepackage{xcolor}',
           f'% {an.rules["top_k"]}', f'% {an.rules["trivial"]}', f'% {an.rules["drop_worst"]}',
           '\\begin{table}[t]', '\\centering', '\\resizebox{\\textwidth}{!}{%',
           '\\begin{tabular}{ll' + 'r' * len(cols) + '}', '\\toprule',
           ' & '.join(['Optimizer', 'Cat.'] + [latex_escape(c) for c in cols]) + ' \\\\',
           '\\midrule']
    prev_cat = None
    for i, r in enumerate(rows):
        if i < n_body and prev_cat is not None and r[1] != prev_cat:
            out.append('\\midrule')
        if i == n_body:
            out.append('\\midrule')
        prev_cat = r[1] if i < n_body else prev_cat
        out.append(' & '.join([latex_escape(r[0]), latex_escape(r[1])] + r[2:]) + ' \\\\')
    out += ['\\bottomrule', '\\end{tabular}}',
            f'\\caption{{{caption} Bold: top-4 per backbone; gray: trivial results; bottom rows '
            'after removing each backbone\'s worst result.}', '\\end{table}']
    return '\n'.join(out) + '\n'


def html_table(header: Sequence[str], rows: Sequence[Sequence[str]], escape: bool = True) -> str:
    """An HTML table.

    Args:
        header: Column titles.
        rows: Cell texts (already HTML when ``escape`` is False).
        escape: Whether to escape the cells.

    Returns:
        HTML text.
    """
    e = html.escape if escape else (lambda s: s)
    head = ''.join(f'<th>{html.escape(str(h))}</th>' for h in header)
    body = ''.join('<tr>' + ''.join(f'<td>{e(str(c))}</td>' for c in r) + '</tr>\n' for r in rows)
    return f'<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}</tbody>\n</table>\n'


def bocb_html(an: Analysis) -> str:
    """The BOCB table in HTML (top-4 bold, trivial gray).

    Args:
        an: The analysis.

    Returns:
        HTML text.
    """
    rows = table_cells(an, 'html')
    rows = [[html.escape(r[0]), html.escape(r[1])] + r[2:] for r in rows]
    return html_table(['Optimizer', 'Cat.'] + list(an.matrix.columns), rows, escape=False)


def frame_rows(frame: pd.DataFrame, digits: int = 2) -> list[list[str]]:
    """Rows of a frame (index first) as formatted text.

    Args:
        frame: Any frame.
        digits: Decimals for floats.

    Returns:
        Cell texts.
    """
    rows = []
    for idx, r in frame.iterrows():
        rows.append([str(idx)] + [fmt(v, digits) if isinstance(v, (float, np.floating)) else str(v)
                                  for v in r.to_numpy()])
    return rows


def write_tables(an: Analysis, out: Path) -> dict[str, Path]:
    """Write the BOCB table (md, tex, csv) and the score tables (csv) into a folder.

    Args:
        an: The analysis.
        out: Output folder.

    Returns:
        Name -> written path.
    """
    out.mkdir(parents=True, exist_ok=True)
    paths = {'bocb_table.md': out / 'bocb_table.md', 'bocb_table.tex': out / 'bocb_table.tex',
             'bocb_table.csv': out / 'bocb_table.csv', 'bocb_matrix.csv': out / 'bocb_matrix.csv',
             'backbone_scores.csv': out / 'backbone_scores.csv',
             'optimizer_scores.csv': out / 'optimizer_scores.csv'}
    paths['bocb_table.md'].write_text(bocb_markdown(an), encoding='utf-8')
    paths['bocb_table.tex'].write_text(bocb_latex(an), encoding='utf-8')
    an.cells.to_csv(paths['bocb_table.csv'], index=False, float_format='%.4f')
    wide = an.matrix.loc[_sorted_optimizers(an)].copy()
    wide.insert(0, 'category', [an.categories[o] for o in wide.index])
    bottom = an.bottom.copy()
    bottom.index = [f'{k}_drop_worst' for k in bottom.index]
    bottom.insert(0, 'category', '')
    matrix = pd.concat([wide, bottom]).rename_axis('optimizer')
    matrix.to_csv(paths['bocb_matrix.csv'], float_format='%.4f')
    an.backbones.to_csv(paths['backbone_scores.csv'], float_format='%.4f')
    an.optimizers.to_csv(paths['optimizer_scores.csv'], float_format='%.4f')
    if an.printed is not None:
        paths['paper_bottom_rows_vs_recomputed.csv'] = out / 'paper_bottom_rows_vs_recomputed.csv'
        an.printed.to_csv(paths['paper_bottom_rows_vs_recomputed.csv'], float_format='%.4f')
        paths['paper_bottom_rows_conventions.csv'] = out / 'paper_bottom_rows_conventions.csv'
        an.conventions.to_csv(paths['paper_bottom_rows_conventions.csv'], index=False,
                              float_format='%.4f')
    return paths
