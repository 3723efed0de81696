"""tools/analysis/plot_curves.py (bocb_mm.cli.plot_curves): curves of several runs from the
scalars.json files mmengine's LocalVisBackend writes (a resumed run's two timestamps read as one
curve)."""
from __future__ import annotations

import os.path as osp

import pytest

from bocb_mm.cli import plot_curves as tool


def _log_run(work_dir: str, timestamp: str, iters: range, epoch: int, metric: str,
             value: float) -> None:
    """What LoggerHook logs for an epoch: one record per iteration, one after validation."""
    from mmengine.visualization import LocalVisBackend
    backend = LocalVisBackend(save_dir=osp.join(work_dir, timestamp, 'vis_data'))
    for i in iters:
        backend.add_scalars(dict(lr=1e-3 * i, loss=2.0 / i, data_time=0.1, time=0.5,
                                 epoch=epoch, iter=i, memory=0), step=i)
    backend.add_scalars({metric: value, 'data_time': 0.1, 'time': 0.2}, step=epoch)


@pytest.fixture()
def runs(tmp_path):
    det, pose = str(tmp_path / 'det'), str(tmp_path / 'pose' / 'seed0')
    _log_run(det, '20250101_000000', range(1, 5), 1, 'coco/bbox_mAP', 0.1)
    _log_run(det, '20250101_010000', range(5, 9), 2, 'coco/bbox_mAP', 0.2)  # resumed
    _log_run(pose, '20250101_000000', range(1, 5), 1, 'coco/AP', 0.3)
    return det, pose


def test_several_runs_one_png(runs, tmp_path):
    det, pose = runs
    out = str(tmp_path / 'curves.png')
    assert tool.main([det, pose, '--out', out, '--title', 'test']) == 0
    curves = tool.read_curves(det)
    assert [r['iter'] for r in curves.train] == list(range(1, 9))
    assert tool.series(curves, 'coco/bbox_mAP') == ([1, 2], [0.1, 0.2], 'epoch')
    assert tool.default_keys([curves, tool.read_curves(pose)]) == [
        'loss', 'lr', 'coco/bbox_mAP', 'coco/AP']
    assert tool.default_label(pose) == 'pose/seed0'
    from PIL import Image
    width, height = Image.open(out).size
    assert (width, height) == (int(4 * tool.PANEL_INCHES[0] * 100),
                               int(tool.PANEL_INCHES[1] * 100))


def test_unknown_key_names_the_logged_ones(runs, tmp_path, capsys):
    det, _ = runs
    assert tool.main([det, '--keys', 'accuracy/top1', '--out', str(tmp_path / 'x.png')]) == 1
    err = capsys.readouterr().err
    assert 'accuracy/top1' in err and 'coco/bbox_mAP' in err and 'loss' in err
    assert tool.main([str(tmp_path / 'nowhere'), '--out', str(tmp_path / 'y.png')]) == 1
