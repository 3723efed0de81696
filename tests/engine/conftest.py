"""tests/engine: run each test single-threaded (tiny tensors; avoids thread oversubscription on
shared CI cores) and keep mmengine's INFO logging quiet."""
from __future__ import annotations

import logging

import pytest
import torch
from mmengine.logging import MMLogger


@pytest.fixture(autouse=True)
def _single_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        logger.setLevel(level)
