"""Runs as Slurm job arrays behind futures: one array per batch of submitted runs.

:class:`SlurmExecutor` has the interface of the local executors (``submit(run)`` returns a
future of the run's record; a context manager) and one more method, :meth:`~SlurmExecutor.flush`.
``submit`` only queues a run; ``flush`` writes the queued runs as one array
(:func:`~bocb_mm.sweep.slurm.write_slurm_array`, in a folder of its own:
``<out_dir>/array_<k>/`` with its index map, script and ``slurm_logs/``), submits it, waits
until every task has left the queue (requeued tasks included) and settles each future with the
record its task wrote. The tuning protocol's driver calls ``flush`` before it waits for results
(:func:`bocb_mm.sweep.protocol.run_protocol`), so each stage of the protocol (first rung,
survivors, finals) becomes one array, which ``max_parallel`` throttles as a whole.

Each array task trains its run as the subprocess executor does (the run's lock, its records,
resume from its checkpoint; :func:`bocb_mm.sweep.slurm.run_task`), so a run trained on Slurm
leaves what a local run leaves. Interrupted (an exception, Ctrl-C), the executor cancels its
array (``scancel``); the runs keep their checkpoints, and the same call resumes them.
"""
from __future__ import annotations

import os
import os.path as osp
import re
import subprocess
import sys
from concurrent.futures import Future

from .local import LOG_NAME, log_tail
from .plan import Run
from .record import STARTED, read_record, run_record
from .slurm import run_slurm, submit, wait_for, write_slurm_array

__all__ = ['SlurmExecutor', 'default_partition']

_ARRAY_DIR = re.compile(r'array_(\d+)$')


def default_partition() -> str:
    """The cluster's default partition (``sinfo`` marks it with ``*``).

    Raises:
        RuntimeError: when ``sinfo`` fails or names no default partition.
    """
    listed = run_slurm('sinfo', '-h', '-o', '%P')
    defaults = [p[:-1] for p in listed.split() if p.endswith('*')]
    if not defaults:
        shown = listed.strip() or 'nothing'
        raise RuntimeError(f'no default Slurm partition (sinfo -h -o %P: {shown}); name one '
                           'with --partition')
    return defaults[0]


def next_array_dir(out_dir: str) -> str:
    """``<out_dir>/array_<k>``, ``k`` one past the highest there (0 in a new folder)."""
    taken = [int(m.group(1)) for m in map(_ARRAY_DIR.match, os.listdir(out_dir)) if m] \
        if osp.isdir(out_dir) else []
    return osp.join(out_dir, f'array_{max(taken, default=-1) + 1}')


class BatchFuture(Future):
    """A run's future; asking for its result first submits the executor's queued runs."""

    def __init__(self, executor: 'SlurmExecutor') -> None:
        super().__init__()
        self._executor = executor

    def result(self, timeout: float | None = None) -> dict:
        if not self.done():
            self._executor.flush()
        return super().result(timeout)


class SlurmExecutor:
    """Trains runs as Slurm job arrays, one array per :meth:`flush`.

    Args:
        out_dir: Where each array's folder goes (``array_<k>/``: index map, sbatch script,
            ``slurm_logs/``, job id).
        partition: The partition to submit to.
        gpus_per_run: GPUs (= Slurm tasks) per run; 0 for a CPU run.
        cpus_per_run: Cores per Slurm task (per run on a CPU job).
        max_parallel: Array tasks running at a time (``--array=0-N%M``); None: no throttle.
        time_limit: ``--time`` of each task (a warned task checkpoints and requeues itself).
        job_name: The arrays' job name.
        poll: Seconds between two looks at the queue.
        python: The interpreter of the array tasks (it must see the same files and packages).
    """

    mode = 'slurm'

    def __init__(self, out_dir: str, partition: str, gpus_per_run: int = 0,
                 cpus_per_run: int = 1, max_parallel: int | None = None,
                 time_limit: str | None = None, job_name: str = 'bocb', poll: float = 5.0,
                 python: str = sys.executable) -> None:
        self.out_dir = osp.abspath(out_dir)
        self.partition = partition
        self.job_name = job_name
        self.poll = poll
        self.script_options = dict(gpus_per_run=gpus_per_run, cpus_per_gpu=cpus_per_run,
                                   max_parallel=max_parallel, time_limit=time_limit,
                                   python=python)
        self.job_ids: list[str] = []
        self._queued: list[tuple[Run, BatchFuture]] = []
        self._in_flight: str | None = None

    def submit(self, run: Run) -> Future:
        """Queue a run for the next array; the future's result is its record."""
        future = BatchFuture(self)
        self._queued.append((run, future))
        return future

    def flush(self) -> str | None:
        """Submit the queued runs as one array and wait for it; returns its job id (None when
        no run was queued or every queued run had finished before)."""
        batch, self._queued = self._queued, []
        if not batch:
            return None
        runs = [run for run, _ in batch]
        before = {run.work_dir: read_record(run.work_dir) for run in runs}
        folder = next_array_dir(self.out_dir)
        script, _, todo = write_slurm_array(runs, folder, self.partition, self.job_name,
                                            **self.script_options)
        job_id = None
        if todo:
            job_id = self._in_flight = submit(script)
            self.job_ids.append(job_id)
            wait_for(job_id, poll=self.poll)
            self._in_flight = None
        logs = {run.work_dir: osp.join(folder, 'slurm_logs', f'{job_id}_{i}.out')
                for i, run in enumerate(todo)}
        for run, future in batch:
            future.set_result(task_record(run, before[run.work_dir], logs.get(run.work_dir)))
        return job_id

    def shutdown(self, cancel: bool = False) -> None:
        """Train what is queued (``cancel``: drop it, and cancel the array in flight)."""
        if not cancel:
            self.flush()
            return
        if self._in_flight is not None:
            subprocess.run(['scancel', self._in_flight], capture_output=True, timeout=60)
            self._in_flight = None
        for _, future in self._queued:
            future.cancel()
        self._queued = []

    def __enter__(self) -> 'SlurmExecutor':
        return self

    def __exit__(self, exc_type, *_) -> None:
        self.shutdown(cancel=exc_type is not None)


def task_record(run: Run, before: dict | None, task_log: str | None) -> dict:
    """The record of ``run`` after its array ended: the one its task wrote, or a ``failed``
    one with the end of the task's Slurm log when the task wrote none (killed, cancelled, its
    work dir locked by another process).

    Args:
        run: The run.
        before: Its record before the array was submitted (an unchanged one is not the task's).
        task_log: The Slurm log of the run's task; None when the run was not in the array (it
            had finished before).
    """
    record = read_record(run.work_dir)
    ended = record is not None and record.get('status') != STARTED
    if ended and (task_log is None or record != before):
        return record
    return run_record(run, None, status='failed', returncode=None, executor=SlurmExecutor.mode,
                      log=osp.join(run.work_dir, LOG_NAME),
                      log_tail=f'its Slurm task wrote no final record ({task_log}):\n'
                               + (log_tail(task_log) if task_log else ''))
