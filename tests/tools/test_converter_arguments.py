"""bocb_to_transfer.py given a folder, or a path it cannot write: one-line argument errors."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from bocb_mm.cli import bocb_to_transfer


@pytest.fixture
def checkpoint(tmp_path: Path) -> Path:
    path = tmp_path / 'epoch_1.pth'
    torch.save({'state_dict': {'backbone.conv.weight': torch.ones(2, 3, 3, 3)}}, path)
    return path


@pytest.mark.parametrize('args, message', [
    (['{dir}', 'out.pth'], 'argument src: {dir} is a folder, not a file'),
    (['{ckpt}', '{dir}'], 'argument dst: {dir} is a folder; give the path of the file to write'),
    (['{ckpt}', 'out.pth', '--config', '{dir}'],
     'argument --config: {dir} is a folder, not a file'),
    (['{dir}/missing.pth', 'out.pth'], 'argument src: {dir}/missing.pth: no such file'),
    (['{ckpt}', '{ckpt}/out.pth'], 'argument dst: {ckpt}/out.pth: {ckpt} is a file'),
])
def test_bad_paths_are_argument_errors(tmp_path: Path, checkpoint: Path, capsys, monkeypatch,
                                       args: list[str], message: str) -> None:
    folder = tmp_path / 'folder'
    folder.mkdir()
    monkeypatch.chdir(tmp_path)
    fill = dict(dir=str(folder), ckpt=str(checkpoint))
    with pytest.raises(SystemExit) as exit_info:
        bocb_to_transfer.main([a.format(**fill) for a in args])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message.format(**fill) in err and 'Traceback' not in err
    assert not (tmp_path / 'out.pth').exists()
