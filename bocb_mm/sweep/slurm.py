"""A planned grid as one Slurm job array: an index map, an sbatch script, submission and state.

:func:`write_slurm_array` writes ``index_map.tsv`` (one line per run still to do) and
``sweep.sbatch``. Each array task runs :func:`run_task` (through :func:`main`):
it reads its line, takes the run's lock, writes the run's ``bocb_run.json`` as the local
executors do, and trains it with ``tools/train.py`` (under ``srun --launcher slurm`` when the
run spans several tasks). So finished runs are skipped, interrupted ones resume, and
collection, ``status`` and the report read a Slurm grid as they read a local one.

Preemption and time limits: the script asks Slurm for ``USR1`` some minutes before the task's
end (``--signal=B:USR1@<s>``) and allows requeueing. The task passes the signal on to the
training (``--stop-signal USR1``: finish the epoch, checkpoint, exit 75), then requeues itself
(``scontrol requeue``); the requeued task resumes from that checkpoint.

``gpus_per_run=0`` writes a CPU job (no ``--gres``; one task with ``cpus_per_task`` cores).
"""
from __future__ import annotations

import csv
import os
import os.path as osp
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Sequence

from bocb_mm.training.options import STOPPED_EXIT, TrainOptions
from bocb_mm.utils.fileio import atomic_write

from .collect import is_finished, run_state
from .local import LOG_NAME, REPO_ROOT, TRAIN_PY, TrainJob, run_env, train_options
from .lock import LockedError, folder_lock_path, is_locked
from .plan import Run
from .record import read_record, set_aside_other_run

__all__ = ['MAP_FIELDS', 'STOP_SIGNAL', 'write_index_map', 'read_index_map', 'sbatch_script',
           'write_slurm_array', 'submit', 'queued_tasks', 'wait_for', 'slurm_status',
           'run_task', 'run_slurm']

MAP_FIELDS = ('index', 'config', 'work_dir', 'seed', 'backbone', 'optimizer', 'dataset',
              'config_hash', 'options')
#: The signal Slurm sends before a task's time limit or preemption.
STOP_SIGNAL = 'USR1'
JOB_FILE = 'slurm_job.txt'
_TASK_MAIN = 'import sys; from bocb_mm.sweep.slurm import main; sys.exit(main())'


def write_index_map(runs: Sequence[Run], path: str) -> list[Run]:
    """Write the TSV map ``index -> run`` of the runs still to do; returns those runs.

    A work dir holding another configuration's run (another fingerprint) is moved aside first
    (:func:`~bocb_mm.sweep.record.set_aside_other_run`).
    """
    todo = [r for r in runs if not is_finished(r)]
    for run in todo:  # a task must not resume another configuration's checkpoint
        set_aside_other_run(run)
    rows = [MAP_FIELDS]
    for i, run in enumerate(todo):
        rows.append((i, run.config, run.work_dir, run.seed, run.backbone, run.optimizer,
                     run.dataset, run.config_hash, shlex.join(run.options.to_argv())))

    def write(tmp: str) -> None:
        with open(tmp, 'w', newline='') as f:
            csv.writer(f, delimiter='\t', lineterminator='\n').writerows(rows)
    atomic_write(path, write)
    return todo


def read_index_map(path: str) -> list[Run]:
    """The runs of an index map, in index order.

    Raises:
        ValueError: naming the file when its header is not :data:`MAP_FIELDS`.
    """
    with open(path, newline='') as f:
        rows = list(csv.reader(f, delimiter='\t'))
    if not rows or tuple(rows[0]) != MAP_FIELDS:
        raise ValueError(f'{path} is not an index map of this version (header '
                         f'{rows[0] if rows else "missing"}; expected {"/".join(MAP_FIELDS)}); '
                         'write it again with bocb_sweep.py slurm')
    return [Run(config=row[1], work_dir=row[2], seed=int(row[3]), backbone=row[4],
                optimizer=row[5], dataset=row[6], config_hash=row[7],
                options=TrainOptions.from_argv(shlex.split(row[8]))) for row in rows[1:]]


