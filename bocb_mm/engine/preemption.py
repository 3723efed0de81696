"""Stop a training cleanly on a signal: checkpoint, stop, and let the caller start it again.

A cluster that preempts jobs or enforces a time limit warns a job with a signal first (Slurm:
``sbatch --signal=B:USR1@120``). :class:`StopOnSignalHook` turns that signal into a clean stop:
the current epoch (iteration, for iteration-based loops) finishes, a checkpoint is written
through the run's own ``CheckpointHook`` (its file names, ``max_keep_ckpts`` and
``last_checkpoint``), and the train loop ends. A run resumed from that checkpoint
(``tools/train.py --resume``) continues exactly where an uninterrupted run would be: an epoch
boundary needs no data loader position.

``tools/train.py --stop-signal USR1`` adds the hook and exits with :data:`STOPPED_EXIT` when it
stopped this way.
"""
from __future__ import annotations

import signal
import threading

from mmengine.hooks import CheckpointHook, Hook
from mmengine.runner import IterBasedTrainLoop

from bocb_mm.registry import HOOKS
from bocb_mm.training.options import STOPPED_EXIT

__all__ = ['StopOnSignalHook', 'STOPPED_EXIT', 'signal_number']

def signal_number(name: str | int) -> int:
    """The number of a signal given as ``'USR1'``, ``'SIGUSR1'`` or ``10``.

    Raises:
        ValueError: naming the unknown signal.
    """
    if isinstance(name, int) or str(name).isdigit():
        return int(name)
    key = str(name).upper()
    key = key if key.startswith('SIG') else f'SIG{key}'
    try:
        return int(getattr(signal.Signals, key))
    except AttributeError:
        raise ValueError(f'unknown signal {name!r} (e.g. USR1, TERM)') from None


@HOOKS.register_module()
class StopOnSignalHook(Hook):
    """On ``signal``, finish the current epoch (or iteration), checkpoint it and stop training.

    Args:
        signal: The signal, by name (``'USR1'``) or number.

    Attributes:
        stopped: Whether the training stopped because of the signal.
    """

    priority = 'LOWEST'  # after CheckpointHook, so an epoch it saved is not saved twice

    def __init__(self, signal: str | int = 'USR1') -> None:
        self.signum = signal_number(signal)
        self.requested = False
        self.stopped = False
        self._previous = None

    def _request(self, *_) -> None:
        self.requested = True

    def before_train(self, runner) -> None:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(self.signum, self._request)

    def after_train(self, runner) -> None:
        if self._previous is not None:
            signal.signal(self.signum, self._previous)
            self._previous = None

    def after_train_epoch(self, runner) -> None:
        if self.requested and _by_epoch(runner):
            self._stop(runner, step=runner.epoch + 1, by_epoch=True)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if self.requested and not self.stopped and not _by_epoch(runner):
            self._stop(runner, step=runner.iter + 1, by_epoch=False)

    def _stop(self, runner, step: int, by_epoch: bool) -> None:
        checkpoint = next((h for h in runner.hooks if isinstance(h, CheckpointHook)), None)
        if checkpoint is None:
            raise RuntimeError('StopOnSignalHook needs a CheckpointHook to save the run')
        name = checkpoint.filename_tmpl.format(step)
        if not str(checkpoint.last_ckpt or '').endswith(name):
            if checkpoint.by_epoch != by_epoch:
                raise RuntimeError('StopOnSignalHook: the CheckpointHook counts '
                                   f'{"epochs" if checkpoint.by_epoch else "iterations"} and '
                                   'the train loop does not')
            checkpoint._save_checkpoint(runner)
        runner.train_loop.stop_training = True
        self.stopped = True
        runner.logger.warning(f'stopped by signal {signal.Signals(self.signum).name} after '
                              f'{"epoch" if by_epoch else "iteration"} {step}; resume from '
                              f'{checkpoint.last_ckpt}')


def _by_epoch(runner) -> bool:
    return not isinstance(runner.train_loop, IterBasedTrainLoop)
