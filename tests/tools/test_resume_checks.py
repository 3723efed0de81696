"""Resuming: from a broken checkpoint or another optimizer's checkpoint, and the history a resumed
run leaves for the collector.

Real runs of ``tools/train.py`` (in-process: ``bocb_mm.cli.train``) on the demo's mini ResNet and
a tiny generated CIFAR-style set: a run with Adan writes a checkpoint per epoch; the tests then
truncate files or change the optimizer and resume. A run interrupted after evaluating an epoch
it had not saved is resumed and collected as the uninterrupted run is.
"""
from __future__ import annotations

import os.path as osp
import shutil
from pathlib import Path

import pytest
import torch

from bocb_mm.cli import plot_curves
from bocb_mm.cli import train as train_tool
from bocb_mm.datasets import random_cifar
from bocb_mm.sweep.collect import read_scalars, summarize_metrics
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


def _all_records(work_dir: Path) -> list[dict]:
    """Every scalar record of every attempt, as written."""
    import json
    records = []
    for path in sorted(work_dir.glob('*/vis_data/scalars.json')):
        records += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return records


def test_resumed_run_is_collected_as_the_uninterrupted_run(tmp_path):
    """Checkpoints every 2 epochs, an evaluation every epoch: the first attempt stops after
    evaluating epoch 3, past its last checkpoint (epoch 2), as a run killed before its next save
    does; the resumed attempt trains and evaluates epoch 3 again, then epoch 4."""
    data = str(tmp_path / 'data')
    random_cifar(data, num_train=20, num_test=10, num_classes=10)
    evaluated = ['train_cfg.val_interval=1', 'default_hooks.checkpoint.interval=2',
                 'default_hooks.checkpoint.save_last=False']

    def run(work_dir: Path, epochs: int, *extra: str) -> None:
        train_tool.main([CONFIG, '--work-dir', str(work_dir), *extra, '--cfg-options',
                         *options(data, epochs), *evaluated])

    full, cut = tmp_path / 'full', tmp_path / 'cut'
    run(full, 4)
    run(cut, 3)
    assert not (cut / 'epoch_3.pth').exists() and (cut / 'epoch_2.pth').is_file()
    run(cut, 4, '--resume')
    logged = [r['step'] for r in _all_records(cut) if 'accuracy/top1' in r]
    assert logged == [1, 2, 3, 3, 4]  # what the attempts wrote: epoch 3 twice

    def evals(records: list[dict]) -> list[tuple[int, float, float]]:
        return [(r['step'], r['accuracy/top1'], r['accuracy/top5']) for r in records
                if 'accuracy/top1' in r]

    def losses(records: list[dict]) -> list[tuple[int, int, float]]:
        return [(r['epoch'], r['iter'], r['loss']) for r in records if 'loss' in r]

    history, reference = read_scalars(str(cut)), read_scalars(str(full))
    assert [step for step, *_ in evals(history)] == [1, 2, 3, 4]
    assert evals(history) == evals(reference)  # same seed, same batches: equal accuracies
    got, want = losses(history), losses(reference)
    assert [(e, i) for e, i, _ in got] == [(e, i) for e, i, _ in want] == \
        [(e, i) for i in range(1, 9) for e in [(i + 1) // 2]]
    assert [loss for *_, loss in got] == pytest.approx([loss for *_, loss in want], rel=1e-5)
    assert summarize_metrics(history) == summarize_metrics(reference)
    curves = plot_curves.read_curves(str(cut))
    assert [r['step'] for r in curves.val] == [1, 2, 3, 4] and len(curves.train) == 8
