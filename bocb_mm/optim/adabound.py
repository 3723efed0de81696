"""AdaBound: Adam whose per-element step size is clipped into bounds that close in on SGD's.

Paper:
    Liangchen Luo, Yuanhao Xiong, Yan Liu, Xu Sun. "Adaptive Gradient Methods with Dynamic Bound of
    Learning Rate". ICLR 2019. arXiv:1902.09843.

Official code:
    https://github.com/Luolc/AdaBound (PyPI ``adabound``), the semantics followed here.

The update at step ``t`` (element-wise, ``base_lr`` is the group's lr at construction)::

    g      = grad + weight_decay * p                       # coupled L2, as the official code
    m      = beta1 * m + (1 - beta1) * g
    v      = beta2 * v + (1 - beta2) * g * g               # AMSBound: v_max = max(v_max, v)
    alpha  = lr * sqrt(1 - beta2^t) / (1 - beta1^t) / (sqrt(v) + eps)
    eta    = final_lr * lr / base_lr                       # the bounds follow the lr schedule
    alpha  = clamp(alpha, eta * (1 - 1 / (gamma t + 1)), eta * (1 + 1 / (gamma t)))
    p      = p - alpha * m

Differences from the official code, none of which changes a trajectory:

* the official class keeps the base lrs in ``self.base_lrs``, outside the state_dict, so a
  resume that builds the optimizer from a scheduled lr would rescale the bounds; here each param
  group carries its own ``base_lr`` key, which the state_dict saves and restores;
* a group whose ``base_lr`` is 0 (built with ``lr=0``) uses ``eta = final_lr`` instead of dividing
  by zero; a schedule that takes ``lr`` to 0 gives ``eta = 0`` and a zero step, never NaN;
* ``p.grad`` is never modified, and ``foreach`` selects a multi-tensor path.
"""
from __future__ import annotations

import math
from typing import Any, Mapping

import torch
from torch import Tensor

from bocb_mm.registry import OPTIMIZERS

from ._base import BOCBOptimizer, Params, foreach_or_loop, lazy_state, scratch, zeros_like
from ._utils import as_tuple, check_betas, check_lr, check_nonneg, check_unit_interval

__all__ = ['AdaBound']


