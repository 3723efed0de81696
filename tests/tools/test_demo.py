"""The main job (tools/bocb_demo.py) end to end: real digits, real Runner, sweep, report."""
from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from bocb_mm.datasets.digits import digits_images, stratified_split

REPO = Path(__file__).resolve().parents[2]
DEMO = [sys.executable, str(REPO / 'tools' / 'bocb_demo.py')]


def test_digits_split_is_stratified_and_reproducible() -> None:
    images, labels = digits_images()
    assert images.shape == (1797, 32, 32, 3) and images.dtype.name == 'uint8'
    assert images.max() == 255 and labels.max() == 9
    train, test = stratified_split(labels, 0.2, seed=0)
    assert len(set(train) & set(test)) == 0 and len(train) + len(test) == 1797
    again = stratified_split(labels, 0.2, seed=0)
    assert (again[0] == train).all() and (again[1] == test).all()
    for label in range(10):  # every class in both splits, ~20 % in test
        n_test = (labels[test] == label).sum()
        assert 0.15 < n_test / (labels == label).sum() < 0.25
    with pytest.raises(ValueError, match='test_fraction'):
        stratified_split(labels, 1.5, seed=0)


def _run_demo(out: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(DEMO + ['--out', str(out), *args], cwd=REPO, capture_output=True,
                          text=True, timeout=3000)


def _check_outputs(out: Path, n_runs: int, backbones: set[str]) -> list[dict]:
    with open(out / 'results.csv') as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == n_runs
    assert {r['backbone'] for r in rows} == backbones
    assert all(r['status'] == 'finished' and 0 <= float(r['top1']) <= 100 for r in rows)
    summary = json.loads((out / 'report' / 'summary.json').read_text())
    assert set(summary['backbones']) == backbones
    for name in ('report.md', 'report.html', 'bocb_table.md', 'bocb_table.tex'):
        assert (out / 'report' / name).stat().st_size > 0
    pngs = list((out / 'report').rglob('*.png'))
    assert pngs and all(p.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n' for p in pngs)
    return rows


def test_demo_reduced_grid_end_to_end(tmp_path: Path) -> None:
    result = _run_demo(tmp_path, '--backbones', 'mini-resnet', 'mini-vit',
                       '--optimizers', 'SGD-M', 'AdamW', 'lion', '--epochs', '1')
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert 'BOCB summary' in result.stdout and 'report.html' in result.stdout
    rows = _check_outputs(tmp_path, 6, {'mini-resnet', 'mini-vit'})
    assert {r['optimizer'] for r in rows} == {'SGD-M', 'AdamW', 'LION'}
    # a second call finds every run finished and only rebuilds the report
    again = _run_demo(tmp_path, '--backbones', 'mini-resnet', 'mini-vit',
                      '--optimizers', 'SGD-M', 'AdamW', 'lion', '--epochs', '1')
    assert again.returncode == 0, again.stderr[-3000:]
    assert len(list(tmp_path.glob('runs/*/seed0/epoch_1.pth'))) == 6


@pytest.mark.slow
def test_full_demo(tmp_path: Path) -> None:
    """The README's main job: 3 mini backbones x 20 optimizers, 6 epochs (about 10 min)."""
    result = _run_demo(tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = _check_outputs(tmp_path, 60, {'mini-resnet', 'mini-convnext', 'mini-vit'})
    best = max(float(r['top1']) for r in rows)
    assert best > 90.0, f'no optimizer learned the digits (best top-1 {best:.1f} %)'
