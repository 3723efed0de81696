"""One model's training step, plain vs --channels-last / --trim-convs (ratios, one run).

The code and the full description: bocb_mm/benchmark/train_step.py.

    python tools/benchmark/train_step.py [CONFIG ...] [--batch 100 --size 8 --threads 1]
"""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))  # run from a clone
from bocb_mm.benchmark.train_step import main  # noqa: E402

if __name__ == '__main__':
    main()
