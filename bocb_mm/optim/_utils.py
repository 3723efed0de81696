"""Argument checks shared by the bocb_mm optimizers (the step plumbing is in :mod:`._base`).

Every check raises ``ValueError`` naming the argument, its value and the allowed range (or
``TypeError`` for a value that is not a number, e.g. ``lr='0.1'`` from YAML or
``--cfg-options``), so a bad config fails at construction with a message the user can act on.

:class:`CheckedOptimizer` runs an optimizer's one hyper-parameter check (``check_hparams``) on
its constructor arguments and again on every param group (the constructor's ``params`` dicts,
``add_param_group``, mmengine's paramwise groups), with the same messages, and rejects
parameters that are not floating-point tensors.
"""
from __future__ import annotations

import numbers
from typing import Any, Mapping, Sequence

from torch import Tensor
from torch.optim import Optimizer
from torch.optim.optimizer import required


def check_number(name: str, value: Any) -> float:
    """``value`` as a float; ``TypeError`` naming ``name`` if it is not a real number.

    A one-element floating-point tensor counts as a number (torch accepts tensor learning rates);
    a tensor of another size is a ``ValueError``, as in torch.
    """
    if isinstance(value, Tensor):
        if value.numel() != 1:
            raise ValueError(f'Invalid {name}: a tensor of shape {tuple(value.shape)}; expected '
                             'a number or a one-element tensor')
        if value.is_floating_point():
            return float(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        hint = f" (a string: write {name}={value}, not {name}='{value}')" \
            if isinstance(value, str) else ''
        raise TypeError(f'Invalid {name}: {value!r} is a {type(value).__name__}{hint}; '
                        f'expected a number')
    return float(value)


def check_nonneg(name: str, value: float) -> None:
    """``value >= 0`` (lr, eps, weight_decay, final_lr ...)."""
    if not check_number(name, value) >= 0.0:  # also rejects NaN
        raise ValueError(f'Invalid {name}: {value!r}; expected {name} >= 0')


def check_lr(group: Mapping[str, Any], name: str = 'lr') -> None:
    """``group[name] >= 0``; torch's ``required`` passes in the constructor's defaults (every
    param group must then give its own, which :meth:`Optimizer.add_param_group` enforces)."""
    if group[name] is not required:
        check_nonneg(name, group[name])


def check_positive(name: str, value: float) -> None:
    """``value > 0`` (rho, trust_coeff, clip_threshold, delta ...)."""
    if not check_number(name, value) > 0.0:
        raise ValueError(f'Invalid {name}: {value!r}; expected {name} > 0')


def check_unit_interval(name: str, value: float, *, closed_right: bool = False,
                        open_left: bool = False) -> None:
    """``value`` in [0, 1) by default; ``closed_right`` -> [0, 1]; ``open_left`` -> (0, ...)."""
    number = check_number(name, value)
    low_ok = number > 0.0 if open_left else number >= 0.0
    high_ok = number <= 1.0 if closed_right else number < 1.0
    if not (low_ok and high_ok):
        interval = ('(' if open_left else '[') + '0, 1' + (']' if closed_right else ')')
        raise ValueError(f'Invalid {name}: {value!r}; expected {name} in {interval}')


def check_betas(betas: Sequence[float], n: int = 2, name: str = 'betas') -> None:
    """Each of ``n`` betas in [0, 1)."""
    if isinstance(betas, (str, bytes)) or not isinstance(betas, Sequence):
        raise TypeError(f'Invalid {name}: {betas!r} is a {type(betas).__name__}; expected a '
                        f'tuple of {n} numbers in [0, 1)')
    if len(betas) != n:
        raise ValueError(f'Invalid {name}: {tuple(betas)!r}; expected {n} values in [0, 1)')
    for i, beta in enumerate(betas):
        check_unit_interval(f'{name}[{i}]', beta)


def check_sgd_hparams(group: Mapping[str, Any]) -> None:
    """The SGD-style arguments SGDP and LARS share: lr, momentum, dampening, weight_decay, eps."""
    check_lr(group)
    check_unit_interval('momentum', group['momentum'])
    check_unit_interval('dampening', group['dampening'], closed_right=True)
    check_nonneg('weight_decay', group['weight_decay'])
    check_nonneg('eps', group['eps'])


def check_adam_hparams(group: Mapping[str, Any], n_betas: int = 2) -> None:
    """The Adam-style arguments: lr, ``n_betas`` betas, eps and weight_decay."""
    check_lr(group)
    check_betas(group['betas'], n_betas)
    check_nonneg('eps', group['eps'])
    check_nonneg('weight_decay', group['weight_decay'])


def as_tuple(value: Any) -> Any:
    """``tuple(value)`` for a list or tuple; anything else unchanged (for the checks to name)."""
    return tuple(value) if isinstance(value, (list, tuple)) else value


def check_float_params(group: Mapping[str, Any], index: int) -> None:
    """``TypeError`` naming the first parameter of ``group`` that is not a floating-point tensor.

    An integer (or bool, complex) tensor would otherwise fail only at ``step()``, with a casting
    error that names neither the tensor nor the optimizer.
    """
    names = group.get('param_names')
    for j, param in enumerate(group['params']):
        if param.is_floating_point():
            continue
        which = repr(names[j]) if names else f'params[{j}]'
        raise TypeError(f'Invalid parameter {which} of param group {index}: a {param.dtype} '
                        f'tensor of shape {tuple(param.shape)}; the optimizer updates '
                        'floating-point tensors only (register integer tensors as buffers, or '
                        'leave them out of the optimizer)')


class CheckedOptimizer(Optimizer):
    """An :class:`~torch.optim.Optimizer` whose every param group passes ``check_hparams``.

    Subclasses define ``check_hparams(group)``, the checks of their constructor, reading the
    hyper-parameters from a dict. It runs on the constructor's arguments (``defaults``) and
    again on each param group once the defaults are merged in, so a group's override (``lr``,
    ``weight_decay``, ``betas`` ... from ``params`` dicts, :meth:`add_param_group` or mmengine's
    ``paramwise_cfg``) fails with the constructor's message, followed by the group's index.
    """

    def __init__(self, params: Any, defaults: dict[str, Any]) -> None:
        self.check_hparams(defaults)
        super().__init__(params, defaults)

    @staticmethod
    def check_hparams(group: Mapping[str, Any]) -> None:
        """Raise ``ValueError`` / ``TypeError`` naming the first invalid hyper-parameter."""
        raise NotImplementedError

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """torch's ``add_param_group``, then the hyper-parameter and dtype checks of the group."""
        super().add_param_group(param_group)
        index = len(self.param_groups) - 1
        try:
            self._check_group(self.param_groups[index], index)
        except (TypeError, ValueError):
            self.param_groups.pop()
            raise

    def _check_group(self, group: Mapping[str, Any], index: int) -> None:
        try:
            self.check_hparams(group)
        except (TypeError, ValueError) as err:
            raise type(err)(f'{err} (param group {index})') from None
        check_float_params(group, index)
