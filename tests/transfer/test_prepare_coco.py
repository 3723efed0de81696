"""tools/dataset_converters/prepare_coco.py (bocb_mm.cli.prepare_coco): the synthetic COCO is read
by mmdet's and mmpose's own ``CocoDataset`` (with the person-box file), ``--check`` sees what is
missing, and an existing data set is not overwritten without ``--force``."""
from __future__ import annotations

import json
import os.path as osp

import pytest

from bocb_mm.cli import prepare_coco as tool
from bocb_mm.datasets.coco_synthetic import PERSON_BOXES


@pytest.fixture(scope='module')
def coco(tmp_path_factory) -> str:
    root = str(tmp_path_factory.mktemp('prepare_coco') / 'coco')
    assert tool.main(['--synthetic', '6', '3', '--out', root, '--seed', '1']) == 0
    return root


def test_layout_and_check(coco, capsys):
    assert tool.main(['--check', '--out', coco]) == 0
    assert capsys.readouterr().out.strip().endswith('OK')
    with open(osp.join(coco, 'annotations', 'instances_val2017.json')) as f:
        det = json.load(f)
    with open(osp.join(coco, 'annotations', 'person_keypoints_val2017.json')) as f:
        pose = json.load(f)
    with open(osp.join(coco, PERSON_BOXES)) as f:
        boxes = json.load(f)
    assert len(det['images']) == 3 and len(det['categories']) == 80
    assert {a['image_id'] for a in boxes} == {im['id'] for im in pose['images']}
    assert all(b['category_id'] == 1 and 0.6 <= b['score'] < 1 for b in boxes)
    assert len(boxes) == len(pose['annotations'])


def test_mmdet_and_mmpose_read_it(coco):
    from mmdet.datasets import CocoDataset as DetCoco
    from mmpose.datasets import CocoDataset as PoseCoco
    det = DetCoco(data_root=coco, ann_file='annotations/instances_train2017.json',
                  data_prefix=dict(img='train2017/'), pipeline=[], test_mode=False)
    assert len(det) == 6
    assert det[0]['instances'] and osp.isfile(det[0]['img_path'])
    # TopDown testing on the person boxes: one sample per detected person
    pose = PoseCoco(data_root=coco, ann_file='annotations/person_keypoints_val2017.json',
                    data_prefix=dict(img='val2017/'), bbox_file=osp.join(coco, PERSON_BOXES),
                    data_mode='topdown', test_mode=True, pipeline=[])
    assert len(pose) == 3 and pose[0]['keypoints'].shape == (1, 17, 2)


def test_refuses_to_overwrite(coco, tmp_path, capsys):
    before = osp.getmtime(osp.join(coco, 'annotations', 'instances_train2017.json'))
    assert tool.main(['--synthetic', '2', '--out', coco]) == 1
    err = capsys.readouterr().err
    assert coco in err and '--force' in err
    assert osp.getmtime(osp.join(coco, 'annotations', 'instances_train2017.json')) == before
    other = str(tmp_path / 'again')
    assert tool.main(['--synthetic', '2', '--out', other]) == 0
    assert tool.main(['--synthetic', '2', '--out', other, '--force']) == 0
    with open(osp.join(other, 'annotations', 'instances_val2017.json')) as f:
        assert len(json.load(f)['images']) == 1  # N_VAL defaults to N_TRAIN // 2


def test_check_names_what_is_missing(tmp_path, capsys):
    assert tool.main(['--check', '--out', str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert 'instances_train2017.json' in out and 'bbox_file=None' in out
    assert tool.main(['--out', str(tmp_path)]) == 2  # no data set: how to get it
    assert 'annotations_trainval2017.zip' in capsys.readouterr().err
