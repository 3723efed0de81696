"""Missing data stops a run with a message that names the expected layout and the fix; data
that is there but unusable (bad labels or pixels, an empty split, a damaged file, images missing
from a COCO set, boxes of negative extent) stops it before training, naming the file and value."""
from __future__ import annotations

import glob
import json
import pickle
from pathlib import Path

import numpy as np
import pytest
from mmengine.config import Config

import bocb_mm  # noqa: F401
from bocb_mm.cli import train as train_tool
from bocb_mm.datasets import random_cifar
from bocb_mm.datasets.coco_synthetic import write_synthetic_coco
from bocb_mm.utils import DataContentError, DataNotFoundError, check_data_roots

REPO = Path(__file__).resolve().parents[2]


def _first(pattern: str) -> str:
    return sorted(glob.glob(str(REPO / pattern)))[0]


def test_missing_cifar_names_layout_and_fix(tmp_path: Path) -> None:
    cfg = Config.fromfile(_first('configs/cifar100/resnet50/*.py'))
    cfg.train_dataloader.dataset.data_root = str(tmp_path / 'nowhere')
    with pytest.raises(DataNotFoundError) as err:
        check_data_roots(cfg)
    msg = str(err.value)
    assert 'CIFAR100 data not found' in msg and 'cifar-100-python' in msg
    assert 'prepare_cifar.py' in msg and '--cfg-options train_dataloader.dataset.data_root' in msg


@pytest.mark.parametrize('pattern,layout', [
    ('configs/coco_det/resnet50_sgd-100e/*.py', 'instances_{train,val}2017.json'),
    ('configs/coco_pose/resnet50_sgd-100e/*.py', 'person_keypoints_{train,val}2017.json')])
def test_missing_coco_names_layout_and_env(pattern: str, layout: str, monkeypatch,
                                           tmp_path: Path) -> None:
    monkeypatch.setenv('BOCB_COCO_ROOT', str(tmp_path / 'no_coco'))
    cfg = Config.fromfile(_first(pattern))
    with pytest.raises(DataNotFoundError) as err:
        check_data_roots(cfg)
    assert layout in str(err.value) and 'BOCB_COCO_ROOT' in str(err.value)


def test_missing_person_boxes_and_checkpoint(tmp_path: Path) -> None:
    (tmp_path / 'annotations').mkdir()
    ann = tmp_path / 'annotations' / 'val.json'
    ann.write_text('{}')
    cfg = Config(dict(default_scope='mmpose', val_dataloader=dict(dataset=dict(
        type='CocoDataset', data_root=str(tmp_path), ann_file='annotations/val.json',
        bbox_file=str(tmp_path / 'dets.json')))))
    with pytest.raises(DataNotFoundError, match='bbox_file=None'):
        check_data_roots(cfg)
    cfg.val_dataloader.dataset.bbox_file = None
    cfg.model = dict(backbone=dict(init_cfg=dict(type='Pretrained', prefix='backbone.',
                                                 checkpoint=str(tmp_path / 'missing.pth'))))
    with pytest.raises(DataNotFoundError, match='BOCB_PRETRAINED'):
        check_data_roots(cfg)
    cfg.model.backbone.init_cfg.checkpoint = 'https://example.org/weights.pth'  # downloaded later
    check_data_roots(cfg)


# ------------------------------------------------------------------------------------------------
# what a found data set holds: CIFAR labels, pixels, empty splits, damaged files; COCO images, boxes
# ------------------------------------------------------------------------------------------------
DEMO_CONFIG = str(REPO / 'configs' / 'demo' / 'mini-resnet_digits.py')  # 10 classes


def _demo_cfg(root: Path) -> Config:
    cfg = Config.fromfile(DEMO_CONFIG)
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[key].dataset.data_root = str(root)
    return cfg


def _edit_pickle(path: Path, **fields) -> None:
    with open(path, 'rb') as f:
        entry = pickle.load(f, encoding='latin1')
    entry.update(fields)
    with open(path, 'wb') as f:
        pickle.dump(entry, f, protocol=2)


def _labels_12(path: Path) -> str:
    with open(path, 'rb') as f:
        labels = pickle.load(f, encoding='latin1')['fine_labels']
    _edit_pickle(path, fine_labels=labels[:3] + [12] + labels[4:])
    return 'outside [0, 10)'


def _nan_pixel(path: Path) -> str:
    with open(path, 'rb') as f:
        data = pickle.load(f, encoding='latin1')['data'].astype('float32')
    data[2, 100] = float('nan')
    _edit_pickle(path, data=data)
    return 'hold NaN or infinite pixel values, e.g. image 2'


