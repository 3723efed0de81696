"""Helpers shared by the tests; ``tests/conftest.py`` wraps them as fixtures.

``tests/`` is on ``sys.path`` (pytest's default ``prepend`` import mode puts the folder of the
root ``conftest.py`` there), so a test module, a fixture or a spawned worker imports them with
``from helpers import ...``. The command lines of ``tools/`` are imported from
:mod:`bocb_mm.cli`, never loaded from their files.
"""
from __future__ import annotations

import contextlib
import glob
import itertools
import json
import math
import os.path as osp
from collections.abc import Iterator

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))

_RUNS = itertools.count()


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """One torch intra-op thread inside the block, the previous count restored after it.

    The tests run tiny models, which gain nothing from more threads; on CPU cores shared with
    other jobs torch's default pool (one thread per core) oversubscribes them and makes the
    small kernels many times slower. The ``single_thread`` fixture applies it to one test;
    module and session fixtures that train use the context manager directly.
    """
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def experiment_name(tag: str) -> str:
    """A fresh experiment name per run (``<tag>_<n>``): mmengine keys its logger and message
    hub by it, so two runs of one process must not share one."""
    return f'{tag}_{next(_RUNS)}'


# ------------------------------------------------------------------------------------------------
# tiny CIFAR-100 training runs of the shipped configs (tests/tools, tests/engine/test_throughput.py)
# ------------------------------------------------------------------------------------------------
# --cfg-options that make a recipe family's backbone cheap on a CPU ([]: the model as shipped)
SMALL = {
    'R-50': ['model.backbone.depth=18', 'model.backbone.base_channels=8',
             'model.backbone.stem_channels=8', 'model.head.in_channels=64'],
    'DeiT-S': ['model.backbone.arch=deit-tiny', 'model.head.in_channels=192'],
    'CNX-T': ['model.backbone.arch=atto', 'model.head.in_channels=320'],
    'Eff-B0': [],
}


def cifar100_config(backbone: str, optimizer: str) -> str:
    """Absolute path of the shipped CIFAR-100 config of a pair."""
    from bocb_mm.configgen import cifar100_path
    return osp.join(REPO, cifar100_path(backbone, optimizer))


def deterministic_config(backbone: str, optimizer: str, folder: str) -> str:
    """The pair's CIFAR-100 config without random augmentation, written to ``folder``: with the
    fixed shuffling seed two runs see the same batches, so what differs is only what a test
    changes (a resume, a precision, a compiled step)."""
    from mmengine.config import Config
    cfg = Config.fromfile(cifar100_config(backbone, optimizer))
    cfg.train_dataloader.dataset.pipeline = [dict(type='PackInputs')]
    path = osp.join(str(folder),
                    f'deterministic_{osp.basename(cifar100_config(backbone, optimizer))}')
    cfg.dump(path)
    return path


def data_options(root: str, n_train: int = 16, batch: int = 8, epochs: int = 1) -> list[str]:
    """--cfg-options that train on the generated CIFAR-100 at ``root``: ``n_train`` images in
    batches of ``batch`` for ``epochs`` epochs, no worker processes, logged every iteration."""
    opts = []
    for loader, bs in (('train_dataloader', batch), ('val_dataloader', 10),
                       ('test_dataloader', 10)):
        opts += [f'{loader}.dataset.type=bocb_mm.UnverifiedCIFAR100',
                 f'{loader}.dataset.data_root={root}', f'{loader}.batch_size={bs}',
                 f'{loader}.num_workers=0']
    return opts + [f'train_dataloader.dataset.indices={n_train}', f'train_cfg.max_epochs={epochs}',
                   'default_hooks.logger.interval=1', 'randomness.seed=0', 'log_level=WARNING']


def train(config: str, work_dir: str, options: list[str], *extra: str) -> None:
    """``tools/train.py CONFIG --work-dir WORK_DIR *EXTRA --cfg-options *OPTIONS`` in-process,
    under a fresh experiment name."""
    from bocb_mm.cli import train as train_tool
    name = experiment_name(osp.basename(work_dir.rstrip('/')))
    train_tool.main([config, '--work-dir', work_dir, *extra, '--cfg-options',
                     f'experiment_name={name}', *options])


def scalars(work_dir: str) -> list[dict]:
    """The records of the newest ``vis_data/scalars.json`` of a run."""
    files = glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))
    assert files, f'no json log under {work_dir}'
    with open(sorted(files)[-1]) as f:
        return [json.loads(line) for line in f if line.strip()]


def assert_trained(work_dir: str, iters: int) -> dict:
    """Check a 1-epoch run of ``iters`` iterations: finite logged losses, a validation with
    top-1 / top-5, the epoch and best checkpoints; return the epoch-1 checkpoint."""
    import torch
    rows = scalars(work_dir)
    losses = [r['loss'] for r in rows if 'loss' in r]
    assert len(losses) == iters, losses
    assert all(math.isfinite(x) for x in losses), losses
    val = [r for r in rows if 'accuracy/top1' in r]
    assert val and 0 <= val[-1]['accuracy/top1'] <= 100 and 'accuracy/top5' in val[-1]
    assert osp.isfile(osp.join(work_dir, 'epoch_1.pth'))
    assert glob.glob(osp.join(work_dir, 'best_accuracy_top1_epoch_*.pth'))
    ckpt = torch.load(osp.join(work_dir, 'epoch_1.pth'), map_location='cpu')
    assert ckpt['meta']['iter'] == iters
    return ckpt
