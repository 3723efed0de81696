"""SGDP: SGD that removes the radial update component on scale-invariant weights.

Paper:
    Byeongho Heo, Sanghyuk Chun, Seong Joon Oh, Dongyoon Han, Sangdoo Yun, Gyuwan Kim,
    Youngjung Uh and Jung-Woo Ha. "AdamP: Slowing Down the Slowdown for Momentum Optimizers on
    Scale-invariant Weights". ICLR 2021. arXiv:2006.08217.

Official code:
    https://github.com/clovaai/AdamP (PyPI package ``adamp``).

Semantics follow the official release: the momentum buffer starts at zero and is updated as
``buf = momentum * buf + (1 - dampening) * grad``; for weights with more than one dimension the
update is projected onto the tangent space of the weight when the gradient is (nearly)
orthogonal to the weight in the per-output-channel view, else in the whole-layer view
(``max |cos| < delta / sqrt(view_dim)``), and in that case the decoupled weight decay is scaled
by ``wd_ratio``. Weight decay is ``p *= 1 - lr * weight_decay * ratio / (1 - momentum)``.
Without Nesterov the update *is* the momentum buffer, and the official code projects it in
place, so the stored buffer keeps the projected direction; this is reproduced here (the paper's
Algorithm 1 projects only the update, which differs when momentum > 0).

The official code decides the projection with a Python ``if`` per tensor (a host-device sync on
accelerators). Here both views are computed and selected with :func:`torch.where`, which gives
the same numbers without a sync.
"""
from __future__ import annotations

import math
from typing import Any, Mapping

import torch
from torch import Tensor
from torch.optim.optimizer import required

from bocb_mm.optim._base import BOCBOptimizer, Params, foreach_or_loop, zeros_like
from bocb_mm.optim._utils import check_positive, check_sgd_hparams, check_unit_interval
from bocb_mm.registry import OPTIMIZERS


def project_radial(param: Tensor, grad: Tensor, update: Tensor, delta: float,
                   eps: float) -> tuple[Tensor, Tensor]:
    """Remove the radial component of ``update`` if ``param`` looks scale invariant.

    The channel view (``param.reshape(param.size(0), -1)``) is tried first, then the layer view
    (``param.reshape(1, -1)``). A view is used when the largest absolute cosine similarity
    between gradient rows and weight rows is below ``delta / sqrt(row_length)``. Both
    candidates are computed and chosen on device, so no host synchronisation happens.

    Args:
        param: The weight (``ndim > 1``).
        grad: Its gradient (used only for the cosine-similarity test).
        update: The update direction to project.
        delta: Threshold of the cosine-similarity test.
        eps: Added to norms (as in the official code).

    Returns:
        The (possibly projected) update as a new tensor, and a 0-d bool tensor that is true
        where a projection happened (the caller then scales weight decay by ``wd_ratio``).
    """
    rows = param.size(0)
    out, hit = _project_rows(param.reshape(1, rows, -1), grad.reshape(1, rows, -1),
                             update.reshape(1, rows, -1), delta, eps)
    return out.reshape(update.shape), hit[0]


def _project_rows(p3: Tensor, g3: Tensor, u3: Tensor, delta: float,
                  eps: float) -> tuple[Tensor, Tensor]:
    """:func:`project_radial` of ``k`` weights of one 2-D view shape, stacked as ``(k, rows, L)``.

    Everything the test and the projection need reduces to four per-row dot products of the
    channel view; the layer view's are their sums. The projection itself is one pass:
    ``update - param * (param . update) / (|param| + eps)^2``, the coefficient chosen per row.
    Returns the projected updates ``(k, rows, L)`` and the ``(k,)`` projection mask.
    """
    _, rows, length = p3.shape
    dots = torch.stack([torch.linalg.vecdot(g3, p3), torch.linalg.vecdot(g3, g3),
                        torch.linalg.vecdot(p3, p3), torch.linalg.vecdot(u3, p3)])  # (4, k, rows)
    coefs, hits = [], []
    for (gp, gg, pp, up), n in ((dots, length), (dots.sum(dim=2, keepdim=True), rows * length)):
        p_norm = pp.sqrt()
        cos = gp.abs() / (gg.sqrt().clamp_min(eps) * p_norm.clamp_min(eps))
        hits.append(cos.amax(dim=1) < delta / math.sqrt(n))
        coefs.append(up / (p_norm + eps).square())
    (hit_channel, hit_layer), (coef_channel, coef_layer) = hits, coefs
    zero = coef_channel.new_zeros(())
    coef = torch.where(hit_channel[:, None], coef_channel,
                       torch.where(hit_layer[:, None], coef_layer, zero))
    return torch.addcmul(u3, p3, coef.unsqueeze(-1), value=-1), hit_channel | hit_layer


