"""A tuned mini-BOCB on real data, end to end, in minutes on 2 CPU cores (code: bocb_mm/demo/).

    python tools/bocb_demo.py                    # 3 mini backbones x 20 optimizers, tuned
    python tools/bocb_demo.py --quick            # a first look (6 optimizers)
    python tools/bocb_demo.py --protocol paper   # the paper's lr / wd per pair, no tuning
    python tools/bocb_demo.py --backbones mini-resnet mini-vit --optimizers SGD-M AdamW LAMB \\
        --lr-factors 1 3.16 --final-seeds 1 2 --out work_dirs/my_demo
"""
import os.path as osp
import signal
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a clone
from bocb_mm.demo.cli import main  # noqa: E402

if __name__ == '__main__':
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sys.exit(main())
