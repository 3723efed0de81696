"""Train a model from a config with mmengine's Runner (code: bocb_mm/cli/train.py).

    python tools/train.py configs/cifar100/resnet50/resnet50_adamw_1xb100-200e_cifar100.py
    bash tools/dist_train.sh CONFIG 8 [--amp] [--resume] ...
"""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a clone
from bocb_mm.cli.train import main  # noqa: E402

if __name__ == '__main__':
    main()
