"""``tools/slurm_train.sh`` on CPU nodes (the one-node cluster of tools/slurm/local_cluster.sh).

``bocb_mm.compat.slurm_rendezvous`` turns an srun task's ``SLURM_*`` variables into
torch.distributed's. ``GPUS=0 NTASKS=2`` asks ``srun`` for two tasks without ``--gres``;
``--launcher slurm`` then joins them with gloo (the config asks for NCCL). After the same
iterations on the same config and seed, the weights are those of ``tools/dist_train.sh`` with two
processes.
"""
from __future__ import annotations

import os
import os.path as osp
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest
import torch

from bocb_mm.compat import slurm_rendezvous
from bocb_mm.datasets import random_cifar
from helpers import REPO, SMALL, assert_trained, data_options, deterministic_config

RENDEZVOUS = ('MASTER_ADDR', 'MASTER_PORT', 'RANK', 'WORLD_SIZE', 'LOCAL_RANK')


@pytest.fixture
def task_env() -> Iterator[None]:
    """The environment of an srun task of rank 3 in 4 (1 on its node) on ``node[07-08]``, without
    rendezvous variables; the test's environment restored after it."""
    saved = dict(os.environ)
    for name in RENDEZVOUS + ('SLURM_STEP_NODELIST',):
        os.environ.pop(name, None)
    os.environ.update(SLURM_PROCID='3', SLURM_NTASKS='4', SLURM_LOCALID='1',
                      SLURM_NODELIST='node[07-08]')
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def test_rendezvous_takes_rank_and_size_from_slurm(task_env):
    os.environ.update(MASTER_ADDR='head', MASTER_PORT='12345')
    slurm_rendezvous()
    assert [os.environ[name] for name in RENDEZVOUS] == ['head', '12345', '3', '4', '1']
    slurm_rendezvous(port=23456)  # a dist_cfg port wins over MASTER_PORT
    assert os.environ['MASTER_PORT'] == '23456'
    del os.environ['MASTER_PORT']
    slurm_rendezvous()
    assert os.environ['MASTER_PORT'] == '29500'


@pytest.mark.slurm
def test_rendezvous_master_is_the_steps_first_host(task_env, slurm_cluster):
    os.environ['SLURM_STEP_NODELIST'] = 'node[03-04]'
    slurm_rendezvous()
    assert os.environ['MASTER_ADDR'] == 'node03'
    del os.environ['MASTER_ADDR'], os.environ['SLURM_STEP_NODELIST']
    slurm_rendezvous()
    assert os.environ['MASTER_ADDR'] == 'node07'


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _partition() -> str:
    out = subprocess.run(['sinfo', '-h', '-o', '%P'], capture_output=True, text=True, check=True)
    return out.stdout.split()[0].rstrip('*')


def _launch(script: list[str], env: dict[str, str]) -> None:
    """Run a launch script from the repository with ``env`` and no rendezvous variables."""
    clean = {name: value for name, value in os.environ.items() if name not in RENDEZVOUS}
    proc = subprocess.run(['bash', *script], cwd=REPO, capture_output=True, text=True,
                          timeout=300, env=dict(clean, PYTHON=sys.executable,
                                                OMP_NUM_THREADS='1', **env))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]


@pytest.mark.slurm
def test_cpu_tasks_train_as_dist_train(tmp_path, slurm_cluster):
    data = str(tmp_path / 'data')
    random_cifar(data, num_train=40, num_test=20)
    config = deterministic_config('R-50', 'SGD-M', tmp_path)
    options = data_options(data, n_train=16, batch=4) + SMALL['R-50']
    torchrun, srun = str(tmp_path / 'torchrun'), str(tmp_path / 'srun')
    _launch([osp.join('tools', 'dist_train.sh'), config, '2', '--work-dir', torchrun,
             '--cfg-options', *options],
            dict(PORT=str(_free_port())))
    _launch([osp.join('tools', 'slurm_train.sh'), _partition(), 'bocb-slurm-train', config, srun,
             '--cfg-options', *options],
            dict(GPUS='0', NTASKS='2', CPUS_PER_TASK='1', MASTER_PORT=str(_free_port()),
                 SRUN_ARGS='--time=10'))
    # 16 images, 2 tasks x 4 per batch: 2 iterations
    reference, trained = (assert_trained(d, iters=2)['state_dict'] for d in (torchrun, srun))
    assert reference.keys() == trained.keys()
    for name, value in reference.items():
        torch.testing.assert_close(trained[name], value, rtol=0, atol=0, msg=name)
