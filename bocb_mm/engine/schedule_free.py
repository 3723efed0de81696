"""Schedule-Free optimizers in an mmengine Runner: train/eval modes, BatchNorm, checkpoints.

A Schedule-Free optimizer (``schedulefree.AdamWScheduleFree``, registered as
``bocb_mm.AdamWScheduleFree``) keeps two points: in train mode the parameters hold ``y``, where
gradients are taken; in eval mode they hold the average ``x``, the weights to evaluate and ship.
:class:`ScheduleFreeHook` switches the optimizer (``optimizer.train()`` / ``optimizer.eval()``)
around the Runner's loops:

* ``before_train`` and ``before_train_epoch``: train mode (a resumed run loads an eval-mode
  checkpoint and goes back to ``y`` here);
* ``before_val_epoch`` / ``before_test_epoch``: eval mode, then the BatchNorm running statistics
  recomputed at ``x`` on ``bn_batches`` training batches (the statistics collected during
  training belong to ``y``); ``after_val_epoch`` / ``after_test_epoch``: train mode again;
* ``before_save_checkpoint``: the checkpoint's weights and optimizer state are taken in eval
  mode (with BatchNorm recomputed), so a checkpoint evaluates as the averaged model, and the
  optimizer returns to train mode.

Resume is exact: the uninterrupted run makes the same ``y -> x -> y`` round trip at every save
that the resumed run makes when it loads ``x`` and switches to train mode, so both continue
from bitwise the same ``y``. The BatchNorm pass saves and restores the random states (torch,
CUDA, numpy, python) so data order and augmentation stay those of an uninterrupted run.

:func:`add_schedule_free_hook` adds the hook to a config whose optimizer is Schedule-Free
(``bocb_mm.training.build_config`` calls it); in a project's own ``tools/train.py`` add it to
``custom_hooks`` yourself: ``dict(type='bocb_mm.ScheduleFreeHook')``.
"""
from __future__ import annotations

import random
from contextlib import contextmanager
from typing import Any, Iterator, Mapping

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.runner.checkpoint import weights_to_cpu
from mmengine.utils import apply_to
from torch import nn

from bocb_mm.registry import HOOKS

__all__ = ['ScheduleFreeHook', 'add_schedule_free_hook', 'is_schedule_free',
           'schedule_free_optimizers', 'recompute_batchnorm']

HOOK_TYPE = 'bocb_mm.ScheduleFreeHook'
CHECKPOINT_KEY = 'schedule_free_train_params'


def _params(optimizer: torch.optim.Optimizer) -> list[torch.Tensor]:
    return [p for group in optimizer.param_groups for p in group['params']]


def is_schedule_free(optimizer: Any) -> bool:
    """Whether ``optimizer`` (an instance or a class) is one of ``schedulefree``'s."""
    cls = optimizer if isinstance(optimizer, type) else type(optimizer)
    return getattr(cls, '__module__', '').split('.')[0] == 'schedulefree'


def schedule_free_optimizers(optim_wrapper: Any) -> list[torch.optim.Optimizer]:
    """The Schedule-Free optimizers of an ``OptimWrapper`` or ``OptimWrapperDict``."""
    wrappers = optim_wrapper.values() if hasattr(optim_wrapper, 'values') else [optim_wrapper]
    optimizers = [getattr(wrapper, 'optimizer', None) for wrapper in wrappers]
    return [opt for opt in optimizers if opt is not None and is_schedule_free(opt)]


@contextmanager
def _preserved_random_state() -> Iterator[None]:
    """Restore torch's (CPU and current CUDA device), numpy's and python's random states."""
    devices = [torch.cuda.current_device()] if torch.cuda.is_available() else []
    py_state, np_state = random.getstate(), np.random.get_state()
    with torch.random.fork_rng(devices=devices):
        try:
            yield
        finally:
            random.setstate(py_state)
            np.random.set_state(np_state)


def recompute_batchnorm(model: nn.Module, dataloader: Any, batches: int) -> int:
    """Recompute the BatchNorm running statistics of ``model`` on ``batches`` batches.

    The statistics are reset and averaged over the batches (cumulative average, as
    ``momentum=None``); the model's training flag, the layers' momenta and the random states
    are restored.

    Args:
        model: An mmengine ``BaseModel`` (its ``data_preprocessor`` prepares the batches).
        dataloader: The training data loader.
        batches: How many batches; 0 skips.

    Returns:
        The number of batches used (0 when the model has no BatchNorm).
    """
    norms = [m for m in model.modules()
             if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]
    if batches <= 0 or not norms:
        return 0
    momenta, training = [m.momentum for m in norms], model.training
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None
    used = 0
    model.train()
    try:
        with torch.no_grad(), _preserved_random_state():
            for data in dataloader:
                if used >= batches:
                    break
                model._run_forward(model.data_preprocessor(data, True), mode='tensor')
                used += 1
    finally:
        for norm, momentum in zip(norms, momenta):
            norm.momentum = momentum
        model.train(training)
    return used


