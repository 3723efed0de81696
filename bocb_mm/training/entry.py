"""Build, check and train one run: the layer below ``tools/train.py`` and the sweep executors.

Every way a run starts ends here: ``tools/train.py`` (and ``dist_train.sh`` / ``slurm_train.sh``
through it), the sweep's subprocess executor (which runs ``tools/train.py``) and its in-process
workers (which call :func:`train`). So every run gets the same config, the same checks before
anything is built, and the same resume fallback.
"""
from __future__ import annotations

import os.path as osp
from typing import Callable

from mmengine.config import Config

import bocb_mm  # noqa: F401  (stack fixes + registries)

from .options import TrainOptions

__all__ = ['SetupError', 'Stopped', 'build_config', 'check_config', 'build_runner', 'train']


def _setup_errors() -> tuple[type[Exception], ...]:
    from bocb_mm.optim.config_check import OptimConfigError
    from bocb_mm.utils import DataNotFoundError
    from bocb_mm.utils.resume import ResumeError
    return OptimConfigError, DataNotFoundError, ResumeError


class SetupError(RuntimeError):
    """A run cannot start: a bad optimizer config, missing data or an unusable resume checkpoint.

    The message names the problem; ``__cause__`` is the original error.
    """


class Stopped(RuntimeError):
    """The training stopped on its ``stop_signal`` after saving a checkpoint; resume it."""


def build_config(config: str | Config, options: TrainOptions) -> Config:
    """The config a run trains: ``config`` with ``options`` applied, mmpretrain-style.

    Args:
        config: A config file, or one already loaded from a file (its ``filename`` names the
            default work dir).
        options: The run's options.

    Returns:
        The config (a loaded one is changed in place).

    Raises:
        ValueError: ``auto_scale_lr`` for a config without ``auto_scale_lr.base_batch_size``.
    """
    cfg = Config.fromfile(config) if isinstance(config, str) else config
    overrides = options.merged_cfg_options()
    if overrides:
        cfg.merge_from_dict(overrides)
    cfg.launcher = options.launcher
    if options.work_dir:
        cfg.work_dir = options.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(cfg.filename))[0])
    if options.amp:
        from bocb_mm.engine.amp import enable_amp
        enable_amp(cfg.optim_wrapper, options.amp)
    from bocb_mm.engine.throughput import apply_throughput_options
    apply_throughput_options(cfg, compile=options.compile, channels_last=options.channels_last,
                             cudnn_benchmark=options.cudnn_benchmark, gpu_data=options.gpu_data,
                             trim_convs=options.trim_convs)
    if options.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif options.resume:
        cfg.resume, cfg.load_from = True, options.resume
    if options.auto_scale_lr:
        if 'auto_scale_lr' not in cfg:
            raise ValueError('--auto-scale-lr: the config has no auto_scale_lr.base_batch_size')
        cfg.auto_scale_lr.enable = True
    if not options.validate:
        cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    if options.stop_signal:
        cfg.custom_hooks = [*cfg.get('custom_hooks', []),
                            dict(type='bocb_mm.StopOnSignalHook', signal=options.stop_signal)]
    # Schedule-Free optimizers need their train/eval modes switched around evaluation and saving
    from bocb_mm.engine.schedule_free import add_schedule_free_hook
    add_schedule_free_hook(cfg)
    return cfg


def check_config(cfg: Config, warn: Callable[[str], None] | None = None) -> None:
    """Check what would otherwise fail after the data set and the model are built.

    The optimizer config (:func:`~bocb_mm.optim.config_check.check_optim_cfg`), the data roots
    (:func:`~bocb_mm.utils.check_data_roots`) and, for a resuming run, its checkpoint
    (:func:`~bocb_mm.utils.resume.prepare_resume`: a truncated latest checkpoint falls back to
    the newest intact one, which ``cfg`` then names).

    Args:
        cfg: A config from :func:`build_config` (changed in place by the resume fallback).
        warn: Receives warnings (the resume fallback); default: ``warnings.warn``.

    Raises:
        SetupError: naming the problem.
    """
    from bocb_mm.optim.config_check import check_optim_cfg
    from bocb_mm.utils import check_data_roots
    from bocb_mm.utils.resume import prepare_resume
    if warn is None:
        import warnings

        def warn(msg: str) -> None:
            warnings.warn(msg, stacklevel=3)
    try:
        check_optim_cfg(cfg)
        check_data_roots(cfg)
        prepare_resume(cfg, log=warn)
    except _setup_errors() as err:
        raise SetupError(str(err)) from err


def build_runner(cfg: Config):
    """mmengine's Runner of ``cfg`` (``runner_type`` honoured)."""
    from mmengine.registry import RUNNERS
    from mmengine.runner import Runner
    return Runner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(cfg)


def train(config: str | Config, options: TrainOptions,
          warn: Callable[[str], None] | None = None):
    """Build the config of a run, check it, then train it with mmengine's Runner.

    Args:
        config: A config file, or one loaded from a file.
        options: The run's options.
        warn: Receives warnings (see :func:`check_config`).

    Returns:
        The Runner, after training.

    Raises:
        SetupError: a bad optimizer config, missing data or an unusable resume checkpoint.
        Stopped: the ``stop_signal`` came; the run saved a checkpoint and stopped.
    """
    cfg = build_config(config, options)
    check_config(cfg, warn)
    runner = build_runner(cfg)
    runner.train()
    from bocb_mm.engine.preemption import StopOnSignalHook
    if any(isinstance(h, StopOnSignalHook) and h.stopped for h in runner.hooks):
        raise Stopped(f'stopped by signal {options.stop_signal}; checkpoint in {cfg.work_dir}')
    return runner
