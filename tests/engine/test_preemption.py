"""``tools/train.py --stop-signal``: on the signal a run finishes its epoch, checkpoints through
its CheckpointHook, stops with exit status 75, and ``--resume`` finishes it with the weights and
metrics of an uninterrupted run (real Runner, the demo's mini ResNet, generated CIFAR data)."""
from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest
import torch

from bocb_mm.cli import train as train_tool
from bocb_mm.datasets import random_cifar
from bocb_mm.engine import STOPPED_EXIT, StopOnSignalHook
from bocb_mm.sweep.collect import read_scalars
from helpers import REPO, experiment_name

CONFIG = str(Path(REPO) / 'configs' / 'demo' / 'mini-resnet_digits.py')
pytestmark = pytest.mark.usefixtures('single_thread')


def _run(work_dir: Path, data_root: str, *extra: str) -> None:
    opts = ['optim_wrapper.optimizer.type=SGD', 'optim_wrapper.optimizer.lr=0.01',
            'optim_wrapper.optimizer.momentum=0.9', 'train_cfg.max_epochs=3',
            'default_hooks.checkpoint.interval=1', 'default_hooks.checkpoint.max_keep_ckpts=5',
            'log_level=WARNING', f'experiment_name={experiment_name("stop")}']
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        opts += [f'{loader}.dataset.data_root={data_root}', f'{loader}.batch_size=10']
    train_tool.main([CONFIG, '--work-dir', str(work_dir), *extra, '--cfg-options', *opts])


def _signal_when(path: Path, signum: int) -> threading.Thread:
    def watch() -> None:
        deadline = time.time() + 300
        while not path.exists() and time.time() < deadline:
            time.sleep(0.01)
        os.kill(os.getpid(), signum)
    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def test_a_stopped_run_resumes_to_the_uninterrupted_result(tmp_path: Path) -> None:
    data = str(tmp_path / 'data')
    random_cifar(data, num_train=60, num_test=20, num_classes=10)
    full, cut = tmp_path / 'full', tmp_path / 'cut'
    _run(full, data)
    watcher = _signal_when(cut / 'epoch_1.pth', signal.SIGUSR1)
    with pytest.raises(SystemExit) as stopped:
        _run(cut, data, '--stop-signal', 'USR1')
    watcher.join()
    assert stopped.value.code == STOPPED_EXIT
    assert not (cut / 'epoch_3.pth').exists()  # it stopped after epoch 1 or 2, checkpointed
    assert (cut / 'last_checkpoint').read_text().strip().endswith(('epoch_1.pth', 'epoch_2.pth'))
    assert signal.getsignal(signal.SIGUSR1) == signal.SIG_DFL  # the handler is put back
    _run(cut, data, '--resume', '--stop-signal', 'USR1')
    weights = [torch.load(d / 'epoch_3.pth', map_location='cpu')['state_dict'] for d in (cut, full)]
    assert weights[0].keys() == weights[1].keys()
    for key in weights[0]:
        torch.testing.assert_close(weights[0][key], weights[1][key], rtol=1e-5, atol=1e-6)

    def evals(work_dir: Path) -> list[tuple[int, float]]:
        return [(r['step'], r['accuracy/top1']) for r in read_scalars(str(work_dir))
                if 'accuracy/top1' in r]
    assert evals(cut) == evals(full)


def test_an_unknown_signal_is_named() -> None:
    with pytest.raises(ValueError, match="unknown signal 'USR9'"):
        StopOnSignalHook('USR9')
    from bocb_mm.training import TrainOptions
    with pytest.raises(ValueError, match="stop_signal: unknown signal 'USR9'"):
        TrainOptions(stop_signal='USR9')
