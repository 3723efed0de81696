"""Where a run writes and what its record claims: one work dir per distinct run, a fingerprint
that keeps another configuration's result from being reused, locks on work roots and work dirs,
trainings that end with their sweep, records and CSVs written whole, damaged files named."""
from __future__ import annotations

import csv
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bocb_mm.datasets import random_cifar
from bocb_mm.sweep import Run, is_finished, plan_grid, read_scalars, run_local
from bocb_mm.sweep.collect import RUN_RECORD, collect, result_row, write_rows
from bocb_mm.sweep.inprocess import train_in_process
from bocb_mm.sweep.lock import ROOT_LOCK, FileLock, folder_lock_path, is_locked
from bocb_mm.sweep.plan import run_fingerprint, work_dir_keys
from bocb_mm.sweep.record import read_record, write_record
from bocb_mm.training import TrainOptions

from sweep_helpers import CONFIG

REPO = Path(__file__).resolve().parents[2]
SWEEP = [sys.executable, str(REPO / 'tools' / 'bocb_sweep.py')]


def _config(path: Path, data_root: Path, lr: float = 0.05, epochs: int = 1,
            optimizer: str = 'SGD-M') -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(CONFIG.format(backbone='Mini-R4', optimizer=optimizer, width=4, channels=32,
                                  data_root=str(data_root), epochs=epochs,
                                  optimizer_cfg=f"dict(type='SGD', lr={lr}, momentum=0.9)"))
    return str(path)


@pytest.fixture
def data_root(tmp_path: Path) -> Path:
    root = tmp_path / 'data'
    random_cifar(str(root), num_train=16, num_test=8, num_classes=10)
    return root


# ------------------------------------------------------------------------------ work-dir keys
def test_configs_of_one_name_in_different_folders_get_their_own_work_dirs(
        tmp_path: Path, data_root: Path) -> None:
    grid = [_config(tmp_path / 'grid' / f'lr{lr}' / 'r4.py', data_root, lr=lr)
            for lr in (0.1, 0.2)]
    other = _config(tmp_path / 'other.py', data_root, optimizer='AdamW')
    runs = plan_grid(grid + [other], str(tmp_path / 'w'))
    dirs = {r.config: Path(r.work_dir).relative_to(tmp_path / 'w').as_posix() for r in runs}
    assert dirs == {grid[0]: 'r4@lr0.1/seed0', grid[1]: 'r4@lr0.2/seed0',
                    other: 'other/seed0'}  # a name without a twin keeps its work dir
    # a filter does not move a run: its key is decided by every config given
    only = plan_grid(grid + [other], str(tmp_path / 'w'), optimizers=['SGD-M'])
    assert {r.work_dir for r in only} == {r.work_dir for r in runs if r.optimizer == 'SGD-M'}
    # one file in the folder the others share keeps the plain name; leftovers get a hash
    keys = work_dir_keys([str(tmp_path / 'a' / 'x.py'), str(tmp_path / 'a' / 'b' / 'x.py'),
                          str(tmp_path / 'a' / 'x+y' / 'x.py'),
                          str(tmp_path / 'a' / 'x' / 'y' / 'x.py')])
    assert list(keys.values())[:2] == ['x', 'x@b']
    assert len(set(keys.values())) == 4 and all(k.startswith('x@x+y-') for k in
                                                list(keys.values())[2:])


def test_repeated_seeds_and_one_config_by_two_paths_are_planned_once(
        tmp_path: Path, data_root: Path) -> None:
    config = _config(tmp_path / 'c' / 'r4.py', data_root)
    (tmp_path / 'link.py').symlink_to(config)
    same = [config, str(tmp_path / 'c' / '..' / 'c' / 'r4.py'), str(tmp_path / 'link.py')]
    with pytest.warns(UserWarning) as caught:
        runs = plan_grid(same, str(tmp_path / 'w'), seeds=(0, 1, 0))
    messages = ' '.join(str(w.message) for w in caught)
    assert 'seed(s) 0 given more than once' in messages
    assert 'link.py is' in messages and 'the same file' in messages
    assert [(r.config, r.seed) for r in runs] == [(config, 0), (config, 1)]
    assert len({r.work_dir for r in runs}) == 2


