"""Train a model from a config with mmengine's Runner (code: bocb_mm/cli/train.py).

    python tools/train.py configs/cifar100/resnet50/resnet50_adamw_1xb100-200e_cifar100.py
    bash tools/dist_train.sh CONFIG 8 [--amp] [--resume] ...
"""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a clone
from bocb_mm.cli.train import main, merge_args, parse_args  # noqa: E402,F401
# (parse_args / merge_args: bocb_mm/sweep/inprocess.py loads this file for them)

if __name__ == '__main__':
    main()