@OPTIMIZERS.register_module()
class AdaBound(BOCBOptimizer):
    """AdaBound / AMSBound (Luo et al., ICLR 2019).

    Args:
        params: Iterable of parameters or dicts defining parameter groups.
        lr: Adam-phase learning rate, >= 0. Default: 1e-3.
        betas: Coefficients of the running averages of the gradient and of its square, each in
            [0, 1). Default: (0.9, 0.999).
        final_lr: The SGD learning rate both bounds converge to, >= 0. It is rescaled by
            ``lr / base_lr`` so that an lr schedule moves the bounds too. Default: 0.1.
        gamma: Convergence speed of the bound functions, in (0, 1). Default: 1e-3.
        eps: Term added to the denominator, >= 0. Default: 1e-8.
        weight_decay: L2 penalty added to the gradient (coupled), >= 0. Default: 0.
        amsbound: Use the AMSBound variant (maximum of the second moments). Default: False.
        foreach: Multi-tensor (``torch._foreach_*``) implementation; ``None`` picks it for
            accelerator parameters and the per-tensor loop on CPU. Default: None.
    """

    group_defaults = dict(amsbound=False)

    def __init__(self,
                 params: Params,
                 lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999),
                 final_lr: float = 0.1,
                 gamma: float = 1e-3,
                 eps: float = 1e-8,
                 weight_decay: float = 0.0,
                 amsbound: bool = False,
                 *,
                 foreach: bool | None = None) -> None:
        defaults = dict(lr=lr, betas=as_tuple(betas), final_lr=final_lr, gamma=gamma, eps=eps,
                        weight_decay=weight_decay, amsbound=amsbound, foreach=foreach)
        super().__init__(params, defaults)

    @staticmethod
    def check_hparams(group: Mapping[str, Any]) -> None:
        """Raise ``ValueError`` / ``TypeError`` naming the first invalid hyper-parameter."""
        check_lr(group)
        check_betas(group['betas'])
        check_nonneg('final_lr', group['final_lr'])
        check_unit_interval('gamma', group['gamma'], open_left=True)
        check_nonneg('eps', group['eps'])
        check_nonneg('weight_decay', group['weight_decay'])

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group and record its current lr as ``base_lr`` (the bounds' reference)."""
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        group.setdefault('base_lr', _snapshot(group['lr']))

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        for group in self.param_groups:
            # Checkpoints of the official class carry no base lr: the current lr is the best guess.
            group.setdefault('base_lr', _snapshot(group['lr']))

    def init_state(self, state: dict[str, Any], p: Tensor, group: dict[str, Any]) -> None:
        state['exp_avg'] = zeros_like(p)
        state['exp_avg_sq'] = zeros_like(p)

    def update_group(self, group: dict[str, Any], params: list[Tensor],
                     states: list[dict[str, Any]], **kwargs: Any) -> None:
        amsbound = group['amsbound']
        max_exp_avg_sqs = lazy_state(params, states, 'max_exp_avg_sq') if amsbound else \
            [None] * len(params)
        beta1, beta2 = group['betas']
        lr, base_lr = group['lr'], group['base_lr']
        eta = group['final_lr'] * (lr / base_lr if base_lr > 0 else 1.0)
        step_sizes, lowers, uppers = [], [], []
        for state in states:
            t = state['step']
            step_sizes.append(lr * math.sqrt(1 - beta2**t) / (1 - beta1**t))
            lowers.append(eta * (1 - 1 / (group['gamma'] * t + 1)))
            uppers.append(eta * (1 + 1 / (group['gamma'] * t)))
        foreach_or_loop(self.foreach(group, params), _single_tensor, _multi_tensor, params,
                        [p.grad for p in params], [s['exp_avg'] for s in states],
                        [s['exp_avg_sq'] for s in states], max_exp_avg_sqs, step_sizes, lowers,
                        uppers, beta1=beta1, beta2=beta2, eps=group['eps'],
                        weight_decay=group['weight_decay'], amsbound=amsbound)


def _snapshot(lr: float | Tensor) -> float | Tensor:
    """The value of ``lr`` now: a tensor lr is copied, so that a scheduler that updates it in
    place does not move ``base_lr`` with it."""
    return lr.detach().clone() if isinstance(lr, Tensor) else lr


def _single_tensor(params: list[Tensor], grads: list[Tensor], exp_avgs: list[Tensor],
                   exp_avg_sqs: list[Tensor], max_exp_avg_sqs: list[Tensor],
                   step_sizes: list[float], lowers: list[float], uppers: list[float], *,
                   beta1: float, beta2: float, eps: float, weight_decay: float,
                   amsbound: bool) -> None:
    like = scratch(params)  # holds the decayed gradient, then the step sizes
    for i, p in enumerate(params):
        grad = grads[i]
        if weight_decay != 0:
            grad = torch.add(grad, p, alpha=weight_decay, out=like(p))
        exp_avg, exp_avg_sq = exp_avgs[i], exp_avg_sqs[i]
        exp_avg.mul_(beta1).add_(grad, alpha=1 - beta1)
        exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        if amsbound:
            torch.maximum(max_exp_avg_sqs[i], exp_avg_sq, out=max_exp_avg_sqs[i])
            second = max_exp_avg_sqs[i]
        else:
            second = exp_avg_sq
        # per-element step size, clipped into [lower, upper], times the momentum
        alpha = torch.sqrt(second, out=like(p)).add_(eps).reciprocal_().mul_(step_sizes[i])
        alpha.clamp_min_(lowers[i]).clamp_max_(uppers[i]).mul_(exp_avg)
        p.sub_(alpha)


def _multi_tensor(params: list[Tensor], grads: list[Tensor], exp_avgs: list[Tensor],
                  exp_avg_sqs: list[Tensor], max_exp_avg_sqs: list[Tensor],
                  step_sizes: list[float], lowers: list[float], uppers: list[float], *,
                  beta1: float, beta2: float, eps: float, weight_decay: float,
                  amsbound: bool) -> None:
    if weight_decay != 0:
        grads = torch._foreach_add(grads, params, alpha=weight_decay)
    torch._foreach_mul_(exp_avgs, beta1)
    torch._foreach_add_(exp_avgs, grads, alpha=1 - beta1)
    torch._foreach_mul_(exp_avg_sqs, beta2)
    torch._foreach_addcmul_(exp_avg_sqs, grads, grads, value=1 - beta2)
    if amsbound:
        torch._foreach_maximum_(max_exp_avg_sqs, exp_avg_sqs)
        second = max_exp_avg_sqs
    else:
        second = exp_avg_sqs
    alpha = torch._foreach_sqrt(second)
    torch._foreach_add_(alpha, eps)
    torch._foreach_reciprocal_(alpha)
    torch._foreach_mul_(alpha, step_sizes)
    torch._foreach_clamp_min_(alpha, lowers)
    torch._foreach_clamp_max_(alpha, uppers)
    torch._foreach_mul_(alpha, exp_avgs)
    torch._foreach_sub_(params, alpha)
