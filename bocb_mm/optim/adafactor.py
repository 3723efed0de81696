"""Adafactor: Adam-like steps with a factored (row x column) second moment and update clipping.

Paper:
    Noam Shazeer, Mitchell Stern. "Adafactor: Adaptive Learning Rates with Sublinear Memory Cost".
    ICML 2018. arXiv:1804.04235.

Official code:
    The paper's implementation is in tensor2tensor (https://github.com/tensorflow/tensor2tensor);
    the PyTorch semantics followed here are fairseq's,
    https://github.com/facebookresearch/fairseq/blob/main/fairseq/optim/adafactor.py.

The update at step ``t`` for a parameter ``p`` with gradient ``g``::

    rel    = min(1e-6 t if warmup_init else 1e-2, 1 / sqrt(t))   if relative_step (lr is None)
           = lr                                                   otherwise
    lr_t   = rel * max(eps[1], RMS(p))      if scale_parameter,  else rel
    b2     = 1 - t^decay_rate
    G      = g^2 + eps[0]
    p.ndim >= 2 (factored over the LAST TWO dims, as fairseq, also for conv kernels):
        R  = b2 R + (1 - b2) mean_{-1}(G);   C = b2 C + (1 - b2) mean_{-2}(G)
        V  = R C / mean_{-1}(R)              (outer product over the last two dims)
    otherwise:  V = b2 V + (1 - b2) G
    u      = g / sqrt(V);   u = u / max(1, RMS(u) / clip_threshold);   u = lr_t u
    u      = m = beta1 m + (1 - beta1) u    if beta1 is not None
    p      = p - weight_decay * lr_t * p - u

With ``scale_parameter=True`` the RMS scaling also multiplies an explicit ``lr`` (fairseq and HF
Transformers do this; timm's port does not: there an explicit lr is used as is). The BOCB configs
therefore set ``scale_parameter=False``: the paper tuned its AdaFactor learning rates with timm's
port, whose explicit-lr step is ``lr`` itself; with ``scale_parameter=False`` and an explicit lr
this class and timm's coincide wherever timm factors the same two dims.

Unlike fairseq (and timm in relative-step mode), the step size is never written back into
``group['lr']``: fairseq overwrites it with the scaled value, which then compounds step after step
with an explicit lr and breaks lr schedulers. In relative-step mode ``group['lr']`` stays ``None``
(no scheduler can drive it; use an explicit lr for scheduled training).

The RMS values and the clipping factor stay tensors: no host synchronisation. ``state['RMS']`` of
fairseq is not stored (it is recomputed every step). Half-precision parameters are updated through
a float32 copy with float32 state, as in fairseq.
"""
from __future__ import annotations

import math
from typing import Any, Mapping, Sequence, Union

import torch
from torch import Tensor

from bocb_mm.registry import OPTIMIZERS

from ._base import BOCBOptimizer, Params, foreach_or_loop, lazy_state
from ._utils import (as_tuple, check_nonneg, check_number, check_positive,
                     check_unit_interval)

__all__ = ['Adafactor']

_LOW_PRECISION = (torch.float16, torch.bfloat16)
Scale = Union[float, Tensor]


