"""Locks on a sweep's work root and on each run's work dir; training processes that end with
the process that started them.

The locks are ``fcntl.flock`` locks on small files: the kernel releases one when the last
process holding its file open ends, ``kill -9`` included, so a lock never outlives its holders
and never needs cleaning up. The file stays (removing it would let two processes lock two
different files of one name); it holds the holder's pid for the message of the next one.

A run's lock is held by the process that trains it and, in subprocess mode, by its
``tools/train.py`` process too (the lock's file is passed down), so a training left over from a
killed sweep keeps its work dir locked until it ends. On Linux such a training does not stay:
training processes and workers receive SIGTERM when their parent dies
(:mod:`bocb_mm.utils.lifetime`).
"""
from __future__ import annotations

import fcntl
import os
import os.path as osp
import time

__all__ = ['LockedError', 'FileLock', 'ROOT_LOCK', 'RUN_LOCK_WAIT', 'folder_lock_path',
           'is_locked']

#: The lock file of a work root (``run`` of the sweep, the demo's output folder).
ROOT_LOCK = '.bocb_sweep.lock'
#: Seconds a run waits for its work dir's lock (a training of a killed sweep ending).
RUN_LOCK_WAIT = 10.0


class LockedError(RuntimeError):
    """Another process holds the lock; the message names it and its pid."""


def folder_lock_path(folder: str) -> str:
    """The lock file of a folder (a run's work dir, the demo's output): ``.<name>.lock``
    next to it, not inside it (the folder can be moved aside while locked, and holds nothing
    before its owner writes there)."""
    parent, name = osp.split(osp.abspath(folder))
    return osp.join(parent, f'.{name}.lock')


class FileLock:
    """An exclusive ``flock`` on ``path``, for ``what`` (named in the error).

    Args:
        path: The lock file (created, with its folder, if missing).
        what: What the lock guards, for messages (``'work root work_dirs/x'``).
    """

    def __init__(self, path: str, what: str) -> None:
        self.path = path
        self.what = what
        self.fd: int | None = None

    def acquire(self, wait: float = 0.0) -> 'FileLock':
        """Take the lock, retrying for up to ``wait`` seconds.

        Raises:
            LockedError: naming ``what``, the holder's pid and the lock file.
        """
        os.makedirs(osp.dirname(self.path) or '.', exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = _holder(fd)
                    os.close(fd)
                    raise LockedError(f'{self.what} is in use by {holder} (lock file '
                                      f'{self.path})') from None
                time.sleep(0.1)
        self.fd = fd
        os.ftruncate(fd, 0)
        self.note(f'pid {os.getpid()}')
        return self

    def note(self, text: str) -> None:
        """Add a line to the lock file (e.g. the pid of the training it started)."""
        if self.fd is not None:
            os.write(self.fd, f'{text}\n'.encode())

    def release(self) -> None:
        """Let the lock go (for this process; a child it was passed to still holds it)."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def __enter__(self) -> 'FileLock':
        return self.acquire() if self.fd is None else self

    def __exit__(self, *_) -> None:
        self.release()


def _holder(fd: int) -> str:
    """Who holds a lock, as its file says (``pid 12, tools/train.py pid 34``)."""
    try:
        text = os.pread(fd, 4096, 0).decode(errors='replace')
    except OSError:
        text = ''
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return ', '.join(lines) or 'another process'


def is_locked(path: str) -> bool:
    """Whether some process holds the lock of ``path`` now (False when the file is missing)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
