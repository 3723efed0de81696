"""Argument types and path checks shared by the command lines (the sweep, the demo).

Each type turns a bad value into an ``argparse`` error at parse time, naming the value, so a
command stops before it plans or trains anything.
"""
from __future__ import annotations

import argparse
import math
import os
import os.path as osp
from typing import Callable

MAX_SEED = 2**32 - 1
"""The largest seed numpy's and torch's generators accept."""


def _whole(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'{text!r} is not a whole number') from None


def int_at_least(minimum: int, what: str = 'value') -> Callable[[str], int]:
    """An argparse type: a whole number >= ``minimum``.

    Args:
        minimum: The smallest value accepted.
        what: What the number counts, for the message (``'epochs'``).

    Returns:
        The type function.
    """
    def parse(text: str) -> int:
        value = _whole(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f'{value} {what}: must be at least {minimum}')
        return value

    parse.__name__ = f'int >= {minimum}'
    return parse


def seed(text: str) -> int:
    """An argparse type: a random seed in ``[0, 2**32 - 1]`` (numpy's range)."""
    value = _whole(text)
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f'seed {value}: must be in [0, {MAX_SEED}]')
    return value


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'{text!r} is not a number') from None


def positive_float(text: str) -> float:
    """An argparse type: a finite number > 0."""
    value = _number(text)
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f'{value:g}: must be a finite number > 0')
    return value


def percentage(text: str) -> float:
    """An argparse type: a number in ``[0, 100]``."""
    value = _number(text)
    if not 0.0 <= value <= 100.0:
        raise argparse.ArgumentTypeError(f'{value:g}: must be a percentage in [0, 100]')
    return value


def unwritable_folder(path: str) -> str | None:
    """Why ``path`` cannot be used (or created) as an output folder, or None if it can.

    Args:
        path: The folder; it may not exist yet.

    Returns:
        A one-line reason naming the path: it is a file, a folder on its way is a file, or the
        folder (or the closest existing folder above it) is not writable.
    """
    if osp.exists(path) and not osp.isdir(path):
        return f'{path} is a file, not a folder'
    existing = osp.abspath(path)
    while not osp.exists(existing):
        existing = osp.dirname(existing)
    if not osp.isdir(existing):
        return f'cannot create {path}: {existing} is a file'
    if not os.access(existing, os.W_OK | os.X_OK):
        return f'cannot write to {path}: {existing} is not writable (permission denied)'
    return None


def existing_file(text: str) -> str:
    """An argparse type: the path of an existing file (not a folder)."""
    if osp.isdir(text):
        raise argparse.ArgumentTypeError(f'{text} is a folder, not a file')
    if not osp.isfile(text):
        raise argparse.ArgumentTypeError(f'{text}: no such file')
    return text


def output_file(text: str) -> str:
    """An argparse type: a file path that can be written (not a folder, in a writable one)."""
    if osp.isdir(text):
        raise argparse.ArgumentTypeError(f'{text} is a folder; give the path of the file to '
                                         'write')
    problem = unwritable_folder(osp.dirname(osp.abspath(text)))
    if problem:
        raise argparse.ArgumentTypeError(f'{text}: {problem}')
    return text
