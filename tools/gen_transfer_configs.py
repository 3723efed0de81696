"""Generate the COCO transfer configs of the BOCB study: RetinaNet detection and TopDown pose.

    python tools/gen_transfer_configs.py            # (re)write configs/coco_det/**, coco_pose/**
                                                    # and configs/_base_/coco/columns/*.py
    python tools/gen_transfer_configs.py --check    # exit 1 (listing the files) if any is stale
    python tools/gen_transfer_configs.py --list     # print the grid: column, optimizer, lr, wd
    python tools/gen_transfer_configs.py --markdown # the lr / wd tables of docs/transfer.md

The generator is bocb_mm/configgen/transfer.py (the lr rule, the anchors, the adapters and the
sources: its docstring and docs/transfer.md).
"""
from __future__ import annotations

import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a clone
from bocb_mm.configgen import files, transfer  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    """The command line (``--check``, ``--list``, ``--markdown``, default: write)."""
    return files.main(argv, __doc__.split('\n')[0], transfer.TOOL, transfer.entries,
                      transfer.check, transfer.write, transfer.list_line,
                      extra={'--markdown': ('print the lr / weight-decay tables '
                                            '(docs/transfer.md) and exit', transfer.markdown)})


if __name__ == '__main__':
    sys.exit(main())
