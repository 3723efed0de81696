"""Read a run's outcome from its work_dir and gather a grid's results into one CSV.

mmengine writes ``<work_dir>/<timestamp>/vis_data/scalars.json`` (one json object per logged
step; validation lines carry the metrics). The sweep adds ``<work_dir>/bocb_run.json`` with the
run's identity, fingerprint, status, wall time and, on failure, the log tail
(:mod:`bocb_mm.sweep.record`). A line of ``scalars.json`` that is not JSON (cut off by a kill or
a full disk) is left out with a warning naming the file.

Two scoring rules are recorded for every run (``top1_best``, ``top1_median_last10``); ``top1``
is the one chosen (``score``), by default the official BOCB rule: the median top-1 of the last 10
evaluated epochs (the release's CIFAR-100 README), so no number is picked on the test set. That
rule is for classification accuracy; a COCO transfer run (``coco/bbox_mAP``, ``coco/AP``, a 12-
epoch schedule evaluated every epoch, whose last 10 evaluations are mostly before the lr drop)
scores its final evaluation instead, as mmdet and mmpose report it (``score_rule='last'``).
"""
from __future__ import annotations

import csv
import glob
import json
import os.path as osp
import statistics
import warnings
from typing import Iterable, Sequence

from bocb_mm.utils.fileio import atomic_write

from .lock import folder_lock_path, is_locked
from .plan import Run
from .record import (RUN_RECORD, STARTED, read_record, same_run,  # noqa: F401
                     write_record)

# Metric keys tried in order when none is given: classification, detection, pose.
METRIC_KEYS = ('accuracy/top1', 'coco/bbox_mAP', 'coco/AP')
CSV_FIELDS = ('backbone', 'optimizer', 'seed', 'top1', 'last_top1', 'top5', 'metric', 'epochs',
              'iters', 'wall_time', 'status', 'dataset', 'config', 'work_dir', 'top1_best',
              'top1_median_last10', 'score_rule')
#: Scoring rules: ``median_last10`` (the official BOCB rule: median over the last 10 evaluated
#: epochs) and ``best`` (the best evaluation of the run, chosen on the evaluation set).
SCORE_RULES = ('median_last10', 'best')
DEFAULT_SCORE = 'median_last10'
LAST_N = 10
#: Metrics the median rule applies to; the others score their last evaluation under it.
MEDIAN_RULE_METRICS = ('accuracy/top1',)
# Outcomes that end a run for good: a re-run skips it. A diverged run (non-finite loss, stopped by
# mmdet's CheckInvalidLossHook) would diverge again with the same config and seed.
DONE_STATUSES = frozenset({'finished', 'diverged'})
# What mmdet's CheckInvalidLossHook logs when the loss becomes NaN or infinite.
DIVERGED_MARKERS = ('loss become infinite or NaN',)


def read_scalars(work_dir: str) -> list[dict]:
    """The scalar records of a work_dir across restarts (resumed runs add a new timestamp), as
    one uninterrupted run would have logged them (:func:`resumed_history`)."""
    records: list[dict] = []
    for path in sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))):
        with open(path) as f:
            records += _scalar_lines(path, f)
    return resumed_history(records)


def resumed_history(records: Iterable[dict]) -> list[dict]:
    """Drop what an interrupted attempt logged past the checkpoint its successor resumed from.

    A resumed run restarts from its last checkpoint, which is often older than the last records
    of the interrupted attempt (killed mid-epoch, or after evaluating an epoch it did not save);
    the resumed attempt logs those iterations and evaluations again. A training record (it has
    mmengine's ``iter``) whose iteration is not past the last one seen marks such a restart: the
    records before it from that point on are dropped, training records from its iteration,
    evaluations from its ``epoch`` (their ``step`` counts epochs when training records carry
    one, iterations otherwise). A restart from scratch keeps only the new attempt.

    Args:
        records: A run's scalar records in the order they were written (attempts in time order).

    Returns:
        The records of the history that reached the last attempt, in order.
    """
    kept: list[dict] = []
    last_iter = 0
    for record in records:
        it = record.get('iter')
        if isinstance(it, int) and it > 0:
            if it <= last_iter:
                cut = record['epoch'] if 'epoch' in record else it
                kept = [r for r in kept if not _past(r, it, cut)]
            last_iter = it
        kept.append(record)
    return kept


def _past(record: dict, restart_iter: int, restart_step: int) -> bool:
    """Whether a record lies at or after a restart point (see :func:`resumed_history`)."""
    if 'iter' in record:
        return record['iter'] >= restart_iter
    return record.get('step', 0) >= restart_step


def _scalar_lines(path: str, lines: Iterable[str]) -> list[dict]:
    """The json objects of a ``scalars.json``; a line that is not one (cut off by a kill or a
    full disk) is left out, named in a warning."""
    out = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            out.append(json.loads(line))
        except ValueError:
            warnings.warn(f'{path}, line {number}: not a JSON object (cut off?): left out: '
                          f'{line.strip()[:80]!r}', stacklevel=3)
    return out


