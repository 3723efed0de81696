"""Construction of the 11 bocb_mm optimizers: registration, defaults, the errors for bad
arguments and for sparse gradients."""
from __future__ import annotations

import re

import pytest
import torch
import torch.nn as nn

from bocb_mm.optim import (SGDP, AdaBelief, AdaBound, Adafactor, AdamP, Adan, LAMB, LARS, Lion,
                           NovoGrad, SophiaG)

ALL = [SGDP, AdamP, Lion, LAMB, Adan, LARS, AdaBound, Adafactor, AdaBelief, NovoGrad, SophiaG]


def test_registered() -> None:
    from bocb_mm.registry import OPTIMIZERS
    for cls in ALL:
        assert OPTIMIZERS.module_dict[cls.__name__] is cls


def test_defaults() -> None:
    p = [nn.Parameter(torch.zeros(2))]
    assert SGDP(p, lr=0.1).defaults == dict(
        lr=0.1, momentum=0, dampening=0, weight_decay=0, nesterov=False, eps=1e-8, delta=0.1,
        wd_ratio=0.1, foreach=None)
    assert AdamP(p).defaults == dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                                     delta=0.1, wd_ratio=0.1, nesterov=False, foreach=None)
    assert Lion(p).defaults == dict(lr=1e-4, betas=(0.9, 0.99), weight_decay=0, foreach=None)
    assert LAMB(p).defaults == dict(lr=1e-3, bias_correction=True, betas=(0.9, 0.999),
                                    eps=1e-6, weight_decay=0.01, grad_averaging=True,
                                    max_grad_norm=1.0, trust_clip=False, always_adapt=False,
                                    foreach=None)
    assert Adan(p).defaults == dict(lr=1e-3, betas=(0.98, 0.92, 0.99), eps=1e-8,
                                    weight_decay=0.0, max_grad_norm=0.0, no_prox=False,
                                    foreach=None)
    assert LARS(p).defaults == dict(lr=1.0, momentum=0, dampening=0, weight_decay=0,
                                    nesterov=False, trust_coeff=1e-3, eps=1e-8,
                                    trust_clip=False, always_adapt=False, trust_ratio=True,
                                    foreach=None)
    assert AdaBound(p).defaults == dict(lr=1e-3, betas=(0.9, 0.999), final_lr=0.1, gamma=1e-3,
                                        eps=1e-8, weight_decay=0, amsbound=False, foreach=None)
    assert Adafactor(p).defaults == dict(lr=None, eps=(1e-30, 1e-3), clip_threshold=1.0,
                                         decay_rate=-0.8, beta1=None, weight_decay=0.0,
                                         scale_parameter=True, relative_step=None,
                                         warmup_init=False, foreach=None)
    # relative_step=None is resolved per group: whether the group has an lr
    assert Adafactor(p).param_groups[0]['relative_step'] is True
    assert Adafactor(p, lr=0.1).param_groups[0]['relative_step'] is False
    assert Adafactor([dict(params=p, lr=0.1)]).param_groups[0]['relative_step'] is False
    assert AdaBelief(p).defaults == dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-16, weight_decay=0,
                                         amsgrad=False, weight_decouple=True, fixed_decay=False,
                                         rectify=True, degenerated_to_sgd=True, foreach=None)
    assert NovoGrad(p).defaults == dict(lr=1e-3, betas=(0.95, 0.98), eps=1e-8, weight_decay=0,
                                        grad_averaging=False, amsgrad=False, foreach=None)
    assert SophiaG(p).defaults == dict(lr=1e-4, betas=(0.965, 0.99), rho=0.04, weight_decay=0.1,
                                       maximize=False, bs=5120, eps=1e-15, foreach=None)


