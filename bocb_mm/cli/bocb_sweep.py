"""Plan, run (locally or as a Slurm array), resume and collect a BOCB grid.

    # 2 backbones x all optimizers x 2 seeds, 2 runs at a time, then results.csv
    python tools/bocb_sweep.py run 'configs/cifar100/**/*.py' --backbones R-50 DeiT-S \\
        --seeds 0 1 --jobs 2 --work-root work_dirs/bocb
    # 4 runs on each visible GPU (CUDA_VISIBLE_DEVICES, else all of torch.cuda.device_count())
    python tools/bocb_sweep.py run 'configs/cifar100/**/*.py' --runs-per-gpu 4 \\
        -- --gpu-data --amp bf16
    python tools/bocb_sweep.py slurm 'configs/cifar100/**/*.py' --partition gpu --submit
    # CPU nodes (no --gres), 4 array tasks at a time; block until the array ends, then collect
    python tools/bocb_sweep.py slurm CONFIGS --partition cpu --gpus-per-run 0 \\
        --max-parallel 4 --wait
    python tools/bocb_sweep.py status CONFIGS     # done / running / queued / pending / failed
    python tools/bocb_sweep.py collect 'configs/cifar100/**/*.py' --out results.csv
    # extra tools/train.py arguments go after `--`:
    python tools/bocb_sweep.py run CONFIGS -- --cfg-options train_cfg.max_epochs=1

Re-running `run` skips finished runs and resumes interrupted ones from their last checkpoint
(Ctrl-C stops the running trainings and exits with 130).
A run's work dir is `WORK_ROOT/<config name>/seed<N>` (`<config name>@<folders>` for configs of
one name in different folders); its record `bocb_run.json` carries a fingerprint of its config and
arguments, and a run of other ones found there is moved aside, not reused. One `run` at a time per
work root: a second one stops, naming the first one's pid.
"""
from __future__ import annotations

import argparse
import os
import os.path as osp
import sys
from pathlib import Path

