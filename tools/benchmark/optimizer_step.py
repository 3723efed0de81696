"""One optimizer step of the paper's 20 optimizers against every installed peer implementation.

The code and the full description: bocb_mm/benchmark/optimizer_step.py.

    python tools/benchmark/optimizer_step.py --models resnet50 --repeats 3
    python tools/benchmark/optimizer_step.py --device cuda --repeats 30   # on a GPU
"""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))  # run from a clone
from bocb_mm.benchmark.optimizer_step import main  # noqa: E402

if __name__ == '__main__':
    main()
