"""tools/test.py (bocb_mm.cli.test) --show-dir switches on each library's own visualization hook
the way that library's test.py does (the drawing itself runs in tests/transfer/test_walkthrough.py).
"""
from __future__ import annotations

import glob
import os.path as osp

import pytest

from bocb_mm.cli import test as eval_tool
from helpers import REPO


def _config(pattern: str, show_dir: str):
    config = sorted(glob.glob(osp.join(REPO, pattern)))[0]
    args = eval_tool.parse_args([config, 'ckpt.pth', '--work-dir', 'wd', '--show-dir', show_dir])
    return eval_tool.build_config(args)


@pytest.mark.parametrize('pattern,want', [
    ('configs/coco_det/resnet50_adan-cifar100/*adamw*.py',
     dict(type='DetVisualizationHook', draw=True, test_out_dir='show')),
    ('configs/coco_pose/resnet50_adan-cifar100/*adam_*.py',
     dict(type='PoseVisualizationHook', enable=True, out_dir='show', interval=1)),
    ('configs/cifar100/resnet50/*adan*.py',
     dict(type='VisualizationHook', enable=True, out_dir='wd/show', interval=1)),
])
def test_show_dir_turns_on_the_library_hook(pattern, want):
    hook = _config(pattern, 'show').default_hooks.visualization
    for key, value in want.items():
        assert hook[key] == value, (key, dict(hook))


def test_show_dir_needs_a_visualization_hook():
    from mmengine.config import Config
    with pytest.raises(ValueError, match='no default_hooks.visualization'):
        eval_tool.enable_show_dir(Config(dict(default_hooks=dict())), 'show')
