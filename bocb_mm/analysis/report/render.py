"""Render the report's sections as Markdown (``report.md``) and self-contained HTML
(``report.html``, figures embedded)."""
from __future__ import annotations

import base64
import html
import re
from pathlib import Path

from ..core import Analysis
from ..tables import bocb_html, html_table, markdown_table, table_cells
from .sections import Section

CSS = ('body{font-family:sans-serif;margin:2em;max-width:1500px} table{border-collapse:collapse;'
       'font-size:12px;margin:1em 0} td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}'
       ' td:first-child,th:first-child{text-align:left} .trivial{color:#999} img{max-width:100%}')


def _is_bullet(line: str) -> bool:
    """Whether a text line of a section is a bullet (``- ...``)."""
    return line.startswith('- ')


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
            parts.append(''.join(t + ('\n' if _is_bullet(t) else '\n\n') for t in s.text))
        if s.bocb:
            parts.append(markdown_table(['Optimizer', 'Cat.'] + list(an.matrix.columns),
                                        table_cells(an, 'md')))
        if s.image:
            parts.append(f'![{s.title}]({s.image})\n')
        if s.table:
            parts.append(markdown_table(s.table[0], s.table[1], 'l' * len(s.table[0])))
    return '\n'.join(parts)


def _inline(text: str) -> str:
    """Escape a text line for HTML, turning ``**x**`` into bold and backticks into code.

    Args:
        text: One line.

    Returns:
        HTML.
    """
    escaped = html.escape(text)
    escaped = re.sub(r'\*\*(.+?)\*\*', r'<b>\1</b>', escaped)
    return re.sub(r'`(.+?)`', r'<code>\1</code>', escaped)


def _html_text(text: list[str]) -> list[str]:
    """A section's paragraphs, then its bullets as one list."""
    parts = [f'<p>{_inline(t)}</p>' for t in text if not _is_bullet(t)]
    bullets = [t for t in text if _is_bullet(t)]
    if bullets:
        parts.append('<ul>' + ''.join(f'<li>{_inline(t[2:])}</li>' for t in bullets) + '</ul>')
    return parts


def _html_image(title: str, path: Path) -> str:
    """A PNG embedded as base64."""
    data = base64.b64encode(path.read_bytes()).decode('ascii')
    return f'<img alt="{html.escape(title)}" src="data:image/png;base64,{data}">'


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
             f'<style>{CSS}</style></head><body><h1>BOCB report</h1>']
    for s in secs:
        parts.append(f'<h2>{html.escape(s.title)}</h2>')
        parts += _html_text(s.text)
        if s.bocb:
            parts.append(bocb_html(an))
        if s.image:
            parts.append(_html_image(s.title, out / s.image))
        if s.table:
            parts.append(html_table(s.table[0], s.table[1]))
    parts.append('</body></html>')
    return '\n'.join(parts)
