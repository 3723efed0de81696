"""The demo's command line (``tools/bocb_demo.py``): arguments, the output folder's lock, exit
codes."""
from __future__ import annotations

import argparse
import os.path as osp
import sys

from bocb_mm.cli.argtypes import int_at_least, percentage, positive_float, seed
from bocb_mm.sweep.lock import FileLock, LockedError, folder_lock_path

from .output import MARKER, out_problem
from .planning import DEFAULTS, MINI_BACKBONES, QUICK, QUICK_OPTIMIZERS
from .run import run_demo


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The demo's arguments; a bad value or ``--out`` ends in a usage error (exit 2)."""
    parser = argparse.ArgumentParser(description='tuned mini-BOCB on real data (CPU, minutes)')
    parser.add_argument('--protocol', choices=['tuned', 'paper'], default='tuned',
                        help='tuned: lr grid + successive halving + seeded finals (default); '
                             'paper: the paper\'s lr / wd per pair, no tuning')
    parser.add_argument('--quick', action='store_true',
                        help=f'a first look (6 optimizers): {", ".join(QUICK_OPTIMIZERS)}; {QUICK}')
    parser.add_argument('--backbones', nargs='+', default=list(MINI_BACKBONES),
                        choices=list(MINI_BACKBONES))
    parser.add_argument('--optimizers', nargs='+', default=None,
                        help='paper optimizer names (default: all 20)')
    parser.add_argument('--lr-factors', type=positive_float, nargs='+',
                        help='grid: multiples of the typical lr (default '
                             f'{DEFAULTS["lr_factors"]})')
    parser.add_argument('--epochs', type=int_at_least(1, 'epochs'),
                        help=f'full budget (default {DEFAULTS["epochs"]})')
    parser.add_argument('--halving-epochs', type=int_at_least(0, 'epochs'),
                        help='first rung of successive halving, 0 = no halving (default '
                             f'{DEFAULTS["halving_epochs"]})')
    parser.add_argument('--keep', type=int_at_least(1, 'grid points'),
                        help='grid points kept after the first rung')
    parser.add_argument('--final-seeds', '--seeds', type=seed, nargs='+', dest='final_seeds',
                        help=f'seeds of the final runs (default {DEFAULTS["final_seeds"]})')
    parser.add_argument('--extend-edges', type=int_at_least(0, 'grid points'),
                        help='grid points a pair may add beyond an edge of its grid when the '
                             'first rung\'s choice sits on it (default '
                             f'{DEFAULTS["extend_edges"]})')
    parser.add_argument('--stall-top1', type=percentage,
                        help='validation top-1 (%%) at or below which a tuning run counts as '
                             f'stalled, no signal (default {DEFAULTS["stall_top1"]})')
    parser.add_argument('--tune-seed', type=seed, default=0)
    parser.add_argument('--jobs', type=int_at_least(1, 'jobs'), default=2,
                        help='trainings at a time (workers; with --executor slurm: array tasks '
                             'running at a time)')
    parser.add_argument('--executor', choices=['inprocess', 'subprocess', 'slurm'],
                        default='inprocess',
                        help='inprocess: long-lived workers (default); subprocess: '
                             'tools/train.py per run; slurm: each step of the protocol as one '
                             'Slurm job array (CPU tasks), waited for')
    parser.add_argument('--partition',
                        help='Slurm partition of --executor slurm (default: the cluster\'s '
                             'default partition)')
    parser.add_argument('--out', default='work_dirs/bocb_demo',
                        help=f'output folder: a new or empty one, or an earlier output of the '
                             f'demo (it holds the {MARKER} file), whose finished runs are reused')
    parser.add_argument('--force', action='store_true',
                        help='use --out even if it holds files the demo did not write (its '
                             'results.csv, tuning.csv, report/ and data/ are replaced)')
    args = parser.parse_args(argv)
    if args.partition is not None and args.executor != 'slurm':
        parser.error('--partition: only with --executor slurm')
    if args.executor == 'slurm' and args.partition is None:
        from bocb_mm.sweep.slurm_executor import default_partition
        try:
            args.partition = default_partition()
        except RuntimeError as err:
            parser.error(f'--executor slurm: {err}')
    problem = out_problem(args.out, args.force)
    if problem:
        parser.error(f'--out: {problem}')
    if args.optimizers is not None and len({o.lower() for o in args.optimizers}) < 2:
        parser.error('--optimizers: the report compares optimizers on each backbone (ranks, '
                     f'drop-worst statistics); name at least 2, got {args.optimizers}')
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the demo holding its output folder's lock; returns the exit code (2: the folder is
    busy, 130: interrupted)."""
    args = parse_args(argv)
    try:
        with FileLock(folder_lock_path(osp.abspath(args.out)), f'output folder {args.out}'):
            return run_demo(args)
    except LockedError as err:
        print(f'[demo] {err}: another demo is writing there; wait for it to end, or choose '
              'another --out', file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print('[demo] interrupted; finished runs are kept, the same command resumes',
              file=sys.stderr)
        return 130