BAD_ARGS = [

    (SGDP, dict(lr=-0.1), 'lr'),
    (SGDP, dict(lr=0.1, momentum=1.0), 'momentum'),
    (SGDP, dict(lr=0.1, dampening=1.5), 'dampening'),
    (SGDP, dict(lr=0.1, weight_decay=-1e-4), 'weight_decay'),
    (SGDP, dict(lr=0.1, eps=-1.0), 'eps'),
    (SGDP, dict(lr=0.1, delta=0.0), 'delta'),
    (SGDP, dict(lr=0.1, wd_ratio=1.5), 'wd_ratio'),
    (AdamP, dict(lr=float('nan')), 'lr'),
    (AdamP, dict(betas=(1.0, 0.999)), 'betas[0]'),
    (AdamP, dict(betas=(0.9, -0.1)), 'betas[1]'),
    (AdamP, dict(eps=-1.0), 'eps'),
    (AdamP, dict(weight_decay=-1.0), 'weight_decay'),
    (AdamP, dict(delta=-0.1), 'delta'),
    (AdamP, dict(wd_ratio=-0.1), 'wd_ratio'),
    (Lion, dict(lr=-1.0), 'lr'),
    (Lion, dict(betas=(-0.1, 0.99)), 'betas[0]'),
    (Lion, dict(betas=(0.9, 1.0)), 'betas[1]'),
    (Lion, dict(weight_decay=-1.0), 'weight_decay'),
    (LAMB, dict(lr=-1.0), 'lr'),
    (LAMB, dict(betas=(0.9, 1.5)), 'betas[1]'),
    (LAMB, dict(betas=(0.9,)), 'betas'),
    (LAMB, dict(eps=-1.0), 'eps'),
    (LAMB, dict(weight_decay=-1.0), 'weight_decay'),
    (LAMB, dict(max_grad_norm=-1.0), 'max_grad_norm'),
    (Adan, dict(lr=-1.0), 'lr'),
    (Adan, dict(betas=(0.98, 0.92)), 'betas'),
    (Adan, dict(betas=(0.98, 0.92, 1.0)), 'betas[2]'),
    (Adan, dict(eps=-1.0), 'eps'),
    (Adan, dict(weight_decay=-1.0), 'weight_decay'),
    (Adan, dict(max_grad_norm=-1.0), 'max_grad_norm'),
    (LARS, dict(lr=-1.0), 'lr'),
    (LARS, dict(momentum=-0.1), 'momentum'),
    (LARS, dict(dampening=-0.1), 'dampening'),
    (LARS, dict(weight_decay=-1.0), 'weight_decay'),
    (LARS, dict(trust_coeff=0.0), 'trust_coeff'),
    (LARS, dict(eps=-1.0), 'eps'),
    (LARS, dict(nesterov=True), 'nesterov'),

    (AdaBound, dict(lr=-1.0), 'lr'),
    (AdaBound, dict(betas=(1.0, 0.999)), 'betas[0]'),
    (AdaBound, dict(betas=(0.9, -0.5)), 'betas[1]'),
    (AdaBound, dict(final_lr=-0.1), 'final_lr'),
    (AdaBound, dict(gamma=0.0), 'gamma'),
    (AdaBound, dict(gamma=1.0), 'gamma'),
    (AdaBound, dict(eps=-1.0), 'eps'),
    (AdaBound, dict(weight_decay=-1.0), 'weight_decay'),
    (Adafactor, dict(lr=-1.0), 'lr'),
    (Adafactor, dict(eps=(-1.0, 1e-3)), 'eps[0]'),
    (Adafactor, dict(eps=(1e-30, -1.0)), 'eps[1]'),
    (Adafactor, dict(eps=(1e-30,)), 'eps'),
    (Adafactor, dict(clip_threshold=0.0), 'clip_threshold'),
    (Adafactor, dict(decay_rate=0.5), 'decay_rate'),
    (Adafactor, dict(beta1=1.0), 'beta1'),
    (Adafactor, dict(weight_decay=-1.0), 'weight_decay'),
    (Adafactor, dict(lr=1e-3, relative_step=True), 'relative_step'),
    (Adafactor, dict(relative_step=False), 'lr'),
    (Adafactor, dict(lr=1e-3, warmup_init=True), 'warmup_init'),
    (AdaBelief, dict(lr=-1.0), 'lr'),
    (AdaBelief, dict(betas=(0.9, 1.0)), 'betas[1]'),
    (AdaBelief, dict(eps=-1.0), 'eps'),
    (AdaBelief, dict(weight_decay=-1.0), 'weight_decay'),
    (NovoGrad, dict(lr=float('nan')), 'lr'),
    (NovoGrad, dict(betas=(-0.1, 0.98)), 'betas[0]'),
    (NovoGrad, dict(eps=-1.0), 'eps'),
    (NovoGrad, dict(weight_decay=-1.0), 'weight_decay'),
    (SophiaG, dict(lr=-1.0), 'lr'),
    (SophiaG, dict(betas=(0.965,)), 'betas'),
    (SophiaG, dict(rho=0.0), 'rho'),
    (SophiaG, dict(weight_decay=-1.0), 'weight_decay'),
    (SophiaG, dict(bs=0), 'bs'),
    (SophiaG, dict(eps=-1.0), 'eps'),
]


@pytest.mark.parametrize('cls,kwargs,name', BAD_ARGS,
                         ids=[f'{c.__name__}-{n}-{i}' for i, (c, _, n) in enumerate(BAD_ARGS)])
def test_bad_arguments(cls: type, kwargs: dict, name: str) -> None:
    with pytest.raises(ValueError, match=re.escape(f'Invalid {name}:')):
        cls([nn.Parameter(torch.zeros(2))], **kwargs)


@pytest.mark.parametrize('cls', ALL)
def test_sparse_grad_raises(cls: type) -> None:
    emb = nn.Embedding(10, 3, sparse=True)
    opt = cls(emb.parameters(), lr=0.1)
    emb(torch.tensor([1, 2])).sum().backward()
    with pytest.raises(RuntimeError, match='sparse'):
        opt.step()