def summarize_metrics(records: Sequence[dict], metric: str | None = None,
                      score: str = DEFAULT_SCORE) -> dict:
    """Both scores of the main metric, the chosen one as ``top1``, the last value, top-5 at the
    best, epochs and iterations seen.

    Args:
        records: The run's scalar records (:func:`read_scalars`).
        metric: Metric key (default: the first of :data:`METRIC_KEYS` present).
        score: ``'median_last10'`` (default, official) or ``'best'``: which one is ``top1``.

    Returns:
        ``metric, top1, top1_best, top1_median_last10, score_rule (the rule ``top1`` used:
        ``score``, or ``'last'`` for a non-classification metric under the median rule),
        last_top1, top5 (same rule as top1), epochs, iters``.
    """
    if score not in SCORE_RULES:
        raise ValueError(f'score must be one of {SCORE_RULES}, got {score!r}')
    key = metric or next((k for k in METRIC_KEYS if any(k in r for r in records)), None)
    evals = [r for r in records if key and key in r]
    train = [r for r in records if 'loss' in r]
    out = dict(metric=key or '', top1=None, last_top1=None, top5=None, top1_best=None,
               top1_median_last10=None, score_rule=score,
               epochs=max((r.get('epoch', 0) for r in train), default=0),
               iters=max((r.get('iter', 0) for r in train), default=0))
    if evals:
        best = max(evals, key=lambda r: r[key])
        tail = evals[-LAST_N:]
        median = statistics.median(r[key] for r in tail)
        out.update(top1_best=best[key], top1_median_last10=median, last_top1=evals[-1][key])
        rule = score
        if rule == 'median_last10' and key not in MEDIAN_RULE_METRICS:
            rule = 'last'
        out['score_rule'] = rule
        out['top1'] = dict(best=best[key], median_last10=median, last=evals[-1][key])[rule]
        out['top5'] = _top5(rule, best, tail)
    return out


def _top5(rule: str, best: dict, tail: Sequence[dict]) -> float | None:
    """Top-5 under the same rule as ``top1``, so one row never mixes two rules."""
    if rule == 'best':
        return best.get('accuracy/top5')
    values = [r['accuracy/top5'] for r in tail if 'accuracy/top5' in r]
    if not values:
        return None
    return statistics.median(values) if rule == 'median_last10' else values[-1]


def is_finished(run: Run) -> bool:
    """Whether the run has ended for good (finished, or diverged), per its ``bocb_run.json``
    (a record of another fingerprint is another run's, see :mod:`bocb_mm.sweep.record`)."""
    record = read_record(run.work_dir)
    return bool(record and record.get('status') in DONE_STATUSES and same_run(record, run))


def run_state(run: Run) -> str:
    """What the next ``run`` of the sweep does with ``run``: ``finished`` (nothing), ``replace``
    (its work dir holds another configuration's run: moved aside, trained anew), ``resume``
    (from its checkpoint) or ``todo``."""
    if is_finished(run):
        return 'finished'
    record = read_record(run.work_dir)
    if record is not None and not same_run(record, run):
        return 'replace'
    return 'resume' if has_checkpoint(run) else 'todo'


def classify_failure(log_text: str) -> str:
    """``'diverged'`` when a failed run's log shows a non-finite loss, else ``'failed'``."""
    return 'diverged' if any(m in log_text for m in DIVERGED_MARKERS) else 'failed'


def has_checkpoint(run: Run) -> bool:
    """A run that was interrupted after saving a checkpoint can be resumed."""
    return osp.isfile(osp.join(run.work_dir, 'last_checkpoint'))


def result_row(run: Run, metric: str | None = None, score: str = DEFAULT_SCORE) -> dict:
    """One CSV row of ``run``: its identity, status and scores.

    A run that has not ended is ``pending`` (``running`` while its lock is held); a work dir
    holding another configuration's run (another fingerprint) is ``pending`` with no scores,
    named in a warning.
    """
    record = read_record(run.work_dir) or {}
    status = record.get('status', 'pending')
    stale = bool(record) and not same_run(record, run)
    if stale:
        warnings.warn(f'{run.work_dir} holds a run of another config or arguments (fingerprint '
                      f'{record.get("fingerprint")}): not a result of {run.config} seed '
                      f'{run.seed}; reported as pending', stacklevel=2)
        status, record = 'pending', {}
    elif status == STARTED:
        status = 'running' if is_locked(folder_lock_path(run.work_dir)) else 'pending'
    row = dict(backbone=run.backbone, optimizer=run.optimizer, seed=run.seed,
               dataset=run.dataset, config=run.config, work_dir=run.work_dir,
               status=status, wall_time=record.get('wall_time'))
    scalars = [] if stale else read_scalars(run.work_dir)
    row.update(summarize_metrics(scalars, metric, score))
    return row


def collect(runs: Iterable[Run], out_csv: str, metric: str | None = None,
            score: str = DEFAULT_SCORE) -> list[dict]:
    """Write one CSV row per run (``CSV_FIELDS``, ``top1`` by ``score``) and return the rows."""
    rows = [result_row(run, metric, score) for run in runs]
    write_rows(rows, out_csv)
    return rows


def write_rows(rows: Sequence[dict], out_csv: str, fields: Sequence[str] = CSV_FIELDS) -> None:
    """Write result rows as a CSV with the given columns (others are left out), whole or not at
    all."""
    def write(tmp: str) -> None:
        with open(tmp, 'w', newline='') as f:
            writer = csv.DictWriter(f, fieldnames=list(fields), extrasaction='ignore')
            writer.writeheader()
            writer.writerows(rows)

    atomic_write(out_csv, write)
