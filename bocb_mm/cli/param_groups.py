"""Audit the parameter groups of any MM config: per tensor lr, weight decay, trust-ratio exclusion.

    python tools/analysis/param_groups.py CONFIG [--cfg-options k=v ...] [--out groups.csv]
        [--summary-only] [--conventions warn|errors|off] [--ignore CODE ...]

Builds the model and the optimizer wrapper as mmengine's Runner does (mmpretrain, mmdet, mmpose
configs; no data, no checkpoint), runs the optimizer convention checks (warnings through
MMLogger), prints per parameter name, shape, module type, kind, group, lr, weight decay, lr /
decay multipliers and trust-ratio exclusion plus a summary by module type as Markdown, and writes
the per-parameter table as CSV with --out. When the config states its policy in
``bocb.param_groups`` the built groups are compared with it (exit 1 on a difference). The logic is
in bocb_mm.engine.audit and bocb_mm.engine.conventions.
"""
from __future__ import annotations

import argparse
import os.path as osp
import sys

from mmengine.config import DictAction

from bocb_mm.engine import audit
from bocb_mm.engine.conventions import CODES, MODES, ConventionError, check_conventions


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line arguments."""
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('config', help='an MM config file')
    p.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                   help='override config keys, e.g. optim_wrapper.optimizer.lr=0.1')
    p.add_argument('--out', help='write the per-parameter table to this CSV file')
    p.add_argument('--summary-only', action='store_true',
                   help='print only the summary by module type')
    p.add_argument('--conventions', choices=MODES, default='warn',
                   help="convention checks: log warnings (default), raise ('errors') or skip")
    p.add_argument('--ignore', nargs='+', default=(), choices=sorted(CODES), metavar='CODE',
                   help=f'convention checks to skip: {", ".join(CODES)}')
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status (1: statement differs, 2: convention error)."""
    args = parse_args(argv)
    cfg = audit.load_config(args.config, args.cfg_options)
    optimizer_cfg = cfg.optim_wrapper.get('optimizer')
    try:
        reported = check_conventions(optimizer_cfg=optimizer_cfg, mode=args.conventions,
                                     ignore=args.ignore)
        model, optim_wrapper = audit.build_from_config(cfg)
        check_conventions(optim_wrapper, model, mode=args.conventions,
                          ignore=(*args.ignore, *(i.code for i in reported)))
    except ConventionError as err:
        print(err, file=sys.stderr)
        return 2
    rows = audit.audit_param_groups(model, optim_wrapper)
    title = f'Parameter groups of {osp.basename(args.config)}'
    print(audit.to_markdown(rows, title, per_parameter=not args.summary_only))
    if args.out:
        print(f'wrote {audit.write_csv(rows, args.out)}')
    constructor = cfg.optim_wrapper.get('constructor')
    print(f'built groups: {audit.derive_statement(rows, constructor)}')
    stated = cfg.get('bocb', {}).get('param_groups')
    if stated is None:
        return 0
    problems = audit.statement_problems(stated, rows, constructor)
    for line in problems:
        print(f'bocb.param_groups differs: {line}')
    if not problems:
        print(f'bocb.param_groups: the built groups match {stated!r}')
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
