"""tests/optim: every test runs single-threaded (tiny tensors; ``single_thread`` of
tests/conftest.py); the models, losses and comparisons are in ``optim_helpers.py``."""
from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _optim_defaults(single_thread: None) -> None:
    """``single_thread`` for every test of the folder."""
