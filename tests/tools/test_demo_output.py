"""The demo's output folder and data: a folder the demo did not write is refused without
--force, its data files are checked against the checksums written with them (a damaged or
foreign file is written again), and its arguments are checked when parsed."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bocb_mm.datasets import random_cifar
from bocb_mm.datasets.digits import MANIFEST, write_digits_splits
from bocb_mm.demo.cli import main, parse_args
from bocb_mm.demo.output import MARKER, mark_output, out_problem
from bocb_mm.demo.planning import RunWriter, build_protocol

REPO = Path(__file__).resolve().parents[2]


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob('*'))
            if p.is_file()}


def _user_folder(root: Path) -> Path:
    """A folder of someone else's results, report and data."""
    (root / 'report').mkdir(parents=True)
    (root / 'report' / 'report.html').write_text('<p>my report</p>\n')
    (root / 'results.csv').write_text('backbone,optimizer,seed,top1\nR-50,AdamW,0,77.1\n')
    (root / 'tuning.csv').write_text('backbone,optimizer,lr\n')
    random_cifar(str(root / 'data' / 'tune'), num_train=4, num_test=2, num_classes=10)
    return root


def test_folder_the_demo_did_not_write_is_refused(tmp_path: Path, capsys) -> None:
    out = _user_folder(tmp_path / 'mine')
    before = _snapshot(out)
    with pytest.raises(SystemExit) as exit_info:
        main(['--out', str(out), '--optimizers', 'SGD-M', 'AdamW'])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f'{out} holds files but is not an output folder of the demo' in err
    assert '--force' in err and MARKER in err
    assert _snapshot(out) == before
    # --force takes it; an empty or new folder, or one the demo marked, needs no --force
    assert parse_args(['--out', str(out), '--force']).force
    (tmp_path / 'empty').mkdir()
    for folder in (tmp_path / 'empty', tmp_path / 'new' / 'out'):
        assert out_problem(str(folder), force=False) is None
    mark_output(str(out))
    assert out_problem(str(out), force=False) is None


def test_out_that_is_a_file_is_refused(tmp_path: Path, capsys) -> None:
    (tmp_path / 'out').write_text('x')
    for out in (tmp_path / 'out', tmp_path / 'out' / 'sub'):
        with pytest.raises(SystemExit):
            parse_args(['--out', str(out), '--force'])
        assert 'is a file' in capsys.readouterr().err


@pytest.mark.skipif(os.geteuid() == 0, reason='root writes to read-only folders')
def test_read_only_out_is_refused(tmp_path: Path, capsys) -> None:
    tmp_path.chmod(0o555)
    try:
        with pytest.raises(SystemExit):
            parse_args(['--out', str(tmp_path / 'out')])
    finally:
        tmp_path.chmod(0o755)
    assert 'not writable' in capsys.readouterr().err


@pytest.mark.parametrize('args, option', [
    (['--epochs', '0'], '--epochs'), (['--jobs', '0'], '--jobs'),
    (['--final-seeds', '1', '-1'], '--final-seeds'), (['--seeds', '-1'], '--final-seeds'),
    (['--tune-seed', '-1'], '--tune-seed'), (['--keep', '0'], '--keep'),
    (['--lr-factors', '1', '0'], '--lr-factors'), (['--halving-epochs', '-1'], '--halving-epochs'),
    (['--extend-edges', '-1'], '--extend-edges'), (['--stall-top1', '101'], '--stall-top1'),
    (['--final-seeds', str(2**32)], '--final-seeds'),
])
def test_bad_numbers_are_argument_errors(tmp_path: Path, capsys,
                                         args: list[str], option: str) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse_args(['--out', str(tmp_path / 'out'), *args])
    assert exit_info.value.code == 2
    assert f'argument {option}' in capsys.readouterr().err
    assert not (tmp_path / 'out').exists()


def test_no_halving_is_still_accepted(tmp_path: Path) -> None:
    args = parse_args(['--out', str(tmp_path), '--halving-epochs', '0', '--epochs', '1'])
    assert build_protocol(args).halving_epochs is None


def test_intact_data_is_kept(tmp_path: Path) -> None:
    first = write_digits_splits(str(tmp_path))
    for key in ('tune_root', 'final_root'):
        assert (Path(first[key]) / MANIFEST).is_file()
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob('*') if p.is_file()}
    log: list[str] = []
    again = write_digits_splits(str(tmp_path), overwrite=False, log=log.append)
    assert again == first and not log
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob('*') if p.is_file()} == before


def test_damaged_data_file_is_written_again(tmp_path: Path) -> None:
    first = write_digits_splits(str(tmp_path))
    train = Path(first['final_root']) / 'cifar-100-python' / 'train'
    whole = train.read_bytes()
    train.write_bytes(whole[:len(whole) // 2])  # an interrupted write
    log: list[str] = []
    again = write_digits_splits(str(tmp_path), overwrite=False, log=log.append)
    assert log == [f'{train} fails its checksum (damaged, or changed since the demo wrote it); '
                   'writing the final data again']
    assert train.read_bytes() == whole and again['digest'] == first['digest']
    # one byte changed in place (same size) is found too
    changed = bytearray(whole)
    changed[-1] ^= 1
    train.write_bytes(bytes(changed))
    write_digits_splits(str(tmp_path), overwrite=False, log=log.append)
    assert len(log) == 2 and train.read_bytes() == whole


def test_data_the_demo_did_not_write_is_replaced(tmp_path: Path) -> None:
    random_cifar(str(tmp_path / 'tune'), num_train=4, num_test=2, num_classes=10)
    log: list[str] = []
    sizes = write_digits_splits(str(tmp_path), overwrite=False, log=log.append)
    assert len(log) == 1 and f'{tmp_path / "tune"} has no {MANIFEST}' in log[0]
    assert write_digits_splits(str(tmp_path / 'fresh'))['digest'] == sizes['digest']


def test_configs_name_the_data_they_train_on(tmp_path: Path) -> None:
    """Runs trained on other data have other configs (so a run record's fingerprint differs)."""
    from bocb_mm.sweep.protocol import Pair, Trial
    sizes = write_digits_splits(str(tmp_path / 'data'))
    writer = RunWriter(str(tmp_path), sizes, 2, None, set())
    trial = Trial(Pair('mini-resnet', 'AdamW', 1e-3, 0.05), 1e-3, 'final', 1)
    assert f"'data_digest': '{sizes['digest']}'" in writer.config_text(trial)
    other = RunWriter(str(tmp_path), dict(sizes, digest='0' * 16), 2, None, set())
    assert other.config_text(trial) != writer.config_text(trial)


def test_ctrl_c_ends_the_demo_with_one_line_and_130(tmp_path: Path) -> None:
    out = tmp_path / 'demo'
    proc = subprocess.Popen(
        [sys.executable, str(REPO / 'tools' / 'bocb_demo.py'), '--protocol', 'paper',
         '--backbones', 'mini-resnet', '--optimizers', 'SGD-M', 'AdamW', '--epochs', '50',
         '--final-seeds', '1', '--jobs', '1', '--out', str(out)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in proc.stdout:  # the job has planned its runs and starts its workers
        if line.startswith('[demo] protocol'):
            break
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-2000:]
    assert '[demo] interrupted; finished runs are kept' in err and 'Traceback' not in err
