"""SophiaG: sign momentum clipped by an EMA of a Gauss-Newton-Bartlett diagonal Hessian estimate.

Paper:
    Hong Liu, Zhiyuan Li, David Hall, Percy Liang, Tengyu Ma. "Sophia: A Scalable Stochastic
    Second-order Optimizer for Language Model Pre-training". ICLR 2024. arXiv:2305.14342.

Official code:
    https://github.com/Liuhong99/Sophia (``sophia.py``, class ``SophiaG``), the semantics followed
    here; PyPI ``sophia-opt`` (import name ``sophia_opt``) packages it unchanged.

The update at step ``t`` (element-wise)::

    p  = p * (1 - lr * weight_decay)                      # decoupled decay
    m  = beta1 * m + (1 - beta1) * g                      # g = -grad if maximize
    p  = p - lr * sign(m) * min(|m| / (rho * bs * h + 1e-15), 1)

and, every ``k`` steps, the training loop calls :meth:`SophiaG.update_hessian` after a backward
pass of the loss on labels *sampled from the model's own output* (the GNB estimator), which folds
the current ``.grad`` into the Hessian EMA ``h = beta2 * h + (1 - beta2) * grad * grad``. ``h``
starts at zero, so until the first ``update_hessian`` every step is the clipped ``lr * sign(m)``
(a Lion-like step without interpolation).

``bs`` is the official ``step(bs=...)`` argument (tokens per batch in the paper, default 5120); it
scales the Hessian term, so ``rho * bs`` is the effective clipping constant. Here it is also a
constructor / param-group option, so that mmengine's plain ``optimizer.step()`` uses the configured
value; ``step(bs=...)`` still overrides it for one step.
"""
from __future__ import annotations

import warnings
from typing import Any, Callable, Mapping

import torch
from torch import Tensor

from bocb_mm.registry import OPTIMIZERS

from ._base import (BOCBOptimizer, Params, foreach_or_loop, params_with_grad, scratch,
                    zeros_like)
from ._utils import as_tuple, check_betas, check_lr, check_nonneg, check_positive

__all__ = ['SophiaG']


@OPTIMIZERS.register_module()
class SophiaG(BOCBOptimizer):
    """SophiaG (Liu et al., 2023), official semantics and defaults.

    Args:
        params: Iterable of parameters or dicts defining parameter groups.
        lr: Learning rate, >= 0. Default: 1e-4.
        betas: Coefficients of the gradient EMA and of the Hessian EMA, each in [0, 1).
            Default: (0.965, 0.99).
        rho: Clipping scale of the preconditioned step, > 0. Default: 0.04.
        weight_decay: Decoupled weight decay, >= 0. Default: 0.1.
        maximize: Maximize the objective instead of minimizing it. Default: False.
        bs: Batch-size factor multiplying ``rho`` (the official ``step(bs=...)``), > 0.
            Default: 5120.
        eps: Term added to the denominator, >= 0; the official code hard-codes 1e-15.
            Default: 1e-15.
        foreach: Multi-tensor (``torch._foreach_*``) implementation; ``None`` picks it for
            accelerator parameters and the per-tensor loop on CPU. Default: None.
    """

    group_defaults = dict(maximize=False, bs=5120, eps=1e-15)
    #: Steps after which stepping with no :meth:`update_hessian` since construction (or since
    #: the last refresh) warns once: the official ``k``. ``SophiaOptimWrapper`` sets its own
    #: ``hessian_interval`` here; 0 never warns (a run that keeps ``h = 0`` on purpose).
    hessian_interval: int = 10
    _steps_since_hessian: int = 0
    _warned_no_hessian: bool = False

    def __init__(self,
                 params: Params,
                 lr: float = 1e-4,
                 betas: tuple[float, float] = (0.965, 0.99),
                 rho: float = 0.04,
                 weight_decay: float = 1e-1,
                 *,
                 maximize: bool = False,
                 bs: float = 5120,
                 eps: float = 1e-15,
                 foreach: bool | None = None) -> None:
        defaults = dict(lr=lr, betas=as_tuple(betas), rho=rho, weight_decay=weight_decay,
                        maximize=maximize, bs=bs, eps=eps, foreach=foreach)
        super().__init__(params, defaults)

    @staticmethod
    def check_hparams(group: Mapping[str, Any]) -> None:
        """Raise ``ValueError`` / ``TypeError`` naming the first invalid hyper-parameter."""
        check_lr(group)
        check_betas(group['betas'])
        check_positive('rho', group['rho'])
        check_nonneg('weight_decay', group['weight_decay'])
        check_positive('bs', group['bs'])
        check_nonneg('eps', group['eps'])

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        for group in self.param_groups:
            group.pop('capturable', None)  # official option, not used here

    def init_state(self, state: dict[str, Any], p: Tensor, group: dict[str, Any]) -> None:
        state['exp_avg'] = zeros_like(p)
        state['hessian'] = zeros_like(p)

    @torch.no_grad()
    def update_hessian(self) -> None:
        """Fold the current gradients into the Hessian EMA: ``h = beta2 h + (1 - beta2) g*g``.

        Call it after the backward pass of the GNB loss (labels sampled from the model's output).
        """
        for group in self.param_groups:
            params = params_with_grad(group, 'SophiaG')
            if not params:
                continue
            _, beta2 = group['betas']
            hessians = [s['hessian'] for s in self.group_states(group, params, count=False)]
            foreach_or_loop(self.foreach(group, params), _single_tensor_hessian,
                            _multi_tensor_hessian, hessians, [p.grad for p in params],
                            beta2=beta2)
        self._steps_since_hessian = 0

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None, bs: float | None = None) -> Any:
        """Perform one optimization step.

        Args:
            closure: Re-evaluates the model and returns the loss (run with grad enabled).
            bs: Batch-size factor for this step only; None uses the group's ``bs``.

        Returns:
            The closure's loss, or None.
        """
        self._steps_since_hessian += 1
        if 0 < self.hessian_interval < self._steps_since_hessian \
                and not self._warned_no_hessian:
            self._warned_no_hessian = True
            warnings.warn(
                f'SophiaG has taken {self._steps_since_hessian - 1} steps without an '
                f'update_hessian() call (refresh interval {self.hessian_interval}): its Hessian '
                'estimate is not refreshed, so every step is a clipped sign step. Wrap it in '
                "optim_wrapper=dict(type='bocb_mm.SophiaOptimWrapper', hessian_interval=10, ...) "
                '(SophiaAmpOptimWrapper with AMP), or '
                'call update_hessian() after a backward pass of the GNB loss every k steps',
                RuntimeWarning, stacklevel=2)
        return super().step(closure, bs=bs)

    def update_group(self, group: dict[str, Any], params: list[Tensor],
                     states: list[dict[str, Any]], *, bs: float | None = None) -> None:
        beta1, _ = group['betas']
        foreach_or_loop(self.foreach(group, params), _single_tensor, _multi_tensor, params,
                        [p.grad for p in params], [s['exp_avg'] for s in states],
                        [s['hessian'] for s in states], beta1=beta1, lr=group['lr'],
                        rho=group['rho'], bs=group['bs'] if bs is None else bs, eps=group['eps'],
                        weight_decay=group['weight_decay'], maximize=group['maximize'])


