"""Adan: Adaptive Nesterov Momentum.

Paper:
    Xingyu Xie, Pan Zhou, Huan Li, Zhouchen Lin and Shuicheng Yan. "Adan: Adaptive Nesterov
    Momentum Algorithm for Faster Optimizing Deep Models". IEEE TPAMI 2024. arXiv:2208.06677.

Official code:
    https://github.com/sail-sg/Adan

Betas follow the official code's convention, i.e. they are the *decay* factors (the paper's
``1 - beta``), default ``(0.98, 0.92, 0.99)``. With ``g`` the (optionally globally clipped)
gradient and ``g_prev`` the previous one (``g_prev = g`` at the first step, so the first
difference is zero):

.. code-block:: text

    d_g <- g - g_prev
    m   <- beta1 * m + (1 - beta1) * g
    d   <- beta2 * d + (1 - beta2) * d_g
    n   <- beta3 * n + (1 - beta3) * (g + beta2 * d_g)^2
    u   <- (m / (1 - beta1^t) + beta2 * d / (1 - beta2^t)) / (sqrt(n / (1 - beta3^t)) + eps)
    p   <- (p - lr * u) / (1 + lr * weight_decay)          (proximal, default)
    p   <- p * (1 - lr * weight_decay) - lr * u             (no_prox=True)

Global clipping (``max_grad_norm > 0``) multiplies every gradient by
``min(max_grad_norm / (||g||_global + eps), 1)``, computed on device without a host sync.
"""
from __future__ import annotations

import math
from typing import Any, Mapping

import torch
from torch import Tensor

from bocb_mm.optim._base import (BOCBOptimizer, Params, foreach_or_loop, global_grad_norm,
                                 scratch, zeros_like)
from bocb_mm.optim._utils import as_tuple, check_adam_hparams, check_nonneg
from bocb_mm.registry import OPTIMIZERS


@OPTIMIZERS.register_module()
class Adan(BOCBOptimizer):
    """Adan optimizer.

    Args:
        params: Iterable of parameters or dicts defining parameter groups.
        lr: Learning rate, ``>= 0``.
        betas: Decay factors ``(beta1, beta2, beta3)`` of the gradient, gradient-difference and
            squared-Nesterov-gradient averages (official code convention), each in [0, 1).
        eps: Added to the denominator, ``>= 0``.
        weight_decay: Decoupled weight decay, ``>= 0``.
        max_grad_norm: Clip the global gradient norm (over all groups) to this value; 0
            disables. Taken from the constructor, not per group.
        no_prox: Apply weight decay as ``p *= 1 - lr * weight_decay`` before the update instead
            of the proximal ``p /= 1 + lr * weight_decay`` after it.
        foreach: Use the multi-tensor (``torch._foreach_*``) implementation; ``None`` picks it
            when all parameters are on an accelerator.
    """

    group_defaults = dict(no_prox=False)
    global_defaults = dict(max_grad_norm=0.0)

    def __init__(self,
                 params: Params,
                 lr: float = 1e-3,
                 betas: tuple[float, float, float] = (0.98, 0.92, 0.99),
                 eps: float = 1e-8,
                 weight_decay: float = 0.0,
                 max_grad_norm: float = 0.0,
                 no_prox: bool = False,
                 foreach: bool | None = None) -> None:
        defaults = dict(lr=lr, betas=as_tuple(betas), eps=eps, weight_decay=weight_decay,
                        max_grad_norm=max_grad_norm, no_prox=no_prox, foreach=foreach)
        super().__init__(params, defaults)

    @staticmethod
    def check_hparams(group: Mapping[str, Any]) -> None:
        """Raise ``ValueError`` / ``TypeError`` naming the first invalid hyper-parameter."""
        check_adam_hparams(group, 3)
        check_nonneg('max_grad_norm', group['max_grad_norm'])

    def init_state(self, state: dict[str, Any], p: Tensor, group: dict[str, Any]) -> None:
        state['exp_avg'] = zeros_like(p)
        state['exp_avg_sq'] = zeros_like(p)
        state['exp_avg_diff'] = zeros_like(p)

    def prepare_step(self, params: list[Tensor]) -> dict[str, Any]:
        """The global clipping factor ``min(max_grad_norm / (global_norm + eps), 1)`` (0-d, on
        device), or ``None`` when clipping is off."""
        max_grad_norm = self.defaults['max_grad_norm']
        if not max_grad_norm or not params:
            return dict(clip=None)
        eps = self.param_groups[-1]['eps']  # the official code adds the last group's eps
        norm = global_grad_norm([p.grad for p in params])
        return dict(clip=(max_grad_norm / (norm + eps)).clamp_(max=1.0))

    def update_group(self, group: dict[str, Any], params: list[Tensor],
                     states: list[dict[str, Any]], *, clip: Tensor | None = None) -> None:
        grads = [p.grad for p in params]
        if clip is not None:  # scaled copies; p.grad stays untouched
            grads = [torch.mul(g, clip.to(g.device)) for g in grads]
        for state, grad in zip(states, grads):
            if 'pre_grad' not in state:  # the first step: g_prev := g, a zero first difference
                state['pre_grad'] = grad.clone(memory_format=torch.preserve_format)
        foreach_or_loop(self.foreach(group, params), _single_tensor_adan, _multi_tensor_adan,
                        params, grads, [s['exp_avg'] for s in states],
                        [s['exp_avg_sq'] for s in states], [s['exp_avg_diff'] for s in states],
                        [s['pre_grad'] for s in states], steps=[s['step'] for s in states],
                        lr=group['lr'], betas=group['betas'], eps=group['eps'],
                        weight_decay=group['weight_decay'], no_prox=group['no_prox'])


