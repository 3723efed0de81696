"""bocb_mm.utils.fileio: the overwrite guard, the same-file guard and the atomic write."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from bocb_mm.utils.fileio import atomic_write, refuse_overwrite, refuse_same_file


def test_refuse_overwrite_allows_absent_and_empty(tmp_path: Path) -> None:
    refuse_overwrite(tmp_path / 'absent', force=False, what='a data set')
    (tmp_path / 'empty').mkdir()
    refuse_overwrite(tmp_path / 'empty', force=False, what='a data set')


def test_refuse_overwrite_names_path_and_force(tmp_path: Path) -> None:
    (tmp_path / 'full').mkdir()
    (tmp_path / 'full' / 'train').write_bytes(b'x')
    with pytest.raises(FileExistsError, match=r'full.*a data set.*--force'):
        refuse_overwrite(tmp_path / 'full', force=False, what='a data set')
    refuse_overwrite(tmp_path / 'full', force=True, what='a data set')


def test_refuse_same_file_resolves_links(tmp_path: Path) -> None:
    src = tmp_path / 'a.pth'
    src.write_bytes(b'x')
    (tmp_path / 'link.pth').symlink_to(src)
    with pytest.raises(ValueError, match='same file'):
        refuse_same_file(src, tmp_path / 'link.pth')
    with pytest.raises(ValueError, match='same file'):
        refuse_same_file(src, tmp_path / '.' / 'a.pth')
    refuse_same_file(src, tmp_path / 'b.pth')


def test_atomic_write_keeps_old_file_on_failure(tmp_path: Path) -> None:
    path = tmp_path / 'out.bin'
    atomic_write(path, lambda tmp: Path(tmp).write_bytes(b'old'))

    def half_write(tmp: str) -> None:
        Path(tmp).write_bytes(b'ne')
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(path, half_write)
    assert path.read_bytes() == b'old'
    assert os.listdir(tmp_path) == ['out.bin']
