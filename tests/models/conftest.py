"""tests/models: every test runs single-threaded (``single_thread`` of tests/conftest.py).

The model tests run many small CPU kernels; on a machine shared with other jobs, torch's default
intra-op thread pool (one thread per core) oversubscribes the cores and makes them 10-20x slower
than a single thread.
"""
from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _models_defaults(single_thread: None) -> None:
    """``single_thread`` for every test of the folder."""
