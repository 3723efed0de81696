"""Writing files without destroying a user's data.

Two guards every tool that writes a data set or a checkpoint uses:

* :func:`refuse_overwrite`: stop before replacing a folder (or file) that already holds
  something, unless the user passed ``--force``;
* :func:`atomic_write`: write a file through a temporary file in the same folder and rename it
  into place, so an interrupted write never leaves a half file under the final name.

And :func:`refuse_same_file` for converters whose output must not be their input.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable, Union

__all__ = ['refuse_overwrite', 'atomic_write', 'refuse_same_file', 'holds_data']

PathLike = Union[str, 'os.PathLike[str]']


def holds_data(path: PathLike) -> bool:
    """Whether ``path`` is a file, or a folder with at least one entry (hidden ones count)."""
    path = Path(path)
    if path.is_dir():
        return any(path.iterdir())
    return path.exists() or path.is_symlink()


def refuse_overwrite(path: PathLike, force: bool, what: str) -> None:
    """Raise if ``path`` already holds something and ``force`` is not set.

    An absent path or an empty folder is fine to write to.

    Args:
        path: The file or folder about to be written.
        force: The user's ``--force``: when True, nothing is checked.
        what: What would be written there, for the message (e.g. ``'a CIFAR-100 data set'``).

    Raises:
        FileExistsError: naming ``path``, ``what`` and ``--force``.
    """
    if force or not holds_data(path):
        return
    kind = 'folder' if Path(path).is_dir() else 'file'
    raise FileExistsError(
        f'{path} already exists (a non-empty {kind}); refusing to replace it with {what}. '
        'Choose another output path, or pass --force to overwrite it.')


def refuse_same_file(src: PathLike, dst: PathLike, what: str = 'output') -> None:
    """Raise if ``dst`` is ``src`` (the same file once links and relative parts are resolved).

    Raises:
        ValueError: naming both paths.
    """
    src_path, dst_path = Path(src), Path(dst)
    same = src_path.resolve() == dst_path.resolve()
    if not same and src_path.exists() and dst_path.exists():
        same = os.path.samefile(src_path, dst_path)  # hard links
    if same:
        raise ValueError(f'the {what} {dst} is the input {src} (same file); writing it would '
                         'destroy the input: choose another output path')


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: PathLike, write_fn: Callable[[str], object]) -> Path:
    """Write ``path`` through a temporary file in its folder, then rename it into place.

    Args:
        path: The final file.
        write_fn: Called with the temporary file's path (a str); writes the whole content there
            (e.g. ``lambda tmp: torch.save(obj, tmp)``).

    Returns:
        ``path`` as a :class:`~pathlib.Path`. If ``write_fn`` raises (or the process is
        interrupted), ``path`` is left as it was and the temporary file is removed (or, after a
        kill, left as ``.<name>.*.tmp`` next to it).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f'.{path.name}.', suffix='.tmp', dir=path.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it 0600; give it the usual mode
    try:
        write_fn(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path
