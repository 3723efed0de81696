"""Put COCO 2017 where the transfer configs expect it, or write a small synthetic one.

    # a synthetic COCO (8 training, 4 val images) for smoke runs: detection and keypoint
    # annotations, images and a person-box file, in the official layout
    python tools/dataset_converters/prepare_coco.py --synthetic 8 4 --out data/coco_tiny
    # check an existing copy (the files the RetinaNet / TopDown configs read)
    python tools/dataset_converters/prepare_coco.py --check --out data/coco
    # where to get the real data set
    python tools/dataset_converters/prepare_coco.py --out data/coco

Layout (docs/datasets.md, "COCO 2017")::

    <out>/annotations/instances_{train,val}2017.json, person_keypoints_{train,val}2017.json
    <out>/{train,val}2017/*.jpg
    <out>/person_detection_results/COCO_val2017_detections_AP_H_56_person.json

The configs read the root from ``BOCB_COCO_ROOT`` (default ``data/coco``). ``--synthetic``
refuses to write into a folder that already holds something unless ``--force`` is given.
"""
from __future__ import annotations

import argparse
import os.path as osp
import sys

# what the official download is made of (https://cocodataset.org/#download)
DOWNLOADS = ('http://images.cocodataset.org/zips/train2017.zip',
             'http://images.cocodataset.org/zips/val2017.zip',
             'http://images.cocodataset.org/annotations/annotations_trainval2017.zip')
ANNOTATIONS = tuple(f'annotations/{kind}_{split}2017.json'
                    for kind in ('instances', 'person_keypoints') for split in ('train', 'val'))
PERSON_BOXES_SOURCE = (
    'the person detections of Simple Baselines / HRNet (AP 56 on val2017), linked from mmpose\'s '
    '"COCO" data preparation page: https://mmpose.readthedocs.io/en/latest/dataset_zoo/'
    '2d_body_keypoint.html#coco')


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', default='data/coco', help='data root (default: data/coco)')
    what = parser.add_mutually_exclusive_group()
    what.add_argument('--synthetic', nargs='+', type=int, metavar='N',
                      help='write a synthetic COCO: N_TRAIN [N_VAL] images '
                           '(N_VAL default: N_TRAIN // 2, at least 1)')
    what.add_argument('--check', action='store_true',
                      help='check that <out> holds what the transfer configs read')
    parser.add_argument('--seed', type=int, default=0, help='seed of --synthetic')
    parser.add_argument('--force', action='store_true',
                        help='--synthetic: write into <out> even if it holds something')
    args = parser.parse_args(argv)
    if args.synthetic and (len(args.synthetic) > 2 or min(args.synthetic) < 1):
        parser.error('--synthetic takes N_TRAIN [N_VAL], each at least 1')
    return args


def check_layout(root: str) -> list[str]:
    """Problems with a COCO root: missing or damaged annotation files, images they name that
    are missing, boxes of negative extent (:func:`bocb_mm.utils.data_check.check_coco`),
    person boxes."""
    from bocb_mm.datasets.coco_synthetic import PERSON_BOXES
    from bocb_mm.utils.data_check import DataNotFoundError, check_coco
    problems = []
    for rel in ANNOTATIONS:
        path = osp.join(root, rel)
        if not osp.isfile(path):
            problems.append(f'missing {path}')
            continue
        split = 'train2017' if '_train' in rel else 'val2017'
        try:
            check_coco(path, osp.join(root, split), key=rel)
        except DataNotFoundError as err:  # and DataContentError
            problems.append(str(err))
    if not osp.isfile(osp.join(root, PERSON_BOXES)):
        problems.append(f'missing {osp.join(root, PERSON_BOXES)} (TopDown validation on detected '
                        'persons; or use --cfg-options val_dataloader.dataset.bbox_file=None '
                        'test_dataloader.dataset.bbox_file=None)')
    return problems


def how_to_get(root: str) -> str:
    """Instructions for the real COCO 2017."""
    return '\n'.join([
        f'COCO 2017 is not downloaded by this tool (about 20 GB). Put it under {root}:',
        *(f'  {url}' for url in DOWNLOADS),
        f'unzipped into {root}/ (train2017/, val2017/, annotations/), and for TopDown',
        f'validation on detected persons: {PERSON_BOXES_SOURCE}',
        f'into {root}/person_detection_results/. Then:',
        f'  python tools/dataset_converters/prepare_coco.py --check --out {root}',
        'For a small synthetic set: --synthetic N_TRAIN [N_VAL].'])


def write_synthetic(out: str, sizes: list[int], seed: int, force: bool) -> None:
    """``--synthetic``: refuse a non-empty ``out`` unless ``force``, then write the set."""
    from bocb_mm.datasets.coco_synthetic import write_synthetic_coco
    from bocb_mm.utils.fileio import refuse_overwrite
    num_train = sizes[0]
    num_val = sizes[1] if len(sizes) > 1 else max(1, num_train // 2)
    refuse_overwrite(out, force, 'a synthetic COCO')
    write_synthetic_coco(out, num_train, num_val, seed=seed)
    print(f'Wrote a synthetic COCO ({num_train} train / {num_val} val images, detection and '
          f'keypoint annotations, person boxes) to {out}; use it with  BOCB_COCO_ROOT={out}')


def main(argv: list[str] | None = None) -> int:
    """Run the tool; return the exit status."""
    args = parse_args(argv)
    if args.synthetic:
        try:
            write_synthetic(args.out, args.synthetic, args.seed, args.force)
        except FileExistsError as err:
            print(f'error: {err}', file=sys.stderr)
            return 1
        return 0
    if args.check:
        problems = check_layout(args.out)
        for line in problems:
            print(line)
        print('OK' if not problems else f'{len(problems)} problem(s) in {args.out}')
        return int(bool(problems))
    if not check_layout(args.out):
        print(f'{args.out} already holds COCO 2017 as the configs read it')
        return 0
    print(how_to_get(args.out), file=sys.stderr)
    return 2


if __name__ == '__main__':
    sys.exit(main())
