"""The main job: a tuned mini-BOCB on real data, end to end, in minutes on 2 CPU cores.

    python tools/bocb_demo.py                    # 3 mini backbones x 20 optimizers, tuned
    python tools/bocb_demo.py --quick            # a first look (6 optimizers)
    python tools/bocb_demo.py --protocol paper   # the paper's lr / wd per pair, no tuning
    python tools/bocb_demo.py --backbones mini-resnet mini-vit --optimizers SGD-M AdamW LAMB \\
        --lr-factors 1 3.16 --final-seeds 1 2 --out work_dirs/my_demo

1. scikit-learn's handwritten digits (real 8x8 images) are written in the CIFAR on-disk format
   twice (``bocb_mm/datasets/digits.py``): a ``tune`` root (fit / validation split, carved out
   of the training images, leaving the "fit" images) and a ``final`` root (fit / test split);
2. every backbone x optimizer pair follows the tuning protocol (``bocb_mm/sweep/protocol.py``):
   an lr grid around the optimizer's typical lr (its mode in the study's CIFAR-100 table,
   ``bocb_mm.analysis.hparams.typical_hparams``), successive halving on the validation split,
   the chosen lr re-trained with fresh seeds on the same training images, test top-1 once at
   the end; ``--protocol paper`` instead trains each pair once per seed with the paper's lr and
   weight decay for the backbone the mini backbone stands for;
3. runs train in long-lived worker processes, one per job slot, each building many mmengine
   Runners (``bocb_mm/sweep/inprocess.py``); ``--executor subprocess`` runs ``tools/train.py``
   per run instead;
4. the report (BOCB table, final table with bootstrap CIs, coupling differences beyond their
   CIs, lr-sensitivity figures, summary.json) is written to ``OUT/report``.

A rerun reuses a run only when its record's fingerprint (its config, seed and arguments) is the
new run's: a rerun with other arguments (``--epochs 6``) trains anew, the old run's folder moved
aside to ``<work_dir>.replaced-<fingerprint>`` with a warning. One demo at a time per ``--out``.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import os.path as osp
import signal
import statistics
import sys
import time
from pathlib import Path

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)

from tqdm import tqdm  # noqa: E402

import bocb_mm  # noqa: E402,F401
from bocb_mm.analysis.hparams import typical_hparams  # noqa: E402
from bocb_mm.cli.argtypes import (int_at_least, percentage, positive_float, seed,  # noqa: E402
                                  unwritable_folder)
from bocb_mm.datasets.digits import write_digits_splits  # noqa: E402
from bocb_mm.optim import get_info, list_optimizers, optimizer_cfg  # noqa: E402
from bocb_mm.optim.zoo import study_hparams  # noqa: E402
from bocb_mm.sweep import Run  # noqa: E402
from bocb_mm.sweep.collect import write_rows  # noqa: E402
from bocb_mm.sweep.protocol import (FINAL_FIELDS, TUNING_FIELDS, Outcome, Pair,  # noqa: E402
                                    ProtocolResult, Trial, TuningProtocol,
                                    choices_without_signal, diverged_runs,
                                    run_fixed, run_protocol)
from bocb_mm.sweep.lock import FileLock, LockedError, folder_lock_path  # noqa: E402
from bocb_mm.sweep.plan import config_fingerprint  # noqa: E402
from bocb_mm.training import TrainOptions  # noqa: E402
from bocb_mm.utils.fileio import atomic_write, holds_data  # noqa: E402

MARKER = '.bocb_demo'
"""The file that marks a folder as an output folder of the demo."""

# mini backbone -> (its config in configs/demo, the paper backbone it stands for)
MINI_BACKBONES = {
    'mini-resnet': ('configs/demo/mini-resnet_digits.py', 'R-50'),
    'mini-convnext': ('configs/demo/mini-convnext_digits.py', 'CNX-T'),
    'mini-vit': ('configs/demo/mini-vit_digits.py', 'DeiT-S'),
}

# The default protocol (see PROTOCOL_WHY) and the --quick one (fewer optimizers, epochs, lrs).
# stall_top1: twice the chance rate of the 10 digit classes (a validation score at or below it
# is no signal in any selection, see bocb_mm/sweep/protocol.py)
DEFAULTS = dict(lr_factors=(0.316, 1.0, 3.16, 10.0), epochs=10, halving_epochs=3, keep=1,
                final_seeds=(1, 2, 3), extend_edges=1, stall_top1=20.0)
QUICK = dict(lr_factors=(1.0, 3.16, 10.0), epochs=8, halving_epochs=2, keep=1,
             final_seeds=(1, 2, 3), extend_edges=1, stall_top1=20.0)
QUICK_OPTIMIZERS = ('SGD-M', 'LION', 'AdamW', 'LAMB', 'AdaBelief', 'RMSProp')
PROTOCOL_WHY = (
    'the typical lr comes from 200-epoch CIFAR-100 runs of large backbones, so the grid spans '
    'half a decade below it to a decade above it (short runs of small models tend to want '
    'more); 10 epochs is what the mini backbones need to pass 97 % (CNNs) / 95 % (ViT) on '
    'digits; successive halving with rate 4 gives every grid point the first 3 of the 10 epochs '
    'and takes the best on validation to the last rung, the 3 seeded finals, so a pair costs '
    '4.2 full trainings instead of 7 (keeping 2 survivors to 10 epochs would cost 5.6, past the '
    '12-minute budget of 60 pairs on 2 cores); a pair whose first-rung choice sits on an edge '
    'of its grid (or whose every point diverged) tries one more point beyond that edge, since a '
    'typical lr taken from big backbones can put the whole grid past a small model\'s wall '
    '(LARS on the mini ViT diverged at 1.2-12 and was unstable at 0.379); a first-rung score '
    'of at most twice the chance rate is no signal, and a grid with no signal anywhere takes, '
    'and grows beyond, its smallest lr when a point diverged (the mini ConvNeXt\'s LARS sat '
    'at chance at 0.38 and 1.2 after 3 epochs and diverged above, yet learned at 0.12), else '
    'its largest (a grid too small to move in the first rung)')


def wrapper_cfg(optimizer: str, lr: float, weight_decay: float) -> dict:
    """The optim_wrapper of a run, as the generated configs build it (from the zoo)."""
    info = get_info(optimizer)
    return dict(type=info.wrapper,
                optimizer=optimizer_cfg(info.name, lr=lr, weight_decay=weight_decay))


def schedule(epochs: int) -> list[dict]:
    """One epoch of linear warm-up (when there is more than one), then cosine decay to zero."""
    cosine = dict(type='CosineAnnealingLR', by_epoch=True, begin=min(1, epochs - 1), end=epochs,
                  eta_min=0.0, convert_to_iter_based=True)
    if epochs == 1:
        return [cosine]
    return [dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=1,
                 convert_to_iter_based=True), cosine]


def slug(optimizer: str) -> str:
    """File-name spelling of an optimizer (``SGD-M`` -> ``sgd-m``)."""
    return optimizer.lower().replace(' ', '')


class RunWriter:
    """Writes the config of every trial of the main job and returns its :class:`Run`.

    Args:
        out: The job's output folder (configs under ``configs/``, runs under ``runs/``).
        roots: ``tune_root`` and ``final_root`` of the digits (and their ``digest``, which
            goes into every config).
        epochs: The full budget; ``halving_epochs``: the first rung's.
        halving_epochs: Budget of the first rung, or None.
        keep_checkpoints: Final runs ``(backbone, optimizer, seed)`` that save their weights.
        resumable: Whether first-rung runs save a checkpoint (survivors resume from it).
    """

    def __init__(self, out: str, roots: dict, epochs: int, halving_epochs: int | None,
                 keep_checkpoints: set[tuple[str, str, int]], resumable: bool = True) -> None:
        self.out = out
        self.roots = roots
        self.epochs = epochs
        self.halving_epochs = halving_epochs
        self.keep_checkpoints = keep_checkpoints
        self.resumable = resumable
        self._base_hashes: dict[str, str] = {}

    def config_hash(self, trial: Trial, text: str) -> str:
        """The fingerprint of a trial's config (its run's record carries it): the leaf's text
        with the merged content of its mini backbone's config, loaded once per backbone
        (loading every leaf would cost about 60 times as much)."""
        base = MINI_BACKBONES[trial.pair.backbone][0]
        if base not in self._base_hashes:
            self._base_hashes[base] = config_fingerprint(osp.join(REPO, base))
        return hashlib.sha256(f'{self._base_hashes[base]}\n{text}'.encode()).hexdigest()[:16]

    def work_dir(self, trial: Trial) -> str:
        """``runs/<backbone>/<optimizer>/lr<lr>/<stage>[/seed<seed>]``."""
        parts = [self.out, 'runs', trial.pair.backbone, slug(trial.pair.optimizer),
                 f'lr{trial.lr:.3g}', trial.stage]
        if trial.stage == 'final':
            parts.append(f'seed{trial.seed}')
        return osp.join(*parts)

    def _epochs(self, trial: Trial) -> int:
        return self.halving_epochs if trial.stage == 'rung0' else self.epochs

    def _saves(self, trial: Trial) -> bool:
        key = (trial.pair.backbone, trial.pair.optimizer, trial.seed)
        if trial.stage == 'rung0':
            return self.resumable
        return trial.stage == 'final' and key in self.keep_checkpoints

    def config_text(self, trial: Trial) -> str:
        """A leaf config: the mini backbone's config + the trial's optimizer, data and budget."""
        pair = trial.pair
        base, stands_for = MINI_BACKBONES[pair.backbone]
        root = self.roots['final_root' if trial.stage == 'final' else 'tune_root']
        epochs = self._epochs(trial)
        split = ('train: fit split, evaluated once on the test split' if
                 trial.stage == 'final' else 'train: fit split, evaluated on the validation split')
        bocb = dict(backbone=pair.backbone, optimizer=pair.optimizer, dataset='digits',
                    input_size=8, stands_for=stands_for, stage=trial.stage, lr=trial.lr,
                    weight_decay=pair.weight_decay, typical_lr=pair.typical_lr)
        if self.roots.get('digest'):  # new data, new config: a run on other data is not reused
            bocb['data_digest'] = self.roots['digest']
        checkpoint = (dict(interval=epochs, save_last=True) if self._saves(trial)
                      else dict(interval=-1, save_last=False))
        return (f'# {pair.backbone} x {pair.optimizer}, lr {trial.lr:.3g}, stage {trial.stage} '
                f'({epochs} of a {self.epochs}-epoch schedule; {split})\n'
                f'_base_ = [{osp.join(REPO, base)!r}]\n'
                f'bocb = {bocb!r}\n'
                f'optim_wrapper = {wrapper_cfg(pair.optimizer, trial.lr, pair.weight_decay)!r}\n'
                f'data_root = {root!r}\n'
                f'train_dataloader = dict(dataset=dict(data_root={root!r}))\n'
                f'val_dataloader = dict(dataset=dict(data_root={root!r}))\n'
                f'test_dataloader = val_dataloader\n'
                f'max_epochs = {epochs}\n'
                f'train_cfg = dict(max_epochs={epochs}, val_interval={epochs})\n'
                f'param_scheduler = {schedule(self.epochs)!r}\n'
                f'default_hooks = dict(checkpoint={checkpoint!r})\n')

    def __call__(self, trial: Trial) -> Run:
        """Write the trial's config; its run resumes ``rung0``'s checkpoint for ``rung1``."""
        name = f'{trial.pair.backbone}_{slug(trial.pair.optimizer)}_lr{trial.lr:.3g}_{trial.stage}'
        if trial.stage == 'final':  # one file per seed: only some finals keep their weights
            name += f'_seed{trial.seed}'
        path = osp.join(self.out, 'configs', f'{name}.py')
        os.makedirs(osp.dirname(path), exist_ok=True)
        text = self.config_text(trial)
        if not osp.isfile(path) or Path(path).read_text() != text:
            atomic_write(path, lambda tmp: Path(tmp).write_text(text))
        options = TrainOptions()
        if trial.resume_from is not None:  # starts from that checkpoint (its own, once it has one)
            options = TrainOptions(resume=osp.join(self.work_dir(trial.resume_from),
                                                   f'epoch_{self.halving_epochs}.pth'))
        return Run(config=path, seed=trial.seed, work_dir=self.work_dir(trial),
                   backbone=trial.pair.backbone, optimizer=trial.pair.optimizer,
                   dataset='digits', options=options, config_hash=self.config_hash(trial, text))


def make_pairs(backbones: list[str], optimizers: list[str], protocol: str) -> list[Pair]:
    """The pairs with their lr / weight decay: typical (tuned) or the paper's (paper)."""
    pairs = []
    for mini in backbones:
        for opt in optimizers:
            lr, wd = typical_hparams(opt)
            if protocol == 'paper':
                lr, wd = study_hparams(opt)[MINI_BACKBONES[mini][1]]
            pairs.append(Pair(mini, opt, lr, wd))
    return pairs


