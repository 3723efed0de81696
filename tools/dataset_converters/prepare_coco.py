"""Put COCO 2017 where the configs expect it, or write a synthetic one
(code: bocb_mm/cli/prepare_coco.py).

    python tools/dataset_converters/prepare_coco.py --synthetic 8 4 --out data/coco_tiny
    python tools/dataset_converters/prepare_coco.py --check --out data/coco
"""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))  # run from a clone
from bocb_mm.cli.prepare_coco import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main())
