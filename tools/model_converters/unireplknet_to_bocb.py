"""Official UniRepLKNet checkpoints with bocb_mm names (code: bocb_mm/cli/unireplknet_to_bocb.py).

    python tools/model_converters/unireplknet_to_bocb.py SRC DST [--src-prefix backbone.]
"""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))  # run from a clone
from bocb_mm.cli.unireplknet_to_bocb import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main())
