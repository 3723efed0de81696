"""Run a grid inside long-lived worker processes: one per core, many mmengine Runners each.

A new ``tools/train.py`` process spends seconds importing torch, mmengine and mmpretrain before
its first iteration; on a grid of small runs that start-up is most of the time. The workers of
:class:`InProcessExecutor` import the stack once and then, for every run, call
:func:`bocb_mm.training.train` with the options ``tools/train.py`` would get
(:func:`~bocb_mm.sweep.local.train_options`): the same config, checks and resume fallback.
What a run leaves behind is what the subprocess mode leaves: its work_dir, scalars, checkpoints,
``bocb_run.json`` and ``sweep_train.log``, so collection, resuming and the report do not care which
mode ran it. Subprocess mode (:func:`~bocb_mm.sweep.local.run_local`, Slurm arrays) stays for GPU
clusters, where each run wants its own process and devices.

Each record also says how long the run spent outside training and validation iterations
(``overhead``: Runner build, data set loading, hooks set-up, checkpoint writing, clean-up), read
from the iteration times mmengine's ``IterTimerHook`` leaves in the message hub.
"""
from __future__ import annotations

import contextlib
import logging
import os
import os.path as osp
import threading
import time
import traceback
from concurrent.futures import Future, InvalidStateError, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context

from .collect import classify_failure
from bocb_mm.utils.lifetime import die_with_parent

from .local import LOG_NAME, lock_run, locked_record, log_tail, train_options
from .lock import LockedError
from .plan import Run
from .record import prepare_work_dir, run_record, write_record

def init_worker(threads: int, parent: int | None = None) -> None:
    """Set a worker's thread count and import the stack before its first run.

    Args:
        threads: torch / OpenMP threads of this worker.
        parent: The pid of the process that started the worker: the worker ends when it dies
            (Linux), so no run is left training after a ``kill -9`` of the sweep or demo.
    """
    if parent is not None:
        die_with_parent(parent)
    for var in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS'):
        os.environ[var] = str(threads)
    import torch
    torch.set_num_threads(threads)
    import mmengine.runner  # noqa: F401
    import mmpretrain.models  # noqa: F401

    import bocb_mm  # noqa: F401
    import bocb_mm.training.entry  # noqa: F401


def _manager_classes() -> list[type]:
    """Every mmengine ``ManagerMixin`` class (loggers, message hubs, visualizers, scopes)."""
    from mmengine.utils import ManagerMixin
    found, todo = [], [ManagerMixin]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo += cls.__subclasses__()
    return found


def _instance_names() -> dict[type, set[str]]:
    """Names of the live ``ManagerMixin`` instances, per class."""
    return {cls: set(getattr(cls, '_instance_dict', {})) for cls in _manager_classes()}


def _release_new_instances(before: dict[type, set[str]]) -> None:
    """Close and forget the instances a run created (log files, visualizer backends).

    A Runner registers its logger, message hub, visualizer and default scope under its
    experiment name and never removes them; a worker that runs hundreds of Runners would keep
    every log file open.

    Args:
        before: :func:`_instance_names` taken before the run.
    """
    for cls in _manager_classes():
        instances = getattr(cls, '_instance_dict', {})
        for name in set(instances) - before.get(cls, set()):
            instance = instances.pop(name)
            if isinstance(instance, logging.Logger):
                for handler in list(instance.handlers):
                    handler.close()
                    instance.removeHandler(handler)
            elif hasattr(instance, 'close'):
                with contextlib.suppress(Exception):
                    instance.close()


def _loop_seconds(runner) -> float:
    """Seconds spent in training and validation iterations (``IterTimerHook``'s ``time``)."""
    total = 0.0
    for key in ('train/time', 'val/time'):
        buffer = runner.message_hub.log_scalars.get(key)
        if buffer is not None:
            total += float(buffer.data[0].sum())
    return total


def _unformatted(cfg):
    """The same config, whose text is not run through yapf.

    A Runner renders its config's text three or four times (log, dump, visualizer, checkpoint
    meta); with yapf that is about a second per run, without it a tenth. ``Config.fromfile``
    ignores its ``format_python_code`` argument for plain Python configs (mmengine 0.10.7), so
    the config is rebuilt with it.
    """
    from mmengine.config import Config
    return Config(cfg.to_dict(), cfg_text=cfg.text, filename=cfg.filename,
                  env_variables=cfg.env_variables, format_python_code=False)


def _train(run: Run, log) -> float:
    """Train ``run`` with :func:`bocb_mm.training.train`, its output going to ``log``.

    Args:
        run: The run.
        log: Open file receiving the run's console output.

    Returns:
        Seconds spent in training and validation iterations.
    """
    from mmengine.config import Config

    from bocb_mm.training import train

    def warn(msg: str) -> None:
        print(f'warning: {msg}', file=log, flush=True)

    cfg = _unformatted(Config.fromfile(run.config))
    with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        runner = train(cfg, train_options(run), warn=warn)
    return _loop_seconds(runner)


def train_in_process(run: Run) -> dict:
    """Train one run in this process and write its ``bocb_run.json``.

    The run holds its work dir's lock meanwhile; a run whose work dir stays locked (by another
    process, named in the record) is not trained (see :mod:`bocb_mm.sweep.local`).

    Args:
        run: The run.

    Returns:
        The run's record: status ``finished``, ``diverged`` (non-finite loss) or ``failed``,
        ``wall_time``, ``overhead`` (wall time outside training / validation iterations) and,
        when it did not finish, ``log_tail``.
    """
    try:
        lock = lock_run(run)
    except LockedError as err:
        return locked_record(run, err, InProcessExecutor.mode)
    with lock:
        return _train_and_record(run, prepare_work_dir(run))