def make_executor(kind: str, jobs: int):
    """In-process workers (default) or ``tools/train.py`` subprocesses."""
    if kind == 'subprocess':
        from bocb_mm.sweep.local import SubprocessExecutor
        return SubprocessExecutor(jobs)
    from bocb_mm.sweep.inprocess import InProcessExecutor
    return InProcessExecutor(jobs)


class Progress:
    """The progress bar of the job: one step per training, with stage and divergence counts."""

    def __init__(self, total: int) -> None:
        self.bar = tqdm(total=total, unit='run', desc='main job', dynamic_ncols=True)
        self.counts: dict[str, int] = {}
        self.diverged = 0

    def __call__(self, outcome: Outcome) -> None:
        stage = outcome.trial.stage
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
    import resource
    own, children = (resource.getrusage(who) for who in (resource.RUSAGE_SELF,
                                                          resource.RUSAGE_CHILDREN))
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timing(records: list[dict], wall: float, executor: str, jobs: int,
           cpu: float | None = None) -> dict:
    """Run counts, wall and CPU time and per-run overhead of this call (for the report)."""
    overheads = sorted(r['overhead'] for r in records if r.get('overhead') is not None)
    out = dict(executor=executor, workers=jobs, runs_trained=len(records),
               wall_time_min=round(wall / 60, 2))
    if cpu is not None:
        out['cpu_time_min'] = round(cpu / 60, 2)
    if overheads:
        out.update(overhead_median_s=round(statistics.median(overheads), 3),
                   overhead_p90_s=round(overheads[int(0.9 * (len(overheads) - 1))], 3),
                   overhead_note='wall time of a run outside its training and validation '
                                 'iterations (Runner build, data loading, hooks, checkpoints)')
    return out


