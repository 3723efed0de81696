"""LARS / LARC: SGD with layer-wise adaptive rate scaling.

Paper:
    Yang You, Igor Gitman and Boris Ginsburg. "Large Batch Training of Convolutional Networks".
    arXiv:1708.03888, 2017.

Reference code:
    https://github.com/huggingface/pytorch-image-models/blob/main/timm/optim/lars.py
    (``timm.optim.Lars``; LARC clipping as in https://github.com/NVIDIA/apex
    ``apex.parallel.LARC``).

One step, where the adaptation applies only if ``trust_ratio`` and (``weight_decay != 0`` or
``always_adapt``); with ``trust_ratio=False`` LARS is SGD with an L2 term (``r = 1``):

.. code-block:: text

    r <- trust_coeff * ||p|| / (||g|| + weight_decay * ||p|| + eps)   (1 where a norm is 0)
    r <- min(r / lr, 1)                                                (trust_clip, LARC)
    g <- r * (g + weight_decay * p)
    buf <- g (first step) else momentum * buf + (1 - dampening) * g
    g <- g + momentum * buf (nesterov) else buf                        (if momentum != 0)
    p <- p - lr * g
"""
from __future__ import annotations

from typing import Any, Mapping

import torch
from torch import Tensor

from bocb_mm.optim._base import BOCBOptimizer, Params, foreach_or_loop, scratch
from bocb_mm.optim._utils import check_positive, check_sgd_hparams
from bocb_mm.registry import OPTIMIZERS


@OPTIMIZERS.register_module()
class LARS(BOCBOptimizer):
    """LARS optimizer (SGD with layer-wise trust ratio; LARC with ``trust_clip``).

    Args:
        params: Iterable of parameters or dicts defining parameter groups.
        lr: Learning rate, ``>= 0``.
        momentum: Momentum factor in [0, 1).
        dampening: Dampening of the update added to the momentum buffer, in [0, 1].
        weight_decay: L2 penalty added to the gradient before the trust ratio, ``>= 0``.
        nesterov: Use Nesterov momentum (needs ``momentum > 0`` and ``dampening == 0``).
        trust_coeff: Trust coefficient of the layer-wise learning rate, ``> 0``.
        eps: Added to the trust-ratio denominator, ``>= 0``.
        trust_clip: Clip the adapted learning rate at ``lr`` (LARC).
        always_adapt: Apply the trust ratio also to parameters with ``weight_decay == 0``.
        trust_ratio: Apply the layer-wise trust ratio at all (default, timm and the BOCB
            release's detection copy). ``False``: no adaptation anywhere, the BOCB release's
            classification LARS default (``none_zero=False``); docs/fidelity.md.
        foreach: Use the multi-tensor (``torch._foreach_*``) implementation; ``None`` picks it
            when all parameters are on an accelerator.
    """

    group_defaults = dict(nesterov=False, trust_clip=False, always_adapt=False, trust_ratio=True)
    counts_steps = False

    def __init__(self,
                 params: Params,
                 lr: float = 1.0,
                 momentum: float = 0.0,
                 dampening: float = 0.0,
                 weight_decay: float = 0.0,
                 nesterov: bool = False,
                 trust_coeff: float = 1e-3,
                 eps: float = 1e-8,
                 trust_clip: bool = False,
                 always_adapt: bool = False,
                 trust_ratio: bool = True,
                 foreach: bool | None = None) -> None:
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov, trust_coeff=trust_coeff,
                        eps=eps, trust_clip=trust_clip, always_adapt=always_adapt,
                        trust_ratio=trust_ratio, foreach=foreach)
        super().__init__(params, defaults)

    @staticmethod
    def check_hparams(group: Mapping[str, Any]) -> None:
        """Raise ``ValueError`` / ``TypeError`` naming the first invalid hyper-parameter."""
        check_sgd_hparams(group)
        check_positive('trust_coeff', group['trust_coeff'])
        momentum, dampening = group['momentum'], group['dampening']
        if group['nesterov'] and (momentum <= 0 or dampening != 0):
            raise ValueError(f'Invalid nesterov: {group["nesterov"]!r}; nesterov momentum needs '
                             f'momentum > 0 (got {momentum!r}) and dampening == 0 '
                             f'(got {dampening!r})')

    def update_group(self, group: dict[str, Any], params: list[Tensor],
                     states: list[dict[str, Any]], **kwargs: Any) -> None:
        # the momentum buffer is created on the first step, from that step's update
        foreach_or_loop(self.foreach(group, params), _single_tensor_lars, _multi_tensor_lars,
                        params, [p.grad for p in params], states, lr=group['lr'],
                        momentum=group['momentum'], dampening=group['dampening'],
                        weight_decay=group['weight_decay'], nesterov=group['nesterov'],
                        trust_coeff=group['trust_coeff'], eps=group['eps'],
                        trust_clip=group['trust_clip'], always_adapt=group['always_adapt'],
                        trust_ratio=group['trust_ratio'])


