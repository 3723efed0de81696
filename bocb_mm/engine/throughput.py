"""Throughput options for any config (``tools/train.py`` flags) and a per-phase step timer.

:func:`apply_throughput_options` applies, to a loaded mmengine config:

* ``gpu_data``: the batched on-device data path (:func:`bocb_mm.datasets.use_gpu_data_path`);
* ``compile``: mmengine's ``compile`` (``torch.compile`` of ``train_step``: data preprocessor,
  forward and backward; the optim wrapper's ``step`` stays eager, :class:`EagerStepHook`),
  ``True`` or a ``torch.compile`` mode;
* ``channels_last``: :class:`ChannelsLastHook` (model parameters and input batches in NHWC);
* ``trim_convs``: :class:`TrimPaddedConvsHook` (same-padded convolutions skip the kernel taps
  that only see padding, :mod:`bocb_mm.models.trimmed_conv`; exact);
* ``amp``: ``'fp16'`` (mmengine ``AmpOptimWrapper``, dynamic loss scale) or ``'bf16'`` (bf16
  autocast without loss scaling), see :func:`bocb_mm.engine.amp.enable_amp`;
* ``cudnn_benchmark``: mmengine's ``env_cfg.cudnn_benchmark``.

:class:`StepTimerHook` logs, per training iteration, the time of the data preprocessor, of the
forward + backward and of the optimizer step (synchronising the device around each phase, so use
it to measure, not to train), as ``preprocess_time``, ``fwd_bwd_time`` and ``optim_time`` beside
mmengine's ``time`` and ``data_time``.
"""
from __future__ import annotations

import time
from typing import Any

import torch
from mmengine.hooks import Hook
from torch import nn
from torch.utils.hooks import RemovableHandle

from bocb_mm.models.trimmed_conv import trim_padded_convs
from bocb_mm.registry import HOOKS

from .amp import enable_amp

__all__ = ['COMPILE_MODES', 'apply_throughput_options', 'ChannelsLastHook', 'EagerStepHook',
           'StepTimerHook', 'TrimPaddedConvsHook']

#: ``--compile`` values (``torch.compile`` modes; ``'default'`` is ``compile=True``).
COMPILE_MODES = ('default', 'reduce-overhead', 'max-autotune', 'max-autotune-no-cudagraphs')


def _add_hook(cfg: Any, hook: dict) -> None:
    hooks = list(cfg.get('custom_hooks') or [])
    if not any(h.get('type') == hook['type'] for h in hooks):
        hooks.append(hook)
    cfg['custom_hooks'] = hooks


def apply_throughput_options(cfg: Any, *, compile: str | bool | dict | None = None,
                             channels_last: bool = False, amp: str | None = None,
                             cudnn_benchmark: bool = False, gpu_data: bool = False,
                             step_timer: bool = False, trim_convs: bool = False) -> Any:
    """Apply the throughput options to a loaded config, in place.

    Args:
        cfg: An mmengine ``Config``.
        compile: ``None``/``False`` (eager), ``True`` or ``'default'`` (keeps a ``compile``
            dict the config already has, e.g. ``backend``), a ``torch.compile`` mode from
            :data:`COMPILE_MODES`, or a dict of ``torch.compile`` arguments.
        channels_last: Train in NHWC memory format.
        amp: ``None``, ``'fp16'`` or ``'bf16'``.
        cudnn_benchmark: Let cuDNN pick convolution algorithms by timing them.
        gpu_data: Use the batched on-device data path.
        step_timer: Add :class:`StepTimerHook` (per-phase times, synchronising the device).
        trim_convs: Add :class:`TrimPaddedConvsHook`.

    Returns:
        ``cfg``.

    Raises:
        ValueError: For an unknown compile mode or amp dtype, or a pipeline without batched
            ops.
    """
    if gpu_data:
        from bocb_mm.datasets.gpu_augment import use_gpu_data_path
        use_gpu_data_path(cfg)
    if compile:
        existing = cfg.get('compile')
        keep = isinstance(existing, dict) and compile in (True, 'default')
        cfg['compile'] = dict(existing) if keep else _compile_cfg(compile)
        _add_hook(cfg, dict(type='bocb_mm.EagerStepHook'))
    if channels_last:
        _add_hook(cfg, dict(type='bocb_mm.ChannelsLastHook'))
    if trim_convs:
        _add_hook(cfg, dict(type='bocb_mm.TrimPaddedConvsHook'))
    if amp:
        enable_amp(cfg['optim_wrapper'], amp)
    if cudnn_benchmark:
        env_cfg = dict(cfg.get('env_cfg') or {})
        env_cfg['cudnn_benchmark'] = True
        cfg['env_cfg'] = env_cfg
    if step_timer:
        _add_hook(cfg, dict(type='bocb_mm.StepTimerHook'))
    return cfg


def _compile_cfg(compile: str | bool | dict) -> bool | dict:
    if compile is True or compile == 'default':
        return True
    if isinstance(compile, dict):
        return dict(compile)
    if compile not in COMPILE_MODES:
        raise ValueError(f'--compile: unknown mode {compile!r}; expected one of '
                         f'{", ".join(COMPILE_MODES)}')
    return dict(mode=compile)


def _unwrap(model: nn.Module) -> nn.Module:
    return getattr(model, 'module', model)


def _channels_last_output(module: nn.Module, args: tuple, output: Any) -> Any:
    inputs = output.get('inputs') if isinstance(output, dict) else None
    if isinstance(inputs, torch.Tensor) and inputs.dim() == 4:
        output['inputs'] = inputs.contiguous(memory_format=torch.channels_last)
    return output


