"""One run's training, whichever way it starts: options, config, checks, Runner.

:class:`TrainOptions` (:mod:`.options`, importable without torch) are a run's settings;
:func:`build_config`, :func:`check_config` and :func:`train` (:mod:`.entry`) turn a config file
and those options into a trained Runner. ``tools/train.py`` and both sweep executors use them.
"""
from .options import TrainOptions, add_arguments

__all__ = ['TrainOptions', 'add_arguments', 'SetupError', 'Stopped', 'build_config',
           'check_config', 'build_runner', 'train']


def __getattr__(name: str):
    if name in ('SetupError', 'Stopped', 'build_config', 'check_config', 'build_runner', 'train'):
        from . import entry
        return getattr(entry, name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
