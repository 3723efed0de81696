"""Audit the parameter groups of an MM config (code: bocb_mm/cli/param_groups.py).

    python tools/analysis/param_groups.py CONFIG [--cfg-options k=v ...] [--out groups.csv]
        [--summary-only] [--conventions warn|errors|off] [--ignore CODE ...]
"""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))  # run from a clone
from bocb_mm.cli.param_groups import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main())
