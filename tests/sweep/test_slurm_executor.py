"""The Slurm executor: each flush is one array in a folder of its own, every future gets the
record its task wrote (or a failed one naming the task's log), a finished run is not submitted."""
from __future__ import annotations

from pathlib import Path

import pytest

from bocb_mm.datasets import random_cifar
from bocb_mm.sweep import Run
from bocb_mm.sweep.local import lock_run
from bocb_mm.sweep.record import STARTED, read_record, run_record, write_record
from bocb_mm.sweep.slurm_executor import (SlurmExecutor, default_partition, next_array_dir,
                                          task_record)

from sweep_helpers import CONFIG


def _run(tmp_path: Path, name: str) -> Run:
    config = tmp_path / f'{name}.py'
    config.write_text(CONFIG.format(backbone='Mini-R8', optimizer='SGD-M', width=8, channels=64,
                                    data_root=str(tmp_path / 'data'), epochs=1,
                                    optimizer_cfg="dict(type='SGD', lr=0.05, momentum=0.9)"))
    return Run(config=str(config), seed=0, work_dir=str(tmp_path / 'w' / name))


def test_each_array_gets_the_next_folder(tmp_path: Path) -> None:
    assert next_array_dir(str(tmp_path / 'new')) == str(tmp_path / 'new' / 'array_0')
    for name in ('array_0', 'array_3', 'array_x', 'notes'):
        (tmp_path / name).mkdir()
    assert next_array_dir(str(tmp_path)) == str(tmp_path / 'array_4')


def test_a_task_that_wrote_no_final_record_is_failed(tmp_path: Path) -> None:
    run = _run(tmp_path, 'r')
    task_log = tmp_path / '7_0.out'
    task_log.write_text('slurmstepd: error: *** JOB 7 CANCELLED ***\n')
    record = task_record(run, None, str(task_log))  # no record at all
    assert record['status'] == 'failed' and record['executor'] == 'slurm'
    assert str(task_log) in record['log_tail'] and 'CANCELLED' in record['log_tail']
    Path(run.work_dir).mkdir(parents=True)
    started = run_record(run, 'abc', status=STARTED)
    write_record(run.work_dir, started)  # killed while training
    assert task_record(run, None, str(task_log))['status'] == 'failed'
    failed = run_record(run, 'abc', status='failed', log_tail='an earlier failure')
    write_record(run.work_dir, failed)  # an earlier attempt's record, not this task's
    assert 'CANCELLED' in task_record(run, failed, str(task_log))['log_tail']
    finished = run_record(run, 'abc', status='finished')
    write_record(run.work_dir, finished)
    assert task_record(run, failed, str(task_log)) == finished
    assert task_record(run, finished, None) == finished  # not in the array: finished before


@pytest.mark.slurm
@pytest.mark.usefixtures('slurm_cluster')
def test_one_array_per_flush_and_a_finished_run_is_not_submitted(tmp_path: Path) -> None:
    random_cifar(str(tmp_path / 'data'), num_train=40, num_test=16, num_classes=10)
    good, locked = _run(tmp_path, 'good'), _run(tmp_path, 'locked')
    out = tmp_path / 'slurm'
    with lock_run(locked), SlurmExecutor(str(out), default_partition(), poll=0.5) as executor:
        futures = [executor.submit(good), executor.submit(locked)]
        assert not any(f.done() for f in futures)  # queued until the flush
        record = futures[0].result(timeout=600)  # asking for a result submits the batch
        assert len(executor.job_ids) == 1 and futures[1].done()
    assert record['status'] == 'finished' and record['executor'] == 'slurm'
    assert record == read_record(good.work_dir)
    refused = futures[1].result()
    assert refused['status'] == 'failed' and 'not trained' in refused['log_tail']
    [job] = executor.job_ids
    assert (out / 'array_0' / 'slurm_job.txt').read_text().strip() == job
    assert len((out / 'array_0' / 'index_map.tsv').read_text().splitlines()) == 3
    with SlurmExecutor(str(out), default_partition(), poll=0.5) as again:
        assert again.submit(good).result() == record
        assert again.flush() is None and again.job_ids == []
