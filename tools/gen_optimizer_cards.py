"""Write the optimizer cards (docs/optimizers/*.md) from the optimizer zoo (OptimizerInfo).

    python tools/gen_optimizer_cards.py           # (re)write the generated parts and the index
    python tools/gen_optimizer_cards.py --check   # write nothing; exit 1 listing what disagrees

Each card keeps the hand-written part after its marker; the logic (and this command line) is in
bocb_mm.optim.cards.
"""
from __future__ import annotations

import os.path as osp
import sys

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)

from bocb_mm.optim.cards import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main(default_dir=osp.join(REPO, 'docs', 'optimizers')))
