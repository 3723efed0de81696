"""Write the BOCB report (tables, figures, report.md/html, summary.json) for a results CSV.

Usage::

    python tools/analysis/bocb_report.py RESULTS.csv --out DIR [--checkpoints a.pth b.pth]

RESULTS.csv is the sweep's long format (backbone, optimizer, seed, top1, ...) or a paper-style
wide table (first column ``optimizer``, one column per backbone); the format is detected. Without
RESULTS.csv the paper's CIFAR-100 table shipped in ``bocb_mm/data/paper`` is used.
"""
from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line.

    Args:
        argv: Arguments (default: ``sys.argv[1:]``).

    Returns:
        The namespace.
    """
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('results', nargs='?', default=None,
                   help='results CSV (long or wide format); default: the paper\'s CIFAR-100 table')
    p.add_argument('--out', required=True, help='output folder')
    p.add_argument('--hparams', default=None,
                   help='CSV backbone,optimizer,lr,weight_decay[,top1] for the hyper-parameter '
                        'plot '
                        '(default: the sweep\'s own lr/weight_decay columns, or the paper\'s '
                        'cifar100_hparams.csv for the paper\'s CIFAR-100 table)')
    p.add_argument('--dataset', default=None,
                   help='with a sweep CSV whose dataset column holds several datasets, the one '
                        'to analyse')
    p.add_argument('--no-hparams', action='store_true', help='skip the hyper-parameter plot')
    p.add_argument('--score', choices=('median_last10', 'best'), default=None,
                   help='with a sweep CSV that records both scores (top1_median_last10, '
                        'top1_best), the one to analyse; default: its top1 column, which the '
                        'collector fills '
                        'with the official rule (median of the last 10 evaluations)')
    p.add_argument('--checkpoints', nargs='+', default=None, metavar='CKPT',
                   help='checkpoints (.pth) for the layer-wise weight-entropy ridge plot')
    p.add_argument('--checkpoint-labels', nargs='+', default=None, metavar='LABEL',
                   help='one label per checkpoint (default: file stems)')
    p.add_argument('--n-boot', type=int, default=1000, help='bootstrap replicates (multi-seed CIs)')
    p.add_argument('--level', type=float, default=0.95, help='confidence level')
    p.add_argument('--seed', type=int, default=0, help='bootstrap seed')
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the report.

    Args:
        argv: Arguments.

    Returns:
        Exit code: 0 on success, 2 on bad input.
    """
    args = parse_args(argv)
    from bocb_mm.analysis import paper
    from bocb_mm.analysis.io import BocbInputError
    from bocb_mm.analysis.report import make_report, short_summary

    def log(msg: str) -> None:
        print(f'[bocb_report] {msg}', flush=True)

    results = args.results or str(paper.CIFAR100_TOP1)
    if args.score is not None:
        import tempfile

        import pandas as pd

        from bocb_mm.analysis.io import LONG_NONEMPTY, check_csv_rows
        try:
            check_csv_rows(results, LONG_NONEMPTY)
        except (BocbInputError, OSError) as err:
            print(f'bocb_report: error: {err}', file=sys.stderr)
            return 2
        frame = pd.read_csv(results, dtype=str, keep_default_na=False)
        column = f'top1_{args.score}'
        if column not in frame.columns:
            print(f'bocb_report: error: {results} has no {column} column (collect it with '
                  'tools/bocb_sweep.py collect)', file=sys.stderr)
            return 2
        frame['top1'] = frame[column]
        scored = Path(tempfile.mkdtemp()) / Path(results).name
        frame.to_csv(scored, index=False)
        log(f'scores: {column}')
        results = str(scored)
    if args.dataset is not None:
        from bocb_mm.analysis.io import load_results
        try:
            results = load_results(results, dataset=args.dataset)
        except BocbInputError as err:
            print(f'bocb_report: error: {err}', file=sys.stderr)
            return 2
    hparams = False if args.no_hparams else args.hparams
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('default')
            warnings.showwarning = lambda m, *a, **k: log(f'warning: {m}')
            summary = make_report(results, args.out, hparams=hparams, checkpoints=args.checkpoints,
                                  checkpoint_labels=args.checkpoint_labels, n_boot=args.n_boot,
                                  level=args.level, seed=args.seed, log=log)
    except (BocbInputError, FileNotFoundError, ValueError) as err:
        print(f'bocb_report: error: {err}', file=sys.stderr)
        return 2
    print(short_summary(summary))
    return 0


if __name__ == '__main__':
    sys.exit(main())
