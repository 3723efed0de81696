"""NovoGrad: momentum SGD on gradients normalised by a per-tensor (layer-wise) second moment.

Paper:
    Boris Ginsburg, Patrice Castonguay, Oleksii Hrinchuk, Oleksii Kuchaiev, Vitaly Lavrukhin,
    Ryan Leary, Jason Li, Huyen Nguyen, Yang Zhang, Jonathan M. Cohen. "Stochastic Gradient
    Methods with Layer-wise Adaptive Moments for Training of Deep Networks". arXiv:1905.11286.

Official code:
    NVIDIA's implementation in the Jasper example,
    https://github.com/NVIDIA/DeepLearningExamples/tree/master/PyTorch/SpeechRecognition/Jasper,
    as ported to timm (``timm.optim.NvNovoGrad``), whose semantics are followed here.

The update at step ``t`` for one parameter tensor ``p`` (``v`` is a scalar per tensor)::

    n      = ||grad||_2^2
    v      = n                                    if v == 0 (first step, or all-zero history)
    v      = beta2 * v + (1 - beta2) * n          otherwise      (amsgrad: v_max = max(v_max, v))
    u      = grad / (sqrt(v) + eps) + weight_decay * p            # decay on the normalised grad
    u      = (1 - beta1) * u                      if grad_averaging
    m      = beta1 * m + u
    p      = p - lr * m

The ``v == 0`` test is done with ``torch.where`` on the device: no host synchronisation. The
scalar state lives in float32 for half-precision parameters and in the parameter's dtype otherwise
(timm: the default dtype). There is no bias correction, as in the official code.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping

import torch
from torch import Tensor

from bocb_mm.registry import OPTIMIZERS

from ._utils import (CheckedOptimizer, as_tuple, check_betas, check_nonneg, params_with_grad,
                     use_foreach)

__all__ = ['NovoGrad']


def _scalar_dtype(p: Tensor) -> torch.dtype:
    return torch.float32 if p.dtype in (torch.float16, torch.bfloat16) else p.dtype


@OPTIMIZERS.register_module()
class NovoGrad(CheckedOptimizer):
    """NovoGrad as NVIDIA's reference (timm ``NvNovoGrad``).

    Args:
        params: Iterable of parameters or dicts defining parameter groups.
        lr: Learning rate, >= 0. Default: 1e-3.
        betas: Momentum coefficient and the coefficient of the per-tensor second moment, each in
            [0, 1). Default: (0.95, 0.98).
        eps: Term added to the denominator, >= 0. Default: 1e-8.
        weight_decay: Weight decay added to the normalised gradient (the paper's decoupled form),
            >= 0. Default: 0.
        grad_averaging: Scale the normalised gradient by ``1 - beta1`` before the momentum.
            Default: False.
        amsgrad: Normalise with the running maximum of the second moment. Default: False.
        foreach: Multi-tensor (``torch._foreach_*``) implementation; ``None`` picks it for
            accelerator parameters and the per-tensor loop on CPU. Default: None.
    """

    def __init__(self,
                 params: Iterable[Tensor] | Iterable[dict[str, Any]],
                 lr: float = 1e-3,
                 betas: tuple[float, float] = (0.95, 0.98),
                 eps: float = 1e-8,
                 weight_decay: float = 0.0,
                 grad_averaging: bool = False,
                 amsgrad: bool = False,
                 *,
                 foreach: bool | None = None) -> None:
        defaults = dict(lr=lr, betas=as_tuple(betas), eps=eps, weight_decay=weight_decay,
                        grad_averaging=grad_averaging, amsgrad=amsgrad, foreach=foreach)
        super().__init__(params, defaults)

    @staticmethod
    def check_hparams(group: Mapping[str, Any]) -> None:
        """Raise ``ValueError`` / ``TypeError`` naming the first invalid hyper-parameter."""
        check_nonneg('lr', group['lr'])
        check_betas(group['betas'])
        check_nonneg('eps', group['eps'])
        check_nonneg('weight_decay', group['weight_decay'])

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault('grad_averaging', False)
            group.setdefault('amsgrad', False)
            group.setdefault('foreach', None)
        for s in self.state.values():
            if isinstance(s.get('step'), Tensor):
                s['step'] = int(s['step'].item())  # once, at load time, from other implementations

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Perform one optimization step.

        Args:
            closure: Re-evaluates the model and returns the loss (run with grad enabled).

        Returns:
            The closure's loss, or None.
        """
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()

        for group in self.param_groups:
            params = params_with_grad(group, 'NovoGrad')
            if not params:
                continue
            amsgrad = group['amsgrad']
            grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs = [], [], [], []
            for p in params:
                state = self.state[p]
                if len(state) == 0:
                    state['step'] = 0
                    state['exp_avg'] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    state['exp_avg_sq'] = torch.zeros((), dtype=_scalar_dtype(p), device=p.device)
                if amsgrad and 'max_exp_avg_sq' not in state:
                    state['max_exp_avg_sq'] = torch.zeros((), dtype=_scalar_dtype(p),
                                                          device=p.device)
                state['step'] += 1
                grads.append(p.grad)
                exp_avgs.append(state['exp_avg'])
                exp_avg_sqs.append(state['exp_avg_sq'])
                if amsgrad:
                    max_exp_avg_sqs.append(state['max_exp_avg_sq'])

            fn = _multi_tensor if use_foreach(group['foreach'], params) else _single_tensor
            beta1, beta2 = group['betas']
            fn(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, beta1=beta1, beta2=beta2,
               lr=group['lr'], eps=group['eps'], weight_decay=group['weight_decay'],
               grad_averaging=group['grad_averaging'], amsgrad=amsgrad)
        return loss


def _single_tensor(params: list[Tensor], grads: list[Tensor], exp_avgs: list[Tensor],
                   exp_avg_sqs: list[Tensor], max_exp_avg_sqs: list[Tensor], *, beta1: float,
                   beta2: float, lr: float, eps: float, weight_decay: float, grad_averaging: bool,
                   amsgrad: bool) -> None:
    for i, p in enumerate(params):
        grad, exp_avg_sq = grads[i], exp_avg_sqs[i]
        norm = torch.linalg.vector_norm(grad, dtype=exp_avg_sq.dtype)
        sq_norm = norm * norm
        # v <- n on the first step (v == 0), else the EMA; written with separately rounded
        # mul/add so that the stacked multi-tensor version rounds identically
        ema = exp_avg_sq * beta2 + sq_norm * (1 - beta2)
        exp_avg_sq.copy_(torch.where(exp_avg_sq == 0, sq_norm, ema))
        if amsgrad:
            torch.maximum(max_exp_avg_sqs[i], exp_avg_sq, out=max_exp_avg_sqs[i])
            denom = max_exp_avg_sqs[i].sqrt() + eps
        else:
            denom = exp_avg_sq.sqrt() + eps
        update = grad / denom.to(grad.dtype)
        if weight_decay != 0:
            update.add_(p, alpha=weight_decay)
        if grad_averaging:
            update.mul_(1 - beta1)
        exp_avgs[i].mul_(beta1).add_(update)
        p.add_(exp_avgs[i], alpha=-lr)


def _multi_tensor(params: list[Tensor], grads: list[Tensor], exp_avgs: list[Tensor],
                  exp_avg_sqs: list[Tensor], max_exp_avg_sqs: list[Tensor], *, beta1: float,
                  beta2: float, lr: float, eps: float, weight_decay: float, grad_averaging: bool,
                  amsgrad: bool) -> None:
    # The per-tensor scalars are stacked per dtype/device so the EMA is a handful of kernels.
    buckets: dict[tuple[torch.dtype, torch.device], list[int]] = {}
    for i, v in enumerate(exp_avg_sqs):
        buckets.setdefault((v.dtype, v.device), []).append(i)
    denoms: list[Tensor] = [None] * len(params)  # type: ignore[list-item]
    for (dtype, _), idx in buckets.items():
        norms = torch._foreach_norm([grads[i] for i in idx], dtype=dtype)
        sq_norm = torch.stack(norms)
        sq_norm = sq_norm * sq_norm
        v = torch.stack([exp_avg_sqs[i] for i in idx])
        v = torch.where(v == 0, sq_norm, v * beta2 + sq_norm * (1 - beta2))
        torch._foreach_copy_([exp_avg_sqs[i] for i in idx], list(v.unbind()))
        if amsgrad:
            v_max = torch.maximum(torch.stack([max_exp_avg_sqs[i] for i in idx]), v)
            torch._foreach_copy_([max_exp_avg_sqs[i] for i in idx], list(v_max.unbind()))
            v = v_max
        for i, d in zip(idx, (v.sqrt() + eps).unbind()):
            denoms[i] = d.to(grads[i].dtype)
    updates = torch._foreach_div(grads, denoms)
    if weight_decay != 0:
        torch._foreach_add_(updates, params, alpha=weight_decay)
    if grad_averaging:
        torch._foreach_mul_(updates, 1 - beta1)
    torch._foreach_mul_(exp_avgs, beta1)
    torch._foreach_add_(exp_avgs, updates)
    torch._foreach_add_(params, exp_avgs, alpha=-lr)
