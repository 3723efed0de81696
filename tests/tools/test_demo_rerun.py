"""The main job run again on its output folder: other arguments train anew (the old runs moved
aside, not reported under the new label)."""
from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DEMO = [sys.executable, str(REPO / 'tools' / 'bocb_demo.py')]
TINY = ['--protocol', 'paper', '--backbones', 'mini-resnet', '--optimizers', 'SGD-M', 'AdamW',
        '--seeds', '0', '--jobs', '1']


def _demo(out: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(DEMO + ['--out', str(out), *TINY, *args], cwd=REPO,
                          capture_output=True, text=True, timeout=1200)


@pytest.mark.slow
def test_a_rerun_with_more_epochs_trains_anew(tmp_path: Path) -> None:
    out = tmp_path / 'demo'
    first = _demo(out, '--epochs', '1')
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    again = _demo(out, '--epochs', '2')
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    summary = json.loads((out / 'report' / 'summary.json').read_text())
    assert summary['protocol']['timing']['runs_trained'] == 2
    with open(out / 'results.csv', newline='') as f:
        assert {r['epochs'] for r in csv.DictReader(f)} == {'2'}
    assert again.stderr.count('moved it to') == 2
    assert len(list(out.glob('runs/*/*/*/final/seed0.replaced-*'))) == 2  # kept, not deleted

