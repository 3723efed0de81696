"""The demo's job: write the data, train every pair (tuned or at the paper's settings), write
``results.csv`` / ``tuning.csv`` and the report."""
from __future__ import annotations

import argparse
import os.path as osp
import resource
import statistics
import sys
import time

from tqdm import tqdm

from bocb_mm.datasets.digits import write_digits_splits
from bocb_mm.optim import get_info, list_optimizers
from bocb_mm.sweep.collect import write_rows
from bocb_mm.sweep.protocol import (FINAL_FIELDS, TUNING_FIELDS, Outcome, Pair, ProtocolResult,
                                    TuningProtocol, choices_without_signal, diverged_runs,
                                    run_fixed, run_protocol)

from .output import mark_output
from .planning import QUICK_OPTIMIZERS, RunWriter, build_protocol, make_pairs


def make_executor(kind: str, jobs: int, out: str = '', partition: str | None = None):
    """In-process workers (``inprocess``), ``tools/train.py`` subprocesses (``subprocess``) or
    Slurm arrays on ``partition`` (``slurm``: one CPU task per run, ``jobs`` of them running at
    a time, each array's files under ``<out>/slurm/array_<k>``)."""
    if kind == 'slurm':
        from bocb_mm.sweep.slurm_executor import SlurmExecutor
        return SlurmExecutor(osp.join(out, 'slurm'), partition, max_parallel=jobs,
                             job_name='bocb-demo')
    if kind == 'subprocess':
        from bocb_mm.sweep.local import SubprocessExecutor
        return SubprocessExecutor(jobs)
    from bocb_mm.sweep.inprocess import InProcessExecutor
    return InProcessExecutor(jobs)


class Progress:
    """The progress bar of the job: one step per training, with stage and divergence counts."""

    def __init__(self, total: int) -> None:
        self.bar = tqdm(total=total, unit='run', desc='demo', dynamic_ncols=True)
        self.counts: dict[str, int] = {}
        self.diverged = 0

    def __call__(self, outcome: Outcome) -> None:
        stage = outcome.trial.stage.value
        self.counts[stage] = self.counts.get(stage, 0) + 1
        self.diverged += outcome.status != 'finished'
        self.bar.set_postfix_str(' '.join(f'{k}={v}' for k, v in self.counts.items())
                                 + f' diverged={self.diverged}', refresh=False)
        self.bar.update(1)

    def close(self) -> None:
        self.bar.total = self.bar.n
        self.bar.refresh()
        self.bar.close()


def cpu_seconds() -> float:
    """User + system CPU time of this process and its ended children (the workers)."""
    own, children = (resource.getrusage(who) for who in (resource.RUSAGE_SELF,
                                                          resource.RUSAGE_CHILDREN))
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timing(records: list[dict], wall: float, executor: str, jobs: int,
           cpu: float | None = None) -> dict:
    """Run counts, wall and CPU time and per-run overhead (the wall time of a run outside its
    training and validation iterations) of this call."""
    overheads = sorted(r['overhead'] for r in records if r.get('overhead') is not None)
    out = dict(executor=executor, workers=jobs, runs_trained=len(records),
               wall_time_min=round(wall / 60, 2))
    if cpu is not None:
        out['cpu_time_min'] = round(cpu / 60, 2)
    if overheads:
        out.update(overhead_median_s=round(statistics.median(overheads), 3),
                   overhead_p90_s=round(overheads[int(0.9 * (len(overheads) - 1))], 3))
    return out


def run_job(args: argparse.Namespace, pairs: list[Pair], writer: RunWriter,
            protocol: TuningProtocol) -> ProtocolResult:
    """Train every pair (tuned protocol or paper settings) with a progress bar."""
    per_pair = protocol.runs_per_pair() if args.protocol == 'tuned' else len(protocol.final_seeds)
    progress = Progress(len(pairs) * per_pair)
    try:
        with make_executor(args.executor, args.jobs, osp.abspath(args.out),
                           args.partition) as executor:
            if args.protocol == 'tuned':
                return run_protocol(pairs, protocol, writer, executor, progress)
            return run_fixed(pairs, protocol.final_seeds, writer, executor, progress)
    finally:
        progress.close()


def data_line(sizes: dict) -> str:
    """The digits' splits in words (for the terminal)."""
    return (f'digits 8x8: {sizes["train"]} training images ({sizes["fit"]} fit + {sizes["val"]} '
            f'validation, stratified) and {sizes["test"]} test images; every run trains on the '
            'fit images')


def grid_line(protocol: TuningProtocol) -> str:
    """``typical lr x 0.316, 1, ...`` (for the terminal)."""
    return 'typical lr x ' + ', '.join(f'{f:.3g}' for f in protocol.lr_factors)


def describe(name: str, protocol: TuningProtocol, sizes: dict) -> dict:
    """The protocol's data for the report and ``summary.json`` (what the keys mean:
    ``docs/protocol.md``).

    Args:
        name: ``tuned`` or ``paper``.
        protocol: The protocol's settings (``paper``: only its epochs and final seeds apply).
        sizes: The digits' split sizes (:func:`~bocb_mm.datasets.digits.write_digits_splits`).
    """
    data = dict(dataset='digits', image_size=8,
                **{split: sizes[split] for split in ('train', 'fit', 'val', 'test')})
    if name == 'paper':
        return dict(name='paper', data=data, hparams='bocb_mm.optim.zoo.recommended_hparams',
                    epochs=protocol.epochs, final_seeds=list(protocol.final_seeds),
                    docs='docs/protocol.md')
    return dict(name='tuned', data=data, hparams='bocb_mm.analysis.hparams.typical_hparams',
                **protocol.describe(), docs='docs/protocol.md')


