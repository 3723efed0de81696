"""Lion (EvoLved Sign Momentum).

Paper:
    Xiangning Chen, Chen Liang, Da Huang, Esteban Real, Kaiyuan Wang, Yao Liu, Hieu Pham,
    Xuanyi Dong, Thang Luong, Cho-Jui Hsieh, Yifeng Lu and Quoc V. Le. "Symbolic Discovery of
    Optimization Algorithms". NeurIPS 2023. arXiv:2302.06675.

Official code:
    https://github.com/google/automl/tree/master/lion

One step (Algorithm 2 of the paper, decoupled weight decay):

.. code-block:: text

    p <- p * (1 - lr * weight_decay)
    c <- beta1 * m + (1 - beta1) * g
    p <- p - lr * sign(c)
    m <- beta2 * m + (1 - beta2) * g
"""
from __future__ import annotations

from typing import Any, Mapping

import torch
from torch import Tensor

from bocb_mm.optim._base import BOCBOptimizer, Params, foreach_or_loop, scratch, zeros_like
from bocb_mm.optim._utils import as_tuple, check_betas, check_lr, check_nonneg
from bocb_mm.registry import OPTIMIZERS


@OPTIMIZERS.register_module()
class Lion(BOCBOptimizer):
    """Lion optimizer.

    Args:
        params: Iterable of parameters or dicts defining parameter groups.
        lr: Learning rate, ``>= 0`` (typically 3-10x smaller than AdamW's).
        betas: ``(beta1, beta2)``: interpolation factor of the update direction and decay of
            the momentum, each in [0, 1).
        weight_decay: Decoupled weight decay, ``>= 0`` (``p *= 1 - lr * weight_decay``).
        foreach: Use the multi-tensor (``torch._foreach_*``) implementation; ``None`` picks it
            when all parameters are on an accelerator.
    """

    counts_steps = False

    def __init__(self,
                 params: Params,
                 lr: float = 1e-4,
                 betas: tuple[float, float] = (0.9, 0.99),
                 weight_decay: float = 0.0,
                 foreach: bool | None = None) -> None:
        defaults = dict(lr=lr, betas=as_tuple(betas), weight_decay=weight_decay, foreach=foreach)
        super().__init__(params, defaults)

    @staticmethod
    def check_hparams(group: Mapping[str, Any]) -> None:
        """Raise ``ValueError`` / ``TypeError`` naming the first invalid hyper-parameter."""
        check_lr(group)
        check_betas(group['betas'], 2)
        check_nonneg('weight_decay', group['weight_decay'])

    def init_state(self, state: dict[str, Any], p: Tensor, group: dict[str, Any]) -> None:
        state['exp_avg'] = zeros_like(p)

    def update_group(self, group: dict[str, Any], params: list[Tensor],
                     states: list[dict[str, Any]], **kwargs: Any) -> None:
        foreach_or_loop(self.foreach(group, params), _single_tensor_lion, _multi_tensor_lion,
                        params, [p.grad for p in params], [s['exp_avg'] for s in states],
                        lr=group['lr'], betas=group['betas'],
                        weight_decay=group['weight_decay'])


def _single_tensor_lion(params: list[Tensor], grads: list[Tensor], exp_avgs: list[Tensor], *,
                        lr: float, betas: tuple[float, float], weight_decay: float) -> None:
    beta1, beta2 = betas
    like = scratch(params)
    for p, grad, exp_avg in zip(params, grads, exp_avgs):
        if weight_decay != 0:
            p.mul_(1 - lr * weight_decay)
        # c = beta1 m + (1 - beta1) g as one lerp pass; m likewise
        update = torch.lerp(exp_avg, grad, 1 - beta1, out=like(p)).sign_()
        p.add_(update, alpha=-lr)
        exp_avg.lerp_(grad, 1 - beta2)


def _multi_tensor_lion(params: list[Tensor], grads: list[Tensor], exp_avgs: list[Tensor], *,
                       lr: float, betas: tuple[float, float], weight_decay: float) -> None:
    beta1, beta2 = betas
    if weight_decay != 0:
        torch._foreach_mul_(params, 1 - lr * weight_decay)
    updates = torch._foreach_lerp(exp_avgs, grads, 1 - beta1)
    torch._foreach_sign_(updates)
    torch._foreach_add_(params, updates, alpha=-lr)
    torch._foreach_lerp_(exp_avgs, grads, 1 - beta2)