@HOOKS.register_module()
class ChannelsLastHook(Hook):
    """Puts the model's 4-d parameters and every preprocessed input batch in channels_last."""

    priority = 'VERY_HIGH'

    def before_run(self, runner: Any) -> None:
        """Convert the model and hook its data preprocessor (once)."""
        model = _unwrap(runner.model)
        model.to(memory_format=torch.channels_last)
        preprocessor = getattr(model, 'data_preprocessor', None)
        if isinstance(preprocessor, nn.Module) and not getattr(preprocessor,
                                                               '_bocb_channels_last', False):
            preprocessor.register_forward_hook(_channels_last_output)
            preprocessor._bocb_channels_last = True


@HOOKS.register_module()
class TrimPaddedConvsHook(Hook):
    """Switches the model's same-padded convolutions to :class:`TrimmedConv2d` before the run.

    Exact (see :mod:`bocb_mm.models.trimmed_conv`): parameters and checkpoints are unchanged;
    a convolution on a feature map smaller than its kernel skips the taps that only see padding.
    """

    priority = 'VERY_HIGH'

    def before_run(self, runner: Any) -> None:
        """Switch the convolutions (once; a second call finds none left to switch)."""
        count = trim_padded_convs(_unwrap(runner.model))
        if count:
            runner.logger.info(f'TrimPaddedConvsHook: {count} same-padded convolutions skip '
                               'the kernel taps that only see padding on small maps')


@HOOKS.register_module()
class EagerStepHook(Hook):
    """Keeps the optim wrapper's ``step`` out of ``torch.compile`` (``--compile``).

    mmengine compiles the whole ``train_step``; dynamo then traces into ``optim_wrapper.step``
    (gradient clipping, Sophia's Hessian refresh, the statistics wrappers, the optimizer), where
    it fails on some torch optimizers (dict subclasses in ``param_groups``). The forward and its
    AOT-compiled backward stay compiled; the step runs eagerly (foreach / fused kernels).
    """

    priority = 'VERY_HIGH'

    def before_train(self, runner: Any) -> None:
        """Wrap ``step`` of the optim wrapper(s) in ``torch._dynamo.disable`` (once)."""
        wrappers = getattr(runner.optim_wrapper, 'optim_wrappers', None)
        for wrapper in (wrappers.values() if wrappers else [runner.optim_wrapper]):
            if not getattr(wrapper, '_bocb_eager_step', False):
                wrapper.step = torch._dynamo.disable(wrapper.step)
                wrapper._bocb_eager_step = True


def _sync(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


@HOOKS.register_module()
class StepTimerHook(Hook):
    """Logs ``preprocess_time``, ``fwd_bwd_time`` and ``optim_time`` of every training iteration.

    The device is synchronised at each phase boundary, which costs a little throughput: use it
    for measurements (``tools/benchmark/train_throughput.py``), not in production runs. The
    timing hooks on the data preprocessor and the optimizer mark only inside a training
    iteration (not in validation) and are removed when training ends.
    """

    priority = 'NORMAL'  # after IterTimerHook, before LoggerHook (BELOW_NORMAL) logs the iter

    def __init__(self) -> None:
        self._marks: dict[str, float] = {}
        self._device = torch.device('cpu')
        self._handles: list[RemovableHandle] = []
        self._in_train_iter = False

    def _mark(self, name: str) -> None:
        if not self._in_train_iter:
            return
        _sync(self._device)
        self._marks[name] = time.perf_counter()

    def before_train(self, runner: Any) -> None:
        """Install the timing hooks on the data preprocessor and the optimizer."""
        self._remove_handles()
        model = _unwrap(runner.model)
        params = list(model.parameters())
        self._device = params[0].device if params else torch.device('cpu')
        preprocessor = getattr(model, 'data_preprocessor', None)
        if isinstance(preprocessor, nn.Module):
            self._handles.append(
                preprocessor.register_forward_hook(lambda *_: self._mark('preprocessed')))
        for optimizer in _optimizers(runner.optim_wrapper):
            self._handles += [
                optimizer.register_step_pre_hook(lambda *_: self._mark('step_start')),
                optimizer.register_step_post_hook(lambda *_: self._mark('step_end'))]

    def after_train(self, runner: Any) -> None:
        """Remove the timing hooks."""
        self._remove_handles()

    def _remove_handles(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def before_train_iter(self, runner: Any, batch_idx: int, data_batch: Any = None) -> None:
        """Start of the iteration (the batch is loaded)."""
        self._marks = {}
        self._in_train_iter = True
        self._mark('start')

    def after_train_iter(self, runner: Any, batch_idx: int, data_batch: Any = None,
                         outputs: Any = None) -> None:
        """Log the phases of the iteration that just ran."""
        self._mark('end')
        self._in_train_iter = False
        marks = self._marks
        start = marks['start']
        pre = marks.get('preprocessed', start)
        step_start = marks.get('step_start', marks['end'])
        step_end = marks.get('step_end', step_start)
        hub = runner.message_hub
        hub.update_scalar('train/preprocess_time', pre - start)
        hub.update_scalar('train/fwd_bwd_time', step_start - pre)
        hub.update_scalar('train/optim_time', step_end - step_start)


def _optimizers(optim_wrapper: Any) -> list[torch.optim.Optimizer]:
    """The torch optimizers of an optim wrapper or an ``OptimWrapperDict``."""
    if hasattr(optim_wrapper, 'optimizer'):
        return [optim_wrapper.optimizer]
    return [w.optimizer for w in getattr(optim_wrapper, 'optim_wrappers', {}).values()]
