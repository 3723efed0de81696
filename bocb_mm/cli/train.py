"""Train a model from a config with mmengine's Runner (mmpretrain / mmdet / mmpose + bocb_mm).

    python tools/train.py configs/cifar100/resnet50/resnet50_adamw_1xb100-200e_cifar100.py
    bash tools/dist_train.sh CONFIG 8 [--amp] [--resume] ...

The command line is :class:`bocb_mm.training.TrainOptions`; the training is
:func:`bocb_mm.training.train`.
"""
from __future__ import annotations

import argparse
import os
import sys

from bocb_mm.training.options import STOPPED_EXIT, TrainOptions, add_arguments
from bocb_mm.utils.lifetime import die_with_parent_from_env


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (see the module docstring); sets ``LOCAL_RANK`` if unset."""
    parser = argparse.ArgumentParser(description='Train a model (bocb_mm)')
    parser.add_argument('config', help='train config file path')
    add_arguments(parser)
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def main(argv: list[str] | None = None) -> None:
    """Check the config, its data and the resume checkpoint, then train.

    Args:
        argv: Arguments (default: ``sys.argv[1:]``).

    Raises:
        SystemExit: a bad optimizer config, missing data or an unusable resume checkpoint
            (the message names the problem); status 75 when ``--stop-signal`` stopped it.
    """
    die_with_parent_from_env()
    args = parse_args(argv)
    from bocb_mm.training.entry import SetupError, Stopped, train
    try:
        train(args.config, TrainOptions.from_namespace(args),
              warn=lambda msg: print(f'warning: {msg}', file=sys.stderr))
    except SetupError as err:
        sys.exit(f'error: {err}')
    except Stopped as err:
        print(err, file=sys.stderr)
        sys.exit(STOPPED_EXIT)


if __name__ == '__main__':
    main()
