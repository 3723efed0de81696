"""Put CIFAR-100 (or CIFAR-10) where the configs expect it (code: bocb_mm/cli/prepare_cifar.py).

    python tools/dataset_converters/prepare_cifar.py --out data/cifar100 [--from-archive PATH]
    python tools/dataset_converters/prepare_cifar.py --out data/cifar100_tiny --synthetic 40 20
"""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))  # run from a clone
from bocb_mm.cli.prepare_cifar import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main())
