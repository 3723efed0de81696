"""Images/s of 1..N packed training runs and the per-iteration phase times.

The code and the full description: bocb_mm/benchmark/train_throughput.py.

    python tools/benchmark/train_throughput.py CONFIG --runs 1 2 4 8 --iters 60 \\
        --gpu-data --amp bf16 --channels-last
"""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))  # run from a clone
from bocb_mm.benchmark.train_throughput import main  # noqa: E402

if __name__ == '__main__':
    main()
