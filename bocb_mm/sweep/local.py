"""Run a planned grid on this machine: a queue of ``tools/train.py`` processes, N at a time.

Finished runs are skipped, interrupted ones resume from their last checkpoint, a failing run is
recorded with the tail of its log and the rest of the queue goes on.
"""
from __future__ import annotations

import os
import os.path as osp
import subprocess
import sys
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, Sequence

from tqdm import tqdm

from .collect import classify_failure, has_checkpoint, is_finished, write_record
from .plan import Run

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TRAIN_PY = osp.join(REPO_ROOT, 'tools', 'train.py')
LOG_NAME = 'sweep_train.log'


def train_command(run: Run, python: str = sys.executable) -> list[str]:
    """The ``tools/train.py`` command line of one run (resuming when it has a checkpoint)."""
    cmd = [python, TRAIN_PY, run.config, '--work-dir', run.work_dir]
    if has_checkpoint(run):
        cmd.append('--resume')
    cmd += ['--cfg-options', f'randomness.seed={run.seed}']
    extra = list(run.extra_args)
    if '--cfg-options' in extra:  # merge into the one --cfg-options list
        i = extra.index('--cfg-options')
        options = []
        j = i + 1
        while j < len(extra) and not extra[j].startswith('--'):
            options.append(extra[j])
            j += 1
        cmd += options
        extra = extra[:i] + extra[j:]
    return cmd + extra


def log_tail(path: str, lines: int = 30) -> str:
    try:
        with open(path, errors='replace') as f:
            return ''.join(deque(f, maxlen=lines))
    except OSError:
        return ''


class _Job:
    def __init__(self, run: Run, env: dict, python: str) -> None:
        os.makedirs(run.work_dir, exist_ok=True)
        self.run = run
        self.resumed = has_checkpoint(run)
        self.log_path = osp.join(run.work_dir, LOG_NAME)
        self.start = time.time()
        self.log = open(self.log_path, 'a')
        self.proc = subprocess.Popen(train_command(run, python), stdout=self.log,
                                     stderr=subprocess.STDOUT, env=env, cwd=REPO_ROOT)

    def finish(self) -> dict:
        self.log.close()
        ok = self.proc.returncode == 0
        tail = '' if ok else log_tail(self.log_path)
        record = dict(config=self.run.config, seed=self.run.seed, backbone=self.run.backbone,
                      optimizer=self.run.optimizer, returncode=self.proc.returncode,
                      status='finished' if ok else classify_failure(tail), resumed=self.resumed,
                      wall_time=round(time.time() - self.start, 2), log=self.log_path,
                      executor='subprocess')
        if not ok:
            record['log_tail'] = tail
        write_record(self.run.work_dir, record)
        return record


def _thread_env(threads_per_job: int | None, jobs: int) -> dict:
    """The environment of a training process: its share of the cores as torch threads."""
    threads = threads_per_job or max(1, (os.cpu_count() or 1) // max(jobs, 1))
    return {**os.environ, 'OMP_NUM_THREADS': str(threads), 'MKL_NUM_THREADS': str(threads)}


class SubprocessExecutor:
    """Runs as ``tools/train.py`` processes, ``jobs`` at a time, behind futures.

    The same interface as :class:`~bocb_mm.sweep.inprocess.InProcessExecutor`: :meth:`submit`
    returns a future of the run's record. For machines where every run wants a fresh process.

    Args:
        jobs: Processes at a time.
        threads_per_job: torch / OpenMP threads per process (default: cores // jobs).
        python: Interpreter for ``tools/train.py``.
    """

    mode = 'subprocess'

    def __init__(self, jobs: int = 1, threads_per_job: int | None = None,
                 python: str = sys.executable) -> None:
        self.env = _thread_env(threads_per_job, jobs)
        self.python = python
        self._pool = ThreadPoolExecutor(max(1, jobs))
        self._running: set[_Job] = set()

    def _run(self, run: Run) -> dict:
        job = _Job(run, self.env, self.python)
        self._running.add(job)
        try:
            job.proc.wait()
        finally:
            self._running.discard(job)
        return job.finish()

    def submit(self, run: Run) -> Future:
        """Queue a run; the future's result is its record."""
        return self._pool.submit(self._run, run)

    def shutdown(self, cancel: bool = False) -> None:
        """Wait for the queue (``cancel``: drop queued runs, stop running ones)."""
        if cancel:
            for job in list(self._running):
                job.proc.terminate()
        self._pool.shutdown(wait=True, cancel_futures=cancel)

    def __enter__(self) -> 'SubprocessExecutor':
        return self

    def __exit__(self, exc_type, *_) -> None:
        self.shutdown(cancel=exc_type is not None)


def run_local(runs: Sequence[Run], jobs: int = 1, python: str = sys.executable,
              threads_per_job: int | None = None, poll: float = 0.2,
              on_done: Callable[[dict], None] | None = None) -> list[dict]:
    """Run the grid with ``jobs`` processes in parallel; returns the records of runs started.

    Args:
        runs: the planned runs; finished ones are skipped.
        jobs: processes at a time.
        python: interpreter for ``tools/train.py``.
        threads_per_job: torch/OpenMP threads per process (default: cores // jobs).
        poll: seconds between checks of the running processes.
        on_done: called with each finished run's record (e.g. to print failures).
    """
    todo = deque(r for r in runs if not is_finished(r))
    skipped = len(runs) - len(todo)
    env = _thread_env(threads_per_job, jobs)
    records: list[dict] = []
    running: list[_Job] = []
    bar = tqdm(total=len(runs), initial=skipped, unit='run', desc='sweep', dynamic_ncols=True)
    try:
        while todo or running:
            while todo and len(running) < jobs:
                running.append(_Job(todo.popleft(), env, python))
            time.sleep(poll)
            for job in [j for j in running if j.proc.poll() is not None]:
                running.remove(job)
                record = job.finish()
                records.append(record)
                if on_done:
                    on_done(record)
                failed = sum(r['status'] == 'failed' for r in records)
                bar.set_postfix(failed=failed, last=job.run.name)
                bar.update(1)
    finally:
        for job in running:  # interrupted: stop children, keep their checkpoints for resume
            job.proc.terminate()
            job.proc.wait()
            job.log.close()
        bar.close()
    return records
