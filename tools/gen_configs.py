"""Generate the pre-training configs of the BOCB grid from the paper's tables.

    python tools/gen_configs.py            # (re)write configs/cifar100/**, configs/imagenet/**
                                           # and their bases configs/_base_/models/*.py
    python tools/gen_configs.py --check    # exit 1 (listing the files) if any is out of date
    python tools/gen_configs.py --list     # print the grid: backbone, optimizer, recipe, lr, wd

The generator is bocb_mm/configgen/pretrain.py (sources and layout: its docstring and
docs/configs.md).
"""
from __future__ import annotations

import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a clone
from bocb_mm.configgen import files, pretrain  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    """The command line (``--check``, ``--list``, default: write)."""
    return files.main(argv, __doc__.split('\n')[0], pretrain.TOOL, pretrain.all_entries,
                      pretrain.check, pretrain.write, pretrain.list_line)


if __name__ == '__main__':
    sys.exit(main())
