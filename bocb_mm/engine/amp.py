"""The AMP twin of an optim wrapper type, for ``tools/train.py --amp``.

mmengine's ``AmpOptimWrapper`` is the mixed-precision form of ``OptimWrapper``; bocb_mm's
:class:`~bocb_mm.engine.SophiaAmpOptimWrapper` is that of
:class:`~bocb_mm.engine.SophiaOptimWrapper`.
``--amp`` swaps a config's wrapper for its twin, so it works on every shipped config; a wrapper
without a twin keeps a clear error.

``--amp bf16`` swaps it for its bf16 twin instead (:class:`BF16OptimWrapper`,
:class:`SophiaBF16OptimWrapper`): the training forward runs under bfloat16 autocast on whatever
device the model is on (CPU included, where mmengine's ``AmpOptimWrapper`` refuses to start), with
no loss scaling (bf16 has fp32's exponent range) and so no per-step overflow check.
"""
from __future__ import annotations

import contextlib
from typing import Iterator

import torch
from mmengine.optim import OptimWrapper
from torch import nn

from bocb_mm.registry import OPTIM_WRAPPERS

from .sophia_wrapper import SophiaOptimWrapper

__all__ = ['AMP_TWINS', 'BF16_TWINS', 'AMP_DTYPES', 'amp_wrapper_type', 'enable_amp',
           'BF16Mixin', 'BF16OptimWrapper', 'SophiaBF16OptimWrapper']

#: ``--amp`` values -> autocast dtype names.
AMP_DTYPES: dict[str, str] = {'fp16': 'float16', 'bf16': 'bfloat16'}

#: Wrapper class name -> the class name of its AMP form (same scope).
AMP_TWINS: dict[str, str] = {
    'OptimWrapper': 'AmpOptimWrapper',
    'SophiaOptimWrapper': 'SophiaAmpOptimWrapper',
}

#: Wrapper class name -> the class name of its bf16-autocast form (always in scope bocb_mm).
BF16_TWINS: dict[str, str] = {
    'OptimWrapper': 'BF16OptimWrapper',
    'SophiaOptimWrapper': 'SophiaBF16OptimWrapper',
}


class BF16Mixin:
    """Runs the wrapper's ``optim_context`` under bfloat16 autocast (no loss scaling).

    Put it before the mmengine / bocb_mm wrapper in the bases.
    """

    @contextlib.contextmanager
    def optim_context(self, model: nn.Module) -> Iterator[None]:
        """The base wrapper's context, plus ``autocast(dtype=torch.bfloat16)``.

        Args:
            model: The training model.
        """
        from mmengine.runner.amp import autocast
        with super().optim_context(model), autocast(dtype=torch.bfloat16,  # type: ignore[misc]
                                                     cache_enabled=False):
            yield


@OPTIM_WRAPPERS.register_module()
class BF16OptimWrapper(BF16Mixin, OptimWrapper):
    """mmengine's ``OptimWrapper`` with the forward under bfloat16 autocast (``--amp bf16``)."""


@OPTIM_WRAPPERS.register_module()
class SophiaBF16OptimWrapper(BF16Mixin, SophiaOptimWrapper):
    """:class:`~bocb_mm.engine.SophiaOptimWrapper` with the forward (and the Hessian re-run,
    which replays the captured autocast state) under bfloat16 autocast."""


def amp_wrapper_type(wrapper: str) -> str | None:
    """The AMP form of the optim wrapper type ``wrapper``, keeping its scope prefix.

    Args:
        wrapper: A config's ``optim_wrapper.type``, e.g. ``'OptimWrapper'`` or
            ``'bocb_mm.SophiaOptimWrapper'``.

    Returns:
        ``wrapper`` itself when it already is an AMP wrapper, its twin (e.g.
        ``'bocb_mm.SophiaAmpOptimWrapper'``), or ``None`` when it has none.
    """
    scope, _, name = wrapper.rpartition('.')
    if name.startswith('Amp') or name in AMP_TWINS.values():
        return wrapper
    twin = AMP_TWINS.get(name)
    if twin is None:
        return None
    return f'{scope}.{twin}' if scope else twin


def enable_amp(optim_wrapper: dict, dtype: str = 'fp16') -> dict:
    """Switch an ``optim_wrapper`` config to its AMP form in place (what ``--amp`` does).

    Args:
        optim_wrapper: The config's ``optim_wrapper`` dict (an mmengine ``ConfigDict`` works).
        dtype: ``'fp16'`` (mmengine's AMP wrapper, float16 autocast, dynamic loss scale) or
            ``'bf16'`` (the bf16 twin: bfloat16 autocast, no loss scaling).

    Returns:
        The same dict, with ``type`` set to the AMP twin and, for fp16, ``loss_scale='dynamic'``
        unless the config sets one.

    Raises:
        ValueError: If the wrapper has no AMP form, or ``dtype`` is unknown.
    """
    if dtype not in AMP_DTYPES:
        raise ValueError(f'--amp: unknown dtype {dtype!r}; expected one of {", ".join(AMP_DTYPES)}')
    wrapper = optim_wrapper.get('type', 'OptimWrapper')
    if dtype == 'bf16':
        return _enable_bf16(optim_wrapper, wrapper)
    amp_type = amp_wrapper_type(wrapper)
    if amp_type is None:
        raise ValueError(f'--amp: the config uses {wrapper}, which has no AMP form (known: '
                         f'{", ".join(AMP_TWINS)}); set an AMP-capable optim wrapper in the '
                         'config instead')
    if amp_type != wrapper:
        optim_wrapper['type'] = amp_type
        optim_wrapper.setdefault('loss_scale', 'dynamic')
    return optim_wrapper


def _enable_bf16(optim_wrapper: dict, wrapper: str) -> dict:
    name = wrapper.rpartition('.')[2]
    if name in BF16_TWINS.values():
        return optim_wrapper
    twin = BF16_TWINS.get(name)
    if twin is None:
        raise ValueError(f'--amp bf16: the config uses {wrapper}, which has no bf16 form (known: '
                         f'{", ".join(BF16_TWINS)})')
    optim_wrapper['type'] = f'bocb_mm.{twin}'
    optim_wrapper.pop('loss_scale', None)
    optim_wrapper.pop('dtype', None)
    return optim_wrapper
