"""Evaluate a checkpoint on a config's test set with mmengine's Runner.

    python tools/test.py CONFIG CHECKPOINT [--out results.pkl] [--work-dir DIR] [--show-dir DIR]
    bash tools/dist_test.sh CONFIG CHECKPOINT 8

Only the test loader's data is checked and the model's ``Pretrained`` init is not needed (the
checkpoint holds the whole model). ``--show-dir`` turns on the config's visualization hook as
mmdet's / mmpose's / mmpretrain's own ``tools/test.py`` do: the drawn predictions go to
``<work_dir>/<timestamp>/<DIR>`` (mmdet, mmpose) or ``<work_dir>/<DIR>`` (mmpretrain); an
absolute DIR is used as it is. A test that yields no
metric (a detector whose scores all fall under ``model.test_cfg.score_thr``: mmdet logs "The
testing results of the whole dataset is empty") exits with status 1.
"""
from __future__ import annotations

import argparse
import os
import os.path as osp
import sys

from mmengine.config import Config, DictAction
from mmengine.evaluator import DumpResults
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

import bocb_mm  # noqa: F401
from bocb_mm.utils.data_check import TEST_LOADERS, DataNotFoundError, check_data_roots

NO_METRICS = ('the test produced no metric: the evaluator had nothing to score (for a detector '
              'after a short run, every score under model.test_cfg.score_thr; mmdet then logs '
              '"The testing results of the whole dataset is empty"). Train longer, or for a '
              'smoke test add  --cfg-options model.test_cfg.score_thr=0  (docs/transfer.md, '
              '"Smoke settings")')


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description='Test (evaluate) a checkpoint (bocb_mm)')
    parser.add_argument('config', help='config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='directory for the evaluation logs')
    parser.add_argument('--out', help='dump the raw predictions to this pickle file')
    parser.add_argument('--show-dir', help='draw the predictions on the test images into this '
                        'folder (relative to <work_dir>/<timestamp>/ as in mmdet / mmpose; '
                        '<work_dir>/ for mmpretrain configs)')
    parser.add_argument('--interval', type=int, default=1,
                        help='with --show-dir: draw every N-th image (mmpose, mmpretrain)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def enable_show_dir(cfg: Config, show_dir: str, interval: int = 1) -> None:
    """Switch on the config's visualization hook to write drawn predictions to ``show_dir``.

    Args:
        cfg: the test config (``default_hooks.visualization``).
        show_dir: the output folder (relative to ``<work_dir>/<timestamp>`` for mmdet's and
            mmpose's hooks, to ``<work_dir>`` for mmpretrain's, or absolute).
        interval: draw every ``interval``-th test image (mmpose / mmpretrain hooks).

    Raises:
        ValueError: the config has no visualization hook.
    """
    hook = cfg.get('default_hooks', {}).get('visualization')
    if not hook:
        raise ValueError('--show-dir: the config has no default_hooks.visualization')
    hook_type = str(hook.get('type', '')).split('.')[-1]
    if hook_type == 'DetVisualizationHook':
        from mmdet.engine.hooks.utils import trigger_visualization_hook
        trigger_visualization_hook(
            cfg, argparse.Namespace(show=False, show_dir=show_dir, wait_time=0))
    elif hook_type == 'PoseVisualizationHook':  # it prefixes <work_dir>/<timestamp> itself
        hook.update(enable=True, out_dir=show_dir, interval=interval)
    elif hook_type == 'VisualizationHook':  # mmpretrain's writes where it is told
        hook.update(enable=True, out_dir=osp.join(cfg.work_dir, show_dir), interval=interval)
    else:
        raise ValueError(f'--show-dir: unknown visualization hook {hook_type!r}')


def build_config(args: argparse.Namespace) -> Config:
    """The config with the command line applied."""
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    cfg.launcher = args.launcher
    cfg.load_from = args.checkpoint
    cfg.work_dir = args.work_dir or cfg.get('work_dir') or osp.join(
        './work_dirs', osp.splitext(osp.basename(args.config))[0])
    if args.show_dir:
        enable_show_dir(cfg, args.show_dir, args.interval)
    return cfg


def main(argv: list[str] | None = None) -> dict:
    """Evaluate; return the metrics. Exits with status 1 when there is none."""
    args = parse_args(argv)
    if not osp.isfile(args.checkpoint):
        sys.exit(f'error: checkpoint not found: {args.checkpoint}')
    try:
        cfg = build_config(args)
        check_data_roots(cfg, loaders=TEST_LOADERS, pretrained=False)
    except (DataNotFoundError, ValueError) as err:
        sys.exit(f'error: {err}')
    runner = Runner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(cfg)
    if args.out:
        runner.test_evaluator.metrics.append(DumpResults(out_file_path=args.out))
    metrics = runner.test()
    if not metrics:
        sys.exit(f'error: {NO_METRICS}')
    return metrics


if __name__ == '__main__':
    main()
