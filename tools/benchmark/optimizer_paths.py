"""The CPU paths of the bocb_mm optimizers against each other: loop, multi-tensor, chunked.

The code and the full description: bocb_mm/benchmark/optimizer_paths.py.

    python tools/benchmark/optimizer_paths.py [OPTIMIZER ...] [--threads 2 --repeats 11]
"""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))  # run from a clone
from bocb_mm.benchmark.optimizer_paths import main  # noqa: E402

if __name__ == '__main__':
    main()
