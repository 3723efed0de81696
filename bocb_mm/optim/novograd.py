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

from typing import Any, Mapping

import torch
from torch import Tensor

from bocb_mm.registry import OPTIMIZERS

from ._base import BOCBOptimizer, Params, foreach_or_loop, lazy_state, scratch, zeros_like
from ._utils import as_tuple, check_adam_hparams

__all__ = ['NovoGrad']


def _scalar_dtype(p: Tensor) -> torch.dtype:
    """The dtype of the per-tensor second moment of ``p``: float32 for half-precision ``p``."""
    return torch.float32 if p.dtype in (torch.float16, torch.bfloat16) else p.dtype


def _scalar_zero(p: Tensor) -> Tensor:
    """The per-tensor second moment of ``p``: a 0-d zero in :func:`_scalar_dtype`."""
    return torch.zeros((), dtype=_scalar_dtype(p), device=p.device)


@OPTIMIZERS.register_module()
class NovoGrad(BOCBOptimizer):
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

    group_defaults = dict(grad_averaging=False, amsgrad=False)

    def __init__(self,
                 params: Params,
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
        check_adam_hparams(group)

    def state_dtype(self, p: Tensor, key: str) -> torch.dtype | None:
        """The per-tensor second moments stay float32 for half-precision parameters."""
        return _scalar_dtype(p) if key in ('exp_avg_sq', 'max_exp_avg_sq') else None

    def init_state(self, state: dict[str, Any], p: Tensor, group: dict[str, Any]) -> None:
        state['exp_avg'] = zeros_like(p)
        state['exp_avg_sq'] = _scalar_zero(p)

    def update_group(self, group: dict[str, Any], params: list[Tensor],
                     states: list[dict[str, Any]], **kwargs: Any) -> None:
        amsgrad = group['amsgrad']
        max_exp_avg_sqs = lazy_state(params, states, 'max_exp_avg_sq', _scalar_zero) if amsgrad \
            else [None] * len(params)
        beta1, beta2 = group['betas']
        foreach_or_loop(self.foreach(group, params), _single_tensor, _multi_tensor, params,
                        [p.grad for p in params], [s['exp_avg'] for s in states],
                        [s['exp_avg_sq'] for s in states], max_exp_avg_sqs, beta1=beta1,
                        beta2=beta2, lr=group['lr'],
                        eps=group['eps'], weight_decay=group['weight_decay'],
                        grad_averaging=group['grad_averaging'], amsgrad=amsgrad)


def _denominators(grads: list[Tensor], exp_avg_sqs: list[Tensor], max_exp_avg_sqs: list[Tensor],
                  *, beta2: float, eps: float, amsgrad: bool) -> list[Tensor]:
    """Update the per-tensor second moments; return ``sqrt(v) + eps`` per tensor (0-d, in the
    gradients' dtype). One device and dtype (a foreach_or_loop bucket): the scalars are stacked,
    so the EMA is a handful of kernels."""
    dtype = exp_avg_sqs[0].dtype
    sq_norm = torch.stack(torch._foreach_norm(grads, dtype=dtype))
    sq_norm = sq_norm * sq_norm
    v = torch.stack(exp_avg_sqs)
    # v <- n on the first step (v == 0), else the EMA
    v = torch.where(v == 0, sq_norm, v * beta2 + sq_norm * (1 - beta2))
    torch._foreach_copy_(exp_avg_sqs, list(v.unbind()))
    if amsgrad:
        v = torch.maximum(torch.stack(max_exp_avg_sqs), v)
        torch._foreach_copy_(max_exp_avg_sqs, list(v.unbind()))
    return list((v.sqrt() + eps).to(grads[0].dtype).unbind())


def _single_tensor(params: list[Tensor], grads: list[Tensor], exp_avgs: list[Tensor],
                   exp_avg_sqs: list[Tensor], max_exp_avg_sqs: list[Tensor], *, beta1: float,
                   beta2: float, lr: float, eps: float, weight_decay: float, grad_averaging: bool,
                   amsgrad: bool) -> None:
    denoms = _denominators(grads, exp_avg_sqs, max_exp_avg_sqs, beta2=beta2, eps=eps,
                           amsgrad=amsgrad)
    like = scratch(params)
    for p, grad, exp_avg, denom in zip(params, grads, exp_avgs, denoms):
        update = torch.div(grad, denom, out=like(p))
        if weight_decay != 0:
            update.add_(p, alpha=weight_decay)
        if grad_averaging:
            update.mul_(1 - beta1)
        exp_avg.mul_(beta1).add_(update)
        p.add_(exp_avg, alpha=-lr)


def _multi_tensor(params: list[Tensor], grads: list[Tensor], exp_avgs: list[Tensor],
                  exp_avg_sqs: list[Tensor], max_exp_avg_sqs: list[Tensor], *, beta1: float,
                  beta2: float, lr: float, eps: float, weight_decay: float, grad_averaging: bool,
                  amsgrad: bool) -> None:
    denoms = _denominators(grads, exp_avg_sqs, max_exp_avg_sqs, beta2=beta2, eps=eps,
                           amsgrad=amsgrad)
    updates = torch._foreach_div(grads, denoms)
    if weight_decay != 0:
        torch._foreach_add_(updates, params, alpha=weight_decay)
    if grad_averaging:
        torch._foreach_mul_(updates, 1 - beta1)
    torch._foreach_mul_(exp_avgs, beta1)
    torch._foreach_add_(exp_avgs, updates)
    torch._foreach_add_(params, exp_avgs, alpha=-lr)
