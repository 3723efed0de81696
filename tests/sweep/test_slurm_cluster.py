"""A grid on a real Slurm cluster (the one-node cluster of tools/slurm/local_cluster.sh): CPU
array tasks train tiny real runs and write their records, a finished grid is not submitted
again, and a task warned with USR1 checkpoints, requeues itself and ends with the weights of an
uninterrupted run."""
from __future__ import annotations

import csv
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from bocb_mm.datasets import random_cifar
from bocb_mm.sweep import Run, SubprocessExecutor, plan_grid
from bocb_mm.sweep.record import read_record
from bocb_mm.sweep.slurm import submit, wait_for, write_slurm_array
from bocb_mm.sweep.slurm_executor import default_partition as _partition

from sweep_helpers import CONFIG

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.slurm, pytest.mark.usefixtures('slurm_cluster')]


def _config(path: Path, data_root: Path, epochs: int, lr: float = 0.05) -> str:
    path.write_text(CONFIG.format(backbone='Mini-R8', optimizer='SGD-M', width=8, channels=64,
                                  data_root=str(data_root), epochs=epochs,
                                  optimizer_cfg=f"dict(type='SGD', lr={lr}, momentum=0.9)"))
    return str(path)


def test_a_cpu_array_trains_its_runs_and_a_finished_grid_is_not_submitted(
        tmp_path: Path) -> None:
    random_cifar(str(tmp_path / 'data'), num_train=40, num_test=16, num_classes=10)
    configs = [_config(tmp_path / f'lr{i}.py', tmp_path / 'data', 1, lr) for i, lr
               in enumerate((0.05, 0.1))]
    root = str(tmp_path / 'w')
    sweep = [sys.executable, str(REPO / 'tools' / 'bocb_sweep.py')]
    slurm = [*configs, '--work-root', root, '--partition', _partition(), '--gpus-per-run', '0',
             '--cpus-per-gpu', '1']
    done = subprocess.run([*sweep, 'slurm', *slurm, '--wait'], capture_output=True, text=True,
                          cwd=REPO, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert 'submitted array job' in done.stdout and '2/2 runs finished' in done.stdout
    runs = plan_grid(configs, root)
    for run in runs:
        record = read_record(run.work_dir)
        assert record and record['status'] == 'finished', (
            Path(run.work_dir, 'sweep_train.log').read_text()[-2000:])
        assert record['executor'] == 'slurm'
    with open(Path(root) / 'results.csv') as f:
        assert [row['status'] for row in csv.DictReader(f)] == ['finished', 'finished']
    status = subprocess.run([*sweep, 'status', *configs, '--work-root', root],
                            capture_output=True, text=True, cwd=REPO, timeout=300)
    assert [line.split()[0] for line in status.stdout.splitlines()] == ['done', 'done']
    again = subprocess.run([*sweep, 'slurm', *slurm, '--submit'], capture_output=True,
                           text=True, cwd=REPO, timeout=300)
    assert again.returncode == 0 and 'nothing to submit' in again.stdout


def test_a_warned_task_requeues_and_ends_as_the_uninterrupted_run(tmp_path: Path) -> None:
    random_cifar(str(tmp_path / 'data'), num_train=2000, num_test=16, num_classes=10)
    config = _config(tmp_path / 'r8.py', tmp_path / 'data', 3)
    reference = Run(config=config, seed=0, work_dir=str(tmp_path / 'reference'))
    with SubprocessExecutor(jobs=1, threads_per_job=1) as executor:
        assert executor.submit(reference).result(timeout=600)['status'] == 'finished'
    root = tmp_path / 'w'
    [run] = plan_grid([config], str(root))
    script, _, _ = write_slurm_array([run], str(root), _partition(), 'bocb-requeue',
                                     gpus_per_run=0, cpus_per_gpu=1)
    job = submit(script)
    first = Path(run.work_dir) / 'epoch_1.pth'
    deadline = time.time() + 300
    while not first.exists() and time.time() < deadline:
        time.sleep(0.05)
    assert first.exists(), 'the task did not start training'
    subprocess.run(['scancel', '--batch', '--signal=USR1', f'{job}_0'], check=True)
    wait_for(job, poll=0.5, timeout=600)
    log = Path(run.work_dir, 'sweep_train.log').read_text()
    assert 'stopped by signal SIGUSR1' in log, log[-3000:]
    task_out = '\n'.join(p.read_text() for p in (root / 'slurm_logs').glob(f'{job}_0.out'))
    assert f'requeueing {job}_0' in task_out
    record = read_record(run.work_dir)
    assert record['status'] == 'finished' and record['resumed'] is True
    weights = [torch.load(Path(d, 'epoch_3.pth'), map_location='cpu')['state_dict']
               for d in (run.work_dir, reference.work_dir)]
    for key in weights[1]:
        torch.testing.assert_close(weights[0][key], weights[1][key], rtol=1e-5, atol=1e-6)