def run_job(args: argparse.Namespace, pairs: list[Pair], writer: RunWriter,
            protocol: TuningProtocol) -> ProtocolResult:
    """Train every pair (tuned protocol or paper settings) with a progress bar."""
    per_pair = protocol.runs_per_pair() if args.protocol == 'tuned' else len(protocol.final_seeds)
    progress = Progress(len(pairs) * per_pair)
    try:
        with make_executor(args.executor, args.jobs) as executor:
            if args.protocol == 'tuned':
                return run_protocol(pairs, protocol, writer, executor, progress)
            return run_fixed(pairs, protocol.final_seeds, writer, executor, progress)
    finally:
        progress.close()


def describe(args: argparse.Namespace, protocol: TuningProtocol, sizes: dict) -> dict:
    """The protocol as stated in the report and summary.json."""
    data = (f'digits 8x8: {sizes["train"]} training images ({sizes["fit"]} fit + {sizes["val"]} '
            f'validation, stratified) and {sizes["test"]} test images; every run trains on the '
            'fit images')
    if args.protocol == 'paper':
        return dict(name='paper', data=data,
                    hyper_parameters='the paper\'s CIFAR-100 lr / weight decay of the backbone each '
                                     'mini backbone stands for (bocb_mm.optim.zoo.study_hparams); '
                                     'no tuning',
                    training=f'{protocol.epochs} epochs on the fit images, seeds '
                             f'{", ".join(map(str, protocol.final_seeds))}; test top-1 once, at '
                             'the end')
    return dict(name='tuned', data=data,
                typical_lr=('per optimizer, the mode over backbones of the study\'s CIFAR-100 lr '
                            '(bocb_mm.optim.zoo.study_hparams, mode rule of '
                            'bocb_mm.analysis.hparams.log_mode)'),
                weight_decay='per optimizer, the mode of the same table (not tuned)',
                **protocol.describe(), why=PROTOCOL_WHY)


