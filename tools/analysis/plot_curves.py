"""Plot loss / lr / metric curves of runs (code: bocb_mm/cli/plot_curves.py).

    python tools/analysis/plot_curves.py work_dirs/run_a [work_dirs/run_b ...] --out curves.png
"""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))  # run from a clone
from bocb_mm.cli.plot_curves import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main())
