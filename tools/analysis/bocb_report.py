"""Write the BOCB report for a results CSV (code: bocb_mm/cli/bocb_report.py).

    python tools/analysis/bocb_report.py RESULTS.csv --out DIR [--checkpoints a.pth b.pth]
"""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))  # run from a clone
from bocb_mm.cli.bocb_report import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main())
