"""Plot loss / lr / metric curves of one or several runs from mmengine's ``scalars.json``.

    python tools/analysis/plot_curves.py work_dirs/run_a [work_dirs/run_b ...] --out curves.png
    python tools/analysis/plot_curves.py RUN --keys loss lr coco/bbox_mAP coco/bbox_mAP_50

A RUN is a work_dir (every ``<timestamp>/vis_data/scalars.json`` under it is read, in order, so
a resumed run is one curve, without what the interrupted attempt logged past the checkpoint it
resumed from), a ``<timestamp>`` folder, or a ``scalars.json`` file: mmengine's
``LocalVisBackend`` writes one JSON object per logged training step (``loss``, ``lr``, ...,
``step`` = iteration) and one per validation (the metrics, ``step`` = epoch for epoch-based
training). One panel per key, one line per run; training keys against the iteration, metric keys
against the validation step (epoch or iteration). The default keys are ``loss``, ``lr`` and the
main metric of each run (``accuracy/top1``, ``coco/bbox_mAP`` or ``coco/AP``).
"""
from __future__ import annotations

import argparse
import glob
import json
import os.path as osp
import sys
from dataclasses import dataclass, field

# keys of the records that are bookkeeping, not curves
BOOKKEEPING = ('step', 'iter', 'epoch', 'time', 'data_time', 'memory')
PANEL_INCHES = (4.5, 3.2)


@dataclass
class Curves:
    """The scalar records of one run, split into training and validation records."""

    label: str
    train: list[dict] = field(default_factory=list)
    val: list[dict] = field(default_factory=list)

    @property
    def by_epoch(self) -> bool:
        """Whether validation steps count epochs (training records carry ``epoch``)."""
        return any('epoch' in r for r in self.train)


def scalar_files(run: str) -> list[str]:
    """The ``scalars.json`` files of a run (a work_dir, a timestamp folder, or the file)."""
    if osp.isfile(run):
        return [run]
    for pattern in ('vis_data/scalars.json', '*/vis_data/scalars.json'):
        files = sorted(glob.glob(osp.join(run, pattern)))
        if files:
            return files
    raise FileNotFoundError(f'no vis_data/scalars.json under {run} (a work_dir of tools/train.py, '
                            'one of its <timestamp> folders, or the file itself)')


def default_label(run: str) -> str:
    """A run's name: its folder (with the parent for sweep folders ``<config>/seedN``)."""
    path = osp.normpath(run)
    if osp.isfile(path):  # .../<work_dir>/<timestamp>/vis_data/scalars.json
        path = osp.dirname(osp.dirname(osp.dirname(path)))
    name = osp.basename(path)
    return f'{osp.basename(osp.dirname(path))}/{name}' if name.startswith('seed') else name


def read_curves(run: str, label: str | None = None) -> Curves:
    """Read a run's records; training records are those with a ``loss``. Of a resumed run,
    what the interrupted attempt logged past the checkpoint it resumed from is left out
    (:func:`bocb_mm.sweep.collect.resumed_history`)."""
    from bocb_mm.sweep.collect import resumed_history
    curves = Curves(label or default_label(run))
    records = []
    for path in scalar_files(run):
        with open(path, encoding='utf-8') as f:
            records += [json.loads(line) for line in f if line.strip()]
    for record in resumed_history(records):
        (curves.train if 'loss' in record else curves.val).append(record)
    return curves


def default_keys(runs: list[Curves]) -> list[str]:
    """``loss``, ``lr`` and the main metric of each run (if any)."""
    from bocb_mm.sweep.collect import METRIC_KEYS
    keys = ['loss', 'lr']
    for run in runs:
        main = next((k for k in METRIC_KEYS if any(k in r for r in run.val)), None)
        if main and main not in keys:
            keys.append(main)
    return keys


def series(run: Curves, key: str) -> tuple[list[float], list[float], str]:
    """(x, y, x label) of one key of one run; empty when the run has no such key."""
    records = [r for r in run.train if key in r]
    if records:
        return [r.get('iter', r['step']) for r in records], [r[key] for r in records], 'iteration'
    records = [r for r in run.val if key in r]
    xlabel = 'epoch' if run.by_epoch else 'iteration'
    return [r['step'] for r in records], [r[key] for r in records], xlabel


def plot(runs: list[Curves], keys: list[str], out: str, title: str | None = None) -> str:
    """Write a PNG with one panel per key and one line per run; return its path."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    missing = [k for k in keys if not any(series(r, k)[0] for r in runs)]
    if missing:
        found = sorted({k for r in runs for rec in r.train + r.val for k in rec
                        if k not in BOOKKEEPING})
        raise ValueError(f'no run logged {missing}; keys found: {found}')
    fig, axes = plt.subplots(1, len(keys), squeeze=False, constrained_layout=True,
                             figsize=(PANEL_INCHES[0] * len(keys), PANEL_INCHES[1]))
    for ax, key in zip(axes[0], keys):
        for i, run in enumerate(runs):  # one colour per run in every panel
            x, y, xlabel = series(run, key)
            if x:
                ax.plot(x, y, color=f'C{i % 10}', marker='o' if len(x) < 20 else None, ms=3,
                        label=run.label)
                ax.set_xlabel(xlabel)
        ax.set_title(key)
        ax.grid(alpha=.3)
    axes[0][0].legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('runs', nargs='+', help='work_dirs, <timestamp> folders or '
                                                'scalars.json files')
    parser.add_argument('--keys', nargs='+', help='scalar keys, one panel each (default: loss, '
                                                  'lr and the main metric)')
    parser.add_argument('--labels', nargs='+', help='one legend label per run')
    parser.add_argument('--title', help='figure title')
    parser.add_argument('--out', default='curves.png', help='output PNG (default curves.png)')
    args = parser.parse_args(argv)
    if args.labels and len(args.labels) != len(args.runs):
        parser.error(f'--labels: {len(args.labels)} labels for {len(args.runs)} runs')
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the tool; return the exit status."""
    args = parse_args(argv)
    labels = args.labels or [None] * len(args.runs)
    try:
        runs = [read_curves(run, label) for run, label in zip(args.runs, labels)]
        keys = args.keys or default_keys(runs)
        plot(runs, keys, args.out, args.title)
    except (FileNotFoundError, ValueError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 1
    print(f'wrote {args.out}: {", ".join(keys)} of {len(runs)} run(s)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
