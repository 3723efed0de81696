"""The demo's tuning protocol on Slurm (the one-node cluster of tools/slurm/local_cluster.sh):
each step is one job array, and the choices and scores are the in-process executor's; the
command line's Slurm options."""
from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from bocb_mm.demo.cli import parse_args

REPO = Path(__file__).resolve().parents[2]
# 1 backbone x 2 optimizers x 3 lrs, 2 of them kept after 2 of 3 epochs, 1 final seed: three
# steps (first rung, survivors resumed from their checkpoints, finals), 12 trainings
GRID = ['--backbones', 'mini-resnet', '--optimizers', 'SGD-M', 'AdamW', '--lr-factors', '1',
        '3.16', '10', '--epochs', '3', '--halving-epochs', '2', '--keep', '2', '--final-seeds',
        '1', '--extend-edges', '0']
TUNING = ('backbone', 'optimizer', 'lr', 'stage', 'epochs', 'val_top1', 'status', 'chosen')
FINALS = ('backbone', 'optimizer', 'seed', 'lr', 'top1', 'top5', 'epochs', 'iters', 'status')


def _demo(out: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / 'tools' / 'bocb_demo.py'), '--out',
                           str(out), *GRID, *args], cwd=REPO, capture_output=True, text=True,
                          timeout=1200)


def _rows(path: Path, fields: tuple[str, ...]) -> list[tuple[str, ...]]:
    with open(path, newline='') as f:
        return sorted(tuple(row[k] for k in fields) for row in csv.DictReader(f))


@pytest.mark.slurm
@pytest.mark.usefixtures('slurm_cluster')
def test_protocol_on_slurm_gives_the_in_process_results(tmp_path: Path) -> None:
    local = _demo(tmp_path / 'inprocess', '--jobs', '2')
    assert local.returncode == 0, local.stdout[-3000:] + local.stderr[-3000:]
    slurm = _demo(tmp_path / 'slurm', '--jobs', '2', '--executor', 'slurm', '--partition',
                  'debug')
    assert slurm.returncode == 0, slurm.stdout[-3000:] + slurm.stderr[-3000:]
    tuning = _rows(tmp_path / 'slurm' / 'tuning.csv', TUNING)
    assert {row[3] for row in tuning} == {'rung0', 'rung1'}
    assert tuning == _rows(tmp_path / 'inprocess' / 'tuning.csv', TUNING)
    assert _rows(tmp_path / 'slurm' / 'results.csv', FINALS) == _rows(
        tmp_path / 'inprocess' / 'results.csv', FINALS)
    # one array per step, each in its own folder
    arrays = sorted((tmp_path / 'slurm' / 'slurm').glob('array_*'))
    assert [a.name for a in arrays] == ['array_0', 'array_1', 'array_2']
    sizes = [len((a / 'index_map.tsv').read_text().splitlines()) - 1 for a in arrays]
    assert sizes == [6, 4, 2]
    records = [json.loads(p.read_text())
               for p in (tmp_path / 'slurm' / 'runs').glob('**/bocb_run.json')]
    assert len(records) == 12 and {r['executor'] for r in records} == {'slurm'}
    summary = json.loads((tmp_path / 'slurm' / 'report' / 'summary.json').read_text())
    assert summary['protocol']['timing']['executor'] == 'slurm'


def test_partition_needs_the_slurm_executor_and_a_cluster(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    out = str(tmp_path / 'demo')
    with pytest.raises(SystemExit) as exit_info:
        parse_args(['--partition', 'debug', '--out', out])
    assert exit_info.value.code == 2 and 'only with --executor slurm' in capsys.readouterr().err
    monkeypatch.setenv('PATH', str(tmp_path))  # no sinfo: no default partition to take
    with pytest.raises(SystemExit):
        parse_args(['--executor', 'slurm', '--out', out])
    assert 'sinfo not found' in capsys.readouterr().err
    args = parse_args(['--executor', 'slurm', '--partition', 'gpu', '--out', out])
    assert args.partition == 'gpu'  # a named partition is taken as it is
