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
from typing import Any, Callable, Iterable, Mapping, Union

import torch
from torch import Tensor

from bocb_mm.optim._utils import (CheckedOptimizer, as_tuple, check_betas, check_nonneg,
                                  params_with_grad, use_foreach)
from bocb_mm.registry import OPTIMIZERS

Params = Union[Iterable[Tensor], Iterable[dict[str, Any]]]


@OPTIMIZERS.register_module()
class Adan(CheckedOptimizer):
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
        check_nonneg('lr', group['lr'])
        check_betas(group['betas'], 3)
        check_nonneg('eps', group['eps'])
        check_nonneg('weight_decay', group['weight_decay'])
        check_nonneg('max_grad_norm', group['max_grad_norm'])

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        self.defaults.setdefault('max_grad_norm', 0.0)
        for group in self.param_groups:
            group.setdefault('max_grad_norm', self.defaults['max_grad_norm'])
            group.setdefault('no_prox', False)
            group.setdefault('foreach', None)

    def _clip_factor(self, grads: list[Tensor]) -> Tensor | None:
        """``min(max_grad_norm / (global_norm + eps), 1)`` as a 0-d device tensor, or ``None``."""
        max_grad_norm = self.defaults['max_grad_norm']
        if not max_grad_norm or not grads:
            return None
        # The official code adds the eps of the last parameter group.
        eps = self.param_groups[-1]['eps']
        device = grads[0].device
        norms = [n.to(device) for n in torch._foreach_norm(grads)]
        global_norm = torch.linalg.vector_norm(torch.stack(norms))
        return (max_grad_norm / (global_norm + eps)).clamp_(max=1.0)

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        """Perform one optimisation step.

        Args:
            closure: Optional callable that re-evaluates the model and returns the loss.

        Returns:
            The loss returned by ``closure``, or ``None``.
        """
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()

        group_params = [params_with_grad(group, 'Adan') for group in self.param_groups]
        clip = self._clip_factor([p.grad for params in group_params for p in params])

        for group, params in zip(self.param_groups, group_params):
            if not params:
                continue
            grads = [p.grad for p in params]
            if clip is not None:  # scaled copies; p.grad stays untouched
                grads = [torch.mul(g, clip.to(g.device)) for g in grads]
            exp_avgs, exp_avg_sqs, exp_avg_diffs, pre_grads, steps = [], [], [], [], []
            for p, grad in zip(params, grads):
                state = self.state[p]
                if len(state) == 0:
                    state['step'] = 0
                    state['exp_avg'] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    state['exp_avg_sq'] = torch.zeros_like(p,
                                                           memory_format=torch.preserve_format)
                    state['exp_avg_diff'] = torch.zeros_like(
                        p, memory_format=torch.preserve_format)
                    # previous gradient := current one, so the first difference is zero
                    state['pre_grad'] = grad.clone(memory_format=torch.preserve_format)
                state['step'] += 1
                exp_avgs.append(state['exp_avg'])
                exp_avg_sqs.append(state['exp_avg_sq'])
                exp_avg_diffs.append(state['exp_avg_diff'])
                pre_grads.append(state['pre_grad'])
                steps.append(state['step'])
            kwargs = dict(lr=group['lr'], betas=group['betas'], eps=group['eps'],
                          weight_decay=group['weight_decay'], no_prox=group['no_prox'])
            if use_foreach(group['foreach'], params):
                # Tensors sharing device, dtype and step go through the same kernels.
                buckets: dict[tuple, list[int]] = {}
                for i, p in enumerate(params):
                    buckets.setdefault((p.device, p.dtype, steps[i]), []).append(i)
                for (_, _, step), idx in buckets.items():
                    _multi_tensor_adan([params[i] for i in idx], [grads[i] for i in idx],
                                       [exp_avgs[i] for i in idx], [exp_avg_sqs[i] for i in idx],
                                       [exp_avg_diffs[i] for i in idx],
                                       [pre_grads[i] for i in idx], step=step, **kwargs)
            else:
                _single_tensor_adan(params, grads, exp_avgs, exp_avg_sqs, exp_avg_diffs,
                                    pre_grads, steps, **kwargs)
        return loss


def _step_sizes(lr: float, betas: tuple[float, float, float],
                step: int) -> tuple[float, float, float]:
    """``lr / bc1``, ``lr * beta2 / bc2`` and ``sqrt(bc3)`` for the given step."""
    beta1, beta2, beta3 = betas
    return (lr / (1 - beta1**step), lr * beta2 / (1 - beta2**step),
            math.sqrt(1 - beta3**step))


def _single_tensor_adan(params: list[Tensor], grads: list[Tensor], exp_avgs: list[Tensor],
                        exp_avg_sqs: list[Tensor], exp_avg_diffs: list[Tensor],
                        pre_grads: list[Tensor], steps: list[int], *, lr: float,
                        betas: tuple[float, float, float], eps: float, weight_decay: float,
                        no_prox: bool) -> None:
    beta1, beta2, beta3 = betas
    for i, p in enumerate(params):
        grad, exp_avg, exp_avg_sq = grads[i], exp_avgs[i], exp_avg_sqs[i]
        exp_avg_diff, buf = exp_avg_diffs[i], pre_grads[i]
        step_size, step_size_diff, bias_correction3_sqrt = _step_sizes(lr, betas, steps[i])

        buf.neg_().add_(grad)  # buf := g - g_prev
        exp_avg.mul_(beta1).add_(grad, alpha=1 - beta1)
        exp_avg_diff.mul_(beta2).add_(buf, alpha=1 - beta2)
        buf.mul_(beta2).add_(grad)  # buf := g + beta2 * (g - g_prev)
        exp_avg_sq.mul_(beta3).addcmul_(buf, buf, value=1 - beta3)
        denom = exp_avg_sq.sqrt().div_(bias_correction3_sqrt).add_(eps)

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
