"""Shared pytest set-up: the ``slow`` marker (skipped unless ``--runslow``), the ``slurm`` marker
(skipped without a Slurm cluster, except under ``CI=true``) and common fixtures.

Fixtures (request them by name; a folder's ``conftest.py`` makes them autouse for its tests):

* ``single_thread``: one torch intra-op thread for the test (:func:`helpers.one_thread`);
* ``quiet_mmengine``: mmengine's INFO logging off for the test;
* ``cached_config_text``: ``Config.pretty_text`` computed once per distinct config;
* ``slurm_cluster``: a Slurm cluster answers (else the test fails; use with the marker).
"""
from __future__ import annotations

import logging
import os
import shutil
import subprocess
from collections.abc import Iterator

import pytest
from helpers import one_thread


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption('--runslow', action='store_true', default=False,
                     help='also run tests marked slow')


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip_slow = pytest.mark.skip(reason='slow: run with --runslow (make test-all)')
    slurm_missing = None
    for item in items:
        if 'slow' in item.keywords and not config.getoption('--runslow'):
            item.add_marker(skip_slow)
        if 'slurm' in item.keywords:
            slurm_missing = slurm_missing if slurm_missing is not None else _slurm_missing()
            if slurm_missing and os.environ.get('CI') != 'true':
                item.add_marker(pytest.mark.skip(reason=f'slurm: {slurm_missing}'))


LOCAL_SLURM_CONF = '/tmp/bocb_slurm/slurm.conf'  # tools/slurm/local_cluster.sh's default


def _slurm_missing() -> str:
    """Why the Slurm tests cannot run here ('' when a cluster answers)."""
    if shutil.which('sbatch') is None:
        return 'sbatch not found (apt-get install slurm-wlm munge; see tools/slurm)'
    if 'SLURM_CONF' not in os.environ and os.path.isfile(LOCAL_SLURM_CONF):
        os.environ['SLURM_CONF'] = LOCAL_SLURM_CONF
    done = subprocess.run(['sinfo', '-h', '-o', '%t'], capture_output=True, text=True)
    if done.returncode != 0 or not done.stdout.strip():
        return ('no cluster answers sinfo (bash tools/slurm/local_cluster.sh start): '
                + (done.stderr.strip().splitlines() or ['no partition'])[-1])
    return ''


@pytest.fixture
def slurm_cluster() -> None:
    """A Slurm cluster to submit to; under ``CI=true`` a missing one fails the test."""
    missing = _slurm_missing()
    if missing:
        pytest.fail(f'slurm: {missing} (CI=true: the cluster is part of the test set-up)')


@pytest.fixture
def single_thread() -> Iterator[None]:
    """One torch intra-op thread during the test (the previous count restored after it)."""
    with one_thread():
        yield


@pytest.fixture
def quiet_mmengine() -> Iterator[None]:
    """mmengine's current ``MMLogger`` and the ``mmengine`` logger at WARNING during the test;
    handlers a test adds to the current ``MMLogger`` still see every warning."""
    from mmengine.logging import MMLogger
    loggers = [MMLogger.get_current_instance(), logging.getLogger('mmengine')]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


@pytest.fixture
def cached_config_text(monkeypatch: pytest.MonkeyPatch) -> None:
    """``Config.pretty_text`` (yapf formatting, ~0.8 s a call, 7 calls a training run: log,
    dumps, every checkpoint's meta) computed once per distinct config during the test."""
    from mmengine.config import Config
    original = Config.pretty_text.fget
    cache: dict = {}

    def pretty_text(self: Config) -> str:
        key = (self.filename, repr(self._cfg_dict))
        if key not in cache:
            cache[key] = original(self)
        return cache[key]

    monkeypatch.setattr(Config, 'pretty_text', property(pretty_text))
