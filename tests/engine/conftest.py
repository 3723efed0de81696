"""tests/engine: every test runs single-threaded (tiny tensors; no thread oversubscription on
shared CI cores) with mmengine's INFO logging off (fixtures of tests/conftest.py)."""
from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _engine_defaults(single_thread: None, quiet_mmengine: None) -> None:
    """``single_thread`` and ``quiet_mmengine`` for every test of the folder."""