# ------------------------------------------------------------------------------ fingerprints
def test_fingerprint_follows_the_merged_config_seed_and_arguments(
        tmp_path: Path, data_root: Path) -> None:
    config = _config(tmp_path / 'r4.py', data_root)
    run = plan_grid([config], str(tmp_path / 'w'))[0]
    base = run_fingerprint(run)
    assert base == run_fingerprint(Run(config=config, seed=0, work_dir='elsewhere'))
    Path(config).write_text('# a comment changes nothing\n' + Path(config).read_text())
    assert run_fingerprint(Run(config=config, seed=0, work_dir='w')) == base
    assert run_fingerprint(Run(config=config, seed=1, work_dir='w')) != base
    assert run_fingerprint(Run(config=config, seed=0, work_dir='w',
                               options=TrainOptions(amp='fp16'))) != base
    Path(config).write_text(Path(config).read_text().replace('max_epochs=1', 'max_epochs=2'))
    assert run_fingerprint(Run(config=config, seed=0, work_dir='w')) != base


def test_a_changed_config_trains_again_and_the_old_run_is_moved_aside(
        tmp_path: Path, data_root: Path) -> None:
    config = _config(tmp_path / 'r4.py', data_root, epochs=1)
    work = tmp_path / 'w' / 'r4' / 'seed0'

    def plan() -> Run:
        return plan_grid([config], str(tmp_path / 'w'))[0]

    assert train_in_process(plan())['status'] == 'finished'
    first = read_record(str(work))
    assert is_finished(plan()) and first['fingerprint'] == run_fingerprint(plan())
    Path(config).write_text(Path(config).read_text().replace('max_epochs=1', 'max_epochs=2'))
    run = plan()
    assert not is_finished(run)  # another configuration's result is not this run's
    with pytest.warns(UserWarning, match='another config or arguments'):
        assert result_row(run)['top1'] is None and result_row(run)['status'] == 'pending'
    with pytest.warns(UserWarning, match='moved it to .*seed0.replaced-'):
        record = train_in_process(run)
    assert record['status'] == 'finished' and is_finished(run)
    assert result_row(run)['epochs'] == 2
    aside = list(work.parent.glob('seed0.replaced-*'))
    assert len(aside) == 1 and read_record(str(aside[0])) == first  # nothing deleted
    assert (aside[0] / 'epoch_1.pth').is_file()


def test_a_record_without_fingerprint_is_trusted_with_a_warning(tmp_path: Path) -> None:
    run = Run(config='c.py', seed=0, work_dir=str(tmp_path / 'old'))
    os.makedirs(run.work_dir)
    write_record(run.work_dir, dict(config='c.py', seed=0, status='finished'))
    with pytest.warns(UserWarning, match='no fingerprint'):
        assert is_finished(run)


# ------------------------------------------------------------------------------------ locks
def test_a_second_sweep_on_a_work_root_stops_naming_the_first(
        tmp_path: Path, data_root: Path) -> None:
    config = _config(tmp_path / 'r4.py', data_root)
    root = tmp_path / 'w'
    with FileLock(str(root / ROOT_LOCK), 'work root'):
        result = subprocess.run(SWEEP + ['run', config, '--work-root', str(root)], cwd=REPO,
                                capture_output=True, text=True, timeout=300)
    assert result.returncode == 2, result.stdout + result.stderr
    assert f'pid {os.getpid()}' in result.stderr and 'another sweep' in result.stderr
    assert not (root / 'r4' / 'seed0').exists()


