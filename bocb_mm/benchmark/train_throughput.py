"""Training throughput of a config: images/s of 1..N packed runs, and where an iteration goes.

For each N of ``--runs``, N copies of ``tools/train.py`` train the config at the same time
(separate processes on the first visible GPU, each with ``CUDA_VISIBLE_DEVICES`` set to it, as
``bocb_sweep run --runs-per-gpu N`` places them on a one-GPU machine; on the CPU without a
GPU), each on a synthetic CIFAR-100 in the official format, for ``--iters`` iterations without
validation. From every run's json log (one row per iteration) the script takes the iterations
after ``--warmup`` and reports:

* ``img/s``: the sum over the runs of batch / median iteration time (aggregate throughput);
* per iteration (median over the runs' medians, ms): ``iter`` (mmengine's ``time``), ``data``
  (``data_time``: waiting for the loader), ``preproc`` (the data preprocessor: transfer, batched
  augmentation, normalisation, Mixup / CutMix), ``fwd+bwd`` and ``optim`` (the optimizer step),
  the last three from :class:`bocb_mm.engine.StepTimerHook`, which synchronises the device at
  each boundary (``--no-breakdown`` leaves it out).

The throughput options of ``tools/train.py`` apply (``--gpu-data``, ``--compile``,
``--channels-last``, ``--amp``, ``--cudnn-benchmark``). Examples::

    python tools/benchmark/train_throughput.py \\
        configs/cifar100/resnet50/resnet50_adamw_1xb100-200e_cifar100.py \\
        --runs 1 2 4 8 --iters 60 --gpu-data --amp bf16 --channels-last --compile
    # CPU smoke run
    python tools/benchmark/train_throughput.py CONFIG --runs 1 --iters 4 --warmup 1 --batch 8 \\
        --cfg-options model.backbone.depth=18 model.head.in_channels=512
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import os.path as osp
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TRAIN_PY = osp.join(REPO, 'tools', 'train.py')

#: Per-iteration columns: (label, json key).
PHASES = (('iter', 'time'), ('data', 'data_time'), ('preproc', 'preprocess_time'),
          ('fwd+bwd', 'fwd_bwd_time'), ('optim', 'optim_time'))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The benchmark's command line."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='train config (a CIFAR recipe)')
    parser.add_argument('--runs', type=int, nargs='+', default=[1], help='packed run counts')
    parser.add_argument('--iters', type=int, default=40, help='training iterations per run')
    parser.add_argument('--warmup', type=int, default=10, help='iterations left out')
    parser.add_argument('--batch', type=int, default=None, help='batch size (config default)')
    parser.add_argument('--num-workers', type=int, default=None,
                        help='loader workers per run (default: the config, at most '
                             'cpu_count // runs)')
    parser.add_argument('--data-root', default=None,
                        help='CIFAR-100 folder (default: a synthetic one, generated)')
    parser.add_argument('--amp', nargs='?', const='fp16', choices=['fp16', 'bf16'])
    parser.add_argument('--compile', nargs='?', const='default', default=None)
    parser.add_argument('--channels-last', action='store_true')
    parser.add_argument('--trim-convs', action='store_true')
    parser.add_argument('--cudnn-benchmark', action='store_true')
    parser.add_argument('--gpu-data', action='store_true')
    parser.add_argument('--no-breakdown', action='store_true',
                        help='no StepTimerHook (no device synchronisation per phase)')
    parser.add_argument('--cfg-options', nargs='+', default=[],
                        help='extra key=value overrides (tools/train.py syntax)')
    parser.add_argument('--work-dir', default=None, help='keep logs here (default: temporary)')
    parser.add_argument('--json', default=None, help='also write the results to this file')
    return parser.parse_args(argv)


def prepare_config(args: argparse.Namespace, data_root: str, work_dir: str, n_runs: int) -> str:
    """The benchmark's config: synthetic data, ``iters`` iterations, no validation, dumped.

    Args:
        args: :func:`parse_args` result.
        data_root: CIFAR-100 folder of the runs.
        work_dir: Where the config is written.
        n_runs: Runs sharing the machine (loader workers are capped at ``cpu_count // n_runs``).

    Returns:
        The path of the dumped config.
    """
    from mmengine.config import Config, DictAction

    import bocb_mm  # noqa: F401
    from bocb_mm.engine.throughput import apply_throughput_options
    cfg = Config.fromfile(args.config)
    batch = args.batch or cfg.train_dataloader.batch_size
    loader = cfg.train_dataloader
    loader.batch_size = batch
    loader.dataset.type = 'bocb_mm.UnverifiedCIFAR100'
    loader.dataset.data_root = data_root
    loader.dataset.indices = batch * args.iters
    workers = args.num_workers if args.num_workers is not None else min(
        loader.get('num_workers', 4), max(1, (os.cpu_count() or 1) // n_runs))
    loader.num_workers = workers
    loader.persistent_workers = workers > 0
    cfg.train_cfg = dict(by_epoch=True, max_epochs=1, val_interval=10**6)
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.test_cfg = cfg.test_dataloader = cfg.test_evaluator = None
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=10**6, save_last=False)
    cfg.log_level = 'WARNING'
    cfg.randomness = dict(seed=0)
    apply_throughput_options(cfg, compile=args.compile, channels_last=args.channels_last,
                             amp=args.amp, cudnn_benchmark=args.cudnn_benchmark,
                             gpu_data=args.gpu_data, step_timer=not args.no_breakdown,
                             trim_convs=args.trim_convs)
    if args.cfg_options:
        action = DictAction(option_strings=[], dest='opts')
        namespace = argparse.Namespace()
        action(None, namespace, args.cfg_options)
        cfg.merge_from_dict(namespace.opts)
    path = osp.join(work_dir, 'benchmark_config.py')
    cfg.dump(path)
    return path


def placements(n_runs: int) -> list[str | None]:
    """The GPU of each of ``n_runs`` packed runs: the first visible GPU, or None (CPU).

    Args:
        n_runs: Runs started at once.

    Returns:
        ``CUDA_VISIBLE_DEVICES`` of each run (:func:`bocb_mm.sweep.local.gpu_slots` on one GPU,
        as ``bocb_sweep run --runs-per-gpu n_runs`` places runs there), or None for each when no
        GPU is visible.
    """
    from bocb_mm.sweep.local import gpu_slots, visible_gpus
    gpus = visible_gpus()
    return gpu_slots(gpus[:1], n_runs) if gpus else [None] * n_runs


def launch(config: str, work_dir: str, n_runs: int) -> list[tuple[str, float]]:
    """Start ``n_runs`` trainings of ``config`` at once and wait for them.

    Args:
        config: The benchmark config (:func:`prepare_config`).
        work_dir: Each run writes to ``work_dir/<n>x/run<i>``, its log to
            ``work_dir/<n>x_run<i>.log``.
        n_runs: Runs started at once, each with ``cpu_count // n_runs`` threads.

    Returns:
        ``(work dir, wall seconds)`` per run.

    Raises:
        RuntimeError: If a run fails; the message holds the end of its log.
    """
    from bocb_mm.sweep.local import run_env
    threads = max(1, (os.cpu_count() or 1) // n_runs)
    base = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get('PYTHONPATH', ''))
    procs = []
    for i, gpu in enumerate(placements(n_runs)):
        run_dir = osp.join(work_dir, f'{n_runs}x', f'run{i}')
        cmd = [sys.executable, TRAIN_PY, config, '--work-dir', run_dir,
               '--cfg-options', f'experiment_name=bench_{n_runs}x_{i}']
        log = open(osp.join(work_dir, f'{n_runs}x_run{i}.log'), 'w')
        procs.append((run_dir, time.perf_counter(), log,
                      subprocess.Popen(cmd, cwd=REPO, env=run_env(threads, gpu, base), stdout=log,
                                       stderr=subprocess.STDOUT)))
    out = []
    for run_dir, start, log, proc in procs:
        code = proc.wait()
        log.close()
        if code != 0:
            with open(log.name) as f:
                tail = f.read()[-3000:]
            raise RuntimeError(f'{run_dir}: tools/train.py exited {code}\n{tail}')
        out.append((run_dir, time.perf_counter() - start))
    return out


def iteration_rows(run_dir: str) -> list[dict[str, Any]]:
    """The training rows of a run's last ``scalars.json`` (one per iteration with interval 1).

    Args:
        run_dir: A run's work dir.

    Returns:
        The rows that hold ``time`` and ``loss``.

    Raises:
        FileNotFoundError: If the run wrote no ``scalars.json``.
    """
    files = sorted(glob.glob(osp.join(run_dir, '*', 'vis_data', 'scalars.json')))
    if not files:
        raise FileNotFoundError(f'no scalars.json under {run_dir}')
    with open(files[-1]) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return [r for r in rows if 'time' in r and 'loss' in r]


def summarize(rows_per_run: list[list[dict[str, Any]]], batch: int, warmup: int
              ) -> dict[str, Any]:
    """Aggregate images/s and the median per-phase times (ms) of packed runs.

    Args:
        rows_per_run: :func:`iteration_rows` of each run.
        batch: Images per iteration of one run.
        warmup: Leading iterations of each run left out.

    Returns:
        ``runs``, ``img_s`` (sum over runs of batch / median iteration time), ``img_s_per_run``
        and ``<phase>_ms`` (median over runs of each run's median; None when not logged).
    """
    medians: dict[str, list[float]] = {key: [] for _, key in PHASES}
    img_s = 0.0
    for rows in rows_per_run:
        steady = rows[warmup:] or rows
        for _, key in PHASES:
            values = [r[key] for r in steady if key in r]
            if values:
                medians[key].append(statistics.median(values))
        img_s += batch / medians['time'][-1]
    out: dict[str, Any] = {'runs': len(rows_per_run), 'img_s': img_s,
                           'img_s_per_run': img_s / len(rows_per_run)}
    for label, key in PHASES:
        out[f'{label}_ms'] = statistics.median(medians[key]) * 1e3 if medians[key] else None
    return out


def format_table(results: list[dict[str, Any]]) -> str:
    """The results as a fixed-width table, one row per packed run count."""
    head = f'{"runs":>4} {"img/s":>9} {"per run":>8} ' + ' '.join(
        f'{label + " ms":>10}' for label, _ in PHASES)
    lines = [head, '-' * len(head)]
    for r in results:
        cells = ' '.join(f'{r[f"{label}_ms"]:10.1f}' if r[f'{label}_ms'] is not None
                         else f'{"-":>10}' for label, _ in PHASES)
        lines.append(f'{r["runs"]:>4} {r["img_s"]:9.1f} {r["img_s_per_run"]:8.1f} {cells}')
    return '\n'.join(lines)


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    """Run the benchmark; print the table (and write ``--json``).

    Args:
        argv: Command-line arguments (default ``sys.argv[1:]``).

    Returns:
        One :func:`summarize` dict per ``--runs`` value, with ``wall_s`` added.
    """
    args = parse_args(argv)
    if args.warmup >= args.iters:
        raise SystemExit('--warmup must be smaller than --iters')
    with tempfile.TemporaryDirectory(prefix='bocb_throughput_') as tmp:
        work_dir = args.work_dir or tmp
        os.makedirs(work_dir, exist_ok=True)
        from mmengine.config import Config
        batch = args.batch or Config.fromfile(args.config).train_dataloader.batch_size
        data_root = args.data_root
        if data_root is None:
            from bocb_mm.datasets import random_cifar
            data_root = osp.join(work_dir, 'cifar100_synthetic')
            random_cifar(data_root, num_train=batch * args.iters, num_test=10)
        results = []
        for n_runs in args.runs:
            config = prepare_config(args, data_root, work_dir, n_runs)
            runs = launch(config, work_dir, n_runs)
            result = summarize([iteration_rows(d) for d, _ in runs], batch, args.warmup)
            result['wall_s'] = max(t for _, t in runs)
            results.append(result)
            print(f'[{n_runs} run(s)] {result["img_s"]:.1f} img/s', file=sys.stderr, flush=True)
    print(format_table(results))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(dict(config=args.config, options=vars(args), results=results), f,
                      indent=2)
    return results


if __name__ == '__main__':
    main()
