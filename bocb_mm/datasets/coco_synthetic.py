"""A small synthetic COCO in the official layout: smoke runs, the walkthrough and the tests.

``write_synthetic_coco(root)`` draws small images (64..128 pixels a side) with coloured
rectangles: every image holds one "person" (a box with its 17 COCO keypoints drawn as dots on a
skeleton) and 0-2 other objects (car, dog). It writes::

    <root>/train2017/*.jpg, <root>/val2017/*.jpg
    <root>/annotations/instances_{train,val}2017.json         (boxes of all objects; mmdet)
    <root>/annotations/person_keypoints_{train,val}2017.json  (persons with keypoints; mmpose)
    <root>/person_detection_results/COCO_val2017_detections_AP_H_56_person.json

with the fields pycocotools / xtcocotools and the mmdet / mmpose ``CocoDataset`` read (images,
annotations with bbox, area, iscrowd, segmentation, keypoints, num_keypoints; the 80 detection
categories with COCO's ids; the person category with its keypoint names and skeleton). The
person-box file stands in for the published person detections the TopDown configs evaluate on
(mmpose's format: ``[{image_id, category_id: 1, bbox: [x, y, w, h], score}]``); here they are the
val persons' ground-truth boxes shifted by a pixel or two, with scores in [0.6, 1).

The command line is ``tools/dataset_converters/prepare_coco.py --synthetic N_TRAIN [N_VAL]``.
"""
from __future__ import annotations

import json
import os
import os.path as osp

import numpy as np

KEYPOINTS = ('nose', 'left_eye', 'right_eye', 'left_ear', 'right_ear', 'left_shoulder',
             'right_shoulder', 'left_elbow', 'right_elbow', 'left_wrist', 'right_wrist',
             'left_hip', 'right_hip', 'left_knee', 'right_knee', 'left_ankle', 'right_ankle')
SKELETON = [[16, 14], [14, 12], [17, 15], [15, 13], [12, 13], [6, 12], [7, 13], [6, 7], [6, 8],
            [7, 9], [8, 10], [9, 11], [2, 3], [1, 2], [1, 3], [2, 4], [3, 5], [4, 6], [5, 7]]
# keypoint positions in a person box, as fractions (x, y) of its width and height
_POSE = ((.5, .08), (.45, .06), (.55, .06), (.4, .08), (.6, .08), (.3, .25), (.7, .25),
         (.22, .42), (.78, .42), (.18, .58), (.82, .58), (.38, .58), (.62, .58), (.36, .78),
         (.64, .78), (.35, .96), (.65, .96))
PERSON = dict(id=1, name='person', supercategory='person', keypoints=list(KEYPOINTS),
              skeleton=SKELETON)
# the ids of COCO's 80 detection categories (mmdet's CocoDataset classes, in this order)
COCO_IDS = (list(range(1, 12)) + list(range(13, 26)) + [27, 28] + list(range(31, 45)) +
            list(range(46, 66)) + [67, 70] + list(range(72, 83)) + list(range(84, 91)))
_COLOURS = {1: (40, 40, 220), 3: (220, 60, 40), 18: (40, 200, 60)}

# where the TopDown configs look for person detections (configs/_base_/coco/td-hm_256x192_coco.py)
PERSON_BOXES = 'person_detection_results/COCO_val2017_detections_AP_H_56_person.json'
SPLITS = ('train2017', 'val2017')


def _rect_polygon(x: float, y: float, w: float, h: float) -> list[list[float]]:
    return [[x, y, x + w, y, x + w, y + h, x, y + h]]


