"""No command destroys a user's data; bad counts fail in argparse.

The commands run as a user runs them (``python tools/...`` in a fresh working folder); each test
records the contents and modification times of the files at stake before the command and checks
them after.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[2]
PREPARE = str(REPO / 'tools' / 'dataset_converters' / 'prepare_cifar.py')
CONVERT = str(REPO / 'tools' / 'model_converters' / 'bocb_to_transfer.py')


def run(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300)


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Contents and modification time (ns) of every file under ``folder``."""
    return {str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob('*')) if p.is_file()}


@pytest.fixture
def real_cifar(tmp_path: Path) -> Path:
    """A working folder whose data/cifar100 holds a (stand-in) real CIFAR-100."""
    folder = tmp_path / 'data' / 'cifar100' / 'cifar-100-python'
    folder.mkdir(parents=True)
    for name in ('train', 'test', 'meta'):
        (folder / name).write_bytes(f'the real {name} split'.encode())
    os.utime(folder / 'train', ns=(1_000_000_000, 1_000_000_000))  # an old, distinct mtime
    return tmp_path


def test_synthetic_never_lands_on_the_real_set(real_cifar: Path) -> None:
    before = snapshot(real_cifar / 'data' / 'cifar100')
    result = run(real_cifar, PREPARE, '--synthetic', '4', '2')
    assert result.returncode == 0, result.stderr
    assert 'data/cifar100_synthetic/cifar-100-python' in result.stdout
    assert (real_cifar / 'data' / 'cifar100_synthetic' / 'cifar-100-python' / 'train').is_file()
    assert snapshot(real_cifar / 'data' / 'cifar100') == before


def test_existing_data_set_is_refused_without_force(real_cifar: Path) -> None:
    before = snapshot(real_cifar / 'data' / 'cifar100')
    result = run(real_cifar, PREPARE, '--synthetic', '4', '2', '--out', 'data/cifar100')
    assert result.returncode == 1
    assert 'data/cifar100/cifar-100-python already exists' in result.stderr
    assert '--force' in result.stderr
    assert snapshot(real_cifar / 'data' / 'cifar100') == before

    # a synthetic set is a data set too; --force replaces it
    assert run(real_cifar, PREPARE, '--synthetic', '4', '2').returncode == 0
    synthetic = real_cifar / 'data' / 'cifar100_synthetic'
    first = snapshot(synthetic)
    again = run(real_cifar, PREPARE, '--synthetic', '6', '2', '--seed', '1')
    assert again.returncode == 1 and '--force' in again.stderr
    assert snapshot(synthetic) == first
    forced = run(real_cifar, PREPARE, '--synthetic', '6', '2', '--seed', '1', '--force')
    assert forced.returncode == 0, forced.stderr
    assert snapshot(synthetic)['cifar-100-python/train'][0] != first['cifar-100-python/train'][0]


@pytest.mark.parametrize('counts,message', [(('0', '0'), '0 images: a split needs at least 1'),
                                            (('-5', '10'), '-5 images'),
                                            (('ten', '2'), "'ten' is not a whole number")])
def test_synthetic_counts_below_one_are_argparse_errors(tmp_path: Path, counts: tuple[str, str],
                                                        message: str) -> None:
    result = run(tmp_path, PREPARE, '--synthetic', *counts)
    assert result.returncode == 2
    assert 'argument --synthetic' in result.stderr and message in result.stderr
    assert not (tmp_path / 'data').exists()


def test_converter_refuses_to_overwrite_its_input(tmp_path: Path) -> None:
    src = tmp_path / 'epoch_1.pth'
    torch.save({'state_dict': {'backbone.conv.weight': torch.ones(2, 3, 3, 3),
                               'head.fc.weight': torch.ones(4, 2)}}, src)
    (tmp_path / 'latest.pth').symlink_to(src)
    before = snapshot(tmp_path)
    for dst in ('epoch_1.pth', './epoch_1.pth', 'latest.pth'):
        result = run(tmp_path, CONVERT, 'epoch_1.pth', dst)
        assert result.returncode == 1
        assert 'is the input epoch_1.pth (same file)' in result.stderr
        assert snapshot(tmp_path) == before

    ok = run(tmp_path, CONVERT, 'epoch_1.pth', 'backbone.pth')
    assert ok.returncode == 0, ok.stderr
    written = torch.load(tmp_path / 'backbone.pth', weights_only=True)
    assert list(written['state_dict']) == ['backbone.conv.weight']
    assert sorted(p.name for p in tmp_path.iterdir()) == ['backbone.pth', 'epoch_1.pth',
                                                          'latest.pth']  # no temporary left
    # a failing conversion leaves an existing output as it was
    kept = snapshot(tmp_path)
    bad = run(tmp_path, CONVERT, 'epoch_1.pth', 'backbone.pth', '--src-prefix', 'nothing.')
    assert bad.returncode == 1 and "no key starts with 'nothing.'" in bad.stderr
    assert snapshot(tmp_path) == kept
