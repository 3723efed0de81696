"""Fixtures for the model tests.

The model tests run many small CPU kernels; on a machine shared with other jobs, torch's
default intra-op thread pool (one thread per core) oversubscribes the cores and makes them
10-20x slower than a single thread. These tests therefore run single-threaded.
"""
from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _single_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