def project_and_decay_(params: list[Tensor], grads: list[Tensor], updates: list[Tensor], *,
                       delta: float, eps: float, weight_decay: float, plain: float,
                       reduced: float) -> list[Tensor]:
    """The multi-tensor projection: :func:`project_radial` on every weight with more than one
    dimension, the weights of one 2-D view shape stacked (one batch of kernels per shape, no
    host sync), then the decoupled decay ``p *= reduced`` where projected, ``plain`` elsewhere.

    Returns:
        The updates, projected where the test hit (new tensors for the weights with more than
        one dimension, the given ones for the others).
    """
    updates = list(updates)
    shapes: dict[tuple[int, int], list[int]] = {}
    for i, p in enumerate(params):
        if p.dim() > 1:
            shapes.setdefault((p.size(0), p[0].numel()), []).append(i)
    nd, factors = [], []
    for view, idx in shapes.items():
        out, hits = _project_rows(*(torch.stack([t[i].reshape(view) for i in idx])
                                    for t in (params, grads, updates)), delta, eps)
        for j, i in enumerate(idx):
            updates[i] = out[j].view(params[i].shape)
        nd += idx
        factors += list(torch.where(hits, out.new_full((), reduced), plain).unbind())
    if weight_decay > 0:
        if nd:
            torch._foreach_mul_([params[i] for i in nd], factors)
        flat = [p for p in params if p.dim() <= 1]
        if flat:
            torch._foreach_mul_(flat, plain)
    return updates


def check_projection_hparams(group: Mapping[str, Any]) -> None:
    """The projection's arguments (SGDP and AdamP): delta > 0, wd_ratio in [0, 1]."""
    check_positive('delta', group['delta'])
    check_unit_interval('wd_ratio', group['wd_ratio'], closed_right=True)


def decay_factor(param: Tensor, projected: Tensor, plain: float, reduced: float) -> Tensor:
    """0-d tensor: ``reduced`` where ``projected`` else ``plain``, in the dtype of ``param``."""
    return torch.where(projected, param.new_full((), reduced), plain)