# A stand-in for tools/train.py's interpreter (argv: train.py, config, --work-dir, WORK_DIR,
# ...): notes its pid in its work dir, then trains for SECONDS.
PROBE = '''#!{python}
import json, os, sys, time
from bocb_mm.utils.lifetime import die_with_parent_from_env
die_with_parent_from_env()  # what tools/train.py does first
with open(os.path.join(sys.argv[4], 'probe.json'), 'w') as f:
    json.dump(dict(pid=os.getpid()), f)
time.sleep({seconds})
'''


def _probe(tmp_path: Path, seconds: float) -> str:
    path = tmp_path / f'probe_{seconds}'
    path.write_text(PROBE.format(python=sys.executable, seconds=seconds))
    path.chmod(0o755)
    return str(path)


def _ended(pid: int) -> bool:
    try:
        state = Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()[0]
    except OSError:
        return True
    return state in ('Z', 'X')  # a zombie has ended; only its parent's wait is missing


def test_a_locked_work_dir_is_not_trained_and_its_holder_is_named(tmp_path: Path) -> None:
    run = Run(config='unused.py', seed=0, work_dir=str(tmp_path / 'w' / 'run'))
    holder = subprocess.Popen([sys.executable, '-c', (  # a training left over, say
        'import fcntl, os, time\n'
        f'os.makedirs({str(tmp_path / "w")!r})\n'
        f'f = open({folder_lock_path(run.work_dir)!r}, "w")\n'
        'fcntl.flock(f, fcntl.LOCK_EX)\nf.write(f"pid {os.getpid()}"); f.flush()\n'
        'print("locked", flush=True)\ntime.sleep(60)\n')], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == 'locked'
        records = run_local([run], python=_probe(tmp_path, 0), poll=0.05, lock_wait=0.3)
        assert records[0]['status'] == 'failed'
        assert f'pid {holder.pid}' in records[0]['log_tail']
        assert not (Path(run.work_dir) / 'probe.json').exists()
    finally:
        holder.kill()
        holder.wait()
    assert run_local([run], python=_probe(tmp_path, 0), poll=0.05)[0]['status'] == 'finished'
    assert (Path(run.work_dir) / 'probe.json').exists()


def test_trainings_end_with_a_killed_sweep(tmp_path: Path) -> None:
    run = Run(config='unused.py', seed=0, work_dir=str(tmp_path / 'w' / 'run'))
    sweep = subprocess.Popen([sys.executable, '-c', (
        'from bocb_mm.sweep import Run, run_local\n'
        f'run_local([Run(config="unused.py", seed=0, work_dir={run.work_dir!r})], '
        f'python={_probe(tmp_path, 120)!r}, poll=0.05)\n')])
    probe = Path(run.work_dir) / 'probe.json'
    try:
        deadline = time.time() + 60
        while not probe.exists() and time.time() < deadline:
            time.sleep(0.1)
        time.sleep(0.2)
        child = json.loads(probe.read_text())['pid']
    finally:
        sweep.send_signal(signal.SIGKILL)
        sweep.wait()
    deadline = time.time() + 10
    while not _ended(child) and time.time() < deadline:
        time.sleep(0.1)
    try:
        assert _ended(child), 'the training outlived its sweep'
    finally:
        if not _ended(child):
            os.kill(child, signal.SIGKILL)
    lock = folder_lock_path(run.work_dir)
    assert f'tools/train.py pid {child}' in Path(lock).read_text()  # it held the lock too
    deadline = time.time() + 10  # its threads end after its main one
    while is_locked(lock) and time.time() < deadline:
        time.sleep(0.1)
    assert not is_locked(lock)
    assert read_record(run.work_dir)['status'] == 'started'
    assert result_row(run)['status'] == 'pending'  # interrupted: resumed by the next sweep


def test_train_py_ends_when_the_sweep_that_started_it_is_gone(tmp_path: Path) -> None:
    """``tools/train.py`` arms the parent-death signal first thing: started for a sweep that
    has already died (its parent is not the pid named), it ends before training."""
    from bocb_mm.utils.lifetime import PARENT_ENV
    gone = subprocess.Popen(['true'])
    gone.wait()
    env = {**os.environ, PARENT_ENV: str(gone.pid)}
    result = subprocess.run([sys.executable, str(REPO / 'tools' / 'train.py'),
                             str(tmp_path / 'missing.py')], env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == -signal.SIGTERM, result.stderr[-2000:]


def test_a_worker_ends_with_the_process_that_started_it(tmp_path: Path) -> None:
    """What an in-process executor's worker does first (``init_worker``): it must not train on
    after a ``kill -9`` of the sweep or the demo."""
    armed = tmp_path / 'armed'
    worker = ('import os, sys, time\nfrom bocb_mm.utils.lifetime import die_with_parent\n'
              'die_with_parent(int(sys.argv[1]))\n'
              f'open({str(armed)!r}, "w").write(str(os.getpid()))\ntime.sleep(120)\n')
    parent = subprocess.Popen([sys.executable, '-c', (
        'import os, subprocess, sys, time\n'
        f'subprocess.Popen([sys.executable, "-c", {worker!r}, str(os.getpid())])\n'
        'time.sleep(120)\n')])
    try:
        deadline = time.time() + 60
        while not (armed.exists() and armed.read_text()) and time.time() < deadline:
            time.sleep(0.1)
        pid = int(armed.read_text())
    finally:
        parent.kill()
        parent.wait()
    deadline = time.time() + 10
    while not _ended(pid) and time.time() < deadline:
        time.sleep(0.1)
    if not _ended(pid):
        os.kill(pid, signal.SIGKILL)
        pytest.fail('the worker outlived the process that started it')

# -------------------------------------------------------------------------- damaged files
def test_damaged_record_is_named_and_the_run_counts_as_unfinished(
        tmp_path: Path, data_root: Path) -> None:
    config = _config(tmp_path / 'r4.py', data_root)
    root = tmp_path / 'w'
    run = plan_grid([config], str(root))[0]
    os.makedirs(run.work_dir)
    record = Path(run.work_dir) / RUN_RECORD
    record.write_text('')  # what a full disk left
    with pytest.warns(UserWarning, match=re.escape(f'{record} is damaged (empty file)')):
        assert not is_finished(run)
    with pytest.warns(UserWarning, match='damaged'):
        assert collect([run], str(root / 'results.csv'))[0]['status'] == 'pending'
    result = subprocess.run(SWEEP + ['plan', config, '--work-root', str(root)], cwd=REPO,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert str(record) in result.stderr and 'Traceback' not in result.stderr
    assert result.stdout.startswith('todo')


def test_cut_scalars_line_is_left_out_with_a_warning(tmp_path: Path) -> None:
    scalars = tmp_path / 'w' / '20240101_000000' / 'vis_data' / 'scalars.json'
    scalars.parent.mkdir(parents=True)
    good = dict(loss=1.0, epoch=1, iter=2, step=2)
    scalars.write_text(json.dumps(good) + '\n' + '{"accuracy/top1": 50.0, "ste')
    with pytest.warns(UserWarning, match=re.escape(f'{scalars}, line 2: not a JSON')):
        assert read_scalars(str(tmp_path / 'w')) == [good]


def test_records_and_csvs_are_written_whole_or_not_at_all(tmp_path: Path) -> None:
    write_record(str(tmp_path), dict(status='finished', wall_time=1.0))
    with pytest.raises(TypeError):
        write_record(str(tmp_path), dict(status='finished', wall_time=object()))
    assert read_record(str(tmp_path)) == dict(status='finished', wall_time=1.0)
    out = tmp_path / 'results.csv'
    write_rows([dict(backbone='R-50', top1=70.0)], str(out))
    with pytest.raises(AttributeError):
        write_rows([dict(backbone='R-50', top1=71.0), 'not a row'], str(out))
    with open(out, newline='') as f:
        assert [(r['backbone'], r['top1']) for r in csv.DictReader(f)] == [('R-50', '70.0')]
    assert not list(tmp_path.glob('.*.tmp'))
