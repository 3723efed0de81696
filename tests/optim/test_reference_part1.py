"""Reference tests for SGDP, AdamP, Lion, LAMB, Adan and LARS.

Trajectories are compared in float64 against the official / timm implementations on a small
model with conv, linear, bias, BatchNorm and LayerNorm parameters; the multi-tensor path is
compared with the single-tensor path, and state_dict round trips must continue bit-identically.
"""
from __future__ import annotations

import copy
import re
from typing import Any, Callable

import pytest
import torch
import torch.nn as nn
from torch import Tensor

from bocb_mm.optim.adamp import AdamP
from bocb_mm.optim.adan import Adan
from bocb_mm.optim.lamb import LAMB
from bocb_mm.optim.lars import LARS
from bocb_mm.optim.lion import Lion
from bocb_mm.optim.sgdp import SGDP, project_radial

DTYPE = torch.float64
STEPS = 50


class Net(nn.Module):
    """conv -> BN (scale-invariant conv weight, channel view), bias-free linear -> LN
    (scale-invariant linear weight, layer view), then a plain linear head."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.fc = nn.Linear(64, 8, bias=False)
        self.ln = nn.LayerNorm(8)
        self.head = nn.Linear(8, 3)
        self.unused = nn.Parameter(torch.randn(3))  # never gets a gradient

    def forward(self, x: Tensor) -> Tensor:
        x = torch.relu(self.bn(self.conv(x))).flatten(1)
        return self.head(torch.relu(self.ln(self.fc(x))))


def make_model(seed: int = 0) -> Net:
    torch.manual_seed(seed)
    model = Net().to(DTYPE)
    with torch.no_grad():  # non-trivial norm parameters
        for m in (model.bn, model.ln):
            m.weight.add_(0.1 * torch.randn_like(m.weight))
            m.bias.add_(0.1 * torch.randn_like(m.bias))
    return model


def loss_at(model: nn.Module, step: int) -> Tensor:
    gen = torch.Generator().manual_seed(1000 + step)
    x = torch.randn(8, 3, 4, 4, generator=gen, dtype=DTYPE)
    y = torch.randn(8, 3, generator=gen, dtype=DTYPE)
    return ((model(x) - y)**2).mean()


def run(model: nn.Module, opt: torch.optim.Optimizer, steps: int, start: int = 0,
        before_step: Callable[[nn.Module], None] | None = None) -> None:
    for s in range(start, start + steps):
        opt.zero_grad()
        loss_at(model, s).backward()
        if before_step is not None:
            before_step(model)
        opt.step()


def max_rel_err(a: nn.Module, b: nn.Module) -> float:
    err = 0.0
    for pa, pb in zip(a.parameters(), b.parameters()):
        err = max(err, ((pa - pb).norm() / pb.norm().clamp(min=1e-12)).item())
    return err


def assert_same(a: nn.Module, b: nn.Module) -> None:
    for (name, pa), pb in zip(a.named_parameters(), b.parameters()):
        assert torch.equal(pa, pb), (name, (pa - pb).abs().max().item())


def moved(model: nn.Module, ref: nn.Module) -> None:
    """Sanity check: the trajectory went somewhere (the test is not vacuous)."""
    assert max_rel_err(model, ref) > 1e-3


# ---------------------------------------------------------------- test-local Lion reference
class PaperLion(torch.optim.Optimizer):
    """Lion written from Algorithm 2 of arXiv:2302.06675."""

    def __init__(self, params: Any, lr: float, betas: tuple[float, float],
                 weight_decay: float) -> None:
        super().__init__(params, dict(lr=lr, betas=betas, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self, closure: Any = None) -> None:
        for group in self.param_groups:
            lr, wd, (beta1, beta2) = group['lr'], group['weight_decay'], group['betas']
            for p in group['params']:
                if p.grad is None:
                    continue
                m = self.state[p].setdefault('m', torch.zeros_like(p))
                c = beta1 * m + (1 - beta1) * p.grad
                p.copy_(p * (1 - lr * wd) - lr * torch.sign(c))
                m.copy_(beta2 * m + (1 - beta2) * p.grad)


# ---------------------------------------------------------------- reference trajectories
def _adamp_mod():
    return pytest.importorskip('adamp')


def _timm_optim():
    return pytest.importorskip('timm.optim')


REFERENCE_CASES = [
    # (ours, our kwargs, reference factory, reference kwargs)
    (SGDP, dict(lr=0.1, momentum=0.9, weight_decay=1e-2),
     lambda: _adamp_mod().SGDP, dict(lr=0.1, momentum=0.9, weight_decay=1e-2)),
    (SGDP, dict(lr=0.1, momentum=0.9, nesterov=True),
     lambda: _adamp_mod().SGDP, dict(lr=0.1, momentum=0.9, nesterov=True)),
    (SGDP, dict(lr=0.05, dampening=0.1, weight_decay=1e-3, wd_ratio=0.5),
     lambda: _adamp_mod().SGDP, dict(lr=0.05, dampening=0.1, weight_decay=1e-3, wd_ratio=0.5)),
    (AdamP, dict(lr=1e-2), lambda: _adamp_mod().AdamP, dict(lr=1e-2)),
    (AdamP, dict(lr=1e-2, weight_decay=0.1, nesterov=True, betas=(0.8, 0.99)),
     lambda: _adamp_mod().AdamP, dict(lr=1e-2, weight_decay=0.1, nesterov=True,
                                      betas=(0.8, 0.99))),
    (Lion, dict(lr=1e-3), lambda: PaperLion, dict(lr=1e-3, betas=(0.9, 0.99), weight_decay=0)),
    (Lion, dict(lr=1e-3, betas=(0.95, 0.98), weight_decay=0.5),
     lambda: PaperLion, dict(lr=1e-3, betas=(0.95, 0.98), weight_decay=0.5)),
    (Lion, dict(lr=1e-3, weight_decay=0.5),
     lambda: pytest.importorskip('lion_pytorch').Lion, dict(lr=1e-3, weight_decay=0.5)),
    (LAMB, dict(lr=1e-2, weight_decay=0.0), lambda: _timm_optim().Lamb,
     dict(lr=1e-2, weight_decay=0.0)),
    (LAMB, dict(lr=1e-2, weight_decay=0.05, max_grad_norm=0.5, trust_clip=True),
     lambda: _timm_optim().Lamb, dict(lr=1e-2, weight_decay=0.05, max_grad_norm=0.5,
                                      trust_clip=True)),
    (LAMB, dict(lr=1e-2, weight_decay=0.0, always_adapt=True, grad_averaging=False,
                bias_correction=False, max_grad_norm=0.0),
     lambda: _timm_optim().Lamb, dict(lr=1e-2, weight_decay=0.0, always_adapt=True,
                                      grad_averaging=False, bias_correction=False,
                                      max_grad_norm=None)),
    (Adan, dict(lr=1e-2), lambda: _timm_optim().Adan, dict(lr=1e-2)),
    (Adan, dict(lr=1e-2, weight_decay=0.05), lambda: _timm_optim().Adan,
     dict(lr=1e-2, weight_decay=0.05)),
    (Adan, dict(lr=1e-2, weight_decay=0.05, no_prox=True, betas=(0.9, 0.9, 0.999)),
     lambda: _timm_optim().Adan, dict(lr=1e-2, weight_decay=0.05, no_prox=True,
                                      betas=(0.9, 0.9, 0.999))),
    (LARS, dict(lr=0.1), lambda: _timm_optim().Lars, dict(lr=0.1)),
    (LARS, dict(lr=0.5, momentum=0.9, weight_decay=1e-2),
     lambda: _timm_optim().Lars, dict(lr=0.5, momentum=0.9, weight_decay=1e-2)),
    (LARS, dict(lr=0.5, momentum=0.9, nesterov=True, trust_clip=True, always_adapt=True),
     lambda: _timm_optim().Lars, dict(lr=0.5, momentum=0.9, nesterov=True, trust_clip=True,
                                      always_adapt=True)),
]


@pytest.mark.parametrize('case', REFERENCE_CASES,
                         ids=[f'{c[0].__name__}-{i}' for i, c in enumerate(REFERENCE_CASES)])
def test_matches_reference(case: tuple) -> None:
    # single-tensor path; the multi-tensor path is checked bitwise against it below
    cls, kwargs, ref_factory, ref_kwargs = case
    ref_cls = ref_factory()
    ours, ref, init = make_model(), make_model(), make_model()
    opt = cls(ours.parameters(), foreach=False, **kwargs)
    ref_opt = ref_cls(ref.parameters(), **ref_kwargs)
    run(ours, opt, STEPS)
    run(ref, ref_opt, STEPS)
    assert max_rel_err(ours, ref) < 1e-6
    moved(ours, init)


def _official_adan_clip(max_grad_norm: float, eps: float) -> Callable[[nn.Module], None]:
    """Scale grads like the official Adan global clipping (timm's port has no clipping)."""

    def scale(model: nn.Module) -> None:
        grads = [p.grad for p in model.parameters() if p.grad is not None]
        norm = torch.sqrt(sum(g.pow(2).sum() for g in grads))
        factor = torch.clamp(max_grad_norm / (norm + eps), max=1.0)
        for g in grads:
            g.mul_(factor)

    return scale


@pytest.mark.parametrize('foreach', [False, True])
def test_adan_global_clip_matches_reference(foreach: bool) -> None:
    timm_optim = _timm_optim()
    ours, ref, unclipped = make_model(), make_model(), make_model()
    run(ours, Adan(ours.parameters(), lr=1e-2, max_grad_norm=0.1, foreach=foreach), STEPS)
    run(ref, timm_optim.Adan(ref.parameters(), lr=1e-2), STEPS,
        before_step=_official_adan_clip(0.1, 1e-8))
    run(unclipped, Adan(unclipped.parameters(), lr=1e-2), STEPS)
    assert max_rel_err(ours, ref) < 1e-6
    moved(ours, unclipped)  # clipping is active


def test_projection_views_hit_as_expected() -> None:
    """The test model exercises both projection views and the no-projection branch."""
    model = make_model()
    loss_at(model, 0).backward()
    eps, delta = 1e-8, 0.1
    conv = model.conv.weight
    _, hit = project_radial(conv, conv.grad, conv.grad.clone(), delta, eps)
    assert hit.item()  # channel view (BN after conv)
    fc = model.fc.weight
    rows = fc.grad.reshape(fc.size(0), -1)
    cos = torch.nn.functional.cosine_similarity(rows, fc.reshape(fc.size(0), -1), dim=1).abs()
    assert cos.max() > delta / fc[0].numel()**0.5  # channel view misses ...
    _, hit = project_radial(fc, fc.grad, fc.grad.clone(), delta, eps)
    assert hit.item()  # ... layer view hits (LN after bias-free linear)
    head = model.head.weight
    _, hit = project_radial(head, head.grad, head.grad.clone(), delta, eps)
    assert not hit.item()


# ---------------------------------------------------------------- foreach == single tensor
FOREACH_CASES = [
    (SGDP, dict(lr=0.1, momentum=0.9, weight_decay=1e-2)),
    (SGDP, dict(lr=0.1, momentum=0.9, nesterov=True, dampening=0.0, weight_decay=1e-2)),
    (AdamP, dict(lr=1e-2, weight_decay=0.1)),
    (AdamP, dict(lr=1e-2, weight_decay=0.1, nesterov=True)),
    (Lion, dict(lr=1e-3, weight_decay=0.5)),
    (LAMB, dict(lr=1e-2)),
    (LAMB, dict(lr=1e-2, max_grad_norm=0.5, trust_clip=True, always_adapt=True,
                grad_averaging=False, bias_correction=False)),
    (Adan, dict(lr=1e-2, weight_decay=0.05)),
    (Adan, dict(lr=1e-2, weight_decay=0.05, no_prox=True, max_grad_norm=0.1)),
    (LARS, dict(lr=0.5, momentum=0.9, weight_decay=1e-2)),
    (LARS, dict(lr=0.5, momentum=0.9, dampening=0.1, trust_clip=True, always_adapt=True)),
    (LARS, dict(lr=0.5, momentum=0.9, nesterov=True, weight_decay=1e-2)),
]
CASE_IDS = [f'{c[0].__name__}-{i}' for i, c in enumerate(FOREACH_CASES)]


def param_groups(model: Net, kwargs: dict) -> list[dict]:
    """Two parameter groups with different learning rates."""
    head = list(model.head.parameters())
    rest = [p for n, p in model.named_parameters() if not n.startswith('head.')]
    return [dict(params=rest), dict(params=head, lr=kwargs['lr'] * 0.5)]


@pytest.mark.parametrize('case', FOREACH_CASES, ids=CASE_IDS)
def test_foreach_equals_single_tensor(case: tuple) -> None:
    cls, kwargs = case
    single, multi = make_model(), make_model()
    opt_s = cls(param_groups(single, kwargs), foreach=False, **kwargs)
    opt_m = cls(param_groups(multi, kwargs), foreach=True, **kwargs)
    run(single, opt_s, 20)
    run(multi, opt_m, 20)
    assert_same(single, multi)
    # the optimizer state agrees too
    for (ps, pm) in zip(single.parameters(), multi.parameters()):
        for key, value in opt_s.state[ps].items():
            other = opt_m.state[pm][key]
            assert torch.equal(value, other) if isinstance(value, Tensor) else value == other


@pytest.mark.parametrize('case', FOREACH_CASES, ids=CASE_IDS)
def test_state_dict_round_trip(case: tuple) -> None:
    cls, kwargs = case
    straight = make_model()
    run(straight, cls(straight.parameters(), **kwargs), 20)

    first = make_model()
    opt = cls(first.parameters(), **kwargs)
    run(first, opt, 10)
    model_sd = copy.deepcopy(first.state_dict())
    opt_sd = copy.deepcopy(opt.state_dict())
    del first, opt

    resumed = make_model(seed=123)
    resumed.load_state_dict(model_sd)
    opt = cls(resumed.parameters(), **kwargs)
    opt.load_state_dict(opt_sd)
    run(resumed, opt, 10, start=10)
    assert_same(resumed, straight)


def test_registered() -> None:
    from bocb_mm.registry import OPTIMIZERS
    for cls in (SGDP, AdamP, Lion, LAMB, Adan, LARS):
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


# ---------------------------------------------------------------- bad input
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
]


@pytest.mark.parametrize('cls,kwargs,name', BAD_ARGS,
                         ids=[f'{c.__name__}-{n}-{i}' for i, (c, _, n) in enumerate(BAD_ARGS)])
def test_bad_arguments(cls: type, kwargs: dict, name: str) -> None:
    with pytest.raises(ValueError, match=re.escape(f'Invalid {name}:')):
        cls([nn.Parameter(torch.zeros(2))], **kwargs)


@pytest.mark.parametrize('cls', [SGDP, AdamP, Lion, LAMB, Adan, LARS])
def test_sparse_grad_raises(cls: type) -> None:
    emb = nn.Embedding(10, 3, sparse=True)
    opt = cls(emb.parameters(), lr=0.1)
    emb(torch.tensor([1, 2])).sum().backward()
    with pytest.raises(RuntimeError, match='sparse'):
        opt.step()