@OPTIMIZERS.register_module()
class SGDP(BOCBOptimizer):
    """SGD with momentum and projection for scale-invariant weights (SGDP).

    Args:
        params: Iterable of parameters or dicts defining parameter groups.
        lr: Learning rate, ``>= 0``; required, here or in every param group.
        momentum: Momentum factor in [0, 1).
        dampening: Dampening of the gradient added to the momentum buffer, in [0, 1].
        weight_decay: Decoupled weight decay, ``>= 0``; applied as
            ``p *= 1 - lr * weight_decay * ratio / (1 - momentum)``, ``ratio`` being
            ``wd_ratio`` on projected weights and 1 elsewhere.
        nesterov: Use Nesterov momentum (``grad + momentum * buf``).
        eps: Added to norms in the projection, ``>= 0``.
        delta: Threshold of the cosine-similarity test, ``> 0``.
        wd_ratio: Weight-decay multiplier on projected weights, in [0, 1].
        foreach: Use the multi-tensor (``torch._foreach_*``) implementation; ``None`` picks it
            when all parameters are on an accelerator.
    """

    group_defaults = dict(nesterov=False)
    counts_steps = False

    def __init__(self,
                 params: Params,
                 lr: float | Tensor = required,
                 momentum: float = 0.0,
                 dampening: float = 0.0,
                 weight_decay: float = 0.0,
                 nesterov: bool = False,
                 eps: float = 1e-8,
                 delta: float = 0.1,
                 wd_ratio: float = 0.1,
                 foreach: bool | None = None) -> None:
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov, eps=eps, delta=delta,
                        wd_ratio=wd_ratio, foreach=foreach)
        super().__init__(params, defaults)

    @staticmethod
    def check_hparams(group: Mapping[str, Any]) -> None:
        """Raise ``ValueError`` / ``TypeError`` naming the first invalid hyper-parameter."""
        check_sgd_hparams(group)
        check_projection_hparams(group)

    def init_state(self, state: dict[str, Any], p: Tensor, group: dict[str, Any]) -> None:
        state['momentum'] = zeros_like(p)

    def update_group(self, group: dict[str, Any], params: list[Tensor],
                     states: list[dict[str, Any]], **kwargs: Any) -> None:
        foreach_or_loop(self.foreach(group, params), _single_tensor_sgdp, _multi_tensor_sgdp,
                        params, [p.grad for p in params], [s['momentum'] for s in states],
                        lr=group['lr'], momentum=group['momentum'],
                        dampening=group['dampening'], weight_decay=group['weight_decay'],
                        nesterov=group['nesterov'], eps=group['eps'], delta=group['delta'],
                        wd_ratio=group['wd_ratio'])


def _decay_values(lr: float, weight_decay: float, wd_ratio: float,
                  momentum: float) -> tuple[float, float]:
    """Multipliers ``p *= value`` for unprojected and projected weights (official order)."""
    plain = 1 - lr * weight_decay * 1 / (1 - momentum)
    reduced = 1 - lr * weight_decay * wd_ratio / (1 - momentum)
    return plain, reduced


def _single_tensor_sgdp(params: list[Tensor], grads: list[Tensor], bufs: list[Tensor], *,
                        lr: float, momentum: float, dampening: float, weight_decay: float,
                        nesterov: bool, eps: float, delta: float, wd_ratio: float) -> None:
    plain, reduced = _decay_values(lr, weight_decay, wd_ratio, momentum)
    for p, grad, buf in zip(params, grads, bufs):
        buf.mul_(momentum).add_(grad, alpha=1 - dampening)
        update = grad + momentum * buf if nesterov else buf
        if p.dim() > 1:
            update, projected = project_radial(p, grad, update, delta, eps)
            if not nesterov:  # the official release projects the buffer itself (in place)
                update = buf.copy_(update)
            if weight_decay > 0:
                p.mul_(decay_factor(p, projected, plain, reduced))
        elif weight_decay > 0:
            p.mul_(plain)
        p.add_(update, alpha=-lr)


def _multi_tensor_sgdp(params: list[Tensor], grads: list[Tensor], bufs: list[Tensor], *,
                       lr: float, momentum: float, dampening: float, weight_decay: float,
                       nesterov: bool, eps: float, delta: float, wd_ratio: float) -> None:
    plain, reduced = _decay_values(lr, weight_decay, wd_ratio, momentum)
    torch._foreach_mul_(bufs, momentum)
    torch._foreach_add_(bufs, grads, alpha=1 - dampening)
    if nesterov:
        updates = list(torch._foreach_add(grads, torch._foreach_mul(bufs, momentum)))
    else:
        updates = list(bufs)

    updates = project_and_decay_(params, grads, updates, delta=delta, eps=eps,
                                 weight_decay=weight_decay, plain=plain, reduced=reduced)
    if not nesterov:  # the official release projects the buffer itself (in place)
        projected = [i for i, (u, b) in enumerate(zip(updates, bufs)) if u is not b]
        if projected:  # a group of biases and norms has no weight to project
            torch._foreach_copy_([bufs[i] for i in projected], [updates[i] for i in projected])
        updates = bufs
    torch._foreach_add_(params, updates, alpha=-lr)
