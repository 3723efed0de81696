"""Run a planned grid on this machine: a queue of ``tools/train.py`` processes, N at a time.

Finished runs are skipped, interrupted ones resume from their last checkpoint, a failing run is
recorded with the tail of its log and the rest of the queue goes on. A run holds its work dir's
lock while it trains (its ``tools/train.py`` holds it too); a run whose work dir stays locked
(a training left over from a killed sweep) is reported as failed, naming the holder, and not
trained. On Linux a ``tools/train.py`` process ends with the sweep that started it
(:mod:`bocb_mm.utils.lifetime`).

With ``runs_per_gpu`` the queue packs runs onto the visible GPUs: one slot per (GPU, k) for
``k < runs_per_gpu``, each run started in a free slot with ``CUDA_VISIBLE_DEVICES`` set to that
slot's GPU (:func:`visible_gpus`, :func:`gpu_slots`, :func:`run_env`).
"""
from __future__ import annotations

import os
import os.path as osp
import subprocess
import sys
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, Mapping, Sequence

from tqdm import tqdm

from bocb_mm.training.options import TrainOptions
from bocb_mm.utils.lifetime import child_env

from .collect import classify_failure, has_checkpoint, is_finished
from .lock import RUN_LOCK_WAIT, FileLock, LockedError, folder_lock_path
from .plan import Run
from .record import prepare_work_dir, run_record, write_record

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TRAIN_PY = osp.join(REPO_ROOT, 'tools', 'train.py')
LOG_NAME = 'sweep_train.log'


def train_options(run: Run) -> TrainOptions:
    """The options ``run`` trains with: its own work dir and seed, and ``resume='auto'`` when its
    work dir has a checkpoint (else ``run.options.resume``, a checkpoint to start from)."""
    resume = 'auto' if has_checkpoint(run) else run.options.resume
    return run.options.replace(work_dir=run.work_dir, seed=run.seed, resume=resume)


def train_command(run: Run, python: str = sys.executable) -> list[str]:
    """The ``tools/train.py`` command line of one run (:func:`train_options` as arguments)."""
    return [python, TRAIN_PY, run.config, *train_options(run).to_argv()]


def log_tail(path: str, lines: int = 30) -> str:
    try:
        with open(path, errors='replace') as f:
            return ''.join(deque(f, maxlen=lines))
    except OSError:
        return ''


def visible_gpus(env: Mapping[str, str] | None = None) -> list[str]:
    """The GPUs this process may place runs on, as ``CUDA_VISIBLE_DEVICES`` entries.

    Args:
        env: The environment to read (default ``os.environ``).

    Returns:
        The entries of ``CUDA_VISIBLE_DEVICES`` when it is set (as CUDA reads it: up to the
        first negative entry, so ``''`` and ``'-1'`` hide every GPU), else ``'0'`` ..
        ``str(torch.cuda.device_count() - 1)``.
    """
    env = os.environ if env is None else env
    value = env.get('CUDA_VISIBLE_DEVICES')
    if value is None:
        import torch
        return [str(i) for i in range(torch.cuda.device_count())]
    gpus: list[str] = []
    for entry in (e.strip() for e in value.split(',')):
        if not entry or entry.startswith('-'):
            break
        gpus.append(entry)
    return gpus


class GPUSlotError(RuntimeError, ValueError):
    """``--runs-per-gpu`` cannot be honoured: no GPU is visible, or N < 1."""


def gpu_slots(gpus: Sequence[str], runs_per_gpu: int) -> list[str]:
    """The run slots of ``runs_per_gpu`` runs on each GPU, GPUs interleaved.

    Interleaving spreads the first runs over all GPUs before any GPU takes a second one.

    Args:
        gpus: GPU ids (``CUDA_VISIBLE_DEVICES`` entries), e.g. from :func:`visible_gpus`.
        runs_per_gpu: Runs placed on each GPU at a time.

    Returns:
        One GPU id per slot, ``len(gpus) * runs_per_gpu`` of them.

    Raises:
        GPUSlotError: If ``runs_per_gpu < 1`` or no GPU is visible (a ValueError and a
            RuntimeError).
    """
    if runs_per_gpu < 1:
        raise GPUSlotError(f'runs_per_gpu must be >= 1, got {runs_per_gpu}')
    if not gpus:
        raise GPUSlotError(
            f'--runs-per-gpu {runs_per_gpu}: no GPU is visible (CUDA_VISIBLE_DEVICES='
            f'{os.environ.get("CUDA_VISIBLE_DEVICES", "<unset>")!r}, or torch sees no CUDA '
            'device); to run on the CPU use --jobs N instead')
    return [gpu for _ in range(runs_per_gpu) for gpu in gpus]


