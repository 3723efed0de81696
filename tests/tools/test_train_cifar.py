"""Real training runs through tools/train.py on a tiny CIFAR-100 in the official on-disk format.

* one config per recipe family (PyTorch, DeiT, ConvNeXt, RSB A2) and one per optimizer (20) run a
  few iterations and one validation, writing a checkpoint and a json log with accuracy/top1;
* ``--resume`` continues a stopped run to the same optimizer state and iteration count as an
  uninterrupted run;
* ``tools/dist_train.sh`` with 2 CPU processes (gloo) runs a config to completion.

Runs are in-process (``bocb_mm.cli.train.main``, the code of ``tools/train.py``; helpers in
tests/helpers.py) except the distributed one. The models are the configs' own, narrowed (fewer
channels / blocks) through ``--cfg-options`` where the full width would be slow on a CPU;
optimizer, wrapper, schedule, pipeline, loss and batch augments are the configs' as shipped.
"""
from __future__ import annotations

import os
import os.path as osp
import socket
import subprocess
import sys

import pytest
import torch

from bocb_mm.cli import prepare_cifar
from bocb_mm.datasets import random_cifar
from bocb_mm.optim import zoo as optim_zoo
from helpers import (REPO, SMALL, assert_trained, cifar100_config, data_options,
                     deterministic_config, train)

PYTHON = sys.executable

# Config used per recipe family (SMALL[backbone] narrows its backbone)
RECIPE_BACKBONE = {'PyTorch': 'R-50', 'DeiT': 'DeiT-S', 'ConvNeXt': 'CNX-T', 'RSB A2': 'Eff-B0'}
OPTIMIZER_BACKBONE = 'R-50'


@pytest.fixture(autouse=True)
def cpu_friendly(single_thread: None, cached_config_text: None) -> None:
    """One intra-op thread (a tiny model gains nothing from more and loses much on a busy
    machine) and ``Config.pretty_text`` computed once per distinct config (tests/conftest.py)."""


@pytest.fixture(scope='module')
def tiny_cifar(tmp_path_factory) -> str:
    root = str(tmp_path_factory.mktemp('cifar100_tiny'))
    random_cifar(root, num_train=40, num_test=20)
    return root


@pytest.mark.parametrize('recipe', list(RECIPE_BACKBONE))
def test_recipe_family_trains(recipe, tiny_cifar, tmp_path):
    backbone = RECIPE_BACKBONE[recipe]
    config = cifar100_config(backbone, 'AdamW')
    work_dir = str(tmp_path / f'recipe_{recipe.replace(" ", "_")}')
    train(config, work_dir, data_options(tiny_cifar, n_train=16) + SMALL[backbone])
    assert_trained(work_dir, iters=2)


@pytest.mark.parametrize('optimizer', optim_zoo.list_optimizers())
def test_optimizer_trains(optimizer, tiny_cifar, tmp_path):
    config = cifar100_config(OPTIMIZER_BACKBONE, optimizer)
    work_dir = str(tmp_path / f'opt_{optim_zoo.get_info(optimizer).class_name}')
    train(config, work_dir, data_options(tiny_cifar, n_train=16) + SMALL[OPTIMIZER_BACKBONE])
    ckpt = assert_trained(work_dir, iters=2)
    info = optim_zoo.get_info(optimizer)
    state = ckpt['optimizer']
    assert len(state['param_groups']) >= 1
    assert state['param_groups'][0]['lr'] >= 0
    if info.state_tensors:
        assert state['state'], f'{optimizer}: no optimizer state after 2 steps'


