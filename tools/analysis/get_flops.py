"""Parameters and FLOPs of the BOCB backbones (code: bocb_mm/cli/get_flops.py).

    python tools/analysis/get_flops.py [--backbones R-50 CX-T] [--num-classes 1000] [--size 224]
        [--deploy] [--format md|csv] [--out FILE]
"""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))  # run from a clone
from bocb_mm.cli.get_flops import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main())