def _empty(path: Path) -> str:
    _edit_pickle(path, data=np.zeros((0, 3072), np.uint8), fine_labels=[], coarse_labels=[])
    return "split at"


def _truncated(path: Path) -> str:
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    return 'is truncated or damaged'


@pytest.mark.parametrize('split', ['train', 'test'])
@pytest.mark.parametrize('damage', [_labels_12, _nan_pixel, _empty, _truncated])
def test_bad_cifar_contents_are_named(split: str, damage, tmp_path: Path) -> None:
    random_cifar(str(tmp_path), num_train=20, num_test=10, num_classes=10)
    cfg = _demo_cfg(tmp_path)
    check_data_roots(cfg)  # intact: no complaint
    path = tmp_path / 'cifar-100-python' / split
    expected = damage(path)
    with pytest.raises(DataContentError) as err:
        check_data_roots(cfg)
    msg = str(err.value)
    assert expected in msg and str(path if damage is not _empty else path.parent) in msg, msg
    loader = 'train_dataloader' if split == 'train' else 'val_dataloader'
    assert msg.startswith(f'{loader}: '), msg
    if damage is _labels_12:
        assert f'1 of {20 if split == "train" else 10} labels' in msg, msg
        assert 'e.g. 12 at image 3' in msg, msg
        assert 'metainfo.classes' in msg or 'model.head.num_classes' in msg, msg


def test_bad_cifar_labels_stop_train_before_training(tmp_path: Path) -> None:
    random_cifar(str(tmp_path / 'data'), num_train=20, num_test=10, num_classes=10)
    _labels_12(tmp_path / 'data' / 'cifar-100-python' / 'test')  # the evaluation split
    work_dir = tmp_path / 'run'
    options = [f'{key}.dataset.data_root={tmp_path / "data"}'
               for key in ('train_dataloader', 'val_dataloader', 'test_dataloader')]
    with pytest.raises(SystemExit) as stop:
        train_tool.main([DEMO_CONFIG, '--work-dir', str(work_dir), '--cfg-options', *options])
    assert f'val_dataloader: CIFAR file {tmp_path / "data" / "cifar-100-python" / "test"}: 1 of ' \
        '10 labels are outside [0, 10)' in str(stop.value)
    assert not work_dir.exists()  # stopped before the Runner made its work_dir


@pytest.fixture
def coco_root(tmp_path: Path, monkeypatch) -> Path:
    root = tmp_path / 'coco'
    write_synthetic_coco(str(root), num_train=6, num_val=2)
    monkeypatch.setenv('BOCB_COCO_ROOT', str(root))
    return root


@pytest.mark.parametrize('pattern', ['configs/coco_det/resnet50_sgd-100e/*.py',
                                     'configs/coco_pose/resnet50_sgd-100e/*.py'])
def test_coco_missing_images_are_counted_and_named(pattern: str, coco_root: Path) -> None:
    cfg = Config.fromfile(_first(pattern))
    check_data_roots(cfg, pretrained=False)  # intact: no complaint
    gone = sorted((coco_root / 'train2017').iterdir())[1:5]
    for path in gone:
        path.unlink()
    with pytest.raises(DataNotFoundError) as err:
        check_data_roots(cfg, pretrained=False)
    msg = str(err.value)
    assert msg.startswith('train_dataloader: 4 of 6 images listed in ') and '2017.json' in msg
    assert f'are not in {coco_root / "train2017"}' in msg and gone[0].name in msg, msg


def test_coco_negative_box_extent_is_refused(coco_root: Path) -> None:
    ann = coco_root / 'annotations' / 'instances_val2017.json'
    coco = json.loads(ann.read_text())
    box = coco['annotations'][1]
    x, y, w, h = box['bbox']
    box['bbox'] = [x + w, y, -w, h]  # corners stored the wrong way round
    ann.write_text(json.dumps(coco))
    cfg = Config.fromfile(_first('configs/coco_det/resnet50_sgd-100e/*.py'))
    with pytest.raises(DataContentError) as err:
        check_data_roots(cfg, pretrained=False)
    msg = str(err.value)
    assert msg.startswith(f'val_dataloader: 1 boxes in {ann} have a negative width or height')
    assert f'annotation {box["id"]} (image {box["image_id"]}): bbox {box["bbox"]}' in msg, msg


def test_coco_truncated_annotations_are_named(coco_root: Path) -> None:
    ann = coco_root / 'annotations' / 'instances_train2017.json'
    ann.write_text(ann.read_text()[:200])
    cfg = Config.fromfile(_first('configs/coco_det/resnet50_sgd-100e/*.py'))
    with pytest.raises(DataContentError, match=f'COCO annotation file {ann} is truncated'):
        check_data_roots(cfg, pretrained=False)
