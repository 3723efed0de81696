"""Missing data stops a run with a message that names the expected layout and the fix."""
from __future__ import annotations

import glob
from pathlib import Path

import pytest
from mmengine.config import Config

import bocb_mm  # noqa: F401
from bocb_mm.utils import DataNotFoundError, check_data_roots

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
