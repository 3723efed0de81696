"""LAMB (NVLAMB variant, as NVIDIA apex ``FusedLAMB`` and timm ``Lamb``).

Paper:
    Yang You, Jing Li, Sashank Reddi, Jonathan Hseu, Sanjiv Kumar, Srinadh Bhojanapalli,
    Xiaodan Song, James Demmel, Kurt Keutzer and Cho-Jui Hsieh. "Large Batch Optimization for
    Deep Learning: Training BERT in 76 minutes". ICLR 2020. arXiv:1904.00962.

Reference code:
    https://github.com/NVIDIA/apex (``apex.optimizers.FusedLAMB``) and
    https://github.com/huggingface/pytorch-image-models (``timm.optim.Lamb``).

One step, with ``g`` the gradient divided by ``max(global_grad_norm / max_grad_norm, 1)``:

.. code-block:: text

    m <- beta1 * m + beta3 * g            (beta3 = 1 - beta1 if grad_averaging else 1)
    v <- beta2 * v + (1 - beta2) * g^2
    u <- (m / (1 - beta1^t)) / (sqrt(v) / sqrt(1 - beta2^t) + eps)
    u <- u + weight_decay * p
    r <- ||p|| / ||u||  (1 where either norm is 0; min(r, 1) with trust_clip)
    p <- p - lr * r * u

The trust ratio is applied only where ``weight_decay != 0`` unless ``always_adapt``. The global
gradient norm is computed over all parameter groups on device, without a host sync.
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
class LAMB(BOCBOptimizer):
    """LAMB optimizer (NVLAMB: global gradient clipping, decoupled trust ratio).

    Args:
        params: Iterable of parameters or dicts defining parameter groups.
        lr: Learning rate, ``>= 0``.
        bias_correction: Correct the moment estimates for their zero initialisation.
        betas: Coefficients of the running averages of the gradient and its square, each in
            [0, 1).
        eps: Added to the denominator, ``>= 0``.
        weight_decay: Weight decay added to the Adam update (before the trust ratio), ``>= 0``.
        grad_averaging: Scale the gradient by ``1 - beta1`` in the first moment.
        max_grad_norm: Clip the global gradient norm (over all groups) to this value before
            the update; ``None`` or 0 disables. Taken from the constructor, not per group.
        trust_clip: Clip the trust ratio at 1 (LAMBC).
        always_adapt: Apply the trust ratio also to parameters with ``weight_decay == 0``.
        foreach: Use the multi-tensor (``torch._foreach_*``) implementation; ``None`` picks it
            when all parameters are on an accelerator.
    """

    group_defaults = dict(bias_correction=True, grad_averaging=True, trust_clip=False,
                          always_adapt=False)
    global_defaults = dict(max_grad_norm=1.0)

    def __init__(self,
                 params: Params,
                 lr: float = 1e-3,
                 bias_correction: bool = True,
                 betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-6,
                 weight_decay: float = 0.01,
                 grad_averaging: bool = True,
                 max_grad_norm: float | None = 1.0,
                 trust_clip: bool = False,
                 always_adapt: bool = False,
                 foreach: bool | None = None) -> None:
        defaults = dict(lr=lr, bias_correction=bias_correction, betas=as_tuple(betas), eps=eps,
                        weight_decay=weight_decay, grad_averaging=grad_averaging,
                        max_grad_norm=max_grad_norm, trust_clip=trust_clip,
                        always_adapt=always_adapt, foreach=foreach)
        super().__init__(params, defaults)

    @staticmethod
    def check_hparams(group: Mapping[str, Any]) -> None:
        """Raise ``ValueError`` / ``TypeError`` naming the first invalid hyper-parameter."""
        check_adam_hparams(group)
        if group['max_grad_norm'] is not None:
            check_nonneg('max_grad_norm', group['max_grad_norm'])

    def init_state(self, state: dict[str, Any], p: Tensor, group: dict[str, Any]) -> None:
        state['exp_avg'] = zeros_like(p)
        state['exp_avg_sq'] = zeros_like(p)

    def prepare_step(self, params: list[Tensor]) -> dict[str, Any]:
        """The global clipping divisor ``max(global_norm / max_grad_norm, 1)`` (0-d, on device),
        or ``None`` when clipping is off."""
        return dict(clip=global_clip(self.defaults['max_grad_norm'], [p.grad for p in params]))

    def update_group(self, group: dict[str, Any], params: list[Tensor],
                     states: list[dict[str, Any]], *, clip: Tensor | None = None) -> None:
        beta1, _ = group['betas']
        foreach_or_loop(self.foreach(group, params), _single_tensor_lamb, _multi_tensor_lamb,
                        params, [p.grad for p in params], [s['exp_avg'] for s in states],
                        [s['exp_avg_sq'] for s in states], steps=[s['step'] for s in states],
                        clip=clip, lr=group['lr'], bias_correction=group['bias_correction'],
                        betas=group['betas'], eps=group['eps'],
                        weight_decay=group['weight_decay'],
                        beta3=1 - beta1 if group['grad_averaging'] else 1.0,
                        trust_clip=group['trust_clip'], always_adapt=group['always_adapt'])


def global_clip(max_grad_norm: float | None, grads: list[Tensor]) -> Tensor | None:
    """``max(||grads||_2 / max_grad_norm, 1)`` as a 0-d tensor on the first gradient's device,
    without a host sync; ``None`` when ``max_grad_norm`` is ``None`` or 0 or there are no grads."""
    if not max_grad_norm or not grads:
        return None
    return (global_grad_norm(grads) / max_grad_norm).clamp_(min=1.0)


def update_scale(bias_correction: bool, betas: tuple[float, float], step: int,
                  eps: float) -> tuple[float, float]:
    """``(s, eps')`` with ``u = s * m / (sqrt(v) + eps')``, the Adam update of the docstring.

    ``(m / bc1) / (sqrt(v) / sqrt(bc2) + eps) = (sqrt(bc2) / bc1) * m / (sqrt(v) + eps sqrt(bc2))``:
    the bias corrections become one scalar ``s``, which the trust ratio cancels (``r u`` is
    invariant to the scale of ``u``), so no pass over the tensors applies them.
    """
    if not bias_correction:
        return 1.0, eps
    beta1, beta2 = betas
    root2 = math.sqrt(1 - beta2**step)
    return root2 / (1 - beta1**step), eps * root2


def trust_ratio(w_norm: Tensor, u_norm: Tensor, trust_clip: bool, scale: float) -> Tensor:
    """The trust ratio times the update scale, for the scaled update ``u / scale``.

    ``||p|| / ||u / scale||`` (= ``scale * ||p|| / ||u||``), ``scale`` (ratio 1) where either
    norm is 0, at most ``scale`` (ratio clipped at 1) with ``trust_clip``; no host sync.
    """
    ratio = torch.where(w_norm > 0, torch.where(u_norm > 0, w_norm / u_norm, scale), scale)
    if trust_clip:
        ratio = ratio.clamp(max=scale)
    return ratio


def scaled_updates(params: list[Tensor], exp_avgs: list[Tensor], exp_avg_sqs: list[Tensor], *,
                   scale: float, eps_scaled: float, weight_decay: float,
                   out: list[Tensor] | None = None) -> list[Tensor]:
    """The decayed Adam updates divided by ``scale``, ``m / (sqrt(v) + eps') + wd / scale * p``,
    from the moments after the step (``scale``, ``eps'`` from :func:`update_scale`); written into
    ``out`` (tensors shaped like ``params`` that the caller no longer needs) when given, which
    saves a full-size allocation (on CPU, fresh pages to fault in at every step)."""
    denom = torch._foreach_sqrt(exp_avg_sqs)
    torch._foreach_add_(denom, eps_scaled)
    if out is None:
        updates = torch._foreach_div(exp_avgs, denom)
    else:
        torch._foreach_copy_(out, exp_avgs)
        torch._foreach_div_(out, denom)
        updates = out
    del denom
    if weight_decay != 0:
        torch._foreach_add_(updates, params, alpha=weight_decay / scale)
    return updates


def _first_moment_(exp_avg: Tensor, grad: Tensor, beta1: float, beta3: float) -> None:
    """``m <- beta1 m + beta3 g``: one ``lerp_`` pass when ``beta3 = 1 - beta1``."""
    if beta3 == 1 - beta1:
        exp_avg.lerp_(grad, beta3)
    else:
        exp_avg.mul_(beta1).add_(grad, alpha=beta3)


def _single_tensor_lamb(params: list[Tensor], grads: list[Tensor], exp_avgs: list[Tensor],
                        exp_avg_sqs: list[Tensor], *, steps: list[int], clip: Tensor | None,
                        lr: float, bias_correction: bool, betas: tuple[float, float],
                        eps: float, weight_decay: float, beta3: float, trust_clip: bool,
                        always_adapt: bool) -> None:
    beta1, beta2 = betas
    like = scratch(params)
    for p, grad, exp_avg, exp_avg_sq, step in zip(params, grads, exp_avgs, exp_avg_sqs, steps):
        scale, eps_scaled = update_scale(bias_correction, betas, step, eps)
        if clip is not None:
            grad = torch.div(grad, clip, out=like(grad))  # p.grad stays untouched
        _first_moment_(exp_avg, grad, beta1, beta3)
        exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        update = torch.sqrt(exp_avg_sq, out=like(p)).add_(eps_scaled)  # the denominator ...
        torch.div(exp_avg, update, out=update)  # ... then, in place, the update / scale
        if weight_decay != 0:
            update.add_(p, alpha=weight_decay / scale)
        if weight_decay != 0 or always_adapt:
            w_norm, u_norm = torch._foreach_norm([p, update])
            update.mul_(trust_ratio(w_norm, u_norm, trust_clip, scale))
            p.add_(update, alpha=-lr)
        else:
            p.add_(update, alpha=-lr * scale)


def _multi_tensor_lamb(params: list[Tensor], grads: list[Tensor], exp_avgs: list[Tensor],
                       exp_avg_sqs: list[Tensor], *, step: int, clip: Tensor | None, lr: float,
                       bias_correction: bool, betas: tuple[float, float], eps: float,
                       weight_decay: float, beta3: float, trust_clip: bool,
                       always_adapt: bool) -> None:
    beta1, beta2 = betas
    scale, eps_scaled = update_scale(bias_correction, betas, step, eps)
    clipped = None
    if clip is not None:  # p.grad stays untouched; the copy later holds the updates
        grads = clipped = torch._foreach_div(grads, clip.to(grads[0].device))
    if beta3 == 1 - beta1:
        torch._foreach_lerp_(exp_avgs, grads, beta3)
    else:
        torch._foreach_mul_(exp_avgs, beta1)
        torch._foreach_add_(exp_avgs, grads, alpha=beta3)
    torch._foreach_mul_(exp_avg_sqs, beta2)
    torch._foreach_addcmul_(exp_avg_sqs, grads, grads, value=1 - beta2)
    updates = scaled_updates(params, exp_avgs, exp_avg_sqs, scale=scale, eps_scaled=eps_scaled,
                             weight_decay=weight_decay, out=clipped)
    if weight_decay != 0 or always_adapt:
        w_norms = torch.stack(torch._foreach_norm(params))
        u_norms = torch.stack(torch._foreach_norm(updates))
        ratios = trust_ratio(w_norms, u_norms, trust_clip, scale)
        torch._foreach_mul_(updates, list(ratios.unbind()))
        torch._foreach_add_(params, updates, alpha=-lr)
    else:
        torch._foreach_add_(params, updates, alpha=-lr * scale)