def _step_sizes(lr: float, betas: tuple[float, float, float],
                step: int) -> tuple[float, float, float]:
    """``lr / bc1``, ``lr * beta2 / bc2`` and ``sqrt(bc3)`` for the given step."""
    beta1, beta2, beta3 = betas
    return (lr / (1 - beta1**step), lr * beta2 / (1 - beta2**step),
            math.sqrt(1 - beta3**step))


def _single_tensor_adan(params: list[Tensor], grads: list[Tensor], exp_avgs: list[Tensor],
                        exp_avg_sqs: list[Tensor], exp_avg_diffs: list[Tensor],
                        pre_grads: list[Tensor], *, steps: list[int], lr: float,
                        betas: tuple[float, float, float], eps: float, weight_decay: float,
                        no_prox: bool) -> None:
    beta1, beta2, beta3 = betas
    like = scratch(params)
    for i, p in enumerate(params):
        grad, exp_avg, exp_avg_sq = grads[i], exp_avgs[i], exp_avg_sqs[i]
        exp_avg_diff, buf = exp_avg_diffs[i], pre_grads[i]
        step_size, step_size_diff, bias_correction3_sqrt = _step_sizes(lr, betas, steps[i])

        buf.neg_().add_(grad)  # buf := g - g_prev
        exp_avg.mul_(beta1).add_(grad, alpha=1 - beta1)
        exp_avg_diff.mul_(beta2).add_(buf, alpha=1 - beta2)
        buf.mul_(beta2).add_(grad)  # buf := g + beta2 * (g - g_prev)
        exp_avg_sq.mul_(beta3).addcmul_(buf, buf, value=1 - beta3)
        denom = torch.sqrt(exp_avg_sq, out=like(p)).div_(bias_correction3_sqrt).add_(eps)

        if no_prox and weight_decay != 0:
            p.mul_(1 - lr * weight_decay)
        p.addcdiv_(exp_avg, denom, value=-step_size)
        p.addcdiv_(exp_avg_diff, denom, value=-step_size_diff)
        if not no_prox and weight_decay != 0:
            p.div_(1 + lr * weight_decay)
        buf.copy_(grad)  # becomes g_prev of the next step


def _multi_tensor_adan(params: list[Tensor], grads: list[Tensor], exp_avgs: list[Tensor],
                       exp_avg_sqs: list[Tensor], exp_avg_diffs: list[Tensor],
                       pre_grads: list[Tensor], *, step: int, lr: float,
                       betas: tuple[float, float, float], eps: float, weight_decay: float,
                       no_prox: bool) -> None:
    beta1, beta2, beta3 = betas
    step_size, step_size_diff, bias_correction3_sqrt = _step_sizes(lr, betas, step)

    torch._foreach_neg_(pre_grads)
    torch._foreach_add_(pre_grads, grads)  # g - g_prev
    torch._foreach_mul_(exp_avgs, beta1)
    torch._foreach_add_(exp_avgs, grads, alpha=1 - beta1)
    torch._foreach_mul_(exp_avg_diffs, beta2)
    torch._foreach_add_(exp_avg_diffs, pre_grads, alpha=1 - beta2)
    torch._foreach_mul_(pre_grads, beta2)
    torch._foreach_add_(pre_grads, grads)  # g + beta2 * (g - g_prev)
    torch._foreach_mul_(exp_avg_sqs, beta3)
    torch._foreach_addcmul_(exp_avg_sqs, pre_grads, pre_grads, value=1 - beta3)
    denom = torch._foreach_sqrt(exp_avg_sqs)
    torch._foreach_div_(denom, bias_correction3_sqrt)
    torch._foreach_add_(denom, eps)

    if no_prox and weight_decay != 0:
        torch._foreach_mul_(params, 1 - lr * weight_decay)
    torch._foreach_addcdiv_(params, exp_avgs, denom, value=-step_size)
    torch._foreach_addcdiv_(params, exp_avg_diffs, denom, value=-step_size_diff)
    if not no_prox and weight_decay != 0:
        torch._foreach_div_(params, 1 + lr * weight_decay)
    torch._foreach_copy_(pre_grads, grads)  # becomes g_prev of the next step
