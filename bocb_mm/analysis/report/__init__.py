"""The full BOCB report of a results table, in three steps.

* :mod:`.summary`: the content of ``summary.json`` (:func:`build_summary`) and a few lines for
  the terminal (:func:`short_summary`);
* :mod:`.sections`: what the report says, section by section (:class:`Section`,
  :func:`build_sections`);
* :mod:`.render`: the sections as ``report.md`` and self-contained ``report.html``;

and :mod:`.make`, which analyses the results, writes the tables and figures and the three
documents (:func:`make_report`).
"""
from .make import make_report
from .render import render_html, render_markdown
from .sections import Section, build_sections
from .summary import build_summary, jsonable, short_summary

__all__ = ['make_report', 'short_summary', 'build_summary', 'jsonable', 'Section',
           'build_sections', 'render_markdown', 'render_html']
