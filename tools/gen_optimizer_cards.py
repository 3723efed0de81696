"""Write the optimizer cards (docs/optimizers/*.md) from the optimizer zoo (OptimizerInfo).

    python tools/gen_optimizer_cards.py           # (re)write the generated parts and the index
    python tools/gen_optimizer_cards.py --check   # write nothing; exit 1 listing what disagrees

Each card keeps the hand-written part after its marker; the logic is in bocb_mm.optim.cards.
"""
from __future__ import annotations

import argparse
import os.path as osp
import sys

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)

from bocb_mm.optim.cards import check_cards, write_cards  # noqa: E402

DOCS = osp.join(REPO, 'docs', 'optimizers')


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--check', action='store_true',
                        help='write nothing; exit 1 if a card disagrees with the zoo')
    parser.add_argument('--dir', default=DOCS, help='cards folder (default: docs/optimizers)')
    args = parser.parse_args(argv)
    if args.check:
        problems = check_cards(args.dir)
        if problems:
            print('\n'.join(problems))
            print(f'{len(problems)} card(s) disagree with the zoo: run  python '
                  'tools/gen_optimizer_cards.py')
            return 1
        print(f'OK: the optimizer cards in {args.dir} agree with the zoo')
        return 0
    changed = write_cards(args.dir)
    for path in changed:
        print(f'wrote {osp.relpath(path, REPO)}')
    print(f'{len(changed)} file(s) written')
    return 0


if __name__ == '__main__':
    sys.exit(main())
