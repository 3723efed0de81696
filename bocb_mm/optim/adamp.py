"""AdamP: Adam that removes the radial update component on scale-invariant weights.

Paper:
    Byeongho Heo, Sanghyuk Chun, Seong Joon Oh, Dongyoon Han, Sangdoo Yun, Gyuwan Kim,
    Youngjung Uh and Jung-Woo Ha. "AdamP: Slowing Down the Slowdown for Momentum Optimizers on
    Scale-invariant Weights". ICLR 2021. arXiv:2006.08217.

Official code:
    https://github.com/clovaai/AdamP (PyPI package ``adamp``).

Semantics follow the official release: Adam moments with bias correction
(``denom = sqrt(v) / sqrt(1 - beta2^t) + eps``, step size ``lr / (1 - beta1^t)``), an optional
Nesterov numerator ``beta1 * m + (1 - beta1) * grad``, the projection of
:func:`bocb_mm.optim.sgdp.project_radial` on weights with more than one dimension, and decoupled
weight decay ``p *= 1 - lr * weight_decay * ratio`` (``ratio = wd_ratio`` on projected weights).
The projection is selected on device (no host sync), with the official numbers.
"""
from __future__ import annotations

import math
from typing import Any, Mapping

import torch
from torch import Tensor

from bocb_mm.optim._base import BOCBOptimizer, Params, foreach_or_loop, scratch, zeros_like
from bocb_mm.optim._utils import as_tuple, check_adam_hparams
from bocb_mm.optim.sgdp import (check_projection_hparams, decay_factor, project_and_decay_,
                               project_radial)
from bocb_mm.registry import OPTIMIZERS


@OPTIMIZERS.register_module()
class AdamP(BOCBOptimizer):
    """Adam with projection for scale-invariant weights (AdamP).

    Args:
        params: Iterable of parameters or dicts defining parameter groups.
        lr: Learning rate, ``>= 0``.
        betas: Coefficients of the running averages of the gradient and its square, each in
            [0, 1).
        eps: Added to the denominator and to norms in the projection, ``>= 0``.
        weight_decay: Decoupled weight decay, ``>= 0``.
        delta: Threshold of the cosine-similarity test, ``> 0``.
        wd_ratio: Weight-decay multiplier on projected weights, in [0, 1].
        nesterov: Use the Nesterov numerator ``beta1 * m + (1 - beta1) * grad``.
        foreach: Use the multi-tensor (``torch._foreach_*``) implementation; ``None`` picks it
            when all parameters are on an accelerator.
    """

    group_defaults = dict(nesterov=False)

    def __init__(self,
                 params: Params,
                 lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8,
                 weight_decay: float = 0.0,
                 delta: float = 0.1,
                 wd_ratio: float = 0.1,
                 nesterov: bool = False,
                 foreach: bool | None = None) -> None:
        defaults = dict(lr=lr, betas=as_tuple(betas), eps=eps, weight_decay=weight_decay,
                        delta=delta, wd_ratio=wd_ratio, nesterov=nesterov, foreach=foreach)
        super().__init__(params, defaults)

    @staticmethod
    def check_hparams(group: Mapping[str, Any]) -> None:
        """Raise ``ValueError`` / ``TypeError`` naming the first invalid hyper-parameter."""
        check_adam_hparams(group)
        check_projection_hparams(group)

    def init_state(self, state: dict[str, Any], p: Tensor, group: dict[str, Any]) -> None:
        state['exp_avg'] = zeros_like(p)
        state['exp_avg_sq'] = zeros_like(p)

    def update_group(self, group: dict[str, Any], params: list[Tensor],
                     states: list[dict[str, Any]], **kwargs: Any) -> None:
        foreach_or_loop(self.foreach(group, params), _single_tensor_adamp, _multi_tensor_adamp,
                        params, [p.grad for p in params], [s['exp_avg'] for s in states],
                        [s['exp_avg_sq'] for s in states], steps=[s['step'] for s in states],
                        lr=group['lr'], betas=group['betas'], eps=group['eps'],
                        weight_decay=group['weight_decay'], delta=group['delta'],
                        wd_ratio=group['wd_ratio'], nesterov=group['nesterov'])


def _single_tensor_adamp(params: list[Tensor], grads: list[Tensor], exp_avgs: list[Tensor],
                         exp_avg_sqs: list[Tensor], *, steps: list[int], lr: float,
                         betas: tuple[float, float], eps: float, weight_decay: float,
                         delta: float, wd_ratio: float, nesterov: bool) -> None:
    beta1, beta2 = betas
    plain = 1 - lr * weight_decay * 1
    reduced = 1 - lr * weight_decay * wd_ratio
    like = scratch(params)  # the denominator, then (in place) the update
    for p, grad, exp_avg, exp_avg_sq, step in zip(params, grads, exp_avgs, exp_avg_sqs, steps):
        bias_correction1 = 1 - beta1**step
        bias_correction2 = 1 - beta2**step
        exp_avg.mul_(beta1).add_(grad, alpha=1 - beta1)
        exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        denom = torch.sqrt(exp_avg_sq, out=like(p)).div_(math.sqrt(bias_correction2)).add_(eps)
        step_size = lr / bias_correction1
        if nesterov:
            update = (beta1 * exp_avg + (1 - beta1) * grad).div_(denom)
        else:
            update = torch.div(exp_avg, denom, out=denom)
        if p.dim() > 1:
            update, projected = project_radial(p, grad, update, delta, eps)
            if weight_decay > 0:
                p.mul_(decay_factor(p, projected, plain, reduced))
        elif weight_decay > 0:
            p.mul_(plain)
        p.add_(update, alpha=-step_size)


def _multi_tensor_adamp(params: list[Tensor], grads: list[Tensor], exp_avgs: list[Tensor],
                        exp_avg_sqs: list[Tensor], *, step: int, lr: float,
                        betas: tuple[float, float], eps: float, weight_decay: float,
                        delta: float, wd_ratio: float, nesterov: bool) -> None:
    beta1, beta2 = betas
    plain = 1 - lr * weight_decay * 1
    reduced = 1 - lr * weight_decay * wd_ratio
    bias_correction1 = 1 - beta1**step
    bias_correction2 = 1 - beta2**step

    torch._foreach_mul_(exp_avgs, beta1)
    torch._foreach_add_(exp_avgs, grads, alpha=1 - beta1)
    torch._foreach_mul_(exp_avg_sqs, beta2)
    torch._foreach_addcmul_(exp_avg_sqs, grads, grads, value=1 - beta2)
    denom = torch._foreach_sqrt(exp_avg_sqs)
    torch._foreach_div_(denom, math.sqrt(bias_correction2))
    torch._foreach_add_(denom, eps)
    step_size = lr / bias_correction1
    if nesterov:
        numer = torch._foreach_mul(exp_avgs, beta1)
        torch._foreach_add_(numer, torch._foreach_mul(grads, 1 - beta1))
        updates = list(torch._foreach_div(numer, denom))
    else:
        updates = list(torch._foreach_div(exp_avgs, denom))

    updates = project_and_decay_(params, grads, updates, delta=delta, eps=eps,
                                 weight_decay=weight_decay, plain=plain, reduced=reduced)
    torch._foreach_add_(params, updates, alpha=-step_size)