def out_problem(out: str, force: bool) -> str | None:
    """Why the demo must not write to ``out``, or None.

    The demo reuses and overwrites what an output folder holds (``results.csv``, ``tuning.csv``,
    ``report/``, the runs, the data under ``data/``); a folder that holds files but not the
    :data:`MARKER` the demo writes into its output folders is someone else's.
    """
    problem = unwritable_folder(out)
    if problem or force or not holds_data(out) or osp.isfile(osp.join(out, MARKER)):
        return problem
    return (f'{out} holds files but is not an output folder of the demo (it has no {MARKER} '
            'file); the demo would overwrite its results.csv, tuning.csv and report/ and train '
            'on its data/. Choose a new folder, or pass --force to use this one')


def mark_output(out: str) -> None:
    """Create ``out`` and its :data:`MARKER`, which identifies it as the demo's output."""
    os.makedirs(out, exist_ok=True)
    marker = osp.join(out, MARKER)
    if not osp.isfile(marker):
        with open(marker, 'w') as f:
            f.write('An output folder of tools/bocb_demo.py: a rerun reuses its finished runs '
                    'and replaces its results, report and damaged data.\n')


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
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
                        help=f'grid: multiples of the typical lr (default {DEFAULTS["lr_factors"]})')
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
                        help='trainings at a time (workers)')
    parser.add_argument('--executor', choices=['inprocess', 'subprocess'], default='inprocess')
    parser.add_argument('--out', default='work_dirs/bocb_demo',
                        help=f'output folder: a new or empty one, or an earlier output of the '
                             f'demo (it holds the {MARKER} file), whose finished runs are reused')
    parser.add_argument('--force', action='store_true',
                        help='use --out even if it holds files the demo did not write (its '
                             'results.csv, tuning.csv, report/ and data/ are replaced)')
    args = parser.parse_args(argv)
    problem = out_problem(args.out, args.force)
    if problem:
        parser.error(f'--out: {problem}')
    if args.optimizers is not None and len({o.lower() for o in args.optimizers}) < 2:
        parser.error('--optimizers: the report compares optimizers on each backbone (ranks, '
                     f'drop-worst statistics); name at least 2, got {args.optimizers}')
    return args


