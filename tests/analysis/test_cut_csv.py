"""Results and tuning CSVs that were cut or mangled are refused with the file and line named,
never read as shorter numbers."""
from __future__ import annotations

from pathlib import Path

import pytest

from bocb_mm.analysis.io import BocbInputError, load_results
from bocb_mm.analysis.tuning import load_tuning
from bocb_mm.sweep.collect import CSV_FIELDS, write_rows
from bocb_mm.sweep.protocol import TUNING_FIELDS

RUNS = [dict(backbone=b, optimizer=o, seed=0, top1=top1, last_top1=top1, status='finished',
             dataset='cifar100') for b, o, top1 in (('R-50', 'AdamW', 77.1), ('R-50', 'LAMB', 76.5),
                                                    ('DeiT-S', 'AdamW', 78.2),
                                                    ('DeiT-S', 'LAMB', 77.3))]
N = len(CSV_FIELDS)


def _results(tmp_path: Path) -> Path:
    path = tmp_path / 'results.csv'
    write_rows(RUNS, str(path), CSV_FIELDS)
    return path


def _cut_after(path: Path, text: str) -> int:
    """Cut ``path`` right after the last occurrence of ``text``; returns that line's number."""
    data = path.read_text()
    end = data.rindex(text) + len(text)
    path.write_text(data[:end])
    return data[:end].count('\n') + 1


def test_whole_results_file_loads(tmp_path: Path) -> None:
    res = load_results(_results(tmp_path))
    assert res.matrix().at['LAMB', 'DeiT-S'] == pytest.approx(77.3)


def test_results_cut_mid_row_is_refused(tmp_path: Path) -> None:
    path = _results(tmp_path)
    line = _cut_after(path, 'DeiT-S,LAMB,0,7')  # 77.3 cut to 7
    with pytest.raises(BocbInputError, match=rf'{path}, line {line}: .*cut mid-row'):
        load_results(path)


@pytest.mark.parametrize('edit, what', [
    (lambda row: row + ',extra', rf'{N + 1} field\(s\) where the header has {N}'),
    (lambda row: ','.join(row.split(',')[:5]), rf'5 field\(s\) where the header has {N}'),
    (lambda row: row.replace('R-50,LAMB,0,', 'R-50,LAMB,,', 1), 'empty seed'),
    (lambda row: row.replace('R-50,LAMB,', 'R-50,,', 1), 'empty optimizer'),
])
def test_malformed_row_is_refused_with_its_line(tmp_path: Path, edit, what: str) -> None:
    path = _results(tmp_path)
    lines = path.read_text().splitlines()
    lines[2] = edit(lines[2])  # the R-50 LAMB row, line 3 of the file
    path.write_text('\n'.join(lines) + '\n')
    with pytest.raises(BocbInputError, match=rf'{path}, line 3: {what}'):
        load_results(path)


def test_wide_table_with_a_short_row_is_refused(tmp_path: Path) -> None:
    path = tmp_path / 'wide.csv'
    path.write_text('optimizer,R-50,Swin-T\nSGD-M,77.1,80.2\nAdamW,78.0\nLAMB,76.5,81.0\n')
    with pytest.raises(BocbInputError, match=rf'{path}, line 3: 2 field'):
        load_results(path)


def test_tuning_table_cut_mid_row_is_refused(tmp_path: Path) -> None:
    path = tmp_path / 'tuning.csv'
    rows = [dict(backbone='mini-vit', optimizer=o, lr=lr, lr_factor=1.0, typical_lr=lr,
                 weight_decay=0.05, stage='rung0', epochs=3, val_top1=val, status='finished',
                 chosen=False) for o, lr, val in (('AdamW', 1e-3, 91.25), ('LAMB', 5e-3, 88.5))]
    write_rows(rows, str(path), TUNING_FIELDS)
    assert len(load_tuning(path)) == 2
    line = _cut_after(path, ',88')
    with pytest.raises(BocbInputError, match=rf'{path}, line {line}: .*cut mid-row'):
        load_tuning(path)


def test_report_tool_names_a_cut_file(tmp_path: Path, capsys) -> None:
    from bocb_mm.cli.bocb_report import main
    path = _results(tmp_path)
    line = _cut_after(path, 'DeiT-S,LAMB,0,7')
    for extra in ([], ['--score', 'best']):
        code = main([str(path), '--out', str(tmp_path / 'report'), '--no-hparams', *extra])
        err = capsys.readouterr().err
        assert code == 2 and f'{path}, line {line}' in err and 'cut mid-row' in err
    assert not (tmp_path / 'report' / 'report.html').exists()


def test_hparams_table_cut_mid_row_is_refused(tmp_path: Path) -> None:
    from bocb_mm.analysis import paper
    from bocb_mm.analysis.hparams import load_hparams
    path = tmp_path / 'hparams.csv'
    path.write_bytes(Path(paper.CIFAR100_TOP1).parent.joinpath('cifar100_hparams.csv').read_bytes())
    assert len(load_hparams(path)) > 0
    path.write_text(path.read_text()[:-3])
    with pytest.raises(BocbInputError, match=rf'{path}, line \d+: .*cut mid-row'):
        load_hparams(path)
