"""Analysis of BOCB results: the paper's Table 1 statistics, coupling scores, figures, reports.

Needs numpy, pandas and scipy; matplotlib / seaborn load only when a figure is drawn, torch
only when checkpoints are read. Where torch and mmengine are not installed, ``import bocb_mm``
loads nothing else (:func:`bocb_mm.stack_installed`), so this package, the paper tables and the
backbone zoo work in a plain scientific Python; where they are installed, importing ``bocb_mm``
(the parent) loads and registers the training stack first. The optimizer categories and name
orders come from the zoos (:mod:`bocb_mm.optim.zoo`, :mod:`bocb_mm.models.zoo`), which are pure
Python. Entry points:

* :func:`~bocb_mm.analysis.io.load_results` - read a sweep's long CSV or a paper wide table.
* :func:`~bocb_mm.analysis.core.analyze` - top-4 / trivial flags, drop-worst rows, coupling scores.
* :func:`~bocb_mm.analysis.profiles.performance_profile` - performance profiles (Dolan & More).
* :func:`~bocb_mm.analysis.post_paper.compare_post_paper` - the post-paper optimizers against the
  paper's.
* :func:`~bocb_mm.analysis.report.make_report` - write tables, figures, report.md/html and
  summary.json.

The CLI is ``tools/analysis/bocb_report.py``; the rules are defined in ``docs/analysis.md``.
"""
from .core import Analysis, analyze
from .io import BocbInputError, ResultSet, detect_format, load_results
from .report import make_report, short_summary

__all__ = ['Analysis', 'analyze', 'BocbInputError', 'ResultSet', 'detect_format', 'load_results',
           'make_report', 'short_summary']