from bocb_mm.cli.argtypes import int_at_least, seed, unwritable_folder
from bocb_mm.sweep import collect, find_configs, plan_grid, run_local, write_slurm_array
from bocb_mm.sweep.local import GPUSlotError
from bocb_mm.sweep.lock import ROOT_LOCK, FileLock, LockedError
from bocb_mm.sweep.slurm import JOB_FILE, queued_tasks, slurm_status, submit, wait_for
from bocb_mm.training import TrainOptions


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The sweep's arguments; what follows ``--`` becomes ``args.train_options``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = []
    if '--' in argv:
        i = argv.index('--')
        argv, extra = argv[:i], argv[i + 1:]
    parser = argparse.ArgumentParser(description='BOCB grid sweep')
    sub = parser.add_subparsers(dest='command', required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument('configs', nargs='*', default=['configs/cifar100/**/*.py'],
                       help='config files, globs, or @file with one path or glob per line '
                            '(relative to that file; # starts a comment)')
        p.add_argument('--work-root', default='work_dirs/bocb_sweep')
        p.add_argument('--seeds', type=seed, nargs='+', default=[0])
        p.add_argument('--backbones', nargs='+', help='paper backbone names to keep')
        p.add_argument('--optimizers', nargs='+', help='paper optimizer names to keep')
        p.add_argument('--metric', help='metric key (default: accuracy/top1, coco/bbox_mAP, '
                                        'coco/AP, the first one found)')
        p.add_argument('--score', choices=('median_last10', 'best'), default='median_last10',
                       help='rule for the top1 column (both are recorded): median of the last '
                            '10 evaluations (default, the official BOCB rule) or the best one')

    p_plan = sub.add_parser('plan', help='print the planned runs and their state')
    common(p_plan)
    p_run = sub.add_parser('run', help='run the grid locally, then collect results')
    common(p_run)
    placement = p_run.add_mutually_exclusive_group()
    placement.add_argument('--jobs', type=int_at_least(1, 'jobs'), default=1,
                           help='runs at a time (CPU or GPU 0)')
    placement.add_argument('--runs-per-gpu', type=int_at_least(1, 'runs per GPU'), metavar='N',
                           help='N runs at a time on each visible GPU, each run seeing only '
                                'its GPU (CUDA_VISIBLE_DEVICES); stops if no GPU is visible')
    p_run.add_argument('--threads', type=int_at_least(1, 'threads'),
                       help='threads per run (default cores // runs)')
    p_run.add_argument('--out', help='results CSV (default WORK_ROOT/results.csv)')
    p_slurm = sub.add_parser('slurm', help='write a Slurm job array of the runs left to do; '
                                           'submit it with --submit')
    common(p_slurm)
    p_slurm.add_argument('--partition', required=True)
    p_slurm.add_argument('--job-name', default='bocb')
    p_slurm.add_argument('--gpus-per-run', type=int_at_least(0, 'GPUs'), default=1,
                         help='GPUs (Slurm tasks) per run; 0: a CPU job without --gres')
    p_slurm.add_argument('--cpus-per-gpu', type=int_at_least(1, 'CPUs'), default=5,
                         help='cores per Slurm task (per run with --gpus-per-run 0)')
    p_slurm.add_argument('--max-parallel', type=int_at_least(1, 'tasks'),
                         help='array tasks running at a time')
    p_slurm.add_argument('--time', help='Slurm time limit per task, e.g. 24:00:00')
    p_slurm.add_argument('--signal-seconds', type=int_at_least(1, 'seconds'), default=300,
                         help='USR1 this long before a task ends: it checkpoints and requeues')
    p_slurm.add_argument('--submit', action='store_true', help='submit the array (sbatch)')
    p_slurm.add_argument('--wait', action='store_true',
                         help='submit, block until the array ends, then collect the results')
    p_slurm.add_argument('--out', help='results CSV of --wait (default WORK_ROOT/results.csv)')
    p_status = sub.add_parser('status', help="each run's state (Slurm queue and records)")
    common(p_status)
    p_collect = sub.add_parser('collect', help='gather every run\'s metrics into one CSV')
    common(p_collect)
    p_collect.add_argument('--out', help='results CSV (default WORK_ROOT/results.csv)')
    args = parser.parse_args(argv)
    try:
        args.train_options = TrainOptions.from_argv(extra)
    except SystemExit:
        parser.error(f'the tools/train.py arguments after -- do not parse: {" ".join(extra)}')
    check_paths(args, sub.choices[args.command])
    return args


def check_paths(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """Expand the configs into ``args.config_files`` and check the folders a command writes.

    Errors (a glob that matches nothing, a folder given as a config, a work root that cannot
    be written) end in ``parser.error`` (exit 2) before anything is planned.
    """
    try:
        args.config_files = find_configs(args.configs)
    except (OSError, ValueError) as err:
        parser.error(str(err))
    if args.command in ('plan', 'status'):
        return
    outputs = [('--work-root', args.work_root)]
    if getattr(args, 'out', None):
        outputs.append(('--out', osp.dirname(osp.abspath(args.out))))
    for option, folder in outputs:
        problem = unwritable_folder(folder)
        if problem:
            parser.error(f'{option}: {problem}')


def main(argv: list[str] | None = None) -> int:
    """Carry out a sweep command; returns the exit code (130: interrupted)."""
    args = parse_args(argv)
    try:
        return command(args)
    except KeyboardInterrupt:
        print(f'bocb_sweep {args.command}: interrupted; finished runs and checkpoints are kept, '
              'the same command resumes', file=sys.stderr)
        return 130


def command(args: argparse.Namespace) -> int:
    """Plan the grid and carry out ``args.command``; returns the exit code."""
    try:
        runs = plan_grid(args.config_files, args.work_root, seeds=args.seeds,
                         backbones=args.backbones, optimizers=args.optimizers,
                         options=args.train_options)
    except (OSError, ValueError) as err:
        print(f'bocb_sweep {args.command}: error: {err}', file=sys.stderr)
        return 2
    out_csv = getattr(args, 'out', None) or osp.join(args.work_root, 'results.csv')
    if args.command == 'plan':
        from bocb_mm.sweep.collect import run_state
        for run in runs:
            state = run_state(run)
            print(f'{state:9s} {run.backbone:9s} {run.optimizer:10s} seed={run.seed} {run.config}')
        print(f'{len(runs)} runs')
        return 0
    if args.command == 'slurm':
        return slurm_array(args, runs, out_csv)
    if args.command == 'status':
        for row in slurm_status(runs, args.work_root):
            print(f"{row['state']:9s} {row['run']}  {row['log']}")
        return 0
    if args.command == 'run':
        return run_grid(args, runs, out_csv)
    rows = collect(runs, out_csv, args.metric, args.score)
    print(f'{len(rows)} runs collected into {out_csv}')
    return 0


def slurm_array(args: argparse.Namespace, runs: list, out_csv: str) -> int:
    """``slurm``: write the array of the runs left to do; submit it, wait and collect."""
    job_file = osp.join(args.work_root, JOB_FILE)
    if (args.submit or args.wait) and osp.isfile(job_file):
        job = Path(job_file).read_text().strip()
        try:
            queued = queued_tasks(job)
        except RuntimeError as err:
            print(f'bocb_sweep slurm: error: {err}', file=sys.stderr)
            return 2
        if queued:
            print(f'bocb_sweep slurm: array {job} of this work root still has {len(queued)} '
                  'task(s) in the queue; wait for it (squeue -j) or cancel it (scancel '
                  f'{job})', file=sys.stderr)
            return 2
    script, index_map, todo = write_slurm_array(
        runs, args.work_root, args.partition, args.job_name, gpus_per_run=args.gpus_per_run,
        cpus_per_gpu=args.cpus_per_gpu, max_parallel=args.max_parallel, time_limit=args.time,
        signal_seconds=args.signal_seconds)
    if not todo:
        print('every run has finished; nothing to submit')
        return 0
    print(f'array index map ({len(todo)} runs): {index_map}')
    if not (args.submit or args.wait):
        print(f'submit with:\n  sbatch {script}')
        return 0
    try:
        job = submit(script)
        print(f'submitted array job {job} ({len(todo)} tasks); logs: '
              f'{osp.join(args.work_root, "slurm_logs")}', flush=True)
        if not args.wait:
            return 0
        wait_for(job)
    except RuntimeError as err:
        print(f'bocb_sweep slurm: error: {err}', file=sys.stderr)
        return 2
    rows = collect(runs, out_csv, args.metric, args.score)
    done = sum(r['status'] == 'finished' for r in rows)
    print(f'{done}/{len(rows)} runs finished; results: {out_csv}')
    return 0 if done == len(rows) else 1


def run_grid(args: argparse.Namespace, runs: list, out_csv: str) -> int:
    """``run``: train the grid holding the work root's lock, then collect; the exit code."""
    os.makedirs(args.work_root, exist_ok=True)
    lock = FileLock(osp.join(args.work_root, ROOT_LOCK), f'work root {args.work_root}')
    try:
        lock.acquire()
    except LockedError as err:
        print(f'bocb_sweep run: {err}: another sweep is running there; wait for it to end, or '
              'use another --work-root', file=sys.stderr)
        return 2
    with lock:
        return _train_and_collect(args, runs, out_csv)


def _train_and_collect(args: argparse.Namespace, runs: list, out_csv: str) -> int:
    """Train the runs not finished, report failures, write the results CSV."""
    def report(record: dict) -> None:
        if record['status'] == 'failed':
            tail = record.get('log_tail', '').strip().splitlines()[-3:]
            print(f"\nFAILED {record['config']} seed={record['seed']} "
                  f"(log: {record['log']}):\n  " + '\n  '.join(tail), file=sys.stderr)

    try:
        records = run_local(runs, jobs=args.jobs, threads_per_job=args.threads,
                            on_done=report, runs_per_gpu=args.runs_per_gpu)
    except GPUSlotError as err:  # anything else keeps its traceback
        print(f'bocb_sweep run: {err}', file=sys.stderr)
        return 2
    failed = [r for r in records if r['status'] == 'failed']
    rows = collect(runs, out_csv, args.metric, args.score)
    done = sum(r['status'] == 'finished' for r in rows)
    print(f'{done}/{len(rows)} runs finished, {len(failed)} failed in this call; '
          f'results: {out_csv}')
    return 1 if failed else 0
