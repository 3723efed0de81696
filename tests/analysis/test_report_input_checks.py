"""``bocb_report.py`` on too little data, or a wide table with a hole."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TOOL = REPO / 'tools' / 'analysis' / 'bocb_report.py'


def report(csv: Path, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(TOOL), str(csv), '--out', str(out), '--no-hparams',
                           '--n-boot', '0'], cwd=REPO, capture_output=True, text=True,
                          timeout=600)


def test_one_row_csv_says_two_optimizers_are_needed(tmp_path: Path) -> None:
    csv = tmp_path / 'one.csv'
    csv.write_text('backbone,optimizer,seed,top1\nR-50,AdamW,0,77.1\n')
    proc = report(csv, tmp_path / 'out')
    assert proc.returncode == 2
    assert (f"bocb_report: error: {csv}: 1 usable run(s), all of optimizer 'AdamW' (on R-50); "
            'the BOCB analysis compares optimizers on each backbone') in proc.stderr
    assert 'needs results of at least 2 optimizers' in proc.stderr
    assert 'Traceback' not in proc.stderr


def test_wide_table_with_an_empty_cell_warns_and_names_it(tmp_path: Path) -> None:
    csv = tmp_path / 'wide.csv'
    csv.write_text('optimizer,R-50,Swin-T\nSGD-M,77.1,80.2\nAdamW,78.0,\nLAMB,76.5,81.0\n')
    proc = report(csv, tmp_path / 'out')
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert ("[bocb_report] warning: 1 empty cell(s) of the wide table left out (no result): "
            "row 'AdamW', column 'Swin-T'") in proc.stdout