def build_protocol(args: argparse.Namespace) -> TuningProtocol:
    """The protocol from the defaults (or ``--quick``) and the command line."""
    chosen = dict(QUICK if args.quick else DEFAULTS)
    for key in chosen:
        value = getattr(args, key)
        if value is not None:
            chosen[key] = tuple(value) if isinstance(value, list) else value
    if (args.protocol == 'paper' or not chosen['halving_epochs'] or len(chosen['lr_factors']) < 2
            or chosen['halving_epochs'] >= chosen['epochs']):
        chosen['halving_epochs'] = None  # nothing to halve (the paper: no grid at all)
        chosen['extend_edges'] = 0
    chosen['keep'] = min(chosen['keep'], max(1, len(chosen['lr_factors']) - 1))
    return TuningProtocol(tune_seed=args.tune_seed, **chosen)


def print_table(summary: dict) -> None:
    """The final table and the coupling differences beyond their CIs, for the terminal."""
    print(f'{"backbone":14s} {"optimizer":10s} {"lr":>9s} {"test":>6s} {"CI":>15s} seeds')
    for r in summary['final_table'] or []:
        ci = (f'[{r["ci_low"]:.2f}, {r["ci_high"]:.2f}]' if r.get('ci_low') is not None
              else '-')
        print(f'{r["backbone"]:14s} {r["optimizer"]:10s} {r["lr"]:9.3g} {r["test_mean"]:6.2f} '
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


def main(argv: list[str] | None = None) -> int:
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


def run_demo(args: argparse.Namespace) -> int:
    """Train, collect and report (see the module docstring); returns the exit code."""
    start = time.time()
    protocol = build_protocol(args)
    default = QUICK_OPTIMIZERS if args.quick else list_optimizers()
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
    info = describe(args, protocol, sizes)
    print(f'[demo] {info["data"]} -> {out}/data', flush=True)
    print(f'[demo] protocol {args.protocol}: {len(args.backbones)} backbones x {len(optimizers)} '
          f'optimizers; ' + (f'{protocol.describe()["lr_grid"]}, ' if args.protocol == 'tuned'
                             else '') + f'{args.jobs} {args.executor} workers', flush=True)
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


if __name__ == '__main__':
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sys.exit(main())