def sbatch_script(map_path: str, n_tasks: int, partition: str, job_name: str,
                  gpus_per_run: int = 1, cpus_per_gpu: int = 5, max_parallel: int | None = None,
                  time_limit: str | None = None, signal_seconds: int = 300,
                  python: str = sys.executable) -> str:
    """The text of an sbatch array script over ``map_path``'s ``n_tasks`` lines.

    Args:
        gpus_per_run: GPUs (= Slurm tasks) per run; 0 for a CPU run (one task, no ``--gres``).
        cpus_per_gpu: Cores per Slurm task (per run on a CPU job).
        max_parallel: Array tasks running at a time (``--array=0-N%M``).
        time_limit: ``--time`` of each task.
        signal_seconds: ``USR1`` comes this many seconds before the task's end.
        python: The interpreter of the tasks.
    """
    array = f'0-{n_tasks - 1}' + (f'%{max_parallel}' if max_parallel else '')
    log_dir = osp.join(osp.dirname(osp.abspath(map_path)), 'slurm_logs')
    lines = [
        '#!/usr/bin/env bash',
        f'#SBATCH --job-name={job_name}',
        f'#SBATCH --partition={partition}',
        f'#SBATCH --array={array}',
        f'#SBATCH --ntasks={max(gpus_per_run, 1)}',
        f'#SBATCH --cpus-per-task={cpus_per_gpu}',
        f'#SBATCH --output={log_dir}/%A_%a.out',
        '#SBATCH --open-mode=append',
        '#SBATCH --requeue',
        f'#SBATCH --signal=B:{STOP_SIGNAL}@{signal_seconds}',
    ]
    if gpus_per_run > 0:
        lines.insert(5, f'#SBATCH --gres=gpu:{min(gpus_per_run, 8)}')
    if time_limit:
        lines.append(f'#SBATCH --time={time_limit}')
    lines += [
        'set -euo pipefail',
        f'cd {shlex.quote(REPO_ROOT)}',
        '# the task reads its line of the map, trains the run and writes its record',
        f'exec {shlex.quote(python)} -c {shlex.quote(_TASK_MAIN)} '
        f'{shlex.quote(osp.abspath(map_path))} --gpus-per-run {gpus_per_run}',
    ]
    return '\n'.join(lines) + '\n'


def write_slurm_array(runs: Sequence[Run], out_dir: str, partition: str, job_name: str = 'bocb',
                      **kwargs) -> tuple[str, str, list[Run]]:
    """Write ``index_map.tsv`` and ``sweep.sbatch`` into ``out_dir``.

    Args:
        kwargs: :func:`sbatch_script`'s options.

    Returns:
        (script path, map path, runs in the array). The array is empty (no script) when every
        run has finished.
    """
    os.makedirs(osp.join(out_dir, 'slurm_logs'), exist_ok=True)
    map_path = osp.join(out_dir, 'index_map.tsv')
    todo = write_index_map(runs, map_path)
    script_path = osp.join(out_dir, 'sweep.sbatch')
    if todo:
        text = sbatch_script(map_path, len(todo), partition, job_name, **kwargs)
        atomic_write(script_path, lambda tmp: Path(tmp).write_text(text))
    return script_path, map_path, todo


def run_slurm(*args: str) -> str:
    """The output of a Slurm command; its message on failure.

    Raises:
        RuntimeError: naming the command and Slurm's message (or that it is not installed).
    """
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=60)
    except FileNotFoundError:
        raise RuntimeError(f'{args[0]} not found: Slurm is not installed here') from None
    if done.returncode != 0:
        raise RuntimeError(f'{" ".join(args)}: {done.stderr.strip() or done.stdout.strip()}')
    return done.stdout


def submit(script: str) -> str:
    """Submit an sbatch script; its job id is returned and kept next to it (``slurm_job.txt``)."""
    job_id = run_slurm('sbatch', '--parsable', script).strip().split(';')[0]
    Path(osp.dirname(osp.abspath(script)), JOB_FILE).write_text(job_id + '\n')
    return job_id


def queued_tasks(job_id: str) -> dict[int, str]:
    """The array tasks of ``job_id`` that Slurm still holds: index -> state (``PENDING``,
    ``RUNNING``, ...). Tasks that ended are not listed (accounting may be off)."""
    out = run_slurm('squeue', '-h', '-r', '-j', job_id, '-o', '%K %T')
    states = {}
    for line in out.splitlines():
        index, _, state = line.strip().partition(' ')
        if index.isdigit():
            states[int(index)] = state
    return states