def test_resume_matches_uninterrupted_run(tiny_cifar, tmp_path):
    config = deterministic_config('R-50', 'Adan', tmp_path)  # 4 state tensors per parameter
    full, cut = str(tmp_path / 'full'), str(tmp_path / 'cut')
    opts = SMALL['R-50']
    train(config, full, data_options(tiny_cifar, epochs=2) + opts)
    train(config, cut, data_options(tiny_cifar, epochs=1) + opts)  # stopped after epoch 1
    assert not osp.exists(osp.join(cut, 'epoch_2.pth'))
    train(config, cut, data_options(tiny_cifar, epochs=2) + opts, '--resume')
    a = torch.load(osp.join(full, 'epoch_2.pth'), map_location='cpu')
    b = torch.load(osp.join(cut, 'epoch_2.pth'), map_location='cpu')
    assert a['meta']['iter'] == b['meta']['iter'] == 4
    assert a['meta']['epoch'] == b['meta']['epoch'] == 2
    sa, sb = a['optimizer']['state'], b['optimizer']['state']
    assert sa.keys() == sb.keys() and sa
    for key in sa:
        for name, value in sa[key].items():
            other = sb[key][name]
            if torch.is_tensor(value):
                torch.testing.assert_close(value, other, rtol=1e-5, atol=1e-7,
                                           msg=f'optimizer state {key}.{name}')
            else:
                assert value == other, (key, name)
    for name, value in a['state_dict'].items():
        torch.testing.assert_close(value, b['state_dict'][name], rtol=1e-5, atol=1e-7)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_dist_train_two_cpu_processes(tiny_cifar, tmp_path):
    config = cifar100_config('R-50', 'SGD-M')
    work_dir = str(tmp_path / 'dist')
    env = dict(os.environ, PYTHON=PYTHON, PORT=str(_free_port()), OMP_NUM_THREADS='1',
               PYTHONPATH=REPO + os.pathsep + os.environ.get('PYTHONPATH', ''))
    options = data_options(tiny_cifar, n_train=16, batch=4) + SMALL['R-50'] + [
        'env_cfg.dist_cfg.backend=gloo', 'experiment_name=dist']
    proc = subprocess.run(['bash', osp.join(REPO, 'tools', 'dist_train.sh'), config, '2',
                           '--work-dir', work_dir, '--cfg-options', *options],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    # 16 images, 2 processes x 4 per batch: 2 iterations per epoch
    ckpt = assert_trained(work_dir, iters=2)
    assert ckpt['meta']['epoch'] == 1


def test_write_cifar_round_trip(tmp_path):
    """What write_cifar writes, mmpretrain's CIFAR100 parsing reads back unchanged."""
    import numpy as np
    from mmpretrain.registry import DATASETS
    from bocb_mm.datasets import write_cifar
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, size=(7, 32, 32, 3), dtype=np.uint8)
    labels = [3, 99, 0, 5, 5, 42, 7]
    write_cifar(str(tmp_path), images, labels, images[:3], labels[:3])
    for split, n in (('train', 7), ('test', 3)):
        ds = DATASETS.build(dict(type='bocb_mm.UnverifiedCIFAR100', data_root=str(tmp_path),
                                 split=split, pipeline=[]))
        assert len(ds) == n
        for i in range(n):
            item = ds[i]
            assert item['gt_label'] == labels[i]
            np.testing.assert_array_equal(item['img'], images[i])
    assert ds.metainfo['classes'][99] == 'worm'
    import pickle
    with open(tmp_path / 'cifar-100-python' / 'train', 'rb') as f:
        entry = pickle.load(f, encoding='latin1')
    assert entry['data'].shape == (7, 3072) and entry['data'].dtype == np.uint8
    assert entry['coarse_labels'][:3] == [8, 13, 4]  # bear, worm, apple
    with pytest.raises(RuntimeError):  # the stock class insists on the official files
        DATASETS.build(dict(type='CIFAR100', data_root=str(tmp_path), split='train',
                            download=False))


def test_prepare_cifar_synthetic_and_archive(tmp_path):
    import tarfile
    assert prepare_cifar.main(['--synthetic', '10', '4', '--out', str(tmp_path / 'syn')]) == 0
    folder = tmp_path / 'syn' / 'cifar-100-python'
    assert sorted(os.listdir(folder)) == ['meta', 'test', 'train']
    # not the official files
    assert prepare_cifar.main(['--check', '--out', str(tmp_path / 'syn')]) == 1
    archive = tmp_path / 'cifar-100-python.tar.gz'
    with tarfile.open(archive, 'w:gz') as tar:
        tar.add(folder, arcname='cifar-100-python')
    with pytest.raises(SystemExit, match='MD5'):
        prepare_cifar.main(['--from-archive', str(archive), '--out', str(tmp_path / 'unpacked')])
    assert prepare_cifar.main(['--from-archive', str(archive), '--out',
                               str(tmp_path / 'unpacked'), '--no-check']) == 0
    for name in ('train', 'test', 'meta'):
        assert (tmp_path / 'unpacked' / 'cifar-100-python' / name).read_bytes() == \
            (folder / name).read_bytes()
