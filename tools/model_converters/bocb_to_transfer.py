"""A pre-training checkpoint as a transfer backbone (code: bocb_mm/cli/bocb_to_transfer.py).

    python tools/model_converters/bocb_to_transfer.py SRC DST [--config TRANSFER_CONFIG]
        [--src-prefix backbone.]
"""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))  # run from a clone
from bocb_mm.cli.bocb_to_transfer import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main())
