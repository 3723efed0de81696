"""A run's record, ``<work_dir>/bocb_run.json``: what ran there and how it ended.

* It is written when a run starts (``status: started``) and again when it ends (``finished``,
  ``diverged``, ``failed``), each time whole or not at all (through a temporary file renamed
  into place), so a full disk or a kill never leaves half a record.
* It carries the run's fingerprint (:func:`~bocb_mm.sweep.plan.run_fingerprint`: its merged
  config, seed and extra arguments). A record of another fingerprint is another run: it does
  not count as this run's result, and before this run starts its work dir is moved aside to
  ``<work_dir>.replaced-<old fingerprint>`` (with a warning; nothing is deleted).
* A record that cannot be read (damaged by hand, or by a tool outside the sweep) is named in a
  warning and the run counts as unfinished.
* A record without a fingerprint (written before records carried one) is trusted, with a
  warning (once per work root: a sweep of hundreds of such runs gets one line).
"""
from __future__ import annotations

import json
import os
import os.path as osp
import warnings
from pathlib import Path

from bocb_mm.utils.fileio import atomic_write, holds_data

from .plan import Run, run_fingerprint

__all__ = ['RUN_RECORD', 'STARTED', 'read_record', 'write_record', 'run_record',
           'same_run', 'set_aside_other_run', 'prepare_work_dir']

RUN_RECORD = 'bocb_run.json'
#: Status of a run that has started and not ended (still training, or interrupted).
STARTED = 'started'
_legacy_roots: set[str] = set()


def read_record(work_dir: str) -> dict | None:
    """The record of ``work_dir``; None when there is none or it cannot be read (a warning
    names the file)."""
    path = osp.join(work_dir, RUN_RECORD)
    if not osp.isfile(path):
        return None
    try:
        with open(path) as f:
            record = json.load(f)
    except (OSError, ValueError) as err:  # ValueError: JSONDecodeError, UnicodeDecodeError
        reason = 'empty file' if osp.getsize(path) == 0 else f'{type(err).__name__}: {err}'
        warnings.warn(f'run record {path} is damaged ({reason}); the run counts as unfinished',
                      stacklevel=2)
        return None
    if not isinstance(record, dict):
        warnings.warn(f'run record {path} is not a JSON object; the run counts as unfinished',
                      stacklevel=2)
        return None
    return record


def write_record(work_dir: str, record: dict) -> None:
    """Write ``record`` as ``work_dir``'s record, whole or not at all."""
    text = json.dumps(record, indent=2)
    atomic_write(osp.join(work_dir, RUN_RECORD), lambda tmp: Path(tmp).write_text(text))


def run_record(run: Run, fingerprint: str | None, **fields) -> dict:
    """A record of ``run``: its identity, its fingerprint (None: never written, e.g. a run lost
    with its worker) and ``fields``."""
    return dict(config=run.config, seed=run.seed, backbone=run.backbone,
                optimizer=run.optimizer, fingerprint=fingerprint, **fields)


def same_run(record: dict, run: Run, fingerprint: str | None = None) -> bool:
    """Whether ``record`` is of ``run`` (its fingerprint; a record without one is trusted).

    Args:
        record: A record of ``run.work_dir``.
        run: The run.
        fingerprint: ``run_fingerprint(run)`` when already known.
    """
    recorded = record.get('fingerprint')
    if recorded is None:
        root = osp.dirname(osp.dirname(osp.abspath(run.work_dir)))  # <root>/<key>/seed<N>
        if root not in _legacy_roots:
            _legacy_roots.add(root)
            warnings.warn(f'run record {osp.join(run.work_dir, RUN_RECORD)} has no fingerprint '
                          '(written by an older version): trusted to be of this config and '
                          f'arguments, as are the other such records under {root} (no further '
                          'warning); delete a record to train its run again', stacklevel=3)
        return True
    return recorded == (fingerprint or run_fingerprint(run))


def _aside(work_dir: str, tag: str) -> str:
    """A free name next to ``work_dir`` for a replaced run."""
    base = f'{osp.normpath(work_dir)}.replaced-{tag}'
    path, n = base, 1
    while osp.lexists(path):
        n += 1
        path = f'{base}-{n}'
    return path


def set_aside_other_run(run: Run, fingerprint: str | None = None) -> str | None:
    """Move ``run.work_dir`` aside when its record is of another fingerprint (another config,
    seed or arguments), with a warning naming both places.

    Args:
        run: The run about to train there.
        fingerprint: ``run_fingerprint(run)`` when already known.

    Returns:
        Where the other run went (``<work_dir>.replaced-<its fingerprint>``), or None.
    """
    record = read_record(run.work_dir)
    fingerprint = fingerprint or run_fingerprint(run)
    if record is None or same_run(record, run, fingerprint) or not holds_data(run.work_dir):
        return None
    old = str(record.get('fingerprint'))
    moved = _aside(run.work_dir, old[:8])
    os.replace(run.work_dir, moved)
    warnings.warn(f'{run.work_dir} held a run of another config or arguments (fingerprint '
                  f'{old}, this run {fingerprint}): moved it to {moved}; training anew',
                  stacklevel=2)
    return moved


def prepare_work_dir(run: Run) -> str:
    """Make ``run.work_dir`` this run's before it trains (hold the run's lock while calling):
    another fingerprint's run is moved aside (:func:`set_aside_other_run`), then a ``started``
    record is written.

    Returns:
        The run's fingerprint.
    """
    fingerprint = run_fingerprint(run)
    set_aside_other_run(run, fingerprint)
    os.makedirs(run.work_dir, exist_ok=True)
    write_record(run.work_dir, run_record(run, fingerprint, status=STARTED, pid=os.getpid()))
    return fingerprint