@HOOKS.register_module()
class ScheduleFreeHook(Hook):
    """Train/eval modes of Schedule-Free optimizers around training, evaluation and saving.

    Args:
        bn_batches: Training batches used to recompute the BatchNorm statistics at the averaged
            weights before each evaluation and checkpoint; 0 keeps the training statistics.
    """

    priority = 'ABOVE_NORMAL'  # before the NORMAL hooks (EMA, loggers) of the same stage

    def __init__(self, bn_batches: int = 50) -> None:
        if bn_batches < 0:
            raise ValueError(f'bn_batches must be >= 0, got {bn_batches}')
        self.bn_batches = bn_batches
        self._kept: dict[int, list[torch.Tensor]] = {}  # optimizer index -> train-mode params

    # ---- modes -----------------------------------------------------------------------------
    @staticmethod
    def _optimizers(runner) -> list[torch.optim.Optimizer]:
        wrapper = getattr(runner, 'optim_wrapper', None)
        if wrapper is None or isinstance(wrapper, Mapping):  # not built (test-only run)
            return []
        return schedule_free_optimizers(wrapper)

    def _train_mode(self, runner) -> None:
        """Train mode; the parameters get back the exact ``y`` kept when eval mode began (the
        library's ``train()`` recomputes ``y`` from ``x`` and ``z``, with rounding)."""
        kept, self._kept = self._kept, {}
        for index, optimizer in enumerate(self._optimizers(runner)):
            optimizer.train()
            if index in kept:
                with torch.no_grad():
                    for param, value in zip(_params(optimizer), kept[index]):
                        param.copy_(value)

    def _eval_mode(self, runner) -> bool:
        """Eval mode and BatchNorm at the averaged weights; False without an optimizer."""
        optimizers = self._optimizers(runner)
        for index, optimizer in enumerate(optimizers):
            if optimizer.param_groups[0]['train_mode'] and index not in self._kept:
                self._kept[index] = [p.detach().clone() for p in _params(optimizer)]
            optimizer.eval()
        if optimizers:
            self._recompute_batchnorm(runner)
        return bool(optimizers)

    def _recompute_batchnorm(self, runner) -> None:
        loop = getattr(runner, '_train_loop', None)
        dataloader = getattr(loop, 'dataloader', None)
        if dataloader is None or isinstance(loop, Mapping):
            return
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        recompute_batchnorm(model, dataloader, self.bn_batches)

    # ---- runner stages ---------------------------------------------------------------------
    def before_train(self, runner) -> None:
        self._train_mode(runner)

    def before_train_epoch(self, runner) -> None:
        self._train_mode(runner)

    def before_val_epoch(self, runner) -> None:
        self._eval_mode(runner)

    def after_val_epoch(self, runner, metrics=None) -> None:
        self._train_mode(runner)

    def before_test_epoch(self, runner) -> None:
        self._eval_mode(runner)

    def after_test_epoch(self, runner, metrics=None) -> None:
        self._train_mode(runner)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Replace the checkpoint's weights and optimizer state by their eval-mode values."""
        if not self._eval_mode(runner):
            return
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        checkpoint['state_dict'] = weights_to_cpu(model.state_dict())
        if 'optimizer' in checkpoint:
            checkpoint['optimizer'] = apply_to(runner.optim_wrapper.state_dict(),
                                               lambda x: hasattr(x, 'cpu'), lambda x: x.cpu())
            checkpoint[CHECKPOINT_KEY] = {index: [p.cpu() for p in params]
                                          for index, params in self._kept.items()}
        self._train_mode(runner)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Keep the exact train-mode parameters of a checkpoint for :meth:`before_train`."""
        if runner._resume and CHECKPOINT_KEY in checkpoint:
            self._kept = {int(index): params
                          for index, params in checkpoint[CHECKPOINT_KEY].items()}


def add_schedule_free_hook(cfg: Any) -> bool:
    """Append :class:`ScheduleFreeHook` to ``cfg.custom_hooks`` when the optimizer needs it.

    Args:
        cfg: An mmengine ``Config`` (changed in place).

    Returns:
        Whether the hook was added (False when no optimizer is Schedule-Free or a
        ``ScheduleFreeHook`` is already there).
    """
    hooks = list(cfg.get('custom_hooks') or [])
    if any(str(h.get('type', '')).endswith('ScheduleFreeHook') for h in hooks
           if isinstance(h, Mapping)):
        return False
    if not _config_is_schedule_free(cfg):
        return False
    cfg.custom_hooks = [*hooks, dict(type=HOOK_TYPE)]
    return True


def _config_is_schedule_free(cfg: Any) -> bool:
    from bocb_mm.optim.config_check import optimizer_classes
    return any(is_schedule_free(cls) for _, cls in optimizer_classes(cfg))
