"""A tiny COCO in the official layout, for the transfer tests.

``write_tiny_coco(root)`` draws small images (64..128 pixels a side) with coloured rectangles:
every image holds one "person" (a box with its 17 COCO keypoints drawn as dots on a skeleton)
and 0-2 other objects (car, dog). It writes::

    <root>/train2017/*.jpg, <root>/val2017/*.jpg
    <root>/annotations/instances_{train,val}2017.json         (boxes of all objects; mmdet)
    <root>/annotations/person_keypoints_{train,val}2017.json  (persons with keypoints; mmpose)

with the fields pycocotools / xtcocotools and the mmdet / mmpose ``CocoDataset`` read (images,
annotations with bbox, area, iscrowd, segmentation, keypoints, num_keypoints; the 80 detection
categories with COCO's ids; the person category with its keypoint names and skeleton).
"""
from __future__ import annotations

import json
import os
import os.path as osp

import cv2
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


def _rect_polygon(x: float, y: float, w: float, h: float) -> list[list[float]]:
    return [[x, y, x + w, y, x + w, y + h, x, y + h]]


def _image(rng: np.random.Generator, image_id: int, ann_start: int):
    h, w = (int(v) for v in rng.integers(64, 129, size=2))
    img = np.full((h, w, 3), 128, np.uint8) + rng.integers(0, 20, (h, w, 3), dtype=np.uint8)
    anns, kp_anns = [], []
    # the person: at least 32 pixels tall, 20 wide
    pw, ph = int(rng.integers(20, max(21, w // 2))), int(rng.integers(32, max(33, h - 4)))
    px, py = int(rng.integers(0, w - pw)), int(rng.integers(0, h - ph))
    objects = [(1, px, py, pw, ph)]
    for _ in range(int(rng.integers(0, 3))):
        cat = int(rng.choice([3, 18]))
        ow, oh = int(rng.integers(12, w // 2)), int(rng.integers(12, h // 2))
        objects.append((cat, int(rng.integers(0, w - ow)), int(rng.integers(0, h - oh)), ow, oh))
    for i, (cat, x, y, bw, bh) in enumerate(objects):
        cv2.rectangle(img, (x, y), (x + bw - 1, y + bh - 1), _COLOURS[cat], thickness=-1)
        ann = dict(id=ann_start + i, image_id=image_id, category_id=cat,
                   bbox=[float(x), float(y), float(bw), float(bh)], area=float(bw * bh),
                   iscrowd=0, segmentation=_rect_polygon(x, y, bw, bh))
        anns.append(ann)
        if cat == 1:
            kps = []
            for fx, fy in _POSE:
                kx, ky = x + fx * (bw - 1), y + fy * (bh - 1)
                kps += [round(kx, 1), round(ky, 1), 2]
            pts = np.array(kps, np.float32).reshape(-1, 3)[:, :2]
            for a, b in SKELETON:
                cv2.line(img, tuple(int(v) for v in pts[a - 1]), tuple(int(v) for v in pts[b - 1]),
                         (250, 250, 250), 1)
            for p in pts:
                cv2.circle(img, (int(p[0]), int(p[1])), 1, (0, 255, 255), -1)
            kp_anns.append(dict(ann, keypoints=kps, num_keypoints=len(KEYPOINTS)))
    return img, anns, kp_anns


def det_categories() -> list[dict]:
    """COCO's 80 detection categories (ids and mmdet's class names)."""
    from mmdet.datasets import CocoDataset
    names = CocoDataset.METAINFO['classes']
    assert len(names) == len(COCO_IDS) == 80
    cats = [dict(id=i, name=n, supercategory='none') for i, n in zip(COCO_IDS, names)]
    assert (cats[0]['name'], cats[2]['name'], cats[16]['name']) == ('person', 'car', 'dog')
    return cats


def write_tiny_coco(root: str, num_train: int = 8, num_val: int = 4, seed: int = 0) -> str:
    """Write the tiny COCO under ``root`` (see the module docstring); return ``root``."""
    rng = np.random.default_rng(seed)
    os.makedirs(osp.join(root, 'annotations'), exist_ok=True)
    image_id, ann_id = 1, 1
    for split, n in (('train2017', num_train), ('val2017', num_val)):
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
        info = dict(description='bocb_mm tiny COCO (tests)', version='1.0')
        # all 80 categories, as in COCO: mmdet's CocoMetric maps its 80 labels onto them
        det = dict(info=info, images=images, annotations=anns, categories=det_categories())
        pose = dict(info=info, images=images, annotations=kp_anns, categories=[PERSON])
        tag = split[:-4]  # train / val
        with open(osp.join(root, 'annotations', f'instances_{tag}2017.json'), 'w') as f:
            json.dump(det, f)
        with open(osp.join(root, 'annotations', f'person_keypoints_{tag}2017.json'), 'w') as f:
            json.dump(pose, f)
    return root