def _objects(rng: np.random.Generator, w: int, h: int) -> list[tuple[int, int, int, int, int]]:
    """(category id, x, y, width, height) of one person and 0-2 cars / dogs."""
    pw, ph = int(rng.integers(20, max(21, w // 2))), int(rng.integers(32, max(33, h - 4)))
    objects = [(1, int(rng.integers(0, w - pw)), int(rng.integers(0, h - ph)), pw, ph)]
    for _ in range(int(rng.integers(0, 3))):
        cat = int(rng.choice([3, 18]))
        ow, oh = int(rng.integers(12, w // 2)), int(rng.integers(12, h // 2))
        objects.append((cat, int(rng.integers(0, w - ow)), int(rng.integers(0, h - oh)), ow, oh))
    return objects


def _draw_person(img: np.ndarray, x: int, y: int, bw: int, bh: int) -> list[float]:
    """Draw the skeleton of a person box; return its COCO keypoints (x, y, visibility)*17."""
    import cv2
    kps: list[float] = []
    for fx, fy in _POSE:
        kps += [round(x + fx * (bw - 1), 1), round(y + fy * (bh - 1), 1), 2]
    pts = np.array(kps, np.float32).reshape(-1, 3)[:, :2]
    for a, b in SKELETON:
        cv2.line(img, tuple(int(v) for v in pts[a - 1]), tuple(int(v) for v in pts[b - 1]),
                 (250, 250, 250), 1)
    for p in pts:
        cv2.circle(img, (int(p[0]), int(p[1])), 1, (0, 255, 255), -1)
    return kps


def _image(rng: np.random.Generator, image_id: int,
           ann_start: int) -> tuple[np.ndarray, list[dict], list[dict]]:
    """One image with its detection annotations and its person (keypoint) annotations."""
    import cv2
    h, w = (int(v) for v in rng.integers(64, 129, size=2))
    img = np.full((h, w, 3), 128, np.uint8) + rng.integers(0, 20, (h, w, 3), dtype=np.uint8)
    anns, kp_anns = [], []
    for i, (cat, x, y, bw, bh) in enumerate(_objects(rng, w, h)):
        cv2.rectangle(img, (x, y), (x + bw - 1, y + bh - 1), _COLOURS[cat], thickness=-1)
        ann = dict(id=ann_start + i, image_id=image_id, category_id=cat,
                   bbox=[float(x), float(y), float(bw), float(bh)], area=float(bw * bh),
                   iscrowd=0, segmentation=_rect_polygon(x, y, bw, bh))
        anns.append(ann)
        if cat == 1:
            kps = _draw_person(img, x, y, bw, bh)
            kp_anns.append(dict(ann, keypoints=kps, num_keypoints=len(KEYPOINTS)))
    return img, anns, kp_anns


def det_categories() -> list[dict]:
    """COCO's 80 detection categories (ids and mmdet's class names)."""
    from mmdet.datasets import CocoDataset
    names = CocoDataset.METAINFO['classes']
    assert len(names) == len(COCO_IDS) == 80
    return [dict(id=i, name=n, supercategory='none') for i, n in zip(COCO_IDS, names)]


def person_boxes(kp_anns: list[dict], rng: np.random.Generator) -> list[dict]:
    """Person 'detections' in mmpose's bbox_file format: each box shifted by up to 2 pixels."""
    out = []
    for ann in kp_anns:
        x, y, w, h = (v + float(rng.integers(-2, 3)) for v in ann['bbox'])
        out.append(dict(image_id=ann['image_id'], category_id=1,
                        bbox=[max(x, 0.), max(y, 0.), max(w, 4.), max(h, 4.)],
                        score=round(float(rng.uniform(0.6, 1.0)), 3)))
    return out


def _dump(obj: object, path: str) -> None:
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(obj, f)


def write_synthetic_coco(root: str, num_train: int = 8, num_val: int = 4,
                         seed: int = 0) -> str:
    """Write the synthetic COCO (see the module docstring) under ``root``.

    Args:
        root: the data root (created; files already there with the same names are replaced:
            the command line refuses a non-empty root unless ``--force``).
        num_train: training images (train2017).
        num_val: validation images (val2017); the person boxes are theirs.
        seed: the random seed (same seed, same data set).

    Returns:
        ``root``.
    """
    import cv2
    if num_train < 1 or num_val < 1:
        raise ValueError(f'need at least 1 training and 1 val image, got {num_train}, {num_val}')
    rng = np.random.default_rng(seed)
    image_id, ann_id = 1, 1
    info = dict(description='bocb_mm synthetic COCO (prepare_coco.py --synthetic)',
                version='1.0')
    categories = det_categories()
    for split, n in zip(SPLITS, (num_train, num_val)):
        os.makedirs(osp.join(root, split), exist_ok=True)
        images, anns, kp_anns = [], [], []
        for _ in range(n):
            img, a, k = _image(rng, image_id, ann_id)
            name = f'{image_id:012d}.jpg'
            cv2.imwrite(osp.join(root, split, name), img)
            images.append(dict(id=image_id, file_name=name, width=img.shape[1],
                               height=img.shape[0]))
            anns += a
            kp_anns += k
            image_id += 1
            ann_id += len(a)
        tag = split[:-4]  # train / val
        # all 80 categories, as in COCO: mmdet's CocoMetric maps its 80 labels onto them
        _dump(dict(info=info, images=images, annotations=anns, categories=categories),
              osp.join(root, 'annotations', f'instances_{tag}2017.json'))
        _dump(dict(info=info, images=images, annotations=kp_anns, categories=[PERSON]),
              osp.join(root, 'annotations', f'person_keypoints_{tag}2017.json'))
        if tag == 'val':
            _dump(person_boxes(kp_anns, rng), osp.join(root, PERSON_BOXES))
    return root