def wait_for(job_id: str, poll: float = 5.0, timeout: float | None = None) -> None:
    """Block until every task of ``job_id`` has left the queue (requeued ones included).

    Raises:
        TimeoutError: after ``timeout`` seconds.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    while queued_tasks(job_id):
        if deadline is not None and time.monotonic() > deadline:
            raise TimeoutError(f'Slurm job {job_id} still queued after {timeout:.0f} s')
        time.sleep(poll)


def slurm_status(runs: Sequence[Run], work_root: str) -> list[dict]:
    """Each run's state: ``done`` / ``diverged`` / ``failed`` from its record, ``running`` while
    its lock is held, ``queued`` while its array task waits, else ``pending``; with its log.

    The array is the last one submitted from ``work_root`` (``slurm_job.txt``), if Slurm is
    reachable.
    """
    queued: dict[str, str] = {}
    job_file = osp.join(work_root, JOB_FILE)
    if osp.isfile(job_file):
        job_id = Path(job_file).read_text().strip()
        try:
            by_index = queued_tasks(job_id)
            mapped = read_index_map(osp.join(work_root, 'index_map.tsv'))
            queued = {mapped[i].work_dir: s for i, s in by_index.items() if i < len(mapped)}
        except (RuntimeError, OSError, ValueError):
            queued = {}
    return [dict(run=run.name, state=_state(run, queued.get(run.work_dir)),
                 log=osp.join(run.work_dir, LOG_NAME)) for run in runs]


def _state(run: Run, queued: str | None) -> str:
    if run_state(run) == 'finished':
        return 'done' if (read_record(run.work_dir) or {}).get('status') == 'finished' \
            else 'diverged'
    if is_locked(folder_lock_path(run.work_dir)) or queued == 'RUNNING':
        return 'running'
    if queued:
        return 'queued'
    record = read_record(run.work_dir) or {}
    return 'failed' if record.get('status') in ('failed', 'diverged') else 'pending'


def _task_command(run: Run, gpus_per_run: int, python: str) -> list[str]:
    options = train_options(run).replace(stop_signal=STOP_SIGNAL)
    if gpus_per_run > 1:
        return ['srun', '--kill-on-bad-exit=1', python, '-u', TRAIN_PY, run.config,
                *options.replace(launcher='slurm').to_argv()]
    return [python, '-u', TRAIN_PY, run.config, *options.to_argv()]


def run_task(map_path: str, index: int, gpus_per_run: int = 1,
             python: str = sys.executable) -> int:
    """Train the run on line ``index`` of an index map, as one array task does.

    ``USR1`` (Slurm's warning before the end) is passed on to the training, which checkpoints
    and stops; the task then requeues itself (``scontrol requeue``).

    Returns:
        The exit status for the task: 0 when the run ended (its record says how), 1 when its
        work dir is locked by another process.
    """
    run = read_index_map(map_path)[index]
    threads = int(os.environ.get('SLURM_CPUS_PER_TASK', '1'))
    try:
        job = TrainJob(run, run_env(threads), python, executor='slurm',
                       command=_task_command(run, gpus_per_run, python))
    except LockedError as err:
        print(f'not trained: {err}', file=sys.stderr)
        return 1
    stop = lambda *_: job.proc.send_signal(signal.SIGUSR1)  # noqa: E731
    previous = signal.signal(signal.SIGUSR1, stop)
    try:
        job.proc.wait()
    finally:
        signal.signal(signal.SIGUSR1, previous)
    if job.proc.returncode == STOPPED_EXIT:
        job.release()
        _requeue()
        return 0
    record = job.finish()
    print(f'{run.name}: {record["status"]}', file=sys.stderr)
    return 0


def _requeue() -> None:
    """Put this array task back in the queue (it resumes from its checkpoint)."""
    task = os.environ.get('SLURM_ARRAY_TASK_ID')
    array = os.environ.get('SLURM_ARRAY_JOB_ID')
    job = f'{array}_{task}' if array and task else os.environ['SLURM_JOB_ID']
    print(f'stopped on {STOP_SIGNAL}: requeueing {job}', file=sys.stderr, flush=True)
    run_slurm('scontrol', 'requeue', job)


def main(argv: list[str] | None = None) -> int:
    """One array task: ``MAP --gpus-per-run N [--index I]`` (the line: the task's array index)."""
    import argparse
    parser = argparse.ArgumentParser(description='one task of a bocb_sweep Slurm array')
    parser.add_argument('map', help='index_map.tsv of the array')
    parser.add_argument('--gpus-per-run', type=int, default=1)
    parser.add_argument('--index', type=int, help='map line (default: SLURM_ARRAY_TASK_ID)')
    args = parser.parse_args(argv)
    index = args.index if args.index is not None else int(os.environ['SLURM_ARRAY_TASK_ID'])
    return run_task(args.map, index, args.gpus_per_run)