def layer_trust_ratio(w_norm: Tensor, g_norm: Tensor, *, lr: float, weight_decay: float,
                      trust_coeff: float, eps: float, trust_clip: bool) -> Tensor:
    """Layer-wise LARS ratio (elementwise over stacked norms, no host sync)."""
    ratio = trust_coeff * w_norm / (g_norm + w_norm * weight_decay + eps)
    ratio = torch.where(w_norm > 0, torch.where(g_norm > 0, ratio, 1.0), 1.0)
    if trust_clip:
        ratio = torch.clamp(ratio / lr, max=1.0)
    return ratio


def _ratios(params: list[Tensor], grads: list[Tensor], **kwargs: Any) -> list[Tensor]:
    """The trust ratio of each tensor (0-d tensors), from norms stacked per bucket."""
    w_norms = torch.stack(torch._foreach_norm(params))
    g_norms = torch.stack(torch._foreach_norm(grads))
    return list(layer_trust_ratio(w_norms, g_norms, **kwargs).unbind())


def _single_tensor_lars(params: list[Tensor], grads: list[Tensor], states: list[dict[str, Any]],
                        *, lr: float, momentum: float, dampening: float, weight_decay: float,
                        nesterov: bool, trust_coeff: float, eps: float, trust_clip: bool,
                        always_adapt: bool, trust_ratio: bool = True) -> None:
    adapt = trust_ratio and (weight_decay != 0 or always_adapt)
    ratios = _ratios(params, grads, lr=lr, weight_decay=weight_decay, trust_coeff=trust_coeff,
                     eps=eps, trust_clip=trust_clip) if adapt else []
    like = scratch(params)  # the adapted gradient (p.grad stays untouched), the Nesterov step
    for i, (p, grad, state) in enumerate(zip(params, grads, states)):
        if adapt:
            grad = torch.add(grad, p, alpha=weight_decay, out=like(p)).mul_(ratios[i])
        elif weight_decay != 0 and not trust_ratio:
            grad = torch.add(grad, p, alpha=weight_decay, out=like(p))
        if momentum != 0:
            buf = state.get('momentum_buffer')
            if buf is None:
                buf = state['momentum_buffer'] = torch.clone(grad).detach()
            else:
                buf.mul_(momentum).add_(grad, alpha=1 - dampening)
            grad = torch.add(grad, buf, alpha=momentum, out=like(p)) if nesterov else buf
        p.add_(grad, alpha=-lr)


def _multi_tensor_lars(params: list[Tensor], grads: list[Tensor], states: list[dict[str, Any]],
                       *, lr: float, momentum: float, dampening: float, weight_decay: float,
                       nesterov: bool, trust_coeff: float, eps: float, trust_clip: bool,
                       always_adapt: bool, trust_ratio: bool = True) -> None:
    if not trust_ratio:
        if weight_decay != 0:
            grads = torch._foreach_add(grads, params, alpha=weight_decay)
    elif weight_decay != 0 or always_adapt:
        ratios = _ratios(params, grads, lr=lr, weight_decay=weight_decay,
                         trust_coeff=trust_coeff, eps=eps, trust_clip=trust_clip)
        grads = torch._foreach_add(grads, params, alpha=weight_decay)  # p.grad stays untouched
        torch._foreach_mul_(grads, ratios)
    if momentum != 0:
        old = [i for i, s in enumerate(states) if 'momentum_buffer' in s]
        if old:
            old_bufs = [states[i]['momentum_buffer'] for i in old]
            torch._foreach_mul_(old_bufs, momentum)
            torch._foreach_add_(old_bufs, [grads[i] for i in old], alpha=1 - dampening)
        for state, grad in zip(states, grads):
            if 'momentum_buffer' not in state:
                state['momentum_buffer'] = torch.clone(grad).detach()
        bufs = [s['momentum_buffer'] for s in states]
        grads = torch._foreach_add(grads, bufs, alpha=momentum) if nesterov else bufs
    torch._foreach_add_(params, grads, alpha=-lr)
