"""Issue 17, items 8 and 10: resuming from a broken checkpoint or another optimizer's checkpoint.

Real runs of ``tools/train.py`` (in-process: ``bocb_mm.cli.train``) on the demo's mini ResNet and
a tiny generated CIFAR-style set: a run with Adan writes a checkpoint per epoch; the tests then
truncate files or change the optimizer and resume.
"""
from __future__ import annotations

import os.path as osp
import shutil
from pathlib import Path

import pytest
import torch

from bocb_mm.cli import train as train_tool
from bocb_mm.datasets import random_cifar
from helpers import REPO, experiment_name, one_thread

CONFIG = osp.join(REPO, 'configs', 'demo', 'mini-resnet_digits.py')
pytestmark = pytest.mark.usefixtures('single_thread')


def options(data_root: str, epochs: int, optimizer: str = 'bocb_mm.Adan') -> list[str]:
    opts = [f'optim_wrapper.optimizer.type={optimizer}', 'optim_wrapper.optimizer.lr=0.001',
            f'train_cfg.max_epochs={epochs}', 'default_hooks.checkpoint.interval=1',
            'default_hooks.checkpoint.max_keep_ckpts=5', 'default_hooks.logger.interval=1',
            'log_level=WARNING', f'experiment_name={experiment_name("resume")}']
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        opts += [f'{loader}.dataset.data_root={data_root}', f'{loader}.batch_size=10']
    return opts


def train(work_dir: Path, data_root: str, epochs: int, *extra: str, **kwargs) -> None:
    train_tool.main([CONFIG, '--work-dir', str(work_dir), '--no-validate', *extra,
                     '--cfg-options', *options(data_root, epochs, **kwargs)])


def truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])


@pytest.fixture(scope='module')
def adan_run(tmp_path_factory) -> tuple[Path, str]:
    """A finished 2-epoch Adan run (epoch_1.pth, epoch_2.pth) and its data root."""
    root = tmp_path_factory.mktemp('resume')
    data = str(root / 'data')
    random_cifar(data, num_train=20, num_test=10, num_classes=10)
    with one_thread():
        train(root / 'run', data, epochs=2)
    assert (root / 'run' / 'epoch_2.pth').is_file()
    return root / 'run', data


@pytest.fixture
def work_dir(adan_run, tmp_path) -> Path:
    copy = tmp_path / 'run'
    shutil.copytree(adan_run[0], copy)
    (copy / 'last_checkpoint').write_text(str(copy / 'epoch_2.pth'))
    return copy


def test_truncated_checkpoint_is_named_and_auto_resume_falls_back(adan_run, work_dir, capsys):
    data = adan_run[1]
    truncate(work_dir / 'epoch_2.pth')
    with pytest.raises(SystemExit) as explicit:
        train(work_dir, data, 3, '--resume', str(work_dir / 'epoch_2.pth'))
    assert f'checkpoint {work_dir / "epoch_2.pth"} is corrupt or truncated' in str(explicit.value)

    train(work_dir, data, 3, '--resume')  # auto: last_checkpoint names the truncated file
    err = capsys.readouterr().err
    assert f'{work_dir / "epoch_2.pth"} is corrupt or truncated' in err
    assert f'resuming from {work_dir / "epoch_1.pth"} instead, the newest intact' in err
    resumed = torch.load(work_dir / 'epoch_3.pth', map_location='cpu')
    assert resumed['meta']['epoch'] == 3 and resumed['meta']['iter'] == 6  # 2 epochs redone


def test_auto_resume_stops_when_no_checkpoint_is_intact(adan_run, work_dir):
    for name in ('epoch_1.pth', 'epoch_2.pth'):
        truncate(work_dir / name)
    with pytest.raises(SystemExit) as stop:
        train(work_dir, adan_run[1], 3, '--resume')
    message = str(stop.value)
    assert f'auto-resume found no intact checkpoint in {work_dir}' in message
    assert 'epoch_1.pth is corrupt' in message and 'epoch_2.pth is corrupt' in message
    assert not (work_dir / 'epoch_3.pth').exists()


def test_resume_into_another_optimizer_is_refused(adan_run, work_dir):
    with pytest.raises(SystemExit) as mismatch:
        train(work_dir, adan_run[1], 3, '--resume', optimizer='bocb_mm.Lion')
    assert (f'checkpoint {work_dir / "epoch_2.pth"} was written by optimizer bocb_mm.Adan, but '
            'this config trains with bocb_mm.Lion') in str(mismatch.value)
    assert f'--cfg-options load_from={work_dir / "epoch_2.pth"} without --resume' \
        in str(mismatch.value)
    assert not (work_dir / 'epoch_3.pth').exists()