@OPTIMIZERS.register_module()
class Adafactor(BOCBOptimizer):
    """Adafactor (Shazeer & Stern, ICML 2018) with fairseq's semantics.

    Args:
        params: Iterable of parameters or dicts defining parameter groups.
        lr: External learning rate, >= 0, or None for the paper's relative step size
            ``min(1e-2, 1/sqrt(t))``. Default: None.
        eps: Regularisation constants ``(eps_1, eps_2)``, both >= 0: ``eps_1`` is added to the
            squared gradient, ``eps_2`` is the floor of the parameter RMS. Default: (1e-30, 1e-3).
        clip_threshold: Threshold of the RMS of the unscaled update, > 0. Default: 1.0.
        decay_rate: Exponent of the second-moment decay ``1 - t^decay_rate``, <= 0.
            Default: -0.8.
        beta1: Coefficient of the first-moment EMA, in [0, 1), or None for no first moment.
            Default: None.
        weight_decay: Decoupled weight decay scaled by the step size, >= 0. Default: 0.0.
        scale_parameter: Multiply the step size by ``max(eps_2, RMS(p))`` (also an explicit lr).
            Default: True.
        relative_step: Use the relative step size. None means ``lr is None``; True requires
            ``lr=None`` and False requires an lr. Default: None.
        warmup_init: Relative step warm-up ``min(1e-6 t, 1/sqrt(t))``; needs the relative step.
            Default: False.
        foreach: Multi-tensor (``torch._foreach_*``) implementation; ``None`` picks it for
            accelerator parameters and the per-tensor loop on CPU. Default: None.
    """

    group_defaults = dict(scale_parameter=True, warmup_init=False, weight_decay=0.0, beta1=None)

    def __init__(self,
                 params: Params,
                 lr: float | None = None,
                 eps: tuple[float, float] = (1e-30, 1e-3),
                 clip_threshold: float = 1.0,
                 decay_rate: float = -0.8,
                 beta1: float | None = None,
                 weight_decay: float = 0.0,
                 scale_parameter: bool = True,
                 relative_step: bool | None = None,
                 warmup_init: bool = False,
                 *,
                 foreach: bool | None = None) -> None:
        defaults = dict(lr=lr, eps=as_tuple(eps), clip_threshold=clip_threshold,
                        decay_rate=decay_rate, beta1=beta1, weight_decay=weight_decay,
                        scale_parameter=scale_parameter, relative_step=relative_step,
                        warmup_init=warmup_init, foreach=foreach)
        super().__init__(params, defaults)

    @staticmethod
    def check_hparams(group: Mapping[str, Any]) -> None:
        """Raise ``ValueError`` / ``TypeError`` naming the first invalid hyper-parameter."""
        lr, eps = group['lr'], group['eps']
        if lr is not None:
            check_nonneg('lr', lr)
        if isinstance(eps, (str, bytes)) or not isinstance(eps, Sequence) or len(eps) != 2:
            raise ValueError(f'Invalid eps: {eps!r}; expected two values (eps_1, eps_2) >= 0')
        check_nonneg('eps[0]', eps[0])
        check_nonneg('eps[1]', eps[1])
        check_positive('clip_threshold', group['clip_threshold'])
        if not check_number('decay_rate', group['decay_rate']) <= 0.0:
            raise ValueError(f'Invalid decay_rate: {group["decay_rate"]!r}; expected '
                             'decay_rate <= 0')
        if group['beta1'] is not None:
            check_unit_interval('beta1', group['beta1'])
        check_nonneg('weight_decay', group['weight_decay'])
        relative_step = group['relative_step']
        if relative_step is None:
            relative_step = lr is None
        if relative_step and lr is not None:
            raise ValueError(f'Invalid relative_step: True with lr={lr!r}; an explicit lr needs '
                             'relative_step=False (or None)')
        if not relative_step and lr is None:
            raise ValueError('Invalid lr: None with relative_step=False; expected lr >= 0')
        if group['warmup_init'] and not relative_step:
            raise ValueError('Invalid warmup_init: True needs the relative step (lr=None)')

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group; ``relative_step=None`` becomes whether the group has no lr (a group may
        set the lr that the constructor left out)."""
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        if group['relative_step'] is None:
            group['relative_step'] = group['lr'] is None

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault('relative_step', group.get('lr') is None)
        for s in self.state.values():
            s.pop('RMS', None)  # fairseq's per-step cache

    @staticmethod
    def _relative_lr(group: dict[str, Any], t: int) -> float:
        if not group['relative_step']:
            return group['lr']
        min_step = 1e-6 * t if group['warmup_init'] else 1e-2
        return min(min_step, 1.0 / math.sqrt(t))

    def state_dtype(self, p: Tensor, key: str) -> torch.dtype | None:
        """float32 state for half-precision parameters (fairseq), also after a resume."""
        return torch.float32 if p.dtype in _LOW_PRECISION else None

    def init_state(self, state: dict[str, Any], p: Tensor, group: dict[str, Any]) -> None:
        grad = _grad32(p)
        if group['beta1'] is not None:
            state['exp_avg'] = torch.zeros_like(grad)
        if grad.dim() >= 2:
            shape = grad.shape
            state['exp_avg_sq_row'] = grad.new_zeros(shape[:-1])
            state['exp_avg_sq_col'] = grad.new_zeros(shape[:-2] + shape[-1:])
        else:
            state['exp_avg_sq'] = torch.zeros_like(grad)

    def update_group(self, group: dict[str, Any], params: list[Tensor],
                     states: list[dict[str, Any]], **kwargs: Any) -> None:
        if group['beta1'] is not None:
            lazy_state(params, states, 'exp_avg', lambda p: torch.zeros_like(_grad32(p)))
        p32s = [p.float() if p.dtype in _LOW_PRECISION else p for p in params]
        steps = [s['step'] for s in states]
        foreach_or_loop(self.foreach(group, params), _single_tensor, _multi_tensor, p32s,
                        [_grad32(p) for p in params], states,
                        [self._relative_lr(group, t) for t in steps],
                        [1.0 - math.pow(t, group['decay_rate']) for t in steps], group=group)
        for p, p32 in zip(params, p32s):
            if p32 is not p:
                p.copy_(p32)


def _grad32(p: Tensor) -> Tensor:
    """The gradient of ``p``, as float32 for half-precision parameters (fairseq)."""
    return p.grad.float() if p.grad.dtype in _LOW_PRECISION else p.grad


def _rms(x: Tensor) -> Tensor:
    return torch.linalg.vector_norm(x) / (x.numel()**0.5)


def _second_moment_update(grad: Tensor, sq_grad: Tensor, state: dict[str, Any],
                          beta2t: float) -> Tensor:
    """Fold ``sq_grad`` (consumed) into the second moment; return ``grad / sqrt(V)``."""
    if 'exp_avg_sq_row' in state:
        row, col = state['exp_avg_sq_row'], state['exp_avg_sq_col']
        row.mul_(beta2t).add_(sq_grad.mean(dim=-1).mul_(1.0 - beta2t))
        col.mul_(beta2t).add_(sq_grad.mean(dim=-2).mul_(1.0 - beta2t))
        r_factor = (row / row.mean(dim=-1, keepdim=True)).rsqrt_().unsqueeze(-1)
        c_factor = col.unsqueeze(-2).rsqrt()
        return torch.mul(r_factor, c_factor).mul_(grad)
    exp_avg_sq = state['exp_avg_sq']
    exp_avg_sq.mul_(beta2t).add_(sq_grad.mul_(1.0 - beta2t))
    return exp_avg_sq.rsqrt().mul_(grad)


def _single_tensor(p32s: list[Tensor], grads: list[Tensor], states: list[dict[str, Any]],
                   rels: list[float], beta2ts: list[float], *, group: dict[str, Any]) -> None:
    eps1, eps2 = group['eps']
    beta1, weight_decay = group['beta1'], group['weight_decay']
    for p, grad, state, rel, beta2t in zip(p32s, grads, states, rels, beta2ts):
        lr_t: Scale = _rms(p).clamp_min_(eps2).mul_(rel) if group['scale_parameter'] else rel
        sq_grad = grad * grad
        sq_grad.add_(eps1)
        update = _second_moment_update(grad, sq_grad, state, beta2t)
        update.div_(_rms(update).div_(group['clip_threshold']).clamp_min_(1.0))
        update.mul_(lr_t)
        if beta1 is not None:
            update = state['exp_avg'].mul_(beta1).add_(update, alpha=1 - beta1)
        if weight_decay != 0:
            p.add_(p * (lr_t * -weight_decay))
        p.sub_(update)


def _multi_tensor(p32s: list[Tensor], grads: list[Tensor], states: list[dict[str, Any]],
                  rels: list[float], beta2ts: list[float], *, group: dict[str, Any]) -> None:
    eps1, eps2 = group['eps']
    beta1, weight_decay = group['beta1'], group['weight_decay']
    sqrt_numels = [p.numel()**0.5 for p in p32s]
    lr_ts: list[Any]
    if group['scale_parameter']:
        lr_ts = list(torch._foreach_norm(p32s))
        torch._foreach_div_(lr_ts, sqrt_numels)
        torch._foreach_clamp_min_(lr_ts, eps2)
        torch._foreach_mul_(lr_ts, rels)
    else:
        lr_ts = rels
    sq_grads = torch._foreach_mul(grads, grads)
    torch._foreach_add_(sq_grads, eps1)

    updates: list[Tensor] = [None] * len(p32s)  # type: ignore[list-item]
    flat = [i for i, s in enumerate(states) if 'exp_avg_sq' in s]
    # Factored moments need per-tensor row/column means: no multi-tensor kernel does that.
    for i, state in enumerate(states):
        if 'exp_avg_sq_row' in state:
            updates[i] = _second_moment_update(grads[i], sq_grads[i], state, beta2ts[i])
    if flat:
        exp_avg_sqs = [states[i]['exp_avg_sq'] for i in flat]
        flat_sq = [sq_grads[i] for i in flat]
        torch._foreach_mul_(exp_avg_sqs, [beta2ts[i] for i in flat])
        torch._foreach_mul_(flat_sq, [1.0 - beta2ts[i] for i in flat])
        torch._foreach_add_(exp_avg_sqs, flat_sq)
        flat_updates = torch._foreach_rsqrt(exp_avg_sqs)
        torch._foreach_mul_(flat_updates, [grads[i] for i in flat])
        for i, u in zip(flat, flat_updates):
            updates[i] = u
    del sq_grads

    clip = list(torch._foreach_norm(updates))
    torch._foreach_div_(clip, sqrt_numels)
    torch._foreach_div_(clip, group['clip_threshold'])
    torch._foreach_clamp_min_(clip, 1.0)
    torch._foreach_div_(updates, clip)
    torch._foreach_mul_(updates, lr_ts)
    if beta1 is not None:
        exp_avgs = [s['exp_avg'] for s in states]
        torch._foreach_mul_(exp_avgs, beta1)
        torch._foreach_add_(exp_avgs, updates, alpha=1 - beta1)
        updates = exp_avgs
    if weight_decay != 0:
        if group['scale_parameter']:
            decays: list[Any] = list(torch._foreach_mul(lr_ts, -weight_decay))
        else:
            decays = [lr_t * -weight_decay for lr_t in lr_ts]
        torch._foreach_add_(p32s, torch._foreach_mul(p32s, decays))
    torch._foreach_sub_(p32s, updates)
