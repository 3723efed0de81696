"""The sweep's command line: bad numbers, patterns, list files and folders are argument errors
(exit 2, one line, before anything is planned); Ctrl-C ends with one line and exit 130."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

import pytest

from bocb_mm.datasets import random_cifar
from bocb_mm.sweep import find_configs

from sweep_helpers import CONFIG

REPO = Path(__file__).resolve().parents[2]
SWEEP = REPO / 'tools' / 'bocb_sweep.py'


@pytest.fixture(scope='module')
def sweep() -> ModuleType:
    """The sweep's command line (``tools/bocb_sweep.py``) as a module."""
    from bocb_mm.cli import bocb_sweep
    return bocb_sweep


def _config(path: Path, data_root: Path, epochs: int = 1) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(CONFIG.format(backbone='Mini-R4', optimizer='SGD-M', width=4, channels=32,
                                  data_root=str(data_root), epochs=epochs,
                                  optimizer_cfg="dict(type='SGD', lr=0.05, momentum=0.9)"))
    return str(path)


def _refused(sweep: ModuleType, capsys, *argv: str) -> str:
    with pytest.raises(SystemExit) as exit_info:
        sweep.main(list(argv))
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert 'Traceback' not in err
    return err


@pytest.mark.parametrize('args, option', [
    (['run', '--jobs', '0'], '--jobs'), (['run', '--runs-per-gpu', '0'], '--runs-per-gpu'),
    (['run', '--threads', '0'], '--threads'), (['plan', '--seeds', '-1'], '--seeds'),
    (['run', '--seeds', '0', str(2**32)], '--seeds'),
    (['slurm', '--partition', 'gpu', '--gpus-per-run', '-1'], '--gpus-per-run'),
])
def test_bad_numbers_are_argument_errors(sweep: ModuleType, tmp_path: Path, capsys,
                                         args: list[str], option: str) -> None:
    config = tmp_path / 'a.py'
    config.write_text('')
    err = _refused(sweep, capsys, *args[:1], str(config), '--work-root', str(tmp_path / 'w'),
                   *args[1:])
    assert f'argument {option}' in err
    assert not (tmp_path / 'w').exists()


def test_a_pattern_that_matches_nothing_is_an_error(sweep: ModuleType, tmp_path: Path,
                                                     capsys) -> None:
    (tmp_path / 'a.py').write_text('')
    nothing = str(tmp_path / 'typo' / '*.py')
    err = _refused(sweep, capsys, 'plan', str(tmp_path / '*.py'), nothing)
    assert f"no config matches the pattern '{nothing}'" in err


def test_a_folder_given_as_a_config_is_an_error(sweep: ModuleType, tmp_path: Path,
                                                capsys) -> None:
    (tmp_path / 'configs').mkdir()
    err = _refused(sweep, capsys, 'run', str(tmp_path / 'configs'))
    assert f'{tmp_path / "configs"} is a folder, not a config file' in err
    assert '**' in err  # how to take the configs under it


def test_list_file_comments_and_relative_paths(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / 'configs' / 'sub').mkdir(parents=True)
    for name in ('a.py', 'b.py', 'sub/c.py'):
        (tmp_path / 'configs' / name).write_text('')
    listing = tmp_path / 'configs' / 'runs.txt'
    listing.write_text('# the grid\n'
                       'a.py   # the baseline\n'
                       '    # an indented comment\n'
                       '\n'
                       'sub/*.py\n'
                       f'{tmp_path / "configs" / "b.py"}\n')
    expected = sorted(str(tmp_path / 'configs' / name) for name in ('a.py', 'b.py', 'sub/c.py'))
    monkeypatch.chdir(tmp_path)  # not the list file's folder
    assert find_configs([f'@{listing}']) == expected
    monkeypatch.chdir(tmp_path / 'configs')
    assert sorted(map(os.path.abspath, find_configs(['@runs.txt']))) == expected
    with pytest.raises(FileNotFoundError, match=r'@missing.txt: not found'):
        find_configs(['@missing.txt'])


def test_work_root_that_cannot_be_written_is_an_error(sweep: ModuleType, tmp_path: Path,
                                                      capsys) -> None:
    config = tmp_path / 'a.py'
    config.write_text('')
    err = _refused(sweep, capsys, 'run', str(config), '--work-root', str(config / 'w'))
    assert f'--work-root: cannot create {config / "w"}: {config} is a file' in err
    err = _refused(sweep, capsys, 'collect', str(config), '--out', str(config / 'r.csv'))
    assert '--out: ' in err and 'is a file' in err


@pytest.mark.skipif(os.geteuid() == 0, reason='root writes to read-only folders')
def test_read_only_work_root_is_an_error(sweep: ModuleType, tmp_path: Path, capsys) -> None:
    config = tmp_path / 'a.py'
    config.write_text('')
    root = tmp_path / 'w'
    root.mkdir(mode=0o555)
    err = _refused(sweep, capsys, 'run', str(config), '--work-root', str(root))
    assert 'not writable' in err


def test_ctrl_c_ends_with_one_line_and_130(tmp_path: Path) -> None:
    random_cifar(str(tmp_path / 'data'), num_train=40, num_test=16, num_classes=10)
    config = _config(tmp_path / 'long.py', tmp_path / 'data', epochs=500)
    proc = subprocess.Popen([sys.executable, str(SWEEP), 'run', config, '--work-root',
                             str(tmp_path / 'w')], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    log = tmp_path / 'w' / 'long' / 'seed0' / 'sweep_train.log'
    deadline = time.time() + 120
    while not log.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.2)
    assert log.exists(), proc.communicate()[1][-2000:]
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-2000:]
    assert 'Traceback' not in err
    assert 'bocb_sweep run: interrupted; finished runs and checkpoints are kept' in err