def print_table(summary: dict) -> None:
    """The final table and the coupling differences beyond their CIs, for the terminal."""
    rows = summary['final_table'] or []
    width = max([len('optimizer')] + [len(r['optimizer']) for r in rows])
    print(f'{"backbone":14s} {"optimizer":{width}s} {"lr":>9s} {"test":>6s} {"CI":>15s} seeds')
    for r in rows:
        ci = (f'[{r["ci_low"]:.2f}, {r["ci_high"]:.2f}]' if r.get('ci_low') is not None
              else '-')
        print(f'{r["backbone"]:14s} {r["optimizer"]:{width}s} {r["lr"]:9.3g} {r["test_mean"]:6.2f} '
              f'{ci:>15s} {r["n_seeds"]}' + (f' ({r["n_diverged"]} diverged)'
                                             if r['n_diverged'] else ''))
    diffs = summary.get('coupling_differences') or {}
    for d in diffs.get('exceeding_ci', []):
        print(f'[coupling] {d["kind"]}: {d["higher"]} > {d["lower"]} by {d["difference"]:.2f} '
              f'(CI [{d["ci_low"]:.2f}, {d["ci_high"]:.2f}])')
    n = diffs.get('n_pairs', {})
    print(f'[coupling] differences beyond their CI: {len(diffs.get("exceeding_ci", []))} of '
          f'{sum(n.values())} ({", ".join(f"{k}: {v} pairs" for k, v in n.items())})')


def write_results(out: str, result: ProtocolResult) -> tuple[str, str | None]:
    """``results.csv`` (final runs) and ``tuning.csv`` (grid points) in ``out``."""
    results = osp.join(out, 'results.csv')
    write_rows(result.finals, results, FINAL_FIELDS)
    tuning = None
    if result.tuning:
        tuning = osp.join(out, 'tuning.csv')
        write_rows(result.tuning, tuning, TUNING_FIELDS)
    return results, tuning


def report(out: str, results: str, tuning: str | None, info: dict, writer: RunWriter,
           result: ProtocolResult) -> dict:
    """Write the report; the weight-entropy plot uses the checkpoints the finals kept."""
    from bocb_mm.analysis.report import make_report, short_summary
    ckpts = [(f'{r["backbone"]} {r["optimizer"]}', osp.join(r['work_dir'],
                                                             f'epoch_{writer.epochs}.pth'))
             for r in result.finals]
    ckpts = [(label, path) for label, path in ckpts if osp.isfile(path)]
    summary = make_report(results, osp.join(out, 'report'), protocol=info, tuning=tuning,
                          checkpoints=[p for _, p in ckpts] or None,
                          checkpoint_labels=[label for label, _ in ckpts] or None,
                          log=lambda msg: print(f'[report] {msg}', flush=True))
    print(short_summary(summary))
    return summary


def run_demo(args: argparse.Namespace) -> int:
    """Write the data, train, collect and report; returns the exit code.

    Args:
        args: The parsed command line (:func:`bocb_mm.demo.cli.parse_args`).
    """
    start = time.time()
    protocol = build_protocol(args)
    default = QUICK_OPTIMIZERS if args.quick else list_optimizers('all')
    optimizers = [get_info(o).name for o in (args.optimizers or default)]
    out = osp.abspath(args.out)
    mark_output(out)
    sizes = write_digits_splits(osp.join(out, 'data'), overwrite=False,
                                log=lambda msg: print(f'[demo] {msg}', flush=True))
    pairs = make_pairs(args.backbones, optimizers, args.protocol)
    first = (args.backbones[0], protocol.final_seeds[0])
    keep = {(first[0], o, first[1]) for o in optimizers[:3]}
    writer = RunWriter(out, sizes, protocol.epochs, protocol.halving_epochs, keep,
                       resumable=protocol.continues)
    info = describe(args.protocol, protocol, sizes)
    print(f'[demo] {data_line(sizes)} -> {out}/data', flush=True)
    print(f'[demo] protocol {args.protocol}: {len(args.backbones)} backbones x {len(optimizers)} '
          f'optimizers; ' + (f'{grid_line(protocol)}, ' if args.protocol == 'tuned' else '')
          + f'{args.jobs} {args.executor} workers', flush=True)
    result = run_job(args, pairs, writer, protocol)
    failed = [r for r in result.records if r['status'] == 'failed']
    for record in failed:
        print(f'[demo] FAILED {record["config"]}:\n{record.get("log_tail", "")}', file=sys.stderr)
    info['diverged'] = diverged_runs(result)
    info['chosen_without_signal'] = choices_without_signal(result)
    for choice in info['chosen_without_signal']:
        print(f'[demo] {choice["backbone"]} x {choice["optimizer"]}: no grid point scored above '
              f'{protocol.stall_top1:g} % on validation (lr, top-1: {choice["grid"]}); took lr '
              f'{choice["lr"]:g} by the no-signal rule', flush=True)
    info['timing'] = timing(result.records, time.time() - start, args.executor, args.jobs,
                            cpu_seconds())
    results, tuning = write_results(out, result)
    if not any(r['status'] == 'finished' for r in result.finals):
        print('[demo] no final run finished; no report (see the logs above)', file=sys.stderr)
        return 1
    summary = report(out, results, tuning, info, writer, result)
    print_table(summary)
    t = info['timing']
    print(f'[demo] {t["runs_trained"]} trainings, per-run overhead median '
          f'{t.get("overhead_median_s", "n/a")} s; report: '
          f'{osp.join(out, "report", "report.html")} ({(time.time() - start) / 60:.1f} min wall, '
          f'{cpu_seconds() / 60:.1f} min CPU)')
    return 1 if failed else 0
