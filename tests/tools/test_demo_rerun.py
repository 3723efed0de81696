"""The demo run again on its output folder: other arguments train anew (the old runs moved
aside, not reported under the new label); a second job on a busy folder stops naming the first."""
from __future__ import annotations

import csv
import fcntl
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bocb_mm.sweep.lock import folder_lock_path

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


def test_a_second_job_on_a_busy_output_folder_stops(tmp_path: Path) -> None:
    out = tmp_path / 'demo'
    with open(folder_lock_path(str(out)), 'w') as lock:  # what a running job holds
        fcntl.flock(lock, fcntl.LOCK_EX)
        lock.write(f'pid {os.getpid()}\n')
        lock.flush()
        result = _demo(out, '--epochs', '1')
    assert result.returncode == 2, result.stdout[-3000:] + result.stderr[-3000:]
    assert f'pid {os.getpid()}' in result.stderr and 'another demo' in result.stderr
    assert not (out / 'runs').exists()
