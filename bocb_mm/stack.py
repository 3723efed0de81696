"""Whether the training stack (torch and mmengine) is installed, checked without importing it.

The package ``__init__`` files use :func:`stack_installed` to decide whether to import the parts
that need the stack (optimizer classes, backbones, hooks); the pure-Python parts (the zoos, the
paper tables, the analysis) import either way.
"""
from __future__ import annotations

import importlib.util

#: What the training stack needs; :func:`stack_installed` checks for these.
STACK = ('torch', 'mmengine')


def stack_installed() -> bool:
    """Whether torch and mmengine can be imported (checked without importing them).

    Returns:
        True when every module of :data:`STACK` can be found.
    """
    try:
        return all(importlib.util.find_spec(name) is not None for name in STACK)
    except ImportError:  # a finder that knows the module is missing may raise instead
        return False
