"""AdaBelief: Adam whose denominator tracks the variance of the gradient around its EMA.

Paper:
    Juntang Zhuang, Tommy Tang, Yifan Ding, Sekhar Tatikonda, Nicha Dvornek, Xenophon
    Papademetris, James S. Duncan. "AdaBelief Optimizer: Adapting Stepsizes by the Belief in
    Observed Gradients". NeurIPS 2020. arXiv:2010.07468.

Official code:
    https://github.com/juntang-zhuang/Adabelief-Optimizer (PyPI ``adabelief-pytorch`` 0.2.x), the
    semantics followed here, defaults included (eps=1e-16, decoupled decay, rectification on).

The update at step ``t`` (element-wise)::

    p      = p * (1 - lr * wd)        if weight_decouple (``1 - wd`` if fixed_decay)
    g      = grad + wd * p            otherwise (coupled L2)
    m      = beta1 * m + (1 - beta1) * g
    s      = beta2 * s + (1 - beta2) * (g - m)^2 + eps      # eps goes INTO the state
    s_max  = max(s_max, s)                                  # amsgrad
    no rectify:  p -= lr / (1 - beta1^t) * m / (sqrt(s or s_max) / sqrt(1 - beta2^t) + eps)
    rectify (RAdam's length of the approximated SMA, rho_t):
        rho_t >= 5:  p -= lr * r_t / (1 - beta1^t) * m / (sqrt(s) + eps)
        rho_t <  5:  p -= lr / (1 - beta1^t) * m   if degenerated_to_sgd, else no update

Subtleties of the official code kept here on purpose so trajectories match it:

* ``eps`` is added to the variance state itself every step (besides the ``+ eps`` after the
  square root), so ``s`` never decays below ``eps / (1 - beta2)``;
* in the rectified branch the denominator uses ``s``, not ``s_max``: with ``rectify=True`` the
  AMSGrad maximum is tracked but has no effect;
* the decoupled decay is applied before the moments, also in the rectified SGD-like warm-up steps.

Differences that do not change a trajectory: ``weight_decouple``, ``fixed_decay``, ``rectify``
and ``degenerated_to_sgd`` are per-group options (official: attributes of the optimizer), the
RAdam step-size cache of the official code (kept inside the param groups, thus in every
state_dict) is not used, the coupled-decay path does not modify ``p.grad`` in place, no banner is
printed, and half-precision parameters are updated in their own dtype.
"""
from __future__ import annotations

import math
from typing import Any, Mapping

import torch
from torch import Tensor

from bocb_mm.registry import OPTIMIZERS

from ._base import BOCBOptimizer, Params, foreach_or_loop, lazy_state, scratch, zeros_like
from ._utils import as_tuple, check_adam_hparams

__all__ = ['AdaBelief']


@OPTIMIZERS.register_module()
class AdaBelief(BOCBOptimizer):
    """AdaBelief (Zhuang et al., NeurIPS 2020), with the official 0.2.x defaults.

    Args:
        params: Iterable of parameters or dicts defining parameter groups.
        lr: Learning rate, >= 0. Default: 1e-3.
        betas: Coefficients of the running averages of the gradient and of its squared deviation,
            each in [0, 1). Default: (0.9, 0.999).
        eps: Term added to the variance state and to the denominator, >= 0. Default: 1e-16.
        weight_decay: Weight decay, >= 0. Default: 0.
        amsgrad: Keep the maximum of the variance state (used only when ``rectify=False``, as in
            the official code). Default: False.
        weight_decouple: Decoupled (AdamW-style) weight decay instead of an L2 term. Default: True.
        fixed_decay: With ``weight_decouple``, decay by ``weight_decay`` per step instead of
            ``lr * weight_decay``. Default: False.
        rectify: RAdam-style rectification of the adaptive step. Default: True.
        degenerated_to_sgd: With ``rectify``, take SGD-with-momentum steps while the variance
            estimate is unreliable (rho_t < 5) instead of no step. Default: True.
        foreach: Multi-tensor (``torch._foreach_*``) implementation; ``None`` picks it for
            accelerator parameters and the per-tensor loop on CPU. Default: None.
    """

    group_defaults = dict(amsgrad=False, weight_decouple=True, fixed_decay=False, rectify=True,
                          degenerated_to_sgd=True)

    def __init__(self,
                 params: Params,
                 lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-16,
                 weight_decay: float = 0.0,
                 amsgrad: bool = False,
                 weight_decouple: bool = True,
                 fixed_decay: bool = False,
                 rectify: bool = True,
                 degenerated_to_sgd: bool = True,
                 *,
                 foreach: bool | None = None) -> None:
        defaults = dict(lr=lr, betas=as_tuple(betas), eps=eps, weight_decay=weight_decay,
                        amsgrad=amsgrad, weight_decouple=weight_decouple, fixed_decay=fixed_decay,
                        rectify=rectify, degenerated_to_sgd=degenerated_to_sgd, foreach=foreach)
        super().__init__(params, defaults)

    @staticmethod
    def check_hparams(group: Mapping[str, Any]) -> None:
        """Raise ``ValueError`` / ``TypeError`` naming the first invalid hyper-parameter."""
        check_adam_hparams(group)

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        for group in self.param_groups:
            group.pop('buffer', None)  # the official RAdam cache, meaningless here

    def init_state(self, state: dict[str, Any], p: Tensor, group: dict[str, Any]) -> None:
        state['exp_avg'] = zeros_like(p)
        state['exp_avg_var'] = zeros_like(p)

    def update_group(self, group: dict[str, Any], params: list[Tensor],
                     states: list[dict[str, Any]], **kwargs: Any) -> None:
        max_exp_avg_vars = lazy_state(params, states, 'max_exp_avg_var') if group['amsgrad'] \
            else [None] * len(params)
        foreach_or_loop(self.foreach(group, params), _single_tensor, _multi_tensor, params,
                        [p.grad for p in params], [s['exp_avg'] for s in states],
                        [s['exp_avg_var'] for s in states], max_exp_avg_vars,
                        _step_plan(group, [s['step'] for s in states]), group=group)