def _train_and_record(run: Run, fingerprint: str) -> dict:
    """Train ``run`` (its work dir prepared and locked) and write its record."""
    log_path = osp.join(run.work_dir, LOG_NAME)
    before = _instance_names()
    start = time.perf_counter()
    record = run_record(run, fingerprint, executor='inprocess', pid=os.getpid(), log=log_path)
    loop = None
    with open(log_path, 'a') as log:
        try:
            loop = _train(run, log)
            record['status'] = 'finished'
        except BaseException as err:  # noqa: BLE001 - a run's failure must not kill the worker
            if isinstance(err, KeyboardInterrupt):
                raise
            log.write(''.join(traceback.format_exception(type(err), err, err.__traceback__)))
            log.flush()
            record['log_tail'] = log_tail(log_path)
            record['status'] = classify_failure(record['log_tail'])
        finally:
            _release_new_instances(before)
    wall = time.perf_counter() - start
    record['wall_time'] = round(wall, 3)
    record['overhead'] = round(wall - loop, 3) if loop is not None else None
    write_record(run.work_dir, record)
    return record


def lost_run_record(run: Run, deaths: int) -> dict:
    """The record of a run whose worker process died ``deaths`` times while it was in flight.

    Nothing is written to its work dir: the next call of the sweep or the demo trains it again.
    """
    return run_record(run, None, executor='inprocess', status='failed',
                      log=osp.join(run.work_dir, LOG_NAME),
                      log_tail=f'the worker process training this run died {deaths} time(s) '
                               '(killed, or out of memory?); the run was given up after its '
                               'retries',
                      wall_time=None, overhead=None)


class InProcessExecutor:
    """A pool of long-lived training workers (one per job slot) for :class:`Run` objects.

    Use as a context manager; :meth:`submit` returns a future of the run's record. Workers are
    started with ``spawn`` (no state inherited from the parent, on every platform).

    A worker that dies (killed, out of memory) breaks the process pool and every run in
    flight with it: the executor starts a new pool and submits those runs again (each resumes
    from its last checkpoint, if it has one), at most ``retries`` times per run; a run lost more
    often gets a ``failed`` record (:func:`lost_run_record`).

    Args:
        jobs: Workers (runs at a time).
        threads_per_job: torch threads per worker (default: cores // jobs, at least 1).
        start_method: multiprocessing start method of the workers.
        retries: How many times a run lost with its worker is submitted again.
    """

    mode = 'inprocess'

    def __init__(self, jobs: int = 1, threads_per_job: int | None = None,
                 start_method: str = 'spawn', retries: int = 2) -> None:
        self.jobs = max(1, jobs)
        self.threads = threads_per_job or max(1, (os.cpu_count() or 1) // self.jobs)
        self.retries = retries
        self.restarts = 0
        self._context = get_context(start_method)
        self._lock = threading.Lock()
        self._closed = False
        # resubmissions run here, not in the broken pool's own thread, which calls back
        self._resubmitter = ThreadPoolExecutor(1, thread_name_prefix='bocb-resubmit')
        self._pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(self.jobs, mp_context=self._context, initializer=init_worker,
                                   initargs=(self.threads, os.getpid()))

    def submit(self, run: Run) -> Future:
        """Queue a run; the future's result is its record (see :func:`train_in_process`)."""
        outer: Future = Future()
        self._start(run, outer, 0)
        return outer

    def _start(self, run: Run, outer: Future, lost: int) -> None:
        with self._lock:
            pool = self._pool
            inner = pool.submit(train_in_process, run)
        inner.add_done_callback(lambda done: self._settle(run, outer, lost, pool, done))

    def _settle(self, run: Run, outer: Future, lost: int, pool: ProcessPoolExecutor,
                inner: Future) -> None:
        """Pass the outcome of one attempt on, or submit the run again if its worker died."""
        if inner.cancelled():
            outer.cancel()
            return
        error = inner.exception()
        if isinstance(error, BrokenProcessPool) and not self._closed:
            if lost < self.retries:
                self._resubmitter.submit(self._retry, run, outer, lost + 1, pool)
                return
            error, result = None, lost_run_record(run, lost + 1)
        else:
            result = None if error else inner.result()
        with contextlib.suppress(InvalidStateError):  # the caller cancelled it
            if error is not None:
                outer.set_exception(error)
            else:
                outer.set_result(result)

    def _retry(self, run: Run, outer: Future, lost: int, broken: ProcessPoolExecutor) -> None:
        """Replace the broken pool (once for all the runs it lost) and submit ``run`` again."""
        with self._lock:
            if self._pool is broken and not self._closed:
                self._pool = self._new_pool()
                self.restarts += 1
                broken.shutdown(wait=False)
        try:
            self._start(run, outer, lost)
        except RuntimeError as err:  # shut down meanwhile
            with contextlib.suppress(InvalidStateError):
                outer.set_exception(err)

    def shutdown(self, cancel: bool = False) -> None:
        """Stop the workers (``cancel``: drop queued runs and end running ones now)."""
        if cancel:
            with self._lock:  # no pool is started after this
                self._closed = True
                pool = self._pool
            for proc in list((getattr(pool, '_processes', None) or {}).values()):
                proc.terminate()
            pool.shutdown(wait=False, cancel_futures=True)
        while not cancel:  # a pool that replaced a broken one meanwhile is waited for too
            pool = self._pool
            pool.shutdown(wait=True)
            with self._lock:
                if self._pool is pool:
                    self._closed = True
                    break
        self._resubmitter.shutdown(wait=True)

    def __enter__(self) -> 'InProcessExecutor':
        return self

    def __exit__(self, exc_type, *_) -> None:
        self.shutdown(cancel=exc_type is not None)