def _single_tensor_hessian(hessians: list[Tensor], grads: list[Tensor], *, beta2: float) -> None:
    for h, g in zip(hessians, grads):
        h.mul_(beta2).addcmul_(g, g, value=1 - beta2)


def _multi_tensor_hessian(hessians: list[Tensor], grads: list[Tensor], *, beta2: float) -> None:
    torch._foreach_mul_(hessians, beta2)
    torch._foreach_addcmul_(hessians, grads, grads, value=1 - beta2)


# foreach=None keeps the per-tensor loop on CPU: with the passes below it measured as fast as the
# multi-tensor path there (docs/throughput.md), and it needs no full-size temporary lists.
# Both paths compute sign(m) * min(|m| / d, 1) as clamp(m / d, -1, 1), which is the same number
# bit for bit (IEEE division is symmetric in sign): 17 memory passes per tensor instead of 24.
def _single_tensor(params: list[Tensor], grads: list[Tensor], exp_avgs: list[Tensor],
                   hessians: list[Tensor], *, beta1: float, lr: float, rho: float, bs: float,
                   eps: float, weight_decay: float, maximize: bool) -> None:
    like = scratch(params)
    for p, grad, exp_avg, hess in zip(params, grads, exp_avgs, hessians):
        if maximize:
            grad = torch.neg(grad, out=like(p))
        p.mul_(1 - lr * weight_decay)
        exp_avg.lerp_(grad, 1 - beta1)
        ratio = torch.mul(hess, rho * bs, out=like(p)).add_(eps)
        torch.div(exp_avg, ratio, out=ratio).clamp_(-1, 1)
        p.add_(ratio, alpha=-lr)


def _multi_tensor(params: list[Tensor], grads: list[Tensor], exp_avgs: list[Tensor],
                  hessians: list[Tensor], *, beta1: float, lr: float, rho: float, bs: float,
                  eps: float, weight_decay: float, maximize: bool) -> None:
    if maximize:
        grads = torch._foreach_neg(grads)
    torch._foreach_mul_(params, 1 - lr * weight_decay)
    torch._foreach_lerp_(exp_avgs, grads, 1 - beta1)
    denom = torch._foreach_mul(hessians, rho * bs)
    torch._foreach_add_(denom, eps)
    ratio = torch._foreach_div(exp_avgs, denom)
    del denom
    torch._foreach_clamp_min_(ratio, -1)
    torch._foreach_clamp_max_(ratio, 1)
    torch._foreach_add_(params, ratio, alpha=-lr)
