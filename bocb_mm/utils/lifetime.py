"""Processes that end with the process that started them (Linux ``PR_SET_PDEATHSIG``).

A process started by a sweep or a worker pool asks the kernel for SIGTERM when its parent dies,
so a ``kill -9`` of the sweep leaves no training behind. A child started with
:func:`child_env` arms this itself, first thing, with :func:`die_with_parent_from_env`; no
``preexec_fn`` is needed (one forces a fork of the whole parent, and a signal that arrives in
the fork's handlers is lost).
"""
from __future__ import annotations

import ctypes
import os
import signal
import sys
from typing import Callable, Mapping

__all__ = ['PARENT_ENV', 'child_env', 'die_with_parent', 'die_with_parent_from_env']

#: The environment variable naming the pid whose death ends a process.
PARENT_ENV = 'BOCB_DIE_WITH_PARENT'
_PR_SET_PDEATHSIG = 1


def _prctl() -> Callable | None:
    if not sys.platform.startswith('linux'):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


def die_with_parent(parent: int) -> None:
    """Make this process receive SIGTERM when its parent dies (Linux; elsewhere nothing).

    Args:
        parent: The parent's pid, read before this process started: if it has already died,
            this process ends now.
    """
    prctl = _prctl()
    if prctl is None:
        return
    prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM))
    if os.getppid() != parent:  # the parent died before the signal was armed
        os.kill(os.getpid(), signal.SIGTERM)


def child_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """``env`` (default ``os.environ``) for a child that is to end with this process."""
    return {**(os.environ if env is None else env), PARENT_ENV: str(os.getpid())}


def die_with_parent_from_env() -> None:
    """Arm :func:`die_with_parent` when :data:`PARENT_ENV` names this process's parent.

    The variable is removed, so this process's own children do not inherit it.
    """
    value = os.environ.pop(PARENT_ENV, None)
    if value and value.isdigit():
        die_with_parent(int(value))