def _step_plan(group: dict[str, Any], steps: list[int]) -> list[tuple[str, float, float]]:
    """Per parameter: (kind, coefficient of m, sqrt(1 - beta2^t)) with kind in
    'adam' (divide by the bias-corrected denominator), 'rect' (rectified, divide by sqrt(s)+eps),
    'sgd' (no denominator) or 'none' (no update). Host-side floats only."""
    beta1, beta2 = group['betas']
    lr = group['lr']
    plan = []
    for t in steps:
        bias_correction1 = 1 - beta1**t
        bias_correction2 = 1 - beta2**t
        if not group['rectify']:
            plan.append(('adam', -lr / bias_correction1, math.sqrt(bias_correction2)))
            continue
        beta2_t = beta2**t
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * t * beta2_t / (1 - beta2_t)
        if rho_t >= 5:
            step_size = math.sqrt((1 - beta2_t) * (rho_t - 4) / (rho_inf - 4) * (rho_t - 2) / rho_t
                                  * rho_inf / (rho_inf - 2)) / (1 - beta1**t)
            plan.append(('rect', -step_size * lr, 1.0))
        elif group['degenerated_to_sgd']:
            plan.append(('sgd', -(1.0 / (1 - beta1**t)) * lr, 1.0))
        else:
            plan.append(('none', 0.0, 1.0))
    return plan


def _decay_factor(group: dict[str, Any]) -> float:
    return 1.0 - (group['weight_decay'] if group['fixed_decay'] else
                  group['lr'] * group['weight_decay'])


def _single_tensor(params: list[Tensor], grads: list[Tensor], exp_avgs: list[Tensor],
                   exp_avg_vars: list[Tensor], max_exp_avg_vars: list[Tensor],
                   plan: list[tuple[str, float, float]], *, group: dict[str, Any]) -> None:
    beta1, beta2 = group['betas']
    eps, weight_decay = group['eps'], group['weight_decay']
    like = scratch(params)  # holds the residual, then the denominator
    for i, p in enumerate(params):
        grad = grads[i]
        if weight_decay != 0:
            if group['weight_decouple']:
                p.mul_(_decay_factor(group))
            else:
                grad = grad.add(p, alpha=weight_decay)
        exp_avg, exp_avg_var = exp_avgs[i], exp_avg_vars[i]
        exp_avg.mul_(beta1).add_(grad, alpha=1 - beta1)
        residual = torch.sub(grad, exp_avg, out=like(p))
        exp_avg_var.mul_(beta2).addcmul_(residual, residual, value=1 - beta2)
        exp_avg_var.add_(eps)
        if group['amsgrad']:
            torch.maximum(max_exp_avg_vars[i], exp_avg_var, out=max_exp_avg_vars[i])
        kind, coef, sqrt_bc2 = plan[i]
        if kind == 'adam':
            second = max_exp_avg_vars[i] if group['amsgrad'] else exp_avg_var
            denom = torch.sqrt(second, out=like(p)).div_(sqrt_bc2).add_(eps)
            p.addcdiv_(exp_avg, denom, value=coef)
        elif kind == 'rect':
            denom = torch.sqrt(exp_avg_var, out=like(p)).add_(eps)
            p.addcdiv_(exp_avg, denom, value=coef)
        elif kind == 'sgd':
            p.add_(exp_avg * coef)


def _multi_tensor(params: list[Tensor], grads: list[Tensor], exp_avgs: list[Tensor],
                  exp_avg_vars: list[Tensor], max_exp_avg_vars: list[Tensor],
                  plan: list[tuple[str, float, float]], *, group: dict[str, Any]) -> None:
    beta1, beta2 = group['betas']
    eps, weight_decay = group['eps'], group['weight_decay']
    if weight_decay != 0:
        if group['weight_decouple']:
            torch._foreach_mul_(params, _decay_factor(group))
        else:
            grads = torch._foreach_add(grads, params, alpha=weight_decay)
    torch._foreach_mul_(exp_avgs, beta1)
    torch._foreach_add_(exp_avgs, grads, alpha=1 - beta1)
    residuals = torch._foreach_sub(grads, exp_avgs)
    torch._foreach_mul_(exp_avg_vars, beta2)
    torch._foreach_addcmul_(exp_avg_vars, residuals, residuals, value=1 - beta2)
    del residuals
    torch._foreach_add_(exp_avg_vars, eps)
    if group['amsgrad']:
        torch._foreach_maximum_(max_exp_avg_vars, exp_avg_vars)

    # Parameters of one group nearly always share the step count, hence one kind; split anyway.
    for kind in ('adam', 'rect', 'sgd'):
        idx = [i for i, entry in enumerate(plan) if entry[0] == kind]
        if not idx:
            continue
        ps = [params[i] for i in idx]
        ms = [exp_avgs[i] for i in idx]
        coefs = [plan[i][1] for i in idx]
        if kind == 'sgd':
            torch._foreach_add_(ps, torch._foreach_mul(ms, coefs))
            continue
        if kind == 'adam':
            second = max_exp_avg_vars if group['amsgrad'] else exp_avg_vars
            denom = torch._foreach_sqrt([second[i] for i in idx])
            torch._foreach_div_(denom, [plan[i][2] for i in idx])
        else:
            denom = torch._foreach_sqrt([exp_avg_vars[i] for i in idx])
        torch._foreach_add_(denom, eps)
        torch._foreach_addcdiv_(ps, ms, denom, coefs)
