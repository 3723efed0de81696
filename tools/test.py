"""Evaluate a checkpoint on a config's test set (code: bocb_mm/cli/test.py).

    python tools/test.py CONFIG CHECKPOINT [--out results.pkl] [--work-dir DIR] [--show-dir DIR]
    bash tools/dist_test.sh CONFIG CHECKPOINT 8
"""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a clone
from bocb_mm.cli.test import main  # noqa: E402

if __name__ == '__main__':
    main()