def run_env(threads: int, gpu: str | None = None,
            base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of one training process.

    Args:
        threads: torch / OpenMP / MKL threads of the process.
        gpu: The GPU it runs on (``CUDA_VISIBLE_DEVICES``); None leaves the variable as it is.
        base: The environment to extend (default ``os.environ``).

    Returns:
        A new environment dict.
    """
    env = {**(os.environ if base is None else base), 'OMP_NUM_THREADS': str(threads),
           'MKL_NUM_THREADS': str(threads)}
    if gpu is not None:
        env['CUDA_VISIBLE_DEVICES'] = gpu
    return env


def _threads(threads_per_job: int | None, jobs: int) -> int:
    """Threads per process: as asked, else an equal share of the cores."""
    return threads_per_job or max(1, (os.cpu_count() or 1) // max(jobs, 1))


def lock_run(run: Run, wait: float = RUN_LOCK_WAIT) -> FileLock:
    """Take the lock of ``run``'s work dir (waiting up to ``wait`` seconds for a holder).

    Raises:
        LockedError: naming the work dir and the holder.
    """
    return FileLock(folder_lock_path(run.work_dir), f'run dir {run.work_dir}').acquire(wait)


def locked_record(run: Run, err: LockedError, executor: str) -> dict:
    """The record of a run not trained because its work dir is locked (not written: the work
    dir is the holder's)."""
    return run_record(run, '', status='failed', returncode=None, executor=executor,
                      log=osp.join(run.work_dir, LOG_NAME), log_tail=f'not trained: {err}')


class TrainJob:
    """One ``tools/train.py`` process, holding its run's lock (raises :class:`LockedError`).

    Args:
        run: The run.
        env: The process's environment (see :func:`run_env`).
        python: Interpreter for ``tools/train.py``.
        gpu: The GPU it runs on, for the record.
        lock_wait: Seconds to wait for the run's lock.
        command: The command line (default: :func:`train_command`).
        executor: Who runs it, for the record.
    """

    def __init__(self, run: Run, env: dict, python: str, gpu: str | None = None,
                 lock_wait: float = RUN_LOCK_WAIT, command: list[str] | None = None,
                 executor: str = 'subprocess') -> None:
        self.executor = executor
        self.lock = lock_run(run, lock_wait)
        try:
            self.fingerprint = prepare_work_dir(run)
            self.run = run
            self.resumed = has_checkpoint(run)
            self.log_path = osp.join(run.work_dir, LOG_NAME)
            self.gpu = gpu
            self.start = time.time()
            self.log = open(self.log_path, 'a')
            self.proc = subprocess.Popen(
                command or train_command(run, python), stdout=self.log, stderr=subprocess.STDOUT,
                env=child_env(env), cwd=REPO_ROOT, pass_fds=(self.lock.fd,))
        except BaseException:
            self.lock.release()
            raise
        self.lock.note(f'tools/train.py pid {self.proc.pid}')

    def finish(self) -> dict:
        self.log.close()
        ok = self.proc.returncode == 0
        tail = '' if ok else log_tail(self.log_path)
        record = run_record(self.run, self.fingerprint, returncode=self.proc.returncode,
                            status='finished' if ok else classify_failure(tail),
                            resumed=self.resumed, wall_time=round(time.time() - self.start, 2),
                            log=self.log_path, executor=self.executor)
        if self.gpu is not None:
            record['gpu'] = self.gpu
        if not ok:
            record['log_tail'] = tail
        write_record(self.run.work_dir, record)
        self.lock.release()
        return record

    def stop(self) -> None:
        """End the training (interrupted); its checkpoints and ``started`` record stay."""
        self.proc.terminate()
        self.proc.wait()
        self.release()

    def release(self) -> None:
        """Let the run go unfinished (its checkpoints and ``started`` record stay)."""
        self.log.close()
        self.lock.release()


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
        self.env = run_env(_threads(threads_per_job, jobs))
        self.python = python
        self._pool = ThreadPoolExecutor(max(1, jobs))
        self._running: set[TrainJob] = set()

    def _run(self, run: Run) -> dict:
        try:
            job = TrainJob(run, self.env, self.python)
        except LockedError as err:
            return locked_record(run, err, self.mode)
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
                job.proc.terminate()  # its thread then writes the record and lets the lock go
        self._pool.shutdown(wait=True, cancel_futures=cancel)

    def __enter__(self) -> 'SubprocessExecutor':
        return self

    def __exit__(self, exc_type, *_) -> None:
        self.shutdown(cancel=exc_type is not None)


def run_local(runs: Sequence[Run], jobs: int = 1, python: str = sys.executable,
              threads_per_job: int | None = None, poll: float = 0.2,
              on_done: Callable[[dict], None] | None = None, runs_per_gpu: int | None = None,
              gpus: Sequence[str] | None = None, lock_wait: float = RUN_LOCK_WAIT) -> list[dict]:
    """Run the grid with ``jobs`` processes in parallel; returns the records of runs started.

    Args:
        runs: the planned runs; finished ones are skipped.
        jobs: processes at a time (ignored with ``runs_per_gpu``).
        python: interpreter for ``tools/train.py``.
        threads_per_job: torch/OpenMP threads per process (default: cores // processes).
        poll: seconds between checks of the running processes.
        on_done: called with each finished run's record (e.g. to print failures).
        runs_per_gpu: pack this many runs on each GPU at a time, each process seeing only its
            GPU (``CUDA_VISIBLE_DEVICES``); ``jobs`` becomes ``len(gpus) * runs_per_gpu``.
        gpus: the GPUs to use with ``runs_per_gpu`` (default :func:`visible_gpus`).
        lock_wait: seconds a run waits for its work dir's lock before it is reported as failed
            (not trained).

    Raises:
        ValueError: If ``jobs`` or ``runs_per_gpu`` is below 1.
        RuntimeError: With ``runs_per_gpu`` when no GPU is visible.
    """
    if jobs < 1:
        raise ValueError(f'jobs must be >= 1, got {jobs}')
    slots: deque[str | None] = deque([None] * jobs)
    if runs_per_gpu is not None:
        slots = deque(gpu_slots(visible_gpus() if gpus is None else gpus, runs_per_gpu))
    threads = _threads(threads_per_job, len(slots))
    todo = deque(r for r in runs if not is_finished(r))
    skipped = len(runs) - len(todo)
    records: list[dict] = []
    running: list[TrainJob] = []
    bar = tqdm(total=len(runs), initial=skipped, unit='run', desc='sweep', dynamic_ncols=True)

    def done(run: Run, record: dict) -> None:
        records.append(record)
        if on_done:
            on_done(record)
        failed = sum(r['status'] == 'failed' for r in records)
        bar.set_postfix(failed=failed, last=run.name)
        bar.update(1)

    try:
        while todo or running:
            while todo and slots:
                gpu = slots.popleft()
                run = todo.popleft()
                try:
                    running.append(TrainJob(run, run_env(threads, gpu), python, gpu, lock_wait))
                except LockedError as err:
                    slots.append(gpu)
                    done(run, locked_record(run, err, SubprocessExecutor.mode))
            time.sleep(poll)
            for job in [j for j in running if j.proc.poll() is not None]:
                running.remove(job)
                slots.append(job.gpu)
                done(job.run, job.finish())
    finally:
        for job in running:  # interrupted: stop children, keep their checkpoints for resume
            job.stop()
        bar.close()
    return records
