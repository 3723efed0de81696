"""Train a model from a config with mmengine's Runner (mmpretrain / mmdet / mmpose + bocb_mm).

    python tools/train.py configs/cifar100/resnet50/resnet50_adamw_1xb100-200e_cifar100.py
    bash tools/dist_train.sh CONFIG 8 [--amp] [--resume] ...
"""
from __future__ import annotations

import argparse
import os
import os.path as osp
import sys

from mmengine.config import Config, DictAction
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

import bocb_mm  # noqa: F401  (stack fixes + registries)
from bocb_mm.optim.config_check import OptimConfigError, check_optim_cfg
from bocb_mm.utils import DataNotFoundError, check_data_roots
from bocb_mm.utils.resume import ResumeError, prepare_resume


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (see the module docstring); sets ``LOCAL_RANK`` if unset."""
    parser = argparse.ArgumentParser(description='Train a model (bocb_mm)')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='directory for logs and checkpoints')
    parser.add_argument('--resume', nargs='?', type=str, const='auto',
                        help='resume from the given checkpoint, or from the latest one in the '
                             'work_dir when no path is given')
    parser.add_argument('--amp', nargs='?', const='fp16', choices=['fp16', 'bf16'], default=None,
                        help='automatic mixed precision: fp16 autocast with dynamic loss scale '
                             '(plain --amp), or bf16 autocast without loss scaling')
    parser.add_argument('--compile', nargs='?', const='default', default=None,
                        choices=['default', 'reduce-overhead', 'max-autotune',
                                 'max-autotune-no-cudagraphs'],
                        help="torch.compile the train step (mmengine's compile); optional mode")
    parser.add_argument('--channels-last', action='store_true',
                        help='model and input batches in channels_last (NHWC) memory format')
    parser.add_argument('--trim-convs', action='store_true',
                        help='same-padded convolutions skip the kernel taps that only see '
                             'padding on small feature maps (exact; bocb_mm.TrimPaddedConvsHook)')
    parser.add_argument('--cudnn-benchmark', action='store_true',
                        help='let cuDNN time and pick the convolution algorithms')
    parser.add_argument('--gpu-data', action='store_true',
                        help='batched augmentation on the device (docs/throughput.md): the '
                             'loader hands out raw uint8 images')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='scale the lr linearly with the actual total batch size '
                             '(auto_scale_lr.base_batch_size in the config)')
    parser.add_argument('--no-validate', action='store_true', help='skip validation')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, e.g. optim_wrapper.optimizer.lr=0.1')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Apply the command line to the config, mmpretrain-style."""
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    cfg.launcher = args.launcher
    if args.work_dir:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    if args.amp:
        from bocb_mm.engine.amp import enable_amp
        enable_amp(cfg.optim_wrapper, args.amp)
    from bocb_mm.engine.throughput import apply_throughput_options
    apply_throughput_options(cfg, compile=args.compile, channels_last=args.channels_last,
                             cudnn_benchmark=args.cudnn_benchmark, gpu_data=args.gpu_data,
                             trim_convs=args.trim_convs)
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume:
        cfg.resume, cfg.load_from = True, args.resume
    if args.auto_scale_lr:
        if 'auto_scale_lr' not in cfg:
            raise ValueError('--auto-scale-lr: the config has no auto_scale_lr.base_batch_size')
        cfg.auto_scale_lr.enable = True
    if args.no_validate:
        cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    return cfg


def main(argv: list[str] | None = None) -> None:
    """Check the config, its data and the resume checkpoint, then train.

    Args:
        argv: Arguments (default: ``sys.argv[1:]``).

    Raises:
        SystemExit: a bad optimizer config, missing data or an unusable resume checkpoint
            (the message names the problem).
    """
    args = parse_args(argv)
    cfg = merge_args(Config.fromfile(args.config), args)
    try:  # what would otherwise fail after the data set and the model are built
        check_optim_cfg(cfg)
        check_data_roots(cfg)
        prepare_resume(cfg, log=lambda msg: print(f'warning: {msg}', file=sys.stderr))
    except (OptimConfigError, DataNotFoundError, ResumeError) as err:
        sys.exit(f'error: {err}')
    runner = Runner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(cfg)
    runner.train()


if __name__ == '__main__':
    main()
