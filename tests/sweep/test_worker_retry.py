"""The in-process executor when a worker process dies (killed, out of memory): the runs it took
down are trained again in a new pool, a bounded number of times."""
from __future__ import annotations

import multiprocessing
import os
import signal
import time
from pathlib import Path

from bocb_mm.datasets import random_cifar
from bocb_mm.sweep import InProcessExecutor, Run
from bocb_mm.sweep.collect import result_row

from sweep_helpers import CONFIG


def _run(root: Path, epochs: int = 2) -> Run:
    random_cifar(str(root / 'data'), num_train=40, num_test=16, num_classes=10)
    config = root / 'good.py'
    config.write_text(CONFIG.format(backbone='Mini-R4', optimizer='SGD-M', width=4, channels=32,
                                    data_root=str(root / 'data'), epochs=epochs,
                                    optimizer_cfg="dict(type='SGD', lr=0.05, momentum=0.9)"))
    return Run(config=str(config), seed=0, work_dir=str(root / 'work'))


def _kill_worker() -> int:
    (worker,) = multiprocessing.active_children()
    os.kill(worker.pid, signal.SIGKILL)
    return worker.pid


def test_run_of_a_killed_worker_is_trained_again(tmp_path: Path) -> None:
    run = _run(tmp_path)
    log = Path(run.work_dir) / 'sweep_train.log'
    with InProcessExecutor(jobs=1, threads_per_job=1) as executor:
        future = executor.submit(run)
        deadline = time.time() + 120
        while not log.exists() and time.time() < deadline:  # the worker has started the run
            time.sleep(0.05)
        killed = _kill_worker()
        record = future.result(timeout=600)
        assert executor.restarts == 1
    assert record['status'] == 'finished' and record['pid'] != killed
    assert result_row(run)['epochs'] == 2


def test_retries_are_bounded(tmp_path: Path) -> None:
    run = _run(tmp_path)
    with InProcessExecutor(jobs=1, threads_per_job=1, retries=0) as executor:
        future = executor.submit(run)
        _kill_worker()
        record = future.result(timeout=120)
        assert executor.restarts == 0
    assert record['status'] == 'failed'
    assert 'worker process training this run died 1 time(s)' in record['log_tail']
