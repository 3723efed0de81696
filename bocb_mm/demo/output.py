"""The demo's output folder: the marker that identifies it, and the checks before writing."""
from __future__ import annotations

import os
import os.path as osp

from bocb_mm.cli.argtypes import unwritable_folder
from bocb_mm.utils.fileio import holds_data

MARKER = '.bocb_demo'
"""The file that marks a folder as an output folder of the demo."""


def out_problem(out: str, force: bool) -> str | None:
    """Why the demo must not write to ``out``, or None.

    The demo reuses and overwrites what an output folder holds (``results.csv``, ``tuning.csv``,
    ``report/``, the runs, the data under ``data/``); a folder that holds files but not the
    :data:`MARKER` the demo writes into its output folders is someone else's.
    """
    problem = unwritable_folder(out)
    if problem or force or not holds_data(out) or osp.isfile(osp.join(out, MARKER)):
        return problem
    return (f'{out} holds files but is not an output folder of the demo (it has no {MARKER} '
            'file); the demo would overwrite its results.csv, tuning.csv and report/ and train '
            'on its data/. Choose a new folder, or pass --force to use this one')


def mark_output(out: str) -> None:
    """Create ``out`` and its :data:`MARKER`, which identifies it as the demo's output."""
    os.makedirs(out, exist_ok=True)
    marker = osp.join(out, MARKER)
    if not osp.isfile(marker):
        with open(marker, 'w') as f:
            f.write('An output folder of tools/bocb_demo.py: a rerun reuses its finished runs '
                    'and replaces its results, report and damaged data.\n')
